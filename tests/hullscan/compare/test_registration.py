"""Registration from an operator's prior: capture range, ambiguity along a parallel midbody,
priors beyond the range, a flipped reference and half hulls."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hullscan.compare.align import (
    AlignmentFailed,
    _parabola_offset,
    align,
    check_upright,
    settle_along,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.prior import DEFAULT_SIGMA, perturbed
from hullscan.compare.reference import mesh_reference
from hullscan.compare.synthetic import make_hull, make_scan
from hullscan.errors import AlignmentError
from hullscan.model import Transform

from .conftest import HULL_TO_NAV

CORNERS = [(5.0, 2.0, 10.0), (-5.0, -2.0, -10.0), (5.0, -2.0, -10.0), (-5.0, 2.0, 10.0), (0.0, 0.0, 0.0)]


def _error(fit: Transform, truth: Transform, at: np.ndarray) -> tuple[float, float]:
    """Placement error of a fit (reference <- nav) against the truth (nav <- hull) at ``at`` (hull)."""
    d = fit @ truth  # identity when the fit is right
    return float(np.linalg.norm(d.apply(at) - at)), float(np.rad2deg(np.linalg.norm(d.rot.as_rotvec())))


@pytest.fixture(scope="module")
def ref(hull):
    return mesh_reference(hull, icp_spacing=0.1)


@pytest.mark.parametrize("along, across, heading", CORNERS)
def test_converges_from_every_corner_of_the_capture_range(ref, scan, along, across, heading) -> None:
    pts = np.asarray(scan.cloud.points, float)
    pivot = HULL_TO_NAV.inverse().apply(pts.mean(axis=0))
    prior = perturbed(HULL_TO_NAV, pivot, along, across, heading)
    a = align(pts, ref, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)
    err_m, err_deg = _error(a.transform, HULL_TO_NAV, pivot)
    assert err_m < 0.05 and err_deg < 0.1, (err_m, err_deg)
    assert a.registration is not None and not a.registration.along_ambiguous


def test_prior_beyond_the_capture_range_says_how_far_off(ref, scan) -> None:
    pts = np.asarray(scan.cloud.points, float)
    pivot = HULL_TO_NAV.inverse().apply(pts.mean(axis=0))
    far = perturbed(HULL_TO_NAV, pivot, 0.0, 0.0, 60.0)
    with pytest.raises(AlignmentFailed, match="outside the capture range") as err:
        align(pts, ref, CompareConfig(), prior=far.inverse(), sigma=DEFAULT_SIGMA)
    msg = str(err.value)
    assert "deg in heading from the prior" in msg and "Check the ship heading" in msg
    assert "units" not in msg


@pytest.fixture(scope="module")
def midbody():
    """A long parallel midbody's reference, and the port side and bilge of a scan of its middle
    (cloud frame, hull frame): nothing there fixes the position along the ship."""
    long = make_hull(length=60.0, beam=8.0, draft=3.0, n_x=121, n_s=33, fullness=16.0, sea_chest=False)
    s = make_scan(long, (), spacing=0.08, hull_to_nav=HULL_TO_NAV, seed=4)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    keep = (np.abs(hull_pts[:, 0] - 30.0) < 9.0) & (hull_pts[:, 1] > 1.0)
    return mesh_reference(long, icp_spacing=0.1), np.asarray(s.cloud.points, float)[keep], hull_pts[keep]


def test_parallel_midbody_seen_from_one_side_is_reported_ambiguous(midbody) -> None:
    r, pts, hull_pts = midbody
    pivot = hull_pts.mean(axis=0)
    prior = perturbed(HULL_TO_NAV, pivot, 3.0, 0.5, 2.0)
    a = align(pts, r, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)
    reg = a.registration
    assert reg is not None and reg.along_ambiguous
    assert a.ambiguity_note is not None and "ambiguous" in a.ambiguity_note
    # The truth lies inside the reported range: the fit slid by the prior's error or less.
    d = (a.transform @ HULL_TO_NAV).apply(pivot) - pivot
    lo, hi = reg.along_range_m
    assert lo - 0.5 <= -d[0] <= hi + 0.5, (d, reg.along_range_m)


def test_upright_check_refuses_a_fit_that_turns_the_hull_over(ref) -> None:
    check_upright(np.eye(4), ref)
    flipped = Transform.from_euler(np.pi, 0.0, 0.0).as_matrix()
    with pytest.raises(AlignmentError, match="--up"):
        check_upright(flipped, ref)


def test_settling_along_the_ship_reaches_a_minimum_beyond_its_near_window(ref, scan) -> None:
    # The coarse fit sees half-metre voxels and can stop metres from the fine minimum: the settle
    # scans the prior's whole along-ship range, not only +/- along_settle_m about the fit.
    pts = np.asarray(scan.cloud.points, float)
    truth = HULL_TO_NAV.inverse().as_matrix()  # reference <- cloud
    off = truth.copy()
    off[0, 3] += 3.0
    cfg = CompareConfig()
    assert cfg.alignment.registration.along_settle_m < 3.0
    t, (lo, hi) = settle_along(pts, ref, off, DEFAULT_SIGMA, cfg)
    assert abs(t[0, 3] - truth[0, 3]) < 0.05, t[0, 3] - truth[0, 3]
    assert hi - lo < 1.0


def test_parabola_places_the_minimum_between_scan_steps() -> None:
    step, vertex = 0.1, 0.037
    left, mid, right = ((x - vertex) ** 2 + 1.0 for x in (-step, 0.0, step))
    assert _parabola_offset(left, mid, right, step) == pytest.approx(vertex)
    assert _parabola_offset(1.0, 1.0, 1.0, step) == 0.0  # flat: stay
    assert _parabola_offset(1.0, 2.0, 1.0, step) == 0.0  # a maximum: stay


def test_settling_a_registered_prior_stays_within_its_range(midbody) -> None:
    # A prior that is already a registration (drift correction's, +/- 0.5 m along) is refined
    # where it is: along a parallel midbody the cost is flat, and walking it off further would
    # end in "prior outside the capture range".
    from hullscan.compare.prior import PriorSigma

    r, pts, _ = midbody
    start = HULL_TO_NAV.inverse().as_matrix()
    start[0, 3] += 1.2  # looks as good as the truth here
    registered = PriorSigma(along_m=0.5, across_m=0.3, vertical_m=0.2, heading_deg=1.0)
    t, _ = settle_along(pts, r, start, registered, CompareConfig())
    assert abs(t[0, 3] - start[0, 3]) <= 0.75 + 0.05 + 1e-9


@pytest.fixture(scope="module")
def long_side():
    """A 150 m ship's starboard side and bilge (nav frame), surveyed from the stern:
    a quay prior is known at the survey's start, and a heading error turns the rest about it."""
    ship = make_hull(length=150.0, beam=24.0, draft=8.0, n_x=301, n_s=33, fullness=8.0, sea_chest=False)
    s = make_scan(ship, (), spacing=0.3, hull_to_nav=HULL_TO_NAV, seed=5)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    keep = hull_pts[:, 1] < -1.0  # the side and the bilge: a side alone leaves the pitch loose
    start_hull = np.array([2.0, -14.0, -3.0])  # near the stern, 3 m deep, off the starboard side
    return mesh_reference(ship, icp_spacing=0.2), np.asarray(s.cloud.points, float)[keep], start_hull


