"""``hullscan evaluate --scenarios sim/scenarios --out DIR``: the comparator against ground truth.

Simulates every scenario, replays it end to end against the scenario's design mesh (with the
navigation prior from the truth), matches findings to the truth parasites, and writes
evaluation.json and evaluation.md (recall, precision, false alarms per hull, centroid and volume
error by size class and region, run time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

EXAMPLES = """\
examples:
  hullscan evaluate --scenarios sim/scenarios --out runs/eval
  hullscan evaluate --scenarios sim/scenarios --only box_on_side --out runs/eval
  hullscan evaluate --scenarios sim/scenarios --mirror --out runs/eval-mirror   mirror mode instead of the mesh
  hullscan evaluate --scenarios sim/scenarios --drift --out runs/eval-drift     correct navigation drift first
"""


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="simulate scenarios, inspect them, score against ground truth",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", required=True, help="folder of scenario YAML files (or one file)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    p.add_argument("--mirror", action="store_true", help="evaluate mirror mode instead of the design mesh")
    p.add_argument("--drift", action="store_true",
                   help="correct navigation drift before inspecting (against the design mesh; in mirror "
                        "mode between submaps), as hullscan replay --drift")
    p.add_argument("--config", help="YAML config")
    p.add_argument("--resimulate", action="store_true",
                   help="simulate again even when OUT/bags holds a bag of the same scenario file")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.commands.replay import replay
    from hullscan.compare.evaluate import (
        HullResult,
        markdown_table,
        match_truth,
        summarise,
    )
    from hullscan.config import dump_config, load_config
    from hullscan.errors import HullscanError

    try:
        from hullscan_sim import simulate
    except ImportError as err:
        raise HullscanError("hullscan evaluate needs the simulator (hullscan_sim) installed") from err
    cfg = load_config(args.config)
    src = Path(args.scenarios)
    files = sorted(src.glob("*.yaml")) if src.is_dir() else [src]
    if args.only:
        files = [f for f in files if f.stem in args.only]
    if not files:
        raise HullscanError(f"{src}: no scenario files")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, out / "config.yaml")
    results = []
    for i, f in enumerate(files):
        print(f"[evaluate] {i + 1}/{len(files)} {f.stem}", file=sys.stderr, flush=True)
        bag = out / "bags" / f.stem
        truth_dir = Path(f"{bag}.truth")
        t0 = time.perf_counter()
        res: HullResult
        try:
            # A bag from an earlier run of the same scenario file is reused (the simulator is
            # deterministic for the seed); a changed scenario file is simulated again.
            stamp = Path(f"{bag}.scenario.sha256")
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            fresh = (not args.resimulate and stamp.exists() and stamp.read_text().strip() == digest
                     and (truth_dir / "truth.json").exists())
            if not fresh:
                simulate(f, bag, overwrite=True)
                stamp.write_text(digest + "\n")
            truth = json.loads((truth_dir / "truth.json").read_text())
            ins = replay(str(bag), None if args.mirror else str(truth_dir / "reference.ply"), str(out / f.stem),
                         cfg, hull_to_nav=str(truth_dir / "truth.json"), progress=not args.no_progress,
                         drift=args.drift)
            doc = json.loads((out / f.stem / "findings.json").read_text())
            res = match_truth(doc["findings"], truth.get("parasites", []), ins.status_at, scenario=f.stem,
                              reason_at=ins.reason_not_inspected)
            res.coverage = ins.coverage.fraction
            res.coverage_seen = ins.coverage.seen_fraction
            res.coverage_by_height = dict(ins.coverage.cleared_by_height)
        except HullscanError as err:
            res = HullResult(f.stem, 0, error=str(err))
        res.run_time_s = time.perf_counter() - t0
        results.append(res)
    summary = summarise(results)
    (out / "evaluation.json").write_text(json.dumps({"summary": summary, "hulls": [r.__dict__ for r in results]},
                                                    indent=2, default=str))
    (out / "evaluation.md").write_text(markdown_table(summary, results))
    print(markdown_table(summary, results))
    return 0
