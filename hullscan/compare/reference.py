"""References a hull cloud is compared with: a design mesh, an earlier clean scan, or its own mirror.

Every reference answers the same questions: the closest reference surface point and its outward
normal for any query point (``closest``), surface samples with the area each stands for (ICP
targets and coverage), and the named hull region of a point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hullscan.core.distance import mesh_signed_distance
from hullscan.core.grid import group_keys, voxel_keys
from hullscan.errors import AlignmentError, HullscanError, MeshError
from hullscan.model import HullCloud, Transform

F64 = NDArray[np.float64]

# Same tuple as hullscan.hull.REGIONS (agreed interface); kept here so the comparator works
# with any mesh object that follows the HullMesh interface.
REGIONS = ("bottom", "side", "bow", "stern", "bilge_keel", "sea_chest", "rudder", "propeller",
           "thruster_tunnel", "skeg", "anode")

ReferenceKind = Literal["mesh", "scan", "mirror"]


class HullMeshLike(Protocol):
    @property
    def vertices(self) -> Any: ...
    @property
    def faces(self) -> Any: ...


def _regions() -> tuple[str, ...]:
    try:
        from hullscan.hull import REGIONS as hull_regions
    except ImportError:  # simulator package not present in this build
        return REGIONS
    return tuple(hull_regions)


def _sample_triangles(v: F64, f: NDArray[np.int64], spacing: float, rng: np.random.Generator
                      ) -> tuple[F64, NDArray[np.int64], float]:
    """Area-uniform samples, about one per ``spacing``²; returns points, face ids, area per sample."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = float(area.sum())
    if total <= 0:
        return np.zeros((0, 3)), np.zeros(0, np.int64), 0.0
    n = max(1, round(total / spacing**2))
    # Stratified per face (expected count, remainder drawn) keeps small faces fairly represented.
    expect = area / total * n
    counts = np.floor(expect).astype(np.int64)
    counts += rng.random(len(f)) < (expect - counts)
    fid = np.repeat(np.arange(len(f)), counts)
    r1 = np.sqrt(rng.random(len(fid)))
    r2 = rng.random(len(fid))
    pts = (1 - r1)[:, None] * a[fid] + (r1 * (1 - r2))[:, None] * b[fid] + (r1 * r2)[:, None] * c[fid]
    return pts, fid, total / max(1, len(fid))


def _fix_winding(faces: NDArray[np.int64], adjacency: NDArray[np.int64], shared: NDArray[np.int64]
                 ) -> NDArray[np.int64]:
    """Faces reversed where needed so that neighbours run their shared edge in opposite directions.

    What ``trimesh.repair.fix_winding`` does (each connected part keeps the winding of its
    lowest-numbered face; the other faces are reversed, ``[::-1]``, where the part needs it), without
    its Python loop over faces (10 s for a 35 k-face hull): the flips are the connected components
    of the two-sheeted face graph, whose edges keep or change the sheet. ``adjacency`` (P, 2): face
    pairs sharing edge ``shared`` (P, 2) (trimesh's face_adjacency, face_adjacency_edges).
    """
    f = faces.copy()
    n = len(f)
    if not len(adjacency) or not n:
        return f
    a, b = adjacency[:, 0], adjacency[:, 1]
    u, v = shared[:, 0:1], shared[:, 1:2]

    def runs_u_to_v(fi: NDArray[np.int64]) -> NDArray[np.bool_]:
        rows = f[fi]
        return ((rows == u) & (np.roll(rows, -1, axis=1) == v)).any(axis=1)

    same = runs_u_to_v(a) == runs_u_to_v(b)  # same direction: the two windings disagree
    ones = np.ones(2 * len(a))
    sheets = coo_matrix((ones, (np.concatenate([a, a + n]), np.concatenate([np.where(same, b + n, b),
                                                                             np.where(same, b, b + n)]))),
                        shape=(2 * n, 2 * n))
    _, lab = connected_components(sheets, directed=False)
    _, part = connected_components(coo_matrix((ones[: len(a)], (a, b)), shape=(n, n)), directed=False)
    root = np.full(int(part.max()) + 1, n, np.int64)
    np.minimum.at(root, part, np.arange(n))
    r = root[part]
    flip = (lab[np.arange(n) + n] == lab[r]) & (lab[np.arange(n)] != lab[r])  # not for a Moebius strip
    f[flip] = f[flip][:, ::-1]
    return f