def test_a_quay_prior_is_searched_about_the_start_of_a_long_survey(long_side) -> None:
    # 5 deg of heading about the start is 12 m across at the survey's far end and 6 m at its centre,
    # beyond the 2 m across that the prior allows there.
    ref, pts, start = long_side
    prior = perturbed(HULL_TO_NAV, start, 3.0, 1.0, 5.0)
    sigma = replace(DEFAULT_SIGMA, about_nav=tuple(float(v) for v in prior.apply(start)))
    a = align(pts, ref, CompareConfig(), prior=prior.inverse(), sigma=sigma)
    far_end = np.array([140.0, -12.0, -3.0])
    err_m, err_deg = _error(a.transform, HULL_TO_NAV, far_end)
    assert err_m < 0.05 and err_deg < 0.1, (err_m, err_deg)
    assert a.registration is not None and np.allclose(a.registration.pivot, start, atol=1e-6)
    # The same error judged at the survey's centre lies outside the prior's range there: the
    # point where the bounds hold is part of the prior.
    with pytest.raises(AlignmentFailed, match="outside the capture range"):
        align(pts, ref, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)


def test_a_bounded_query_matches_the_unbounded_one_within_its_radius(ref) -> None:
    """The coarse search's queries stop at the stage's radius: what lies within it gets the same
    closest point, what does not is unmatched (NaN, index -1, not over the surface), and a
    truncated cost is unchanged."""
    from hullscan.compare.align import _cost, _sample_proxy

    proxy = _sample_proxy(ref, 0.3)
    rng = np.random.default_rng(3)
    on = proxy._tree_points[rng.choice(len(proxy._tree_points), 400, replace=False)]
    pts = on + proxy._tree_normals[rng.choice(len(on), len(on))] * rng.uniform(0.0, 6.0, (len(on), 1))
    c_all, n_all, i_all = proxy.closest(pts)
    c, n, i = proxy.closest(pts, within=2.0)
    dist = np.linalg.norm(pts - proxy._tree_points[i_all], axis=1)
    near = dist <= 2.0
    assert 0 < near.sum() < len(pts)
    np.testing.assert_array_equal(i[near], i_all[near])
    np.testing.assert_allclose(c[near], c_all[near])
    np.testing.assert_allclose(n[near], n_all[near])
    assert np.isnan(c[~near]).all() and np.isnan(n[~near]).all() and (i[~near] == -1).all()
    d, _, _, _, over = proxy.signed_distance(pts, within=2.0)
    assert not over[~near].any() and np.isnan(d[~near]).all()
    for trunc in (0.1, 0.5):
        bounded = _cost(pts, proxy, np.eye(4), trunc)
        d_all, _, _, _, over_all = proxy.signed_distance(pts)
        assert bounded == pytest.approx(float(np.mean(np.where(over_all, np.minimum(np.abs(d_all), trunc), trunc) ** 2)))


