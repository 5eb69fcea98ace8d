from __future__ import annotations

import re

import numpy as np
import pytest

from hullscan.compare.config import CompareConfig
from hullscan.errors import PlanError
from hullscan.plan.lanes import Vehicle
from hullscan.plan.planner import PlanRequest, make_plan
from hullscan.plan.sonar import MULTIBEAM
from tests.hullscan.plan.hulls import barge


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0)),
                     CompareConfig())


def test_landmarks_come_first_by_risk(plan) -> None:  # type: ignore[no-untyped-def]
    kinds = [ln.kind for ln in plan.lanes]
    n = kinds.count("landmark")
    assert n >= 3 and kinds[:n] == ["landmark"] * n and "landmark" not in kinds[n:]
    # the sea chest (risk 1.0) before the propeller (0.9), on both sides
    assert plan.lanes[0].target == "port sea chest" and plan.lanes[0].side == "port"
    assert {ln.side for ln in plan.lanes[1:3]} == {"port", "starboard"} and plan.lanes[1].target == "propeller"
    assert [ln.risk for ln in plan.lanes[:n]] == sorted((ln.risk for ln in plan.lanes[:n]), reverse=True)


def test_lanes_keep_min_depth_nogo_and_hull_on_the_left(plan) -> None:  # type: ignore[no-untyped-def]
    c, r = np.asarray(plan.nogo.centre), plan.nogo.radius_m
    for ln in plan.lanes:
        assert (ln.waypoints[:, 2] <= -1.0 + 1e-9).all()
        assert (np.linalg.norm(ln.waypoints - c, axis=1) >= r - 1e-6).all(), ln.name
        if ln.side in ("port", "starboard"):
            fwd = np.sign(ln.waypoints[-1, 0] - ln.waypoints[0, 0])
            assert fwd == (1.0 if ln.side == "starboard" else -1.0)
    assert plan.planned_s <= 20 * 60
    assert plan.route[:, 3].max() == pytest.approx(plan.planned_s)


def test_prediction_reports_regions_landmarks_and_what_is_left(plan) -> None:  # type: ignore[no-untyped-def]
    h = 0.1
    assert 0.3 < plan.cleared[h].mean() <= plan.cleared[0.2].mean() <= plan.seen.mean()
    regions = plan.by_region()
    assert {"side", "bottom", "sea_chest", "propeller"} <= set(regions)
    assert any(lm.region == "sea_chest" for lm in plan.landmarks)
    weights = [d["risk_weight"] for d in plan.left if d["kind"] == "region"]
    assert weights == sorted(weights, reverse=True)
    # Each place is listed once: a region's area under a listed landmark is not listed again.
    names = [d["what"] for d in plan.left]
    assert len(names) == len(set(names))
    for r in {d["region"] for d in plan.left if d["kind"] == "landmark"}:
        m = plan.regions == r
        total = float((m & ~plan.cleared[h]).sum() * plan.reference.sample_area)
        assert sum(d["area_m2"] for d in plan.left if d["region"] == r) <= total + 0.05


def test_time_too_short_for_the_landmarks_lists_what_fits() -> None:
    with pytest.raises(PlanError, match=r"too short for the landmarks.*what fits: port sea chest"):
        make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 40.0, Vehicle()), CompareConfig())


def test_sonar_that_cannot_see_from_the_standoff() -> None:
    with pytest.raises(PlanError, match="cannot see the hull from a 25 m standoff"):
        make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 600.0, Vehicle(standoff_m=25.0)), CompareConfig())


def test_hull_without_a_wetted_part() -> None:
    dry = barge(draft=0.05)
    with pytest.raises(PlanError, match="no wetted part"):
        make_plan(dry, MULTIBEAM, PlanRequest(0.1, 600.0, Vehicle()), CompareConfig())


def test_what_is_left_lists_each_place_once() -> None:
    """12 m² of rudder not cleared, 8 of them under a rudder landmark 20 % cleared (of 10 m²): the
    landmark row, then the region row for the other 4 m² only (it used to repeat all 12)."""
    from hullscan.plan.planner import _left
    from hullscan.report.landmarks import Landmark

    regions = np.array(["rudder"] * 12 + ["side"] * 4)
    cleared = np.zeros(16, bool)
    cleared[12:] = True
    seen = np.ones(16, bool)
    rudder = Landmark("rudder", "rudder", "centreline", (0.0, 0.0, -3.0), (2.0, 0.0, -1.0), 10.0, 0.2, 1.0)
    left = _left(regions, seen, cleared, 1.0, {"rudder": 1.0, "side": 0.5}, (rudder,), 0.1)
    assert [(d["what"], d["area_m2"]) for d in left] == [("rudder", 8.0), ("rudder (elsewhere)", 4.0)]