def orient_outward(vertices: F64, faces: NDArray[np.int64], face_region: NDArray[np.int16] | None = None
                   ) -> tuple[NDArray[np.int64], bool]:
    """Faces with a consistent winding whose normals point out of the hull.

    Each connected part (shell, sea-chest recess, grating bar, anode...) is oriented on its own:
    a closed part by its signed volume, an open or broken one (shell with an open deck or holes,
    a recess box) by the majority of its face normals pointing away from the hull's long axis.
    One vote for the whole mesh would flip small separate parts (a recess floor facing into the
    hull turns a pack in a sea chest into a 'recess'). Returns the faces and whether the mesh
    was watertight.
    """
    import trimesh

    tm = trimesh.Trimesh(vertices, faces, process=False, validate=False)
    f = _fix_winding(np.asarray(faces, dtype=np.int64), np.asarray(tm.face_adjacency, dtype=np.int64),
                     np.asarray(tm.face_adjacency_edges, dtype=np.int64))
    watertight = bool(tm.is_watertight)
    if len(f) == 0:
        return f, watertight
    axis_z = 0.5 * (vertices[:, 2].min() + vertices[:, 2].max())
    fn = np.cross(vertices[f[:, 1]] - vertices[f[:, 0]], vertices[f[:, 2]] - vertices[f[:, 0]])
    cen = vertices[f].mean(axis=1)
    away = cen - np.array([0.0, 0.0, axis_z])
    away[:, 0] = 0.0  # away from the long (x) axis
    vote = np.einsum("ij,ij->i", fn, away)
    # Signed volume contribution of each face (divergence theorem); exact for closed parts.
    vol = np.einsum("ij,ij->i", vertices[f[:, 0]], np.cross(vertices[f[:, 1]], vertices[f[:, 2]])) / 6.0
    labels = trimesh.graph.connected_component_labels(tm.face_adjacency, node_count=len(f))
    edges = np.sort(np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1).reshape(-1, 2), axis=1)
    edge_label = np.repeat(labels, 3)
    n_parts = int(labels.max()) + 1
    closed = np.ones(n_parts, bool)
    nv = int(max(len(vertices), 1))
    if n_parts * nv * nv < 1 << 62:  # one int64 per (part, edge): hash grouping instead of a row sort

        _, inv, cnt = group_keys((edge_label * nv + edges[:, 0]) * nv + edges[:, 1], sort=False)
    else:
        _, inv, cnt = np.unique(np.column_stack([edge_label, edges]), axis=0, return_inverse=True,
                                return_counts=True)
    bad_edges = cnt[inv.ravel()] != 2
    closed[np.unique(edge_label[bad_edges])] = False
    vol_part = np.bincount(labels, weights=vol, minlength=n_parts)
    vote_part = np.bincount(labels, weights=vote, minlength=n_parts)
    if face_region is not None and len(face_region) == len(f) and "thruster_tunnel" in _regions():
        tunnel = face_region == _regions().index("thruster_tunnel")
        if tunnel.any():
            # Area-weighted centre of each tunnel part lies on its axis: wetted normals point at it.
            area = np.linalg.norm(fn, axis=1)
            wsum = np.bincount(labels[tunnel], weights=area[tunnel], minlength=n_parts)
            centre = np.stack([np.bincount(labels[tunnel], weights=area[tunnel] * cen[tunnel, i], minlength=n_parts)
                               for i in range(3)], axis=1) / np.maximum(wsum, 1e-12)[:, None]
            inward = np.einsum("ij,ij->i", fn, centre[labels] - cen)
            tvote = np.bincount(labels[tunnel], weights=inward[tunnel], minlength=n_parts)
            is_tunnel = np.bincount(labels[tunnel], minlength=n_parts) > 0.5 * np.bincount(labels, minlength=n_parts)
            vote_part = np.where(is_tunnel, tvote, vote_part)
    flip_part = np.where(closed, vol_part < 0, vote_part < 0)
    flip = flip_part[labels]
    f[flip] = f[flip][:, ::-1]
    return f, watertight


