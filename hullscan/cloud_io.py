"""Hull clouds to and from PLY (open3d / CloudCompare readable) with a JSON metadata sidecar.

The PLY is binary little-endian with vertex properties ``x y z nx ny nz`` plus
``scalar_confidence scalar_hits scalar_sigma``: CloudCompare loads a PLY property as a scalar field
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

_FIELDS = [("x", "<f8"), ("y", "<f8"), ("z", "<f8"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
           ("scalar_confidence", "<f4"), ("scalar_hits", "<i4"), ("scalar_sigma", "<f4")]
_PLY_TYPES = {"<f8": "double", "<f4": "float", "<i4": "int", "<u1": "uchar", "<i2": "short",
              "<u2": "ushort", "<u4": "uint", "<i1": "char"}
_FROM_PLY = {"double": "<f8", "float64": "<f8", "float": "<f4", "float32": "<f4", "int": "<i4",
             "int32": "<i4", "uint": "<u4", "uint32": "<u4", "short": "<i2", "int16": "<i2",
             "ushort": "<u2", "uint16": "<u2", "char": "<i1", "int8": "<i1", "uchar": "<u1", "uint8": "<u1"}


def save_cloud(cloud: HullCloud, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``cloud`` as binary PLY and its metadata sidecar; returns the PLY path."""
    p = Path(path)
    n = len(cloud)
    rec = np.empty(n, dtype=np.dtype(_FIELDS))
    for i, a in enumerate("xyz"):
        rec[a] = cloud.points[:, i]
        rec["n" + a] = cloud.normals[:, i]
    rec["scalar_confidence"] = cloud.confidence
    rec["scalar_hits"] = cloud.hits
    rec["scalar_sigma"] = cloud.sigma
    header = ["ply", "format binary_little_endian 1.0", "comment hullscan hull cloud",
              f"comment frame_id {cloud.frame_id}", f"element vertex {n}"]
    header += [f"property {_PLY_TYPES[t]} {name}" for name, t in _FIELDS]
    header.append("end_header")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # Sidecar first, both under temporary names renamed when complete: a full disk leaves no
        # truncated PLY that would load as a smaller hull.
        meta = {"frame_id": cloud.frame_id, "points": n, **(metadata or {})}
        write_text_atomic(p.with_suffix(".json"), json.dumps(meta, indent=2, default=str))
        with atomic_path(p) as tmp, open(tmp, "wb") as f:
            f.write(("\n".join(header) + "\n").encode("ascii"))
            f.write(rec.tobytes())
    except OSError as err:
        raise HullscanError(f"{p}: cannot write cloud: {os_error_line(err)}") from err
    return p


def load_cloud(path: str | Path) -> HullCloud:
    """Read a PLY written by :func:`save_cloud` (or any binary/ASCII PLY with x y z)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise HullscanError(f"{p}: cannot read cloud: {err.strerror}") from err
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise HullscanError(f"{p}: not a PLY file (no 'ply' magic or 'end_header')")
    lines = data[:end].decode("ascii", "replace").splitlines()
    fmt, n, props, frame, in_vertex = "", 0, [], "odom", False
    for line in lines:
        w = line.split()
        if not w:
            continue
        if w[0] == "format":
            fmt = w[1]
        elif w[0] == "comment" and len(w) >= 3 and w[1] == "frame_id":
            frame = w[2]
        elif w[0] == "element":
            in_vertex = w[1] == "vertex"
            if in_vertex:
                n = int(w[2])
        elif w[0] == "property" and in_vertex:
            if w[1] == "list":
                raise HullscanError(f"{p}: list properties on vertices are not supported")
            if w[1] not in _FROM_PLY:
                raise HullscanError(f"{p}: unknown PLY property type {w[1]!r}")
            props.append((w[2], _FROM_PLY[w[1]]))
    body = data[end + len(b"end_header\n"):]
    try:
        if fmt == "binary_little_endian":
            rec = np.frombuffer(body, dtype=np.dtype(props), count=n)
        elif fmt == "ascii":
            arr = np.loadtxt(body.decode().splitlines()[:n], ndmin=2)
            rec = np.zeros(n, dtype=np.dtype(props))
            for i, (name, _) in enumerate(props):
                rec[name] = arr[:, i]
        else:
            raise HullscanError(f"{p}: PLY format {fmt!r} not supported (binary_little_endian or ascii)")
    except ValueError as err:
        raise HullscanError(f"{p}: PLY body is shorter than its header says ({err})") from err
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
    return HullCloud(pts, nrm, conf, hits, sig, frame)


def load_metadata(path: str | Path) -> dict[str, Any]:
    """The sidecar metadata of a cloud (empty when there is none)."""
    side = Path(path).with_suffix(".json")
    if not side.exists():
        return {}
    return dict(json.loads(side.read_text()))
