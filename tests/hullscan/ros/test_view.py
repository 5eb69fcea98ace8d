"""The operator view rendered from published messages (no DDS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hullscan.model import Finding, HullCloud, Transform
from hullscan.ros import messages
from hullscan.ros.view import render_operator_view


def _finding(fid: str, x: float) -> Finding:
    return Finding(fid, "protrusion", (x, 3.0, -2.0), 0.02, 0.3, 0.1, (x - 0.15, 2.9, -2.15), (x + 0.15, 3.2, -1.85),
                   "sea_chest", "port", x, 2.0, 0.8, 0.5, 40)


def _label_rows(png: Path, colour: tuple[int, int, int]) -> int:
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    # Anti-aliased text: pixels near the label colour (the cloud here is white, the background dark).
    near = np.abs(img - np.array(colour)).sum(axis=2) < 120
    return int(near.any(axis=1).sum())


def _wall(n: int, seed: int) -> HullCloud:
    """``n`` points of a flat plate 10 m x 4 m, 3 m to port, facing +y."""
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(0, 10, n), np.full(n, 3.0), rng.uniform(-4, 0, n)])
    return HullCloud(pts, np.tile([0.0, 1.0, 0.0], (n, 1)), np.ones(n, np.float32), np.ones(n, np.int32),
                     np.full(n, 0.01, np.float32))


def test_labels_of_findings_side_by_side_do_not_overlap(tmp_path: Path) -> None:
    n = 4000
    cloud = _wall(n, seed=0)
    msg = messages.hull_cloud(cloud, 0, deviation=np.zeros(n, np.float32))
    c = messages.risk_colour(0.5)
    colour = (int(255 * c.r), int(255 * c.g), int(255 * c.b))
    one = messages.finding_markers([_finding("F001", 5.0)], Transform.identity(), "odom", 0)
    two = messages.finding_markers([_finding("F001", 5.0), _finding("F002", 5.2)], Transform.identity(), "odom", 0)
    rows_one = _label_rows(render_operator_view(msg, one, tmp_path / "one.png"), colour)
    rows_two = _label_rows(render_operator_view(msg, two, tmp_path / "two.png"), colour)
    # The second (two-line) label is stacked under the first instead of printed over it: ~20 more rows.
    assert rows_one > 0 and rows_two >= rows_one + 15


def test_failed_inspection_shows_a_red_banner_not_a_clean_hull(tmp_path: Path) -> None:
    from PIL import Image

    n = 2000
    cloud = _wall(n, seed=1)
    grey = messages.hull_cloud(cloud, 0, deviation=np.full(n, np.nan, np.float32))  # nothing compared
    failed = messages.failure_markers("INSPECTION FAILED: cloud does not fit reference", (5.0, 3.0, 1.0), "odom", 0)
    assert [m.ns for m in failed.markers] == ["findings", messages.STATUS_NS]  # findings cleared, banner added
    ok = messages.finding_markers([], Transform.identity(), "odom", 0)
    assert ok.markers[-1].ns == messages.STATUS_NS and ok.markers[-1].action == ok.markers[-1].DELETE

    def red_rows(png: Path) -> int:
        img = np.asarray(Image.open(png).convert("RGB")).astype(int)[:60]
        return int(((img[..., 0] > 150) & (img[..., 1] < 60) & (img[..., 2] < 60)).all(axis=1).sum())

    assert red_rows(render_operator_view(grey, failed, tmp_path / "failed.png")) >= 20
    assert red_rows(render_operator_view(grey, ok, tmp_path / "ok.png")) == 0


def test_a_finding_the_ship_s_plan_explains_is_grey_and_named() -> None:
    from dataclasses import replace

    from hullscan.model import FittingMatch

    anode = replace(_finding("F002", 6.0), fitting=FittingMatch("A5", "anode", True, 0.1, "matches declared anode A5"))
    beside = replace(_finding("F003", 7.0), fitting=FittingMatch("A6", "anode", False, 0.2, "larger than it"))
    boxes = [m for m in messages.finding_markers([_finding("F001", 5.0), anode, beside], Transform.identity(),
                                                 "odom", 0).markers if m.type == m.CUBE]
    assert [m.color.r for m in boxes] == [messages.risk_colour(0.5).r, 0.6, messages.risk_colour(0.5).r]
    assert messages.finding_label(anode).startswith("declared anode A5: F002")
    assert messages.finding_label(beside).startswith("F003")  # larger than its anode: still a suspect
