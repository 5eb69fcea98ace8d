"""Matching findings to ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.compare.evaluate import match_truth, summarise


def test_match_truth_counts():
    findings = [
        {"id": "F001", "centroid": [10.0, 2.0, -1.0], "bbox_min": [9.7, 1.9, -1.3], "bbox_max": [10.3, 2.2, -0.7],
         "volume_m3": 0.11},
        {"id": "F002", "centroid": [30.0, -2.0, -1.0], "bbox_min": [29.9, -2.1, -1.1], "bbox_max": [30.1, -1.9, -0.9],
         "volume_m3": 0.01},
    ]
    truth = [
        {"id": "P1", "centroid_hull": [10.1, 2.0, -1.0], "volume_m3": 0.1, "height_m": 0.3, "region": "side"},
        {"id": "P2", "centroid_hull": [50.0, 2.0, -1.0], "volume_m3": 0.05, "height_m": 0.2, "region": "side"},
        {"id": "P3", "centroid_hull": [60.0, 2.0, -1.0], "volume_m3": 0.05, "height_m": 0.2, "region": "bottom"},
    ]
    res = match_truth(findings, truth, lambda c, height=None: "not_inspected" if c[0] > 55 else "clear", scenario="s")
    assert [d["finding"] for d in res.detected] == ["F001"]
    assert [m["truth"]["id"] for m in res.missed] == ["P2"]
    assert [m["truth"]["id"] for m in res.not_inspected] == ["P3"]
    assert [f["id"] for f in res.false_alarms] == ["F002"]
    s = summarise([res])
    assert s["recall"] == 0.5 and s["false_alarms_per_hull"] == 1.0
    assert s["targets"]["vol>=0.03,h>=0.10"] == {"recall": 0.5, "n": 2}
    assert s["by_size"][">=0.1 m3"]["volume_error_median"] == 0.1
    assert s["volume_error_ge_0.1m3"]["median"] == 0.1


def test_a_findings_stated_along_ship_uncertainty_is_scored_against_the_truth():
    box = {"bbox_min": [9.7, 1.9, -1.3], "bbox_max": [10.3, 2.2, -0.7], "volume_m3": 0.05}
    truth = [{"id": "P1", "centroid_hull": [10.2, 2.0, -1.0], "volume_m3": 0.05, "height_m": 0.25},
             {"id": "P2", "centroid_hull": [30.0, 2.0, -1.0], "volume_m3": 0.05, "height_m": 0.25}]
    findings = [{"id": "F001", "centroid": [10.0, 2.0, -1.0], "along_uncertainty_m": 0.3, **box},
                {"id": "F002", "centroid": [30.1, 2.0, -1.0], "along_uncertainty_m": 0.05,
                 "bbox_min": [29.8, 1.9, -1.3], "bbox_max": [30.4, 2.2, -0.7], "volume_m3": 0.05}]
    res = match_truth(findings, truth, along_of=lambda c: float(c[0]))
    assert [d["along_error_m"] for d in res.detected] == [-0.2, 0.1]
    scores = summarise([res])["along_uncertainty"]
    assert scores["n"] == 2 and scores["truth_inside"] == 1
    assert scores["stated_two_sd_m"]["max"] == 0.3 and scores["error_m"]["max"] == 0.2
    # Net of the stated along-ship uncertainty: F001's 0.2 m lies inside its 0.3 m (nothing left);
    # F002's 0.1 m is 0.05 m beyond its 0.05 m.
    assert scores["centroid_error_outside_stated_m"]["max"] == pytest.approx(0.05, abs=1e-4)
    assert scores["centroid_error_outside_stated_m"]["median"] == pytest.approx(0.025, abs=1e-4)


def test_a_finding_off_along_the_ship_inside_its_stated_range_detects_the_parasite_and_is_marked():
    # A flat bottom that fixes no position along the ship (stop 50, ho_tanker_bottom): the finding
    # lies 3 m along from the truth and says so (+/- 5 m); across and in depth it is where the truth is.
    truth = [{"id": "P1", "centroid_hull": [75.0, -0.8, -10.1], "volume_m3": 0.01, "height_m": 0.2}]
    box = {"volume_m3": 0.012, "kind": "protrusion"}
    finding = {"id": "F001", "centroid": [72.0, -0.8, -10.05], "bbox_min": [71.8, -1.0, -10.2],
               "bbox_max": [72.2, -0.6, -10.0], **box}
    res = match_truth([{**finding, "along_uncertainty_m": 5.0}], truth, along_of=lambda c: float(c[0]))
    assert len(res.detected) == 1 and not res.false_alarms
    assert res.detected[0]["matched"] == "inside the stated along-ship range"
    assert res.detected[0]["centroid_error_m"] == pytest.approx(3.0, abs=0.01)
    assert summarise([res])["detected_inside_stated_along"] == 1
    # Stated tighter than it is off, or off across the ship too: a miss and a false alarm.
    for f in ({**finding, "along_uncertainty_m": 2.0}, {**finding, "centroid": [72.0, -0.1, -10.05],
                                                           "along_uncertainty_m": 5.0}):
        res = match_truth([f], truth, along_of=lambda c: float(c[0]))
        assert not res.detected and len(res.missed) == 1 and len(res.false_alarms) == 1
    # Without along_of (nothing stated to score against) the match radius alone decides.
    assert not match_truth([{**finding, "along_uncertainty_m": 5.0}], truth).detected


def test_a_centroid_error_counts_across_and_in_depth_in_full_and_along_beyond_the_stated_range():
    from hullscan.compare.evaluate import outside_stated_along

    # 0.5 m off: 0.3 along (stated 2 sigma 1 m), 0.4 across; only the across part is left.
    assert outside_stated_along({"centroid_error_m": 0.5, "along_error_m": -0.3, "along_uncertainty_m": 1.0}) == 0.4
    # Along 0.3 beyond a stated 0.1 m: 0.2 of it counts with the 0.4 across.
    assert outside_stated_along({"centroid_error_m": 0.5, "along_error_m": 0.3, "along_uncertainty_m": 0.1}) == \
        pytest.approx(np.hypot(0.4, 0.2), abs=1e-4)
    assert outside_stated_along({"centroid_error_m": 0.5}) == 0.5  # nothing stated: all of it


def test_only_a_protrusion_detects_a_parasite():
    """A recess at a compartment's place is a wrong finding (a false alarm), not a detection."""
    box = {"bbox_min": [9.7, 1.9, -1.3], "bbox_max": [10.3, 2.2, -0.7], "volume_m3": 0.01}
    truth = [{"id": "P1", "centroid_hull": [10.0, 2.0, -1.0], "volume_m3": 0.05, "height_m": 0.25,
              "region": "sea_chest"}]
    res = match_truth([{"id": "F001", "kind": "recess", "centroid": [10.0, 2.0, -1.0], **box}], truth,
                      lambda c, height=None: "finding")
    assert not res.detected and [m["truth"]["id"] for m in res.missed] == ["P1"]
    assert [f["id"] for f in res.false_alarms] == ["F001"]
    res = match_truth([{"id": "F001", "kind": "protrusion", "centroid": [10.0, 2.0, -1.0], **box}], truth)
    assert [d["finding"] for d in res.detected] == ["F001"] and res.detected[0]["volume_error"] == -0.8


