"""Live mapping latency: per-ping processing time at 512 beams, ping by ping.

    .venv/bin/python bench/bench_live.py [--pings 4000]

Feeds a Reconstructor (``chunk_pings=1``, as the ROS mapper runs it) navigation and
profiling pings at 20 Hz, and times every ``add(nav); add(ping)`` pair (georeferencing,
cleaning, fusion with free space of the ping that became ready: a ping waits for navigation
``recon.nav_depth_smoothing_s`` past it, so the map trails the vehicle by that much). Also times a full ``cloud()`` snapshot at the end.
Peer: OctoMap inserting the same ping (full rays) in the same loop.
Results to bench/results/live.json and .md. The machine is shared: figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped
from hullscan.recon.config import ReconConfig
from hullscan.recon.pipeline import Reconstructor, warmup
from hullscan.recon.synthetic import cylinder_rays

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=4000)
    ap.add_argument("--octomap-pings", type=int, default=100)
    args = ap.parse_args()
    compile_s = warmup()
    origins, pts, ranges = cylinder_rays(args.pings, 512, lanes=1)
    angles = np.deg2rad(np.linspace(-60, 60, 512)).astype(np.float32)
    inten = np.full(512, 40.0, np.float32)
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    rec.add(TransformStamped(0, "base_link", "sonar", Transform.from_euler(0.0, -np.pi / 2, 0.0), static=True))
    q = np.array([0.0, 0, 0, 1])
    lat = []
    dt = 50_000_000
    for k in range(args.pings):
        t = k * dt
        ping = ProfilingPing(t, "sonar", angles, ranges[k], inten, range_min=0.2, range_max=20.0)
        # A ping is placed once navigation past it has arrived (the depth smoothing window,
        # recon.nav_depth_smoothing_s): whichever add does the work, both are timed.
        t0 = time.perf_counter()
        rec.add(NavSample(t, origins[k], q))
        rec.add(ping)
        lat.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    cloud = rec.cloud()
    t_cloud = time.perf_counter() - t0
    lat_ms = np.array(lat[10:]) * 1e3
    octo_ms = None
    try:
        import pyoctomap

        tree = pyoctomap.OcTree(0.02)
        ol = []
        for k in range(min(args.octomap_pings, args.pings)):
            row = pts[k][np.isfinite(pts[k][:, 0])]
            t0 = time.perf_counter()
            tree.insertPointCloud(np.ascontiguousarray(row), np.ascontiguousarray(origins[k]), -1.0, False)
            ol.append(time.perf_counter() - t0)
        octo_ms = float(np.percentile(np.array(ol) * 1e3, 99))
    except ImportError:
        pass
    res = {"pings": args.pings, "beams": 512, "p50_ms": float(np.percentile(lat_ms, 50)),
           "p99_ms": float(np.percentile(lat_ms, 99)), "max_ms": float(lat_ms.max()),
           "octomap_p99_ms": octo_ms, "cloud_snapshot_s": t_cloud, "cloud_points": len(cloud),
           "numba_compile_s": compile_s, "cores": os.cpu_count(), "note": "shared 2-core machine; noisy"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(res, indent=2))
    lines = ["# Live benchmark: per-ping latency", "",
             f"{args.pings:,} pings x 512 beams, ping by ping (chunk_pings=1), {os.cpu_count()} cores "
             "(shared, noisy).", "",
             f"**p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms**, max {res['max_ms']:.1f} ms per ping "
             "(georeference + clean + fuse with free space).",
             f"OctoMap insertPointCloud of the same ping: p99 {octo_ms or float('nan'):.1f} ms "
             f"(ratio {(octo_ms or float('nan')) / res['p99_ms']:.0f}x).",
             f"A full cloud() snapshot of {len(cloud):,} points took {t_cloud:.2f} s.", "",
             "Timed: each navigation sample and ping added together. A ping is placed once navigation "
             f"{ReconConfig().nav_depth_smoothing_s:g} s past it has arrived (`recon.nav_depth_smoothing_s`: depth is "
             "smoothed over that window), so the map trails the vehicle by that much; the figures are the work "
             "per ping, not that wait.", "",
             "Reproduce: `.venv/bin/python bench/bench_live.py`"]
    (RESULTS / "live.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
