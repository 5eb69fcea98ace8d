"""Issue 20: predicted against achieved cleared coverage of a survey plan, in simulation.

For a scenario: its design hull is planned for (``hullscan plan``, with a sonar profile copied from
the scenario's multibeam), the plan is flown by the simulator (``survey: {plan: ...}``, parasites
removed so that nothing is cleared through a finding), and the bag is replayed with the sonar
uncertainty model (the one the plan predicts with) and the dive team's quay notes as the prior (the
simulator's truth is not used). Prints and
writes ``OUT/plan_vs_achieved.json``.

    python bench/plan_vs_achieved.py --scenario sim/scenarios/full_hull_120m.yaml --time 20min --out runs/p20
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml
from hullscan_sim.scenario import load_scenario
from hullscan_sim.simulate import build_world, simulate

from hullscan.cli import main as hullscan
from hullscan.hull import save_mesh


def run(scenario: Path, budget: str, out: Path, clear_height: float, systematic: float) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    sc = load_scenario(scenario)
    built = build_world(sc)
    ref = out / "reference.ply"
    save_mesh(built.reference, ref)
    mb = sc.sensors.multibeam
    assert mb is not None, "the bench needs a scenario with a multibeam"
    profile = {"preset": "multibeam", "name": f"{sc.name}_multibeam", "beams": mb.beams, "swath_deg": mb.swath_deg,
               "beam_width_deg": mb.beamwidth_deg, "range_sigma_m": mb.noise_m, "range_sigma_per_m": mb.noise_per_m,
               "range_min_m": mb.range_min_m, "range_max_m": mb.range_max_m, "ping_rate_hz": mb.rate_hz,
               "tilt_deg": mb.mount.tilt_deg, "max_incidence_deg": mb.grazing_dropout_deg}
    (out / "sonar.yaml").write_text(yaml.safe_dump(profile))
    cfg = out / "sonar_model.yaml"
    cfg.write_text(yaml.safe_dump({"compare": {"uncertainty": {"model": "sonar", "range_sigma_m": mb.noise_m,
                                                               "range_sigma_per_m": mb.noise_per_m,
                                                               "beam_width_deg": mb.beamwidth_deg}}}))
    draft = built.reference.draft
    t0 = time.perf_counter()
    rc = hullscan(["plan", "--reference", str(ref), "--draft", f"{draft:.4f}", "--sonar", str(out / "sonar.yaml"),
                   "--clear-height", str(clear_height), "--time", budget, "--speed", str(sc.survey.speed_mps),
                   "--standoff", str(sc.survey.standoff_m), "--min-depth", str(sc.survey.min_depth_m),
                   "--systematic", str(systematic), "--config", str(cfg), "--out", str(out / "plan")])
    plan_s = time.perf_counter() - t0
    assert rc == 0, "hullscan plan failed"
    data = yaml.safe_load(Path(scenario).read_text())
    if "mesh" in data.get("hull", {}):
        data["hull"]["mesh"]["path"] = str((Path(scenario).parent / data["hull"]["mesh"]["path"]).resolve())
    data["parasites"] = []
    data["survey"] = {"plan": str((out / "plan" / "plan.json").resolve()), "standoff_m": sc.survey.standoff_m}
    sc_path = out / "scenario.yaml"
    sc_path.write_text(yaml.safe_dump(data))
    t0 = time.perf_counter()
    simulate(sc_path, out / "bag", overwrite=True)
    sim_s = time.perf_counter() - t0
    # The dive team's quay notes as the prior (never the simulator's transform): what is achieved is
    # what a user would get, registration included.
    t0 = time.perf_counter()
    hullscan(["replay", str(out / "bag"), "--reference", str(ref), "--draft", f"{draft:.4f}", "--prior",
              str(out / "bag.operator.yaml"), "--config", str(cfg), "--no-camera", "--no-progress",
              "--out", str(out / "replay")])
    replay_s = time.perf_counter() - t0
    plan = json.loads((out / "plan" / "plan.json").read_text())
    doc = json.loads((out / "replay" / "findings.json").read_text())
    cov = doc["coverage"]
    pred = plan["predicted"]
    ach_by_h = cov.get("cleared_fraction_by_height", {})
    rows = {}
    for h, p in pred["cleared_fraction_by_height"].items():
        a = ach_by_h.get(h)
        rows[h] = {"predicted": p, "achieved": a, "difference_pp": None if a is None else round(100 * (p - a), 1)}
    marks = {lm["name"]: {"predicted": lm["cleared_fraction"]} for lm in pred["landmarks"]}
    for lm in doc.get("landmarks", []):
        marks.setdefault(lm["name"], {})["achieved"] = lm["cleared_fraction"]
    result = {"scenario": sc.name, "time_budget": budget, "planned_s": plan["planned_s"], "lanes": len(plan["lanes"]),
              "seen": {"predicted": pred["seen_fraction"], "achieved": cov.get("seen_fraction")},
              "cleared_by_height": rows, "landmarks": marks,
              "timings_s": {"plan": round(plan_s, 1), "simulate": round(sim_s, 1), "replay": round(replay_s, 1)}}
    (out / "plan_vs_achieved.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--time", default="30min")
    ap.add_argument("--clear-height", type=float, default=0.1)
    ap.add_argument("--systematic", type=float, default=0.015)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    run(Path(a.scenario), a.time, Path(a.out), a.clear_height, a.systematic)
