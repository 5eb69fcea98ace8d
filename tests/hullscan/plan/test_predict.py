from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hullscan.compare.analysis import ANALYSIS_CELL_M
from hullscan.compare.config import CompareConfig, UncertaintyConfig
from hullscan.compare.reference import mesh_reference
from hullscan.compare.uncertainty import point_sigma
from hullscan.plan.calibration import CALIBRATION, CloudSigmaModel
from hullscan.plan.predict import Predictor, beam_directions, ping_poses
from hullscan.plan.sonar import MULTIBEAM
from tests.hullscan.plan.hulls import fin, plate

# The sonar uncertainty model (a trial in the comparator): its hand-computed cases, at a seed of 3 sigma.
SONAR = CompareConfig(uncertainty=UncertaintyConfig(model="sonar"), detection={"min_zscore": 3.0})
# The comparator's estimated model as it was the default up to stop 37: a single return's sigma and the
# alignment's residual, uncalibrated, seeds at 3 sigma.
STOP37 = CompareConfig(uncertainty={"random": "point", "systematic": "alignment", "self_calibrate": False},
                       detection={"min_zscore": 3.0})


def _lane_under(z_plate: float, standoff: float) -> np.ndarray:
    return np.array([[-2.0, 0.0, z_plate - standoff], [12.0, 0.0, z_plate - standoff]])


def test_beams_span_the_swath_from_left_to_up() -> None:
    d = beam_directions(MULTIBEAM, 127)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    # tilt 45 up-left, 126 degree fan across: from 18 degrees below the left horizon to 18 past the zenith
    elev = np.degrees(np.arctan2(d[:, 2], d[:, 1]))
    assert elev.min() == pytest.approx(-18.0, abs=0.1) and elev.max() == pytest.approx(108.0, abs=0.1)
    assert np.allclose(d[:, 0], 0.0)


def test_ping_poses_follow_the_lane() -> None:
    pos, yaw = ping_poses(np.array([[0.0, 0, -3], [10.0, 0, -3], [10.0, 10, -3]]), 0.5)
    assert len(pos) == 40
    assert yaw[0] == pytest.approx(0.0) and yaw[-1] == pytest.approx(np.pi / 2)


def test_flat_plate_head_on_matches_the_hand_computed_case() -> None:
    """Under a flat bottom at 3 m: the zenith beam meets it head-on, so a return's sigma is the range
    noise, 1 cm + 0.1 % x 3 m; the density is one return per beam spacing x ping spacing; the
    cell's uncertainty is the systematic allowance and the floor added to the model's term."""
    cfg = SONAR
    ref = mesh_reference(plate(-5.0), coverage_cell=cfg.coverage.coverage_cell_m, coverage_max_z=cfg.coverage.coverage_max_z_m)
    pred = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, systematic_m=0.015, max_beams=512, ping_spacing_m=0.1)
    acc = pred.cast(_lane_under(-5.0, 3.0))
    s = ref.samples
    # the plate's underside (its top is sampled too, and faces away from the sonar)
    above = (np.abs(s[:, 1] - 0.0) < 0.15) & (s[:, 0] > 3) & (s[:, 0] < 7) & (ref.sample_normals[:, 2] < 0)
    assert above.sum() > 5
    sigma = np.sqrt(acc.returns[above].sum() / acc.inv_var[above].sum())
    expect = float(point_sigma(np.array([0.0]), np.array([3.0]), UncertaintyConfig())[0])
    assert expect == pytest.approx(0.013, abs=1e-4)
    assert sigma == pytest.approx(expect, rel=0.05)
    # returns per m² head-on at 3 m: beams 126/511 degrees apart, pings 0.8/30 m apart
    density = acc.returns[above].mean() / ref.sample_area
    hand = 1.0 / (3.0 * np.radians(126.0 / 511) * 0.8 / 30.0)
    assert density == pytest.approx(hand, rel=0.2)
    seen, unc = pred.cell_uncertainty(acc)
    assert seen[above].all()
    per_cell = (ANALYSIS_CELL_M / 0.02) ** 2 * (1 - np.exp(-density * 0.02**2))
    model = 1.2533 * expect / np.sqrt(per_cell) / 3.0
    assert np.median(unc[above]) == pytest.approx(np.sqrt(model**2 + 0.015**2 + 0.003**2), rel=0.05)