def test_settle_and_icp_repeat_until_the_settle_no_longer_moves_the_fit(monkeypatch) -> None:
    # Along a bow shoulder seen from one side a shift along the ship trades with a shift across
    # it: each (ICP, settle) round goes part of the way down the valley (long_side_160m stopped
    # 0.17 m short after one). Stand-ins: ICP leaves the fit, each settle moves the cloud a
    # shrinking share of what is left to an along-ship minimum 0.35 m away, and the cost falls.
    from types import SimpleNamespace

    import hullscan.compare.align as al
    from hullscan.compare.prior import REGISTERED_SIGMA

    goal = 0.35
    calls: list[float] = []

    def fake_settle(src, reference, t, sigma, config, **kw):
        t = t.copy()
        t[0, 3] += 0.6 * (goal - t[0, 3])
        calls.append(t[0, 3])
        return t, (0.0, 0.0)

    monkeypatch.setattr(al, "settle_along", fake_settle)
    monkeypatch.setattr(al, "proud_at", lambda src, reference, t, config: 0.0)  # no surface to measure it on
    # The range that fits as well is measured once, where the fit ends (a stand-in that says where).
    ranged: list[float] = []
    monkeypatch.setattr(al, "_tie_range", lambda pts, reference, t, low, sigma, config, proud=0.0:
                        (ranged.append(t[0, 3]), (-0.3, 0.1))[1])
    # The cost falls with the distance left to the minimum (by more than the tie each round).
    monkeypatch.setattr(al, "_cost", lambda src, reference, t, c, offset=0.0: 1.0 + (goal - t[0, 3]) ** 2 / 0.01)
    refiner = SimpleNamespace(src=np.zeros((10, 3)), reference=None, config=CompareConfig(),
                              refine=lambda cands, schedule: [SimpleNamespace(matrix=cands[0][1])])
    t, rng = al._settle_with_icp(refiner, "test", np.eye(4), REGISTERED_SIGMA, CompareConfig())
    # 0.6 of the rest each round: 0.21, 0.084, then 0.034 m, under half a settle step (0.05 m);
    # the range is stated where the last round ended.
    assert len(calls) == 3
    assert abs(t[0, 3] - goal) < 0.03 and rng == pytest.approx((-0.3, 0.1)) and ranged == [t[0, 3]]
    # One round (the earlier code) would have stopped 0.14 m short.
    assert abs(calls[0] - goal) > 0.1


def test_the_range_that_fits_as_well_is_read_at_the_settle_step_then_coarser(monkeypatch) -> None:
    # A flat bottom's cost stayed within the tie out to 0.4 m and the range read +/- 0.1 m (scanned
    # 0.1, 0.6, 1.1 m ...), so a survey placed 0.3 m along from the truth stated 0.1 m (stop 52).
    # Stand-in costs of the shift along the ship (the tie is 3 %): within it to 0.45 m ahead and
    # 0.25 m astern; then a flat stretch to 3.2 m ahead, read at the coarse step beyond 1.5 m.
    import hullscan.compare.align as al
    from hullscan.compare.prior import DEFAULT_SIGMA

    def cost_of(v: float, flat_to: float) -> float:
        if 0.0 <= v <= flat_to:
            return 1.0
        return 1.0 + 0.03 * (v / (0.45 if v > 0 else 0.25)) ** 2

    for flat_to, expected in ((0.0, (-0.2, 0.4)), (3.2, (-0.2, 3.0))):
        monkeypatch.setattr(al, "_costs", lambda src, reference, ts, c, offset=0.0, f=flat_to:
                            np.array([cost_of(float(t[0, 3]), f) for t in ts]))
        monkeypatch.setattr(al, "_cost", lambda src, reference, t, c, offset=0.0, f=flat_to: cost_of(float(t[0, 3]), f))
        lo, hi = al._tie_range(np.zeros((10, 3)), None, np.eye(4), 1.0, DEFAULT_SIGMA, CompareConfig())
        assert (lo, hi) == pytest.approx(expected), flat_to


