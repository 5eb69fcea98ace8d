"""Batch benchmark (issue 19, part 2): N surveys replayed serially, on 2 local worker processes,
and on a local Dask cluster of 2 workers; the speed-ups and whether the findings are identical.

The surveys are the demo scenario (60 m coaster, port side and bottom) cut at different lengths,
every ``--decimate``-th ping; each is replayed as ``hullscan replay`` would (default config: all
outputs, PDF and camera evidence included). The replays get the first survey's quay notes as the
prior (``BAG.operator.yaml``: the ship's heading and where the vehicle went in), never the
simulator's transform; the registration's search is part of the timing. Serial is ``hullscan batch --workers 1``: one
process, imports paid once, numba on all cores: the fair baseline, not a shell loop of replays.

Target: 2 workers at least 1.7x faster than serial; Dask findings byte-identical to serial (the
findings list of every findings.json; times excluded). Timings on a shared machine are noisy:
the load average is printed with them. Results: bench/results/batch.json and .md.

    NUMBA_CACHE_DIR=.venv/numba-cache .venv/bin/python bench/batch.py [--surveys 8] [--decimate 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).parent / "results"
CLI = [sys.executable, "-m", "hullscan"]
MODES = {"serial": ["--workers", "1"], "pool2": ["--workers", "2"], "dask_local2": ["--dask", "local:2"]}


def simulate(d: Path, n: int, decimate: int) -> tuple[list[Path], Path, Path]:
    """``n`` demo surveys of 40 to 90 s, the design reference and the quay notes."""
    bags = []
    for i in range(n):
        seconds = 40 + (50 * i) // max(1, n - 1)
        bag = d / f"survey_{i:02d}_{seconds}s"
        subprocess.run([*CLI, "-q", "simulate", "--scenario", "demo", "--out", str(bag), "--duration", str(seconds),
                        "--decimate", str(decimate)], check=True, capture_output=True, text=True)
        bags.append(bag)
    # The dive team's quay notes (ship heading, where the vehicle went in) as every survey's prior, and the
    # design hull they name beside the bag, as a port would run an archive: never the simulator's truth.
    return bags, bags[0].with_name(bags[0].name + ".design.ply"), bags[0].with_name(bags[0].name + ".operator.yaml")


def run_mode(mode: str, bags: list[Path], reference: Path, prior: Path, out: Path) -> dict[str, object]:
    cmd = [*CLI, "batch", *map(str, bags), "--reference", str(reference), "--prior", str(prior), "--out", str(out),
           "--no-progress", *MODES[mode]]
    t0, r0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the batch and every process it waited for (pool and Dask workers, bag readers).
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if done.returncode not in (0, 3, 4):
        sys.exit(f"{mode} failed ({done.returncode}): {done.stderr[-3000:]}")
    findings = {}
    for bag in bags:
        doc = json.loads((out / bag.name / "findings.json").read_text())
        findings[bag.name] = json.dumps(doc["findings"], sort_keys=True)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "cores_busy": round(cpu / wall, 2),
            "exit_code": done.returncode, "findings": findings,
            "command": " ".join(cmd[1:]).replace(str(out.parent), "$TMP")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--surveys", type=int, default=8)
    ap.add_argument("--decimate", type=int, default=2)
    ap.add_argument("--out", default=str(OUT), help="folder for batch.json and batch.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hullscan-bench-batch-") as tmp:
        d = Path(tmp)
        t0 = time.monotonic()
        bags, reference, prior = simulate(d, args.surveys, args.decimate)
        print(f"simulated {len(bags)} surveys in {time.monotonic() - t0:.0f} s", flush=True)
        # One untimed replay first: numba's cache, the page cache and the imports' .pyc files are then as
        # warm for the first engine as for the others (the first engine, serial, paid it before: a
        # 1.82x on 2026-12-04 was 1.49x when rerun warm).
        t0 = time.monotonic()
        run_mode("serial", bags[:1], reference, prior, d / "warm-up")
        print(f"warm-up replay (untimed) {time.monotonic() - t0:.0f} s", flush=True)
        results = {}
        for mode in MODES:
            load = os.getloadavg()[0]
            results[mode] = run_mode(mode, bags, reference, prior, d / mode)
            results[mode]["load_before"] = round(load, 2)
            r = results[mode]
            print(f"{mode:12s} {r['wall_s']:7.1f} s wall, {r['cpu_s']:7.1f} s CPU ({r['cores_busy']} cores busy; "
                  f"load average before {load:.1f})", flush=True)
    serial = results["serial"]
    speed = {m: round(float(serial["wall_s"]) / float(r["wall_s"]), 2) for m, r in results.items()}  # type: ignore[arg-type]
    identical = {m: r["findings"] == serial["findings"] for m, r in results.items()}
    n_findings = {k: len(json.loads(v)) for k, v in serial["findings"].items()}  # type: ignore[union-attr]
    summary = {
        "surveys": len(bags), "decimate": args.decimate, "cpus": os.cpu_count(), "machine": platform.platform(),
        "python": platform.python_version(), "findings_per_survey": n_findings,
        "wall_s": {m: r["wall_s"] for m, r in results.items()}, "cpu_s": {m: r["cpu_s"] for m, r in results.items()},
        "cores_busy": {m: r["cores_busy"] for m, r in results.items()}, "load_before": {m: r["load_before"] for m, r in
                                                                                  results.items()},
        "speedup_vs_serial": speed, "findings_identical_to_serial": identical,
        "target": {"pool2_speedup": 1.7, "met": speed["pool2"] >= 1.7},
    }
    print(json.dumps({k: summary[k] for k in ("wall_s", "cpu_s", "speedup_vs_serial", "findings_identical_to_serial")},
                     indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch.json").write_text(json.dumps(summary, indent=1) + "\n")
    command = "NUMBA_CACHE_DIR=.venv/numba-cache .venv/bin/python bench/batch.py " + " ".join(sys.argv[1:])
    lines = [f"# Batch benchmark: {len(bags)} surveys (demo, --decimate {args.decimate}), {os.cpu_count()} CPUs", "",
             f"    {command}", "", "Prior: the first survey's quay notes (never the simulator's transform).", "",
             "| engine | wall s | CPU s | cores busy | speed-up vs serial | findings identical to serial | load before |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {m} | {r['wall_s']} | {r['cpu_s']} | {r['cores_busy']} | {speed[m]}x | {identical[m]} | "
              f"{r['load_before']} |" for m, r in results.items()]
    lines += ["", f"target: 2 workers >= 1.7x: {'met' if speed['pool2'] >= 1.7 else 'NOT met'}", ""]
    (out / "batch.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