def test_clearance_follows_the_comparators_rule() -> None:
    """min_zscore x uncertainty <= clear_margin x h: 3 x ~0.0153 = 0.046 clears 0.1 m (0.08), not with a
    3 cm systematic allowance (0.09); under 6.25 cm nothing is ever cleared."""
    cfg = SONAR
    ref = mesh_reference(plate(-5.0))
    lane = _lane_under(-5.0, 3.0)
    s = ref.samples
    above = (np.abs(s[:, 1]) < 0.15) & (s[:, 0] > 3) & (s[:, 0] < 7) & (ref.sample_normals[:, 2] < 0)
    good = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, systematic_m=0.015)
    _, cl = good.clearance(good.cast(lane), (0.05, 0.1, 0.2))
    assert cl[0.1][above].all() and cl[0.2][above].all() and not cl[0.05].any()
    poor = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, systematic_m=0.03)
    _, cl = poor.clearance(poor.cast(lane), (0.1, 0.2))
    assert not cl[0.1][above].any() and cl[0.2][above].all()


def test_out_of_range_sees_nothing() -> None:
    ref = mesh_reference(plate(-5.0))
    pred = Predictor(ref, MULTIBEAM, CompareConfig(), speed_mps=0.8)
    seen, _ = pred.cell_uncertainty(pred.cast(_lane_under(-5.0, 25.0)))
    assert not seen.any()


def test_far_face_of_a_thin_plate_is_judged_by_the_near_faces_cells() -> None:
    """A lane on one side of a 10 cm plate: no ray meets the far face, yet the comparator judges its
    samples by the cells within coverage_radius_m, which lie on the near face; so does the prediction.
    Samples along one face are not pooled (the density already says how many cells lie near). Neither
    face is cleared (the comparator clears no thin plate) unless ``thin_plate_m`` is off."""
    cfg = CompareConfig(coverage={"thin_plate_m": 0.0})
    ref = mesh_reference(fin(), coverage_cell=cfg.coverage.coverage_cell_m, coverage_max_z=cfg.coverage.coverage_max_z_m)
    pred = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.5, systematic_m=0.01)
    # Along the -y face at 2.5 m, heading +x: the fan looks left (+y), at the plate.
    acc = pred.cast(np.array([[-2.0, -2.5, -4.75], [12.0, -2.5, -4.75]]))
    n = ref.sample_normals
    near, far = n[:, 1] < -0.9, n[:, 1] > 0.9
    assert acc.returns[near].mean() > 1 and acc.returns[far].sum() == 0
    seen, cleared = pred.clearance(acc, (0.1,))
    direct_seen, _ = pred.cell_uncertainty(acc)
    mid = (ref.samples[:, 0] > 2) & (ref.samples[:, 0] < 8)
    assert direct_seen[near & mid].mean() > 0.8 and not direct_seen[far].any()
    assert seen[far & mid].mean() > 0.8 and cleared[0.1][far & mid].mean() > 0.7
    thin = Predictor(ref, MULTIBEAM, CompareConfig(), speed_mps=0.5, systematic_m=0.01)
    seen_thin, cleared_thin = thin.clearance(thin.cast(np.array([[-2.0, -2.5, -4.75], [12.0, -2.5, -4.75]])), (0.1,))
    assert seen_thin[far & mid].mean() > 0.8 and not cleared_thin[0.1][(far | near) & mid].any()
    # Same face, no returns (the plate's ends beyond the lane's reach stay as the density says).
    assert np.array_equal(seen[near], direct_seen[near])


