"""Synthetic hulls and scans for the comparator's tests and benchmark.

Independent of the simulator on purpose: the comparator is tested against a hull whose
geometry, parasites and growth are known exactly, and still works while the simulator evolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.reference import REGIONS, mesh_reference
from hullscan.model import HullCloud, Transform

F64 = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SynthHullMesh:
    """Follows the HullMesh interface of hullscan.hull (vertices, faces, face_region, ...)."""

    vertices: F64
    faces: NDArray[np.int32]
    face_region: NDArray[np.int16]
    name: str = "synthetic"
    source: str = "synthetic"
    length: float = 0.0
    beam: float = 0.0
    draft: float = 0.0

    def region_of_points(self, points: F64) -> NDArray[np.str_]:
        ref = mesh_reference(self)
        return ref.regions_at(np.asarray(points, float))


def make_hull(length: float = 30.0, beam: float = 8.0, draft: float = 3.0, freeboard: float = 1.0,
              n_x: int = 121, n_s: int = 61, fullness: float = 6.0, sea_chest: bool = True,
              name: str = "synthetic") -> SynthHullMesh:
    """A closed, full-bodied hull: superellipse sections, flat-ish bottom, fine ends, a deck.

    Hull frame: x from the stern end of the waterline to the bow, y to port, z up, z = 0 waterline.
    """
    xs = np.linspace(0.0, length, n_x)
    u = 2 * xs / length - 1
    half = beam / 2 * np.clip(1 - np.abs(u) ** fullness, 0.0, 1.0) ** 0.5
    th = np.linspace(0.0, np.pi, n_s)
    c, s = np.cos(th), np.sin(th)
    p = 4.0
    ys = np.sign(c) * np.abs(c) ** (2 / p)
    zs = -draft * np.abs(s) ** (2 / p)
    rows = []
    for x, b in zip(xs, half, strict=True):
        sec = [(x, b, freeboard)] + [(x, b * y, z) for y, z in zip(ys, zs, strict=True)] + [(x, -b, freeboard)]
        rows.append(sec)
    v = np.array(rows, dtype=np.float64).reshape(-1, 3)
    m = n_s + 2
    faces = []
    for i in range(n_x - 1):
        for j in range(m):
            j2 = (j + 1) % m  # the deck closes the ring (starboard top back to port top)
            a, b_, c_, d = i * m + j, i * m + j2, (i + 1) * m + j, (i + 1) * m + j2
            faces += [(a, c_, b_), (b_, c_, d)]
    # End caps (fans) close the hull at the stern and bow stations.
    v = np.vstack([v, v[:m].mean(axis=0), v[-m:].mean(axis=0)])
    cs, cb = len(v) - 2, len(v) - 1
    for j in range(m):
        j2 = (j + 1) % m
        faces.append((cs, j2, j))
        faces.append((cb, (n_x - 1) * m + j, (n_x - 1) * m + j2))
    f = np.array(faces, dtype=np.int32)
    fr = _label(v, f, length, sea_chest)
    return SynthHullMesh(v, f, fr, name=name, length=length, beam=beam, draft=draft)


def _label(v: F64, f: NDArray[np.int32], length: float, sea_chest: bool) -> NDArray[np.int16]:
    cen = v[f].mean(axis=1)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    r = np.full(len(f), REGIONS.index("side"), np.int16)
    r[np.abs(n[:, 2]) > 0.7] = REGIONS.index("bottom")
    r[cen[:, 0] < 0.1 * length] = REGIONS.index("stern")
    r[cen[:, 0] > 0.9 * length] = REGIONS.index("bow")
    if sea_chest:  # a labelled sea-chest area on the starboard side, aft of midships
        sc = (np.abs(cen[:, 0] - 0.35 * length) < 1.0) & (cen[:, 1] < 0) & (cen[:, 2] < -1.0) & (cen[:, 2] > -2.2)
        r[sc] = REGIONS.index("sea_chest")
    return r


@dataclass(frozen=True)
class Box:
    """A box standing on the hull: centre on the hull surface, ``size`` (along x, girth, height)."""

    x: float
    side: float  # +1 port, -1 starboard, 0 bottom
    z: float  # target depth of the centre (ignored for bottom)
    size: tuple[float, float, float]
    y: float = 0.0  # for bottom boxes
    name: str = ""

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))


@dataclass(frozen=True, eq=False)
class SynthScan:
    cloud: HullCloud
    boxes: tuple[Box, ...]
    box_centroids: F64  # hull frame, centroid of the part standing proud
    box_volumes: F64
    hull_to_nav: Transform
    notes: list[str] = field(default_factory=list)


def _sample_surface(mesh: SynthHullMesh, spacing: float, rng: np.random.Generator) -> tuple[F64, F64]:
    ref = mesh_reference(mesh, coverage_cell=spacing, icp_spacing=1.0, coverage_max_z=0.0)
    return ref.samples, ref.sample_normals


def _box_frame(mesh_ref: object, box: Box) -> tuple[F64, F64, F64]:
    """Origin on the hull surface and orthonormal axes (along, across, normal) for a box."""
    from hullscan.compare.reference import Reference

    assert isinstance(mesh_ref, Reference)
    if box.side == 0:
        probe = np.array([[box.x, box.y, -50.0]])
    else:
        probe = np.array([[box.x, box.side * 50.0, box.z]])
    c, n, _ = mesh_ref.closest(probe)
    nz = n[0] / np.linalg.norm(n[0])
    ax = np.array([1.0, 0.0, 0.0]) - nz * nz[0]
    ax /= np.linalg.norm(ax)
    return c[0], np.stack([ax, np.cross(nz, ax), nz]), nz


def make_scan(mesh: SynthHullMesh, boxes: tuple[Box, ...] = (), *, spacing: float = 0.04, noise: float = 0.01,
              growth: float = 0.0, hull_to_nav: Transform | None = None, seed: int = 0,
              keep: NDArray[np.bool_] | None = None, max_z: float = -0.05) -> SynthScan:
    """Sample the hull below ``max_z``, add boxes (their proud surfaces), noise and barnacle growth.

    ``growth`` is the barnacle density (0..1): clustered bumps up to 4 cm and a 1 cm layer.
    The cloud is returned in the navigation frame (``hull_to_nav`` applied).
    """
    rng = np.random.default_rng(seed)
    ref = mesh_reference(mesh, coverage_cell=spacing, icp_spacing=1.0, coverage_max_z=max_z)
    pts, nrm = ref.samples.copy(), ref.sample_normals.copy()
    cents, vols = [], []
    extra_p, extra_n = [], []
    for box in boxes:
        o, axes, _ = _box_frame(ref, box)
        a, b, h = box.size
        # Sink the box 0.5 m into the hull so it sits flush on a curved surface.
        lo = np.array([-a / 2, -b / 2, -0.5])
        hi = np.array([a / 2, b / 2, h])
        local = (pts - o) @ axes.T
        inside = np.all((local > lo) & (local < hi), axis=1)
        pts, nrm = pts[~inside], nrm[~inside]
        # Box surface samples, kept where outside the hull.
        bp, bn = [], []
        for axis in range(3):
            for sgn in (-1, 1):
                o1, o2 = [k for k in range(3) if k != axis]
                n1 = max(2, int((hi[o1] - lo[o1]) / spacing))
                n2 = max(2, int((hi[o2] - lo[o2]) / spacing))
                g1, g2 = np.meshgrid(np.linspace(lo[o1], hi[o1], n1), np.linspace(lo[o2], hi[o2], n2))
                q = np.zeros((g1.size, 3))
                q[:, o1], q[:, o2] = g1.ravel(), g2.ravel()
                q[:, axis] = hi[axis] if sgn > 0 else lo[axis]
                nn = np.zeros((g1.size, 3))
                nn[:, axis] = sgn
                bp.append(q @ axes + o)
                bn.append(nn @ axes)
        bpa, bna = np.vstack(bp), np.vstack(bn)
        d, _, _, _, _ = ref.signed_distance(bpa)
        out = d > 0.002
        extra_p.append(bpa[out])
        extra_n.append(bna[out])
        # Proud part: a volume sample of the box, outside the hull.
        vs = rng.uniform(lo, hi, size=(20000, 3)) @ axes + o
        dv, _, _, _, _ = ref.signed_distance(vs)
        proud = dv > 0
        cents.append(vs[proud].mean(axis=0))
        vols.append(float(np.prod(hi - lo) * proud.mean()))
    if extra_p:
        pts = np.vstack([pts, *extra_p])
        nrm = np.vstack([nrm, *extra_n])
    if keep is not None:
        sel = keep(pts) if callable(keep) else keep
        pts, nrm = pts[sel], nrm[sel]
    off = rng.normal(0.0, noise, len(pts))
    if growth > 0:
        # Barnacle clusters: bumps of up to 4 cm, ~growth share of the surface, and a 1 cm layer.
        n_spots = int(growth * len(pts) / 30)
        spots = pts[rng.choice(len(pts), n_spots, replace=False)] if n_spots else np.zeros((0, 3))
        if len(spots):
            from scipy.spatial import cKDTree

            dist, _ = cKDTree(spots).query(pts, k=1)
            off += np.clip(0.04 * (1 - dist / 0.04), 0.0, None)
        off += 0.01 * growth
    pts = pts + nrm * off[:, None]
    tf = hull_to_nav or Transform.identity()
    n = len(pts)
    cloud = HullCloud(pts, nrm.astype(np.float32), np.full(n, 0.9, np.float32), np.full(n, 3, np.int32),
                      np.full(n, max(noise, 0.005), np.float32), "hull").transformed(tf, "odom")
    return SynthScan(cloud, tuple(boxes), np.array(cents).reshape(-1, 3), np.array(vols), tf)
