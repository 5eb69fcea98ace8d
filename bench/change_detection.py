"""Change detection between two visits of one ship (issue 19, part 4): recall and false alarms.

For each pair in ``sim/scenarios/visits`` (``<name>_1.yaml``, the earlier visit, and ``<name>_2.yaml``,
today's), as a port's team would run it::

    hullscan simulate --scenario visits/<name>_1.yaml --out bags/<name>_1        (and _2)
    hullscan replay bags/<name>_1 --reference MESH --draft D [--trim T] --prior bags/<name>_1.operator.yaml \\
        --vessel IMO --db history.db --cleared --out <name>_1
    hullscan replay bags/<name>_2 --reference MESH --draft D [--trim T] --prior bags/<name>_2.operator.yaml \\
        --vessel IMO --db history.db --out <name>_2

The first visit's findings were checked and are benign (``--cleared``): its cloud is the vessel's clean
scan. The second visit is compared with the design mesh and then with that scan; each finding is
marked new, present or not seen since the first visit. Nothing from the simulator's truth goes into
the runs (mesh, draft, trim and the quay prior come from the operator notes); truth only scores:

* **recall (new)**: the parasites only in the second visit's truth (new since the first) that a
  finding marked "new" matches, over those of 0.03 m^3 or more whose place the first visit saw
  (target >= 0.95). A new parasite where the first visit's cloud has fewer than 50 points within
  0.5 m of it (placed by that visit's true transform) is **not comparable**: no system can call it new
  since a visit that did not look there; it is listed with its mark (the right one is "not seen");
* **false alarms**: findings marked "new" that match no new parasite (target <= 0.2 per pair);
* also: parasites in both visits marked "present" (right) or "new" (a false alarm), and any not seen.

Usage::

    python bench/change_detection.py --out runs/change [--only topsides] [--resimulate] [--config FILE]

Writes ``change_detection.json`` and ``change_detection.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.compare.evaluate import evaluation_reference, match_truth, truth_in_reference_frame

REPO = Path(__file__).resolve().parents[1]
VISITS = REPO / "sim" / "scenarios" / "visits"
NEW_MIN_VOLUME_M3 = 0.03
# Scoring only: the first visit saw a parasite's place when its cloud has this many points within
# SEEN_RADIUS_M of the parasite's anchor (a lane over it leaves hundreds; the fringe of one, tens).
SEEN_RADIUS_M = 0.5
SEEN_MIN_POINTS = 50


def imo_for(k: int) -> str:
    """A valid IMO number (check digit) for pair ``k``: one vessel per pair."""
    base = f"{907470 + k:06d}"
    check = sum(int(d) * (7 - i) for i, d in enumerate(base)) % 10
    return base + str(check)


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode not in ok:
        raise SystemExit(f"hullscan {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def _replay(bag: Path, out: Path, imo: str, db: Path, cleared: bool, config: Path | None
            ) -> tuple[dict[str, Any], float]:
    ref = evaluation_reference(bag.with_name(bag.name + ".operator.yaml"))
    args = ["replay", str(bag), "--reference", ref.path, "--units", ref.units, "--up", ref.up, "--bow", ref.bow,
            "--draft", str(ref.draft_m), "--prior", str(bag.with_name(bag.name + ".operator.yaml")),
            "--vessel", imo, "--db", str(db), "--out", str(out), "--no-progress"]
    if ref.trim_m:
        args += ["--trim", str(ref.trim_m)]
    if cleared:
        args.append("--cleared")
    if config is not None:
        args += ["--config", str(config)]
    t0 = time.perf_counter()
    _cli(*args, ok=(0, 3, 4))  # 4: nothing found but too little cleared
    return json.loads((out / "findings.json").read_text()), time.perf_counter() - t0


def first_visit_points_at(first_truth: dict[str, Any], first_cloud: Path, second_truth: dict[str, Any]
                          ) -> dict[str, int]:
    """Scoring only: how many points of the first visit's cloud lie within SEEN_RADIUS_M of each
    second-visit parasite's anchor on the plating (placed by the first visit's true transform)."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    from hullscan.cloud_io import load_cloud

    def file_from_hull(truth: dict[str, Any]) -> tuple[Rotation, np.ndarray]:
        # A mesh ship's hull frame moves with the visit's draft and trim; the mesh file's does not.
        f = (truth.get("reference_frame") or {}).get("ref_from_hull") or {"rotation": [0, 0, 0, 1], "translation": [0, 0, 0]}
        return Rotation.from_quat(f["rotation"]), np.asarray(f["translation"], float)

    h = first_truth["hull_to_nav"]
    pts = np.asarray(load_cloud(str(first_cloud)).points, float)
    hull1 = Rotation.from_quat(h["rotation"]).inv().apply(pts - np.asarray(h["translation"], float))
    (r1, t1), (r2, t2) = file_from_hull(first_truth), file_from_hull(second_truth)
    tree = cKDTree(r1.apply(hull1) + t1)  # the first visit's cloud in the mesh file's frame
    anchors = {p["id"]: r2.apply(np.asarray(p["anchor_hull"], float)) + t2 for p in second_truth.get("parasites", [])}
    return {pid: int(tree.query_ball_point(a, SEEN_RADIUS_M, return_length=True)) for pid, a in anchors.items()}