def test_estimated_model_under_a_flat_plate_matches_the_hand_computed_case() -> None:
    """Stop 37's estimated model: the cloud's own sigma as the calibration sets it from the
    returns (head-on at 3 m: range noise 1.3 cm, footprint 3 m x 1 deg / 2.355, range noise along the
    normal the same 1.3 cm), at least 1 cm, with the alignment allowance added."""
    cfg = STOP37
    assert cfg.uncertainty.model == "estimated" and cfg.uncertainty.systematic == "alignment"
    ref = mesh_reference(plate(-5.0), coverage_cell=cfg.coverage.coverage_cell_m, coverage_max_z=cfg.coverage.coverage_max_z_m)
    cloud = CloudSigmaModel(window_m2=0.01, navigation_m=0.02, normal_gain=1.5, lane_scatter_m=0.005)
    pred = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, max_beams=512, ping_spacing_m=0.1, alignment_m=0.012,
                     calibration=replace(CALIBRATION, cloud_sigma=cloud))
    acc = pred.cast(_lane_under(-5.0, 3.0))
    s = ref.samples
    above = (np.abs(s[:, 1]) < 0.15) & (s[:, 0] > 3) & (s[:, 0] < 7) & (ref.sample_normals[:, 2] < 0)
    density = float(np.median(acc.returns[above] / ref.sample_area))
    sr, fp = 0.01 + 0.001 * 3.0, 3.0 * np.radians(1.0) / 2.3548
    assert np.median(acc.range_var[above] / acc.returns[above]) == pytest.approx(sr**2, rel=0.02)
    assert np.median(acc.footprint_var[above] / acc.returns[above]) == pytest.approx(fp**2, rel=0.02)
    assert np.median(acc.normal_var[above] / acc.returns[above]) == pytest.approx(sr**2, rel=0.02)
    sigma = np.sqrt((sr**2 + fp**2 + 0.02**2) / (density * 0.01) + 1.5 * sr**2 + 0.005**2)
    seen, unc = pred.cell_uncertainty(acc)
    assert seen[above].all()
    assert np.median(unc[above]) == pytest.approx(np.hypot(max(sigma, 0.01), 0.012), rel=0.02)
    # systematic: local puts the local allowance where the alignment's residual was.
    local = STOP37.model_copy(update={"uncertainty": STOP37.uncertainty.model_copy(update={"systematic": "local"})})
    lp = Predictor(ref, MULTIBEAM, local, speed_mps=0.8, max_beams=512, ping_spacing_m=0.1, systematic_m=0.004,
                   calibration=replace(CALIBRATION, cloud_sigma=cloud))
    _, lunc = lp.cell_uncertainty(acc)
    assert np.median(lunc[above]) == pytest.approx(np.hypot(max(sigma, 0.01), 0.004), rel=0.02)
    # The default (stop 38): the judged height's uncertainty (a cell's mean of its points, the median
    # of about nine cells), the local allowance, and the self-calibration scale the plan checks got.
    cfg = CompareConfig()
    assert cfg.uncertainty.random == "mean" and cfg.uncertainty.systematic == "local" and cfg.uncertainty.self_calibrate
    dp = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, max_beams=512, ping_spacing_m=0.1, systematic_m=0.004,
                   calibration=replace(CALIBRATION, cloud_sigma=cloud, scale=0.5))
    _, dunc = dp.cell_uncertainty(acc)
    per_cell = (ANALYSIS_CELL_M / 0.02) ** 2 * (1 - np.exp(-density * 0.02**2))
    judged = np.hypot(1.2533 * max(sigma, 0.01) / np.sqrt(per_cell) / 3.0, cfg.uncertainty.floor_m)
    assert np.median(dunc[above]) == pytest.approx(0.5 * np.hypot(judged, 0.004), rel=0.02)


