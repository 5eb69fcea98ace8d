"""Is a bilge keel's face that coverage calls cleared really cleared? Keel-sized caps pressed there.

    .venv/bin/python bench/keel_caps.py --run runs/p62a --only heavy_growth --only torpedo_bilge_keel

``bench/clearance.py`` presses 0.9 x 0.65 m caps only where the reference under the whole footprint
faces one way (since stop 61), which no bilge keel face does (0.3-0.5 m wide). Here caps of
0.9 x 0.3 m, 0.10 m high (0.014 m³, inside the recall target's 0.01 m³ class) are pressed on
reference samples of the ``bilge_keel`` region (``--region``: another) that the first run cleared for
0.1 m and that lie under none of its findings, at least 3 m apart, ``--per-scenario`` of them into one cloud, and the comparator runs on the pressed cloud (placed
where the first run placed it, with the survey's stated along-ship uncertainty, as in clearance.py).
Two presses: every cloud point within the footprint and 0.3 m of the face moved out along its normal
(as clearance.py does), and ``--face-only``: only the points whose own normal faces within 60 deg of
the face's and lie on its outer side (a thin keel's other face is not lifted with it). The truth is
read only to keep caps 3 m from the real parasites' edges. Results to
bench/results/keel_caps[_face][_thinX]_RUN.md and .json (``caps_REGION...`` for another region).

Since stop 62 coverage clears no plate thinner than ``coverage.thin_plate_m`` (a keel's faces, a
blade's): with the default configuration this bench should find no keel face to press, and it says
how much of the region the first run cleared and why no cap was pressed. ``--thin-plate-m 0`` clears
thin plates as before (stop 61: 7 of 12 keel caps found; on propeller blades 0 of 2).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import clearance as C
import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.compare.evaluate import match_truth
from hullscan.compare.inspect import inspect

RESULTS = Path(__file__).resolve().parent / "results"
KEEL_CAP = (0.45, 0.15, 0.10)  # semi-axes along the ship and across the face, height (m)


def run_scenario(run: Path, name: str, per_scenario: int, seed: int, face_only: bool, region: str = "bilge_keel",
                 thin_plate_m: float | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(one row per cap pressed, what the scenario's first run left on the region's faces)."""
    survey = C.load_survey(run, name)
    config = CompareConfig(coverage={"clear_height_m": KEEL_CAP[2]} | (
        {} if thin_plate_m is None else {"thin_plate_m": thin_plate_m}))
    base = inspect(survey.cloud, survey.reference, config, hull_to_nav=survey.prior, sigma=survey.sigma,
                   along=survey.along)
    cov, ref = base.coverage, base.reference
    assert cov is not None and ref is not None and base.cloud_to_ref is not None
    normals = ref.sample_normals
    if ref.hull_frame:
        normals = normals[ref.samples[:, 2] < config.coverage.coverage_max_z_m]
    keel = np.flatnonzero(ref.regions_at(cov.samples, normals=normals) == region)
    avoid = C.keep_clear(survey.truth)
    sites: list[tuple[np.ndarray, np.ndarray]] = []
    # Not under a finding: the surface there is cleared through it, and a cap there is that finding's.
    free = keel[cov.seen[keel] & ~(np.zeros(len(cov.seen), bool) if cov.under is None else cov.under)[keel]]
    for i in np.random.default_rng(seed).permutation(free):
        c = cov.samples[i]
        if any(np.linalg.norm(c - x) < r for x, r in avoid) or any(np.linalg.norm(c - s) < C.SPACING_M for s, _ in sites):
            continue
        sites.append((c, normals[i] / np.linalg.norm(normals[i])))
        if len(sites) >= per_scenario:
            break
    faces = {"scenario": name, "region": region, "samples": len(keel), "cleared": int(cov.seen[keel].sum()),
             "cleared_not_under_findings": len(free), "caps": len(sites)}
    if not sites:
        return [], faces
    pressed, caps = survey.cloud, []
    for j, (c, n) in enumerate(sites):
        pressed, moved = C.press(pressed, base, c, n, KEEL_CAP, face_only)
        caps.append({"id": f"K{j}", "centroid_hull": (c + n * 3 * KEEL_CAP[2] / 8).tolist(),
                     "volume_m3": C.cap_volume(*KEEL_CAP), "points_moved": moved})
    # Placed where the first run placed the survey, as in clearance.py.
    ins = inspect(pressed, survey.reference, config, hull_to_nav=base.cloud_to_ref.inverse(), sigma=None,
                  along=survey.along)
    hit = {d["truth"]["id"] for d in match_truth([asdict(f) for f in ins.findings], caps).detected}
    # What the comparator dropped as findings on the pressed cloud (and not on the first run).
    before = base.drops.counts
    drops = sorted(f"{r}: {n - before.get((w, r), 0)}" for (w, r), n in ins.drops.counts.items()
                   if w == "findings" and n > before.get((w, r), 0))
    return [{"scenario": name, **cap, "detected": cap["id"] in hit, "region": region, "drops": drops}
            for cap in caps], faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate")
    ap.add_argument("--only", action="append", required=True, help="scenario with bilge keels (repeatable)")
    ap.add_argument("--per-scenario", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--face-only", action="store_true", help="lift only the face's own returns")
    ap.add_argument("--region", default="bilge_keel", help="reference region whose cleared faces get caps "
                    "(bilge_keel; propeller: blades, hub and shaft)")
    ap.add_argument("--thin-plate-m", type=float, default=None,
                    help="coverage.thin_plate_m for both runs (default: the configuration's; 0: thin plates cleared "
                    "as before stop 62)")
    args = ap.parse_args()
    t0 = time.time()
    runs = [run_scenario(Path(args.run), name, args.per_scenario, args.seed, args.face_only, args.region,
                         args.thin_plate_m) for name in args.only]
    rows = [r for rs, _ in runs for r in rs]
    faces = [f for _, f in runs]
    stem = (("keel_caps" if args.region == "bilge_keel" else f"caps_{args.region}") + ("_face" if args.face_only else "")
            + ("" if args.thin_plate_m is None else f"_thin{args.thin_plate_m:g}") + f"_{Path(args.run).name}")
    found = sum(r["detected"] for r in rows)
    cmd = (f"bench/keel_caps.py --run {args.run} " + " ".join(f"--only {n}" for n in args.only)
           + (" --face-only" if args.face_only else "")
           + (f" --region {args.region}" if args.region != "bilge_keel" else "")
           + ("" if args.thin_plate_m is None else f" --thin-plate-m {args.thin_plate_m:g}"))
    lines = [f"# Keel-sized caps pressed on {args.region} faces that coverage cleared", "",
             f"`{cmd}`; 0.9 x 0.3 m caps, 0.1 m high; {time.time() - t0:.1f} s.", "",
             (f"**{found} of {len(rows)} found.** Findings dropped on the pressed clouds and not on the first runs: "
              + "; ".join(f"{n}: {', '.join(d) or 'none'}" for n, d in {r['scenario']: r['drops'] for r in rows}.items())
              if rows else "**No cap pressed**: no face of the region cleared outside the first runs' findings and "
              "3 m from the parasites (below)."),
             "", "What the first runs left on those faces (reference samples, 0.2 m apart; a cap needs a cleared one "
             "not under a finding, 3 m from the parasites and from other caps):", "",
             "| scenario | samples | cleared | cleared, not under a finding | caps pressed |", "|---|---|---|---|---|"]
    lines += [f"| {f['scenario']} | {f['samples']} | {f['cleared']} | {f['cleared_not_under_findings']} | {f['caps']} |"
              for f in faces]
    lines += ["", "| scenario | cap | centre | points moved | found |", "|---|---|---|---|---|"]
    lines += [f"| {r['scenario']} | {r['id']} | {[round(x, 2) for x in r['centroid_hull']]} | {r['points_moved']} | "
              f"{'yes' if r['detected'] else '**no**'} |" for r in rows]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"command": cmd, "faces": faces, "rows": rows}, indent=1))
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
