"""Writing an inspection: findings.json (versioned), report.html, deviation.ply, config.yaml.

findings.json is the evidence record: it carries the SHA-256 of every input so the chain of
custody can be checked later. Schema: README.md, "findings.json" (``SCHEMA_VERSION``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from hullscan._version import __version__
from hullscan.compare.inspect import Inspection
from hullscan.model import Transform

SCHEMA = "hullscan.findings"
SCHEMA_VERSION = "1.1"


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, or of every file below a directory (sorted, path-qualified)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        if p.is_dir():
            h.update(str(q.relative_to(p)).encode() + b"\0")
        with q.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


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


def _finding_dict(f: Any, ins: Inspection) -> dict[str, Any]:
    d = asdict(f)
    # Positions in the reference file's own frame; the ship terms (side, metres from the stern,
    # depth below the waterline, frame) are the hull frame's.
    lo, hi = ins.box_to_user(d["bbox_min"], d["bbox_max"])
    d["centroid"], d["bbox_min"], d["bbox_max"] = ins.to_user(d["centroid"]), lo, hi
    for k in ("centroid", "bbox_min", "bbox_max"):
        d[k] = [round(float(v), 4) for v in d[k]]
    d["camera"] = [dict(c, box=list(c["box"])) for c in d["camera"]]
    return d


def _coverage_dict(ins: Inspection) -> dict[str, Any] | None:
    if ins.coverage is None:
        return None
    cov = ins.coverage.as_dict()
    patches = []
    for patch in cov["unseen_patches"]:
        q = dict(patch)  # the Inspection's own patches stay in the hull frame
        if "centroid" in q:
            q["centroid"] = [round(float(v), 3) for v in ins.to_user(q["centroid"])]
        patches.append(q)
    cov["unseen_patches"] = patches
    return cov


def findings_document(ins: Inspection, inputs: list[dict[str, Any]], config: BaseModel | None) -> dict[str, Any]:
    ref = ins.reference
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "software": {"name": "hullscan", "version": __version__},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": ins.status,
        "error": None if ins.error is None else {"type": ins.error_type, "message": ins.error},
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
            "waterline, side port/starboard/bottom, frame_number from compare.frame_spacing_m",
        },
        "navigation_prior": ins.prior,
        # The registration of the uncorrected survey from the prior (before drift correction); the
        # final fit, and whether the position along the ship is ambiguous, is under "alignment".
        "prior_registration": ins.registration,
        "inputs": inputs,
        "cloud": {"n_points": ins.n_cloud_points},
        "alignment": None if ins.alignment is None else ins.alignment.as_dict(),
        "alignment_residual_m": ins.alignment_residual_m,
        "coverage": _coverage_dict(ins),
        "summary": {
            "n_findings": len(ins.findings),
            "n_protrusions": sum(f.kind == "protrusion" for f in ins.findings),
            "n_recesses": sum(f.kind == "recess" for f in ins.findings),
            "max_risk": max((f.risk for f in ins.findings), default=0.0),
            "total_volume_m3": round(sum(f.volume_m3 for f in ins.findings), 5),
        },
        "findings": [_finding_dict(f, ins) for f in ins.findings],
        "notes": list(ins.notes),
        "drops": ins.drops.as_dict(),
        "timings_s": dict(ins.timings_s),
        "config": None if config is None else config.model_dump(mode="json"),
    }


def deviation_colours(d: np.ndarray, scale: float = 0.2) -> np.ndarray:
    """Blue (recess) - white - red (protrusion); grey where not judged."""
    t = np.clip(np.nan_to_num(d, nan=0.0) / scale, -1.0, 1.0)
    rgb = np.empty((len(d), 3))
    pos = t >= 0
    rgb[pos] = np.stack([np.ones(pos.sum()), 1 - t[pos], 1 - t[pos]], axis=1)
    rgb[~pos] = np.stack([1 + t[~pos], 1 + t[~pos], np.ones((~pos).sum())], axis=1)
    rgb[~np.isfinite(d)] = 0.55
    return (rgb * 255).astype(np.uint8)


def write_deviation_ply(path: Path, points: np.ndarray, d: np.ndarray) -> None:
    """Binary PLY: x y z (float32), red green blue (uchar), deviation (float32, NaN = not judged)."""
    n = len(points)
    rgb = deviation_colours(d)
    rec = np.empty(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"),
                             ("blue", "u1"), ("deviation", "<f4")])
    rec["x"], rec["y"], rec["z"] = points[:, 0], points[:, 1], points[:, 2]
    rec["red"], rec["green"], rec["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rec["deviation"] = d
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment hullscan deviation cloud (reference frame, m)\n"
        f"element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty float deviation\nend_header\n"
    )
    with path.open("wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(rec.tobytes())


def write_outputs(ins: Inspection, out_dir: str | Path, inputs: Mapping[str, str | Path | None] | None = None,
                  config: BaseModel | None = None) -> dict[str, Path]:
    """Write findings.json, report.html, deviation.ply (when computed), crops and config.yaml."""
    from hullscan.config import dump_config
    from hullscan.report.html import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    input_list = describe_inputs(inputs or {})
    doc = findings_document(ins, input_list, config if config is not None else ins.config)
    if config is not None:
        dump_config(config, out / "config.yaml")
        files["config"] = out / "config.yaml"
    else:
        dump_config(ins.config, out / "config.yaml")
        files["config"] = out / "config.yaml"
    if ins.points is not None and ins.deviation is not None:
        write_deviation_ply(out / "deviation.ply", ins.to_user(ins.points), ins.deviation)
        files["deviation"] = out / "deviation.ply"
        doc["outputs"] = {"deviation_ply": "deviation.ply"}
    if ins.crops:
        from PIL import Image

        crop_dir = out / "crops"
        crop_dir.mkdir(exist_ok=True)
        for fid, imgs in ins.crops.items():
            for i, img in enumerate(imgs):
                Image.fromarray(img).save(crop_dir / f"{fid}_{i}.png")
    doc = _finite(doc)
    (out / "findings.json").write_text(json.dumps(doc, indent=2, allow_nan=False, default=_json_default))
    files["findings"] = out / "findings.json"
    (out / "report.html").write_text(render_report(ins, doc))
    files["report"] = out / "report.html"
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
