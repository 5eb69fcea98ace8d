"""Hull clouds to and from PLY (open3d / CloudCompare readable) with a JSON metadata sidecar.

The PLY (:mod:`hullscan.ply`) is binary little-endian with vertex properties ``x y z nx ny nz`` plus
``scalar_confidence scalar_hits scalar_sigma`` (and ``scalar_incidence scalar_range``, the viewing
geometry, and ``scalar_first_seen scalar_last_seen``, when each point was first and last seen, when
the cloud has them): CloudCompare loads a PLY property as a scalar field
only when its name starts with ``scalar_``. Clouds written with the earlier plain names
(``confidence hits sigma``) still load.
Metadata (frame, config, provenance) goes to ``path.with_suffix(".json")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.errors import HullscanError
from hullscan.model import HullCloud
from hullscan.outdir import atomic_path, os_error_line, write_text_atomic
from hullscan.ply import read_ply, write_ply

_FIELDS = [("x", "<f8"), ("y", "<f8"), ("z", "<f8"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
           ("scalar_confidence", "<f4"), ("scalar_hits", "<i4"), ("scalar_sigma", "<f4")]
_GEOMETRY = [("scalar_incidence", "<f4"), ("scalar_range", "<f4")]  # degrees, metres
_TIMES = [("scalar_first_seen", "<f4"), ("scalar_last_seen", "<f4")]  # s since the survey's first ping


def save_cloud(cloud: HullCloud, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``cloud`` as binary PLY and its metadata sidecar; returns the PLY path."""
    p = Path(path)
    n = len(cloud)
    geometry = cloud.incidence_deg is not None and cloud.range_m is not None
    rec = np.empty(n, dtype=np.dtype(_FIELDS + (_GEOMETRY if geometry else []) + (_TIMES if cloud.has_times else [])))
    for i, a in enumerate("xyz"):
        rec[a] = cloud.points[:, i]
        rec["n" + a] = cloud.normals[:, i]
    rec["scalar_confidence"] = cloud.confidence
    rec["scalar_hits"] = cloud.hits
    rec["scalar_sigma"] = cloud.sigma
    if geometry:
        rec["scalar_incidence"] = cloud.incidence_deg
        rec["scalar_range"] = cloud.range_m
    if cloud.has_times:
        rec["scalar_first_seen"] = cloud.seen_first_s
        rec["scalar_last_seen"] = cloud.seen_last_s
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # Sidecar first, both under temporary names renamed when complete: a full disk leaves no
        # truncated PLY that would load as a smaller hull.
        meta = {"frame_id": cloud.frame_id, "points": n, **(metadata or {})}
        write_text_atomic(p.with_suffix(".json"), json.dumps(meta, indent=2, default=str))
        with atomic_path(p) as tmp:
            comments = ["hullscan hull cloud", f"frame_id {cloud.frame_id}"]
            if cloud.has_times and cloud.seen_t0_ns is not None:
                comments.append(f"seen_t0_ns {int(cloud.seen_t0_ns)}")  # where scalar_first/last_seen start
            write_ply(tmp, {"vertex": rec}, comments)
    except OSError as err:
        raise HullscanError(f"{p}: cannot write cloud: {os_error_line(err)}") from err
    return p


def load_cloud(path: str | Path) -> HullCloud:
    """Read a PLY written by :func:`save_cloud` (or any binary/ASCII PLY with x y z)."""
    p = Path(path)
    try:
        with open(p, "rb"):  # the usual failure (no such file) in the cloud's own words
            pass
    except OSError as err:
        raise HullscanError(f"{p}: cannot read cloud: {err.strerror}") from err
    ply = read_ply(p, p)  # memory-mapped: a 5 M-point cloud is not read into memory twice
    if "vertex" not in ply.elements:
        raise HullscanError(f"{p}: PLY has no vertex element")
    rec = ply.elements["vertex"]
    n = len(rec)
    frame = (ply.comment("frame_id") or "odom").strip() or "odom"
    names = rec.dtype.names or ()
    if not {"x", "y", "z"} <= set(names):
        raise HullscanError(f"{p}: PLY vertices have no x, y, z")
    pts = np.stack([rec["x"], rec["y"], rec["z"]], 1).astype(np.float64)
    nrm = (np.stack([rec["nx"], rec["ny"], rec["nz"]], 1) if "nx" in names else np.zeros((n, 3)))

    def field(name: str) -> Any:
        for key in (f"scalar_{name}", name):  # this version's name, then the earlier one
            if key in names:
                return rec[key]
        return None

    conf, hits, sig = field("confidence"), field("hits"), field("sigma")
    conf = np.ones(n) if conf is None else conf
    hits = np.ones(n, np.int32) if hits is None else hits
    sig = np.zeros(n) if sig is None else sig
    t0 = (ply.comment("seen_t0_ns") or "").strip()
    return HullCloud(pts, nrm, conf, hits, sig, frame, field("incidence"), field("range"),
                     field("first_seen"), field("last_seen"), int(t0) if t0.lstrip("-").isdigit() else None)


def load_metadata(path: str | Path) -> dict[str, Any]:
    """The sidecar metadata of a cloud (empty when there is none)."""
    side = Path(path).with_suffix(".json")
    if not side.exists():
        return {}
    return dict(json.loads(side.read_text()))
