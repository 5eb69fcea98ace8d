"""Detection scored on every prior of a ``hullscan evaluate --priors N`` run, not only the first.

    .venv/bin/python bench/false_alarms_all_priors.py --run runs/q39

``hullscan evaluate`` scores detection on each scenario's first prior; with 19 hulls one false alarm
more or less is 0.05 per hull, and which small bumps cross the seed threshold moves with the last
millimetres of a placement. Every prior's findings.json is matched here against the truth (in the
reference file's frame, as ``evaluate`` does), so the false-alarm rate rests on N times the runs. From
the saved outputs only: no replay, a few seconds. Parasites not matched are counted as undetected
without telling missed from not inspected (that needs the inspection's coverage): recall here is a
lower bound. Centroid errors too, with each detection's error along the ship against the finding's
stated along-ship uncertainty (the reference is loaded to put both in its internal frame, as
``evaluate`` does). Writes ``bench/results/<stem>.md`` and ``.json`` (default stem: false_alarms_all_priors).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.compare.evaluate import (
    evaluation_reference,
    match_truth,
    outside_stated_along,
    truth_in_reference_frame,
)
from hullscan.inspection import ReferenceFile, load_survey_reference

RESULTS = Path(__file__).resolve().parent / "results"


def runs_of(run: Path) -> list[tuple[str, int, Path]]:
    """(scenario, prior index, findings.json) for every run of an evaluation folder."""
    out = []
    for doc in sorted(run.glob("*/findings.json")):
        out.append((doc.parent.name, 0, doc))
        for extra in sorted(doc.parent.glob("prior_*/findings.json")):
            out.append((doc.parent.name, int(extra.parent.name.split("_")[1]), extra))
    return out


def along_ship(run: Path, name: str) -> Callable[[Any], float]:
    """A point's (reference file frame) position along the ship in the inspection's internal frame."""
    notes = evaluation_reference(run / "bags" / f"{name}.operator.yaml")
    ref = load_survey_reference(ReferenceFile.from_notes(notes))
    inverse = None if ref.ref_from_hull is None else ref.ref_from_hull.inverse()

    def along_of(c: Any) -> float:
        p = np.asarray(c, float)
        return float((p if inverse is None else inverse.apply(p))[0])
    return along_of


def score(run: Path) -> list[dict[str, Any]]:
    rows = []
    along: dict[str, Callable[[Any], float]] = {}
    for name, k, path in runs_of(run):
        truth = json.loads((run / "bags" / f"{name}.truth" / "truth.json").read_text())
        doc = json.loads(path.read_text())
        if doc.get("status") != "complete":
            rows.append({"scenario": name, "prior": k, "status": doc.get("status"), "false_alarms": None})
            continue
        if name not in along:
            along[name] = along_ship(run, name)
        # A finding the ship's plan explains (evaluate --fittings) is not reported as a compartment.
        counted = [f for f in doc["findings"] if not (f.get("fitting") or {}).get("explained")]
        res = match_truth(counted, truth_in_reference_frame(truth), scenario=name, along_of=along[name])
        by_id = {f["id"]: f for f in doc["findings"]}
        hits = [by_id[d["finding"]] for d in res.detected if d.get("finding") in by_id]
        rows.append({"scenario": name, "prior": k, "status": "complete", "parasites": len(truth["parasites"]),
                     "detected": len(res.detected), "false_alarms": len(res.false_alarms),
                     "centroid_errors_m": [d["centroid_error_m"] for d in res.detected],
                     "centroid_errors_outside_stated_m": [outside_stated_along(d) for d in res.detected],
                     "false_alarm_volumes_l": [round(1000 * f["volume_m3"], 1) for f in res.false_alarms],
                     # Evidence across passes (findings.json 2.4; None where the cloud kept no times).
                     "detected_passes": [f.get("passes") for f in hits],
                     "detected_confidence": [f["confidence"] for f in hits],
                     "false_alarm_passes": [f.get("passes") for f in res.false_alarms],
                     "false_alarm_confidence": [f["confidence"] for f in res.false_alarms]})
    return rows


def by_passes(rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """How many findings of ``what`` (detected, false_alarm) two or more passes saw, one pass, or
    unknown, and their confidence (median, and the share in the high class, >= 0.7)."""
    passes = [p for r in rows for p in r.get(f"{what}_passes", [])]
    conf = [c for r in rows for c in r.get(f"{what}_confidence", [])]
    out: dict[str, Any] = {"n": len(passes), "two_or_more": sum(1 for p in passes if p is not None and p >= 2),
                           "one": sum(1 for p in passes if p == 1), "unknown": sum(1 for p in passes if p is None)}
    for label, pick in (("two_or_more", lambda p: p is not None and p >= 2), ("one", lambda p: p == 1)):
        cs = sorted(c for p, c in zip(passes, conf, strict=True) if pick(p))
        out[f"confidence_{label}"] = ({"median": cs[len(cs) // 2], "high_share": round(sum(c >= 0.7 for c in cs) / len(cs), 3)}
                                      if cs else None)
    return out


def centroid_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Centroid errors over every detection of ``rows``: raw and net of the stated along-ship uncertainty."""
    raw = [e for r in rows for e in r.get("centroid_errors_m", [])]
    net = [e for r in rows for e in r.get("centroid_errors_outside_stated_m", [])]
    return {"n": len(raw), "max_m": max(raw, default=None), "over_0.25_m": sum(e > 0.25 for e in raw),
            "outside_stated_max_m": max(net, default=None), "outside_stated_over_0.25_m": sum(e > 0.25 for e in net)}


