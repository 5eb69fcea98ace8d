"""``hullscan evaluate --plan``: each scenario's hull planned, the plan flown in the simulator and
replayed from the quay notes, predicted against achieved cleared coverage per scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
SMALL = {"name": "small", "seed": 3,
         "hull": {"parametric": {"length_m": 40, "beam_m": 8, "draft_m": 3, "anodes": 0, "resolution_m": 0.4}},
         "parasites": [{"id": "side_box", "shape": "box", "size_m": [0.8, 0.5, 0.4], "region": "side",
                        "side": "port", "x_m": 20}],
         "survey": {"sides": ["port"], "bottom_lanes": 1, "speed_mps": 1.0, "standoff_m": 2.5},
         "sensors": {"multibeam": {"rate_hz": 5, "beams": 128}}}


def test_plan_flown_and_compared_per_scenario(tmp_path: Path) -> None:
    src = tmp_path / "scenarios"
    src.mkdir()
    (src / "small.yaml").write_text(yaml.safe_dump(SMALL))
    # A scenario without a multibeam cannot be planned for: one line, the others still run.
    (src / "imaging_only.yaml").write_text(yaml.safe_dump({**SMALL, "name": "imaging_only",
                                                            "sensors": {"multibeam": None, "imaging": {"rate_hz": 5}}}))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "hullscan", "evaluate", "--scenarios", str(src), "--plan", "10min",
                           "--out", str(out), "--no-progress"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    runs = {r["scenario"]: r for r in json.loads((out / "plan_vs_achieved.json").read_text())["runs"]}
    assert "no multibeam" in runs["imaging_only"]["error"]
    small = runs["small"]
    # The simulator flew the plan (its route), with the parasites taken off the hull.
    flown = yaml.safe_load((out / "small" / "scenario.yaml").read_text())
    assert flown["parasites"] == [] and flown["survey"]["plan"].endswith("plan.json")
    plan = json.loads((out / "small" / "plan" / "plan.json").read_text())
    assert small["lanes"] == len(plan["lanes"]) > 0 and small["planned_s"] <= 600
    rows = small["cleared_by_height"]
    assert set(rows) >= {"0.1", "0.2"}
    for r in rows.values():
        assert 0 < r["predicted"] <= 1 and 0 < r["achieved"] <= 1
        assert r["difference_pp"] == pytest.approx(100 * (r["predicted"] - r["achieved"]), abs=0.06)
    assert small["within_target"] == (small["worst_difference_pp"] <= 5.0)
    table = (out / "plan_vs_achieved.md").read_text()
    assert "| small | " in table and "| imaging_only | failed: " in table


def test_plan_and_replay_share_the_users_config_with_the_sonars_noise(tmp_path: Path) -> None:
    """The plan check judges with the user's model (the defaults without a file), the flown sonar's
    noise filled in; a file that is not a mapping is one clear error."""
    from hullscan.commands.plancheck import shared_config
    from hullscan.config import HullscanConfig
    from hullscan.errors import HullscanError

    default = shared_config(None, 0.01, 0.001, 1.0)
    cfg = HullscanConfig.model_validate(default)
    assert cfg.compare.uncertainty.model == "estimated" and cfg.compare.uncertainty.range_sigma_m == 0.01
    user = tmp_path / "sonar.yaml"
    user.write_text("compare:\n  uncertainty: {model: sonar}\n  detection: {min_zscore: 4.0}\n")
    cfg = HullscanConfig.model_validate(shared_config(str(user), 0.02, 0.002, 2.0))
    assert cfg.compare.uncertainty.model == "sonar" and cfg.compare.detection.min_zscore == 4.0
    assert cfg.compare.uncertainty.beam_width_deg == 2.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(HullscanError, match="expected a mapping"):
        shared_config(str(bad), 0.01, 0.001, 1.0)


def test_redive_flown_after_the_first_dive(tmp_path: Path) -> None:
    """``hullscan evaluate --plan TIME --redive``: each scenario's own survey (the port side) replayed, a
    re-dive planned over what it left, flown and replayed; the union of the two coverage.ply files
    against the plan's prediction. --scenarios repeats; a scenario that cannot be checked is one line
    and the others still run; --redive without --plan is one line."""
    src = tmp_path / "small.yaml"
    src.write_text(yaml.safe_dump({**SMALL, "survey": {**SMALL["survey"], "bottom_lanes": 0}}))
    imaging = tmp_path / "imaging_only.yaml"
    imaging.write_text(yaml.safe_dump({**SMALL, "name": "imaging_only",
                                       "sensors": {"multibeam": None, "imaging": {"rate_hz": 5}}}))
    bad = subprocess.run([sys.executable, "-m", "hullscan", "evaluate", "--scenarios", str(src), "--redive",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "--redive: give the re-dive's time window with --plan" in bad.stderr
    assert "Traceback" not in bad.stderr
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "hullscan", "evaluate", "--scenarios", str(src), "--scenarios",
                           str(imaging), "--plan", "8min", "--redive", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    runs = {r["scenario"]: r for r in json.loads((out / "redive_vs_achieved.json").read_text())["runs"]}
    assert "no multibeam" in runs["imaging_only"]["error"]
    res = runs["small"]
    plan = json.loads((out / "small" / "plan" / "plan.json").read_text())
    assert plan["after"]["matched_fraction"] == 1.0 and plan["after"]["cleared_before_m2"] > 0
    assert res["lanes"] == len(plan["lanes"]) > 0
    assert 0 < res["first_cleared"] < res["union_cleared"]["achieved"] <= 1
    u = res["union_cleared"]
    assert u["predicted"] == plan["predicted"]["cleared_fraction"]
    assert u["difference_pp"] == pytest.approx(100 * (u["predicted"] - u["achieved"]), abs=0.06)
    assert res["within_target"] == (abs(u["difference_pp"]) <= 5.0)
    table = (out / "redive_vs_achieved.md").read_text()
    assert "| small | " in table and "| imaging_only | failed: " in table
