"""Findings for case-management systems: GeoJSON and CSV beside findings.json.

Positions are in the reference (hull) frame in metres, not longitude/latitude: a hull has no place on
the globe. The GeoJSON says so in a top-level ``hullscan_frame`` member (RFC 7946 allows foreign
members); GIS tools read it as a local, projected plane (x from the stern, y to port).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

CSV_COLUMNS = ("case_number", "vessel_name", "imo_number", "id", "kind", "side", "region", "frame_number",
               "distance_from_stern_m", "along_uncertainty_m", "depth_m", "x_m", "y_m", "z_m", "volume_m3",
               "volume_across_unseen_m3", "max_height_m", "footprint_m2", "confidence", "confidence_class", "risk", "nearest_landmark", "n_camera_frames",
               "passes", "passes_at_utc", "history", "history_since")


def _rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    case = doc.get("case") or {}
    rows = []
    for f in doc.get("findings", []):
        near = f.get("nearest_landmark") or {}
        hist = f.get("history") or {}  # against the vessel's last cleared scan (--vessel); empty without
        rows.append({
            "case_number": case.get("case_number"), "vessel_name": case.get("vessel_name"),
            "imo_number": case.get("imo_number"), "id": f["id"], "kind": f["kind"], "side": f["side"],
            "region": f["region"], "frame_number": f.get("frame_number"),
            "distance_from_stern_m": f["distance_from_stern_m"],
            "along_uncertainty_m": f.get("along_uncertainty_m"), "depth_m": f["depth_m"],
            "x_m": f["centroid"][0], "y_m": f["centroid"][1], "z_m": f["centroid"][2],
            "volume_m3": f["volume_m3"], "volume_across_unseen_m3": f.get("volume_across_unseen_m3", 0.0),
            "max_height_m": f["max_height_m"], "footprint_m2": f["footprint_m2"],
            "confidence": f["confidence"], "confidence_class": f.get("confidence_class"), "risk": f["risk"],
            "nearest_landmark": near.get("description"), "n_camera_frames": len(f.get("camera", [])),
            "passes": f.get("passes"), "passes_at_utc": " ".join(f.get("passes_at_utc") or []) or None,
            "history": hist.get("status"), "history_since": hist.get("since"),
        })
    return rows


def write_findings_geojson(doc: dict[str, Any], path: Path) -> Path:
    features = [{"type": "Feature", "id": r["id"],
                 "geometry": {"type": "Point", "coordinates": [r["x_m"], r["y_m"], r["z_m"]]},
                 "properties": {k: v for k, v in r.items() if k not in ("x_m", "y_m", "z_m")}}
                for r in _rows(doc)]
    ref = doc.get("reference") or {}
    fc = {"type": "FeatureCollection",
          "hullscan_frame": {"frame_id": ref.get("frame_id"), "units": "m",
                             "axes": "x towards the bow from the stern, y to port, z up from the waterline"},
          "verdict": (doc.get("verdict") or {}).get("text"), "features": features}
    path.write_text(json.dumps(fc, indent=1))
    return path


def write_findings_csv(doc: dict[str, Any], path: Path) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in _rows(doc):
            w.writerow(r)
    return path
