"""Fusion throughput: hullscan's voxel hash map vs OctoMap and open3d, on the same data.

1. Fusion with free-space evidence at 2 cm, beams/s, against OctoMap (pyoctomap)
   inserting the same rays ping by ping at the same resolution. OctoMap traces every
   ray from the sensor; hullscan carves a band before each return (its default) and,
   for a like-for-like figure, also full rays.
2. Voxel accumulation alone (no free space) against open3d ``voxel_down_sample`` on
   the same 10 M points.

    .venv/bin/python bench/bench_fusion.py [--pings 20000] [--octomap-pings 200]

Writes bench/results/fusion.json and .md. Best of 3 runs; the machine is shared, so
figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

from hullscan.core.voxelmap import PARALLEL_MIN_THREADS, PIPELINE_MIN_THREADS, VoxelMap
from hullscan.recon.config import ReconConfig
from hullscan.recon.synthetic import cylinder_rays

# The reconstruction's default footprint weights (recon.fusion_weight_range_m): the rate a survey gets.
R0 = ReconConfig().fusion_weight_range_m

RESULTS = Path(__file__).resolve().parent / "results"


def _flat(origins: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(pts[..., 0])
    ray = np.broadcast_to(np.arange(len(origins))[:, None], ok.shape)[ok].astype(np.int32)
    return pts[ok], ray


def fuse_rate(origins: np.ndarray, pts: np.ndarray, vs: float, carve_len: float, reps: int = 3,
              threads: int | None = None, force_parallel: bool = False) -> float:
    """Best of ``reps`` (the machine is shared), with ``threads`` numba threads (None: all).

    ``force_parallel`` runs the multi-threaded kernel ``_fuse_par`` even below ``PARALLEL_MIN_THREADS``
    (by default 2-3 threads run the two-thread pipeline, 1 thread the serial kernel).
    """
    from hullscan.core import voxelmap

    p, ray = _flat(origins, pts)
    sig = np.full(len(p), 0.025, np.float32)
    nt = numba.get_num_threads()
    numba.set_num_threads(threads or nt)
    min_threads = voxelmap.PARALLEL_MIN_THREADS
    if force_parallel:
        voxelmap.PARALLEL_MIN_THREADS = 2
    try:
        VoxelMap(vs, weight_range_m=R0).fuse(p[:100000], ray[:100000], origins, sig[:100000], 3.0, carve_len)  # compile / load
        best = np.inf
        for _ in range(reps):
            vm = VoxelMap(vs, capacity=1 << 20, weight_range_m=R0)
            t0 = time.perf_counter()
            vm.fuse(p, ray, origins, sig, 3.0, carve_len)
            best = min(best, time.perf_counter() - t0)
    finally:
        numba.set_num_threads(nt)
        voxelmap.PARALLEL_MIN_THREADS = min_threads
    return len(p) / best


def octomap_rate(origins: np.ndarray, pts: np.ndarray, vs: float) -> float | None:
    try:
        import pyoctomap
    except ImportError:
        return None
    tree = pyoctomap.OcTree(vs)
    n = 0
    t0 = time.perf_counter()
    for o, row in zip(origins, pts, strict=True):
        row = row[np.isfinite(row[:, 0])]
        tree.insertPointCloud(np.ascontiguousarray(row), np.ascontiguousarray(o), -1.0, False)
        n += len(row)
    return n / (time.perf_counter() - t0)


def accumulate_vs_open3d(n_points: int, vs: float) -> dict[str, float]:
    import open3d as o3d

    origins, pts, _ = cylinder_rays(int(1.3 * n_points / 512) + 1, 512, fan_deg=90.0)
    p, ray = _flat(origins, pts)
    p, ray = p[:n_points], ray[:n_points]
    sig = np.full(len(p), 0.025, np.float32)
    VoxelMap(vs, weight_range_m=R0).fuse(p[:100000], ray[:100000], origins, sig[:100000], 3.0, 0.0)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
    t_ours = t_o3d = np.inf
    for _ in range(3):  # best of 3 each, interleaved (shared machine)
        # Sized up front (as a mapper that knows its survey would): growth is timed elsewhere.
        vm = VoxelMap(vs, weight_range_m=R0)
        vm.reserve(len(p))
        t0 = time.perf_counter()
        vm.fuse(p, ray, origins, sig, 3.0, 0.0)
        t_ours = min(t_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        down = pc.voxel_down_sample(vs)
        t_o3d = min(t_o3d, time.perf_counter() - t0)
    return {"points": len(p), "hullscan_s": t_ours, "open3d_s": t_o3d, "ratio": t_o3d / t_ours,
            "hullscan_voxels": vm.n, "open3d_voxels": len(down.points)}


def kernel_name(threads: int) -> str:
    """The fusion kernel ``VoxelMap.fuse`` runs on a large batch with free space and ``threads`` threads."""
    if threads >= max(2, PARALLEL_MIN_THREADS):
        return "multi-threaded"
    return "two-thread pipeline" if threads >= max(2, PIPELINE_MIN_THREADS) else "serial"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=20000, help="pings x 512 beams for the fusion rate")
    ap.add_argument("--octomap-pings", type=int, default=200, help="pings given to OctoMap (it is slow)")
    ap.add_argument("--points", type=int, default=10_000_000, help="points for voxel accumulation")
    ap.add_argument("--voxel", type=float, default=0.02)
    args = ap.parse_args()
    vs = args.voxel
    origins, pts, _ = cylinder_rays(args.pings, 512)
    band = fuse_rate(origins, pts, vs, 0.2)
    band_1t = fuse_rate(origins, pts, vs, 0.2, threads=1)
    band_par = fuse_rate(origins, pts, vs, 0.2, force_parallel=True)
    # Like-for-like with OctoMap: full rays, on the pings OctoMap gets.
    sub_o, sub_p = origins[: args.octomap_pings], pts[: args.octomap_pings]
    full = fuse_rate(sub_o, sub_p, vs, 30.0)
    octo = octomap_rate(sub_o, sub_p, vs)
    acc = accumulate_vs_open3d(args.points, vs)
    res = {
        "voxel_m": vs, "beams": int(np.isfinite(pts[..., 0]).sum()), "cores": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "note": "shared 2-core machine; noisy",
        "threads": numba.get_num_threads(), "threading_layer": numba.threading_layer(),
        "load_average": os.getloadavg(),
        "hullscan_band_beams_per_s": band, "hullscan_band_1_thread_beams_per_s": band_1t,
        "hullscan_band_parallel_kernel_beams_per_s": band_par, "parallel_min_threads": PARALLEL_MIN_THREADS,
        "pipeline_min_threads": PIPELINE_MIN_THREADS, "default_kernel": kernel_name(numba.get_num_threads()),
        "hullscan_full_ray_beams_per_s": full,
        "octomap_full_ray_beams_per_s": octo,
        "ratio_band_vs_octomap": band / octo if octo else None,
        "ratio_full_vs_octomap": full / octo if octo else None,
        "accumulate": acc,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fusion.json").write_text(json.dumps(res, indent=2))
    lines = [
        "# Fusion benchmark", "",
        f"2 cm voxels, {res['beams']:,} beams, {res['cores']} cores shared with other jobs "
        f"(load average {res['load_average'][0]:.1f} at the end), {res['threads']} numba threads "
        f"({res['threading_layer']}); best of 3 runs each.", "",
        "| what | beams/s | vs OctoMap |", "|---|---:|---:|",
        f"| hullscan, free-space band 0.2 m, default ({res['threads']} threads available: "
        f"{res['default_kernel']} kernel) | {band:,.0f} | "
        f"{res['ratio_band_vs_octomap'] or float('nan'):.0f}x |",
        f"| hullscan, free-space band 0.2 m, 1 thread (serial kernel) | {band_1t:,.0f} | "
        f"{band_1t / octo if octo else float('nan'):.0f}x |",
        f"| hullscan, free-space band 0.2 m, multi-threaded kernel (`_fuse_par`) forced, {res['threads']} threads | "
        f"{band_par:,.0f} | {band_par / octo if octo else float('nan'):.0f}x |",
        f"| hullscan, full rays | {full:,.0f} | {res['ratio_full_vs_octomap'] or float('nan'):.1f}x |",
        f"| OctoMap insertPointCloud, full rays | {octo or float('nan'):,.0f} | 1x |", "",
        f"Voxel accumulation of {acc['points']:,} points: hullscan {acc['hullscan_s']:.2f} s, "
        f"open3d voxel_down_sample {acc['open3d_s']:.2f} s: **{acc['ratio']:.1f}x**.", "",
        f"The multi-threaded kernel is used from {PARALLEL_MIN_THREADS} threads: its hit stage is serial, so with "
        "2 threads the extra carving-buffer passes cost more than the second thread gains. With "
        f"{PIPELINE_MIN_THREADS}-{PARALLEL_MIN_THREADS - 1} threads the two-thread pipeline runs: the hits of each "
        "batch in input order on one thread at a time, the free space of earlier batches beside them (either "
        "thread takes whichever task is ready); results are bit-identical to the serial kernel.", "",
        "Reproduce: `.venv/bin/python bench/bench_fusion.py`",
    ]
    (RESULTS / "fusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
