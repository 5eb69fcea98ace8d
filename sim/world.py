"""What the sonar really sees: the as-built hull (dents), marine growth, plate seams and
the parasites, with their ground truth.

Parasites and anodes are closed solids attached to the surface along its outward
normal; growth and seams are range offsets evaluated at each return's hit point
(barnacle-scale detail is far finer than any mesh we would want to ray-cast).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from hullscan_sim.hullform import SeaChest, outward_normal, solid_at, surface_frame
from hullscan_sim.scenario import AsBuiltSpec, GrowthSpec, ParasiteSpec
from numpy.typing import NDArray

from hullscan.errors import ConfigError
from hullscan.hull.mesh import REGIONS, HullMesh

F = NDArray[np.float64]
EMBED_M = 0.02  # solids sink this far into the shell so no ray slips under their edge
MAX_OFF_HULL_M = 0.5
X_TOLERANCE_M = 1.5  # how far a region-placed parasite may lie from its x_m
VOLUME_RANGE_M3 = (0.01, 3.0)


@dataclass(frozen=True)
class Parasite:
    id: str
    shape: str
    size_m: tuple[float, float, float]
    volume_m3: float
    region: str
    centroid_hull: tuple[float, float, float]
    height_m: float
    inside_sea_chest: bool
    anchor: tuple[float, float, float]
    normal: tuple[float, float, float]
    mesh: HullMesh = field(repr=False)
    volume_proud_m3: float = 0.0  # the part outside the hull's material (see proud_volume)

    def truth(self) -> dict[str, Any]:
        return {"id": self.id, "shape": self.shape, "size_m": list(self.size_m), "volume_m3": self.volume_m3,
                "volume_proud_m3": self.volume_proud_m3,
                "region": self.region, "centroid_hull": list(self.centroid_hull), "height_m": self.height_m,
                "inside_sea_chest": self.inside_sea_chest, "anchor_hull": list(self.anchor),
                "normal_hull": list(self.normal)}


def _t3(v: F) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def _volume(shape: str, size: tuple[float, float, float]) -> float:
    length, w, h = size
    if shape == "torpedo":
        r = 0.5 * w
        return float(np.pi * r * r * max(length - w, 0.0) + 4 / 3 * np.pi * r ** 3)
    if shape == "limpet":
        return float(2 / 3 * np.pi * (length / 2) * (w / 2) * h)
    return float(length * w * h)


def _local_solid(shape: str, size: tuple[float, float, float]) -> tuple[trimesh.Trimesh, float, float]:
    """Solid in the surface frame (x along, z out of the surface), its centroid height and protrusion."""
    length, w, h = size
    if shape in ("box", "pack"):
        m = trimesh.creation.box(extents=[length, w, h + EMBED_M])
        m.apply_translation([0, 0, (h - EMBED_M) / 2])
        return m, h / 2, h
    if shape == "torpedo":
        r = 0.5 * w
        m = trimesh.creation.capsule(height=max(length - w, 1e-3), radius=r, count=[24, 12])
        m.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
        m.apply_translation([0, 0, r - EMBED_M / 2])
        return m, r - EMBED_M / 2, w - EMBED_M / 2
    # limpet: a flat half-ellipsoid dome
    m = trimesh.creation.icosphere(subdivisions=3)
    v = m.vertices.copy()
    v[:, 2] = np.maximum(v[:, 2], 0.0)
    v *= [length / 2, w / 2, h]
    v[:, 2] -= EMBED_M * (v[:, 2] <= 0)
    return trimesh.Trimesh(v, m.faces, process=False), 3 * h / 8, h


def proud_volume(reference: HullMesh, solid: HullMesh, normal: F, n_samples: int = 40000) -> float:
    """Volume (m3) of ``solid`` that lies outside the hull's material.

    This is what a scan can measure as space between the reference and the parasite: a
    torpedo strapped along a bilge keel partly overlaps the keel plate and the shell. A
    sample point is inside the hull when a ray from it along the parasite's outward
    ``normal`` crosses the reference an odd number of times (the ray leaves the hull into
    open water, so an open deck does not matter). Fixed sampling seed: truth stays
    deterministic and the scenario's random stream is untouched.
    """
    import open3d as o3d

    core: Any = o3d.core
    lo, hi = solid.vertices.min(axis=0), solid.vertices.max(axis=0)
    box_volume = float(np.prod(hi - lo))
    pts = np.random.default_rng(0).uniform(lo, hi, (n_samples, 3)).astype(np.float32)
    in_solid = solid.raycasting_scene().compute_occupancy(core.Tensor(pts)).numpy() > 0.5
    rays = np.concatenate([pts[in_solid], np.broadcast_to(normal.astype(np.float32), (int(in_solid.sum()), 3))],
                          axis=1)
    hits = reference.raycasting_scene().count_intersections(core.Tensor(np.ascontiguousarray(rays))).numpy()
    outside = int(np.count_nonzero(hits % 2 == 0))
    return box_volume * outside / n_samples


def _buried(reference: HullMesh, points: F, face_ids: NDArray[np.int64], lift_m: float = 0.03) -> NDArray[np.bool_]:
    """Whether each face point, lifted ``lift_m`` off its face, is inside other hull material.

    Odd crossings along the face's outward normal mean the lifted point is inside a solid.
    """
    import open3d as o3d

    core: Any = o3d.core
    n = outward_normal(reference, points, face_ids)
    rays = np.concatenate([points + lift_m * n, n], axis=1).astype(np.float32)
    hits = reference.raycasting_scene().count_intersections(core.Tensor(rays)).numpy()
    return np.asarray(hits % 2 == 1)


def place_parasites(reference: HullMesh, specs: list[ParasiteSpec], chests: tuple[SeaChest, ...],
                    rng: np.random.Generator) -> list[Parasite]:
    out: list[Parasite] = []
    names = reference.region_names()
    for i, sp in enumerate(specs):
        key = f"parasites.{i}"
        pid = sp.id or f"P{i + 1}"
        vol = _volume(sp.shape, sp.size_m)
        if not VOLUME_RANGE_M3[0] - 1e-9 <= vol <= VOLUME_RANGE_M3[1] + 1e-9:
            raise ConfigError(f"{key}.size_m: volume {vol:.4f} m^3 is outside the expected "
                              f"{VOLUME_RANGE_M3[0]}..{VOLUME_RANGE_M3[1]} m^3")
        if sp.shape == "pack" or sp.region == "sea_chest":
            out.append(_pack(reference, sp, key, pid, vol, chests))
            continue
        if sp.position is not None:
            anchor, face = _anchor_at_position(reference, sp, key)
        else:
            anchor, face = _anchor_in_region(reference, sp, key, rng)
        if anchor[2] > -0.2:
            raise ConfigError(f"{key}: the parasite lies at z={anchor[2]:.2f} m (expected below the waterline, "
                              "z < -0.2 m)")
        nrm = outward_normal(reference, anchor[None], np.array([face]))[0]
        frame = surface_frame(nrm)
        yaw = np.deg2rad(sp.yaw_deg)
        rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
        frame = frame @ rz
        solid, c_h, height = _local_solid(sp.shape, sp.size_m)
        mesh = solid_at(solid, anchor, frame, REGIONS[reference.face_region[face]] if reference.face_region[face] >= 0
                        else "side", pid)
        centroid = anchor + nrm * c_h
        region = str(names[face]) if names[face] != "unknown" else "side"
        out.append(Parasite(pid, sp.shape, sp.size_m, vol, region, _t3(centroid), float(height),
                            False, _t3(anchor), _t3(nrm), mesh, proud_volume(reference, mesh, nrm)))
    return out


def _anchor_at_position(reference: HullMesh, sp: ParasiteSpec, key: str) -> tuple[F, int]:
    """The hull point nearest a stated position (and its face); a position off the hull is refused."""
    assert sp.position is not None
    p = np.array(sp.position, dtype=np.float64)
    if sp.position_frame == "file" and reference.ref_from_hull is not None:
        p = reference.ref_from_hull.inverse().apply(p)
    cp, fid, dist = reference.closest(p[None])
    if dist[0] > MAX_OFF_HULL_M:
        raise ConfigError(f"{key}.position: {list(sp.position)} is {dist[0]:.2f} m from the hull surface "
                          f"(expected a point on the hull, within {MAX_OFF_HULL_M} m; nearest hull point "
                          f"{np.round(cp[0], 2).tolist()})")
    return cp[0], int(fid[0])


def _region_faces(reference: HullMesh, sp: ParasiteSpec, key: str) -> NDArray[np.int64]:
    """The submerged, exposed faces of the spec's region (and side) a parasite may sit on."""
    names = reference.region_names()
    centroids = reference.face_centroids()
    cand = names == sp.region
    if sp.side == "port":
        cand &= centroids[:, 1] > 0.05
    elif sp.side == "starboard":
        cand &= centroids[:, 1] < -0.05
    cand &= centroids[:, 2] < -0.3
    # Faces buried in other parts (the top of a skeg inside the stern) are not hull surface.
    cand[cand] = ~_buried(reference, centroids[cand], np.flatnonzero(cand))
    if not cand.any():
        present = ", ".join(reference.regions_present())
        raise ConfigError(f"{key}.region: this hull has no submerged {sp.region!r} faces"
                          f"{' on the ' + sp.side + ' side' if sp.side else ''} (regions present: {present})")
    idx = np.flatnonzero(cand)
    if sp.x_m is not None:
        dx = np.abs(centroids[idx, 0] - sp.x_m)
        idx = idx[dx <= dx.min() + 1.0]
    return idx


