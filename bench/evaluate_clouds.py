"""The comparator alone, scored, on the clouds a ``hullscan evaluate`` run saved.

    .venv/bin/python bench/evaluate_clouds.py --run runs/eval15 --out runs/eval15_sonar --model sonar

For comparator changes that leave the reconstruction as it is: each scenario's ``cloud.ply`` is
compared as ``hullscan compare CLOUD --reference MESH --draft D --prior operator_prior.json`` would
(the mesh and draft from ``bags/<scenario>.operator.yaml``, the operator prior the evaluation drew),
then scored against the truth like ``hullscan evaluate`` (recall, false alarms, coverage). About
4 minutes for the 19-scenario library on 2 cores, against about 25 for the full evaluation. The
registration starts from the operator prior afresh, where ``replay`` refines the drift stage's: a
few scenarios place the survey differently (see docs/results/issue15_uncertainty.md).

Writes ``OUT/<scenario>/`` (the compare outputs), ``OUT/evaluation.json`` and ``OUT/evaluation.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from hullscan.compare.evaluate import (
    HullResult,
    evaluation_reference,
    markdown_table,
    score_inspection,
    summarise,
)
from hullscan.config import HullscanConfig, load_config
from hullscan.errors import HullscanError
from hullscan.inspection import ReferenceFile, compare_cloud


def one(run: Path, name: str, out: Path, cfg: HullscanConfig) -> HullResult:
    notes = evaluation_reference(run / "bags" / f"{name}.operator.yaml")
    truth = json.loads((run / "bags" / f"{name}.truth" / "truth.json").read_text())
    t0 = time.perf_counter()
    try:
        ins = compare_cloud(str(run / name / "cloud.ply"),
                            ReferenceFile.from_notes(notes),
                            str(out / name), cfg, prior_path=str(run / name / "operator_prior.json"),
                            progress=False)
        res = score_inspection(ins, json.loads((out / name / "findings.json").read_text()), truth, name)
        assert ins.coverage is not None
        res.coverage, res.coverage_seen = ins.coverage.fraction, ins.coverage.seen_fraction
        res.coverage_by_height = dict(ins.coverage.cleared_by_height)
    except HullscanError as err:
        res = HullResult(name, 0, error=str(err))
    res.run_time_s = round(time.perf_counter() - t0, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--model", choices=("sonar", "estimated"), default=None,
                    help="compare.uncertainty.model (default: the config's)")
    ap.add_argument("--config", default=None, help="YAML config")
    ap.add_argument("--only", action="append", help="scenario name (repeatable)")
    args = ap.parse_args()
    logging.getLogger("hullscan").setLevel(logging.ERROR)
    cfg = load_config(args.config)
    compare = cfg.compare
    if args.model:
        compare = compare.model_copy(update={"uncertainty": compare.uncertainty.model_copy(update={"model": args.model})})
    cfg = cfg.model_copy(update={"compare": compare, "report": cfg.report.model_copy(update={"pdf": False})})
    run, out = Path(args.run), Path(args.out)
    names = args.only or sorted(p.parent.name for p in run.glob("*/cloud.ply"))
    results = []
    for i, name in enumerate(names):
        results.append(one(run, name, out, cfg))
        r = results[-1]
        print(f"[{i + 1}/{len(names)}] {name}: {len(r.detected)} detected, {len(r.missed)} missed, "
              f"{len(r.false_alarms)} false alarms", flush=True)
    summary = summarise(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps({"run": str(run), "model": compare.uncertainty.model,
                                                     "summary": summary, "hulls": [r.__dict__ for r in results]},
                                                    indent=1, default=str))
    table = markdown_table(summary, results)
    (out / "evaluation.md").write_text(f"`bench/evaluate_clouds.py --run {run} --out {out}"
                                       f" --model {compare.uncertainty.model}`\n\n" + table)
    print(table)


if __name__ == "__main__":
    main()
