"""Does "cleared" mean "would have been found"? Compartments pressed into real survey clouds.

    .venv/bin/python bench/clearance.py --run runs/eval [--rounds 2] [--per-status 5]

``--run``: the output of ``hullscan evaluate`` (each scenario's ``cloud.ply`` and the operator
prior it was inspected with, ``operator_prior.json``; ``bags/<scenario>.operator.yaml`` names the
design mesh and the draft; ``bags/<scenario>.truth/`` only says where the real parasites are, so
that limpets keep clear of them). No truth reaches the comparator.

For each scenario the comparator first runs on the cloud as surveyed. Then limpets of the
smallest size the README's recall target covers (ellipsoidal caps 0.9 x 0.65 m, 0.10 m high,
0.031 m³) are pressed into the cloud: every point within a cap's footprint is moved out along
the reference normal by the cap's height there. So each limpet is seen exactly as the hull
there was (the same returns, with the same uncertainty), which is what coverage claims to
speak for. Locations are random reference samples, half in cleared surface and half in surface
seen but not cleared (``--per-status`` each), at least 3 m from each other and from the truth's
parasites' edges (since stop 60; their centroids before), and only where the whole footprint faces
within 30 deg of the cap's normal (since stop 61: a cap pressed along one normal does not fit a bilge
keel's face or a tunnel's lip, so the bench does not speak for such sharp features). The comparator runs on the pressed cloud (with the survey's stated along-ship
uncertainty, at its largest, :func:`stated_along`; since stop 48), and each limpet is detected (a finding
within 0.5 m) or not. The detection rate per status of its location in the first run:

- cleared: should be at least 0.95 (the recall target), or "cleared" overstates;
- seen, too uncertain to clear: what the earlier coverage (any good return clears) called clean.

Results to bench/results/clearance.json and .md. A limpet standing on a surface seen from
one side only is seen more densely on its flank facing the sonar than this models, so the
rate in uncertain surface is a lower bound; the cleared rate is the claim under test.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.cloud_io import load_cloud
from hullscan.compare.config import CompareConfig
from hullscan.compare.evaluate import evaluation_reference, match_truth
from hullscan.compare.inspect import Inspection, inspect
from hullscan.compare.kinds import ReferenceSource
from hullscan.compare.loading import load_prior
from hullscan.compare.prior import PriorSigma
from hullscan.inspection import ReferenceFile, load_survey_reference
from hullscan.model import HullCloud, Transform
from hullscan.recon.drift import AlongShipUncertainty

RESULTS = Path(__file__).resolve().parent / "results"
CAP = [0.45, 0.325, 0.10]  # semi-axes and height (m): 2/3 pi a b h = 0.0306 m3 (height: --height)
SPACING_M = 3.0


def cap_volume(a: float, b: float, h: float) -> float:
    return 2.0 / 3.0 * np.pi * a * b * h


def press(cloud: HullCloud, ins: Inspection, centre: np.ndarray, normal: np.ndarray,
          cap: tuple[float, float, float] | list[float] | None = None, face_only: bool = False) -> tuple[HullCloud, int]:
    """``cloud`` with a cap (semi-axes along the ship and across, height; default :data:`CAP`) pressed
    in at ``centre`` (reference frame) along ``normal``; points moved. Every point within the
    footprint and 0.3 m of the surface moves; ``face_only``: only those whose own normal faces within
    60 deg of ``normal`` and that lie on its outer side (a thin plate's other face stays put)."""
    a, b, h = CAP if cap is None else cap
    assert ins.points is not None and ins.cloud_to_ref is not None
    rot = ins.cloud_to_ref.rot.as_matrix()
    p = ins.points  # cloud points in the reference frame (aligned, drift-corrected)
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = helper - normal * (helper @ normal)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    rel = p - centre
    u, v, w = rel @ e1, rel @ e2, rel @ normal
    q = (u / a) ** 2 + (v / b) ** 2
    inside = (q < 1.0) & (np.abs(w) < 0.3)
    if face_only and cloud.normals is not None:
        own = np.asarray(cloud.normals, np.float64) @ rot.T  # normals face the sensor: either sign
        inside &= (np.abs(own @ normal) > 0.5) & (w > -0.015)
    lift = np.where(inside, h * np.sqrt(np.clip(1.0 - q, 0.0, 1.0)), 0.0)
    # The reference-frame displacement, turned back into the cloud's frame (local corrections
    # are translations, so the rotation alone maps directions).
    d_cloud = (lift[:, None] * normal[None]) @ rot
    return replace(cloud, points=np.asarray(cloud.points) + d_cloud), int(inside.sum())


def keep_clear(truth: list[dict[str, Any]]) -> list[tuple[np.ndarray, float]]:
    """(centre, radius) a cap keeps away from, per real parasite: 3 m from its edge (its centroid,
    plus half its diagonal): a cap beside a big box is grown into that box's finding (heavy_growth's
    2 x 1.5 x 1 m box, a cap 3.2 m from its centroid: "merged into neighbour", the one finding
    matched to the box)."""
    return [(np.asarray(t["centroid_hull"], float), SPACING_M + 0.5 * float(np.linalg.norm(t.get("size_m", [0.0]))))
            for t in truth]


def pick(ins: Inspection, truth: list[dict[str, Any]], per_status: int, rng: np.random.Generator,
         taken: list[np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    cov = ins.coverage
    assert cov is not None and cov.seen_any is not None and ins.reference is not None
    normals = ins.reference.sample_normals
    if ins.reference.hull_frame:
        normals = normals[ins.reference.samples[:, 2] < ins.config.coverage.coverage_max_z_m]
    status = np.where(cov.seen, "cleared", np.where(cov.seen_any, "uncertain", "not seen"))
    # 3 m from each other and from each parasite's edge.
    avoid = keep_clear(truth) + [(x, SPACING_M) for x in taken]
    out = []
    for want in ("cleared", "uncertain"):
        cand = rng.permutation(np.flatnonzero(status == want))
        n = 0
        for i in cand:
            c = cov.samples[i]
            if any(np.linalg.norm(c - x) < r for x, r in avoid):
                continue
            # Both sides of the status boundary are a coin toss: keep locations whose whole
            # footprint has the status.
            near = np.linalg.norm(cov.samples - c, axis=1) < CAP[0]
            if not np.all(status[near] == want):
                continue
            # The cap is pressed along one normal: it fits only where the surface under its whole
            # footprint faces that way. On a bilge keel's face (0.3-0.4 m wide) the footprint also
            # takes in the keel's other face and the plating beside it, whose points the press moves
            # sideways (heavy_growth, stop 61: 22 of 31 samples facing more than 30 deg away; the
            # pressed cells read lower than before, and the cap, one no such surface can carry, was
            # missed in cleared surface).
            if not fits_flat(normals[near], normals[i]):
                continue
            out.append((want, c, normals[i] / np.linalg.norm(normals[i])))
            avoid.append((c, SPACING_M))
            n += 1
            if n >= per_status:
                break
    return out


FIT_MAX_TURN_DEG = 30.0  # 0.45 m round a 1 m bilge radius the plating turns 26 deg


def fits_flat(footprint_normals: np.ndarray, normal: np.ndarray, max_turn_deg: float = FIT_MAX_TURN_DEG) -> bool:
    """Whether a cap pressed along ``normal`` (3,) fits the surface whose reference samples under its
    footprint face ``footprint_normals`` (K, 3): every one within ``max_turn_deg`` of it."""
    unit = footprint_normals / np.linalg.norm(footprint_normals, axis=1, keepdims=True)
    return bool(np.all(unit @ (normal / np.linalg.norm(normal)) >= np.cos(np.radians(max_turn_deg))))


def stated_along(findings_json: Path, cloud: HullCloud) -> AlongShipUncertainty | None:
    """The along-ship uncertainty the survey's run stated (findings.json ``along_ship``), at its
    largest submap's everywhere: the detector lets reference features and the local baseline move
    that far along the ship (docs/method.md, "Deviation and findings"), so a cap is pressed into
    the comparison as ``hullscan replay`` would judge it, never more leniently. The drift stage's
    posterior itself is not in the run's outputs; None where the run stated nothing."""
    doc = json.loads(findings_json.read_text()) if findings_json.exists() else {}
    stated = (doc.get("along_ship") or {}).get("submap_two_sd_m") or []
    if not stated:
        return None
    return AlongShipUncertainty.uniform(np.asarray(cloud.points, np.float64).mean(axis=0), max(float(v) for v in stated),
                                        float(doc["along_ship"].get("drift_rate_per_m", 0.0)))


@dataclass(frozen=True)
class Survey:
    """One evaluated scenario as the benches press into it: its cloud, the reference and prior its
    run was inspected with, the along-ship uncertainty it stated, and the truth's parasites (in the
    comparison's frame; only to keep caps clear of them)."""

    cloud: HullCloud
    reference: ReferenceSource
    prior: Transform
    sigma: PriorSigma | None  # the operator prior's search ranges
    along: AlongShipUncertainty | None
    truth: list[dict[str, Any]]


def load_survey(run: Path, name: str) -> Survey:
    """``run``'s scenario ``name`` (the output of ``hullscan evaluate``)."""
    cloud = load_cloud(run / name / "cloud.ply")
    notes = evaluation_reference(run / "bags" / f"{name}.operator.yaml")
    survey_ref = load_survey_reference(ReferenceFile.from_notes(notes))
    op = load_prior(str(run / name / "operator_prior.json"))
    assert op is not None
    truth_doc = json.loads((run / "bags" / f"{name}.truth" / "truth.json").read_text())
    # The parasites' places, in the comparison's frame (only to keep limpets clear of them).
    frame = truth_doc.get("reference_frame")
    t_rfh = Transform(frame["ref_from_hull"]["rotation"], frame["ref_from_hull"]["translation"]) if frame else Transform()
    to_internal = (survey_ref.ref_from_hull or Transform()).inverse() @ t_rfh
    truth = [{**t, "centroid_hull": to_internal.apply(np.asarray(t["centroid_hull"], float)).tolist()}
             for t in truth_doc["parasites"]]
    return Survey(cloud, survey_ref.source, op.hull_to_nav(survey_ref.ref_from_hull), op.search,
                  stated_along(run / name / "findings.json", cloud), truth)


def run_scenario(run: Path, name: str, rounds: int, per_status: int, seed: int, model: str,
                 systematic: str = "alignment", random: str = "point", min_height: float | None = None
                 ) -> list[dict[str, Any]]:
    survey = load_survey(run, name)
    cloud, reference, along, truth = survey.cloud, survey.reference, survey.along, survey.truth
    detection = {} if min_height is None else {"min_protrusion_height_m": min_height}
    config = CompareConfig(coverage={"clear_height_m": CAP[2]}, detection=detection,
                           uncertainty={"model": model, "systematic": systematic, "random": random})
    base = inspect(cloud, reference, config, hull_to_nav=survey.prior, sigma=survey.sigma, along=along)
    assert base.cloud_to_ref is not None
    placed = base.cloud_to_ref.inverse()  # nav <- hull, as the first run found it
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for k in range(rounds):
        taken: list[np.ndarray] = []
        sites = pick(base, truth, per_status, rng, taken)
        pressed = cloud
        parasites = []
        for j, (status, c, n) in enumerate(sites):
            pressed, n_points = press(pressed, base, c, n)
            parasites.append({"id": f"L{k}{j:02d}", "centroid_hull": (c + n * 3 * CAP[2] / 8).tolist(),
                              "status": status, "points_moved": n_points, "volume_m3": cap_volume(*CAP)})
        # Placed where the first run placed the survey (refined from there, not searched again): on a
        # patch of plating that fixes no position along the ship, a few caps can move the search's
        # choice along it (turbid_water: 0.7 m, every cap then "missed" beyond the 0.5 m match). The
        # registration is scored by hullscan evaluate; this bench measures the detector.
        ins = inspect(pressed, reference, config, hull_to_nav=placed, sigma=None, along=along)
        assert base.cells is not None and base.cells.uncertainty is not None and ins.cells is not None
        findings = [asdict(f) for f in ins.findings]
        res = match_truth(findings, parasites + [{**t, "truth": True} for t in truth])
        hit = {d["truth"]["id"] for d in res.detected}
        for p, (_, c, _) in zip(parasites, sites, strict=True):
            # The surface's uncertainty there (first run) and the best z-score the limpet reached.
            near0 = np.linalg.norm(base.cells.points - c, axis=1) < CAP[1]
            near1 = np.linalg.norm(ins.cells.points - c, axis=1) < CAP[1] + CAP[2]
            assert base.coverage is not None
            rows.append({"scenario": name, "round": k, **p, "detected": p["id"] in hit,
                         "scenario_cleared_fraction": round(base.coverage.fraction, 4),
                         "scenario_seen_fraction": round(base.coverage.seen_fraction, 4),
                         "site_uncertainty_m": round(float(np.nanmedian(base.cells.uncertainty[near0])), 4)
                         if near0.any() else None,
                         "max_zscore": round(float(np.nanmax(ins.cells.zscore[near1])), 2) if near1.any() else None})
    return rows


def _stem(height: float, model: str, systematic: str = "alignment", random: str = "point",
          min_height: float | None = None) -> str:
    """Results name: clearance[_<height>][_<model>][_<systematic>][_<random>][_minh<floor>], each only
    where it is not the default (a trial's run never overwrites the default's results)."""
    stem = "clearance" if height == 0.10 else f"clearance_{height:g}"
    u = CompareConfig().uncertainty
    for value, default in ((model, u.model), (systematic, u.systematic), (random, u.random)):
        if value != default:
            stem += f"_{value}"
    if min_height is not None and min_height != CompareConfig().detection.min_protrusion_height_m:
        stem += f"_minh{min_height:g}"
    return stem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate")
    ap.add_argument("--rounds", type=int, default=2, help="pressed clouds per scenario")
    ap.add_argument("--per-status", type=int, default=5, help="limpets per status and round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--height", type=float, default=0.10,
                    help="cap height and clear_height_m (m); the footprint stays 0.9 x 0.65 m")
    ap.add_argument("--out", default=None, help="results name (default clearance or clearance_<height>)")
    ap.add_argument("--only", action="append", help="scenario name (repeatable)")
    ap.add_argument("--model", choices=("sonar", "estimated"), default=CompareConfig().uncertainty.model,
                    help="the comparator's uncertainty model (compare.uncertainty.model)")
    ap.add_argument("--random", choices=("point", "mean"), default=CompareConfig().uncertainty.random,
                    help="the estimated model's random term (compare.uncertainty.random)")
    ap.add_argument("--systematic", choices=("alignment", "local"), default=CompareConfig().uncertainty.systematic,
                    help="the estimated model's systematic term (compare.uncertainty.systematic)")
    ap.add_argument("--min-height", type=float, default=None,
                    help="the detector's protrusion floor (compare.detection.min_protrusion_height_m; default: the "
                         "comparator's)")
    args = ap.parse_args()
    logging.getLogger("hullscan").setLevel(logging.ERROR)
    CAP[2] = args.height
    stem = args.out or _stem(args.height, args.model, args.systematic, args.random, args.min_height)
    run = Path(args.run)
    names = args.only or sorted(p.parent.name for p in run.glob("*/cloud.ply"))
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        if not (run / "bags" / f"{name}.truth" / "reference.ply").exists():
            continue
        # Seeded by the scenario's name, not its place in the list: adding a scenario moves no other's sites.
        got = run_scenario(run, name, args.rounds, args.per_status, args.seed + zlib.crc32(name.encode()) % 100_000,
                           args.model, args.systematic, args.random, args.min_height)
        rows += got
        print(f"[{i + 1}/{len(names)}] {name}: " + ", ".join(
            f"{s} {sum(r['detected'] for r in got if r['status'] == s)}/{sum(r['status'] == s for r in got)}"
            for s in ("cleared", "uncertain")), flush=True)
    summary: dict[str, Any] = {"cap_m": CAP, "volume_m3": round(cap_volume(*CAP), 4), "run": str(run),
                               "model": args.model, "systematic": args.systematic, "random": args.random,
                               "min_protrusion_height_m": args.min_height or CompareConfig().detection.min_protrusion_height_m,
                               "time_s": round(time.perf_counter() - t0, 1)}
    for s in ("cleared", "uncertain"):
        sel = [r for r in rows if r["status"] == s]
        summary[s] = {"n": len(sel), "detected": sum(r["detected"] for r in sel),
                      "rate": round(sum(r["detected"] for r in sel) / len(sel), 3) if sel else None}
    # Over all seen surface, weighting each scenario's two rates by its cleared and seen-only area.
    num = den = 0.0
    for name in names:
        sel = [r for r in rows if r["scenario"] == name]
        if not sel:
            continue
        fc, fs = sel[0]["scenario_cleared_fraction"], sel[0]["scenario_seen_fraction"]
        for s_, w in (("cleared", fc), ("uncertain", fs - fc)):
            found = [float(r["detected"]) for r in sel if r["status"] == s_]
            if found and w > 0:
                num += w * float(np.mean(found))
                den += w
    summary["seen_area_weighted_rate"] = round(num / den, 3) if den else None
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"summary": summary, "limpets": rows}, indent=1))
    lines = ["# Clearance: limpets pressed into surveyed clouds", "",
             f"`bench/clearance.py --run {run} --height {CAP[2]:g} --model {args.model} --systematic {args.systematic} "
             f"--random {args.random}" + (f" --min-height {args.min_height:g}" if args.min_height is not None else "")
             + f"`; {summary['volume_m3']} m³ caps, "
             f"{CAP[2]:g} m high (clear_height_m {CAP[2]:g}); "
             f"{summary['time_s']} s.", "",
             "| location status (first run) | limpets | detected | rate |", "|---|---|---|---|"]
    for s, label in (("cleared", "cleared"), ("uncertain", f"seen, too uncertain to clear {CAP[2]:g} m")):
        lines.append(f"| {label} | {summary[s]['n']} | {summary[s]['detected']} | {summary[s]['rate']} |")
    lines += ["", f"Over all seen surface (each scenario's rates weighted by its cleared and seen-only area): "
              f"{summary['seen_area_weighted_rate']}.", "",
              "| scenario | cleared | uncertain | cleared / seen fraction |", "|---|---|---|---|"]
    for name in names:
        cells = []
        for s in ("cleared", "uncertain"):
            sel = [r for r in rows if r["scenario"] == name and r["status"] == s]
            cells.append(f"{sum(r['detected'] for r in sel)}/{len(sel)}")
        fr = next(((r["scenario_cleared_fraction"], r["scenario_seen_fraction"]) for r in rows
                   if r["scenario"] == name), (None, None))
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {fr[0]} / {fr[1]} |")
    missed = [r for r in rows if r["status"] == "cleared" and not r["detected"]]
    if missed:
        lines += ["", "Missed in cleared surface:", ""]
        lines += [f"- {r['scenario']} {r['id']} at {np.round(r['centroid_hull'], 2).tolist()} "
                  f"({r['points_moved']} points moved)" for r in missed]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