def test_not_comparable_in_mirror_mode_counts_as_not_inspected_with_its_reason():
    """A parasite where mirror mode had no mirrored counterpart is not inspected (not missed, not clean)."""
    from hullscan.compare.evaluate import unseen_reason
    from hullscan.compare.mirror import NOT_COMPARABLE

    patches = [{"bbox_min": [40.0, 5.0, -5.0], "bbox_max": [44.0, 7.0, -4.0], "reason": NOT_COMPARABLE},
               {"bbox_min": [60.0, -7.0, -5.0], "bbox_max": [62.0, -5.0, -4.0], "reason": "not seen"}]
    truth = [{"id": "P1", "centroid_hull": [42.0, 6.0, -4.5], "volume_m3": 0.05, "height_m": 0.2},
             {"id": "P2", "centroid_hull": [61.0, -6.0, -4.5], "volume_m3": 0.05, "height_m": 0.2}]
    res = match_truth([], truth, lambda c, height=None: "not_inspected", reason_at=lambda c, height=None: unseen_reason(patches, c))
    assert not res.missed and not res.detected
    assert [(n["truth"]["id"], n["reason"]) for n in res.not_inspected] == [("P1", NOT_COMPARABLE),
                                                                          ("P2", "not seen")]
    s = summarise([res])
    assert s["recall"] is None and s["not_inspected_by_reason"] == {NOT_COMPARABLE: 1, "not seen": 1}