def _conf(c: dict[str, Any] | None) -> str:
    return "-" if c is None else f"{c['median']:.2f} ({100 * c['high_share']:.0f} % high)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate --priors N")
    ap.add_argument("--out", default="false_alarms_all_priors", help="results name")
    args = ap.parse_args()
    rows = score(Path(args.run))
    done = [r for r in rows if r["status"] == "complete"]
    n_fa = sum(r["false_alarms"] for r in done)
    first = [r for r in done if r["prior"] == 0]
    summary = {"run": args.run, "runs": len(rows), "complete": len(done),
               "false_alarms": n_fa, "false_alarms_per_run": round(n_fa / len(done), 3) if done else None,
               "runs_with_false_alarms": sum(r["false_alarms"] > 0 for r in done),
               "first_prior_false_alarms_per_run": round(sum(r["false_alarms"] for r in first) / len(first), 3)
               if first else None,
               "detected": sum(r["detected"] for r in done), "parasites": sum(r["parasites"] for r in done),
               "centroid": centroid_summary(done),
               "passes": {"detected": by_passes(done, "detected"), "false_alarms": by_passes(done, "false_alarm")}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"summary": summary, "runs": rows}, indent=1))
    lines = ["# False alarms on every prior", "",
             f"`bench/false_alarms_all_priors.py --run {args.run}`: {summary['complete']} of {summary['runs']} runs "
             f"complete; **{n_fa} false alarms, {summary['false_alarms_per_run']} per run** "
             f"({summary['runs_with_false_alarms']} runs with any); first priors only "
             f"{summary['first_prior_false_alarms_per_run']}; parasites matched {summary['detected']} of "
             f"{summary['parasites']} (not matched: missed or not inspected).", "",
             f"Centroid error over every detection: max {summary['centroid']['max_m']} m, "
             f"{summary['centroid']['over_0.25_m']} of {summary['centroid']['n']} over 0.25 m; net of each finding's "
             f"stated along-ship uncertainty (across and in depth in full, along the ship what lies beyond it): "
             f"max {summary['centroid']['outside_stated_max_m']} m, {summary['centroid']['outside_stated_over_0.25_m']} "
             "over 0.25 m.", "",
             "Evidence across passes (findings.json `passes`; confidence median and share >= 0.7):", "",
             "| findings | n | 2+ passes | one pass | unknown | confidence, 2+ passes | confidence, one pass |",
             "|---|---|---|---|---|---|---|",
             *[f"| {label} | {b['n']} | {b['two_or_more']} | {b['one']} | {b['unknown']} | "
               f"{_conf(b['confidence_two_or_more'])} | {_conf(b['confidence_one'])} |"
               for label, b in (("detected", summary["passes"]["detected"]),
                                ("false alarms", summary["passes"]["false_alarms"]))], "",
             "| scenario | prior | false alarms (litres) | detected / parasites |", "|---|---|---|---|"]
    for r in rows:
        if r["status"] != "complete":
            lines.append(f"| {r['scenario']} | {r['prior']} | {r['status']} | |")
        else:
            lines.append(f"| {r['scenario']} | {r['prior']} | {r['false_alarms']} {r['false_alarm_volumes_l'] or ''} "
                         f"| {r['detected']} / {r['parasites']} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:10]))


if __name__ == "__main__":
    main()
