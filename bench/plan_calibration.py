"""Issue 20: fit the planner's model of the cloud's own sigma, and its alignment allowance, on plan
checks of hulls that are not among the issue's three.

    PYTHONPATH=. .venv/bin/python bench/plan_calibration.py --run runs/cal34 \\
        --scenario wigley_mesh --scenario topsides_mesh --scenario bow_thruster ... --out runs/cal34/fit

Each ``--run/<scenario>`` is a plan check (``hullscan evaluate --plan`` or ``bench/plan_vs_achieved.py``:
its plan, bag and quay notes). The bag is replayed once more with the comparator's defaults (the
estimated uncertainty model; the prior is the quay notes, no truth reaches the pipeline) and the cells
``make_cells`` forms are taken from inside it. Per reference sample: the returns the plan's route
leaves there by the planner's own ray cast (:meth:`hullscan.plan.predict.Predictor.cast`) and the
median cloud sigma of the cells the comparator judges it by (within ``coverage_radius_m``). The four
numbers of :class:`hullscan.plan.calibration.CloudSigmaModel` are fitted to those medians (robust least
squares on their logarithm); the two of :class:`hullscan.plan.calibration.AlignmentResidualModel` to
the replays' alignment residuals against the spread of the planned returns' leading-edge bias. Writes
``OUT/plan_calibration.json`` (and ``OUT/<scenario>/samples.npz``, reused by a later call into the
same OUT) and prints the constants to copy into ``hullscan/plan/calibration.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

import hullscan.compare.kinds as kinds
from hullscan.compare.analysis import ESTIMATED_LEAST_SIGMA_M
from hullscan.compare.reference import mesh_reference
from hullscan.config import HullscanConfig
from hullscan.hull import load_mesh
from hullscan.inspection import ReferenceFile, replay
from hullscan.plan import SYSTEMATIC_ALLOWANCE_M
from hullscan.plan.calibration import CALIBRATION, AlignmentResidualModel, CloudSigmaModel
from hullscan.plan.predict import Predictor, judged_height_sigma
from hullscan.plan.sonar import load_profile


def _capture() -> dict[str, Any]:
    """Wrap make_cells where the design-mesh comparison calls it: the last cells it formed."""
    rec: dict[str, Any] = {}
    make_cells = kinds.make_cells

    def wrapped(*a: Any, **k: Any) -> Any:
        cells = make_cells(*a, **k)
        rec["cells"] = cells
        return cells

    kinds.make_cells = wrapped
    return rec


def samples_of(run: Path, cfg: HullscanConfig, rec: dict[str, Any], out: Path) -> dict[str, Any]:
    """Per reference sample of one plan check: the planned returns' terms and the achieved median cloud sigma."""
    plan = json.loads((run / "plan" / "plan.json").read_text())
    draft = float(plan["reference"]["draft_m"])
    replay(str(run / "bag"), ReferenceFile(str(run / "reference.ply"), "auto", draft), str(out), cfg,
           prior_path=str(run / "bag.operator.yaml"), progress=False, drift=True, camera=False)
    cells = rec["cells"]
    cov = cfg.compare.coverage
    mesh = load_mesh(str(run / "reference.ply"), draft=draft)
    ref = mesh_reference(mesh, coverage_cell=cov.coverage_cell_m, coverage_max_z=cov.coverage_max_z_m)
    pred = Predictor(ref, load_profile(str(run / "sonar.yaml")), cfg.compare,
                     speed_mps=float(plan["vehicle"]["speed_mps"]), voxel_m=cfg.recon.voxel_size)
    acc = pred.cast(np.asarray(plan["route_hull"], float).reshape(-1, 4)[:, :3])
    good = cells.judged & (cells.confidence >= cov.coverage_min_confidence)
    sig = np.maximum(cells.sigma[good], 0.01)
    unc = cells.uncertainty[good]
    near = cKDTree(cells.points[good]).query_ball_point(ref.samples, cov.coverage_radius_m, workers=-1)
    med = np.array([np.median(sig[i]) if len(i) >= cov.coverage_min_points else np.nan for i in near])
    # The comparator's own uncertainty there (its configured model, self-calibrated).
    med_unc = np.array([np.nanmedian(unc[i]) if len(i) >= cov.coverage_min_points else np.nan for i in near])
    ok = (acc.returns > 0) & np.isfinite(med) & np.isfinite(med_unc)
    n = acc.returns[ok]
    return {"density": n / ref.sample_area, "range_var": acc.range_var[ok] / n, "footprint_var": acc.footprint_var[ok] / n,
            "normal_var": acc.normal_var[ok] / n, "bias": acc.bias[ok] / n, "median_sigma": med[ok],
            "median_uncertainty": med_unc[ok], "residual_m": _replay_residual(out),
            "scale": float(cells.uncertainty_scale)}