def test_evaluate_end_to_end_with_an_operator_prior_never_the_truth(tmp_path):
    import json
    from pathlib import Path

    import yaml

    from hullscan.cli import main

    scenarios = Path(__file__).resolve().parents[3] / "sim" / "scenarios"
    out = tmp_path / "eval"
    assert main(["evaluate", "--scenarios", str(scenarios), "--only", "demo", "--out", str(out),
                 "--no-progress"]) == 0
    ev = json.loads((out / "evaluation.json").read_text())
    hull = ev["hulls"][0]
    assert hull["scenario"] == "demo" and len(hull["detected"]) == 2 and not hull.get("error")
    # Drift correction is on by default; the inspection was handed an operator prior with errors
    # of metres and degrees, never the simulator's transform.
    assert yaml.safe_load((out / "demo" / "config.yaml").read_text())["recon"]["drift"]["enabled"]
    doc = json.loads((out / "demo" / "findings.json").read_text())
    paths = [str(i["path"]) for i in doc["inputs"] if i["path"]]
    assert any(p.endswith("operator_prior.json") for p in paths)
    # Nothing the inspection read lies in the simulator's truth folder: the design hull the quay notes
    # name is beside the bag (BAG.design.ply).
    assert not any(".truth/" in p or "truth.json" in p or "trajectory_true" in p for p in paths), paths
    assert any(p.endswith("demo.design.ply") for p in paths), paths
    run = ev["registration_runs"][0]
    assert max(abs(run["prior"]["along_m"]), abs(run["prior"]["heading_deg"])) > 0.5
    assert run["success"] and run["error"]["translation_m"] < 0.1, run
    assert ev["registration"]["success_rate"] == 1.0
    # Each finding states how well the survey is placed along the ship where it lies, and the
    # evaluation scores those statements against the truth.
    assert doc["along_ship"]["submap_two_sd_m"] and all(f["along_uncertainty_m"] > 0 for f in doc["findings"])
    assert 0.0 <= run["error"]["along_inside_two_sd"] <= 1.0 and run["error"]["along_two_sd_max_m"] > 0
    assert ev["summary"]["along_uncertainty"]["n"] == 2
    # What the figures were computed with (the numerical packages move them: stop 45).
    import numpy as np

    assert ev["software"]["packages"]["numpy"] == np.__version__
    assert f"numpy {np.__version__}" in (out / "evaluation.md").read_text()


def test_unseen_reason_takes_the_patch_around_the_point_not_a_broad_one_wrapping_it():
    from hullscan.compare.analysis import UNCERTAIN
    from hullscan.compare.evaluate import unseen_reason

    broad = {"bbox_min": [0.0, -7.0, -5.0], "bbox_max": [80.0, 7.0, 0.0], "reason": "not seen"}
    small = {"bbox_min": [40.0, 0.5, -4.0], "bbox_max": [41.0, 1.5, -3.0], "reason": f"{UNCERTAIN} 0.1 m"}
    assert unseen_reason([broad, small], [40.5, 1.0, -3.5]) == f"{UNCERTAIN} 0.1 m"
    assert unseen_reason([small], [41.2, 1.0, -3.5]) == f"{UNCERTAIN} 0.1 m"  # within the margin
    assert unseen_reason([broad, small], [60.0, 1.0, -3.5]) == "not seen"
    assert unseen_reason([small], [60.0, 1.0, -3.5]) == "not seen"  # no patch near: the default


def test_a_missed_parasite_is_judged_by_its_own_height():
    """Cleared for a 0.3 m compartment is not cleared for a 0.1 m one: status_at gets the height."""
    asked = []

    def status_at(c, height=None):
        asked.append(height)
        return "clear" if height is not None and height >= 0.3 else "not_inspected"

    truth = [{"id": "tall", "centroid_hull": [10.0, 2.0, -1.0], "volume_m3": 0.3, "height_m": 0.5},
             {"id": "flat", "centroid_hull": [20.0, 2.0, -1.0], "volume_m3": 0.03, "height_m": 0.1}]
    res = match_truth([], truth, status_at)
    assert sorted(asked) == [0.1, 0.5]
    assert [m["truth"]["id"] for m in res.missed] == ["tall"]
    assert [n["truth"]["id"] for n in res.not_inspected] == ["flat"]


def test_coverage_summary_line():
    from hullscan.compare.analysis import coverage_summary

    d = {"fraction": 0.0027, "seen_fraction": 0.2421, "clear_height_m": 0.1,
         "cleared_fraction_by_height": {"0.1": 0.0027, "0.2": 0.0963, "0.3": 0.1624}}
    assert coverage_summary(d) == "cleared 0.3 % for 0.1 m compartments (0.2 m: 10 %, 0.3 m: 16 %), seen 24 %"
    assert coverage_summary({"fraction": 0.25, "clear_height_m": 0.0}) == "cleared 25.0 %"