def _geometric_region(points: F64, normals: F64, x_min: float, x_max: float) -> NDArray[np.str_]:
    """Coarse regions for references without labels (scans, mirror mode)."""
    length = max(x_max - x_min, 1e-6)
    u = (points[:, 0] - x_min) / length
    out = np.full(len(points), "side", dtype=object)
    out[normals[:, 2] < -0.7] = "bottom"
    out[u < 0.12] = "stern"
    out[u > 0.9] = "bow"
    return out.astype(str)


@dataclass(eq=False)
class Reference:
    """A reference surface in its own frame (the hull frame for design meshes).

    ``samples``/``sample_normals``/``sample_area``: area-uniform surface samples below the
    inspected waterline with the area (m²) each stands for; ``icp_points``/``icp_normals``:
    denser samples used as alignment targets.
    """

    kind: ReferenceKind
    name: str
    frame_id: str
    hull_frame: bool
    samples: F64
    sample_normals: F64
    sample_area: float
    icp_points: F64
    icp_normals: F64
    spacing: float
    mesh: Any = None
    watertight: bool = False
    notes: list[str] = field(default_factory=list)
    _scene: Any = None
    _shell_scene: Any = None  # the mesh without its recesses (sea chests): the shell's own normal there
    _recess_region: int = -1
    _faces: NDArray[np.int64] | None = None
    _face_region: NDArray[np.int16] | None = None
    _tree: cKDTree | None = None
    _tree_points: F64 | None = None
    _tree_normals: F64 | None = None
    _icp_tree: cKDTree | None = None
    _thin_faces: dict[float, NDArray[np.bool_]] = field(default_factory=dict)  # samples on a thin plate's faces
    _thin_samples: dict[float, NDArray[np.bool_]] = field(default_factory=dict)  # thin_at over ``samples``

    # ------------------------------------------------------------------ queries
    def icp_tree(self) -> cKDTree:
        """A KD-tree over ``icp_points`` (built on first use): the reference's own surface near a point."""
        if self._icp_tree is None:
            self._icp_tree = cKDTree(self.icp_points)
        return self._icp_tree

    def closest(self, points: F64, within: float | None = None) -> tuple[F64, F64, NDArray[np.int64]]:
        """Closest surface point (N, 3), its outward normal (N, 3) and the face/sample index.

        ``within`` (m): a scan or sample reference may leave points whose nearest sample is
        farther than that unmatched (NaN point and normal, index -1); the mesh path matches all."""
        p = np.ascontiguousarray(points, dtype=np.float64)
        if self._scene is not None:
            import open3d.core as o3c

            ans = self._scene.compute_closest_points(o3c.Tensor(p.astype(np.float32)))  # type: ignore[call-overload]
            c = ans["points"].numpy().astype(np.float64)
            n = ans["primitive_normals"].numpy().astype(np.float64)
            ids = ans["primitive_ids"].numpy().astype(np.int64)
            return c, n, ids
        assert self._tree is not None and self._tree_points is not None and self._tree_normals is not None
        # Threads pay off only for large queries: the coarse registration asks thousands of small ones.
        # A bounded search is several times faster from afar: unbounded, a point metres off the
        # hull visits every sample within that distance.
        bound = np.inf if within is None else float(within)
        _, idx = self._tree.query(p, k=1, workers=-1 if len(p) > 50_000 else 1, distance_upper_bound=bound)
        idx = np.asarray(idx, dtype=np.int64)
        miss = idx >= len(self._tree_points)
        idx[miss] = 0
        q, n = self._tree_points[idx], self._tree_normals[idx]  # fancy indexing: copies
        # Foot of the perpendicular on the sample's tangent plane: the nearest sample of a noisy
        # scan is decided by its noise, not its position, for points well off the surface.
        foot = p - np.einsum("ij,ij->i", p - q, n)[:, None] * n
        if miss.any():
            foot[miss], n[miss], idx[miss] = np.nan, np.nan, -1
        return foot, n, idx

    def filled_share(self, point: F64, radius: float) -> float:
        """Share of a disc of ``radius`` (m) around ``point`` that this reference's surface samples
        (one per ``spacing`` cell) fill: about 1 where a scan saw the surface densely, near 0 where it
        saw it at a few points only."""
        assert self._tree is not None
        n = self._tree.query_ball_point(np.asarray(point, dtype=float), radius, return_length=True)
        return float(n) * self.spacing**2 / (np.pi * radius**2)

    def signed_distance(self, points: F64, within: float | None = None
                        ) -> tuple[F64, F64, F64, NDArray[np.int64], NDArray[np.bool_]]:
        """Signed distance (outward positive), closest points, normals, ids and a mask of
        points that lie over the reference surface (not beyond its edge or a gap in a scan).
        ``within``: as in :meth:`closest` (unmatched points: NaN distance, not over)."""
        if self._scene is not None and type(self).closest is Reference.closest:
            import open3d.core as o3c

            p = np.ascontiguousarray(points, dtype=np.float64)
            ans = self._scene.compute_closest_points(o3c.Tensor(p.astype(np.float32)))  # type: ignore[call-overload]
            d, c, n, over = mesh_signed_distance(p, ans["points"].numpy(), ans["primitive_normals"].numpy())
            ids = ans["primitive_ids"].numpy().astype(np.int64)
            if self._shell_scene is not None and self._face_region is not None and len(points):
                d, c, n, ids, over = self._through_recess(p, d, c, n, ids, over)
            return d, c, n, ids, over
        c, n, ids = self.closest(points, within=within)
        diff = points - c
        along = np.einsum("ij,ij->i", diff, n)
        dist = np.linalg.norm(diff, axis=1)
        tangential = np.sqrt(np.maximum(dist**2 - along**2, 0.0))
        if self._scene is not None:
            d = np.where(along >= 0, dist, -dist)
            over = tangential <= np.maximum(0.25 * dist, 0.02)  # off the edge of an open mesh
            if self._shell_scene is not None and self._face_region is not None and len(points):
                d, c, n, ids, over = self._through_recess(points, d, c, n, ids, over)
        else:
            assert self._tree_points is not None
            d = along
            gap = np.linalg.norm(c - self._tree_points[ids], axis=1)
            over = (gap <= 3.0 * self.spacing) & (ids >= 0)  # a gap wider than this in the scan was not seen
        return d, c, n, ids, over

    def _through_recess(self, p: F64, d: F64, c: F64, n: F64, ids: NDArray[np.int64], over: NDArray[np.bool_]
                        ) -> tuple[F64, F64, F64, NDArray[np.int64], NDArray[np.bool_]]:
        """Inside a recess (sea chest) behind its grating, measure along the shell normal.

        Something lying in a sea chest sits between the recess floor and the grating bars, and its
        closest reference surface is often the back of a bar: the nearest-point distance then
        calls it a shallow recess. There the distance is taken instead along the shell's inward
        normal to the first reference surface facing the point (the recess floor): a pack in a
        sea chest is a protrusion of its true height. Points beside a wall or on a bar keep the
        nearest-point distance.
        """
        import open3d.core as o3c

        assert self._face_region is not None
        sel = np.flatnonzero(self._face_region[ids] == self._recess_region)
        if not len(sel):
            return d, c, n, ids, over
        q = np.ascontiguousarray(p[sel], dtype=np.float32)
        ns = self._shell_scene.compute_closest_points(o3c.Tensor(q))["primitive_normals"].numpy().astype(np.float64)  # type: ignore[call-overload]
        # Deeper than its nearest reference point (behind a bar, not beside a wall or in the grating plane).
        depth = np.einsum("ij,ij->i", p[sel] - c[sel], ns)
        behind = ((np.einsum("ij,ij->i", n[sel], ns) < -0.5) | ~over[sel]) & (depth < -0.02)
        sel, q, ns = sel[behind], q[behind], ns[behind]
        if not len(sel):
            return d, c, n, ids, over
        rays = np.concatenate([q, -ns.astype(np.float32)], axis=1)
        hit = self._scene.cast_rays(o3c.Tensor(np.ascontiguousarray(rays)))  # type: ignore[call-overload]
        t = hit["t_hit"].numpy().astype(np.float64)
        nh = hit["primitive_normals"].numpy().astype(np.float64)
        hid = hit["primitive_ids"].numpy().astype(np.int64)
        front = np.isfinite(t) & (np.einsum("ij,ij->i", nh, -ns) < 0) & (t < 2.0)
        sel, t, nh, hid, ns = sel[front], t[front], nh[front], hid[front], ns[front]
        d, c, n, ids, over = d.copy(), c.copy(), n.copy(), ids.copy(), over.copy()
        d[sel] = t
        c[sel] = p[sel] - t[:, None] * ns
        n[sel] = nh
        ids[sel] = hid
        over[sel] = True
        return d, c, n, ids, over

    def distance_along(self, points: F64, direction: F64) -> F64:
        """Distance from each point along ``-direction`` to the first reference face turned towards
        it (NaN where there is none, or for references without a surface to cast rays on)."""
        out = np.full(len(points), np.nan)
        if self._scene is None or not len(points):
            return out
        import open3d.core as o3c

        u = np.asarray(direction, dtype=np.float64)
        rays = np.concatenate([points, np.broadcast_to(-u, points.shape)], axis=1).astype(np.float32)
        hit = self._scene.cast_rays(o3c.Tensor(np.ascontiguousarray(rays)))  # type: ignore[call-overload]
        t = hit["t_hit"].numpy().astype(np.float64)
        front = np.isfinite(t) & (hit["primitive_normals"].numpy().astype(np.float64) @ u > 0)
        out[front] = t[front]
        return out

    def thin_at(self, points: F64, normals: F64, thickness: float) -> NDArray[np.bool_]:
        """Whether each place ``points`` (N, 3) on this reference, facing ``normals`` (N, 3), lies on
        a plate thinner than ``thickness`` (m): a bilge keel, a propeller blade, a grating bar. Its
        faces (:meth:`_plate_face`); within ``thickness`` plus the samples' spacing of a reference
        sample on such a face, the same face further on (facing its way, within 1 cm of its plane:
        near a keel's root the hull's skin crosses the inward ray) and the plate's edges (a place
        whose own face is turned across the thin face, stands out beyond it along its own normal,
        so the plate's free edge and not the plating it stands on, and lies within ``thickness`` of
        the face's plane: a keel's 4 cm edge, which no 0.9 x 0.3 m cap fits)."""
        if thickness <= 0 or not len(points) or not len(self.icp_points):
            return np.zeros(len(points), bool)
        n = _unit(normals)
        return self._plate_face(points, n, thickness) | self._beside_thin(points, n, self._faces_at(thickness),
                                                                          thickness)

    def thin_samples(self, thickness: float) -> NDArray[np.bool_]:
        """:meth:`thin_at` over the reference's own ``samples`` (what coverage and the planner ask on
        every update), made once per thickness."""
        if thickness <= 0 or not len(self.samples) or not len(self.icp_points):
            return np.zeros(len(self.samples), bool)
        if thickness not in self._thin_samples:
            n = _unit(self.sample_normals)
            self._thin_samples[thickness] = self._faces_at(thickness) | self._beside_thin(
                self.samples, n, self._faces_at(thickness), thickness)
        return self._thin_samples[thickness]

    def _faces_at(self, thickness: float) -> NDArray[np.bool_]:
        """The reference's own samples on a thin plate's faces (:meth:`_plate_face`), made once."""
        if thickness not in self._thin_faces:
            self._thin_faces[thickness] = self._plate_face(self.samples, _unit(self.sample_normals), thickness)
        return self._thin_faces[thickness]

    def _beside_thin(self, points: F64, n: F64, thin: NDArray[np.bool_], thickness: float) -> NDArray[np.bool_]:
        """Places ``points`` (N, 3) facing the unit normals ``n`` beside the reference's samples on a
        thin plate's faces (``thin``, a mask over ``samples``) that :meth:`thin_at` makes the same face
        or an edge. Not followed further: a keel's face grown sample by sample would creep onto the
        plating its root stands on."""
        out = np.zeros(len(points), bool)
        faces = np.flatnonzero(thin)
        if not len(faces) or not len(points):
            return out
        q, nq = self.samples[faces], _unit(self.sample_normals[faces])
        m = cKDTree(points).sparse_distance_matrix(cKDTree(q), thickness + np.sqrt(self.sample_area),
                                                   output_type="ndarray")
        i, j = m["i"].astype(np.int64), m["j"].astype(np.int64)
        d = points[i] - q[j]
        cos = np.einsum("ij,ij->i", n[i], nq[j])
        off = np.abs(np.einsum("ij,ij->i", d, nq[j]))  # from the thin face's plane
        edge = (np.abs(cos) < 0.5) & (np.einsum("ij,ij->i", d, n[i]) > 0) & (off <= thickness)
        # The same face where a ray inward first meets other plating (a keel's face at its root,
        # where the hull's skin crosses the ray): facing its way, within 1 cm of its plane.
        same = (cos > 0.9) & (off <= 0.01)
        out[i[edge | same]] = True
        return out

    def _plate_face(self, points: F64, n: F64, thickness: float) -> NDArray[np.bool_]:
        """Whether each place ``points`` (N, 3), facing the unit normals ``n`` (N, 3), lies on a face
        of a plate thinner than ``thickness`` (m): a face of the reference turned the other way (over
        120 deg) lies behind it no deeper than that, with open water beyond. A design mesh is made
        of solids that overlap: an anode's underside lies in the shell plating, a bilge keel's root
        inside the hull, and those hidden faces are not the back of a plate. So on a mesh, a ray is
        cast inward to the first face; going on past it, the ray must meet nothing or a face from
        the front (water beyond), not a face from behind (the inside of the hull). A scan holds only
        surface that was seen: its samples within ``thickness`` plus the spacing, facing the other
        way and behind, are enough."""
        out = np.zeros(len(points), bool)
        if not len(points):
            return out
        if self._scene is None:
            m = cKDTree(points).sparse_distance_matrix(self.icp_tree(), thickness + self.spacing, output_type="ndarray")
            i, j = m["i"].astype(np.int64), m["j"].astype(np.int64)
            depth = np.einsum("ij,ij->i", points[i] - self.icp_points[j], n[i])  # behind the place, along its normal
            opposite = np.einsum("ij,ij->i", self.icp_normals[j], n[i]) < -0.5
            # (a scan's mean normals may turn over within the plating's own noise: 1 cm at least)
            out[i[opposite & (depth >= 0.01) & (depth <= thickness)]] = True
            return out
        import open3d.core as o3c

        start = points - 1e-3 * n  # just under the face, so that it does not hit itself
        rays = np.concatenate([start, -n], axis=1).astype(np.float32)
        hit = self._scene.cast_rays(o3c.Tensor(np.ascontiguousarray(rays)))  # type: ignore[call-overload]
        t = hit["t_hit"].numpy().astype(np.float64)
        back = np.einsum("ij,ij->i", hit["primitive_normals"].numpy().astype(np.float64), -n) > 0.5
        cand = np.flatnonzero(np.isfinite(t) & (t + 1e-3 <= thickness) & back)
        if len(cand):
            # On past the other face: open water (nothing, or a face met from the front) beyond a
            # plate's back; a face met from behind where that face lies inside another solid.
            beyond = start[cand] - (t[cand] + 1e-3)[:, None] * n[cand]
            rays = np.concatenate([beyond, -n[cand]], axis=1).astype(np.float32)
            hit = self._scene.cast_rays(o3c.Tensor(np.ascontiguousarray(rays)))  # type: ignore[call-overload]
            into = np.einsum("ij,ij->i", hit["primitive_normals"].numpy().astype(np.float64), -n[cand]) > 0
            out[cand] = ~(np.isfinite(hit["t_hit"].numpy()) & into)
        return out

    def in_recess(self, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each closest face (from ``closest``/``signed_distance``) lies in a recess (sea chest)."""
        if self._face_region is None or self._recess_region < 0 or self._scene is None:
            return np.zeros(len(ids), bool)
        ok = (ids >= 0) & (ids < len(self._face_region))
        out = np.zeros(len(ids), bool)
        out[ok] = self._face_region[ids[ok]] == self._recess_region
        return out

    def regions_at(self, points: F64, ids: NDArray[np.int64] | None = None,
                   normals: F64 | None = None) -> NDArray[np.str_]:
        if self._face_region is not None:
            if ids is None:
                _, normals, ids = self.closest(points)
            names = np.array((*_regions(), "unknown"), dtype=object)
            fr = self._face_region[ids].astype(np.int64)
            fr = np.where((fr < 0) | (fr >= len(names) - 1), len(names) - 1, fr)
            return names[fr].astype(str)
        if normals is None:
            _, normals, _ = self.closest(points)
        return _geometric_region(points, normals, float(self.samples[:, 0].min()) if len(self.samples) else 0.0,
                                 float(self.samples[:, 0].max()) if len(self.samples) else 1.0)

    @property
    def extent(self) -> F64:
        pts = self.icp_points
        return pts.max(axis=0) - pts.min(axis=0) if len(pts) else np.zeros(3)

    def transformed(self, tf: Transform) -> F64:
        return tf.apply(self.samples)


# ---------------------------------------------------------------------- constructors


def _unit(v: F64) -> F64:
    """Rows of ``v`` (N, 3) scaled to unit length (zero rows stay zero)."""
    length = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, length, out=np.zeros_like(v, dtype=np.float64), where=length > 1e-9)


def mesh_reference(mesh: HullMeshLike, *, coverage_cell: float = 0.2, icp_spacing: float = 0.1,
                   coverage_max_z: float = -0.1, seed: int = 0) -> Reference:
    """A reference from a design mesh (HullMesh interface: vertices, faces, face_region in m, hull frame)."""
    import open3d as o3d
    import open3d.core as o3c

    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    name = str(getattr(mesh, "name", "mesh"))
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise MeshError(f"{name}: expected vertices (V, 3) and faces (F, 3), got {v.shape} and {f.shape}")
    if not np.all(np.isfinite(v)):
        raise MeshError(f"{name}: mesh has non-finite vertices")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError(f"{name}: face indices out of range 0..{len(v) - 1}")
    span = float(np.ptp(v, axis=0).max())
    if span > 600.0:  # longer than any ship afloat: file units were not metres
        raise AlignmentError(
            f"{name}: reference is {span:.0f} units long; it appears to be in millimetres (or cm), not metres. "
            "Load it with hullscan.hull.load_mesh(path, units='mm') (hullscan compare --units mm)")
    notes: list[str] = []
    # Degenerate faces carry no surface; dropping them keeps normals well defined.
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    good = np.linalg.norm(np.cross(b - a, c - a), axis=1) > 1e-12
    fr_all = np.asarray(getattr(mesh, "face_region", np.full(len(f), -1)), dtype=np.int16)
    if len(fr_all) != len(f):
        fr_all = np.full(len(f), -1, np.int16)
    if not good.all():
        notes.append(f"{int((~good).sum())} degenerate faces ignored")
    f, fr = f[good], fr_all[good]
    f, watertight = orient_outward(v, f, fr)
    if not watertight:
        notes.append("mesh is not watertight (holes or open deck): open parts oriented away from the keel axis")
    rng = np.random.default_rng(seed)
    wet = v[f][:, :, 2].mean(axis=1) < coverage_max_z + 0.5 * coverage_cell
    cov_pts, cov_fid, cov_area = _sample_triangles(v, f[wet], coverage_cell, rng)
    cov_fid = np.flatnonzero(wet)[cov_fid] if len(cov_fid) else cov_fid
    keep = cov_pts[:, 2] < coverage_max_z if len(cov_pts) else np.zeros(0, bool)
    cov_pts, cov_fid = cov_pts[keep], cov_fid[keep]
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    fn /= np.linalg.norm(fn, axis=1, keepdims=True)
    icp_pts, icp_fid, _ = _sample_triangles(v, f, icp_spacing, rng)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3c.Tensor(v.astype(np.float32)),  # type: ignore[call-overload]
                        o3c.Tensor(f.astype(np.uint32)))  # type: ignore[call-overload]
    shell_scene, recess_region = None, -1
    if "sea_chest" in _regions():
        recess_region = _regions().index("sea_chest")
        shell = fr != recess_region
        if (~shell).any() and shell.any():
            shell_scene = o3d.t.geometry.RaycastingScene()
            shell_scene.add_triangles(o3c.Tensor(v.astype(np.float32)),  # type: ignore[call-overload]
                                      o3c.Tensor(f[shell].astype(np.uint32)))  # type: ignore[call-overload]
    return Reference(
        kind="mesh", name=name, frame_id="hull", hull_frame=True,
        samples=cov_pts, sample_normals=fn[cov_fid], sample_area=cov_area,
        icp_points=icp_pts, icp_normals=fn[icp_fid], spacing=icp_spacing, mesh=mesh,
        watertight=watertight, notes=notes, _scene=scene, _faces=f, _face_region=fr,
        _shell_scene=shell_scene, _recess_region=recess_region,
    )


def estimate_normals(points: F64, k: int = 16) -> F64:
    """Unit normals by local PCA, oriented away from the hull's long axis."""
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.array(points, dtype=np.float64)))  # open3d needs a writable copy
    pc.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(k))
    n = np.asarray(pc.normals)
    centre = np.median(points, axis=0)
    away = points - centre
    away[:, 0] = 0.0
    flip = np.einsum("ij,ij->i", n, away) < 0
    n[flip] *= -1
    return n


