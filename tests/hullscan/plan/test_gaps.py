"""Live gaps: what is not cleared yet, ranked by risk, and the next lane over the worst of it; and
plan.json read back for the vehicle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hullscan.compare.analysis import Coverage
from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import mesh_reference
from hullscan.errors import PlanError
from hullscan.model import Transform
from hullscan.plan.gaps import LiveGaps, find_gaps
from hullscan.plan.lanes import Vehicle
from hullscan.plan.outputs import plan_document, read_plan
from hullscan.plan.planner import PlanRequest, make_plan
from hullscan.plan.sonar import MULTIBEAM
from tests.hullscan.plan.hulls import barge

WEIGHTS = {"sea_chest": 1.0, "side": 0.5, "bottom": 0.5, "unknown": 0.6}


def _grid(x: np.ndarray, side_y: float) -> tuple[np.ndarray, np.ndarray]:
    pts = np.stack([x, np.full_like(x, side_y), np.full_like(x, -1.5)], 1)
    nrm = np.tile([0.0, np.sign(side_y), 0.0], (len(x), 1))
    return pts, nrm


def test_gaps_group_by_region_side_and_stretch_and_rank_by_risk() -> None:
    # Port side: samples every 0.2 m from 0 to 30 m; 10-14 m is a sea chest; 20-30 m plain side.
    x = np.arange(0.0, 30.0, 0.2)
    pts, nrm = _grid(x, 3.0)
    regions = np.where((x >= 10) & (x < 14), "sea_chest", "side")
    cleared = np.ones(len(x), bool)
    cleared[(x >= 10) & (x < 14)] = False           # the sea chest: 4 m, seen but too uncertain
    cleared[x >= 20] = False                          # 10 m of side never seen
    seen = cleared | ((x >= 10) & (x < 14))
    gaps = find_gaps(pts, nrm, regions, seen, cleared, 1.0, WEIGHTS, min_area_m2=1.0)
    # Hand count: the sea chest is 20 samples (risk 1.0 -> 20), the side 50 samples (0.5 -> 25).
    assert [(g.region, g.side) for g in gaps] == [("side", "port"), ("sea_chest", "port")]
    side, chest = gaps
    assert side.not_seen_m2 == pytest.approx(50.0) and side.uncertain_m2 == 0.0
    assert chest.uncertain_m2 == pytest.approx(20.0) and chest.not_seen_m2 == 0.0
    assert chest.x_range == pytest.approx((10.0, 13.8))
    # Stretches of one region far apart stay apart; a gap under the minimum area is left out.
    cleared2 = np.ones(len(x), bool)
    cleared2[(x < 2)] = False
    cleared2[(x > 25)] = False
    cleared2[(x > 15) & (x < 15.3)] = False  # 1 sample of side: under min area 1.5
    g2 = find_gaps(pts, nrm, np.full(len(x), "side"), cleared2, cleared2, 0.1, WEIGHTS, min_area_m2=0.15)
    assert sorted(round(g.x_range[0]) for g in g2) == [0, 25]
    assert find_gaps(pts, nrm, regions, seen, np.ones(len(x), bool), 1.0, WEIGHTS) == []


@pytest.fixture(scope="module")
def barge_reference():  # type: ignore[no-untyped-def]
    cfg = CompareConfig().coverage
    return mesh_reference(barge(), coverage_cell=cfg.coverage_cell_m, coverage_max_z=cfg.coverage_max_z_m)


def test_next_lane_flies_over_the_worst_gap_at_the_standoff(barge_reference) -> None:  # type: ignore[no-untyped-def]
    ref = barge_reference
    regions = np.asarray(ref.regions_at(ref.samples))
    # Everything cleared but the port sea chest (x 8..10 m, z -2.2..-1 m, y = +3 m).
    cleared = regions != "sea_chest"
    assert (~cleared).sum() > 10
    cov = Coverage(ref.samples, cleared, ref.sample_area, (), cleared.copy())
    vehicle = Vehicle(standoff_m=3.0, min_depth_m=1.0)
    gaps = LiveGaps(ref, CompareConfig().scoring.region_weights, vehicle)(cov)
    assert gaps.gaps[0].region == "sea_chest" and gaps.gaps[0].side == "port"
    assert gaps.cleared_fraction == pytest.approx(cleared.mean())
    lane = gaps.next_lane
    assert lane is not None and lane.side == "port"
    wp = lane.waypoints
    # Along the chest with run-in, 3 m off the port plating (y = 3 + 3), at the chest's mid-depth.
    assert wp[:, 0].min() <= 8.0 - 2.0 and wp[:, 0].max() >= 10.0 + 2.0
    assert np.allclose(wp[:, 1], 6.0, atol=0.3)
    assert np.allclose(wp[:, 2], -1.6, atol=0.3)
    # Port lanes run towards the stern (the hull on the vehicle's left).
    assert wp[0, 0] > wp[-1, 0]
    # All cleared: no gap and no lane.
    done = LiveGaps(ref, WEIGHTS, vehicle)(Coverage(ref.samples, np.ones(len(ref.samples), bool),
                                                    ref.sample_area, ()))
    assert done.gaps == () and done.next_lane is None


def test_bottom_gap_gets_a_lane_under_the_keel(barge_reference) -> None:  # type: ignore[no-untyped-def]
    ref = barge_reference
    regions = np.asarray(ref.regions_at(ref.samples))
    cleared = regions != "bottom"
    gaps = LiveGaps(ref, {"bottom": 1.0, "unknown": 0.1}, Vehicle(standoff_m=2.0))(
        Coverage(ref.samples, cleared, ref.sample_area, ()))
    top = gaps.gaps[0]
    assert top.region == "bottom" and top.side == "bottom"
    assert gaps.next_lane is not None
    assert np.allclose(gaps.next_lane.waypoints[:, 2], -(3.0 + 2.0))


def test_the_next_lane_skips_a_gap_whose_surface_a_pass_would_not_clear(barge_reference) -> None:  # type: ignore[no-untyped-def]
    """The port sea chest seen but too uncertain for the surface around it (Coverage.random_share 0.2:
    its plating's own unevenness, which another pass does not change) outranks the bottom gap by risk,
    but the lane goes under the bottom, whose returns were too few (0.9); the chest's label says why."""
    ref = barge_reference
    regions = np.asarray(ref.regions_at(ref.samples))
    chest, bottom = regions == "sea_chest", regions == "bottom"
    cleared = ~chest & ~bottom
    share = np.where(chest, 0.2, 0.9)
    weights = {"sea_chest": 50.0, "bottom": 0.01, "unknown": 0.1}
    cov = Coverage(ref.samples, cleared, ref.sample_area, (), np.ones(len(cleared), bool), random_share=share)
    gaps = LiveGaps(ref, weights, Vehicle(standoff_m=2.0))(cov)
    top = gaps.gaps[0]
    assert top.region == "sea_chest" and top.uneven_m2 == pytest.approx(top.area_m2) and top.lane_score == 0.0
    assert "uneven surface: a lane alone may not clear it" in top.label()
    assert gaps.next_lane is not None and gaps.next_lane.side == "bottom"
    # Without the split (a cloud whose cells keep none) the lane goes over the chest, as before.
    plain = LiveGaps(ref, weights, Vehicle(standoff_m=2.0))(Coverage(ref.samples, cleared, ref.sample_area, (),
                                                                    np.ones(len(cleared), bool)))
    assert plain.next_lane is not None and plain.next_lane.side == "port"
    # Only uneven surface left: no lane would clear it, so none is suggested; the gap is still listed.
    only = LiveGaps(ref, weights, Vehicle(standoff_m=2.0))(Coverage(ref.samples, ~chest, ref.sample_area, (),
                                                                   np.ones(len(cleared), bool), random_share=share))
    assert only.gaps and only.next_lane is None


def test_plan_json_read_back_for_the_vehicle(tmp_path: Path) -> None:
    plan = make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 20 * 60, Vehicle()), CompareConfig())
    doc = plan_document(plan, reference_path="barge.stl", draft_m=3.0)
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    route = read_plan(tmp_path / "plan.json")
    assert route.draft_m == 3.0 and route.lane_names == tuple(ln.name for ln in plan.lanes)
    assert np.allclose(route.route, plan.route[:, :3], atol=1e-3)
    shift = Transform.from_euler(0, 0, 90, (100.0, 0.0, 0.0))
    rows = route.waypoint_list(shift)
    assert len(rows) == sum(len(ln.waypoints) for ln in plan.lanes)
    first = plan.lanes[0].waypoints[0]
    want = shift.apply(first[None])[0]
    assert [rows[0]["x"], rows[0]["y"], rows[0]["z"]] == pytest.approx(want.tolist(), abs=1e-3)
    assert rows[0]["lane"] == 1 and rows[0]["name"] == plan.lanes[0].name


@pytest.mark.parametrize(("text", "says"), [
    ("not json", "cannot read a plan"),
    ('{"schema": "other"}', "expected 'hullscan.plan/1'"),
    ('{"schema": "hullscan.plan/1", "lanes": [{"name": "a"}]}', "waypoints_hull"),
])
def test_bad_plan_files_are_named(tmp_path: Path, text: str, says: str) -> None:
    p = tmp_path / "plan.json"
    p.write_text(text)
    with pytest.raises(PlanError, match=says) as err:
        read_plan(p)
    assert str(p) in str(err.value)
