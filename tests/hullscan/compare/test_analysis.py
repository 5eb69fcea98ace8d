"""Vectorised analysis helpers against numpy."""

from __future__ import annotations

import numpy as np
import pytest


def test_cell_normals_are_the_unit_mean_of_each_cells_normals():
    from hullscan.compare.analysis import _cell_normals

    rng = np.random.default_rng(2)
    normals = rng.normal(size=(200, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    inv = rng.integers(0, 7, 200)
    got = _cell_normals(normals, inv, 7)
    for k in range(7):
        mean = normals[inv == k].sum(axis=0)
        np.testing.assert_allclose(got[k], mean / np.linalg.norm(mean), atol=1e-12)


def _feet(x: tuple[float, float], y: tuple[float, float], step: float = 0.05) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(x[0], x[1] + 1e-9, step), np.arange(y[0], y[1] + 1e-9, step))
    return np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])


def test_two_protrusions_join_across_a_band_not_seen_but_not_across_plating_seen():
    # A 0.9 m wide object astride a lane gap: its two ends seen on either side of a 0.4 m band.
    from types import SimpleNamespace

    from hullscan.compare.analysis import joined_across_unseen

    low, high = _feet((0.0, 0.9), (0.0, 0.15)), _feet((0.0, 0.9), (0.6, 0.8))
    around = np.vstack([_feet((-0.6, -0.1), (-0.5, 1.2)), _feet((1.0, 1.5), (-0.5, 1.2))])  # plating at the ends
    a, b = np.arange(len(low)), len(low) + np.arange(len(high))

    def cells(*parts: np.ndarray) -> SimpleNamespace:
        return SimpleNamespace(base=np.vstack(parts))

    assert joined_across_unseen(cells(low, high, around), a, b, 0.6)
    # Plating seen across the band: two objects.
    assert not joined_across_unseen(cells(low, high, around, _feet((0.0, 0.9), (0.35, 0.4))), a, b, 0.6)
    # Farther apart than the join allows.
    assert not joined_across_unseen(cells(low, high + np.array([0.0, 0.5, 0.0]), around), a, b, 0.6)


def test_a_finding_astride_a_band_not_seen_is_measured_across_it():
    # A 0.9 x 0.8 m box 0.3 m proud whose middle 0.4 m no lane saw: measured as seen it is half
    # the box; bridged, the band takes the heights either side and the volume is the box's.
    from types import SimpleNamespace

    from hullscan.compare.analysis import measure

    feet = np.vstack([_feet((0.0, 0.9), (0.0, 0.2)), _feet((0.0, 0.9), (0.6, 0.8))])
    n = len(feet)
    cells = SimpleNamespace(base=feet, points=feet + np.array([0.0, 0.0, 0.3]), residual=np.full(n, 0.3),
                            normal=np.tile([0.0, 0.0, 1.0], (n, 1)), in_recess=None, reference=None,
                            cloud_normal=None, count=np.ones(n), range_m=None)
    idx = np.arange(n)
    seen = measure(cells, idx, 1.0)
    both = measure(cells, idx, 1.0, bridge_m=0.6)
    box = 0.95 * 0.85 * 0.3  # cells of 5 cm centred on the feet: half a cell beyond each edge
    assert seen["bridged_volume"] == 0.0 and seen["volume"] == pytest.approx(0.95 * 0.5 * 0.3, rel=0.15)
    assert both["volume"] == pytest.approx(box, rel=0.1)
    assert both["bridged_volume"] == pytest.approx(both["volume"] - seen["volume"], abs=1e-9)
    # The centroid moves to the middle of the band, where the box's is.
    assert both["centroid"][1] == pytest.approx(0.4, abs=0.03)
    # A band wider than the bridge stays open.
    apart = measure(cells, idx, 1.0, bridge_m=0.2)
    assert apart["volume"] == pytest.approx(seen["volume"], rel=0.02)


def test_ball_pairs_are_the_ball_querys_pairs():
    from scipy.spatial import cKDTree

    from hullscan.compare.analysis import ball_pairs

    rng = np.random.default_rng(1)
    ref = rng.uniform(0, 3, (4000, 3))
    q = np.vstack([rng.uniform(0, 3, (1500, 3)), ref[:40]])  # some exactly on a sample
    tree = cKDTree(ref)
    want = {(i, j) for i, near in enumerate(tree.query_ball_point(q, r=0.3)) for j in near}
    o, m = ball_pairs(tree, q, 0.3)
    assert set(zip(o.tolist(), m.tolist(), strict=True)) == want and len(o) == len(want)
    assert all(len(a) == 0 for a in ball_pairs(tree, q[:0], 0.3))


