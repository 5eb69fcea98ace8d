"""Is a bilge keel's face that coverage calls cleared really cleared? Keel-sized caps pressed there.

    .venv/bin/python bench/keel_caps.py --run runs/p61a --only heavy_growth --only torpedo_bilge_keel

``bench/clearance.py`` presses 0.9 x 0.65 m caps only where the reference under the whole footprint
faces one way (since stop 61), which no bilge keel face does (0.3-0.5 m wide). Here caps of
0.9 x 0.3 m, 0.10 m high (0.014 m³, inside the recall target's 0.01 m³ class) are pressed on
reference samples of the ``bilge_keel`` region that the first run cleared for 0.1 m, at least 3 m
apart, ``--per-scenario`` of them into one cloud, and the comparator runs on the pressed cloud (placed
where the first run placed it, with the survey's stated along-ship uncertainty, as in clearance.py).
Two presses: every cloud point within the footprint and 0.3 m of the face moved out along its normal
(as clearance.py does), and ``--face-only``: only the points whose own normal faces within 60 deg of
the face's and lie on its outer side (a thin keel's other face is not lifted with it). The truth is
read only to keep caps 3 m from the real parasites' edges. Results to bench/results/keel_caps[_face].md
and .json.
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


def run_scenario(run: Path, name: str, per_scenario: int, seed: int, face_only: bool) -> list[dict[str, Any]]:
    survey = C.load_survey(run, name)
    config = CompareConfig(coverage={"clear_height_m": KEEL_CAP[2]})
    base = inspect(survey.cloud, survey.reference, config, hull_to_nav=survey.prior, sigma=survey.sigma,
                   along=survey.along)
    cov, ref = base.coverage, base.reference
    assert cov is not None and ref is not None and base.cloud_to_ref is not None
    normals = ref.sample_normals
    if ref.hull_frame:
        normals = normals[ref.samples[:, 2] < config.coverage.coverage_max_z_m]
    keel = np.flatnonzero(ref.regions_at(cov.samples, normals=normals) == "bilge_keel")
    avoid = C.keep_clear(survey.truth)
    sites: list[tuple[np.ndarray, np.ndarray]] = []
    for i in np.random.default_rng(seed).permutation(keel[cov.seen[keel]]):
        c = cov.samples[i]
        if any(np.linalg.norm(c - x) < r for x, r in avoid) or any(np.linalg.norm(c - s) < C.SPACING_M for s, _ in sites):
            continue
        sites.append((c, normals[i] / np.linalg.norm(normals[i])))
        if len(sites) >= per_scenario:
            break
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
    return [{"scenario": name, **cap, "detected": cap["id"] in hit, "keel_cleared_samples": int(cov.seen[keel].sum()),
             "keel_samples": len(keel), "drops": drops} for cap in caps]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="output directory of hullscan evaluate")
    ap.add_argument("--only", action="append", required=True, help="scenario with bilge keels (repeatable)")
    ap.add_argument("--per-scenario", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--face-only", action="store_true", help="lift only the face's own returns")
    args = ap.parse_args()
    t0 = time.time()
    rows = [r for name in args.only for r in run_scenario(Path(args.run), name, args.per_scenario, args.seed,
                                                          args.face_only)]
    stem = "keel_caps_face" if args.face_only else "keel_caps"
    found = sum(r["detected"] for r in rows)
    cmd = (f"bench/keel_caps.py --run {args.run} " + " ".join(f"--only {n}" for n in args.only)
           + (" --face-only" if args.face_only else ""))
    lines = ["# Keel-sized caps pressed on bilge keel faces that coverage cleared", "",
             f"`{cmd}`; 0.9 x 0.3 m caps, 0.1 m high; {time.time() - t0:.1f} s.", "",
             f"**{found} of {len(rows)} found.** Findings dropped on the pressed clouds and not on the first runs: "
             + "; ".join(f"{n}: {', '.join(d) or 'none'}" for n, d in {r['scenario']: r['drops'] for r in rows}.items()),
             "",
             "| scenario | cap | centre | points moved | found |", "|---|---|---|---|---|"]
    lines += [f"| {r['scenario']} | {r['id']} | {[round(x, 2) for x in r['centroid_hull']]} | {r['points_moved']} | "
              f"{'yes' if r['detected'] else '**no**'} |" for r in rows]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"command": cmd, "rows": rows}, indent=1))
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
