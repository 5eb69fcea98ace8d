"""The survey's systematic error as the comparator reads it, for the planner's allowance.

    PYTHONPATH=. .venv/bin/python bench/systematic_terms.py --run runs/d1_a --scenario demo [--depth-smoothing 0.5]

Replays a scenario's bag from a ``hullscan evaluate`` run (its quay notes, ``operator_prior.json``,
as the prior; the bag's operator notes name the mesh and draft; no truth reaches the pipeline) with
the sonar uncertainty model, and reports the two systematic terms ``make_cells`` reads from the cloud:
the local term (the 0.5 m blocks' spread about the baseline, as a Gaussian sigma; median over blocks)
and the metre-scale term (``_wide_spread``; median over cells), and their combination, which is
what ``hullscan plan --systematic`` stands in for (``hullscan/plan/__init__.py``). The terms are
taken from inside ``make_cells`` by wrapping its helpers, so they are exactly what the comparator used.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
from hullscan_sim.simulate import operator_notes_for
from scipy.special import ndtri

import hullscan.compare.analysis as analysis
from hullscan.compare.evaluate import evaluation_reference
from hullscan.config import HullscanConfig
from hullscan.inspection import ReferenceFile, replay


def _capture() -> dict[str, list[Any]]:
    """Wrap make_cells' helpers: the block quantile computed just before the wide term is the local
    systematic term's; the wide term is returned per cell."""
    rec: dict[str, list[Any]] = {"last": [], "local": [], "wide": []}
    quantile, wide = analysis.group_quantile, analysis._wide_spread
    inside = [False]

    def group_quantile(*a: Any, **k: Any) -> Any:
        r = quantile(*a, **k)
        if not inside[0]:
            rec["last"].append(np.asarray(r))
        return r

    def wide_spread(*a: Any, **k: Any) -> Any:
        rec["local"].append(rec["last"][-1])
        inside[0] = True
        try:
            r = wide(*a, **k)
        finally:
            inside[0] = False
        rec["wide"].append(np.asarray(r))
        return r

    analysis.group_quantile = group_quantile
    analysis._wide_spread = wide_spread
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a hullscan evaluate output folder (bags/ and <scenario>/)")
    ap.add_argument("--scenario", required=True, action="append")
    ap.add_argument("--depth-smoothing", type=float, default=None, help="recon.nav_depth_smoothing_s (default: config's)")
    ap.add_argument("--out", default="runs/systematic_terms")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rec = _capture()
    cfg = HullscanConfig()
    if args.depth_smoothing is not None:
        cfg = cfg.model_copy(update={"recon": cfg.recon.model_copy(update={"nav_depth_smoothing_s": args.depth_smoothing})})
    unc = cfg.compare.uncertainty.model_copy(update={"model": "sonar"})
    cfg = cfg.model_copy(update={"compare": cfg.compare.model_copy(update={"uncertainty": unc})})
    q = cfg.compare.uncertainty.systematic_quantile
    run = Path(args.run)
    print("| survey | local (mm) | wide (mm) | combined (mm) |\n|---|---|---|---|")
    for name in args.scenario:
        bag = run / "bags" / name
        ref = evaluation_reference(operator_notes_for(bag))
        replay(str(bag), ReferenceFile.from_notes(ref),
               str(Path(args.out) / name), cfg, prior_path=str(run / name / "operator_prior.json"), progress=False,
               drift=True, camera=False)
        local = float(np.nanmedian(rec["local"][-1] / ndtri(0.5 + q / 2)))
        wide = float(np.nanmedian(rec["wide"][-1]))
        print(f"| {name} | {local * 1e3:.1f} | {wide * 1e3:.1f} | {np.hypot(local, wide) * 1e3:.1f} |", flush=True)


if __name__ == "__main__":
    main()