def _anchor_in_region(reference: HullMesh, sp: ParasiteSpec, key: str, rng: np.random.Generator
                      ) -> tuple[F, int]:
    """A random point on the region's faces (area weighted), near ``x_m`` when it is given."""
    assert sp.region is not None
    idx = _region_faces(reference, sp, key)
    areas = reference.face_areas()
    w = areas[idx] / areas[idx].sum()
    face = int(rng.choice(idx, p=w))
    tri = reference.vertices[reference.faces[face]]
    a, b = rng.uniform(0.2, 0.8, 2)
    if a + b > 1:
        a, b = 1 - a, 1 - b
    anchor = tri[0] + a * (tri[1] - tri[0]) + b * (tri[2] - tri[0])
    if sp.x_m is not None and abs(anchor[0] - sp.x_m) > X_TOLERANCE_M:
        # A long face (a bilge keel is one box) spans far more than x_m's tolerance: draw
        # again within it. Only drawn when needed, so other scenarios keep their bags.
        ab = rng.uniform(0.0, 1.0, (256, 2))
        flip = ab.sum(axis=1) > 1
        ab[flip] = 1 - ab[flip]
        pts = tri[0] + ab[:, :1] * (tri[1] - tri[0]) + ab[:, 1:] * (tri[2] - tri[0])
        anchor = pts[int(np.argmin(np.abs(pts[:, 0] - sp.x_m)))]
    return anchor, face


