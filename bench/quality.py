"""Reconstruction quality on simulated surveys, measured against the true hull.

    .venv/bin/python bench/quality.py [--scenario sim/scenarios/demo.yaml]

Case A, perfect navigation, 2 cm range noise: RMS point-to-surface distance (target
<= 1.2 x noise) and the share of points more than 10 cm off (target < 0.5 %; fish,
bubbles, multipath ghosts).
Case B, 0.3 % drift (+ 0.2 deg heading bias): the same figures and the local
thickness of the surface (double surfaces show as thick patches) without and with
drift correction (target: RMS <= 2 x noise, no double surfaces).
Case C, the strong_drift scenario (1.5 %, 1 deg heading bias, ~1.7 m max error) and the same
survey with ~1 m drift (0.8 %, 0.6 deg): without correction, submap-to-submap correction and
correction against the design mesh (``recon.drift.reference`` with the ``hull_to_nav`` prior;
target: RMS <= 2 x noise, no double surfaces).

Distances are to the design mesh (reference.ply) in the hull frame; points within a
margin of a parasite (not in the design mesh) are left out. Growth and as-built dents
are switched off so the design mesh is the true surface. Results to
bench/results/quality.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.config import HullscanConfig, deep_merge, read_yaml
from hullscan.model import HullCloud, Transform
from hullscan.recon.config import DriftConfig, ReconConfig
from hullscan.recon.pipeline import reconstruct_bag

RESULTS = Path(__file__).resolve().parent / "results"
NOISE = 0.02
CLEAN = {"growth": {"roughness_m": 0.0, "patch_thickness_m": 0.0},
         "as_built": {"dents": 0, "seam_height_m": 0.0},
         "sensors": {"multibeam": {"noise_m": NOISE, "noise_per_m": 0.0}}}
PERFECT = {"navigation": {"drift_percent": 0.0, "heading_bias_deg": 0.0, "depth_sigma_m": 0.0,
                          "attitude_sigma_deg": 0.0}}
DRIFT = {"navigation": {"drift_percent": 0.3, "heading_bias_deg": 0.2, "depth_sigma_m": 0.0}}
DRIFT_1M = {"navigation": {"drift_percent": 0.8, "heading_bias_deg": 0.6}}  # ~0.9 m max error on strong_drift


def simulate(base: Path, overrides: dict[str, Any], out: Path) -> Path:
    from hullscan_sim import simulate as sim
    from hullscan_sim.scenario import scenario_from_dict

    data = deep_merge(read_yaml(base), overrides)
    sc = scenario_from_dict(data, str(base))
    sim(sc, out, overwrite=True)
    return out


def measure(cloud: HullCloud, truth_dir: Path) -> dict[str, float]:
    import open3d as o3d

    truth = json.loads((truth_dir / "truth.json").read_text())
    h2n = Transform(np.array(truth["hull_to_nav"]["rotation"]), np.array(truth["hull_to_nav"]["translation"]))
    pts = h2n.inverse().apply(cloud.points)
    keep = np.ones(len(pts), bool)
    for par in truth.get("parasites", []):
        c = np.array(par["centroid_hull"])
        r = float(np.max(par["size_m"])) + 0.3
        keep &= np.linalg.norm(pts - c, axis=1) > r
    pts = pts[keep]
    mesh = o3d.io.read_triangle_mesh(truth_dir / "reference.ply")
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
    query = o3d.core.Tensor.from_numpy(np.ascontiguousarray(pts, np.float32))
    d = scene.compute_distance(query).numpy().astype(np.float64)
    # Local thickness: spread of the distance inside 10 cm patches (a double surface is thick).
    cell = np.floor(pts / 0.10).astype(np.int64)
    _, inv, cnt = np.unique(cell, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    spread = np.array([np.ptp(d[order[s:s + n]]) if n >= 4 else np.nan for s, n in zip(starts, cnt, strict=True)])
    spread = spread[np.isfinite(spread)]
    return {"points": float(len(pts)), "rms_m": float(np.sqrt(np.mean(d**2))), "median_m": float(np.median(d)),
            "p99_m": float(np.percentile(d, 99)), "share_over_10cm": float(np.mean(d > 0.10)),
            "patch_spread_p50_m": float(np.median(spread)), "patch_spread_p95_m": float(np.percentile(spread, 95)),
            "patches_thicker_than_15cm": float(np.mean(spread > 0.15))}


def run_case(bag: Path, drift: bool, reference: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """``reference``: correct drift against the design mesh, placed by the true ``hull_to_nav``."""
    truth_dir = Path(str(bag) + ".truth")
    dc = DriftConfig(enabled=drift or reference,
                     **({"reference": str(truth_dir / "reference.ply"), "hull_to_nav": str(truth_dir / "truth.json")}
                        if reference else {}))
    cfg = HullscanConfig(recon=ReconConfig(drift=dc))
    t0 = time.perf_counter()
    res = reconstruct_bag(bag, cfg, progress=False)
    m = measure(res.cloud, Path(str(bag) + ".truth"))
    m["seconds"] = time.perf_counter() - t0
    return m, {k: v for k, v in res.stats.items() if k.startswith("drift")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=Path("sim/scenarios/demo.yaml"))
    ap.add_argument("--strong", type=Path, default=Path("sim/scenarios/strong_drift.yaml"),
                    help="also run this scenario with its own (strong) drift, before/after")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hullscan_quality_"))
    res: dict[str, Any] = {"scenario": str(args.scenario), "noise_m": NOISE}
    bag_a = simulate(args.scenario, deep_merge(CLEAN, PERFECT), work / "perfect")
    res["perfect"], _ = run_case(bag_a, drift=False)
    res["perfect_corrected"], res["perfect_stats"] = run_case(bag_a, drift=True)
    bag_b = simulate(args.scenario, deep_merge(CLEAN, DRIFT), work / "drift")
    truth = json.loads((Path(str(bag_b) + ".truth") / "truth.json").read_text())
    res["drift_nav"] = truth.get("nav", {})
    res["drift_before"], _ = run_case(bag_b, drift=False)
    res["drift_after"], res["drift_stats"] = run_case(bag_b, drift=True)
    res["perfect_reference"], res["perfect_reference_stats"] = run_case(bag_a, drift=True, reference=True)
    res["drift_reference"], res["drift_reference_stats"] = run_case(bag_b, drift=True, reference=True)
    strong_rows: list[str] = []
    if args.strong and args.strong.exists():
        for key, over in (("strong", CLEAN), ("drift1m", deep_merge(CLEAN, DRIFT_1M))):
            bag_c = simulate(args.strong, over, work / key)
            truth_c = json.loads((Path(str(bag_c) + ".truth") / "truth.json").read_text())
            res[f"{key}_nav"] = truth_c.get("nav", {})
            res[f"{key}_before"], _ = run_case(bag_c, drift=False)
            res[f"{key}_after"], res[f"{key}_stats"] = run_case(bag_c, drift=True)
            res[f"{key}_reference"], res[f"{key}_reference_stats"] = run_case(bag_c, drift=True, reference=True)
    a, b0, b1 = res["perfect"], res["drift_before"], res["drift_after"]
    res["pass"] = {"perfect_rms": a["rms_m"] <= 1.2 * NOISE, "perfect_outliers": a["share_over_10cm"] < 0.005,
                   "drift_rms": b1["rms_m"] <= 2 * NOISE,
                   "no_double_surfaces": b1["patches_thicker_than_15cm"] < 0.01,
                   "perfect_reference_no_harm": res["perfect_reference"]["rms_m"] <= 1.2 * NOISE}
    for key in ("strong", "drift1m"):
        if f"{key}_reference" in res:
            m = res[f"{key}_reference"]
            res["pass"][f"{key}_reference_rms"] = m["rms_m"] <= 2 * NOISE
            res["pass"][f"{key}_reference_no_double_surfaces"] = m["patches_thicker_than_15cm"] < 0.01
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(res, indent=2))

    def row(name: str, m: dict[str, float]) -> str:
        return (f"| {name} | {m['points']:,.0f} | {100 * m['rms_m']:.2f} | {100 * m['p99_m']:.1f} | "
                f"{100 * m['share_over_10cm']:.2f} % | {100 * m['patch_spread_p95_m']:.1f} | "
                f"{100 * m['patches_thicker_than_15cm']:.2f} % |")

    if "strong_before" in res:
        nm = args.strong.stem
        mx = res["drift1m_nav"].get("max_error_m", float("nan"))
        strong_rows = [row(f"{nm}, no correction", res["strong_before"]),
                       row(f"{nm}, corrected (submaps only)", res["strong_after"]),
                       row(f"{nm}, corrected against the design mesh", res["strong_reference"]),
                       row(f"{nm} at {mx:.1f} m drift, no correction", res["drift1m_before"]),
                       row(f"{nm} at {mx:.1f} m drift, corrected (submaps only)", res["drift1m_after"]),
                       row(f"{nm} at {mx:.1f} m drift, corrected against the design mesh", res["drift1m_reference"])]
    lines = ["# Reconstruction quality (simulated, against the design mesh)", "",
             f"Scenario `{args.scenario}`, range noise {100 * NOISE:.0f} cm, growth and dents off.", "",
             "| case | points | RMS cm | p99 cm | > 10 cm | patch spread p95 cm | patches > 15 cm thick |",
             "|---|---:|---:|---:|---:|---:|---:|",
             row("perfect navigation", a), row("perfect navigation, drift correction on", res["perfect_corrected"]),
             row("perfect navigation, corrected against the design mesh", res["perfect_reference"]),
             row("0.3 % drift, no correction", b0), row("0.3 % drift, corrected", b1),
             row("0.3 % drift, corrected against the design mesh", res["drift_reference"]), *strong_rows, "",
             f"Targets: perfect RMS <= {120 * NOISE:.1f} cm and < 0.5 % over 10 cm; drift corrected RMS <= "
             f"{200 * NOISE:.0f} cm and no double surfaces. Pass: {res['pass']}.",
             f"Navigation in the drift case: {res['drift_nav']}. Drift correction: {res['drift_stats']}.",
             f"Perfect navigation, drift correction: {res['perfect_stats']}.",
             f"Against the design mesh: perfect navigation {res['perfect_reference_stats']}; "
             f"0.3 % drift {res['drift_reference_stats']}.",
             *([f"Strong drift (`{args.strong}`): navigation {res['strong_nav']}; submap correction "
                f"{res['strong_stats']}; against the design mesh {res['strong_reference_stats']}.",
                f"~1 m drift ({DRIFT_1M['navigation']}): navigation {res['drift1m_nav']}; submap correction "
                f"{res['drift1m_stats']}; against the design mesh {res['drift1m_reference_stats']}."]
               if "strong_nav" in res else []), "",
             "Reproduce: `.venv/bin/python bench/quality.py`"]
    (RESULTS / "quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