def test_where_the_settle_does_not_lower_the_cost_one_round_is_all(monkeypatch) -> None:
    # Along a parallel midbody the cost is flat: more rounds would only walk the fit along the ship.
    from types import SimpleNamespace

    import hullscan.compare.align as al
    from hullscan.compare.prior import REGISTERED_SIGMA

    calls: list[float] = []

    def fake_settle(src, reference, t, sigma, config, **kw):
        t = t.copy()
        t[0, 3] += 0.25
        calls.append(t[0, 3])
        return t, (-2.0, 2.0)

    monkeypatch.setattr(al, "settle_along", fake_settle)
    monkeypatch.setattr(al, "proud_at", lambda src, reference, t, config: 0.0)
    monkeypatch.setattr(al, "_cost", lambda src, reference, t, c, offset=0.0: 1.0)
    monkeypatch.setattr(al, "_tie_range", lambda pts, reference, t, low, sigma, config, proud=0.0: (-2.0, 2.0))
    refiner = SimpleNamespace(src=np.zeros((10, 3)), reference=None, config=CompareConfig(),
                              refine=lambda cands, schedule: [SimpleNamespace(matrix=cands[0][1])])
    al._settle_with_icp(refiner, "test", np.eye(4), REGISTERED_SIGMA, CompareConfig())
    assert len(calls) == 1  # one round, as before stop 36


def test_with_a_least_gain_the_settle_stays_where_the_cost_is_flat(midbody) -> None:
    # Along a parallel midbody the lowest point of the settle's window is noise: with
    # settle_min_gain the fit moves only for a clear gain, and here it stays where it was.
    from hullscan.compare.prior import PriorSigma

    r, pts, _ = midbody
    start = HULL_TO_NAV.inverse().as_matrix()
    start[0, 3] += 1.2
    registered = PriorSigma(along_m=0.5, across_m=0.3, vertical_m=0.2, heading_deg=1.0)
    cfg = CompareConfig()
    moved, _ = settle_along(pts, r, start, registered, cfg)
    assert not np.allclose(moved, start)  # the default takes the window's lowest point
    gain = CompareConfig(alignment={"registration": {"settle_min_gain": 0.03}})
    stayed, _ = settle_along(pts, r, start, registered, gain)
    assert np.allclose(stayed, start)


def test_surface_offset_is_the_median_distance_of_the_points_near_the_surface() -> None:
    from hullscan.compare.align import surface_offset

    rng = np.random.default_rng(0)
    r = np.concatenate([rng.normal(0.015, 0.005, 900), np.full(100, 0.3)])  # plating, and a compartment
    assert surface_offset(r, np.abs(r) < 0.12) == pytest.approx(0.015, abs=0.001)
    assert surface_offset(r, np.zeros(len(r), bool), fallback=0.002) == 0.002  # too few points: no estimate


