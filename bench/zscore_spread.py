"""Is the comparator's uncertainty honest? The z-scores of clean plating against N(0, 1).

    .venv/bin/python bench/zscore_spread.py --run runs/eval15 [--model sonar|estimated] [--only NAME]

``--run``: the output of ``hullscan evaluate`` (each scenario's ``cloud.ply`` and
``operator_prior.json``; ``bags/<scenario>.operator.yaml`` names the design mesh and draft). Each
cloud is compared as ``hullscan compare`` would with the operator prior. Truth is used only to
score: cells within 2 m of a real parasite or of a finding are left out, and what remains is clean
plating, where an honest z-score (residual / uncertainty) spreads as N(0, 1). Per scenario and per
incidence band of the cells' returns (the clouds carry each point's incidence): the standard
deviation of z, its robust spread (1.4826 MAD), and the share of |z| > 3 (0.27 % for N(0, 1)).

Results to bench/results/zscore_spread_<model>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.cloud_io import load_cloud
from hullscan.compare.config import CompareConfig
from hullscan.compare.evaluate import evaluation_reference
from hullscan.compare.inspect import attempt_inspection
from hullscan.compare.loading import load_prior
from hullscan.inspection import ReferenceFile, load_survey_reference
from hullscan.model import Transform

RESULTS = Path(__file__).resolve().parent / "results"
BANDS = ((0, 30), (30, 60), (60, 90))
CLEAR_M = 2.0


def spread(z: np.ndarray) -> dict[str, float | int]:
    if len(z) < 50:
        return {"n": len(z)}
    mad = 1.4826 * float(np.median(np.abs(z - np.median(z))))
    return {"n": len(z), "std": round(float(np.std(z)), 3), "robust": round(mad, 3),
            "over3": round(float(np.mean(np.abs(z) > 3)), 4)}


def scenario(run: Path, name: str, model: str, systematic: str = "alignment", random: str = "point",
             relief_deg: float = 0.0) -> dict[str, Any]:
    notes = evaluation_reference(run / "bags" / f"{name}.operator.yaml")
    ref = load_survey_reference(ReferenceFile.from_notes(notes))
    prior = load_prior(str(run / name / "operator_prior.json"))
    assert prior is not None
    cloud = load_cloud(run / name / "cloud.ply")
    cfg = CompareConfig(uncertainty={"model": model, "systematic": systematic, "random": random,
                                     "calibrate_relief_apart_deg": relief_deg})
    ins = attempt_inspection(cloud, ref.source, cfg, hull_to_nav=prior.hull_to_nav(ref.ref_from_hull),
                             sigma=prior.search)
    c = ins.cells
    if c is None:
        return {"scenario": name, "error": "; ".join(ins.notes[-1:])}
    truth = json.loads((run / "bags" / f"{name}.truth" / "truth.json").read_text())
    frame = truth.get("reference_frame")
    t_rfh = Transform(frame["ref_from_hull"]["rotation"], frame["ref_from_hull"]["translation"]) if frame else Transform()
    to_internal = (ref.ref_from_hull or Transform()).inverse() @ t_rfh
    avoid = [to_internal.apply(np.asarray(t["centroid_hull"], float)) for t in truth["parasites"]]
    avoid += [np.asarray(f.centroid, float) for f in ins.findings]
    clean = c.judged & np.isfinite(c.zscore)
    for p in avoid:
        clean &= np.linalg.norm(c.points - p, axis=1) > CLEAR_M
    row: dict[str, Any] = {"scenario": name, "model": c.uncertainty_model, "scale": round(c.uncertainty_scale, 3),
                           "all": spread(c.zscore[clean]),
                           "uncertainty_median_m": round(float(np.median(c.uncertainty[clean])), 4)
                           if c.uncertainty is not None and clean.any() else None}
    if c.uncertainty is not None and int(clean.sum()) >= 5 * 50:
        # The model's terms should order the cells by how far they scatter, and not only on average:
        # per fifth of the clean cells by the model's own uncertainty, the z-scores' robust spread
        # (each 1 for a model whose range matches the scatter's; rising: it under-states the roughest).
        u = c.uncertainty[clean]
        edges = np.quantile(u, np.linspace(0.0, 1.0, 6))
        fifth = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, 4)
        row["by_uncertainty_fifth"] = [spread(c.zscore[clean][fifth == k]).get("robust") for k in range(5)]
        row["uncertainty_fifth_edges_m"] = [round(float(e), 4) for e in edges]
    if cloud.incidence_deg is not None:
        finite = np.all(np.isfinite(cloud.points), axis=1)
        inc = np.asarray(cloud.incidence_deg, float)[finite]
        cell_inc = np.bincount(c.of_point, weights=inc, minlength=len(c.count)) / np.maximum(c.count, 1)
        for lo, hi in BANDS:
            row[f"incidence_{lo}_{hi}"] = spread(c.zscore[clean & (cell_inc >= lo) & (cell_inc < hi)])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate")
    ap.add_argument("--model", choices=("sonar", "estimated"), default="sonar")
    ap.add_argument("--only", action="append", help="scenario name (repeatable)")
    ap.add_argument("--random", choices=("point", "mean"), default=CompareConfig().uncertainty.random,
                    help="the estimated model's random term (compare.uncertainty.random)")
    ap.add_argument("--systematic", choices=("alignment", "local"), default=CompareConfig().uncertainty.systematic,
                    help="the estimated model's systematic term (compare.uncertainty.systematic)")
    ap.add_argument("--relief-deg", type=float, default=CompareConfig().uncertainty.calibrate_relief_apart_deg,
                    help="compare.uncertainty.calibrate_relief_apart_deg (0: off)")
    ap.add_argument("--out", default=None, help="results name (default zscore_spread_<model>)")
    args = ap.parse_args()
    logging.getLogger("hullscan").setLevel(logging.ERROR)
    run = Path(args.run)
    names = args.only or sorted(p.parent.name for p in run.glob("*/cloud.ply"))
    t0 = time.perf_counter()
    rows = []
    for i, name in enumerate(names):
        rows.append(scenario(run, name, args.model, args.systematic, args.random, args.relief_deg))
        print(f"[{i + 1}/{len(names)}] {name}: {rows[-1].get('all', rows[-1].get('error'))}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    u = CompareConfig().uncertainty
    # A trial's run never overwrites the default's results: non-default terms join the name.
    stem = args.out or "_".join([f"zscore_spread_{args.model}"] + [v for v, d in ((args.systematic, u.systematic),
                                                                               (args.random, u.random)) if v != d])
    (RESULTS / f"{stem}.json").write_text(json.dumps({"run": str(run), "rows": rows}, indent=1))
    cols = ["all"] + [f"incidence_{lo}_{hi}" for lo, hi in BANDS]
    lines = [f"# z-scores of clean plating ({args.model} model)", "",
             f"`bench/zscore_spread.py --run {run} --model {args.model} --systematic {args.systematic} --random {args.random}"
             + (f" --relief-deg {args.relief_deg:g}" if args.relief_deg != CompareConfig().uncertainty.calibrate_relief_apart_deg else "")
             + "`; "
             f"{time.perf_counter() - t0:.0f} s. "
             "Each entry: std / robust spread / share of |z| > 3 (N(0, 1): 1 / 1 / 0.0027).", "",
             "| scenario | scale | " + " | ".join(c.replace("incidence_", "incidence ").replace("_", "-") + " deg"
                                               if c != "all" else "all cells" for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            s = r.get(c) or {}
            cells.append(f"{s['std']} / {s['robust']} / {s['over3']}" if "std" in s else "-")
        lines.append(f"| {r['scenario']} | {r.get('scale', '-')} | " + " | ".join(cells) + " |")
    lines += ["", "Robust spread of z per fifth of the clean cells by the model's own uncertainty, lowest to "
              "highest (each 1 where the model's range matches the scatter's; rising: the roughest cells' "
              "uncertainty is under-stated, falling: over-stated):", "",
              "| scenario | 1st | 2nd | 3rd | 4th | 5th | uncertainty at the fifths' edges (mm) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r.get("by_uncertainty_fifth")
        if f:
            edges = " / ".join(f"{1000 * e:.1f}" for e in r["uncertainty_fifth_edges_m"])
            lines.append(f"| {r['scenario']} | " + " | ".join(str(v) for v in f) + f" | {edges} |")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
