"""A 30-minute survey (36,000 pings x 512 beams at 20 Hz) from bag to saved cloud, by stage.

    .venv/bin/python bench/bench_pipeline.py [--pings 36000] [--bag /tmp/hullscan_bench_bag]

The bag (synthetic cylinder hull, 4 lanes, 40 Hz navigation) is written once and reused.
Times: clean, georef, fuse, extract, write PLY; read_bag is the rest of the fusing
process's time (waiting for and taking the samples that a second process decodes, see
``hullscan.bag.prefetch``; that process's CPU time is reported apart, as is numba
compile/cache-load). Peer: open3d voxel_down_sample of the same
georeferenced points (the cheapest thing a pipeline without fusion could do).
Results to bench/results/pipeline.json and .md. The machine is shared: figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from hullscan.bag import BagWriter
from hullscan.cloud_io import save_cloud
from hullscan.config import HullscanConfig
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped
from hullscan.recon.pipeline import reconstruct_bag
from hullscan.recon.synthetic import cylinder_rays

RESULTS = Path(__file__).resolve().parent / "results"
T0 = 1_700_000_000_000_000_000


def write_bag(path: Path, pings: int, beams: int = 512) -> None:
    origins, _, ranges = cylinder_rays(pings, beams)
    # Sonar frame: beams in its x-y plane; mounted so its x is base z (up) and y is base y.
    mount = Transform.from_euler(0.0, -np.pi / 2, 0.0)
    angles = np.deg2rad(np.linspace(-60, 60, beams)).astype(np.float32)
    inten = np.full(beams, 40.0, np.float32)
    dt = 50_000_000
    with BagWriter(path) as bag:
        bag.write(TransformStamped(T0, "base_link", "sonar", mount, static=True))
        for k in range(pings):
            t = T0 + k * dt
            for j in range(2):  # navigation at 40 Hz, interpolated between ping poses
                tn = t + j * dt // 2
                w = j / 2
                nxt = origins[min(k + 1, pings - 1)]
                if k + 1 < pings and np.linalg.norm(nxt - origins[k]) > 0.5:
                    nxt = origins[k]  # lane change: hold the pose
                bag.write(NavSample(tn, origins[k] * (1 - w) + nxt * w, np.array([0.0, 0, 0, 1]),
                                    position_sigma=np.full(3, 0.01)))
            bag.write(ProfilingPing(t, "sonar", angles, ranges[k], inten, range_min=0.2, range_max=20.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=36000)
    ap.add_argument("--runs", type=int, default=3, help="report the best of this many runs")
    ap.add_argument("--bag", type=Path, default=None, help="where to keep the generated bag")
    ap.add_argument("--nav-depth-smoothing", type=float, default=None, metavar="S",
                    help="recon.nav_depth_smoothing_s (default: the config's; 0: off, for a side-by-side run)")
    args = ap.parse_args()
    config = HullscanConfig()
    if args.nav_depth_smoothing is not None:
        recon = config.recon.model_copy(update={"nav_depth_smoothing_s": args.nav_depth_smoothing})
        config = config.model_copy(update={"recon": recon})
    bag = args.bag or Path(tempfile.gettempdir()) / f"hullscan_bench_bag_{args.pings}"
    if not bag.exists():
        t0 = time.perf_counter()
        try:
            write_bag(bag, args.pings)
        except BaseException:
            shutil.rmtree(bag, ignore_errors=True)
            raise
        print(f"wrote {bag} in {time.perf_counter() - t0:.1f} s")
    ap_runs = max(1, args.runs)
    best = None
    for _ in range(ap_runs):  # best of N (shared machine); numba compile only counts in the first
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = reconstruct_bag(bag, config, progress=False)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t1 = time.perf_counter()
        out = Path(tempfile.mkdtemp()) / "cloud.ply"
        save_cloud(res.cloud, out)
        t_write = time.perf_counter() - t1
        timings = dict(res.timings_s)
        timings["write_ply"] = t_write
        total = timings["total"] + t_write
        print(f"run: bag to cloud {total:.1f} s")
        if best is None or total < best[0]:
            best = (total, timings, res, time.perf_counter() - t0,
                    c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
    assert best is not None
    bag_to_cloud, timings, res, wall, decode_cpu = best
    # Peer: open3d voxel_down_sample of the same points (no cleaning, no fusion, no free space).
    import open3d as o3d

    _, pts, _ = cylinder_rays(args.pings, 512)
    p = pts[np.isfinite(pts[..., 0])]
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
    t2 = time.perf_counter()
    pc.voxel_down_sample(0.02)
    t_o3d = time.perf_counter() - t2
    result = {
        "pings": args.pings, "beams_per_ping": 512, "survey_minutes": args.pings / 20 / 60,
        "bag_to_cloud_s": bag_to_cloud, "wall_s": wall, "runs": args.runs,
        "numba_threads": numba.get_num_threads(), "load_average": os.getloadavg(),
        "timings_s": timings, "decode_process_cpu_s": decode_cpu, "stats": res.stats, "points_out": len(res.cloud),
        "realtime_factor": args.pings / 20 / bag_to_cloud,
        "open3d_voxel_down_sample_s": t_o3d, "cores": os.cpu_count(),
        "note": "shared 2-core machine; noisy",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2))
    rows = [f"| {k} | {v:.2f} |" for k, v in timings.items() if k not in ("total",)]
    lines = [
        "# Pipeline benchmark: bag to cloud", "",
        f"{args.pings:,} pings x 512 beams ({result['survey_minutes']:.0f} min survey at 20 Hz), "
        f"{os.cpu_count()} cores shared with other jobs (load average {result['load_average'][0]:.1f}), "
        f"{result['numba_threads']} numba threads; best of {args.runs} runs.", "",
        f"**Bag to saved cloud: {bag_to_cloud:.1f} s** ({result['realtime_factor']:.0f}x real time), "
        f"{len(res.cloud):,} points from {int(res.stats['points_fused']):,} returns.", "",
        "| stage | s |", "|---|---:|", *rows, "",
        f"The bag is decoded in a second process alongside fusion: {decode_cpu:.2f} s of CPU there "
        "(read_bag above is the fusing process's own share: waiting and taking the samples).", "",
        f"For scale: open3d voxel_down_sample of the same raw points alone takes {t_o3d:.2f} s.", "",
        f"Reproduce: `.venv/bin/python bench/bench_pipeline.py --pings {args.pings}`",
    ]
    (RESULTS / "pipeline.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
