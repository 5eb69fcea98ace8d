"""Issue 19 part 1: a whole ship in bounded memory.

Simulates the full wetted hull of a 250 m ship (`bench/scenarios/wholeship_250m.yaml`: both sides at
two depths and eight bottom lanes, 87 minutes), then reconstructs it, bag to cloud, twice, each in a
fresh process:

- **in memory**: the default path, one voxel map for the whole hull;
- **tiled**: `recon.tiling` (`--tiles 16`, the default tile): kept returns spilled to disk, the map fused and
  extracted in 16 m cubes.

For each it reports peak RSS (VmHWM of the reconstructing process; the bag-decoding helper process
apart), time per 1,000 m^2 of wetted hull, and whether the two clouds are identical.

With ``--replay`` it also runs ``hullscan replay`` end to end for both paths, as a user would from the
survey's quay notes (design mesh, draft, quay prior; drift correction on): registration, drift
correction, comparison and report, with each path's peak RSS, time and verdict
(bench/results/wholeship_replay.{json,md}). The comparison itself is not tiled. The ground truth is
not read.

Reproduce: `.venv/bin/python bench/bench_wholeship.py [--replay]` (about 5 minutes on 2 cores, 15 with
``--replay``; writes bench/results/wholeship.{json,md}; the bag goes to runs/wholeship/).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "bench" / "scenarios" / "wholeship_250m.yaml"


def _status(field: str) -> float:
    """A /proc/self/status figure (kB) in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(bag: Path, out: Path, tile_m: float | None) -> dict[str, object]:
    """One reconstruction in this process, measured (run by the parent in a fresh process)."""
    from hullscan_sim.simulate import operator_notes_for

    from hullscan.compare.evaluate import evaluation_reference
    from hullscan.config import load_config
    from hullscan.inspection import ReferenceFile, load_survey_reference
    from hullscan.recon.pipeline import reconstruct_bag

    overrides = {"recon": {"tiling": {"enabled": True, "tile_m": tile_m}}} if tile_m else None
    cfg = load_config(None, overrides)
    t0 = time.perf_counter()
    recon = reconstruct_bag(str(bag), cfg, progress=False)
    t1 = time.perf_counter()
    np.savez(out / "cloud_arrays.npz", points=recon.cloud.points, normals=recon.cloud.normals,
             confidence=recon.cloud.confidence, hits=recon.cloud.hits, sigma=recon.cloud.sigma,
             incidence=recon.cloud.incidence_deg, range=recon.cloud.range_m)
    # The wetted area of the design mesh named in the survey's notes (read after the measurement).
    ref = evaluation_reference(operator_notes_for(bag))
    reference = load_survey_reference(ReferenceFile(ref.path, ref.units, ref.draft_m, ref.up, ref.bow))
    return {"tile_m": tile_m, "reconstruct_s": t1 - t0, "peak_rss_gb": _status("VmHWM"),
            "decoder_peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6,
            "points": len(recon.cloud), "stats": recon.stats, "timings_s": recon.timings_s,
            "wetted_m2": _wetted_area(reference)}


def replay_child(bag: Path, folder: Path, tile_m: float | None) -> dict[str, object]:
    """One end-to-end ``hullscan replay`` as a user runs it from the survey's quay notes (design
    mesh, draft and quay prior; drift correction on, the default), in a child process of this
    one, so that its peak RSS is this process's RUSAGE_CHILDREN."""
    from hullscan_sim.simulate import operator_notes_for

    from hullscan.compare.evaluate import evaluation_reference

    notes = operator_notes_for(bag)
    ref = evaluation_reference(notes)
    cmd = [sys.executable, "-m", "hullscan", "replay", str(bag), "--reference", ref.path, "--draft", str(ref.draft_m),
           "--prior", str(notes), "--out", str(folder), "--no-camera", "--no-progress",
           *(["--tiles", str(tile_m)] if tile_m else [])]
    # The folder is the bench's own: an earlier run's outputs would make replay refuse to start and
    # its findings.json be read as this run's.
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    found = json.loads((folder / "findings.json").read_text()) if (folder / "findings.json").exists() else {}
    reg = ((found.get("prior_registration") or {}).get("best") or {})
    cov = found.get("coverage") or {}
    return {"tile_m": tile_m, "replay_s": wall, "exit_status": proc.returncode,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6,
            "verdict": (found.get("verdict") or {}).get("text", proc.stderr.strip().splitlines()[-1:]),
            "findings": len(found.get("findings") or []), "registration": reg,
            "seen_fraction": cov.get("seen_fraction"), "cleared_by_height": cov.get("cleared_fraction_by_height"),
            "timings_s": found.get("timings_s")}


