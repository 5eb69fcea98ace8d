"""Live registration from the quay notes, over the scenario library: what a dive team launching
``inspect.launch.py ... prior:=quay.yaml`` gets at the end of each survey.

    .venv/bin/python bench/live_quay_registration.py --bags runs/p51a/bags --out live_quay_registration

For every simulated survey in ``--bags``: the hull map as the live mapper builds it (no drift
correction: ``reconstruct_bag`` with the default config, as ``replay --no-drift``), the design hull and
draft the quay notes (``BAG.operator.yaml``) name, read as the comparator node reads them, and the
notes' prior placed at the survey's first fix (:meth:`hullscan.compare.live.LiveComparator.first_fix`);
then the final inspection (:meth:`LiveComparator.inspect`). Scored afterwards against the simulator's
truth, which the run never sees: the reference's samples the inspection saw, placed in the navigation
frame by the registration and by the truth, and the distance between the two (median, 95th percentile).
Replay registers after drift correction (``hullscan evaluate``'s figures); live there is none, so a long
drifting survey is registered rigidly here and its far ends sit off by the drift. Writes
``bench/results/<out>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.compare import live
from hullscan.compare.evaluate import evaluation_reference
from hullscan.config import HullscanConfig
from hullscan.errors import HullscanError
from hullscan.inspection import first_fix
from hullscan.model import Transform
from hullscan.recon import reconstruct_bag

RESULTS = Path(__file__).resolve().parent / "results"


def run_one(bag: Path, cfg: HullscanConfig) -> dict[str, Any]:
    """One survey through the live comparator from its quay notes; the truth only scores it."""
    notes_file = bag.with_name(bag.name + ".operator.yaml")
    ref = evaluation_reference(notes_file)
    t0 = time.perf_counter()
    reference = live.load_reference(ref.path, ref.draft_m, ref.trim_m, ref.length_m or 0.0, ref.units, ref.up, ref.bow)
    quay = live.quay_prior(str(notes_file), reference, cfg.compare)
    if quay is None:
        return {"scenario": bag.name, "ok": False, "error": f"{notes_file}: no quay prior"}
    cloud = reconstruct_bag(bag, cfg, progress=False).cloud
    lc = live.LiveComparator(reference, cfg.compare, quay=quay)
    lc.first_fix(first_fix(str(bag), cfg))
    res = lc.inspect(cloud, final=True)
    row: dict[str, Any] = {"scenario": bag.name, "ok": res.ok, "error": res.error, "seconds": 0.0,
                           "map_points": len(cloud)}
    ins, view = res.inspection, res.view
    if res.ok and ins is not None and view is not None:
        truth = json.loads((bag.with_name(bag.name + ".truth") / "truth.json").read_text())
        true_h2n = Transform(truth["hull_to_nav"]["rotation"], truth["hull_to_nav"]["translation"])
        frame = truth.get("reference_frame")
        hull_from_file = (Transform(frame["ref_from_hull"]["rotation"], frame["ref_from_hull"]["translation"]).inverse()
                          if frame else Transform())
        seen = np.asarray(view.seen_any if view.seen_any is not None else view.seen, bool)
        samples = np.asarray(view.samples, np.float64)[seen]
        est = res.hull_to_nav.apply(samples)
        true = true_h2n.apply(hull_from_file.apply(ins.to_user(samples)))
        d = np.linalg.norm(est - true, axis=1)
        reg = ins.alignment.registration if ins.alignment is not None else None
        row.update(median_m=round(float(np.median(d)), 4), p95_m=round(float(np.percentile(d, 95)), 4),
                   findings=len(res.findings), along_ambiguous=bool(reg and reg.along_ambiguous))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bags", type=Path, required=True, help="folder of simulated bags with their quay notes")
    ap.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    ap.add_argument("--exclude", action="append", default=[], help="scenario name to leave out (repeatable)")
    ap.add_argument("--out", default="live_quay_registration", help="results file stem in bench/results")
    args = ap.parse_args()
    cfg = HullscanConfig()
    bags = sorted(p.with_name(p.name.removesuffix(".operator.yaml")) for p in args.bags.glob("*.operator.yaml"))
    bags = [b for b in bags if (not args.only or b.name in args.only) and b.name not in args.exclude]
    rows = []
    for i, bag in enumerate(bags, 1):
        print(f"[{i}/{len(bags)}] {bag.name}", flush=True)
        try:
            rows.append(run_one(bag, cfg))
        except HullscanError as err:
            rows.append({"scenario": bag.name, "ok": False, "error": f"{type(err).__name__}: {err}"})
        print(f"    {rows[-1]}", flush=True)
    placed = [r for r in rows if r.get("ok") and r.get("median_m") is not None]
    summary = {"surveys": len(rows), "registered": len(placed),
               "median_within_5cm": sum(r["median_m"] <= 0.05 for r in placed),
               "p95_within_25cm": sum(r["p95_m"] <= 0.25 for r in placed)}
    cmd = "python bench/live_quay_registration.py --bags " + str(args.bags) + "".join(
        f" --only {o}" for o in args.only) + "".join(f" --exclude {e}" for e in args.exclude) + f" --out {args.out}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"command": cmd, "summary": summary, "runs": rows}, indent=2))
    lines = [f"# Live registration from the quay notes\n\n`{cmd}`\n",
             f"{summary['registered']} of {summary['surveys']} surveys registered; median placement error of the "
             f"seen surface within 5 cm in {summary['median_within_5cm']}, 95th percentile within 25 cm in "
             f"{summary['p95_within_25cm']} (no drift correction live).\n",
             "| scenario | registered | median m | p95 m | findings | along ambiguous | map points | s | error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {'yes' if r.get('ok') else 'no'} | {r.get('median_m', '')} | "
                     f"{r.get('p95_m', '')} | {r.get('findings', '')} | {r.get('along_ambiguous', '')} | "
                     f"{r.get('map_points', '')} | {r.get('seconds', '')} | {str(r.get('error') or '')[:160]} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