def test_placement_off_along_the_ship_counts_only_inside_its_stated_range_and_level_elsewhere():
    """Where the geometry does not fix the position along the ship the run states a 2-sigma range per
    submap: an along error inside it at every submap is met, if across, depth and heading are."""
    from hullscan.compare.evaluate import summarise_registration

    def run(t: float, along: float, rot: float, inside: float) -> dict[str, object]:
        return {"scenario": "s", "prior": 0, "success": True, "ambiguous": False,
                "error": {"translation_m": t, "along_m": along, "rotation_deg": rot, "along_inside_two_sd": inside,
                          "along_two_sd_max_m": 0.4}}

    runs = [run(0.03, 0.02, 0.05, 1.0),   # within 5 cm and 0.1 deg
            run(0.20, -0.195, 0.05, 1.0),  # 20 cm along (4.4 cm else), inside the stated range: met
            run(0.20, -0.195, 0.05, 0.7),  # ... but outside it at some submaps: not met
            run(0.20, -0.18, 0.05, 1.0),   # 8.7 cm across and in depth: not met
            run(0.20, -0.195, 0.15, 1.0)]  # heading 0.15 deg: not met
    s = summarise_registration(runs)
    assert s["within_target"] == 1 and s["within_target_or_stated_along"] == 2


def test_the_placed_tracks_heading_is_its_rigid_fit_to_the_truth() -> None:
    """track_yaw_deg: a lawn-mower track turned 0.1 deg about any point and shifted reads 0.1 deg; a
    shear (one lane placed 5 cm further along than the other, 4 m across) reads as part heading, as
    documented."""
    from scipy.spatial.transform import Rotation

    from hullscan.compare.evaluate import track_yaw_deg

    x = np.linspace(0.0, 20.0, 200)
    lanes = [np.column_stack([x, np.full_like(x, y), np.full_like(x, -3.0)]) for y in (0.0, 4.0)]
    truth = np.vstack(lanes)
    turned = Rotation.from_euler("z", 0.1, degrees=True).apply(truth - np.array([7.0, 2.0, 0.0])) + np.array([7.3, 1.9, 0.1])
    assert abs(track_yaw_deg(truth, turned) - 0.1) < 1e-9
    sheared = truth + np.where(truth[:, 1:2] > 2.0, [0.05, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert 0.0 < abs(track_yaw_deg(truth, sheared)) < np.rad2deg(0.05 / 4.0)
    assert track_yaw_deg(truth[:2], turned[:2]) == 0.0


def test_the_tracks_heading_is_summarised_beside_the_vehicles_and_not_judged() -> None:
    """A run off only in the vehicle's heading (0.106 deg) while its placed track is turned 0.02 deg
    (the held-out trawler, stop 54) is a miss: the track's heading is a diagnostic, summarised apart."""
    from hullscan.compare.evaluate import summarise_registration

    run = {"scenario": "s", "k": 0, "prior": 0, "success": True, "ambiguous": False,
           "error": {"translation_m": 0.03, "along_m": 0.02, "across_m": 0.01, "vertical_m": 0.01,
                     "rotation_deg": 0.106, "rotation_track_deg": 0.021, "along_inside_two_sd": 1.0}}
    s = summarise_registration([run])
    assert s["within_target_every_run"] == 0 and len(s["placement_misses"]) == 1
    assert s["rotation_track_error_deg"]["max"] == 0.021 and s["rotation_error_deg"]["max"] == 0.106


def test_an_ambiguous_run_is_excused_along_the_ship_only():
    """A run that reports the position along the ship ambiguous (and holds the truth in that range)
    succeeds, but counts as placed to the target only if across, depth and heading are: a fouled
    hull's growth taken up by the fit as a shift up and across is no along-ship ambiguity."""
    from hullscan.compare.evaluate import summarise_registration

    def run(along: float, across: float, vertical: float, ambiguous: bool) -> dict[str, object]:
        t = float(sum(v * v for v in (along, across, vertical)) ** 0.5)
        return {"scenario": "s", "k": 0, "prior": 0, "success": True, "ambiguous": ambiguous,
                "error": {"translation_m": t, "along_m": along, "across_m": across, "vertical_m": vertical,
                          "rotation_deg": 0.03, "along_inside_two_sd": 1.0, "along_two_sd_max_m": 0.4}}

    runs = [run(2.0, 0.01, 0.02, True),     # 2 m along, reported ambiguous; 2 cm else: placed
            run(0.05, -0.036, 0.10, True),  # heavy_growth: 10 cm up, ambiguous along: not placed
            run(0.01, 0.01, 0.01, False)]
    s = summarise_registration(runs)
    assert s["success"] == 3 and s["observable"] == 1 and s["within_target_or_stated_along"] == 1
    assert s["within_target_every_run"] == 2
    assert [(m["vertical_m"], m["ambiguous"]) for m in s["placement_misses"]] == [(0.10, True)]


def test_a_stretch_of_plating_whose_box_holds_a_parasite_does_not_detect_it():
    """Box containment alone matched a 23 m³ stretch of plating to a 0.07 m³ pack 4.7 m from its centroid."""
    truth = [{"id": "P1", "centroid_hull": [30.0, 9.3, -4.2], "volume_m3": 0.072, "height_m": 0.3}]
    blob = {"id": "F001", "centroid": [29.4, 9.3, -2.2], "bbox_min": [22.3, 8.4, -4.4], "bbox_max": [36.5, 10.1, 0.1],
            "volume_m3": 22.99}
    res = match_truth([blob], truth)
    assert not res.detected and [f["id"] for f in res.false_alarms] == ["F001"]
    res = match_truth([{**blob, "volume_m3": 0.09}], truth)
    assert [d["finding"] for d in res.detected] == ["F001"]


def test_a_stated_growth_layer_counts_where_the_truth_lies_between_the_two_placements_and_is_listed():
    """A rough hull's run states where the survey would lie on a growth layer as thick as the surface's
    relief: the truth between that placement and the fit's (5 cm either side) is placed, and listed as
    excused by the layer; beyond it, or with no layer stated, it is not."""
    from hullscan.compare.evaluate import summarise_registration

    def err(along: float, across: float, vertical: float) -> dict[str, float]:
        t = float((along * along + across * across + vertical * vertical) ** 0.5)
        return {"translation_m": t, "along_m": along, "across_m": across, "vertical_m": vertical,
                "rotation_deg": 0.03, "along_inside_two_sd": 0.4, "along_two_sd_max_m": 0.4}

    def run(on_layer: dict[str, float] | None, ambiguous: bool = False) -> dict[str, object]:
        r = {"scenario": "s", "k": 0, "prior": 0, "success": True, "ambiguous": ambiguous,
             "error": err(-0.27, 0.038, 0.04)}  # fouled_feeder: a layer on the aft shoulder read as 27 cm along
        return r if on_layer is None else {**r, "error_layer": on_layer, "stated_layer_m": 0.12}

    runs = [run(err(0.35, -0.05, -0.07)),   # the layer's placement lies beyond the truth in every direction
            run(err(-0.10, -0.05, -0.07)),  # ... not along the ship (-0.10 and -0.27: both short of it)
            run(None),                      # no layer stated
            run(err(0.35, 0.03, -0.07))]    # across: 3.8 and 3 cm, both within 5 cm of the truth
    s = summarise_registration(runs)
    assert s["within_target_every_run"] == 2 and s["within_target_every_run_no_layer"] == 0
    assert [m["stated_layer_m"] for m in s["placement_misses"]] == [0.12, None]
    assert [r["on_layer"]["along_m"] for r in s["excused_by_stated_layer"]] == [0.35, 0.35]


def test_a_compartment_is_explained_away_only_where_no_counted_finding_detects_it() -> None:
    """evaluate --fittings: an anode's finding 0.3 m from a box that another finding detects hides
    nothing; the same anode finding over a box nothing else detects does."""
    from hullscan.compare.evaluate import explained_by_fittings, match_truth

    box = {"id": "box", "centroid_hull": [10.3, 3.0, -1.0], "volume_m3": 0.01, "height_m": 0.1}

    def finding(fid: str, x: float, explained: bool) -> dict:
        return {"id": fid, "kind": "protrusion", "centroid": [x, 3.0, -1.0], "bbox_min": [x - 0.2, 2.9, -1.1],
                "bbox_max": [x + 0.2, 3.1, -0.9], "volume_m3": 0.016,
                "fitting": {"id": "A5", "explained": True} if explained else None}

    anode, pack = finding("F001", 10.0, True), finding("F002", 10.35, False)
    res = match_truth([pack], [box])
    assert explained_by_fittings([anode, pack], [box], res) == [
        {"finding": "F001", "fitting": "A5", "volume_m3": 0.016, "on_parasite": None}]
    res = match_truth([], [box])
    assert explained_by_fittings([anode], [box], res)[0]["on_parasite"] == "box"
