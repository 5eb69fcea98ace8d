"""Small hulls for the planner's tests: a box barge with a port sea chest and a propeller, in the
hull frame (x from the stern, y to port, z up, waterline z = 0)."""

from __future__ import annotations

import numpy as np
import trimesh

from hullscan.hull.mesh import REGION_INDEX, HullMesh, merge_meshes


def _box(extents: tuple[float, float, float], centre: tuple[float, float, float], edge: float) -> trimesh.Trimesh:
    b = trimesh.creation.box(extents=extents)
    b.apply_translation(centre)
    v, f = trimesh.remesh.subdivide_to_size(b.vertices, b.faces, max_edge=edge)
    return trimesh.Trimesh(v, f, process=False)


def barge(length: float = 24.0, beam: float = 6.0, draft: float = 3.0, edge: float = 0.6) -> HullMesh:
    """A box barge (bottom and sides), a sea chest patch on the port side at x 8..10 m, and a
    propeller (a small box) aft of the stern on the centreline."""
    hull = _box((length, beam, draft + 2.0), (length / 2, 0.0, 1.0 - draft / 2), edge)
    c = hull.triangles_center
    n = hull.face_normals
    reg = np.full(len(c), REGION_INDEX["side"], np.int16)
    reg[n[:, 2] < -0.7] = REGION_INDEX["bottom"]
    chest = (c[:, 1] > beam / 2 - 1e-6) & (c[:, 0] > 8) & (c[:, 0] < 10) & (c[:, 2] < -1.0) & (c[:, 2] > -2.2)
    reg[chest] = REGION_INDEX["sea_chest"]
    body = HullMesh(hull.vertices, hull.faces, reg, "barge", "test barge", length, beam, draft)
    prop = _box((0.3, 1.6, 1.6), (-1.0, 0.0, -draft / 2), 0.3)
    pm = HullMesh(prop.vertices, prop.faces, np.full(len(prop.faces), REGION_INDEX["propeller"], np.int16),
                  "prop", "test propeller", length, beam, draft)
    return merge_meshes([body, pm], "barge", "test barge")


def plate(z: float = -5.0, length: float = 10.0, width: float = 6.0) -> HullMesh:
    """A flat horizontal plate (a ship's flat bottom) at height ``z``, facing down: the underside of a
    block 0.5 m deep (a plate a few centimetres thick is a thin appendage, which nothing clears)."""
    p = _box((length, width, 0.5), (length / 2, 0.0, z + 0.24), 0.5)
    reg = np.full(len(p.faces), REGION_INDEX["bottom"], np.int16)
    return HullMesh(p.vertices, p.faces, reg, "plate", "test plate", length, width, -z)


def fin(z: float = -4.0, length: float = 10.0, height: float = 1.5, thickness: float = 0.1) -> HullMesh:
    """A thin vertical plate (a bilge keel's web) along x, centred on y = 0, top at ``z``."""
    p = _box((length, thickness, height), (length / 2, 0.0, z - height / 2), 0.1)
    reg = np.full(len(p.faces), REGION_INDEX["bilge_keel"], np.int16)
    return HullMesh(p.vertices, p.faces, reg, "fin", "test fin", length, thickness, -(z - height))