def test_a_residual_that_alone_clears_nothing_says_so_and_what_height_it_allows() -> None:
    """A fouled hull's residual (3 cm, given): stop 37's model, whose systematic term it is, clears no
    0.1 m compartment anywhere; the error names the residual and the least height that can be cleared,
    and that height plans."""
    stop37 = CompareConfig(uncertainty={"random": "point", "systematic": "alignment", "self_calibrate": False},
                           detection={"min_zscore": 3.0})
    request = PlanRequest(0.1, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0), alignment_m=0.03)
    with pytest.raises(PlanError, match=r"alignment residual \(30 mm, as given\) alone .* clear 0\.\d\d m or more") as err:
        make_plan(barge(), MULTIBEAM, request, stop37)
    least = float(re.search(r"clear (0\.\d\d) m or more", str(err.value)).group(1))  # type: ignore[union-attr]
    assert 0.12 <= least <= 0.2
    plan = make_plan(barge(), MULTIBEAM, PlanRequest(least, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0),
                                                     alignment_m=0.03), stop37)
    assert plan.cleared[least].any() and plan.alignment_residual_m == pytest.approx(0.03)


def _earlier(plan, status_at, height=0.1):  # type: ignore[no-untyped-def]
    from hullscan.compare.earlier import EarlierCoverage

    s = plan.reference.samples
    return EarlierCoverage("runs/first-dive/coverage.ply", s.copy(), status_at(s).astype(np.uint8), height,
                           plan.reference.sample_area)


def test_a_redive_flies_only_what_a_pass_can_still_clear(plan) -> None:  # type: ignore[no-untyped-def]
    """An earlier inspection cleared all but the starboard side: the re-dive flies no landmark lane
    (sea chest and propeller cleared) and no port lane, goes over the starboard side, and predicts the
    earlier cleared surface as cleared."""
    earlier = _earlier(plan, lambda s: np.where(s[:, 1] < -2.9, 1, 3))
    again = make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0)),
                      CompareConfig(), earlier=earlier)
    assert again.lanes and not any(ln.kind == "landmark" or ln.side == "port" for ln in again.lanes)
    assert any(ln.side == "starboard" for ln in again.lanes)
    assert again.planned_s < 0.5 * plan.planned_s
    port = again.reference.samples[:, 1] > 2.9
    assert again.cleared[0.1][port].all() and again.cleared[0.1].mean() > plan.cleared[0.1].mean()
    assert any("not flown again: port sea chest, propeller" in n for n in again.notes)
    assert again.earlier is not None and again.earlier.matched_fraction == pytest.approx(1.0)


def test_a_redive_leaves_uneven_surface_to_the_divers(plan) -> None:  # type: ignore[no-untyped-def]
    """What another pass alone may not clear is not flown for, nor predicted cleared; with nothing else
    left the re-dive says so, with the areas."""
    stuck = _earlier(plan, lambda s: np.where(s[:, 1] < -2.9, 2, 3))
    request = PlanRequest(0.1, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0))
    with pytest.raises(PlanError, match=r"no lane from this standoff clears more for 0\.1 m .* m2 seen over uneven"):
        make_plan(barge(), MULTIBEAM, request, CompareConfig(), earlier=stuck)
    # half of it uneven, half few returns: the lanes go for the half a pass can clear, and the uneven
    # half stays not cleared in the prediction
    half = _earlier(plan, lambda s: np.where(s[:, 1] < -2.9, np.where(s[:, 0] < 12, 2, 1), 3))
    again = make_plan(barge(), MULTIBEAM, request, CompareConfig(), earlier=half)
    s = again.reference.samples
    assert not again.cleared[0.1][(s[:, 1] < -2.9) & (s[:, 0] < 12)].any()
    assert again.cleared[0.1][(s[:, 1] < -2.9) & (s[:, 0] > 14)].mean() > 0.5


def test_a_redive_for_a_smaller_height_plans_the_cleared_surface_again(plan) -> None:  # type: ignore[no-untyped-def]
    """Cleared for 0.2 m is not cleared for 0.1 m: a re-dive for 0.1 m flies it again, and says why."""
    earlier = _earlier(plan, lambda s: np.full(len(s), 3), height=0.2)
    again = make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 20 * 60, Vehicle(standoff_m=3.0, min_depth_m=1.0)),
                      CompareConfig(), earlier=earlier)
    assert any(ln.kind == "landmark" for ln in again.lanes)
    assert any("not 0.1 m: its cleared surface is planned again" in n for n in again.notes)
    assert again.cleared[0.2].all() and again.cleared[0.1].mean() == pytest.approx(plan.cleared[0.1].mean(), abs=0.02)
