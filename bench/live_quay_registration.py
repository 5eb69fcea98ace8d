"""Live registration from the quay notes, over the scenario library: what a dive team launching
``inspect.launch.py ... prior:=quay.yaml`` gets during each survey and at its end.

    .venv/bin/python bench/live_quay_registration.py --bags runs/p51a/bags --out live_quay_registration

For every simulated survey in ``--bags``: the design hull and draft the quay notes (``BAG.operator.yaml``)
name, read as the comparator node reads them, and the notes' prior placed at the survey's first fix
(:meth:`hullscan.compare.live.LiveComparator.first_fix`). *During*: the map as the live mapper builds it
on the recorded navigation (``reconstruct_bag`` with the default config, bit for bit the live map) and
the comparator's inspection of it. *End*: the mapper's end of survey, the navigation drift corrected
against the placement the comparator publishes (:meth:`LiveComparator.placement`,
:class:`hullscan.compare.live.DriftReference`; ``recon.drift.require_reference`` as the mapper node
runs it), then the comparator's final inspection of that map. Both scored afterwards against the
simulator's truth, which the runs never see, as ``hullscan evaluate`` scores a replay
(:func:`hullscan.compare.evaluate.placement_error`: the vehicle's track as the inspection placed it,
block corrections included, against the true track; ``translation_m`` the mean offset, ``rms_m`` the
scatter about it). Writes ``bench/results/<out>.md`` and ``.json``.
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
from hullscan.recon.config import DriftConfig, ReconConfig
from hullscan.recon.live import drift_summary as live_drift_summary

RESULTS = Path(__file__).resolve().parent / "results"
# The live mapper's drift correction (hullscan.ros.mapper's defaults): only against a placed reference.
LIVE_DRIFT = HullscanConfig().model_copy(update={"recon": ReconConfig(drift=DriftConfig(enabled=True, require_reference=True))})


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
    if res.ok:
        row.update(_scored(bag, res, recon))
    # The survey's end as the mapper finishes it: the returns' navigation drift corrected against the
    # reference where the comparator placed it (/hullscan/placement: where it registered the map, or
    # where the prior put it when no inspection fitted), the map fused again, and the comparator's
    # final inspection of that map.
    drift_to = live.DriftReference(cfg.compare)
    drift_to.offer(lc.placement(live.reference_spec(str(ref.path), {
        "draft": ref.draft_m or 0.0, "trim": ref.trim_m or 0.0, "length": ref.length_m or 0.0,
        "units": ref.units, "up": ref.up, "bow": ref.bow})) or {})
    final = reconstruct_bag(bag, LIVE_DRIFT, progress=False, drift_reference=drift_to.placed())
    end = lc.inspect(final.cloud, final=True)
    row["corrected"] = live_drift_summary(final, drift_to.name)["corrected"]
    row["end_drift_s"] = round(final.timings_s.get("drift", 0.0), 1)  # what the correction adds to the survey's end
    row["end_ok"] = end.ok
    row.update({f"end_{k}": v for k, v in (_scored(bag, end, final) if end.ok else {"error": end.error}).items()})
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def _scored(bag: Path, res: live.LiveResult, recon: Any) -> dict[str, Any]:
    """Scored as hullscan evaluate scores a replay (placement_error): the vehicle's track as the
    inspection placed it (the rigid registration, then the comparison's block corrections) against
    the true track, in the reference file's frame."""
    ins = res.inspection
    if ins is None or recon.trajectory is None:
        return {}
    truth_dir = bag.with_name(bag.name + ".truth")
    truth = json.loads((truth_dir / "truth.json").read_text())
    tr = recon.trajectory
    err = placement_error(ins, tr.stamps_ns, tr.positions, tr.orientations,
                          dict(np.load(truth_dir / "trajectory_true.npz")), truth)
    reg = ins.alignment.registration if ins.alignment is not None else None
    return {**{k: err[k] for k in ("translation_m", "along_m", "across_m", "vertical_m", "rotation_deg", "rms_m")},
            "findings": len(res.findings), "along_ambiguous": bool(reg and reg.along_ambiguous)}


def _summary(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Registered, within 5 cm and 0.1 deg, and medians over the runs' ``key``-prefixed scores."""
    placed = [r for r in rows if r.get(f"{key}translation_m") is not None]
    t = [r[f"{key}translation_m"] for r in placed]
    return {"registered": len(placed),
            "within_5cm_and_0.1deg": sum(r[f"{key}translation_m"] <= 0.05 and r[f"{key}rotation_deg"] <= 0.1
                                         for r in placed),
            "translation_median_m": round(float(np.median(t)), 4) if t else None,
            "translation_max_m": round(float(np.max(t)), 4) if t else None,
            "rms_median_m": round(float(np.median([r[f"{key}rms_m"] for r in placed])), 4) if placed else None}


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
    summary = {"surveys": len(rows), "during": _summary(rows, ""), "end": _summary(rows, "end_"),
               "end_correction_s_max": max((r.get("end_drift_s", 0.0) for r in rows), default=0.0)}
    cmd = "python bench/live_quay_registration.py --bags " + str(args.bags) + "".join(
        f" --only {o}" for o in args.only) + "".join(f" --exclude {e}" for e in args.exclude) + f" --out {args.out}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"command": cmd, "summary": summary, "runs": rows}, indent=2))
    d, e = summary["during"], summary["end"]
    lines = [f"# Live registration from the quay notes\n\n`{cmd}`\n",
             f"During the survey (the map as recorded, registered rigidly): {d['registered']} of {summary['surveys']} "
             f"surveys registered; placed within 5 cm and 0.1 deg in {d['within_5cm_and_0.1deg']}; translation median "
             f"{d['translation_median_m']} m, the track's scatter about it (rms) median {d['rms_median_m']} m.\n",
             f"At the survey's end (the mapper's drift correction against the reference as the comparator placed it, "
             f"then the final inspection): {e['registered']} of {summary['surveys']} registered; within 5 cm and 0.1 "
             f"deg in {e['within_5cm_and_0.1deg']}; translation median {e['translation_median_m']} m, rms median "
             f"{e['rms_median_m']} m; the correction took at most {summary['end_correction_s_max']} s. Scored as hullscan "
             "evaluate scores a replay.\n",
             "| scenario | during: registered | translation m | heading deg | rms m | findings | end: corrected | "
             "registered | translation m | along m | across m | vertical m | heading deg | rms m | findings | correction s "
             "| map points | s | error |",
             "|" + "---|" * 19]
    for r in rows:
        lines.append(f"| {r['scenario']} | {'yes' if r.get('ok') else 'no'} | " + " | ".join(
            str(r.get(k, "")) for k in ("translation_m", "rotation_deg", "rms_m", "findings", "corrected"))
                     + f" | {'yes' if r.get('end_ok') else 'no'} | " + " | ".join(
            str(r.get(f"end_{k}", "")) for k in ("translation_m", "along_m", "across_m", "vertical_m", "rotation_deg",
                                                  "rms_m", "findings"))
                     + f" | {r.get('end_drift_s', '')} | {r.get('map_points', '')} | {r.get('seconds', '')} | "
                     f"{str(r.get('error') or '')[:120]} {str(r.get('end_error') or '')[:120]} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
