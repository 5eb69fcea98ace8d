"""Comparator benchmark: a ~5 M-point cloud against a ~200 k-triangle reference, alignment included.

Prints the stage timings of hullscan's inspect() and, on the same data, the signed-distance stage
against open3d's RaycastingScene.compute_signed_distance and py4dgeo's M3C2 (when installed:
pip install -e '.[bench]'). Results: bench/results/compare.json and .md. Timings on a shared
2-core machine are noisy (the same code has run 13-16 s an hour apart), so the inspection runs
``--repeat`` times (3) and the median run is reported, with every run's total; the target (<= 15 s)
is judged on the median, never asserted. The comparator's
numba kernels are compiled (first run after a change) or loaded from numba's cache before the
timing starts, as a long-running comparator has them; that time is reported apart.

    .venv/bin/python bench/bench_compare.py [--points 5000000] [--triangles 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import inspect
from hullscan.compare.prior import DEFAULT_SIGMA, perturbed
from hullscan.compare.synthetic import Box, make_hull, make_scan
from hullscan.model import Transform
from hullscan.recon.drift import AlongShipUncertainty

OUT = Path(__file__).parent / "results"
STATED_ALONG_M = 0.37  # 2 sigma along the ship: the median of the most each library run states (stop 47)


def warm_kernels() -> float:
    """Compile or load the comparator's numba kernels on a few points; returns the seconds it took."""
    from hullscan.core.distance import any_near_plane, mesh_signed_distance
    from hullscan.core.grid import group_keys, voxel_keys, voxel_knn
    from hullscan.core.interp import blend_shifts

    t = time.perf_counter()
    p = np.random.default_rng(0).uniform(0.0, 1.0, (256, 3))
    keys = voxel_keys(p, 0.2)
    first, _, _ = group_keys(keys)
    group_keys(keys, sort=False)
    voxel_knn(p[first], keys[first], 0.2, 4, 0.3)
    blend_shifts(p, p[:8], np.zeros((8, 3)), 8, 1.0)
    mesh_signed_distance(p, p.astype(np.float32), p.astype(np.float32))
    any_near_plane(p, np.arange(8), np.arange(8), p[:8], p[:8], 0.1)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5_000_000)
    ap.add_argument("--triangles", type=int, default=200_000)
    ap.add_argument("--m3c2-cores", type=int, default=20000, help="M3C2 core points (it is much slower)")
    ap.add_argument("--no-registration", action="store_true",
                    help="only refine the prior (the figure before registration from an operator's prior)")
    ap.add_argument("--repeat", type=int, default=3, help="inspections timed; the median one is reported")
    args = ap.parse_args()
    case = make_case(args.points, args.triangles)
    hull, scan, tf, pivot = case.hull, case.scan, case.tf, case.pivot
    cfg = CompareConfig()
    warm_s = warm_kernels()
    # As replay judges a survey: with an along-ship uncertainty stated (the library's median 2 sigma),
    # so the detector's reach along the ship and the local baseline's shift along it are timed too.
    along = AlongShipUncertainty.uniform(np.asarray(scan.cloud.points[::1000], np.float64).mean(axis=0), STATED_ALONG_M)
    runs = []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        ins = inspect(scan.cloud, hull, cfg, hull_to_nav=case.prior,
                      sigma=None if args.no_registration else DEFAULT_SIGMA, along=along)
        runs.append((time.perf_counter() - t, ins))
    totals = [round(r[0], 2) for r in runs]
    total, ins = sorted(runs, key=lambda r: r[0])[len(runs) // 2]  # the median run (the upper one of an even count)
    pts = ins.points
    assert pts is not None and ins.reference is not None
    ref = ins.reference
    # The same signed-distance stage by the peers, on the same points and mesh.
    o3d_s, sd = open3d_signed_distance(hull, ref, pts)
    ours = ins.deviation
    both = np.isfinite(ours)
    agree = float(np.median(np.abs(np.abs(sd[both]) - np.abs(ours[both]))))
    m3c2 = m3c2_peer(ref, pts, args.m3c2_cores)
    ours_sd = ins.timings_s["signed_distance"]
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "note": "shared 2-core box, noisy"},
        "cloud_points": len(scan.cloud), "reference_triangles": len(hull.faces),
        "generate_s": round(case.generate_s, 2), "numba_warmup_s": round(warm_s, 2), "inspect_total_s": round(total, 2),
        "inspect_totals_s": totals,
        "target_s": 15.0, "meets_target": total <= 15.0, "stages_s": ins.timings_s,
        "signed_distance": {
            "hullscan_s": ours_sd, "open3d_compute_signed_distance_s": round(o3d_s, 3),
            "ratio_open3d_over_hullscan": round(o3d_s / max(ours_sd, 1e-9), 2),
            "median_abs_difference_m": round(agree, 6), "py4dgeo_m3c2": m3c2,
        },
        "findings": len(ins.findings), "coverage": round(ins.coverage.fraction, 4) if ins.coverage else None,
        "alignment_residual_m": round(ins.alignment.residual_m, 4) if ins.alignment else None,
        "registration": None if not ins.alignment or not ins.alignment.registration
        else ins.alignment.registration.as_dict(),
        "placement_error_m": round(float(np.linalg.norm((ins.cloud_to_ref @ tf).apply(pivot) - pivot)), 4)
        if ins.cloud_to_ref is not None else None,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "compare.json").write_text(json.dumps(result, indent=2))
    md = markdown(result, ins.timings_s, total, warm_s, o3d_s, len(pts), registration=not args.no_registration)
    (OUT / "compare.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


@dataclass(frozen=True)
class Case:
    """The benchmark's hull, its scan placed in the navigation frame by ``tf``, and an operator's prior."""

    hull: Any
    scan: Any
    tf: Transform
    pivot: np.ndarray
    prior: Transform
    generate_s: float


def make_case(points: int, triangles: int) -> Case:
    """A hull of about ``triangles`` triangles and a scan of about ``points`` points with three boxes."""
    # Hull size chosen so the wetted surface sampled at the needed spacing gives ~points.
    n_s = 201
    n_x = max(20, triangles // (2 * (n_s + 2)))
    hull = make_hull(length=60.0, beam=12.0, draft=5.0, n_x=n_x, n_s=n_s)
    wetted = 60.0 * (12.0 + 2 * 5.0) * 0.85
    spacing = float(np.sqrt(wetted / points))
    tf = Transform.from_euler(0.01, 0.0, 0.4, (300.0, 120.0, 0.2))
    boxes = (Box(20.0, 1, -2.0, (0.6, 0.5, 0.25)), Box(35.0, -1, -3.0, (0.4, 0.4, 0.15)),
             Box(28.0, 0, 0, (1.0, 0.6, 0.3), y=2.0))
    t = time.perf_counter()
    scan = make_scan(hull, boxes, spacing=spacing, growth=0.3, hull_to_nav=tf, seed=0)
    gen_s = time.perf_counter() - t
    # An operator's prior: 3 m along the ship, 1 m across and 4 degrees of heading off, searched
    # over the default uncertainty (5 m, 2 m, 10 deg) as replay and compare do.
    pivot = tf.inverse().apply(np.asarray(scan.cloud.points[:: max(1, len(scan.cloud) // 10000)], float).mean(0))
    prior = perturbed(tf, pivot, 3.0, 1.0, 4.0)
    return Case(hull, scan, tf, pivot, prior, gen_s)


def open3d_signed_distance(hull: Any, ref: Any, pts: np.ndarray) -> tuple[float, np.ndarray]:
    """Peer 1: open3d's RaycastingScene.compute_signed_distance; (seconds, distances)."""
    import open3d as o3d
    import open3d.core as o3c

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3c.Tensor(hull.vertices.astype(np.float32)), o3c.Tensor(ref._faces.astype(np.uint32)))
    t = time.perf_counter()
    sd = scene.compute_signed_distance(o3c.Tensor(pts.astype(np.float32))).numpy()
    return time.perf_counter() - t, sd


def m3c2_peer(ref: Any, pts: np.ndarray, n_cores: int) -> dict[str, object]:
    """Peer 2: py4dgeo M3C2 (cloud-to-cloud), core points subsampled; {'available': False} without it."""
    try:
        import py4dgeo

        ref_pts = ref.icp_points
        rng = np.random.default_rng(0)
        cores = pts[rng.choice(len(pts), min(n_cores, len(pts)), replace=False)]
        e1 = py4dgeo.Epoch(np.ascontiguousarray(ref_pts))
        e2 = py4dgeo.Epoch(np.ascontiguousarray(pts[:: max(1, len(pts) // 1_000_000)]))
        t = time.perf_counter()
        algo = py4dgeo.M3C2(epochs=(e1, e2), corepoints=cores, cyl_radius=0.2, normal_radii=(0.5,),
                            max_distance=1.5)
        dist, _ = algo.run()
        m3c2_s = time.perf_counter() - t
        return {"available": True, "core_points": len(cores), "seconds": round(m3c2_s, 3),
                "seconds_per_million_points": round(m3c2_s / len(cores) * 1e6, 2),
                "finite": float(np.isfinite(dist).mean())}
    except ImportError as err:
        return {"available": False, "reason": str(err)}


def markdown(result: dict[str, Any], stages: dict[str, float], total: float, warm_s: float, o3d_s: float,
             n_points: int, *, registration: bool) -> list[str]:
    """compare.md's lines: the stage table, then the signed-distance comparison with the peers."""
    n_cloud, n_tri = result["cloud_points"], result["reference_triangles"]
    ours_sd = result["signed_distance"]["hullscan_s"]
    m3c2 = result["signed_distance"]["py4dgeo_m3c2"]
    md = ["# bench_compare", "", f"{n_cloud:,} points vs {n_tri:,} triangles, registration from "
          "an operator's prior (3 m along, 1 m across, 4 deg off; searched over 5 m / 2 m / 10 deg) included"
          if registration else f"{n_cloud:,} points vs {n_tri:,} triangles, prior "
          "refined only", "", "Reproduce: `.venv/bin/python bench/bench_compare.py`",
          "", "| stage | seconds |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in stages.items()]
    runs = result["inspect_totals_s"]
    md += [f"| **total inspect** | **{total:.2f}** (target 15; the median of {len(runs)} runs: "
           f"{', '.join(f'{t:.2f}' for t in runs)}) |",
           f"| (numba kernels compiled or loaded from cache beforehand) | {warm_s:.2f} |", "",
           "| signed distance | seconds | ratio vs hullscan |", "|---|---|---|",
           f"| hullscan (closest point + sign) | {ours_sd} | 1.0 |",
           f"| open3d compute_signed_distance | {o3d_s:.3f} | {o3d_s / max(ours_sd, 1e-9):.2f} |"]
    if m3c2.get("available"):
        per_m = float(m3c2["seconds_per_million_points"])
        md.append(f"| py4dgeo M3C2 ({m3c2['core_points']} core points; {per_m} s per M points) | "
                  f"{m3c2['seconds']} | {per_m * n_points / 1e6 / max(ours_sd, 1e-9):.1f} (extrapolated) |")
    else:
        md.append(f"| py4dgeo M3C2 | not installed ({m3c2.get('reason')}) | |")
    return md


if __name__ == "__main__":
    main()
