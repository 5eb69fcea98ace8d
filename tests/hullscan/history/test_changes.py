"""The earlier clean cloud is placed for today's cloud through the reference file's own frame: the
internal hull frames of two visits differ by their drafts and trims, the file's frame does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.history.changes import ChangeCheck, EarlierScan
from hullscan.history.record import _cloud_to_file
from hullscan.model import HullCloud, Transform


def _visit(ref_from_hull: Transform, cloud_to_file: Transform) -> SimpleNamespace:
    """An inspection as the history sees it: cloud -> internal hull frame, and the file's frame."""
    return SimpleNamespace(cloud_to_ref=ref_from_hull.inverse() @ cloud_to_file, ref_from_hull=ref_from_hull,
                           reference_kind="mesh")


def test_the_earlier_cloud_is_placed_through_the_file_frame_across_drafts() -> None:
    # Visit 1 at 5.5 m even keel, visit 2 at 4.9 m and 0.8 m by the stern: other internal frames.
    hull1_to_file = Transform.from_euler(0, 0, 0, (-93.6, 0.0, 5.5))
    hull2_to_file = Transform.from_euler(0, -0.0085, 0, (-93.4, 0.0, 4.9))
    cloud1_to_file = Transform.from_euler(0.001, 0.002, 1.2, (30.0, -4.0, 1.0))
    cloud2_to_file = Transform.from_euler(-0.002, 0.001, -2.0, (-12.0, 8.0, 0.5))
    v1, v2 = _visit(hull1_to_file, cloud1_to_file), _visit(hull2_to_file, cloud2_to_file)

    stored = _cloud_to_file(v1)  # type: ignore[arg-type]
    assert stored is not None and np.allclose(stored, cloud1_to_file.as_matrix())
    earlier = EarlierScan(1, dt.datetime(2026, 11, 2, tzinfo=dt.UTC), Path("x.ply"), "0" * 64, "ref",
                          Transform.from_matrix(stored))
    check = ChangeCheck("9074729", earlier, CompareConfig(), "ref")
    # A point of the plating seen in visit 1's cloud lands in today's hull frame where visit 2 sees it.
    p_file = np.array([[-47.5, -7.5, 2.7], [-36.3, -0.7, 0.0]])
    in_cloud1 = cloud1_to_file.inverse().apply(p_file)
    scan = HullCloud(in_cloud1, np.tile([0.0, -1.0, 0.0], (2, 1)), np.ones(2), np.ones(2, np.int32), np.full(2, 0.02))
    placed = check._in_todays_hull_frame(v2, scan, earlier)  # type: ignore[arg-type]
    assert placed is not None
    scan_hull, cloud_to_hull = placed
    in_hull2 = hull2_to_file.inverse().apply(p_file)
    assert scan_hull.frame_id == "hull" and np.abs(scan_hull.points - in_hull2).max() < 1e-9
    assert np.abs(cloud_to_hull.apply(cloud2_to_file.inverse().apply(p_file)) - in_hull2).max() < 1e-9
    # Through the internal frames (as before this fix) the drafts' difference would remain.
    naive = v1.cloud_to_ref.apply(in_cloud1)
    assert np.abs(naive - in_hull2).max() > 0.1
    # Made against another reference file: no placement, global registration instead.
    assert ChangeCheck("9074729", earlier, CompareConfig(), "other")._in_todays_hull_frame(
        v2, scan, earlier) is None  # type: ignore[arg-type]
