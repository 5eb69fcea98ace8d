"""An earlier inspection's coverage.ply read back for a re-dive: round trip, matching onto another
set of samples, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.compare.earlier import load_earlier, on_samples
from hullscan.errors import CoverageFileError
from hullscan.ply import write_ply
from hullscan.report.outputs import write_coverage_ply


def _grid(step: float = 0.2) -> np.ndarray:
    x, z = np.meshgrid(np.arange(0.0, 4.0, step), np.arange(-2.0, 0.0, step))
    return np.column_stack([x.ravel(), np.full(x.size, 3.0), z.ravel()])


def test_round_trip_and_matching(tmp_path: Path) -> None:
    pts = _grid()
    status = (np.arange(len(pts)) % 4).astype(np.uint8)
    write_coverage_ply(tmp_path / "coverage.ply", pts, np.tile([0.0, 1.0, 0.0], (len(pts), 1)), status, 0.1, 0.04)
    e = load_earlier(tmp_path)  # the folder, as --after takes it
    assert e.clear_height_m == 0.1 and e.sample_area_m2 == pytest.approx(0.04)
    assert np.allclose(e.points, pts, atol=1e-5) and (e.status == status).all()
    # a plan's samples a few cm off the earlier ones (another draft's grid), and one far away
    mine = np.vstack([pts + np.array([0.03, 0.0, -0.02]), [[40.0, 3.0, -1.0]]])
    m = on_samples(e, mine, 0.04)
    assert m.cleared[:-1].tolist() == (status == 3).tolist() and m.stuck[:-1].tolist() == (status == 2).tolist()
    assert m.seen[:-1].tolist() == (status >= 1).tolist()
    assert not (m.seen[-1] or m.cleared[-1] or m.stuck[-1])  # nothing nearby: not seen
    assert m.matched_fraction == pytest.approx(len(pts) / len(mine))


def test_bad_files_name_themselves(tmp_path: Path) -> None:
    rec = np.zeros(3, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
    write_ply(tmp_path / "plain.ply", {"vertex": rec})
    with pytest.raises(CoverageFileError, match=r"plain\.ply: expected a hullscan coverage PLY"):
        load_earlier(tmp_path / "plain.ply")
    rec2 = np.zeros(3, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("scalar_status", "u1")])
    write_ply(tmp_path / "nohead.ply", {"vertex": rec2})
    with pytest.raises(CoverageFileError, match="expected 'clear_height_m' and 'sample_area_m2'"):
        load_earlier(tmp_path / "nohead.ply")
    rec2["scalar_status"] = 9
    write_ply(tmp_path / "odd.ply", {"vertex": rec2}, ["clear_height_m 0.1", "sample_area_m2 0.04"])
    with pytest.raises(CoverageFileError, match="scalar_status 9 unknown"):
        load_earlier(tmp_path / "odd.ply")
    with pytest.raises(CoverageFileError, match=r"no coverage\.ply there"):
        load_earlier(tmp_path / "nowhere")


def test_combined_is_what_either_dive_cleared() -> None:
    from hullscan.compare.analysis import Coverage
    from hullscan.compare.earlier import EarlierMasks, combined

    now = Coverage(np.zeros((5, 3)), np.array([True, False, False, False, False]), 0.04, (),
                   np.array([True, True, False, False, False]), 0.1)
    before = EarlierMasks("first", seen=np.array([False, True, True, True, False]),
                          cleared=np.array([False, True, False, False, False]),
                          stuck=np.array([False, False, True, False, False]), clear_height_m=0.1, matched_fraction=1.0)
    both = combined(now, before)
    assert both.seen.tolist() == [True, True, False, False, False]
    assert both.seen_any.tolist() == [True, True, True, True, False]
    assert both.not_by_a_pass.tolist() == [False, False, True, False, False]
    assert now.seen.tolist() == [True, False, False, False, False]  # this inspection's own, untouched
    # cleared before for 0.2 m only: not cleared for this inspection's 0.1 m
    coarse = combined(now, EarlierMasks("first", before.seen, before.cleared, before.stuck, 0.2, 1.0))
    assert coarse.seen.tolist() == now.seen.tolist()


def test_several_dives_merge_onto_the_first_ones_samples(tmp_path: Path) -> None:
    """Cleared where any dive cleared; held back where any held it back and none cleared; seen where any
    saw; a second dive's samples a few cm off still land. Dives judged for other heights are refused."""
    import dataclasses

    from hullscan.compare.earlier import EarlierCoverage, merged

    pts = _grid()[:5]
    a = EarlierCoverage("a", pts, np.array([3, 1, 0, 0, 2], np.uint8), 0.1, 0.04)
    b = EarlierCoverage("b", pts + np.array([0.02, 0.0, 0.01]), np.array([0, 3, 1, 0, 1], np.uint8), 0.1, 0.04)
    both = merged([a, b])
    assert both.status.tolist() == [3, 3, 1, 0, 2] and both.source == "a + b"
    assert np.array_equal(both.points, a.points) and merged([a]) is a
    with pytest.raises(CoverageFileError, match="different compartment heights"):
        merged([a, dataclasses.replace(b, clear_height_m=0.2)])


def test_several_dives_in_one_parameter(tmp_path: Path) -> None:
    """The comparator node's ``after``: folders separated as in PATH, merged as --after repeated."""
    import os

    from hullscan.compare.earlier import load_earlier_dives

    pts = _grid()[:4]
    for name, status in (("a", [3, 0, 0, 2]), ("b", [0, 3, 1, 0])):
        (tmp_path / name).mkdir()
        write_coverage_ply(tmp_path / name / "coverage.ply", pts, np.tile([0.0, 1.0, 0.0], (4, 1)),
                           np.array(status, np.uint8), 0.1, 0.04)
    both = load_earlier_dives(f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}", "after:")
    assert both.status.tolist() == [3, 3, 1, 2]
    assert load_earlier_dives(str(tmp_path / "a"), "after:").status.tolist() == [3, 0, 0, 2]
    with pytest.raises(CoverageFileError, match=r"after: .*missing: no coverage\.ply"):
        load_earlier_dives(f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'missing'}", "after:")