def _voxel_mean(points: F64, normals: F64, size: float) -> tuple[F64, F64]:
    _, inv, counts = group_keys(voxel_keys(points, size))
    p = np.zeros((len(counts), 3))
    n = np.zeros((len(counts), 3))
    np.add.at(p, inv, points)
    np.add.at(n, inv, normals)
    p /= counts[:, None]
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 1e-9)
    return p, n


def cloud_normals(cloud: HullCloud) -> F64:
    n = np.asarray(cloud.normals, dtype=np.float64)
    norm = np.linalg.norm(n, axis=1)
    if len(n) and np.mean(norm > 0.5) > 0.95:
        return n / np.maximum(norm, 1e-9)[:, None]
    return estimate_normals(np.asarray(cloud.points))


def scan_reference(cloud: HullCloud, *, name: str = "scan", spacing: float = 0.05, coverage_cell: float = 0.2,
                   kind: ReferenceKind = "scan", hull_frame: bool | None = None) -> Reference:
    """A reference from an earlier clean scan (or a mirrored cloud), in the scan's own frame."""
    if len(cloud) < 100:
        raise HullscanError(f"{name}: reference scan has only {len(cloud)} points; need at least 100")
    pts = np.asarray(cloud.points, dtype=np.float64)
    nrm = cloud_normals(cloud)
    tp, tn = _voxel_mean(pts, nrm, spacing)
    cp, cn = _voxel_mean(pts, nrm, coverage_cell)
    ip, inn = _voxel_mean(pts, nrm, max(spacing, 0.1))
    return Reference(
        kind=kind, name=name, frame_id=cloud.frame_id,
        hull_frame=cloud.frame_id == "hull" if hull_frame is None else hull_frame,
        samples=cp, sample_normals=cn, sample_area=coverage_cell**2,
        icp_points=ip, icp_normals=inn, spacing=spacing,
        _tree=cKDTree(tp), _tree_points=tp, _tree_normals=tn,
    )