def _replay_residual(out: Path) -> float:
    """The replay's alignment residual (its findings.json): the cells carry it only where it is their
    systematic term (``systematic: alignment``)."""
    return float(json.loads((out / "findings.json").read_text())["alignment"]["residual_m"])


def fit(rows: list[dict[str, Any]]) -> tuple[CloudSigmaModel, float]:
    """The model's four numbers by robust least squares on log sigma; and the log spread left."""
    cat = {k: np.concatenate([r[k] for r in rows]) for k in ("density", "range_var", "footprint_var", "normal_var", "median_sigma")}

    def model(p: np.ndarray) -> CloudSigmaModel:
        a, nav, k, c = np.exp(p)
        return CloudSigmaModel(float(a), float(nav), float(k), float(c))

    def cost(p: np.ndarray) -> np.ndarray:
        s = model(p).sigma(cat["density"], cat["range_var"], cat["footprint_var"], cat["normal_var"])
        return np.asarray(np.log(s) - np.log(cat["median_sigma"]), float)

    res = least_squares(cost, x0=np.log([0.01, 0.005, 1.0, 0.005]), loss="soft_l1", f_scale=0.1)
    spread = 1.4826 * float(np.median(np.abs(cost(res.x))))
    return model(res.x), spread


def fit_alignment(rows: list[dict[str, Any]]) -> AlignmentResidualModel:
    """The residual's two numbers by least squares over the surveys: hypot(gain x bias spread, floor)."""
    spread = np.array([float(np.std(r["bias"])) for r in rows])
    resid = np.array([r["residual_m"] for r in rows])

    def cost(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.hypot(p[0] * spread, p[1]) - resid, float)

    res = least_squares(cost, x0=[1.0, 0.004], bounds=([0.0, 0.0], [10.0, 0.05]))
    return AlignmentResidualModel(float(res.x[0]), float(res.x[1]))


def fit_scale(rows: list[dict[str, Any]], cloud: CloudSigmaModel, voxel_m: float, floor_m: float) -> tuple[float, float]:
    """The self-calibration scale a survey is expected to get (:class:`PlanCalibration`.scale): the
    median over all samples of the comparator's uncertainty there against the predictor's uncalibrated
    one (the default model: the judged height's sigma with the systematic allowance), and the log
    spread left."""
    ratios = []
    for r in rows:
        if "median_uncertainty" not in r:
            continue
        sigma = np.maximum(cloud.sigma(r["density"], r["range_var"], r["footprint_var"], r["normal_var"]), ESTIMATED_LEAST_SIGMA_M)
        pred = np.hypot(judged_height_sigma(sigma, r["density"], voxel_m, floor_m), SYSTEMATIC_ALLOWANCE_M)
        ratios.append(np.log(r["median_uncertainty"] / pred))
    if not ratios:
        return 1.0, float("nan")
    cat = np.concatenate(ratios)
    cat = cat[np.isfinite(cat)]
    mid = float(np.median(cat))
    return float(np.exp(mid)), 1.4826 * float(np.median(np.abs(cat - mid)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="folder of plan checks (one folder per scenario)")
    ap.add_argument("--scenario", required=True, action="append")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rec = _capture()
    cfg = HullscanConfig()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.scenario:
        saved = out / name / "samples.npz"
        if saved.exists():  # replayed by an earlier call into the same OUT
            z = np.load(saved)
            residual = _replay_residual(out / name) if (out / name / "findings.json").exists() else float(z["residual_m"])
            rows.append({k: z[k] for k in z.files} | {"residual_m": residual}
                        | ({"scale": float(z["scale"])} if "scale" in z.files else {}))
        else:
            rows.append(samples_of(Path(args.run) / name, cfg, rec, out / name))
            np.savez(saved, **rows[-1])
        print(f"{name}: {len(rows[-1]['density'])} samples, median cloud sigma {np.median(rows[-1]['median_sigma']) * 1e3:.1f} mm, "
              f"alignment residual {rows[-1]['residual_m'] * 1e3:.1f} mm", flush=True)
    model, spread = fit(rows)
    align = fit_alignment(rows)
    scale, scale_spread = fit_scale(rows, CALIBRATION.cloud_sigma, cfg.recon.voxel_size, cfg.compare.uncertainty.floor_m)
    per = {name: {"residual_m": round(r["residual_m"], 5), "bias_spread_m": round(float(np.std(r["bias"])), 5),
                  "predicted_residual_m": round(align.residual(r["bias"]), 5)} for name, r in zip(args.scenario, rows, strict=True)}
    for name, r in zip(args.scenario, rows, strict=True):
        if "scale" in r:
            per[name]["self_calibration_scale"] = round(float(r["scale"]), 3)
    doc = {"scenarios": per, "cloud_sigma": model.__dict__, "log_spread": round(spread, 3), "alignment": align.__dict__,
           "scale": round(scale, 3), "scale_log_spread": round(scale_spread, 3)}
    (out / "plan_calibration.json").write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