def test_estimated_model_clears_less_with_a_larger_alignment_allowance() -> None:
    """Stop 37's model: 3 x hypot(sigma, residual) <= 0.8 x 0.1 m: a 1 cm residual leaves the plate
    cleared for 0.1 m, a 2.5 cm one does not (0.2 m is cleared either way)."""
    cfg = STOP37
    ref = mesh_reference(plate(-5.0))
    lane = _lane_under(-5.0, 3.0)
    s = ref.samples
    above = (np.abs(s[:, 1]) < 0.15) & (s[:, 0] > 3) & (s[:, 0] < 7) & (ref.sample_normals[:, 2] < 0)
    good = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, alignment_m=0.01)
    _, cl = good.clearance(good.cast(lane), (0.1, 0.2))
    assert cl[0.1][above].all() and cl[0.2][above].all()
    poor = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, alignment_m=0.025)
    _, cl = poor.clearance(poor.cast(lane), (0.1, 0.2))
    assert not cl[0.1][above].any() and cl[0.2][above].all()


def test_estimated_model_predicts_the_alignment_residual_from_the_leading_edge_bias() -> None:
    """Without a given residual the prediction adds the one the plan's returns predict: head-on
    under a plate the bias hardly changes, so it is the model's floor."""
    from hullscan.plan.calibration import AlignmentResidualModel

    cfg = STOP37  # the residual is its systematic term
    ref = mesh_reference(plate(-5.0))
    model = AlignmentResidualModel(bias_gain=1.0, floor_m=0.006)
    pred = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, calibration=replace(CALIBRATION, alignment=model))
    acc = pred.cast(_lane_under(-5.0, 3.0))
    seen, unc = pred.cell_uncertainty(acc)
    residual = pred.alignment_residual(acc, seen)
    assert 0.006 <= residual < 0.012
    given = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, alignment_m=residual)
    assert np.allclose(given.cell_uncertainty(acc)[1], unc)


def test_no_clearing_is_predicted_beside_the_references_own_relief() -> None:
    """A flat bottom with an anode 8 cm proud on it, seen head-on by a lane beneath: the comparator clears
    nothing for 0.08 m just past the anode's ends (such a compartment reads as the anode moved), so
    the plan does not predict it; open plating, and 0.2 m there, are predicted cleared as before."""
    import trimesh

    from hullscan.hull.mesh import REGION_INDEX, HullMesh, merge_meshes
    from tests.hullscan.plan.hulls import _box

    def part(box: trimesh.Trimesh, name: str) -> HullMesh:
        return HullMesh(box.vertices, box.faces, np.full(len(box.faces), REGION_INDEX["bottom"], np.int16),
                        name, name, 10.0, 6.0, 5.0)

    # The bottom of a 2 m deep block (a hull's inside is not in its mesh: a 2 cm plate's two faces would
    # cancel in the shell's normal), and the anode on it.
    bottom = part(_box((10.0, 6.0, 2.0), (5.0, 0.0, -4.0), 0.5), "bottom")
    anode = part(_box((0.8, 0.25, 0.08), (5.0, 0.0, -5.04), 0.1), "anode")
    cfg = SONAR
    ref = mesh_reference(merge_meshes([bottom, anode], "plated", "bottom with an anode"))
    pred = Predictor(ref, MULTIBEAM, cfg, speed_mps=0.8, systematic_m=0.015)
    _, cl = pred.clearance(pred.cast(_lane_under(-5.0, 3.0)), (0.08, 0.2))
    s, n = ref.samples, ref.sample_normals
    down = n[:, 2] < -0.9
    past_end = down & (np.abs(s[:, 1]) < 0.15) & (s[:, 0] > 5.41) & (s[:, 0] < 5.6) & (s[:, 2] > -5.01)
    open_ = down & (np.abs(s[:, 1]) < 0.15) & (s[:, 0] > 7.5) & (s[:, 0] < 8.5)
    assert past_end.any() and open_.any()
    assert not cl[0.08][past_end].any() and cl[0.08][open_].all()
    assert cl[0.2][past_end].all()
    assert pred.relief(0.08)[past_end].all() and not pred.relief(0.08)[open_].any()
