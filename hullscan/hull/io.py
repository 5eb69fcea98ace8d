"""Reading hull meshes (STL, OBJ, PLY, optionally gzipped) into the hull frame, and
writing them as PLY with a per-face ``region`` label.

Files differ in units (metres, millimetres, model scale), axes and origin; the
loader finds each of them or is told. What it decided is recorded in
``HullMesh.source`` so a wrong guess is visible.
"""

from __future__ import annotations

import gzip
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hullscan.errors import MeshError, PlyError
from hullscan.hull.mesh import REGIONS, HullMesh
from hullscan.hull.regions import classify_regions
from hullscan.model import Transform
from hullscan.ply import read_ply, write_ply

log = logging.getLogger("hullscan.hull")

UNITS = ("auto", "m", "cm", "mm", "model")
AXES = ("auto", "+x", "-x", "+y", "-y", "+z", "-z")
_UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001}
# A hull longer than this in file units is in millimetres; shorter than MODEL_MAX is a model.
MM_MIN_LENGTH = 1000.0
MODEL_MAX_LENGTH = 5.0
DEFAULT_MODEL_LENGTH_M = 100.0
# Waterline guess when the file's own z = 0 is not plausible: fraction of the height above the keel.
DEFAULT_DRAFT_FRACTION = 0.45


def _read_bytes(path: Path) -> tuple[bytes, str]:
    name = path.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    ext = base.rsplit(".", 1)[-1] if "." in base else ""
    if ext not in ("stl", "obj", "ply"):
        raise MeshError(f"{path}: unsupported mesh format {ext!r} (expected .stl, .obj or .ply, optionally .gz)")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise MeshError(f"{path}: cannot read mesh file: {err.strerror}") from err
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise MeshError(f"{path}: not a valid gzip file: {err}") from err
    return raw, ext


def _read_labelled_ply(raw: bytes, path: Path) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int16]] | None:
    """Read a PLY written by :func:`save_mesh`: triangles with a per-face ``region`` (None if it is
    another PLY, which trimesh then reads)."""
    if b"property short region" not in raw[: raw.find(b"end_header") + 1]:
        return None
    try:
        ply = read_ply(raw, path, {"face": {"vertex_indices": 3}})
    except PlyError as err:
        raise MeshError(str(err)) from err
    v, f = ply.elements.get("vertex"), ply.elements.get("face")
    if v is None or f is None or "region" not in (f.dtype.names or ()):
        return None
    verts = np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64)
    idx = f["vertex_indices"]
    if idx.dtype == object:  # a list column (read without its length)
        if any(len(row) != 3 for row in idx):
            raise MeshError(f"{path}: PLY faces must be triangles")
        idx = np.stack(list(idx)) if len(idx) else np.zeros((0, 3), np.int64)
    return verts, np.asarray(idx, np.int64).reshape(-1, 3), f["region"].astype(np.int16)


