"""Writing an inspection: findings.json (versioned), report.html, deviation.ply, config.yaml.

findings.json is the evidence record: it carries the SHA-256 of every input so the chain of
custody can be checked later. Schema: docs/findings-schema.md and the JSON Schema
``hullscan schema findings`` prints (``SCHEMA_VERSION``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from hullscan._version import software
from hullscan.compare.analysis import (
    STATUS_ANOTHER_PASS,
    STATUS_CLEARED,
    STATUS_NOT_BY_A_PASS,
    STATUS_NOT_SEEN,
    STATUS_TEXT,
    Coverage,
)
from hullscan.compare.inspect import Inspection
from hullscan.core.colour import deviation_colours
from hullscan.model import Transform
from hullscan.outdir import sha256_file
from hullscan.ply import write_ply
from hullscan.report.case import CaseData, case_record, load_case
from hullscan.report.config import ReportConfig

SCHEMA = "hullscan.findings"
# 2.0: honest coverage key names (wetted/cleared/seen/not_inspected), verdict, case, method, landmarks,
# confidence_class and nearest_landmark per finding. The JSON Schema ships as report/findings.schema.json.
# 2.1: the comparison with the vessel's last cleared scan: "history", and "history" per finding.
# 2.2: how well the survey is placed along the ship: "along_ship", and "along_uncertainty_m" per finding.
# 2.3: alignment.surface_offset_m.
# 2.4: "passes" per finding (separate passes that saw it; null where the cloud kept no times).
# 2.5: a fouled hull: alignment.surface_texture_m, surface_relief_m and growth_layer (how a growth layer
# as thick as the relief would move the placement), along_ship.growth_layer_two_sd_m.
# 2.6: "volume_across_unseen_m3" per finding (the part of its volume over a band not seen, between parts seen on
# both sides).
# 2.7: software.python and software.packages (the numerical packages' versions: the figures depend on them).
# 2.8: along_ship.submap_fixed_by_relief (submaps placed along the ship by an anode they saw).
# 2.9: the ship's declared fittings (--fittings): "fittings", "fitting" per finding, summary.n_explained_by_fittings.
# 2.10: alignment.registration.relief and prior_registration.relief (the position along the ship fixed by
#       reference relief the survey saw, where the plating left it ambiguous).
# 2.11: relief.valley_sigma_m (the valley's own width; relief.sigma_m is stated to at least 0.2 m).
SCHEMA_VERSION = "2.12"


def describe_inputs(inputs: Mapping[str, str | Path | None]) -> list[dict[str, Any]]:
    out = []
    for role, path in inputs.items():
        if path is None:
            out.append({"role": role, "path": None, "sha256": None})
            continue
        p = Path(path)
        entry: dict[str, Any] = {"role": role, "path": str(p)}
        if p.exists():
            entry["sha256"] = sha256_file(p)
            entry["bytes"] = sum(q.stat().st_size for q in p.rglob("*") if q.is_file()) if p.is_dir() \
                else p.stat().st_size
        else:
            entry["sha256"] = None
            entry["note"] = "not a file (nothing to hash)"
        out.append(entry)
    return out


def _finding_dict(f: Any, ins: Inspection, landmarks: list[Any], rcfg: ReportConfig) -> dict[str, Any]:
    from hullscan.report.landmarks import nearest_landmark

    d = asdict(f)
    # Positions in the reference file's own frame; the ship terms (side, metres from the stern,
    # depth below the waterline, frame) are the hull frame's.
    lo, hi = ins.box_to_user(d["bbox_min"], d["bbox_max"])
    d["centroid"], d["bbox_min"], d["bbox_max"] = ins.to_user(d["centroid"]), lo, hi
    for k in ("centroid", "bbox_min", "bbox_max"):
        d[k] = [round(float(v), 4) for v in d[k]]
    d["camera"] = [dict(c, box=list(c["box"])) for c in d["camera"]]
    d["confidence_class"] = rcfg.confidence_class(f.confidence)
    near = nearest_landmark(f.centroid, landmarks)
    d["nearest_landmark"] = None if near is None else {
        "name": near[0].name, "distance_m": round(near[1], 2), "description": near[2]}
    return d


def _landmark_dict(lm: Any, ins: Inspection) -> dict[str, Any]:
    d = lm.as_dict()
    lo, hi = ins.box_to_user(d["bbox_min"], d["bbox_max"])  # the reference file's own frame
    d["bbox_min"], d["bbox_max"] = [round(float(v), 3) for v in lo], [round(float(v), 3) for v in hi]
    return d


def coverage_record(cov: Coverage, max_patches: int = 200, ins: Inspection | None = None) -> dict[str, Any]:
    """Coverage as findings.json 2.0 records it: every key says what it measures; patch centroids in
    the reference file's own frame when ``ins`` is given (the Inspection's stay in the hull frame)."""
    d = cov.as_dict(max_patches=max_patches)
    if ins is not None:
        patches = []
        for patch in d["unseen_patches"]:
            q = dict(patch)
            if "centroid" in q:
                q["centroid"] = [round(float(v), 3) for v in ins.to_user(q["centroid"])]
            patches.append(q)
        d["unseen_patches"] = patches
    seen_any = cov.seen if cov.seen_any is None else cov.seen_any
    return {
        "cleared_fraction": d["fraction"],
        "seen_fraction": d["seen_fraction"],
        "clear_height_m": d["clear_height_m"],
        "cleared_fraction_by_height": d["cleared_fraction_by_height"],
        "wetted_area_m2": d["inspected_area_m2"],
        "cleared_area_m2": d["seen_area_m2"],
        "seen_area_m2": round(float(seen_any.sum() * cov.sample_area), 2),
        "not_inspected_area_m2": d["unseen_area_m2"],
        "n_not_inspected_patches": d["n_unseen_patches"],
        "not_inspected_patches": d["unseen_patches"],
    }


def findings_document(ins: Inspection, inputs: list[dict[str, Any]], config: BaseModel | None,
                      case: dict[str, Any] | None = None) -> dict[str, Any]:
    from hullscan.compare.fittings import unexplained
    from hullscan.report.landmarks import find_landmarks
    from hullscan.report.verdict import inspection_verdict

    ref = ins.reference
    rcfg = report_config(config)
    landmarks = find_landmarks(ins)
    # Damaged input (a bag with lost messages, a restore gap) makes the run partial even when the
    # comparison itself finished: the hull it saw is missing those time spans (issue 17).
    damaged = ins.drops.damaged()
    status = "partial" if ins.status == "complete" and damaged else ins.status
    error = None if ins.error is None else {"type": ins.error_type, "message": ins.error}
    if error is None and damaged:
        lost = ins.drops.lost_spans()
        error = {"type": "DamagedInput", "message": "the input was damaged; data lost"
                 + (": " + ", ".join(f"{d['where']} {d['start_s']:.1f}-{d['end_s']:.1f} s" for d in lost[:10])
                    if lost else " (see drops)")}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "software": software(),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": status,
        "error": error,
        "lost_spans": ins.drops.lost_spans(),
        "verdict": inspection_verdict(ins, rcfg).as_dict(),
        "case": case if case is not None else case_record(CaseData()),
        "method": {
            "description": "signed deviation of the aligned hull cloud from the reference; findings are "
                           "deviating patches above min_height_m (protrusions: min_protrusion_height_m) and "
                           "min_zscore; cleared = a compartment "
                           "clear_height_m high would have been found there (docs/method.md)",
            "reference_kind": ins.reference_kind,
            "confidence_classes": {"high": rcfg.confidence_high, "medium": rcfg.confidence_medium, "low": 0.0},
            "clear_floor": rcfg.clear_floor,
            "config": "see 'config'",
        },
        "reference": {
            "kind": ins.reference_kind,
            "name": ins.reference_name,
            "frame_id": None if ref is None else ref.frame_id,
            "hull_frame": None if ref is None else ref.hull_frame,
            "watertight": None if ref is None else ref.watertight,
            "waterline": ins.waterline,
            "waterline_guessed": ins.waterline_guessed,
        },
        "frame": {
            "positions": "the reference file's own coordinates (metres, its axes and origin)"
            if ins.reference_kind != "mirror" else "the hull frame estimated from the mirror plane",
            "hull_from_reference": np.round((ins.ref_from_hull or Transform()).inverse().as_matrix(), 6).tolist(),
            "ship_terms": "distance_from_stern_m from the stern end of the waterline, depth_m below the "
            "waterline, side port/starboard/bottom, frame_number from compare.scoring.frame_spacing_m",
        },
        "navigation_prior": ins.prior,
        # The registration of the uncorrected survey from the prior (before drift correction); the
        # final fit, and whether the position along the ship is ambiguous, is under "alignment".
        "prior_registration": ins.registration,
        "inputs": inputs,
        "cloud": {"n_points": ins.n_cloud_points},
        "alignment": None if ins.alignment is None else ins.alignment.as_dict(),
        "alignment_residual_m": ins.alignment_residual_m,
        # Per stretch of the survey, how well drift correction placed it along the ship (schema 2.2).
        "along_ship": None if ins.along_ship is None else ins.along_ship.as_dict(),
        "coverage": None if ins.coverage is None else coverage_record(ins.coverage, ins=ins),
        "landmarks": [_landmark_dict(lm, ins) for lm in landmarks],
        "summary": {
            "n_findings": len(ins.findings),
            # Findings a declared fitting (--fittings) explains: listed, not counted by the verdict.
            "n_explained_by_fittings": len(ins.findings) - unexplained(ins.findings),
            "n_protrusions": sum(f.kind == "protrusion" for f in ins.findings),
            "n_recesses": sum(f.kind == "recess" for f in ins.findings),
            "max_risk": max((f.risk for f in ins.findings), default=0.0),
            "total_volume_m3": round(sum(f.volume_m3 for f in ins.findings), 5),
        },
        "findings": [_finding_dict(f, ins, landmarks, rcfg) for f in ins.findings],
        # The vessel's inspection history (replay/compare --vessel): null without it.
        "history": None if ins.history is None else asdict(ins.history),
        # The ship's declared fittings (--fittings) and the findings each explains: null without a plan.
        "fittings": None if ins.fittings is None else asdict(ins.fittings),
        "notes": list(ins.notes),
        "drops": ins.drops.as_dict(),
        "timings_s": dict(ins.timings_s),
        "config": None if config is None else config.model_dump(mode="json"),
        "outputs": {},
    }


def report_config(config: BaseModel | None) -> ReportConfig:
    """The report section of a full config; defaults for a comparator-only config."""
    r = getattr(config, "report", None)
    return r if isinstance(r, ReportConfig) else ReportConfig()


def write_deviation_ply(path: Path, points: np.ndarray, d: np.ndarray) -> None:
    """Binary PLY: x y z (float32), red green blue (uchar), scalar_deviation (float32, m, NaN = not judged).

    The ``scalar_`` prefix is what CloudCompare's PLY loader needs to offer a property as a scalar field.
    """
    n = len(points)
    rgb = deviation_colours(d)
    rec = np.empty(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"),
                             ("blue", "u1"), ("scalar_deviation", "<f4")])
    rec["x"], rec["y"], rec["z"] = points[:, 0], points[:, 1], points[:, 2]
    rec["red"], rec["green"], rec["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rec["scalar_deviation"] = d
    write_ply(path, {"vertex": rec}, ["hullscan deviation cloud (reference frame, m)"])


# coverage.ply's colours per status: the report's grey, amber and green, and brown as RViz draws
# uneven surface.
STATUS_COLOURS = {STATUS_NOT_SEEN: (189, 189, 189), STATUS_ANOTHER_PASS: (253, 191, 111),
                  STATUS_NOT_BY_A_PASS: (140, 86, 40), STATUS_CLEARED: (77, 175, 74)}


def write_coverage_ply(path: Path, points: np.ndarray, normals: np.ndarray | None, status: np.ndarray,
                       clear_height_m: float, sample_area_m2: float) -> None:
    """Binary PLY of the reference's samples (N, 3; the reference file's frame): x y z, nx ny nz
    (outward; 0 when unknown), red green blue by status, and ``scalar_status`` (uchar, N;
    :data:`~hullscan.compare.analysis.STATUS_TEXT`). The header states the clear height and the area
    each sample stands for: what ``hullscan plan --after`` reads to plan a re-dive."""
    n = len(points)
    rec = np.zeros(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
                             ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("scalar_status", "u1")])
    rec["x"], rec["y"], rec["z"] = points[:, 0], points[:, 1], points[:, 2]
    if normals is not None and len(normals) == n:
        rec["nx"], rec["ny"], rec["nz"] = normals[:, 0], normals[:, 1], normals[:, 2]
    rgb = np.array([STATUS_COLOURS[k] for k in sorted(STATUS_COLOURS)], np.uint8)[status]
    rec["red"], rec["green"], rec["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rec["scalar_status"] = status
    comments = ["hullscan coverage (reference frame, m)", f"clear_height_m {clear_height_m:g}",
                f"sample_area_m2 {sample_area_m2:.6g}",
                *(f"status {k} {STATUS_TEXT[k]}" for k in sorted(STATUS_TEXT))]
    write_ply(path, {"vertex": rec}, comments)


def write_sha256_sidecar(path: Path) -> Path:
    """``path.sha256`` in ``sha256sum`` format, so ``sha256sum -c report.html.sha256`` checks the file."""
    side = path.with_name(path.name + ".sha256")
    side.write_text(f"{sha256_file(path)}  {path.name}\n")
    return side


def write_outputs(ins: Inspection, out_dir: str | Path, inputs: Mapping[str, str | Path | None] | None = None,
                  config: BaseModel | None = None) -> dict[str, Path]:
    """Write findings.json, report.html (+ report.pdf), the SHA-256 sidecars, deviation.ply (when
    computed), findings.geojson / findings.csv, crops and config.yaml.

    ``inputs`` may name a ``case`` YAML (vessel, IMO number, case number ...) and a ``bag`` (survey start
    and end are read from it when the case file does not give them)."""
    from hullscan.outdir import atomic_path, write_text_atomic
    from hullscan.report.exports import write_findings_csv, write_findings_geojson
    from hullscan.report.html import render_report, with_view3d
    from hullscan.settings import dump_config

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    inputs = dict(inputs or {})
    case = case_record(load_case(inputs.get("case")), inputs.get("bag"))
    input_list = describe_inputs(inputs)
    cfg = config if config is not None else ins.config
    doc = findings_document(ins, input_list, cfg, case)
    dump_config(cfg, out / "config.yaml")
    files["config"] = out / "config.yaml"
    # findings.json first and atomically: on a full disk the findings survive, not the PLY. It is
    # written again at the end with the report's hashes.
    if ins.points is not None and ins.deviation is not None:
        doc["outputs"]["deviation_ply"] = "deviation.ply"
    cov = ins.coverage
    if cov is not None and len(cov.samples):
        doc["outputs"]["coverage_ply"] = "coverage.ply"
    doc = _finite(doc)
    write_text_atomic(out / "findings.json", json.dumps(doc, indent=2, allow_nan=False, default=_json_default))
    files["findings"] = out / "findings.json"
    if ins.points is not None and ins.deviation is not None:
        with atomic_path(out / "deviation.ply") as tmp:
            write_deviation_ply(tmp, ins.to_user(ins.points), ins.deviation)
        files["deviation"] = out / "deviation.ply"
    if cov is not None and len(cov.samples):
        normals = cov.normals
        if normals is not None and ins.ref_from_hull is not None:
            normals = ins.ref_from_hull.rot.apply(normals)
        with atomic_path(out / "coverage.ply") as tmp:
            write_coverage_ply(tmp, ins.to_user(cov.samples), normals, cov.status(), cov.clear_height,
                               cov.sample_area)
        files["coverage"] = out / "coverage.ply"
    if ins.crops:
        from PIL import Image

        crop_dir = out / "crops"
        crop_dir.mkdir(exist_ok=True)
        for fid, imgs in ins.crops.items():
            for i, img in enumerate(imgs):
                Image.fromarray(img).save(crop_dir / f"{fid}_{i}.png")
    files["geojson"] = write_findings_geojson(doc, out / "findings.geojson")
    files["csv"] = write_findings_csv(doc, out / "findings.csv")
    doc["outputs"].update(findings_geojson="findings.geojson", findings_csv="findings.csv",
                          report_html="report.html", report_html_sha256="report.html.sha256")
    rcfg = report_config(cfg)
    if rcfg.pdf:
        doc["outputs"].update(report_pdf="report.pdf", report_pdf_sha256="report.pdf.sha256")
    doc = _finite(doc)
    printed = render_report(ins, doc)
    write_text_atomic(out / "report.html", with_view3d(printed, ins))
    files["report"] = out / "report.html"
    files["report_sha256"] = write_sha256_sidecar(files["report"])
    if rcfg.pdf:
        from hullscan.report.pdf import write_pdf

        files["pdf"] = write_pdf(printed, out / "report.pdf", base_url=out)
        files["pdf_sha256"] = write_sha256_sidecar(files["pdf"])
    # The report cannot carry its own hash; the evidence record does (and the sidecars beside it).
    doc["report_sha256"] = {p.name: sha256_file(p) for k, p in files.items() if k in ("report", "pdf")}
    write_text_atomic(out / "findings.json", json.dumps(doc, indent=2, allow_nan=False, default=_json_default))
    files["findings"] = out / "findings.json"
    return files


def _finite(o: Any) -> Any:
    """JSON has no NaN/inf: those become null."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    if isinstance(o, float | np.floating) and not np.isfinite(o):
        return None
    return o


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
