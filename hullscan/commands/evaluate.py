"""``hullscan evaluate --scenarios sim/scenarios --out DIR``: the comparator against ground truth.

Simulates every scenario and replays it end to end as a dive team would: against the design mesh
named in the survey's operator notes, with the true draft (read from the marks) and an operator
prior drawn with realistic errors (seeded: up to +/- 5 m along the ship, 2 m across, 10 degrees of
heading; ``--priors N`` draws N per scenario). The simulator's truth is used only to draw those
errors and to score: findings are matched to the truth parasites in the reference file's own frame,
and each registration is judged by where it placed the survey. Writes evaluation.json and
evaluation.md (recall, precision, false alarms per hull, centroid and volume error by size class and
region, registration success and placement error, run time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from hullscan._version import __version__, package_versions, software

EXAMPLES = """\
examples:
  hullscan evaluate --scenarios sim/scenarios --out runs/eval
  hullscan evaluate --scenarios sim/scenarios --only box_on_side --out runs/eval
  hullscan evaluate --scenarios sim/scenarios --priors 3 --out runs/eval      3 operator priors per scenario
  hullscan evaluate --scenarios sim/scenarios --mirror --out runs/eval-mirror   mirror mode instead of the mesh
  hullscan evaluate --scenarios sim/scenarios --no-drift --out runs/eval-nodrift  without drift correction
  hullscan evaluate --scenarios sim/scenarios --only full_hull_120m --plan 30min --out runs/eval-plan
      plan each scenario's hull, fly the plan, compare predicted with achieved cleared coverage
  hullscan evaluate --scenarios sim/scenarios/demo.yaml --scenarios sim/scenarios/holdout --plan 20min --redive --out runs/redive
      replay each scenario's own survey, plan a 20-minute re-dive over what it left (plan --after), fly
      it, compare the surface cleared by either dive with the prediction