def _replay_report(bag: Path, out: Path, tile_m: float, area: float) -> list[str]:
    """Both paths end to end (``--replay``), each in a fresh process: the lines of the report."""
    runs = {}
    for mode in ("memory", "tiled"):
        print(f"[wholeship] replay, {mode} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, __file__, "--out", str(out), "--tile-m", str(tile_m), "--child-replay", mode],
                       check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        runs[mode] = json.loads((out / f"replay_{mode}" / "measure.json").read_text())
    ratio = float(runs["tiled"]["replay_s"]) / float(runs["memory"]["replay_s"])
    (ROOT / "bench" / "results" / "wholeship_replay.json").write_text(
        json.dumps({"command": "python bench/bench_wholeship.py --replay", "wetted_area_m2": area, "runs": runs,
                    "time_ratio_tiled_to_memory": ratio}, indent=1, default=float))
    lines = ["", "## End to end: `hullscan replay` from the quay notes", "",
             "Registration from the quay prior, drift correction against the design mesh (the default), the "
             "comparison and the report, each path in its own process.", "",
             "| path | replay s | s per 1,000 m^2 | peak RSS GB | findings | seen | cleared 0.1 / 0.2 / 0.3 m |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for mode, r in runs.items():
        c = r.get("cleared_by_height") or {}
        lines.append(f"| {mode} | {float(r['replay_s']):.0f} | {float(r['replay_s']) / area * 1000:.1f} | "
                     f"{float(r['peak_rss_gb']):.2f} | {r['findings']} | {float(r['seen_fraction'] or 0):.0%} | "
                     + " / ".join(f"{float(c.get(h, 0)):.1%}" for h in ("0.1", "0.2", "0.3")) + " |")
    reg = runs["tiled"].get("registration") or {}
    lines += ["", f"- time ratio tiled / in memory: **{ratio:.2f}x** (target <= 1.3x)",
              f"- registration (tiled run): seed {reg.get('seed')}, inliers {reg.get('inlier_fraction')}, "
              f"offset from the prior {reg.get('offset_from_prior')}",
              f"- verdict (tiled run): {runs['tiled']['verdict']}",
              "", "Reproduce: `.venv/bin/python bench/bench_wholeship.py --replay`"]
    return lines


def _wetted_area(reference: object) -> float:
    """Area of the reference surface below the waterline (m^2)."""
    mesh = getattr(reference, "surface", None)
    if mesh is None or not hasattr(mesh, "faces"):
        return float("nan")
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return float(area[tri[:, :, 2].mean(axis=1) < 0].sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "runs" / "wholeship"))
    ap.add_argument("--tile-m", type=float, default=16.0)
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of both paths")
    ap.add_argument("--replay", action="store_true", help="also replay the survey end to end from its quay notes, "
                    "both paths (writes bench/results/wholeship_replay.{json,md}; about 12 minutes more)")
    ap.add_argument("--child", choices=["memory", "tiled"], help=argparse.SUPPRESS)
    ap.add_argument("--child-replay", choices=["memory", "tiled"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)
    bag = out / "bag"
    if args.child or args.child_replay:
        # One measurement in this fresh process: a reconstruction, or a replay in a child of it.
        mode = args.child or args.child_replay
        folder = out / (f"replay_{mode}" if args.child_replay else mode)
        folder.mkdir(parents=True, exist_ok=True)
        measure = replay_child if args.child_replay else child
        res = measure(bag, folder, args.tile_m if mode == "tiled" else None)
        (folder / "measure.json").write_text(json.dumps(res, indent=1, default=float))
        return 0
    if not bag.exists():
        subprocess.run([sys.executable, "-m", "hullscan", "simulate", "--scenario", str(SCENARIO), "--out", str(bag)],
                       check=True)
    runs: dict[str, list[dict[str, object]]] = {"memory": [], "tiled": []}
    for _ in range(args.rounds):
        for mode in ("memory", "tiled"):
            print(f"[wholeship] reconstruct, {mode} ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, __file__, "--out", str(out), "--tile-m", str(args.tile_m), "--child", mode],
                           check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            runs[mode].append(json.loads((out / mode / "measure.json").read_text()))
    mem, tiled = runs["memory"][-1], runs["tiled"][-1]
    a, b = np.load(out / "memory" / "cloud_arrays.npz"), np.load(out / "tiled" / "cloud_arrays.npz")
    same_cloud = all(np.array_equal(a[k], b[k]) for k in a.files)
    area = float(mem["wetted_m2"])  # type: ignore[arg-type]

    def per_1000(r: dict[str, object]) -> float:
        return float(r["reconstruct_s"]) / area * 1000  # type: ignore[arg-type]

    best = {m: min(rs, key=per_1000) for m, rs in runs.items()}
    stats_m, stats_t = mem["stats"], tiled["stats"]
    result = {
        "command": "python bench/bench_wholeship.py" + (f" --rounds {args.rounds}" if args.rounds > 1 else ""),
        "scenario": str(SCENARIO.relative_to(ROOT)), "wetted_area_m2": area, "points": mem["points"],
        "returns_fused": stats_m["points_fused"], "tile_m": args.tile_m,  # type: ignore[index]
        "runs": runs, "same_cloud": same_cloud,
        "time_ratio_tiled_to_memory": per_1000(best["tiled"]) / per_1000(best["memory"]),
        "peak_ratio_tiled_to_memory": float(best["tiled"]["peak_rss_gb"]) / float(best["memory"]["peak_rss_gb"]),  # type: ignore[arg-type]
    }
    res_dir = ROOT / "bench" / "results"
    (res_dir / "wholeship.json").write_text(json.dumps(result, indent=1, default=float))
    lines = [
        "# Whole ship in bounded memory (issue 19 part 1): reconstruction", "",
        f"Scenario `{result['scenario']}`: wetted hull {area:,.0f} m^2 (design mesh below the waterline), "
        f"{int(stats_m['points_fused']):,} returns fused, {int(mem['points']):,} cloud points "  # type: ignore[index, call-overload]
        f"({float(stats_m['points_fused']) / area:,.0f} returns and {float(mem['points']) / area:,.0f} points per m^2). "  # type: ignore[index, arg-type]
        "Bag to cloud, navigation as recorded (drift correction off; `--replay` runs it), each path in its "
        "own process, one after the other, on the 2-core machine.", "",
        "| path | bag to cloud s | s per 1,000 m^2 | peak RSS GB | largest map GB |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in ("memory", "tiled"):
        for r in runs[m]:
            lines.append(f"| {m}{' (' + str(args.tile_m) + ' m tiles)' if m == 'tiled' else ''} | "
                         f"{float(r['reconstruct_s']):.1f} | {per_1000(r):.2f} | {float(r['peak_rss_gb']):.2f} | "  # type: ignore[arg-type]
                         f"{float(r['stats']['map_bytes']) / 1e9:.2f} |")  # type: ignore[index]
    lines += ["",
              f"- time ratio tiled / in memory: **{result['time_ratio_tiled_to_memory']:.2f}x** (target <= 1.3x)",
              f"- peak RSS ratio tiled / in memory: **{result['peak_ratio_tiled_to_memory']:.2f}** (target: <= 6 GB)",
              f"- cloud identical (every field, same order): **{same_cloud}**",
              f"- tiles: {int(stats_t.get('tiles', 0))}, returns fused per input return "  # type: ignore[union-attr]
              f"{float(stats_t.get('tile_returns_ratio', 0)):.2f} (halos and carved bands)",  # type: ignore[union-attr]
              f"- the bag-decoding helper process peaks at {float(tiled['decoder_peak_rss_gb']):.2f} GB in both paths "
              "(not in the figures above)", "",
              f"Reproduce: `.venv/bin/python {result['command'].split('python ', 1)[1]}`"]
    (res_dir / "wholeship.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.replay:
        replay_lines = ["# Whole ship end to end (issue 19 part 1, issue 13)",
                        *_replay_report(bag, out, args.tile_m, area)]
        (res_dir / "wholeship_replay.md").write_text("\n".join(replay_lines) + "\n")
        print("\n".join(replay_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
