"""The earlier clean cloud is placed for today's cloud through the reference file's own frame: the
internal hull frames of two visits differ by their drafts and trims, the file's frame does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.history.changes import ChangeCheck, EarlierScan, mark_findings, summary_sentence
from hullscan.history.record import _cloud_to_file
from hullscan.model import Finding, HullCloud, Transform


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


def _finding(fid: str, centre: tuple[float, float, float], half: float, volume: float) -> Finding:
    c = np.array(centre)
    return Finding(fid, "protrusion", centre, volume, 0.4, 0.5, tuple(c - half), tuple(c + half), "side", "port",
                   centre[0], 2.0, 0.9, 0.5, 100)


class _Earlier(SimpleNamespace):
    """The comparison with the earlier scan: its differences and, elsewhere, plating it saw and matched."""

    reference = None  # the earlier scan's surface: here, seen densely everywhere

    def status_at(self, p: np.ndarray, margin: float, height: float | None = None) -> str:
        return "clear"


def test_an_object_there_before_and_placed_apart_is_present_but_a_new_one_beside_it_is_new() -> None:
    # Today's three findings, in today's reference frame (the earlier scan placed on it: identity).
    old_box = _finding("F001", (31.3, 2.3, -1.6), 0.45, 0.21)  # there on the earlier visit
    new_box = _finding("F002", (21.5, 2.2, -1.7), 0.3, 0.13)
    small_new = _finding("F003", (40.0, 2.0, -1.0), 0.1, 0.004)
    ident = Transform()
    today = SimpleNamespace(findings=(old_box, new_box, small_new), cloud_to_ref=ident)
    # The earlier scan differs at the old box only by a sliver at its end (the visits placed it
    # 0.3 m apart along a featureless midbody), by all of the new box, and by all of the small one.
    hist = _Earlier(cloud_to_ref=ident, findings=(
        _finding("D1", (31.7, 2.4, -1.6), 0.1, 0.006), _finding("D2", (21.4, 2.2, -1.7), 0.3, 0.13),
        _finding("D3", (40.0, 2.0, -1.0), 0.1, 0.004), _finding("D4", (10.0, 2.0, -1.0), 0.1, 0.003)))
    marked, unexplained, thin = mark_findings(today, hist, "2026-11-02")  # type: ignore[arg-type]
    status = {f.id: f.history.status for f in marked if f.history is not None}
    assert status == {"F001": "present", "F002": "new", "F003": "new"}
    assert "differs by 0.006 m3 at its edge" in marked[0].history.text  # type: ignore[union-attr]
    assert (unexplained, thin) == (1, 0)  # D4: no finding of today there
    # A pack of 0.01 m3 added to the old box: its own volume makes the place new, not the box's.
    hist_added = _Earlier(cloud_to_ref=ident, findings=(_finding("D1", (31.3, 2.3, -1.6), 0.1, 0.012),))
    marked, *_ = mark_findings(SimpleNamespace(findings=(old_box,), cloud_to_ref=ident), hist_added,  # type: ignore[arg-type]
                              "2026-11-02")
    assert marked[0].history is not None and marked[0].history.status == "new"


def _plating(x0: float, x1: float, step: float, rng: np.random.Generator) -> np.ndarray:
    """Side plating (the plane y = 2) from x0 to x1 and z -3..0, sampled every ``step`` m."""
    x, z = np.meshgrid(np.arange(x0, x1, step), np.arange(-3.0, 0.0, step), indexing="ij")
    return np.column_stack([x.ravel(), np.full(x.size, 2.0), z.ravel()]) + rng.normal(0, 0.002, (x.size, 3))


def test_a_difference_where_the_earlier_scan_saw_a_few_points_only_is_not_seen() -> None:
    # The earlier scan saw x 0..6 m densely (2 cm) and x 6..10 m at the fringe of a lane (25 cm).
    from hullscan.compare.reference import scan_reference

    rng = np.random.default_rng(3)
    pts = np.vstack([_plating(0.0, 6.0, 0.02, rng), _plating(6.0, 10.0, 0.25, rng)])
    n = len(pts)
    scan = HullCloud(pts, np.tile([0.0, 1.0, 0.0], (n, 1)), np.ones(n), np.ones(n, np.int32), np.full(n, 0.02))
    ident = Transform()
    dense, fringe = _finding("F001", (3.0, 2.2, -1.5), 0.2, 0.03), _finding("F002", (8.0, 2.2, -1.5), 0.2, 0.03)
    hist = _Earlier(cloud_to_ref=ident, reference=scan_reference(scan), findings=(
        _finding("D1", (3.0, 2.2, -1.5), 0.2, 0.03), _finding("D2", (8.0, 2.2, -1.5), 0.2, 0.03),
        _finding("D3", (1.0, 2.2, -1.0), 0.2, 0.03), _finding("D4", (9.0, 2.2, -1.0), 0.2, 0.03)))
    marked, unexplained, thin = mark_findings(SimpleNamespace(findings=(dense, fringe), cloud_to_ref=ident), hist,  # type: ignore[arg-type]
                              "2026-11-02")
    assert [f.history.status for f in marked if f.history] == ["new", "not_seen"]
    assert "a few points only" in marked[1].history.text  # type: ignore[union-attr]
    # Of the differences no finding explains, one is where the scan saw densely (to check), one in its gaps.
    assert (unexplained, thin) == (1, 1)
    said = summary_sentence(EarlierScan(1, dt.datetime(2026, 11, 2, tzinfo=dt.UTC), Path("x.ply"), "0" * 64, "ref", None),
                            marked, unexplained, thin)
    assert "1 other difference from that scan where it saw densely" in said and "1 more where that scan saw a few" in said


def test_where_the_clouds_fit_as_well_along_the_ship_the_nearest_placement_is_refined(monkeypatch) -> None:
    """A featureless midbody: today's cloud fits the earlier scan a hair better 5.6 m along than 1.3 m
    along (where the old box lines up). The nearer of the tied fits is taken and refined, not searched."""
    import hullscan.history.changes as changes

    def hyp(along: float) -> SimpleNamespace:
        return SimpleNamespace(offset_along_m=along, offset_across_m=0.0,
                               transform=Transform(translation=np.array([along, 0.0, 0.0])))

    far, near = hyp(5.6), hyp(1.3)
    reg = SimpleNamespace(best=far, alternatives=(near, hyp(-3.2)))
    hist = SimpleNamespace(failure=None, alignment=SimpleNamespace(registration=reg))
    calls: list[Transform] = []

    def fake(cloud: object, source: object, config: object, *, hull_to_nav: Transform, progress: object
             ) -> SimpleNamespace:
        calls.append(hull_to_nav)
        return SimpleNamespace(failure=None, name="refined")

    monkeypatch.setattr(changes, "attempt_inspection", fake)
    check = ChangeCheck("9074729", None, CompareConfig(), "ref")
    out = check._nearest_of_ties(hist, None, None)  # type: ignore[arg-type]
    assert out.name == "refined" and np.allclose(calls[0].translation, [-1.3, 0.0, 0.0])
    # The best is already the nearest, or nothing tied: the search's result stands.
    settled = SimpleNamespace(failure=None, alignment=SimpleNamespace(registration=SimpleNamespace(
        best=near, alternatives=(far,))))
    assert check._nearest_of_ties(settled, None, None) is settled and len(calls) == 1  # type: ignore[arg-type]
    # The refinement fails: the search's result stands.
    monkeypatch.setattr(changes, "attempt_inspection", lambda *a, **k: SimpleNamespace(failure=RuntimeError("x")))
    assert check._nearest_of_ties(hist, None, None) is hist  # type: ignore[arg-type]