"""


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="simulate scenarios, inspect them, score against ground truth",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", required=True, action="append",
                   help="folder of scenario YAML files (or one file); repeat for several")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    p.add_argument("--exclude", action="append", default=[], help="scenario name to leave out (repeatable)")
    p.add_argument("--mirror", action="store_true", help="evaluate mirror mode instead of the design mesh")
    p.add_argument("--no-drift", action="store_true", help="no navigation drift correction (on by default)")
    p.add_argument("--drift", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument("--priors", type=int, default=1, metavar="N",
                   help="operator priors per scenario (default 1); the first run is scored for detection, "
                        "all for registration")
    p.add_argument("--prior-seed", type=int, default=0, help="seed of the operator priors' errors")
    p.add_argument("--config", help="YAML config")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf for every run (off: it adds seconds "
                   "per run and an evaluation is not a case file)")
    p.add_argument("--resimulate", action="store_true",
                   help="simulate again even when OUT/bags holds a bag of the same scenario file")
    p.add_argument("--plan", metavar="TIME", help="instead of the scenarios' own surveys: plan each hull for this "
                   "time window (hullscan plan, the scenario's multibeam, --clear-height), fly the plan in the "
                   "simulator and compare predicted with achieved cleared coverage (plan_vs_achieved.json/.md); "
                   "the plan and the replays use --config's uncertainty model (default: the comparator's default)")
    p.add_argument("--clear-height", type=float, default=0.1, metavar="H", help="with --plan: compartment height "
                   "to plan for (m, default 0.1)")
    p.add_argument("--redive", action="store_true", help="with --plan: replay each scenario's own survey first, "
                   "plan a re-dive over what it left for the time window (hullscan plan --after), fly and replay it, "
                   "and compare the surface cleared by either dive with the prediction (redive_vs_achieved.json/.md)")
    p.add_argument("--fittings", action="store_true",
                   help="give each replay the ship's anode plan where the simulator wrote one (BAG.fittings.yaml: "
                        "a mesh hull's anodes, which the design file lacks, to a plan's accuracy), as a dive team "
                        "would pass --fittings; findings it explains are scored neither as detections nor as false "
                        "alarms, and any on a compartment is counted (compartments_explained_away)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _simulate(f: Path, bag: Path, resimulate: bool) -> None:
    """Simulate ``f`` into ``bag`` unless a bag of the same scenario file is there (deterministic)."""
    from hullscan_sim import simulate
    from hullscan_sim.simulate import operator_notes_for

    stamp = Path(f"{bag}.scenario.sha256")
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    fresh = (not resimulate and stamp.exists() and stamp.read_text().strip() == digest
             and Path(f"{bag}.truth", "truth.json").exists() and operator_notes_for(bag).exists())
    if not fresh:
        simulate(f, bag, overwrite=True)
        stamp.write_text(digest + "\n")


def _one_scenario(f: Path, out: Path, cfg: Any, args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]]]:
    """Detection result (first prior) and registration runs (every prior) of one scenario."""
    import numpy as np
    from hullscan_sim.simulate import fittings_plan_for, operator_notes_for

    from hullscan.compare.evaluate import (
        HullResult,
        evaluation_reference,
        judge_registration,
        layer_placement,
        operator_prior,
        placement_error,
        score_inspection,
    )
    from hullscan.compare.fittings import amend_with
    from hullscan.errors import HullscanError
    from hullscan.inspection import ReferenceFile, replay

    bag = out / "bags" / f.stem
    _simulate(f, bag, args.resimulate)
    truth_dir = Path(f"{bag}.truth")
    truth = json.loads((truth_dir / "truth.json").read_text())
    ref = evaluation_reference(operator_notes_for(bag))
    plan_file = fittings_plan_for(bag)
    plan = None
    if args.fittings and plan_file.exists():
        from hullscan.compare.fittings import load_fittings

        plan = load_fittings(plan_file)
    traj = np.load(truth_dir / "trajectory_true.npz")
    pivot = traj["positions_hull"].mean(axis=0)
    rng = np.random.default_rng([args.prior_seed, int(hashlib.sha256(f.stem.encode()).hexdigest()[:8], 16)])
    result: Any = None
    runs: list[dict[str, Any]] = []
    for k in range(max(1, args.priors)):
        drawn = operator_prior(truth, pivot, rng)
        run_dir = out / f.stem if k == 0 else out / f.stem / f"prior_{k}"
        run_dir.mkdir(parents=True, exist_ok=True)
        prior_file = run_dir / "operator_prior.json"
        prior_file.write_text(json.dumps(drawn["prior"], indent=2))
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"scenario": f.stem, "k": k, "prior": drawn["error"]}
        try:
            reference = (ReferenceFile(None) if args.mirror
                         else ReferenceFile.from_notes(ref))
            ins = replay(str(bag), reference, str(run_dir), cfg, prior_path=str(prior_file),
                         progress=not args.no_progress, drift=not args.no_drift, camera=k == 0,
                         amend=amend_with(plan))
            if ins.track is not None and ins.cloud_to_ref is not None:
                stamps, positions, orientations = ins.track
                err = placement_error(ins, stamps, positions, orientations, traj, truth)
                reg = ins.alignment.registration if ins.alignment is not None else None
                rng_along = None if reg is None else reg.along_range_m
                rec["success"], rec["ambiguous"] = judge_registration(err, rng_along)
                rec["error"], rec["along_range_m"] = err, rng_along
                layer = layer_placement(ins, stamps, positions, orientations, traj, truth)
                if layer is not None and ins.alignment is not None and ins.alignment.layer is not None:
                    rec["error_layer"], rec["stated_layer_m"] = layer, ins.alignment.layer.thickness_m
            if k == 0:
                doc = json.loads((run_dir / "findings.json").read_text())
                result = score_inspection(ins, doc, truth, f.stem)
                if ins.coverage is not None:  # always there once replay returns (it raises otherwise)
                    result.coverage = ins.coverage.fraction
                    result.coverage_seen = ins.coverage.seen_fraction
                    result.coverage_by_height = dict(ins.coverage.cleared_by_height)
        except HullscanError as err_:
            rec["success"], rec["reason"] = False, str(err_)
            if k == 0:
                result = HullResult(f.stem, 0, error=str(err_))
        rec["time_s"] = round(time.perf_counter() - t0, 1)
        if k == 0:
            result.run_time_s = rec["time_s"]
        runs.append(rec)
    return result, runs


def run(args: argparse.Namespace) -> int:
    from hullscan.compare.evaluate import markdown_table, summarise, summarise_registration
    from hullscan.config import dump_config, load_config
    from hullscan.errors import HullscanError

    try:
        import hullscan_sim  # noqa: F401
    except ImportError as err:
        raise HullscanError("hullscan evaluate needs the simulator (hullscan_sim) installed") from err
    cfg = load_config(args.config)
    if not args.pdf:
        cfg = cfg.model_copy(update={"report": cfg.report.model_copy(update={"pdf": False})})
    srcs = [Path(x) for x in args.scenarios]
    files = [f for src in srcs for f in (sorted(src.glob("*.yaml")) if src.is_dir() else [src])]
    if args.only:
        files = [f for f in files if f.stem in args.only]
    files = [f for f in files if f.stem not in args.exclude]
    if not files:
        raise HullscanError(f"{', '.join(map(str, srcs))}: no scenario files")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.redive and not args.plan:
        raise HullscanError("--redive: give the re-dive's time window with --plan (e.g. --plan 20min)")
    if args.plan:
        return _plan_check(files, out, args)
    dump_config(cfg, out / "config.yaml")
    results, runs = [], []
    for i, f in enumerate(files):
        print(f"[evaluate] {i + 1}/{len(files)} {f.stem}", file=sys.stderr, flush=True)
        res, reg_runs = _one_scenario(f, out, cfg, args)
        results.append(res)
        runs.extend(reg_runs)
    summary = summarise(results)
    registration = summarise_registration(runs)
    (out / "evaluation.json").write_text(json.dumps(
        {"summary": summary, "registration": registration, "hulls": [r.__dict__ for r in results],
         "registration_runs": runs, "software": software()}, indent=2, default=str))
    table = markdown_table(summary, results) + "\n" + registration_table(registration) + "\n" + software_line()
    (out / "evaluation.md").write_text(table)
    print(table)
    return 0


def software_line() -> str:
    """What the figures were computed with, in one line (the same stack simulates other bags and
    scores otherwise on other versions: docs/evaluation.md, stop 45)."""
    listed = ", ".join(f"{k} {v}" for k, v in package_versions().items() if v is not None)
    return f"Computed with hullscan {__version__} on Python {platform.python_version()}: {listed}.\n"


def _plan_check(files: list[Path], out: Path, args: argparse.Namespace) -> int:
    """``--plan``: each scenario planned, flown and replayed; predicted against achieved coverage."""
    from hullscan.commands.plancheck import (
        PlanCheck,
        check_plan,
        check_redive,
        markdown,
        redive_markdown,
    )
    from hullscan.errors import HullscanError

    check = PlanCheck(args.plan, args.clear_height, progress=not args.no_progress, config=args.config)
    one, name, tabulate = (check_redive, "redive_vs_achieved", redive_markdown) if args.redive else \
        (check_plan, "plan_vs_achieved", markdown)
    results: list[dict[str, Any]] = []
    for i, f in enumerate(files):
        print(f"[evaluate --plan] {i + 1}/{len(files)} {f.stem}", file=sys.stderr, flush=True)
        try:
            results.append(one(f, out / f.stem, check))
        except HullscanError as err:  # one scenario failing does not stop the others
            error = " ".join(str(err).split())
            print(f"[evaluate --plan] {f.stem}: {error}", file=sys.stderr, flush=True)
            results.append({"scenario": f.stem, "error": error})
    (out / f"{name}.json").write_text(json.dumps({"runs": results}, indent=1))
    table = tabulate(results)
    (out / f"{name}.md").write_text(table)
    print(table)
    return 1 if any("error" in r for r in results) else 0


def registration_table(reg: dict[str, Any]) -> str:
    lines = ["| registration (operator priors) | value |", "|---|---|"]
    for k in ("runs", "success", "success_rate", "ambiguous", "observable", "within_target",
              "within_target_or_stated_along", "within_target_every_run", "within_target_every_run_no_layer",
              "placement_misses", "excused_by_stated_layer", "translation_error_m",
              "rotation_error_deg", "stated_along", "failures"):
        if k in reg:  # (an evaluation.json of an earlier version lacks the newer keys)
            lines.append(f"| {k} | {reg[k]} |")
    return "\n".join(lines) + "\n"
