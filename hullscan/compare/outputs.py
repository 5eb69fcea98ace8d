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


def _finding_dict(f: Any) -> dict[str, Any]:
    d = asdict(f)
    for k in ("centroid", "bbox_min", "bbox_max"):
        d[k] = [round(float(v), 4) for v in d[k]]
    d["camera"] = [dict(c, box=list(c["box"])) for c in d["camera"]]
    return d


def findings_document(ins: Inspection, inputs: list[dict[str, Any]], config: BaseModel | None) -> dict[str, Any]:
    ref = ins.reference
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
        "software": {"name": "hullscan", "version": __version__},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": status,
        "error": error,
        "lost_spans": ins.drops.lost_spans(),
        "reference": {
            "kind": ins.reference_kind,
            "name": ins.reference_name,
            "frame_id": None if ref is None else ref.frame_id,
            "hull_frame": None if ref is None else ref.hull_frame,
            "watertight": None if ref is None else ref.watertight,
        },
        "inputs": inputs,
        "cloud": {"n_points": ins.n_cloud_points},
        "alignment": None if ins.alignment is None else ins.alignment.as_dict(),
        "alignment_residual_m": ins.alignment_residual_m,
        "coverage": None if ins.coverage is None else ins.coverage.as_dict(),
        "summary": {
            "n_findings": len(ins.findings),
            "n_protrusions": sum(f.kind == "protrusion" for f in ins.findings),
            "n_recesses": sum(f.kind == "recess" for f in ins.findings),
            "max_risk": max((f.risk for f in ins.findings), default=0.0),
            "total_volume_m3": round(sum(f.volume_m3 for f in ins.findings), 5),
        },
        "findings": [_finding_dict(f) for f in ins.findings],
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
    from hullscan.outdir import atomic_path, write_text_atomic
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
    # findings.json first and atomically (issue 17): on a full disk the findings survive, not the PLY.
    if ins.points is not None and ins.deviation is not None:
        doc["outputs"] = {"deviation_ply": "deviation.ply"}
    doc = _finite(doc)
    write_text_atomic(out / "findings.json", json.dumps(doc, indent=2, allow_nan=False, default=_json_default))
    files["findings"] = out / "findings.json"
    if ins.points is not None and ins.deviation is not None:
        with atomic_path(out / "deviation.ply") as tmp:
            write_deviation_ply(tmp, ins.points, ins.deviation)
        files["deviation"] = out / "deviation.ply"
    if ins.crops:
        from PIL import Image

        crop_dir = out / "crops"
        crop_dir.mkdir(exist_ok=True)
        for fid, imgs in ins.crops.items():
            for i, img in enumerate(imgs):
                Image.fromarray(img).save(crop_dir / f"{fid}_{i}.png")
    write_text_atomic(out / "report.html", render_report(ins, doc))
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
