"""Reference.thin_at: which places of a reference lie on a plate too thin to clear (a bilge keel, a
propeller blade), on a design mesh of overlapping solids and on a scan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import trimesh

from hullscan.compare.analysis import THIN, Cells, clearance, coverage
from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import Reference, mesh_reference
from hullscan.hull.mesh import REGION_INDEX, HullMesh, merge_meshes


def _solid(extents: tuple[float, float, float], centre: tuple[float, float, float], region: str) -> HullMesh:
    b = trimesh.creation.box(extents=extents)
    b.apply_translation(centre)
    v, f = trimesh.remesh.subdivide_to_size(b.vertices, b.faces, max_edge=0.25)
    return HullMesh(np.asarray(v), np.asarray(f), np.full(len(f), REGION_INDEX[region], np.int16), region, "test",
                    10.0, 4.0, 3.0)


def _hull_with_keel_and_anode() -> Reference:
    """A block hull (10 x 4 m, bottom at z = -3) with a fin 4 cm thick under it whose root lies 5 cm
    inside the hull, and an anode 8 cm thick on its port side sunk 1 cm into the plating: three
    solids that overlap, as a design mesh's appendages do."""
    hull = _solid((10.0, 4.0, 3.0), (5.0, 0.0, -1.5), "side")
    keel = _solid((6.0, 0.04, 0.5), (5.0, 0.0, -3.2), "bilge_keel")
    anode = _solid((0.8, 0.08, 0.25), (3.0, 2.03, -1.5), "anode")
    return mesh_reference(merge_meshes([hull, keel, anode], "hull", "test"))


def test_a_keels_faces_are_thin_and_an_anodes_top_or_the_plating_is_not():
    ref = _hull_with_keel_and_anode()
    places = np.array([[5.0, 0.02, -3.3], [5.0, -0.02, -3.3],  # the keel's two faces, below the hull
                       [5.0, 0.0, -3.45],  # the keel's free edge, 4 cm wide
                       [3.0, 2.07, -1.5],  # the anode's top: its underside lies in the plating
                       [2.0, 1.0, -3.0], [8.0, 2.0, -1.0],  # the hull's bottom and side
                       [5.0, 0.1, -3.0]])  # the bottom beside the keel's root
    normals = np.array([[0, 1.0, 0], [0, -1.0, 0], [0, 0, -1.0], [0, 1.0, 0], [0, 0, -1.0], [0, 1.0, 0], [0, 0, -1.0]])
    assert ref.thin_at(places, normals, 0.2).tolist() == [True, True, True, False, False, False, False]
    # A keel thicker than the limit is a solid like any other.
    assert not ref.thin_at(places, normals, 0.03).any()
    assert not ref.thin_at(places, normals, 0.0).any()


def test_on_a_scan_two_faces_seen_back_to_back_are_thin_and_noisy_plating_is_not():
    """A scan holds only what was seen: a keel's two faces 4 cm apart, facing away from each other,
    and a plate whose averaged normals turned over here and there within its noise."""
    rng = np.random.default_rng(3)
    g = np.arange(0.0, 2.0, 0.05)
    x, z = np.meshgrid(g, g, indexing="ij")
    face = np.c_[x.ravel(), np.zeros(x.size), z.ravel()]
    across = np.array([0.0, 0.02, 0.0])
    keel = np.vstack([face + across, face - across])
    keel_n = np.vstack([np.tile([0, 1.0, 0], (len(face), 1)), np.tile([0, -1.0, 0], (len(face), 1))])
    plating = face + np.array([10.0, 0.0, 0.0]) + np.c_[np.zeros(len(face)), rng.normal(0, 0.001, len(face)), np.zeros(len(face))]
    plating_n = np.tile([0, 1.0, 0], (len(face), 1))
    plating_n[rng.random(len(face)) < 0.2] *= -1  # turned over within the noise
    pts, nrm = np.vstack([keel, plating]), np.vstack([keel_n, plating_n])
    ref = Reference("scan", "scan", "hull", True, pts, nrm, 0.0025, pts, nrm, 0.05)
    thin = ref.thin_at(pts, nrm, 0.2)
    assert thin[:len(keel)].all() and not thin[len(keel):].any()


def test_a_thin_keel_seen_well_is_not_cleared_and_says_why():
    """Cells all over the keel's port face and the hull's bottom beside it, well measured: the
    bottom is cleared, the keel's face is seen but not (a compartment there is not told from the
    keel), and its patch says so; with thin_plate_m off it is cleared as before."""
    ref = _hull_with_keel_and_anode()
    gx, gz = np.meshgrid(np.arange(2.5, 7.5, 0.05), np.arange(-3.42, -3.0, 0.05), indexing="ij")
    face = np.c_[gx.ravel(), np.full(gx.size, 0.02), gz.ravel()]
    bx, by = np.meshgrid(np.arange(2.5, 7.5, 0.05), np.arange(0.3, 1.8, 0.05), indexing="ij")
    bottom = np.c_[bx.ravel(), by.ravel(), np.full(bx.size, -3.0)]
    pts = np.vstack([face, bottom])
    normal = np.vstack([np.tile([0, 1.0, 0], (len(face), 1)), np.tile([0, 0, -1.0], (len(bottom), 1))])
    n = len(pts)
    zero = np.zeros(n)
    cells = Cells(pts, np.full(n, 6, np.int64), np.full(n, 0.01), np.ones(n), np.arange(n), zero, pts.copy(), normal,
                  np.zeros(n, np.int64), zero.copy(), zero.copy(), zero.copy(), zero.copy(), np.ones(n, bool),
                  uncertainty=np.full(n, 0.005), reference=ref)
    at = np.array([[5.0, 0.02, -3.35], [5.0, 1.0, -3.0]])
    at_n = np.array([[0, 1.0, 0], [0, 0, -1.0]])
    seen, cleared, _ = clearance(cells, CompareConfig(), at, at_normals=at_n)
    assert seen.all() and cleared(0.1).tolist() == [False, True] and cleared(0.3).tolist() == [False, True]
    off = CompareConfig(coverage={"thin_plate_m": 0.0})
    assert clearance(cells, off, at, at_normals=at_n)[1](0.1).all()
    cov = coverage(cells, replace(ref, hull_frame=False), CompareConfig(), [])
    on_face = (np.abs(cov.samples[:, 1] - 0.02) < 1e-3) & (cov.samples[:, 0] > 3) & (cov.samples[:, 0] < 7)
    assert on_face.sum() > 10 and not cov.seen[on_face].any() and cov.seen_any is not None
    assert cov.seen_any[on_face].mean() > 0.8 and cov.held is not None and cov.held[on_face].mean() > 0.8
    assert any(str(p["reason"]).startswith(THIN) and p["region"] == "bilge_keel" for p in cov.patches)