def test_not_inspected_area_is_summed_by_what_a_dive_team_can_do() -> None:
    """The report's line under the not-inspected table: each patch's area by why, largest first."""
    from hullscan.compare.analysis import (
        low_reason,
        not_inspected_why,
        relief_reason,
        uncertain_reason,
    )

    patches = [{"area_m2": 3.0, "reason": "not seen"}, {"area_m2": 1.5, "reason": uncertain_reason(0.1, 0.9)},
               {"area_m2": 2.5, "reason": uncertain_reason(0.1, 0.2)}, {"area_m2": 0.5, "reason": uncertain_reason(0.1, 0.7)},
               {"area_m2": 0.4, "reason": relief_reason(0.1)}, {"area_m2": 0.3, "reason": low_reason(0.1)},
               {"area_m2": 0.2, "reason": uncertain_reason(0.1)}, {"area_m2": 0.0, "reason": "not seen"}]
    why = not_inspected_why(patches)
    assert [round(a, 3) for _, a in why] == [3.0, 2.5, 2.0, 0.4, 0.3, 0.2]
    labels = [k for k, _ in why]
    assert labels[0].startswith("not seen") and "uneven" in labels[1] and "closer, slower" in labels[2]
    assert "relief" in labels[3] and "below its surroundings" in labels[4] and labels[5] == "seen, too uncertain to clear"
    assert not_inspected_why([]) == []


def test_the_compare_line_says_what_another_pass_would_clear() -> None:
    """[compare]'s second line: the surface seen but too uncertain to clear, by why; none: no line."""
    from hullscan.compare.analysis import Coverage, relief_reason, uncertain_reason
    from hullscan.compare.loading import seen_not_cleared_line

    def cov(*patches: dict[str, object]) -> Coverage:
        return Coverage(np.zeros((1, 3)), np.zeros(1, bool), 0.04, tuple(patches))

    line = seen_not_cleared_line(cov({"area_m2": 42.5, "reason": uncertain_reason(0.1, 0.8)},
                                     {"area_m2": 38.2, "reason": uncertain_reason(0.1, 0.3)},
                                     {"area_m2": 1.0, "reason": uncertain_reason(0.1)},
                                     {"area_m2": 9.0, "reason": relief_reason(0.1)},
                                     {"area_m2": 900.0, "reason": "not seen"}))
    assert line == ("seen but too uncertain to clear: 42.5 m² another, closer or slower pass would clear; "
                    "38.2 m² uneven surface it may not; 1.0 m² too uncertain")
    assert seen_not_cleared_line(cov({"area_m2": 900.0, "reason": "not seen"})) is None
    assert seen_not_cleared_line(None) is None


def test_the_compare_line_says_what_needs_a_diver() -> None:
    """[compare]'s third line: the surface seen that no pass clears (thin appendages, beside the
    design's relief, plating reading low), by why; none: no line."""
    from hullscan.compare.analysis import (
        Coverage,
        low_reason,
        relief_reason,
        thin_reason,
        uncertain_reason,
    )
    from hullscan.compare.loading import diver_line

    def cov(*patches: dict[str, object]) -> Coverage:
        return Coverage(np.zeros((1, 3)), np.zeros(1, bool), 0.04, tuple(patches))

    line = diver_line(cov({"area_m2": 12.4, "reason": thin_reason(0.1)}, {"area_m2": 0.8, "reason": relief_reason(0.1)},
                          {"area_m2": 0.3, "reason": low_reason(0.1)}, {"area_m2": 0.02, "reason": thin_reason(0.1)},
                          {"area_m2": 5.0, "reason": uncertain_reason(0.1, 0.8)}))
    assert line == ("seen, for a diver or the camera (no pass clears it): 12.4 m² on thin appendages (bilge keels, "
                    "propeller blades); 0.8 m² beside the design's own relief; 0.3 m² over plating that reads below "
                    "its surroundings")
    assert diver_line(cov({"area_m2": 5.0, "reason": uncertain_reason(0.1, 0.8)})) is None
    assert diver_line(None) is None