def test_a_surface_standing_proud_everywhere_is_not_fitted_as_a_shift(hull) -> None:
    """The bow quarter and bottom seen 3 cm proud everywhere (paint, growth, the sonar's first
    arrival) against the same survey as it is. A rigid fit alone takes the offset up as shifts
    (along the taper, across, up); fitted with the pose, the offset leaves the placement where it
    was (to 5 mm), and the offset is measured."""
    s = make_scan(hull, (), spacing=0.04, hull_to_nav=HULL_TO_NAV, seed=6)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    keep = (hull_pts[:, 0] > 13.0) & (hull_pts[:, 1] > -0.5)
    ref = mesh_reference(hull, icp_spacing=0.05)
    _, _, n, _, _ = ref.signed_distance(hull_pts[keep])  # outward, the reference's own normals
    pivot = hull_pts[keep].mean(axis=0)
    prior = perturbed(HULL_TO_NAV, pivot, 0.3, 0.1, 0.5)
    placed, offsets = {}, {}
    for on in (False, True):
        for proud in (0.0, 0.03):
            cfg = CompareConfig(alignment={"surface_offset": on})
            a = align(HULL_TO_NAV.apply(hull_pts[keep] + proud * n), ref, cfg, prior=prior.inverse(),
                      sigma=DEFAULT_SIGMA)
            placed[on, proud] = (a.transform @ HULL_TO_NAV).apply(pivot[None])[0] - pivot
            offsets[on, proud] = a.surface_offset_m
    assert np.linalg.norm(placed[False, 0.03] - placed[False, 0.0]) > 0.03, placed
    assert np.linalg.norm(placed[True, 0.03] - placed[True, 0.0]) < 0.005, placed
    assert offsets[True, 0.03] == pytest.approx(0.03, abs=0.005)
    assert offsets[True, 0.0] == pytest.approx(0.0, abs=0.003)
    assert offsets[False, 0.03] is None


def test_a_survey_inside_the_design_is_not_an_offset_and_fits_as_without_one(hull) -> None:
    """Against a design mesh only a proud offset is taken out (paint, growth and the first arrival
    all add to the hull). A survey that reads inside the design fits exactly as with the offset
    off: the bound holds the offset at 0 and the pose is solved alone (a pose step solved with the
    offset moving, then the offset clipped, left topsides_mesh 13 cm off instead of 6)."""
    from hullscan.compare.align import offset_bounds

    ref = mesh_reference(hull, icp_spacing=0.05)
    assert offset_bounds(ref) == (0.0, 0.05)
    assert offset_bounds(replace(ref, kind="scan")) == (-0.05, 0.05)
    s = make_scan(hull, (), spacing=0.04, hull_to_nav=HULL_TO_NAV, seed=6)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    keep = (hull_pts[:, 0] > 13.0) & (hull_pts[:, 1] > -0.5)
    _, _, n, _, _ = ref.signed_distance(hull_pts[keep])
    inside = HULL_TO_NAV.apply(hull_pts[keep] - 0.02 * n)
    prior = perturbed(HULL_TO_NAV, hull_pts[keep].mean(axis=0), 0.3, 0.1, 0.5)
    on = align(inside, ref, CompareConfig(alignment={"surface_offset": True}), prior=prior.inverse(),
               sigma=DEFAULT_SIGMA)
    off = align(inside, ref, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)
    assert on.surface_offset_m == 0.0
    np.testing.assert_allclose(on.transform.as_matrix(), off.transform.as_matrix(), atol=1e-3)


def test_surface_relief_spans_a_growth_layer_and_stays_small_on_clean_plating(midbody) -> None:
    # Barnacle-like growth of 0-9 cm (bare plating between) over the plating: the relief is its
    # thickness; clean plating's is its noise.
    from hullscan.compare.align import surface_spread

    r, _, hull_pts = midbody
    rng = np.random.default_rng(1)
    d, _, n, _, _ = r.signed_distance(hull_pts)
    clean = hull_pts + (rng.normal(0.0, 0.004, len(hull_pts)) - d)[:, None] * n  # the scan's 1 cm noise out
    grown = clean + rng.uniform(0.0, 0.09, len(hull_pts))[:, None] * n
    cfg = CompareConfig()
    assert surface_spread(clean, r, np.eye(4), cfg)[1] == pytest.approx(2 * 2.33 * 0.004, abs=0.008)
    assert surface_spread(grown, r, np.eye(4), cfg)[1] == pytest.approx(0.09, abs=0.01)
    assert surface_spread(clean[:20], r, np.eye(4), cfg)[1] is None  # too few points: no estimate


def test_the_layer_trade_lays_the_cloud_that_far_proud_and_says_how_the_placement_moves(midbody) -> None:
    # A survey of one side and the bilge: a growth layer over the steel fits as a shift out of it.
    from hullscan.compare.align import fine_refiner, layer_trade

    r, _, hull_pts = midbody
    d, _, n, _, _ = r.signed_distance(hull_pts)
    on_steel = hull_pts - d[:, None] * n
    trade = layer_trade(fine_refiner(on_steel, r, CompareConfig()), np.eye(4), 0.08)
    moved = on_steel @ trade.motion[:3, :3].T + trade.motion[:3, 3]
    assert np.median(r.signed_distance(moved)[0]) == pytest.approx(0.08, abs=0.01)
    # Out to port and down off the bilge, by about the layer; along a parallel midbody, nothing.
    assert 0.03 < trade.across_m < 0.12 and -0.12 < trade.vertical_m < -0.01
    assert abs(trade.along_m) < 0.05 and abs(trade.heading_deg) < 0.1
    assert "8 cm" in trade.note() and trade.as_dict()["thickness_m"] == 0.08


