"""A survey plan checked in simulation: predicted against achieved cleared coverage (issue 20).

For one scenario: its design hull is planned for (``hullscan plan``, with a sonar profile copied
from the scenario's multibeam), the simulator flies the plan (``survey: {plan: ...}``), and the bag
is replayed as a dive team would, from the quay notes (never the simulator's transform), with the
comparator's configuration (its default uncertainty model unless ``--config`` names another), which
the plan predicts with too. ``hullscan evaluate --plan`` runs it per scenario;
``bench/plan_vs_achieved.py`` runs it on one.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hullscan.errors import HullscanError
from hullscan.plan import SYSTEMATIC_ALLOWANCE_M

# Within this many percentage points, the prediction meets the target.
TARGET_PP = 5.0


@dataclass(frozen=True)
class PlanCheck:
    """How to plan: the time window, the compartment height, the planner's systematic allowance,
    and whether the scenario's parasites stay on the hull (a finding clears the plating under it)."""

    budget: str = "30min"
    clear_height_m: float = 0.1
    systematic_m: float = SYSTEMATIC_ALLOWANCE_M
    keep_parasites: bool = False
    progress: bool = False
    config: str | None = None  # YAML config for the plan and the replay (None: the defaults)


def _sonar_profile(mb: Any, name: str) -> dict[str, Any]:
    return {"preset": "multibeam", "name": name, "beams": mb.beams, "swath_deg": mb.swath_deg,
            "beam_width_deg": mb.beamwidth_deg, "range_sigma_m": mb.noise_m, "range_sigma_per_m": mb.noise_per_m,
            "range_min_m": mb.range_min_m, "range_max_m": mb.range_max_m, "ping_rate_hz": mb.rate_hz,
            "tilt_deg": mb.mount.tilt_deg, "max_incidence_deg": mb.grazing_dropout_deg}


def _flown_scenario(scenario: Path, plan_json: Path, standoff_m: float, keep_parasites: bool) -> dict[str, Any]:
    """The scenario with its survey replaced by the plan (mesh paths made absolute)."""
    data = yaml.safe_load(scenario.read_text())
    if "mesh" in data.get("hull", {}):
        data["hull"]["mesh"]["path"] = str((scenario.parent / data["hull"]["mesh"]["path"]).resolve())
    if not keep_parasites:
        data["parasites"] = []
    data["survey"] = {"plan": str(plan_json.resolve()), "standoff_m": standoff_m}
    return dict(data)


def _plan(argv: list[str]) -> None:
    """``hullscan plan ARGV``, its errors raised (a PlanError names what does not fit the window)."""
    from hullscan.commands import plan

    parser = argparse.ArgumentParser(prog="hullscan")
    plan.register(parser.add_subparsers())
    args = parser.parse_args(["plan", *argv])
    args.func(args)


def shared_config(path: str | None, range_sigma_m: float, range_sigma_per_m: float, beam_width_deg: float
                  ) -> dict[str, Any]:
    """The one configuration the plan and the replay share: the user's YAML at ``path`` (or the
    defaults), with the sonar model's noise terms set to the flown multibeam's (the estimated model
    does not read them). Raises :class:`hullscan.errors.ConfigError` for a file that is not a YAML mapping."""
    from hullscan.config import deep_merge, read_yaml

    noise = {"range_sigma_m": range_sigma_m, "range_sigma_per_m": range_sigma_per_m, "beam_width_deg": beam_width_deg}
    return deep_merge(read_yaml(path) if path else {}, {"compare": {"uncertainty": noise}})