def _pack(reference: HullMesh, sp: ParasiteSpec, key: str, pid: str, vol: float,
          chests: tuple[SeaChest, ...]) -> Parasite:
    if not chests:
        raise ConfigError(f"{key}.shape: a pack goes inside a sea chest, and this hull has none "
                          "(expected hull.parametric.sea_chests)")
    if sp.position is not None:
        d = [float(np.linalg.norm(np.asarray(sp.position) - c.center)) for c in chests]
        chest = chests[int(np.argmin(d))]
    elif sp.side in ("port", "starboard"):
        match = [c for c in chests if (c.normal[1] > 0) == (sp.side == "port")]
        if not match:
            raise ConfigError(f"{key}.side: no sea chest on the {sp.side} side")
        chest = match[0]
    else:
        chest = chests[0]
    length, w, h = sp.size_m
    if length > chest.width - 0.05 or w > chest.height - 0.05 or h > chest.recess - 0.08:
        raise ConfigError(f"{key}.size_m: {list(sp.size_m)} does not fit behind the grating of sea chest "
                          f"{chest.index} (expected at most {chest.width - 0.05:.2f} x {chest.height - 0.05:.2f} x "
                          f"{chest.recess - 0.08:.2f} m)")
    floor = chest.center - chest.normal * chest.recess
    frame = np.stack([chest.along, np.cross(chest.normal, chest.along), chest.normal], axis=1)
    solid, c_h, height = _local_solid("box", sp.size_m)
    mesh = solid_at(solid, floor, frame, "sea_chest", pid)
    centroid = floor + chest.normal * c_h
    return Parasite(pid, sp.shape, sp.size_m, vol, "sea_chest", _t3(centroid), float(height),
                    True, _t3(floor), _t3(chest.normal), mesh, proud_volume(reference, mesh, chest.normal))