def test_a_few_iterations_per_step_up_the_layer_end_where_full_ones_do(midbody, monkeypatch) -> None:
    # The steps before the last only carry the fit up the layer (stop 45: 4 iterations, not 20, saved
    # 0.7 s of bench_compare); the last converges to the same placement.
    import hullscan.compare.align as align

    r, _, hull_pts = midbody
    d, _, n, _, _ = r.signed_distance(hull_pts)
    on_steel = hull_pts - d[:, None] * n
    fit = align.fine_refiner(on_steel, r, CompareConfig())
    few = align.layer_trade(fit, np.eye(4), 0.12)
    monkeypatch.setattr(align, "LAYER_STEP_ITERS", fit.max_iter // 2)
    full = align.layer_trade(fit, np.eye(4), 0.12)
    probe = np.array([[0.0, 0.0, 0.0, 1.0], [10.0, 3.0, -2.0, 1.0]]).T
    assert np.abs(few.motion @ probe - full.motion @ probe).max() < 0.005
    assert abs(few.across_m - full.across_m) < 0.005 and abs(few.vertical_m - full.vertical_m) < 0.005


def test_over_a_taper_the_layer_trades_along_the_ship_too() -> None:
    # The shoulder of a fine-ended hull: a layer over the steel fits as a shift along the ship as
    # well (about the layer over the taper's slope), which the note states.
    from hullscan.compare.align import fine_refiner, layer_trade

    shoulder = make_hull(length=40.0, beam=8.0, draft=3.0, n_x=161, n_s=41, fullness=2.0, sea_chest=False)
    r = mesh_reference(shoulder, icp_spacing=0.1)
    s = make_scan(shoulder, (), spacing=0.08, hull_to_nav=HULL_TO_NAV, seed=5)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    hull_pts = hull_pts[(hull_pts[:, 0] > 28.0) & (hull_pts[:, 0] < 36.0) & (hull_pts[:, 1] > 0.5)]
    d, _, n, _, _ = r.signed_distance(hull_pts)
    on_steel = hull_pts - d[:, None] * n
    trade = layer_trade(fine_refiner(on_steel, r, CompareConfig()), np.eye(4), 0.06)
    # The half-breadth falls by about 0.2 m per metre there: 6 cm of layer is 0.1-0.6 m along.
    assert 0.1 < abs(trade.along_m) < 0.6, trade.as_dict()
    along = on_steel @ trade.along_motion[:3, :3].T + trade.along_motion[:3, 3]
    assert np.median(r.signed_distance(along)[0]) > 0.02  # the cloud stands proud of the steel there


def test_a_shift_along_a_gentle_taper_is_solved_by_the_fine_fit() -> None:
    """The aft shoulder of an 80 m hull (half-breadth falling about 1:10) and the bottom under it,
    the cloud on the steel but 8 cm along the ship from it. Its rotations weigh as the motion they
    give at the survey's lever arm, so the shift along the ship is not taken for a direction the
    surface leaves loose (in radians it fell under the threshold, and the fit stayed 7 cm off)."""
    from hullscan.compare.align import fine_refiner, robust_icp

    aft = make_hull(length=80.0, beam=14.0, draft=5.0, n_x=161, n_s=41, fullness=3.0, sea_chest=False)
    r = mesh_reference(aft, icp_spacing=0.1)
    p = np.asarray(make_scan(aft, (), spacing=0.1, hull_to_nav=Transform.from_euler(0, 0, 0, (0, 0, 0)),
                             seed=3).cloud.points, float)
    p = p[(p[:, 0] > 5.0) & (p[:, 0] < 20.0) & (p[:, 1] < 0.5)]  # starboard side and bottom
    d, _, n, _, _ = r.signed_distance(p)
    cfg = CompareConfig()
    fit = fine_refiner(p - d[:, None] * n, r, cfg)
    start = np.eye(4)
    start[0, 3] = 0.08
    t, _, loose = robust_icp(fit.src, r, start, cfg.alignment.icp_schedule_m[-1:], fit.tukey_m, 50,
                             order=fit.order, offset=cfg.alignment.surface_offset)
    assert "x" not in loose
    assert np.abs(t[:3, 3]).max() < 0.005, t[:3, 3]


def test_costs_asked_at_once_equal_each_asked_alone(ref) -> None:
    """The scans along the ship ask the mesh once for a grid of placements (each query carries a
    fixed overhead); each cost is the one the placement gives alone, to the bit."""
    from hullscan.compare.align import _about, _cost, _costs, _sample_proxy

    rng = np.random.default_rng(4)
    pts = ref.icp_points[rng.choice(len(ref.icp_points), 3000, replace=False)] + rng.normal(0.0, 0.02, (3000, 3))
    pivot = pts.mean(axis=0)
    ts = [_about(pivot, yaw, np.array([shift, 0.0, 0.0])) for shift in (-0.6, 0.0, 0.35) for yaw in (-0.4, 0.0, 0.2)]
    for surface in (ref, _sample_proxy(ref, 0.3)):
        alone = [_cost(pts, surface, t, 0.12, 0.01) for t in ts]
        assert _costs(pts, surface, ts, 0.12, 0.01).tolist() == alone
    assert len(set(alone)) > 1 and _costs(pts, ref, [], 0.12).shape == (0,)



def test_the_layer_trade_on_a_third_of_the_points_moves_the_survey_as_on_all(midbody, monkeypatch) -> None:
    # Stop 49: the trade's ICP fits take every 3rd of the fine fit's points (LAYER_POINTS), a
    # centimetre-scale statement; its placement agrees with the one on all of them within 2 mm.
    import hullscan.compare.align as align

    r, _, hull_pts = midbody
    d, _, n, _, _ = r.signed_distance(hull_pts)
    fit = align.fine_refiner(hull_pts - d[:, None] * n, r, CompareConfig())
    monkeypatch.setattr(align, "LAYER_POINTS", len(fit.src) // 3)
    third = align.layer_trade(fit, np.eye(4), 0.08)
    monkeypatch.setattr(align, "LAYER_POINTS", len(fit.src))
    full = align.layer_trade(fit, np.eye(4), 0.08)
    probe = np.array([[0.0, 0.0, 0.0, 1.0], [10.0, 3.0, -2.0, 1.0]]).T
    assert np.abs((third.motion - full.motion) @ probe).max() < 0.002
    assert abs(third.across_m - full.across_m) < 0.002 and abs(third.vertical_m - full.vertical_m) < 0.002
    assert third.along_m == full.along_m  # the scan along the ship keeps the fine fit's sample


def test_the_coarse_registration_on_threads_finds_what_one_thread_finds(midbody, monkeypatch) -> None:
    """The seeds' fits run on threads (stop 49; long_side_160m's drift stage 10.5 -> 5.7 s); taken in
    the seeds' order, the hypotheses (several along a parallel midbody) and the best are those of
    one thread, to the bit."""
    from hullscan.compare.align import coarse_register
    from hullscan.core import chunks

    ref, pts, hull_pts = midbody
    prior = perturbed(HULL_TO_NAV, hull_pts.mean(axis=0), 3.0, 0.5, 2.0).inverse()
    monkeypatch.setattr(chunks.os, "cpu_count", lambda: 2)
    threaded = coarse_register(pts, ref, prior, DEFAULT_SIGMA, CompareConfig())
    monkeypatch.setattr(chunks.os, "cpu_count", lambda: 1)
    alone = coarse_register(pts, ref, prior, DEFAULT_SIGMA, CompareConfig())
    assert len(threaded.hypotheses) == len(alone.hypotheses) > 1
    for a, b in zip(threaded.hypotheses, alone.hypotheses, strict=True):
        assert a.seed == b.seed and a.cost == b.cost
        assert np.array_equal(a.transform.as_matrix(), b.transform.as_matrix())
    assert threaded.best.seed == alone.best.seed and threaded.along_range_m == alone.along_range_m


def _hypothesis(cost: float, along: float, across: float = 0.0, heading: float = 0.0):
    from hullscan.compare.align import Hypothesis

    return Hypothesis(Transform(), f"along {along:+.1f} m", 1.0, 0.01, cost, along, across, 0.0, heading)


def test_hypotheses_the_surface_cannot_tell_apart_go_to_the_one_nearest_the_prior() -> None:
    from hullscan.compare.align import prior_nearest

    # A tanker's flat bottom (stop 50, sim/scenarios/holdout): seeds 5 m apart along the ship fit
    # within 0.3 % of each other; the lowest cost is noise and walked the survey 10 m off the prior.
    tied = [_hypothesis(0.000668, 5.0), _hypothesis(0.0006698, 0.0), _hypothesis(0.0006697, -5.0)]
    assert prior_nearest(tied, DEFAULT_SIGMA, 0.03, 1.0, 0.5).offset_along_m == 0.0
    # One that fits clearly better (by more than the tie) wins wherever it lies.
    clear = [_hypothesis(0.0005, 5.0), _hypothesis(0.0006698, 0.0)]
    assert prior_nearest(clear, DEFAULT_SIGMA, 0.03, 1.0, 0.5).offset_along_m == 5.0
    # Only a slide along the ship is left to the prior: a hypothesis turned 1.3 deg from the lowest
    # (long_side_160m, 2 % worse) is told apart by the surface, and so is one 1 m across.
    turned = [_hypothesis(0.009059, -4.965, heading=-2.441), _hypothesis(0.009245, 0.009, heading=-1.165)]
    assert prior_nearest(turned, DEFAULT_SIGMA, 0.03, 1.0, 0.5).offset_along_m == -4.965
    across = [_hypothesis(0.001, 3.0), _hypothesis(0.00101, 0.0, across=1.0)]
    assert prior_nearest(across, DEFAULT_SIGMA, 0.03, 1.0, 0.5).offset_along_m == 3.0


def test_along_a_parallel_midbody_the_registration_stays_near_the_prior(midbody) -> None:
    from hullscan.compare.align import coarse_register

    r, pts, hull_pts = midbody
    for along in (-4.0, 4.0):
        prior = perturbed(HULL_TO_NAV, hull_pts.mean(axis=0), along, 0.0, 0.0).inverse()
        reg = coarse_register(pts, r, prior, DEFAULT_SIGMA, CompareConfig())
        assert reg.along_ambiguous
        # Nothing along a midbody says where along it the survey is: the registration leaves it
        # where the prior put it (within a seed step's settling), and the range holds the truth.
        assert abs(reg.best.offset_along_m) <= 1.0


def test_a_position_fixed_by_relief_before_is_the_range_reported(midbody) -> None:
    # The drift stage's registration placed the survey along the ship by the relief it saw (an anode
    # row, compare/relief.py): the comparison's fit only refines it, and the plating's own tie range,
    # flat along a midbody, is not reported as an ambiguity over it.
    from hullscan.compare.prior import REGISTERED_SIGMA

    r, pts, hull_pts = midbody
    registered = HULL_TO_NAV.inverse()
    plain = align(pts, r, CompareConfig(), prior=registered, sigma=REGISTERED_SIGMA)
    assert plain.registration is not None and plain.registration.along_ambiguous
    fixed = replace(REGISTERED_SIGMA, along_m=0.1, along_fixed_m=0.1)
    a = align(pts, r, CompareConfig(), prior=registered, sigma=fixed)
    assert a.registration is not None and a.registration.along_range_m == (-0.1, 0.1)
    assert not a.registration.along_ambiguous and a.ambiguity_note is None
    # Nothing here fixes it along the ship: the refinement stays within 1.5 sigma of where it was.
    err_m, _ = _error(a.transform, HULL_TO_NAV, hull_pts.mean(axis=0))
    assert err_m <= 1.5 * 0.1 + 0.05


def test_drift_corrections_move_millions_of_points_as_the_blend_at_each_would() -> None:
    # Two grids of block shifts (each block's up to 4 cm either way, neighbours up to 8 cm apart),
    # applied in one pass over cells of block / 64: within a few millimetres of each point's own
    # blend, the second grid's taken where the first moved the point.
    from hullscan.compare.align import LocalCorrection, apply_corrections

    rng = np.random.default_rng(5)
    pts = rng.uniform([0.0, -6.0, -5.0], [40.0, 6.0, 0.0], (20_000, 3))
    grids = []
    for off in (0.0, 2.0):
        centres = np.array([[x, y, z] for x in np.arange(2.0 + off, 40.0, 4.0) for y in (-4.0, 0.0, 4.0)
                            for z in (-3.0, -1.0)])
        grids.append(LocalCorrection(centres, rng.uniform(-0.04, 0.04, (len(centres), 3))))
    exact = pts + grids[0].shift_at(pts, 4.0)
    exact = exact + grids[1].shift_at(exact, 4.0)
    once = apply_corrections(pts, grids, 4.0)
    assert np.abs(once - exact).max() < 3e-3 and np.abs(once - exact).mean() < 1e-3
    assert np.abs(once - pts).max() > 0.02  # the corrections did move them
    assert apply_corrections(pts, (), 4.0) is pts