def score_pair(name: str, first_truth: dict[str, Any], second_truth: dict[str, Any], doc: dict[str, Any],
               first_points: dict[str, int] | None = None) -> dict[str, Any]:
    """The second visit's marked findings against the truth: what is new, what was there before.
    ``first_points``: the first visit's points at each parasite (:func:`first_visit_points_at`); a new
    parasite where it has fewer than SEEN_MIN_POINTS is not comparable (no system can call it new)."""
    before = {p["id"] for p in first_truth.get("parasites", [])}
    parasites = truth_in_reference_frame(second_truth)
    unseen = {pid for pid, n in (first_points or {}).items() if n < SEEN_MIN_POINTS}
    new = [p for p in parasites if p["id"] not in before]
    old = [p for p in parasites if p["id"] in before]
    findings = doc.get("findings", [])

    def status(f: dict[str, Any]) -> str:
        return str((f.get("history") or {}).get("status", "unmarked"))

    marked_new = [f for f in findings if status(f) == "new"]
    res_new = match_truth(marked_new, new, scenario=name)
    any_match = match_truth(findings, parasites, scenario=name)
    found_by = {d["truth"]["id"]: d["finding"] for d in any_match.detected}
    by_id = {f["id"]: f for f in findings}
    rows = []
    for p in parasites:
        fid = found_by.get(p["id"])
        rows.append({"id": p["id"], "new": p["id"] not in before, "volume_m3": round(float(p["volume_m3"]), 4),
                     "finding": fid, "marked": status(by_id[fid]) if fid else None,
                     "first_visit_points": (first_points or {}).get(p["id"])})
    target = [p for p in new if p["volume_m3"] >= NEW_MIN_VOLUME_M3 and p["id"] not in unseen]
    hit_ids = {d["truth"]["id"] for d in res_new.detected}
    return {
        "pair": name,
        "history": (doc.get("history") or {}).get("status"),
        "history_summary": (doc.get("history") or {}).get("summary"),
        "new_parasites": len(new), "new_target": len(target),
        "new_not_comparable": sorted(p["id"] for p in new if p["id"] in unseen),
        "new_found_marked_new": sum(p["id"] in hit_ids for p in target),
        "old_parasites": len(old),
        "old_marked_present": sum(1 for r in rows if not r["new"] and r["marked"] == "present"),
        "false_alarms": len(res_new.false_alarms),
        "false_alarm_ids": [f["id"] for f in res_new.false_alarms],
        "findings": len(findings),
        "marks": {s: sum(status(f) == s for f in findings) for s in ("new", "present", "not_seen", "unmarked")},
        "parasites": rows,
    }


