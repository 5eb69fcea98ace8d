"""Live registration from the quay notes, over the scenario library: what a dive team launching
``inspect.launch.py ... prior:=quay.yaml`` gets at the end of each survey.

    .venv/bin/python bench/live_quay_registration.py --bags runs/p51a/bags --out live_quay_registration

For every simulated survey in ``--bags``: the hull map as the live mapper builds it (no drift
correction: ``reconstruct_bag`` with the default config, as ``replay --no-drift``), the design hull and
draft the quay notes (``BAG.operator.yaml``) name, read as the comparator node reads them, and the
notes' prior placed at the survey's first fix (:meth:`hullscan.compare.live.LiveComparator.first_fix`);
then the final inspection (:meth:`LiveComparator.inspect`). Scored afterwards against the simulator's
truth, which the run never sees, as ``hullscan evaluate`` scores a replay
(:func:`hullscan.compare.evaluate.placement_error`: the vehicle's track as the inspection placed it,
block corrections included, against the true track; ``translation_m`` the mean offset, ``rms_m`` the
scatter about it).
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
from hullscan.compare.evaluate import evaluation_reference, placement_error
from hullscan.config import HullscanConfig
from hullscan.errors import HullscanError
from hullscan.inspection import first_fix
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
    recon = reconstruct_bag(bag, cfg, progress=False)
    cloud = recon.cloud
    lc = live.LiveComparator(reference, cfg.compare, quay=quay)
    lc.first_fix(first_fix(str(bag), cfg))
    res = lc.inspect(cloud, final=True)
    row: dict[str, Any] = {"scenario": bag.name, "ok": res.ok, "error": res.error, "seconds": 0.0,
                           "map_points": len(cloud)}
    ins = res.inspection
    if res.ok and ins is not None and recon.trajectory is not None:
        # Scored as hullscan evaluate scores a replay (placement_error): the vehicle's track as the
        # inspection placed it (the rigid registration, then the comparison's block corrections)
        # against the true track, in the reference file's frame.
        truth_dir = bag.with_name(bag.name + ".truth")
        truth = json.loads((truth_dir / "truth.json").read_text())
        tr = recon.trajectory
        err = placement_error(ins, tr.stamps_ns, tr.positions, tr.orientations,
                              dict(np.load(truth_dir / "trajectory_true.npz")), truth)
        reg = ins.alignment.registration if ins.alignment is not None else None
        row.update({k: err[k] for k in ("translation_m", "along_m", "across_m", "vertical_m", "rotation_deg", "rms_m")},
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
    placed = [r for r in rows if r.get("ok") and r.get("translation_m") is not None]
    summary = {"surveys": len(rows), "registered": len(placed),
               "within_5cm_and_0.1deg": sum(r["translation_m"] <= 0.05 and r["rotation_deg"] <= 0.1 for r in placed),
               "translation_median_m": round(float(np.median([r["translation_m"] for r in placed])), 4) if placed else None,
               "rms_median_m": round(float(np.median([r["rms_m"] for r in placed])), 4) if placed else None}
    cmd = "python bench/live_quay_registration.py --bags " + str(args.bags) + "".join(
        f" --only {o}" for o in args.only) + "".join(f" --exclude {e}" for e in args.exclude) + f" --out {args.out}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"command": cmd, "summary": summary, "runs": rows}, indent=2))
    lines = [f"# Live registration from the quay notes\n\n`{cmd}`\n",
             f"{summary['registered']} of {summary['surveys']} surveys registered; placed within 5 cm and 0.1 deg in "
             f"{summary['within_5cm_and_0.1deg']}; translation median {summary['translation_median_m']} m, the track's "
             f"scatter about it (rms) median {summary['rms_median_m']} m (no drift correction live; scored as "
             "hullscan evaluate scores a replay).\n",
             "| scenario | registered | translation m | along m | across m | vertical m | heading deg | rms m | findings "
             "| along ambiguous | map points | s | error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {'yes' if r.get('ok') else 'no'} | " + " | ".join(
            str(r.get(k, "")) for k in ("translation_m", "along_m", "across_m", "vertical_m", "rotation_deg", "rms_m",
                                        "findings", "along_ambiguous", "map_points", "seconds"))
                     + f" | {str(r.get('error') or '')[:160]} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