def test_coverage_status_per_sample() -> None:
    """What coverage.ply says at each sample: not seen; seen but not cleared for its returns (random
    share over the half: another pass); for the surface around it or held back by relief or by
    reading low (another pass alone may not); cleared."""
    from hullscan.compare.analysis import (
        STATUS_ANOTHER_PASS,
        STATUS_CLEARED,
        STATUS_NOT_BY_A_PASS,
        STATUS_NOT_SEEN,
        Coverage,
    )

    seen_any = np.array([False, True, True, True, True])
    cleared = np.array([False, False, False, False, True])
    share = np.array([np.nan, 0.8, 0.3, 0.9, 0.2])
    held = np.array([False, False, False, True, False])
    cov = Coverage(np.zeros((5, 3)), cleared, 0.01, (), seen_any, 0.1, random_share=share, held=held)
    assert cov.status().tolist() == [STATUS_NOT_SEEN, STATUS_ANOTHER_PASS, STATUS_NOT_BY_A_PASS, STATUS_NOT_BY_A_PASS,
                                     STATUS_CLEARED]
    # without the split (a coverage made before it): seen and not cleared reads as another pass
    bare = Coverage(np.zeros((5, 3)), cleared, 0.01, (), seen_any, 0.1)
    assert bare.status().tolist() == [0, 1, 1, 1, 3]


def _relief_of(points: np.ndarray, normals: np.ndarray, turn_deg: float = 45.0) -> np.ndarray:
    from scipy.spatial import cKDTree

    from hullscan.compare.analysis import _beside_relief, _flatten
    from hullscan.compare.config import CompareConfig
    from hullscan.core.grid import group_keys, voxel_keys

    _, binv, _ = group_keys(voxel_keys(points, 0.5))
    nb = int(binv.max()) + 1
    bcen = np.stack([np.bincount(binv, weights=points[:, i], minlength=nb) / np.bincount(binv, minlength=nb)
                     for i in range(3)], axis=1)
    config = CompareConfig(uncertainty={"calibrate_relief_apart_deg": turn_deg})
    # As make_cells has them: the local baseline's block pairs within its radius.
    pairs = _flatten(cKDTree(bcen).query_ball_point(bcen, r=config.detection.baseline_radius_m))
    got = _beside_relief(normals, binv, bcen, pairs, config)
    # A baseline narrower than the relief's reach: the same, from a query of its own.
    narrow = config.model_copy(update={"detection": config.detection.model_copy(update={"baseline_radius_m": 0.3})})
    np.testing.assert_array_equal(_beside_relief(normals, binv, bcen, pairs, narrow), got)
    assert got is not None and got.shape == (len(points),)
    return got


def test_cells_beside_the_reference_s_relief_are_those_where_its_surface_turns_sharply():
    """Plating stepping down 0.4 m at x = 3 m into a recess (a sea chest's side): the wall's cells and
    those of the plating and the recess's floor within half a metre of it are beside relief, those a
    metre and a half off are not. A bilge's turn of 2 m radius (90 deg over 3 m) is not relief; off
    (0 deg), nothing is said."""
    from hullscan.compare.analysis import _beside_relief
    from hullscan.compare.config import CompareConfig

    top, floor = _feet((0.0, 2.98), (0.0, 3.0)), _feet((3.02, 6.0), (0.0, 3.0)) + np.array([0.0, 0.0, -0.4])
    gz, gy = np.meshgrid(np.arange(-0.38, 0.0, 0.05), np.arange(0.0, 3.0 + 1e-9, 0.05))
    wall = np.column_stack([np.full(gz.size, 3.0), gy.ravel(), gz.ravel()])
    points = np.vstack([top, wall, floor])
    normals = np.vstack([np.tile([0.0, 0.0, 1.0], (len(top), 1)), np.tile([-1.0, 0.0, 0.0], (len(wall), 1)),
                         np.tile([0.0, 0.0, 1.0], (len(floor), 1))])
    relief = _relief_of(points, normals)
    dx = np.abs(points[:, 0] - 3.0)
    assert relief[len(top):len(top) + len(wall)].all()
    assert relief[dx < 0.5].mean() > 0.9
    assert not relief[dx > 1.5].any()
    # The turn of a bilge: a quarter circle of 2 m radius, its normals turning smoothly.
    a = np.linspace(0.0, np.pi / 2, 120)
    y = np.arange(0.0, 3.0, 0.05)
    aa, yy = np.meshgrid(a, y)
    bilge = np.column_stack([2.0 * np.cos(aa.ravel()), yy.ravel(), -2.0 * np.sin(aa.ravel())])
    bn = np.column_stack([np.cos(aa.ravel()), np.zeros(aa.size), -np.sin(aa.ravel())])
    assert not _relief_of(bilge, bn).any()
    off = CompareConfig(uncertainty={"calibrate_relief_apart_deg": 0.0})
    none = np.zeros(0, np.int64)
    assert _beside_relief(normals, np.zeros(len(points), np.int64), points[:1], (none, none), off) is None