def apply_dents(reference: HullMesh, spec: AsBuiltSpec, rng: np.random.Generator) -> tuple[HullMesh, list[dict[str, Any]]]:
    """Push skin vertices inwards in smooth dents (as-built deviations, a few cm)."""
    if spec.dents == 0 or spec.dent_depth_m == 0:
        return reference, []
    skin = np.isin(reference.face_region, [REGIONS.index(r) for r in ("side", "bottom", "bow", "stern")])
    faces = np.flatnonzero(skin & (reference.face_centroids()[:, 2] < -0.3))
    areas = reference.face_areas()[faces]
    pick = rng.choice(faces, spec.dents, p=areas / areas.sum())
    cents = reference.face_centroids()[pick]
    nrm = outward_normal(reference, cents, pick)
    v = reference.vertices.copy()
    skin_verts = np.unique(reference.faces[skin])
    decoys = []
    for k in range(spec.dents):
        r = spec.dent_radius_m * rng.uniform(0.7, 1.3)
        depth = spec.dent_depth_m * rng.uniform(0.5, 1.0)
        d2 = np.sum((v[skin_verts] - cents[k]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * (r / 2) ** 2))
        w[d2 > (2 * r) ** 2] = 0
        v[skin_verts] -= (w * depth)[:, None] * nrm[k]
        decoys.append({"id": f"D{k + 1}", "kind": "dent", "centroid_hull": cents[k].tolist(), "depth_m": depth,
                       "radius_m": r, "region": str(reference.region_names()[pick[k]])})
    return HullMesh(v, reference.faces, reference.face_region, reference.name, reference.source + " +dents",
                    reference.length, reference.beam, reference.draft), decoys


def _hash01(i: NDArray[np.int64], j: NDArray[np.int64], k: NDArray[np.int64], seed: int) -> F:
    h = (i.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (j.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)) \
        ^ (k.astype(np.uint64) * np.uint64(0x165667B19E3779F9)) ^ np.uint64(seed * 2654435761 % 2**63)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return np.asarray((h >> np.uint64(11)).astype(np.float64) / float(2**53))


def _value_noise(p: F, scale: float, seed: int) -> F:
    q = p / scale
    i0 = np.floor(q).astype(np.int64)
    f = q - i0
    f = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1]) * (f[:, 2] if dz else 1 - f[:, 2])
                out += w * _hash01(i0[:, 0] + dx, i0[:, 1] + dy, i0[:, 2] + dz, seed)
    return out


@dataclass(frozen=True)
class SurfaceTexture:
    """Growth and seams as a height above the design surface at any hit point (hull frame)."""

    growth: GrowthSpec
    as_built: AsBuiltSpec
    seed: int

    @property
    def active(self) -> bool:
        g = self.growth
        return g.roughness_m > 0 or g.patch_thickness_m > 0 or self.as_built.seam_height_m > 0

    def height(self, p: F) -> F:
        g = self.growth
        h = np.zeros(len(p))
        if g.roughness_m > 0:
            c = np.floor(p / g.cell_m).astype(np.int64)
            u = _hash01(c[:, 0], c[:, 1], c[:, 2], self.seed)
            h += g.roughness_m * np.sqrt(3) * (2 * u - 1) + g.roughness_m * np.sqrt(3)
        if g.patch_thickness_m > 0:
            n = _value_noise(p, g.patch_scale_m, self.seed + 1)
            h += g.patch_thickness_m * np.clip((n - 0.45) * 4, 0, 1)
        ab = self.as_built
        if ab.seam_height_m > 0:
            sx = np.abs(((p[:, 0] + ab.seam_spacing_m / 2) % ab.seam_spacing_m) - ab.seam_spacing_m / 2)
            sz = np.abs(((p[:, 2] + ab.seam_spacing_m) % (2 * ab.seam_spacing_m)) - ab.seam_spacing_m)
            h += ab.seam_height_m * np.maximum(np.clip(1 - sx / 0.025, 0, 1), np.clip(1 - sz / 0.025, 0, 1))
        return h

    def albedo_factor(self, p: F) -> F:
        """Camera: growth darkens and mottles the paint."""
        if self.growth.roughness_m <= 0 and self.growth.patch_thickness_m <= 0:
            return np.ones(len(p))
        c = np.floor(p / 0.03).astype(np.int64)
        u = _hash01(c[:, 0], c[:, 1], c[:, 2], self.seed + 7)
        return np.asarray(0.75 + 0.5 * u)