def _read_any(raw: bytes, ext: str, path: Path) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    import trimesh

    try:
        m = trimesh.load(io.BytesIO(raw), file_type=ext, process=False, force="mesh")
    except Exception as err:  # trimesh raises many types for bad files
        raise MeshError(f"{path}: cannot parse {ext.upper()} mesh: {err}") from err
    verts = np.asarray(getattr(m, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(m, "faces", np.zeros((0, 3))), dtype=np.int64)
    if faces.ndim != 2 or faces.shape[0] == 0 or verts.shape[0] < 3:
        raise MeshError(f"{path}: no triangles found in the {ext.upper()} file")
    return verts, faces


def _axis_vector(spec: str) -> NDArray[np.float64]:
    v = np.zeros(3)
    v["xyz".index(spec[1])] = 1.0 if spec[0] == "+" else -1.0
    return v


def _symmetry_error(verts: NDArray[np.float64], axis: int) -> float:
    """Mean distance from each vertex mirrored about the mid-plane of ``axis`` to the mesh vertices."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    sample = verts if len(verts) <= 4000 else verts[rng.choice(len(verts), 4000, replace=False)]
    mid = 0.5 * (verts[:, axis].min() + verts[:, axis].max())
    mirrored = sample.copy()
    mirrored[:, axis] = 2 * mid - mirrored[:, axis]
    d, _ = cKDTree(verts).query(mirrored)
    return float(np.mean(d))


def _boundary_vertices(verts: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.int64]:
    """Vertices on edges that belong to one face only (the mesh's open rims).

    STL stores three vertices per triangle: vertices are matched by position first."""
    scale = 1e-6 * max(float(np.ptp(verts, axis=0).max()), 1e-9)
    _, first, ids = np.unique(np.round(verts / scale).astype(np.int64), axis=0, return_index=True,
                              return_inverse=True)
    f = ids.reshape(-1)[faces]
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    e = e[e[:, 0] != e[:, 1]]
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    return np.asarray(first[np.unique(uniq[counts == 1])], dtype=np.int64)


def _half_side(verts: NDArray[np.float64], faces: NDArray[np.int64], long_axis: int, beam_axis: int
               ) -> tuple[float, float] | None:
    """``(plane, sign)`` when the mesh is a half hull open along a plane of ``beam_axis``.

    Hull offsets often come as one side only: the skin ends on the centreline plane, so a long
    run of open rim (keel line, stem and transom profile) lies on one extreme of the beam axis,
    and the mesh is not mirror-symmetric about its own middle. ``sign`` is +1 when the skin
    lies on the + side of the plane.
    """
    rim = _boundary_vertices(verts, faces)
    if len(rim) < 10:
        return None
    b = verts[:, beam_axis]
    lo, hi = float(b.min()), float(b.max())
    tol = 2e-3 * float(np.ptp(verts, axis=0).max())
    length = float(np.ptp(verts[:, long_axis]))
    for plane, sign in ((lo, 1.0), (hi, -1.0)):
        on = rim[np.abs(b[rim] - plane) < tol]
        if (len(on) >= 0.3 * len(rim) and np.ptp(verts[on, long_axis]) > 0.6 * length
                and _symmetry_error(verts, beam_axis) > 0.1 * (hi - lo)):
            return plane, sign
    return None


def _file_axes_plausible(verts: NDArray[np.float64]) -> bool:
    """The file's own axes read as a hull (x along the ship, z up), so they are kept.

    A hull is longest along x. A z-up file has y as its port/starboard mirror axis; a file whose z
    is the mirror axis and whose y is not is a y-up file (many CAD exports) and is not plausible.
    """
    ext = np.ptp(verts, axis=0)
    if int(np.argmax(ext)) != 0:
        return False
    ey, ez = _symmetry_error(verts, 1), _symmetry_error(verts, 2)
    return not (ez < 0.5 * ey and ez < 0.02 * ext[2] + 1e-9)


def _infer_axes(verts: NDArray[np.float64], bow: str, up: str) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    ext = np.ptp(verts, axis=0)
    notes = []
    if bow != "auto" and up != "auto" and bow[1] == up[1]:
        raise MeshError(f"bow={bow} and up={up} name the same axis (expected two different axes)")
    if bow == "auto" and up == "auto" and _file_axes_plausible(verts):
        # The file's own axes are a hull's (x long, z up): keep them rather than guess and risk
        # turning a correctly drawn hull upside down or end for end. --bow/--up state otherwise.
        notes.append("axes as in the file (bow=+x, up=+z; state --bow/--up otherwise)")
        return _axis_vector("+x"), _axis_vector("+z"), ", ".join(notes)
    long_axis = "xyz".index(bow[1]) if bow != "auto" else int(np.argmax(ext))
    if up != "auto":
        up_v = _axis_vector(up)
    else:
        others = [a for a in range(3) if a != long_axis]
        # The beam axis is the mirror-symmetric one (port/starboard); the other is up.
        errs = [_symmetry_error(verts, a) for a in others]
        up_axis = others[int(np.argmax(errs))]
        u = verts[:, up_axis]
        lo, hi = u.min(), u.max()
        beam_axis = others[int(np.argmin(errs))]
        band = 0.2 * (hi - lo)
        # Hull sections widen upwards: the wider end of the up axis is the top.
        top = np.ptp(verts[u > hi - band, beam_axis]) if np.any(u > hi - band) else 0.0
        bot = np.ptp(verts[u < lo + band, beam_axis]) if np.any(u < lo + band) else 0.0
        up_v = np.zeros(3)
        up_v[up_axis] = 1.0 if top >= bot else -1.0
        notes.append(f"up={'+' if top >= bot else '-'}{'xyz'[up_axis]} (guessed)")
    if bow != "auto":
        bow_v = _axis_vector(bow)
    else:
        x = verts[:, long_axis]
        lo, hi = x.min(), x.max()
        band = 0.03 * (hi - lo)
        beam_axis = 3 - long_axis - int(np.argmax(np.abs(up_v)))
        # A transom makes the stern end broad; the bow ends in a stem or a bulb.
        near_hi = verts[x > hi - band, beam_axis]
        near_lo = verts[x < lo + band, beam_axis]
        w_hi = np.ptp(near_hi) if near_hi.size else 0.0
        w_lo = np.ptp(near_lo) if near_lo.size else 0.0
        sign = 1.0 if w_hi <= w_lo else -1.0
        bow_v = np.zeros(3)
        bow_v[long_axis] = sign
        notes.append(f"bow={'+' if sign > 0 else '-'}{'xyz'[long_axis]} (guessed)")
    return bow_v, up_v, ", ".join(notes)


def _waterline_points(verts: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """Points where mesh edges cross z = 0."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    a, b = verts[e[:, 0]], verts[e[:, 1]]
    cross = (a[:, 2] < 0) != (b[:, 2] < 0)
    a, b = a[cross], b[cross]
    t = a[:, 2] / (a[:, 2] - b[:, 2])
    return np.asarray(a + (b - a) * t[:, None])


def load_mesh(
    path: str | Path,
    *,
    units: str = "auto",
    bow: str = "auto",
    up: str = "auto",
    draft: float | None = None,
    trim: float | None = None,
    waterline_z: float | None = None,
    scale: float | None = None,
    length: float | None = None,
    name: str | None = None,
) -> HullMesh:
    """Load a hull mesh into the hull frame (metres, x to bow, y to port, z up, waterline z = 0).

    ``units``: ``m``, ``cm``, ``mm``, ``model`` (scaled to ``length`` metres, default 100)
    or ``auto`` (longer than 1000 file units: mm; shorter than 5: a model; else m).
    ``scale`` (file units to metres) overrides ``units``. ``bow``/``up``: the file's
    axis towards the bow / upwards (``+x`` ... ``-z``) or ``auto`` (long axis; the
    port/starboard mirror axis is the beam; sections widen upwards; the transom end is the stern).
    ``waterline_z``: the waterline height in file units along the file's up axis;
    ``draft``: the waterline height above the lowest point in metres (the mean draft, at the hull's
    mid-length, when ``trim`` is given). ``trim``: the aft draft minus the forward draft in metres
    (positive by the stern), over the hull's length; the hull frame is then the ship as it floats
    (pitched by the trim angle), so that z = 0 is the actual waterline. Without ``draft`` or ``waterline_z``,
    the file's own zero is the waterline when it lies in the upper 3/4 of the hull,
    else 45 % of the height above the keel. PLY files written by :func:`save_mesh`
    keep their region labels and frame; others get :func:`classify_regions`.
    """
    p = Path(path)
    _check_options(p, units, (bow, up), scale, draft, length)
    if trim is not None and draft is None:
        raise MeshError(f"{p}: a trim needs the draft too (--draft, the mean draft from the marks)")
    raw, ext = _read_bytes(p)
    labelled = _read_labelled_ply(raw, p) if ext == "ply" else None
    stem = name or p.name.split(".")[0]
    stated = (units, bow, up) != ("auto", "auto", "auto") or any(
        x is not None for x in (scale, draft, trim, waterline_z))
    # A file save_mesh wrote is in the hull frame already: kept as it is unless told otherwise.
    if labelled is not None and not stated:
        verts, faces, regions = labelled
        return _finish(verts, faces, regions, stem, f"{p} (hull frame, labelled)",
                       waterline="waterline z=0 of the hull-frame file")
    if labelled is not None:
        verts, faces, regions_opt = labelled[0], labelled[1], labelled[2]
    else:
        verts, faces = _read_any(raw, ext, p)
        regions_opt = None
    extent = _checked_extent(p, verts, faces)
    notes: list[str] = []
    # Units, then axes: the file's coordinates rotated and scaled into hull axes in metres.
    s, unit_note = _file_scale(extent, units, scale, length)
    notes.append(unit_note)
    try:
        bow_v, up_v, axis_note = _infer_axes(verts, bow, up)
    except MeshError as err:
        raise MeshError(f"{p}: {err}") from err
    if axis_note:
        notes.append(axis_note)
    if abs(float(bow_v @ up_v)) > 1e-9:
        raise MeshError(f"{p}: bow and up axes must differ")
    rot = np.stack([bow_v, np.cross(up_v, bow_v), up_v])  # rows: hull x, y, z in file axes
    v = (verts @ rot.T) * s
    wl: _Waterline | None = None
    if trim:  # the ship as it floats: pitched so that the trimmed waterline is level
        pitch, trim_note = _trim_pitch(p, v, float(trim))
        wl = _trimmed_waterline(p, v, pitch, float(draft or 0.0))
        rot = pitch @ rot
        v = (verts @ rot.T) * s
        notes.append(trim_note)
    # Then the origin: waterline at z = 0, centreline at y = 0, the waterline's aft end at x = 0.
    wl = wl or _waterline(p, v, (s, float(up_v.sum())), waterline_z, draft)
    notes.append(wl.note)
    yc, side = _centreline(v, faces)
    if side:
        notes.append(f"half hull ({side} side, open along its centreline plane)")
    v[:, 2] -= wl.z
    v[:, 1] -= yc
    wlp = _waterline_points(v, faces)
    x0 = float(wlp[:, 0].min()) if len(wlp) else float(v[:, 0].min())
    v[:, 0] -= x0
    # hull = R (s * file) - offset: kept so every coordinate users see goes back to the file's own.
    from scipy.spatial.transform import Rotation

    hull_from_ref = Transform(Rotation.from_matrix(rot).as_quat(), -np.array([x0, yc, wl.z]))
    mesh = _finish(v, faces, np.full(len(faces), -1, np.int16), stem, f"{p} ({'; '.join(notes)})",
                   ref_from_hull=hull_from_ref.inverse(), waterline=wl.note, guessed=wl.guessed, half=side,
                   scale_guess=_scale_guess(extent, units, scale, length, s))
    regions = regions_opt if regions_opt is not None else classify_regions(mesh)
    log.info("loaded %s", mesh.source)
    return mesh.with_regions(regions)


def _trim_pitch(p: Path, v: NDArray[np.float64], trim: float) -> tuple[NDArray[np.float64], str]:
    """The rotation about the hull's y axis that levels a waterline trimmed by ``trim`` metres (aft
    draft minus forward draft) over the hull's length, and the note saying so. By the stern the bow
    rises: +x goes up. The draft stays the height above the keel at mid-length, which a pitch about
    a transverse axis there keeps to first order."""
    length = float(np.ptp(v[:, 0]))
    if abs(trim) > 0.1 * length:
        raise MeshError(f"{p}: trim {trim:g} m over a {length:.1f} m hull is not a floating ship "
                        "(--trim is the aft draft minus the forward draft, metres)")
    a = float(np.arctan2(trim, length))
    c, sn = np.cos(a), np.sin(a)
    # rotation by -a about y: x' = x cos a - z sin a, z' = x sin a + z cos a (the bow end goes up)
    pitch = np.array([[c, 0.0, -sn], [0.0, 1.0, 0.0], [sn, 0.0, c]])
    return pitch, f"trim {trim:+g} m ({'by the stern' if trim > 0 else 'by the head'}, {np.degrees(a):.2f} deg)"


def _trimmed_waterline(p: Path, v: NDArray[np.float64], pitch: NDArray[np.float64], draft: float) -> _Waterline:
    """The level waterline's height in the pitched frame: it passes ``draft`` above the keel's lowest
    point at the hull's mid-length (where the mean draft is read), in the unpitched frame ``v``."""
    zmin, zmax = float(v[:, 2].min()), float(v[:, 2].max())
    if not 0.0 < draft < zmax - zmin:
        raise MeshError(f"{p}: draft {draft:g} m is outside the hull, whose keel-to-top height is {zmax - zmin:.3f} m "
                        "(--draft is the depth of the keel below the waterline, read from the draft marks)")
    mid = np.array([0.5 * (float(v[:, 0].min()) + float(v[:, 0].max())), 0.0, zmin + draft])
    return _Waterline(float((pitch @ mid)[2]), f"draft {draft:g} m above the keel at mid-length (stated)", False)


def _check_options(p: Path, units: str, bow_up: tuple[str, str], scale: float | None, draft: float | None,
                   length: float | None = None) -> None:
    """Refuse option values load_mesh cannot use, before the file is read."""
    if units not in UNITS:
        raise MeshError(f"{p}: units must be one of {', '.join(UNITS)}, got {units!r}")
    for key, val in zip(("bow", "up"), bow_up, strict=True):
        if val not in AXES:
            raise MeshError(f"{p}: {key} must be one of {', '.join(AXES)}, got {val!r}")
    if scale is not None and not scale > 0:
        raise MeshError(f"{p}: scale must be > 0, got {scale}")
    if draft is not None and not draft > 0:
        raise MeshError(f"{p}: draft must be > 0 m, got {draft}")
    if length is not None and not length > 0:
        raise MeshError(f"{p}: length must be > 0 m, got {length}")
    if length is not None and scale is None and units not in ("auto", "model"):
        raise MeshError(f"{p}: a length scales a model-scale mesh; units {units} already give the scale "
                        "(leave out --length, or give --units model)")


def _checked_extent(p: Path, verts: NDArray[np.float64], faces: NDArray[np.int64]) -> float:
    """The mesh's largest extent in file units, once its vertices and faces are found usable."""
    if not np.all(np.isfinite(verts)):
        raise MeshError(f"{p}: vertices contain NaN or infinite values")
    if faces.min() < 0 or faces.max() >= len(verts):
        raise MeshError(f"{p}: face indices outside the vertex list")
    extent = float(np.ptp(verts, axis=0).max())
    if extent <= 0:
        raise MeshError(f"{p}: mesh has zero size")
    return extent


def _file_scale(extent: float, units: str, scale: float | None, length: float | None) -> tuple[float, str]:
    """File units to metres, and the note saying how it was decided (a stated scale wins over units)."""
    if scale is not None:
        s = float(scale)
        return s, f"scale={s:g}"
    # A stated length says the file is a model to be scaled to it, whatever its extent.
    u = "model" if length is not None and units in ("auto", "model") else _resolved_units(extent, units)
    s = (length or DEFAULT_MODEL_LENGTH_M) / extent if u == "model" else _UNIT_SCALE[u]
    return s, f"units={u} (x{s:g})"


def _resolved_units(extent: float, units: str) -> str:
    """``units``, or for ``auto`` what the file's extent says: longer than 1000 units mm, shorter
    than 5 a model, else metres."""
    if units != "auto":
        return units
    return "mm" if extent > MM_MIN_LENGTH else ("model" if extent < MODEL_MAX_LENGTH else "m")


def _scale_guess(extent: float, units: str, scale: float | None, length: float | None, s: float) -> str:
    """The note for a model-scale file read at the default length (its real length not stated):
    every position, size and volume the comparison gives rests on that guess. '' otherwise."""
    if scale is not None or length is not None:
        return ""
    if _resolved_units(extent, units) != "model":
        return ""
    return (f"model-scale mesh ({extent:g} file units long) read as a {extent * s:g} m ship, a guess: give the ship's "
            "length with --length")


@dataclass(frozen=True)
class _Waterline:
    """Where the waterline is (hull z, metres, before the origin moves), how it was decided, and
    whether it was guessed."""

    z: float
    note: str
    guessed: bool


def _waterline(p: Path, v: NDArray[np.float64], scale_up: tuple[float, float], waterline_z: float | None,
               draft: float | None) -> _Waterline:
    """The waterline from a stated file height or draft, else the file's own z = 0 when plausible,
    else a guess; one outside the hull is refused. ``scale_up``: metres per file unit, and +1 or -1
    as the file's up axis points up or down."""
    zmin, zmax = float(v[:, 2].min()), float(v[:, 2].max())
    if waterline_z is not None:
        wl = _Waterline(float(waterline_z) * scale_up[0] * scale_up[1],
                        f"waterline at file z={waterline_z:g} (stated)", False)
    elif draft is not None:
        wl = _Waterline(zmin + float(draft), f"draft {draft:g} m above the keel (stated)", False)
    elif zmin + 0.25 * (zmax - zmin) < 0.0 < zmax:
        wl = _Waterline(0.0, "waterline assumed at the file's z=0 (no --draft given)", True)
    else:
        wl = _Waterline(zmin + DEFAULT_DRAFT_FRACTION * (zmax - zmin),
                        f"waterline guessed at {DEFAULT_DRAFT_FRACTION:.0%} of the height above the keel "
                        "(no --draft given)", True)
    if not zmin < wl.z < zmax:
        what = f"draft {draft:g} m" if draft is not None else f"waterline at {wl.z - zmin:.3f} m above the keel"
        raise MeshError(f"{p}: {what} is outside the hull, whose keel-to-top height is {zmax - zmin:.3f} m "
                        "(--draft is the depth of the keel below the waterline, read from the draft marks)")
    return wl


def _centreline(v: NDArray[np.float64], faces: NDArray[np.int64]) -> tuple[float, str]:
    """The centreline's y and the half hull's side ('' for a whole hull): a half hull keeps the plane
    it is open along, a whole hull is centred on its breadth."""
    half = _half_side(v, faces, 0, 1)
    if half is None:
        return 0.5 * (float(v[:, 1].min()) + float(v[:, 1].max())), ""
    plane, sign = half
    return plane, "port" if sign > 0 else "starboard"


def _finish(verts: NDArray[np.float64], faces: NDArray[np.int64], regions: NDArray[np.int16],
            name: str, source: str, *, ref_from_hull: Transform | None = None, waterline: str = "",
            guessed: bool = False, half: str = "", scale_guess: str = "") -> HullMesh:
    wlp = _waterline_points(verts, faces)
    below = verts[verts[:, 2] <= 0]
    if len(wlp):
        length = float(np.ptp(wlp[:, 0]))
        beam = float(np.ptp(np.concatenate([wlp[:, 1], below[:, 1]]))) if len(below) else float(np.ptp(wlp[:, 1]))
    else:
        length, beam = float(np.ptp(verts[:, 0])), float(np.ptp(verts[:, 1]))
    if half:
        beam = 2.0 * float(np.abs(below[:, 1] if len(below) else verts[:, 1]).max())
    draft = float(max(0.0, -verts[:, 2].min()))
    return HullMesh(verts, faces.astype(np.int32), regions, name, source, length, beam, draft,
                    ref_from_hull, waterline, guessed, half, scale_guess)


def save_mesh(mesh: HullMesh, path: str | Path) -> None:
    """Write ``mesh`` as binary PLY with a per-face ``short region`` (index into REGIONS, -1 unknown).

    Region names are listed in a header comment; open3d, CloudCompare and
    MeshLab read the file (they ignore the extra property).
    """
    p = Path(path)
    nv, nf = len(mesh.vertices), len(mesh.faces)
    comments = [f"hullscan hull mesh {mesh.name}", "frame hull: x to bow, y to port, z up, waterline z=0, metres",
                "regions " + " ".join(f"{i}={r}" for i, r in enumerate(REGIONS))]
    vdt = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f8")])
    fdt = np.dtype([("vertex_indices", "<i4", (3,)), ("region", "<i2")])
    va = np.empty(nv, vdt)
    va["x"], va["y"], va["z"] = mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2]
    fa = np.empty(nf, fdt)
    fa["vertex_indices"] = mesh.faces
    fa["region"] = mesh.face_region
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        write_ply(p, {"vertex": va, "face": fa}, comments, {"vertex_indices": "u1"})
    except OSError as err:
        raise MeshError(f"{p}: cannot write mesh: {err.strerror}") from err
