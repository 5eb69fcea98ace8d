"""Reference kernels against their plain numpy references, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.distance import _mesh_signed_distance_numpy, mesh_signed_distance


@pytest.mark.parametrize("n", [0, 1, 50000])
def test_mesh_signed_distance_matches_numpy(n):
    rng = np.random.default_rng(n)
    p = rng.normal(size=(n, 3)) * 3
    c = (p + rng.normal(size=(n, 3)) * rng.uniform(0, 0.3, size=(n, 1))).astype(np.float32)
    nrm = rng.normal(size=(n, 3))
    nrm = (nrm / np.linalg.norm(nrm, axis=1, keepdims=True)).astype(np.float32)
    c[: n // 10] = p[: n // 10]  # on the surface: distance 0, over
    got = mesh_signed_distance(p, c, nrm)
    want = _mesh_signed_distance_numpy(p, c, nrm)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert np.array_equal(g, w)


def test_mesh_signed_distance_checks_shapes():
    with pytest.raises(ValueError, match="three"):
        mesh_signed_distance(np.zeros((3, 3)), np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32))


def test_fix_winding_matches_trimesh_on_randomly_flipped_parts():
    import trimesh

    from hullscan.compare.reference import _fix_winding
    from hullscan.compare.synthetic import make_hull

    hull = make_hull(length=20.0, beam=6.0, draft=2.5, n_x=41, n_s=25)
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    v = np.vstack([hull.vertices, box.vertices + 30.0])
    f = np.vstack([hull.faces, box.faces + len(hull.vertices)]).astype(np.int64)
    rng = np.random.default_rng(0)
    flip = rng.random(len(f)) < 0.3
    f[flip] = f[flip][:, ::-1]
    tm = trimesh.Trimesh(v, f, process=False, validate=False)
    got = _fix_winding(f, np.asarray(tm.face_adjacency), np.asarray(tm.face_adjacency_edges))
    trimesh.repair.fix_winding(tm)
    want = np.asarray(tm.faces)
    assert trimesh.Trimesh(v, got, process=False).is_winding_consistent
    # Equal up to one flip per connected part (trimesh keeps the winding of the part's BFS start).
    labels = trimesh.graph.connected_component_labels(tm.face_adjacency, node_count=len(f))
    for part in np.unique(labels):
        sel = labels == part
        same = np.array_equal(got[sel], want[sel])
        assert same or np.array_equal(got[sel], want[sel][:, ::-1])


@pytest.mark.parametrize("n", [0, 1, 200000])
def test_any_near_plane_matches_numpy(n):
    from hullscan.core.distance import _any_near_plane_numpy, any_near_plane

    rng = np.random.default_rng(n)
    pts = rng.normal(size=(5000, 3))
    at = rng.normal(size=(max(n // 50, 1), 3))
    nrm = rng.normal(size=at.shape)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm[: len(nrm) // 5] = 0.0  # no shell there: every point reads on its plane (the caller masks such places)
    owner = rng.integers(0, len(at), n)
    member = rng.integers(0, len(pts), n)
    for tol in (0.0, 0.03, 0.5):
        got = any_near_plane(pts, owner, member, at, nrm, tol)
        want = _any_near_plane_numpy(pts, owner, member, at, nrm, tol)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    if n > 1:
        assert 0 < got.sum() < len(at)  # some places on the plane, some not


def test_any_near_plane_checks_shapes_and_indices():
    from hullscan.core.distance import any_near_plane

    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="expected points"):
        any_near_plane(z, np.zeros(2, np.int64), np.zeros(3, np.int64), z, z, 0.1)
    with pytest.raises(ValueError, match="out of range"):
        any_near_plane(z, np.array([2]), np.array([0]), z, z, 0.1)
