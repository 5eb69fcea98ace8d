"""The hull model: a triangle mesh in the hull frame with a named region per face.

The hull frame (see :mod:`hullscan.model`) has its origin at the stern end of
the design waterline on the centreline, x towards the bow, y to port, z up,
with the design waterline at z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hullscan.errors import MeshError
from hullscan.model import Transform

if TYPE_CHECKING:  # pragma: no cover
    import open3d

REGIONS: tuple[str, ...] = (
    "bottom", "side", "bow", "stern", "bilge_keel", "sea_chest", "rudder", "propeller",
    "thruster_tunnel", "skeg", "anode",
)
REGION_INDEX: dict[str, int] = {name: i for i, name in enumerate(REGIONS)}
UNKNOWN_REGION = "unknown"


def region_id(name: str) -> int:
    """Index of a region name in :data:`REGIONS` (``MeshError`` for an unknown name)."""
    try:
        return REGION_INDEX[name]
    except KeyError as err:
        raise MeshError(f"unknown hull region {name!r} (expected one of {', '.join(REGIONS)})") from err


@dataclass(frozen=True, eq=False)
class HullMesh:
    """A hull as triangles: ``vertices`` (V, 3) float64 m in the hull frame, ``faces``
    (F, 3) int32, ``face_region`` (F,) int16 index into :data:`REGIONS` (-1 unknown).

    ``length`` is the waterline length, ``beam`` the largest breadth at or below
    the waterline and ``draft`` the depth of the lowest point below the waterline.

    ``ref_from_hull`` maps the hull frame back to the reference file's own coordinates (its
    axes and origin, in metres after unit scaling): what users see. None means the file was
    already in the hull frame. ``waterline`` says where the waterline came from (a stated draft,
    the file's z = 0, or a guess: ``waterline_guessed``). ``half`` is ``port``/``starboard`` for
    a half-hull mesh (one side, open along the centreline y = 0), ``""`` for a whole hull.
    """

    # Annotated Any: constructors accept any array-like; stored as float64 / int32 / int16.
    vertices: NDArray[Any]
    faces: NDArray[Any]
    face_region: NDArray[Any]
    name: str
    source: str
    length: float
    beam: float
    draft: float
    ref_from_hull: Transform | None = None
    waterline: str = ""
    waterline_guessed: bool = False
    half: str = ""
    # How the file's units were read where it was a guess a user should check ("" where stated or
    # plain metres): a model-scale file read as a 100 m ship.
    scale_guess: str = ""

    def __post_init__(self) -> None:
        v = np.array(self.vertices, dtype=np.float64, copy=True)
        f = np.array(self.faces, dtype=np.int32, copy=True)
        r = np.array(self.face_region, dtype=np.int16, copy=True)
        if v.ndim != 2 or v.shape[1] != 3:
            raise MeshError(f"{self.source}: vertices must be (V, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3:
            raise MeshError(f"{self.source}: faces must be (F, 3), got {f.shape}")
        if r.shape != (f.shape[0],):
            raise MeshError(f"{self.source}: face_region must be ({f.shape[0]},), got {r.shape}")
        if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
            raise MeshError(f"{self.source}: face indices outside 0..{v.shape[0] - 1}")
        if not np.all(np.isfinite(v)):
            raise MeshError(f"{self.source}: vertices contain NaN or infinite values")
        if r.size and (r.min() < -1 or r.max() >= len(REGIONS)):
            raise MeshError(f"{self.source}: face_region outside -1..{len(REGIONS) - 1}")
        for arr in (v, f, r):
            arr.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)
        object.__setattr__(self, "face_region", r)

    # ------------------------------------------------------------------ geometry
    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    def face_centroids(self) -> NDArray[np.float64]:
        return np.asarray(self.vertices[self.faces].mean(axis=1))

    def face_normals(self) -> NDArray[np.float64]:
        """Unit face normals (F, 3) by the right-hand rule (zero for degenerate faces)."""
        tri = self.vertices[self.faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        return np.asarray(np.where(norm > 0, n / np.where(norm > 0, norm, 1.0), 0.0))

    def face_areas(self) -> NDArray[np.float64]:
        tri = self.vertices[self.faces]
        return np.asarray(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1))

    def region_names(self) -> NDArray[np.str_]:
        """Region name per face (``unknown`` for -1)."""
        names = np.array([*REGIONS, UNKNOWN_REGION])
        return np.asarray(names[self.face_region])

    def region_mask(self, region: str) -> NDArray[np.bool_]:
        return np.asarray(self.face_region == region_id(region))

    def regions_present(self) -> tuple[str, ...]:
        ids = sorted(set(int(i) for i in np.unique(self.face_region)) - {-1})
        return tuple(REGIONS[i] for i in ids)

    def with_regions(self, face_region: ArrayLike) -> HullMesh:
        return HullMesh(self.vertices, self.faces, np.asarray(face_region), self.name, self.source,
                        self.length, self.beam, self.draft, self.ref_from_hull, self.waterline,
                        self.waterline_guessed, self.half, self.scale_guess)

    def to_open3d(self) -> open3d.geometry.TriangleMesh:
        import open3d as o3d

        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(self.vertices.copy()),
                                      o3d.utility.Vector3iVector(self.faces.copy()))
        m.compute_triangle_normals()
        return m

    def raycasting_scene(self) -> Any:
        """An open3d ``RaycastingScene`` holding this mesh (geometry id 0)."""
        import open3d as o3d

        core: Any = o3d.core
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(core.Tensor(self.vertices.astype(np.float32)),
                            core.Tensor(self.faces.astype(np.uint32)))
        return scene

    def closest(self, points: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """Closest surface points (N, 3), their face ids (N,) and distances (N,)."""
        import open3d as o3d

        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if p.shape[1] != 3:
            raise MeshError(f"closest: expected (N, 3) points, got {p.shape}")
        scene = self.raycasting_scene()
        core: Any = o3d.core
        ans = scene.compute_closest_points(core.Tensor(p.astype(np.float32)))
        cp = ans["points"].numpy().astype(np.float64)
        fid = ans["primitive_ids"].numpy().astype(np.int64)
        return cp, fid, np.linalg.norm(cp - p, axis=1)

    def region_of_points(self, points: ArrayLike) -> NDArray[np.str_]:
        """Region name of the face nearest to each of the (N, 3) points."""
        if self.n_faces == 0:
            raise MeshError(f"{self.source}: mesh has no faces")
        _, fid, _ = self.closest(points)
        return np.asarray(self.region_names()[fid])

    def summary(self) -> str:
        counts = {REGIONS[i] if i >= 0 else UNKNOWN_REGION: int(n)
                  for i, n in zip(*np.unique(self.face_region, return_counts=True), strict=True)}
        return (f"{self.name}: {self.n_faces} faces, L={self.length:.2f} m, B={self.beam:.2f} m, "
                f"T={self.draft:.2f} m, regions {counts}")


def merge_meshes(parts: list[HullMesh], name: str, source: str) -> HullMesh:
    """Concatenate meshes (no boolean union: ray casting needs only the outer skin)."""
    if not parts:
        raise MeshError(f"{source}: nothing to merge")
    verts, faces, regs = [], [], []
    off = 0
    for p in parts:
        verts.append(p.vertices)
        faces.append(p.faces.astype(np.int64) + off)
        regs.append(p.face_region)
        off += p.vertices.shape[0]
    base = parts[0]
    return HullMesh(np.concatenate(verts), np.concatenate(faces).astype(np.int32), np.concatenate(regs),
                    name, source, base.length, base.beam, base.draft, base.ref_from_hull, base.waterline,
                    base.waterline_guessed, base.half)
