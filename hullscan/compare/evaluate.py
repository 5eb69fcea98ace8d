"""Matching findings to ground truth, and the evaluation table.

A truth parasite is *detected* only by a **protrusion** finding (a compartment adds material to
the hull; a recess at its place is a wrong finding, not a detection) whose centroid lies within
``match_radius`` of it (or whose box, grown by 0.1 m, holds the parasite's centre); it is *not
inspected* when it was not detected and lies in an unseen patch; otherwise it is *missed*. Every
finding matching no parasite (recesses included) is a false alarm. Each detection records its
centroid error and its signed relative volume error against ``volume_proud_m3`` (the parasite's
volume outside the hull's material); size classes use the nominal ``volume_m3``.

Mirror mode judges a surface only where its mirrored counterpart was observed about as well
(symmetric regions); elsewhere its coverage patches carry the reason ``no mirrored counterpart``.
A parasite there that was not detected counts as *not inspected* (never as missed or clean), and
``reason_at`` records why (``not seen`` or the mirror reason): ``summary["not_inspected_by_reason"]``.
Recall, the target classes and false alarms are therefore those on the regions the mode can judge.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hullscan.compare.analysis import unseen_reason  # noqa: F401  (part of this module's API)

SIZE_CLASSES = ((0.0, 0.01, "<0.01 m3"), (0.01, 0.03, "0.01-0.03 m3"), (0.03, 0.1, "0.03-0.1 m3"),
                (0.1, np.inf, ">=0.1 m3"))


def size_class(volume: float) -> str:
    return next(name for lo, hi, name in SIZE_CLASSES if lo <= volume < hi)


@dataclass
class HullResult:
    scenario: str
    n_findings: int
    detected: list[dict[str, Any]] = field(default_factory=list)  # truth parasite + finding
    missed: list[dict[str, Any]] = field(default_factory=list)
    not_inspected: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)
    run_time_s: float = 0.0
    coverage: float = 0.0  # cleared for clear_height_m
    coverage_seen: float = 0.0
    coverage_by_height: dict[float, float] = field(default_factory=dict)  # clear height (m) -> fraction
    error: str | None = None


def match_truth(findings: list[dict[str, Any]], parasites: list[dict[str, Any]], status_at: Any = None,
                match_radius: float = 0.5, scenario: str = "", reason_at: Any = None) -> HullResult:
    """``findings``: findings.json entries; ``parasites``: truth.json entries (centroid_hull...);
    ``status_at(point, height=...)``: 'finding', 'clear' or 'not_inspected' there for a compartment
    of the parasite's height (:meth:`Inspection.status_at`); ``reason_at(point)``: why a point was not
    inspected, for a compartment of ``height`` (:meth:`Inspection.reason_not_inspected`)."""
    res = HullResult(scenario, len(findings))
    used: set[int] = set()
    for p in sorted(parasites, key=lambda p: -p.get("volume_m3", 0.0)):
        c = np.asarray(p["centroid_hull"], float)
        best, best_d = None, np.inf
        for i, f in enumerate(findings):
            if i in used or f.get("kind", "protrusion") != "protrusion":
                continue
            fc = np.asarray(f["centroid"], float)
            inside = np.all(c >= np.asarray(f["bbox_min"]) - 0.1) and np.all(c <= np.asarray(f["bbox_max"]) + 0.1)
            d = float(np.linalg.norm(fc - c))
            if (d < match_radius or inside) and d < best_d:
                best, best_d = i, d
        if best is not None:
            used.add(best)
            f = findings[best]
            # A finding's volume is the space between reference and scan, so it is scored against the
            # part of the parasite outside the hull's material (older truth files: the nominal volume).
            ref_v = float(p.get("volume_proud_m3") or p["volume_m3"])
            res.detected.append({"truth": p, "finding": f["id"], "centroid_error_m": round(best_d, 4),
                                 "volume_m3": f["volume_m3"],
                                 "volume_error": round((f["volume_m3"] - ref_v) / max(ref_v, 1e-9), 4)})
        elif status_at is not None and status_at(c, height=p.get("height_m")) == "not_inspected":
            res.not_inspected.append({"truth": p, "reason": reason_at(c, height=p.get("height_m"))
                                      if reason_at is not None else "not seen"})
        else:
            res.missed.append({"truth": p})
    res.false_alarms = [f for i, f in enumerate(findings) if i not in used]
    return res


def summarise(results: list[HullResult]) -> dict[str, Any]:
    """Recall/precision overall, by size class, by region and for the target classes."""
    def rate(det: int, total: int) -> float | None:
        return None if total == 0 else round(det / total, 3)

    by: dict[str, dict[str, list[int]]] = {"size": defaultdict(lambda: [0, 0]), "region": defaultdict(lambda: [0, 0])}
    targets = {"vol>=0.03,h>=0.10": [0, 0], "vol>=0.01": [0, 0]}
    cerr, verr_big = [], []
    errs: dict[str, dict[str, dict[str, list[float]]]] = {
        "size": defaultdict(lambda: {"c": [], "v": []}), "region": defaultdict(lambda: {"c": [], "v": []})}
    for r in results:
        for kind, items in (("det", r.detected), ("miss", r.missed)):
            for it in items:
                t = it["truth"]
                hit = int(kind == "det")
                for key, val in (("size", size_class(t["volume_m3"])), ("region", t.get("region", "?"))):
                    by[key][val][0] += hit
                    by[key][val][1] += 1
                if t["volume_m3"] >= 0.03 and t.get("height_m", 1.0) >= 0.10:
                    targets["vol>=0.03,h>=0.10"][0] += hit
                    targets["vol>=0.03,h>=0.10"][1] += 1
                if t["volume_m3"] >= 0.01:
                    targets["vol>=0.01"][0] += hit
                    targets["vol>=0.01"][1] += 1
                if hit:
                    for key, val in (("size", size_class(t["volume_m3"])), ("region", t.get("region", "?"))):
                        errs[key][val]["c"].append(it["centroid_error_m"])
                        errs[key][val]["v"].append(abs(it["volume_error"]))
                    cerr.append(it["centroid_error_m"])
                    if t["volume_m3"] >= 0.1:
                        verr_big.append(abs(it["volume_error"]))
    n_det = sum(len(r.detected) for r in results)
    n_fa = sum(len(r.false_alarms) for r in results)
    n_truth = n_det + sum(len(r.missed) for r in results)
    return {
        "hulls": len(results),
        "recall": rate(n_det, n_truth),
        "precision": rate(n_det, n_det + n_fa),
        "false_alarms_per_hull": round(n_fa / max(1, len(results)), 3),
        "not_inspected": sum(len(r.not_inspected) for r in results),
        "not_inspected_by_reason": dict(sorted(Counter(str(it.get("reason", "not seen")) for r in results
                                                       for it in r.not_inspected).items())),
        "centroid_error_m": {"median": _q(cerr, 50), "p95": _q(cerr, 95)},
        "volume_error_ge_0.1m3": {"median": _q(verr_big, 50), "p95": _q(verr_big, 95)},
        "targets": {k: {"recall": rate(*v), "n": v[1]} for k, v in targets.items()},
        "by_size": {k: {"recall": rate(*v), "n": v[1], "centroid_error_median_m": _q(errs["size"][k]["c"], 50),
                        "volume_error_median": _q(errs["size"][k]["v"], 50)} for k, v in sorted(by["size"].items())},
        "by_region": {k: {"recall": rate(*v), "n": v[1], "centroid_error_median_m": _q(errs["region"][k]["c"], 50),
                          "volume_error_median": _q(errs["region"][k]["v"], 50)}
                      for k, v in sorted(by["region"].items())},
        "centroid_error_max_m": _q(cerr, 100),
        "volume_error_ge_0.1m3_max": _q(verr_big, 100),
        "run_time_s": {"total": round(sum(r.run_time_s for r in results), 1),
                       "per_hull_max": round(max((r.run_time_s for r in results), default=0.0), 1)},
        "errors": {r.scenario: r.error for r in results if r.error},
    }


def _q(v: list[float], q: float) -> float | None:
    return None if not v else round(float(np.percentile(v, q)), 4)


def markdown_table(summary: dict[str, Any], results: list[HullResult]) -> str:
    heights = sorted({h for r in results for h in r.coverage_by_height})
    lines = ["| scenario | findings | detected | missed | not inspected | false alarms | "
             + "".join(f"cleared {h:g} m | " for h in heights) + "seen | time s |",
             "|---|---|---|---|---|---|" + "---|" * len(heights) + "---|---|"]
    for r in results:
        cov = "".join(f"{r.coverage_by_height[h]:.2f} | " if h in r.coverage_by_height else "- | " for h in heights)
        lines.append(f"| {r.scenario} | {r.n_findings} | {len(r.detected)} | {len(r.missed)} | "
                     f"{len(r.not_inspected)} | {len(r.false_alarms)} | {cov}{r.coverage_seen:.2f} | "
                     f"{r.run_time_s:.1f} |" + (f" error: {r.error}" if r.error else ""))
    lines += ["", "| metric | value |", "|---|---|"]
    for k in ("recall", "precision", "false_alarms_per_hull", "not_inspected", "not_inspected_by_reason", "centroid_error_m",
              "centroid_error_max_m", "volume_error_ge_0.1m3", "volume_error_ge_0.1m3_max", "targets",
              "by_size", "by_region", "run_time_s"):
        lines.append(f"| {k} | {summary[k]} |")
    return "\n".join(lines) + "\n"