def run_pair(name: str, k: int, out: Path, resimulate: bool, config: Path | None) -> dict[str, Any]:
    bags = out / "bags"
    bags.mkdir(parents=True, exist_ok=True)
    db = out / f"{name}_history.db"
    db.unlink(missing_ok=True)  # each pair starts from an empty history
    truths, times = [], {}
    for visit in (1, 2):
        bag = bags / f"{name}_{visit}"
        if resimulate or not bag.exists():
            _cli("simulate", "--scenario", str(VISITS / f"{name}_{visit}.yaml"), "--out", str(bag), "--force")
        truths.append(json.loads((bag.with_name(bag.name + ".truth") / "truth.json").read_text()))
    doc1, times["visit_1_s"] = _replay(bags / f"{name}_1", out / f"{name}_1", imo_for(k), db, True, config)
    doc2, times["visit_2_s"] = _replay(bags / f"{name}_2", out / f"{name}_2", imo_for(k), db, False, config)
    row = score_pair(name, truths[0], truths[1], doc2, first_visit_points_at(truths[0], out / f"{name}_1" / "cloud.ply",
                                                                                truths[1]))
    row.update({k2: round(v, 1) for k2, v in times.items()})
    row["visit_1_findings"] = len(doc1.get("findings", []))
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    target = sum(r["new_target"] for r in rows)
    hit = sum(r["new_found_marked_new"] for r in rows)
    fa = sum(r["false_alarms"] for r in rows)
    return {"pairs": len(rows), "new_target": target, "new_found_marked_new": hit,
            "recall_new": None if not target else round(hit / target, 3),
            "false_alarms": fa, "false_alarms_per_pair": round(fa / max(len(rows), 1), 3),
            "old_parasites": sum(r["old_parasites"] for r in rows),
            "old_marked_present": sum(r["old_marked_present"] for r in rows),
            "compared": sum(r["history"] == "compared" for r in rows)}


def markdown(rows: list[dict[str, Any]], summary: dict[str, Any], command: str) -> str:
    lines = ["# Change detection between two visits (issue 19, part 4)", "", f"    {command}", "",
             "| pair | history | new (>= 0.03 m^3) found and marked new | false alarms (marked new, nothing new there) "
             "| before: marked present | marks (new/present/not seen) | visit 1 s | visit 2 s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["marks"]
        lines.append(f"| {r['pair']} | {r['history']} | {r['new_found_marked_new']}/{r['new_target']} | "
                     f"{r['false_alarms']} {r['false_alarm_ids'] or ''} | {r['old_marked_present']}/{r['old_parasites']} | "
                     f"{m['new']}/{m['present']}/{m['not_seen']} | {r['visit_1_s']} | {r['visit_2_s']} |")
    s = summary
    lines += ["", f"recall (new, >= 0.03 m^3): **{s['recall_new']}** ({s['new_found_marked_new']}/{s['new_target']}; "
              "target >= 0.95); false alarms per pair: "
              f"**{s['false_alarms_per_pair']}** (target <= 0.2); parasites from before marked present: "
              f"{s['old_marked_present']}/{s['old_parasites']}; compared with the earlier scan in "
              f"{s['compared']}/{s['pairs']} pairs.", ""]
    for r in rows:
        lines.append(f"- {r['pair']}: {r['history_summary']}")
        for p in r["parasites"]:
            seen = p.get("first_visit_points")
            lines.append(f"  - {p['id']} ({'new' if p['new'] else 'before'}, {p['volume_m3']} m^3"
                         f"{'' if seen is None else f', {seen} visit-1 points at it'}): "
                         f"{p['finding'] or 'no finding'}{', marked ' + str(p['marked']) if p['finding'] else ''}"
                         f"{' (not comparable: visit 1 did not see its place)' if p['id'] in r['new_not_comparable'] else ''}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", action="append", help="pair name (repeatable)")
    ap.add_argument("--resimulate", action="store_true")
    ap.add_argument("--config", type=Path, help="hullscan config YAML for both replays (a setting on trial)")
    args = ap.parse_args(argv)
    names = sorted({p.stem.rsplit("_", 1)[0] for p in VISITS.glob("*_1.yaml")})
    rows = []
    for k, name in enumerate(names):
        if args.only and name not in args.only:
            continue
        print(f"[change] {name} ...", file=sys.stderr, flush=True)
        rows.append(run_pair(name, k, args.out, args.resimulate, args.config))
        print(json.dumps({x: rows[-1][x] for x in ("pair", "history", "new_found_marked_new", "new_target",
                                                    "false_alarms", "old_marked_present", "marks")}), flush=True)
    summary = summarise(rows)
    command = "python bench/change_detection.py " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "change_detection.json").write_text(json.dumps({"summary": summary, "pairs": rows}, indent=1,
                                                                 default=lambda o: np.asarray(o).tolist()))
    (args.out / "change_detection.md").write_text(markdown(rows, summary, command))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