@dataclass(frozen=True)
class _Bench:
    """One scenario's hull made ready to plan for and to fly: the design mesh, the sonar profile and
    the configuration the plan and the replays share, in ``out``."""

    scenario: Path
    out: Path
    check: PlanCheck
    survey: Any  # the scenario's survey section (speed, standoff, min depth)
    name: str
    reference: Path
    config: Path
    draft: str

    @classmethod
    def make(cls, scenario: Path, out: Path, check: PlanCheck, what: str) -> _Bench:
        from hullscan_sim.scenario import load_scenario
        from hullscan_sim.simulate import build_world

        from hullscan.hull import save_mesh

        out.mkdir(parents=True, exist_ok=True)
        sc = load_scenario(scenario)
        mb = sc.sensors.multibeam
        if mb is None:
            raise HullscanError(f"{scenario}: no multibeam in sensors: the {what} needs the sonar it plans for")
        built = build_world(sc)
        ref, cfg = out / "reference.ply", out / "config.yaml"
        save_mesh(built.reference, ref)
        (out / "sonar.yaml").write_text(yaml.safe_dump(_sonar_profile(mb, f"{sc.name}_multibeam")))
        cfg.write_text(yaml.safe_dump(shared_config(check.config, mb.noise_m, mb.noise_per_m, mb.beamwidth_deg)))
        return cls(scenario, out, check, sc.survey, sc.name, ref, cfg, f"{built.reference.draft:.4f}")

    def plan(self, *extra: str) -> Path:
        """``hullscan plan`` for the check's window and height with the scenario's vehicle; its folder."""
        s, c = self.survey, self.check
        _plan(["--reference", str(self.reference), "--draft", self.draft, "--sonar", str(self.out / "sonar.yaml"),
               "--clear-height", str(c.clear_height_m), "--time", c.budget, "--speed", str(s.speed_mps),
               "--standoff", str(s.standoff_m), "--min-depth", str(s.min_depth_m), "--systematic", str(c.systematic_m),
               "--config", str(self.config), *extra, "--out", str(self.out / "plan")])
        return self.out / "plan"

    def flown(self, plan_json: Path, path: Path) -> Path:
        """The scenario with its survey replaced by the plan, written to ``path``."""
        path.write_text(yaml.safe_dump(_flown_scenario(self.scenario, plan_json, self.survey.standoff_m,
                                                       self.check.keep_parasites)))
        return path

    def fly(self, scenario_file: Path, where: Path, what: str) -> tuple[Path, float, float]:
        """Simulate ``scenario_file`` into ``where``/bag and replay it from the quay notes (never the
        simulator's transform: what is achieved is what a user would get); the replay folder and the
        seconds each took."""
        from hullscan_sim.simulate import simulate

        from hullscan.cli import main as hullscan

        t0 = time.perf_counter()
        simulate(scenario_file, where / "bag", overwrite=True)
        t1 = time.perf_counter()
        quiet = [] if self.check.progress else ["--no-progress"]
        rc = hullscan(["replay", str(where / "bag"), "--reference", str(self.reference), "--draft", self.draft,
                       "--prior", str(where / "bag.operator.yaml"), "--config", str(self.config), "--no-camera",
                       *quiet, "--out", str(where / "replay")])
        if rc not in (0, 3, 4):  # the verdicts (3: compartments found, 4: less cleared); 1: the inspection failed
            raise HullscanError(f"{self.scenario}: the replay of {what} failed (exit {rc}; see above)")
        return where / "replay", t1 - t0, time.perf_counter() - t1


def check_plan(scenario: Path, out: Path, check: PlanCheck) -> dict[str, Any]:
    """Plan, fly and replay ``scenario`` in ``out``; the comparison as JSON-ready data (also written
    to ``out/plan_vs_achieved.json``). Raises :class:`HullscanError` for a scenario without a multibeam
    or a plan or replay that fails."""
    bench = _Bench.make(scenario, out, check, "plan check")
    t0 = time.perf_counter()
    plan = bench.plan()
    plan_s = time.perf_counter() - t0
    replay, sim_s, replay_s = bench.fly(bench.flown(plan / "plan.json", out / "scenario.yaml"), out,
                                        "the planned survey")
    result = compare(json.loads((plan / "plan.json").read_text()), json.loads((replay / "findings.json").read_text()))
    result.update(scenario=bench.name, time_budget=check.budget,
                  timings_s={"plan": round(plan_s, 1), "simulate": round(sim_s, 1), "replay": round(replay_s, 1)})
    (out / "plan_vs_achieved.json").write_text(json.dumps(result, indent=1))
    return result


def compare(plan: dict[str, Any], findings: dict[str, Any]) -> dict[str, Any]:
    """Predicted (``plan.json``) against achieved (``findings.json``) coverage, per clear height and
    per landmark; ``within_target``: every height within :data:`TARGET_PP`."""
    cov, pred = findings["coverage"], plan["predicted"]
    achieved = cov.get("cleared_fraction_by_height", {})
    rows = {}
    for h, p in pred["cleared_fraction_by_height"].items():
        a = achieved.get(h)
        rows[h] = {"predicted": p, "achieved": a, "difference_pp": None if a is None else round(100 * (p - a), 1)}
    marks: dict[str, dict[str, float]] = {lm["name"]: {"predicted": lm["cleared_fraction"]} for lm in pred["landmarks"]}
    for lm in findings.get("landmarks", []):
        marks.setdefault(lm["name"], {})["achieved"] = lm["cleared_fraction"]
    diffs = [abs(r["difference_pp"]) for r in rows.values() if r["difference_pp"] is not None]
    return {"planned_s": plan["planned_s"], "lanes": len(plan["lanes"]),
            "seen": {"predicted": pred["seen_fraction"], "achieved": cov.get("seen_fraction")},
            "cleared_by_height": rows, "landmarks": marks,
            "worst_difference_pp": max(diffs) if diffs else None,
            "within_target": bool(diffs) and max(diffs) <= TARGET_PP}


