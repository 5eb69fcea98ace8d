"""The simulator on a real hull mesh it has never seen (DTMB 5415, full scale, from ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hullscan_sim import simulate
from hullscan_sim.scenario import scenario_from_dict

from hullscan.bag import BagReader
from hullscan.bag.reader import Role
from hullscan.hull import load_mesh
from tests.sim._helpers import returns_hull


def test_survey_of_dtmb5415_with_a_box(shared_hulls: Path, tmp_path: Path) -> None:
    scenario = {
        "name": "dtmb5415_box",
        "seed": 5,
        "hull": {"mesh": {"path": str(shared_hulls / "dtmb5415.stl.gz"), "units": "auto", "draft_m": 6.0}},
        "parasites": [{"id": "box", "shape": "box", "size_m": [0.8, 0.5, 0.4], "region": "side",
                       "side": "port", "x_m": 70}],
        "survey": {"sides": ["port"], "side_lane_depths": [0.5], "bottom_lanes": 1, "x_range_m": [64, 76],
                   "standoff_m": 3},
        "sensors": {"multibeam": {"rate_hz": 10}, "camera": {"rate_hz": 0.5, "width": 64, "height": 48}},
    }
    res = simulate(scenario_from_dict(scenario), tmp_path / "bag")
    with BagReader(res.bag) as bag:
        assert bag.plan.topic(Role.ODOM) == "/nav/odom" and bag.plan.sonar_roles and bag.plan.has_camera

    truth = json.loads((res.truth_dir / "truth.json").read_text())
    ref = load_mesh(res.truth_dir / "reference.ply")
    # Read at full scale (153 m overall) with its 6 m draft: ~125 m on that waterline, ~17 m wide there.
    assert 115 < ref.length < 140 and 15 < ref.beam < 20 and ref.draft == 6.0
    box = truth["parasites"][0]
    assert box["region"] == "side" and abs(box["centroid_hull"][0] - 70) < 2.5 and box["centroid_hull"][1] > 0

    # Returns lie on the real hull's surface, and the box stands out of it.
    pts = returns_hull(res.bag)
    _, _, dist = ref.closest(pts)
    near = np.linalg.norm(pts - np.asarray(box["centroid_hull"]), axis=1) < 1.0
    assert np.median(dist[~near]) < 0.05
    assert ((dist > 0.15) & near).sum() > 50, "the box must stand out of the DTMB 5415 hull in the returns"
    # The design the team holds is the mesh file itself (the quay notes name it): no copy beside the bag,
    # and the scorer's hull-frame copy (with the simulator's anodes) stays in the truth folder.
    from hullscan_sim.simulate import design_mesh_for

    assert not design_mesh_for(res.bag).exists()


def test_the_anode_plan_of_a_mesh_hull_puts_each_anode_where_it_is(shared_hulls: Path, tmp_path: Path) -> None:
    """The design STL has no anodes; the simulator fits six and writes the plan a yard would hand over
    (BAG.fittings.yaml, to a plan's accuracy). Read by hullscan and placed on the design surface by
    its ship terms, each entry lands on its anode."""
    from types import SimpleNamespace

    import trimesh
    from hullscan_sim.simulate import fittings_plan_for

    from hullscan.compare.fittings import _on_surface, load_fittings

    scenario = {
        "name": "dtmb5415_anodes", "seed": 6,
        "hull": {"mesh": {"path": str(shared_hulls / "dtmb5415.stl.gz"), "units": "auto", "draft_m": 6.0}},
        "survey": {"sides": ["port"], "side_lane_depths": [0.5], "bottom_lanes": 0, "x_range_m": [64, 66],
                   "standoff_m": 3},
        "sensors": {"multibeam": {"rate_hz": 2}, "camera": {"rate_hz": 0.2, "width": 32, "height": 24}},
    }
    res = simulate(scenario_from_dict(scenario), tmp_path / "bag", duration_s=2)
    truth = json.loads((res.truth_dir / "truth.json").read_text())
    anodes = {d["id"]: np.asarray(d["centroid_hull"]) for d in truth["decoys"] if d["kind"] == "anode"}
    plan = load_fittings(fittings_plan_for(res.bag))
    assert len(anodes) == 6 and {f.id for f in plan.fittings} == set(anodes)
    ref = load_mesh(res.truth_dir / "reference.ply")
    bare = ~ref.region_mask("anode")
    skin = trimesh.Trimesh(ref.vertices, ref.faces[bare], process=False)
    samples = np.asarray(trimesh.sample.sample_surface_even(skin, 200_000, seed=1)[0])
    for f in plan.fittings:
        assert f.kind == "anode" and f.side == ("port" if anodes[f.id][1] >= 0 else "starboard")
        at, why = _on_surface(SimpleNamespace(samples=samples), float(f.x_from_stern_m), f)  # type: ignore[arg-type]
        assert at is not None, why
        assert np.linalg.norm(at - anodes[f.id]) < 0.4, (f.id, at, anodes[f.id])


def test_a_model_scale_file_s_length_reaches_the_replay(shared_hulls: Path, tmp_path: Path) -> None:
    """The Wigley file is a 1 m model; the scenario reads it as an 80 m ship. The quay notes carry that
    length (the ship's particulars), so the replay reads the design file at the ship's size: without
    it the file is read as a 100 m ship and the survey placed metres off (stop 51's first run)."""
    from hullscan_sim.simulate import operator_notes_for

    from hullscan.compare.evaluate import evaluation_reference
    from hullscan.inspection import ReferenceFile, load_survey_reference

    scenario = {
        "name": "wigley_80m", "seed": 7,
        "hull": {"mesh": {"path": str(shared_hulls / "wigley.stl.gz"), "units": "auto", "length_m": 80,
                          "draft_m": 5.0}},
        "survey": {"sides": ["port"], "side_lane_depths": [0.5], "bottom_lanes": 0, "x_range_m": [30, 32],
                   "standoff_m": 3},
        "sensors": {"multibeam": {"rate_hz": 2}, "camera": {"rate_hz": 0.2, "width": 32, "height": 24}},
    }
    res = simulate(scenario_from_dict(scenario), tmp_path / "bag", duration_s=1)
    notes = evaluation_reference(operator_notes_for(res.bag))
    assert notes.length_m == 80.0
    ref = load_survey_reference(ReferenceFile.from_notes(notes)).surface
    truth = load_mesh(res.truth_dir / "reference.ply")
    assert ref.length == pytest.approx(truth.length, rel=1e-3) and ref.scale_guess == ""