def markdown(results: list[dict[str, Any]]) -> str:
    """One row per scenario: predicted / achieved cleared per height, and the worst difference."""
    heights = sorted({h for r in results for h in r.get("cleared_by_height", {})}, key=float)
    head = "| scenario | lanes | planned min | " + " | ".join(f"cleared {h} m (pred / ach)" for h in heights)
    lines = [head + f" | worst diff (pp) | within {TARGET_PP:g} pp |",
             "|---" * (len(heights) + 5) + "|"]
    for r in results:
        if "error" in r:
            error = " ".join(str(r["error"]).split())  # one line in the table
            lines.append(f"| {r['scenario']} | failed: {error} |")
            continue
        cells = []
        for h in heights:
            c = r["cleared_by_height"].get(h, {})
            a = c.get("achieved")
            cells.append(f"{100 * c.get('predicted', 0):.1f} / " + ("-" if a is None else f"{100 * a:.1f}"))
        lines.append(f"| {r['scenario']} | {r['lanes']} | {r['planned_s'] / 60:.1f} | " + " | ".join(cells)
                     + f" | {r['worst_difference_pp']} | {'yes' if r['within_target'] else 'no'} |")
    return "\n".join(lines) + "\n"


def check_redive(scenario: Path, out: Path, check: PlanCheck) -> dict[str, Any]:
    """A re-dive checked in simulation: ``scenario``'s own survey replayed (the first dive), a re-dive
    planned over what it left (``hullscan plan --after``), that plan flown and replayed, and the
    surface cleared by either dive (the union of the two ``coverage.ply``) against the plan's
    prediction, which adds the first dive's cleared surface to what it predicts for its own lanes.
    Both replays use the quay notes as the prior and the configuration the plan predicts with."""
    bench = _Bench.make(scenario, out, check, "re-dive check")
    timings: dict[str, float] = {}
    (out / "first").mkdir(exist_ok=True)
    first, sim_s, replay_s = bench.fly(scenario, out / "first", "the first dive")
    timings["first"] = round(sim_s + replay_s, 1)
    t0 = time.perf_counter()
    plan = bench.plan("--after", str(first))
    timings["plan"] = round(time.perf_counter() - t0, 1)
    (out / "second").mkdir(exist_ok=True)
    second, sim_s, replay_s = bench.fly(bench.flown(plan / "plan.json", out / "second" / "scenario.yaml"),
                                        out / "second", "the re-dive")
    timings["second"] = round(sim_s + replay_s, 1)
    result = redive_union(json.loads((plan / "plan.json").read_text()), first, second)
    result.update(scenario=bench.name, time_budget=check.budget, timings_s=timings)
    (out / "redive_vs_achieved.json").write_text(json.dumps(result, indent=1))
    return result


def redive_union(plan: dict[str, Any], first: Path, second: Path) -> dict[str, Any]:
    """The surface cleared by either dive (each folder's coverage.ply, on the first one's samples)
    against the re-dive plan's prediction; and on the surface the re-dive was for (not cleared by the
    first dive, nor held back by uneven surface), its own share cleared, predicted and achieved."""
    from hullscan.compare.earlier import load_earlier, on_samples

    a, b = load_earlier(first), load_earlier(second)
    on_b = on_samples(b, a.points, a.sample_area_m2)
    cleared_a = a.status == 3
    union = cleared_a | on_b.cleared
    target = ~cleared_a & (a.status != 2)
    pred = plan["predicted"]["cleared_fraction"]
    achieved = float(union.mean())
    return {"lanes": len(plan["lanes"]), "planned_s": plan["planned_s"],
            "first_cleared": round(float(cleared_a.mean()), 4),
            "second_cleared": round(float(on_b.cleared.mean()), 4),
            "union_cleared": {"predicted": pred, "achieved": round(achieved, 4),
                              "difference_pp": round(100 * (pred - achieved), 1)},
            "targeted_share": round(float(target.mean()), 4),
            "targeted_cleared_achieved": round(float(on_b.cleared[target].mean()), 4) if target.any() else None,
            "held_back_cleared_by_second": round(float(on_b.cleared[a.status == 2].mean()), 4)
            if (a.status == 2).any() else None,
            "within_target": abs(100 * (pred - achieved)) <= TARGET_PP}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def redive_markdown(rows: list[dict[str, Any]]) -> str:
    """The re-dive checks as a table: the first dive's cleared share, the re-dive's lanes, the surface
    cleared by either dive predicted and achieved, and what the re-dive cleared of what it aimed at and
    of what the first dive held back."""
    lines = ["| scenario | first dive cleared | re-dive: lanes, min | cleared by either: predicted | achieved | "
             "difference (pp) | targeted surface cleared by the re-dive | held back, cleared by the re-dive |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['scenario']} | failed: {r['error']} |  |  |  |  |  |  |")
            continue
        u = r["union_cleared"]
        lines.append(f"| {r['scenario']} | {_pct(r['first_cleared'])} | {r['lanes']}, {r['planned_s'] / 60:.1f} | "
                     f"{_pct(u['predicted'])} | {_pct(u['achieved'])} | {u['difference_pp']:+.1f} | "
                     f"{_pct(r['targeted_cleared_achieved'])} | {_pct(r['held_back_cleared_by_second'])} |")
    return "\n".join(lines) + "\n"
