"""Grid hashing and interpolation kernels against their plain numpy references, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.grid import (
    _group_keys_numpy,
    _voxel_keys_numpy,
    extent,
    group_keys,
    voxel_down,
    voxel_keys,
)
from hullscan.core.interp import _blend_shifts_numpy, blend_shifts


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
@pytest.mark.parametrize("scale", [0.01, 3.0, 400.0])
@pytest.mark.parametrize("size", [0.05, 0.5])
def test_voxel_keys_match_numpy(n, scale, size):
    rng = np.random.default_rng(n)
    p = rng.normal(size=(n, 3)) * scale + rng.uniform(-1000, 1000, 3)
    assert np.array_equal(voxel_keys(p, size), _voxel_keys_numpy(p, size))


def test_voxel_keys_errors():
    p = np.array([[0.0, 0.0, 0.0], [1e6, 0.0, 0.0]])
    for f in (voxel_keys, _voxel_keys_numpy):
        with pytest.raises(ValueError, match="spans more than"):
            f(p, 0.05)
    with pytest.raises(ValueError, match="non-finite"):
        voxel_keys(np.array([[0.0, np.nan, 0.0]]), 0.1)
    with pytest.raises(ValueError, match="expected points"):
        voxel_keys(np.zeros((4, 2)), 0.1)


@pytest.mark.parametrize("n", [0, 1, 100, 20000, 300000])
@pytest.mark.parametrize("distinct", [3, 1000, 10**9])
@pytest.mark.parametrize("sort", [True, False])
def test_group_keys_match_numpy(n, distinct, sort):
    rng = np.random.default_rng(distinct + n)
    keys = rng.integers(-distinct, distinct, size=n, dtype=np.int64)
    got = group_keys(keys, sort=sort)
    want = _group_keys_numpy(keys, sort=sort)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        assert np.array_equal(g, w)
    if sort:  # exactly np.unique's answer
        _, first, inv, cnt = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        assert np.array_equal(got[0], first) and np.array_equal(got[1], inv.ravel())
        assert np.array_equal(got[2], cnt)


def test_voxel_down_keeps_first_point_of_each_voxel_in_order():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 2, size=(20000, 3))
    _, first = np.unique(_voxel_keys_numpy(p, 0.1), return_index=True)
    assert np.array_equal(voxel_down(p, 0.1), p[np.sort(first)])


def test_extent_matches_ptp():
    p = np.random.default_rng(4).normal(size=(1000, 3))
    assert np.array_equal(extent(p), np.ptp(p, axis=0))
    assert np.array_equal(extent(np.zeros((0, 3))), np.zeros(3))


@pytest.mark.parametrize("blocks", [1, 2, 8, 9, 150])
def test_blend_shifts_match_numpy(blocks):
    rng = np.random.default_rng(blocks)
    centres = rng.uniform(0, 40, size=(blocks, 3))
    shifts = rng.normal(size=(blocks, 3)) * 0.05
    q = rng.uniform(-5, 45, size=(120000, 3))  # large enough for the threaded chunks
    k = min(8, blocks)
    got = blend_shifts(q, centres, shifts, k, 2.0)
    want = _blend_shifts_numpy(q, centres, shifts, k, 2.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    with pytest.raises(ValueError):
        blend_shifts(q, centres, shifts, blocks + 1, 2.0)


@pytest.mark.parametrize("radius", [0.03, 0.08, 0.1, 0.23])
@pytest.mark.parametrize("k", [1, 9])
def test_voxel_knn_matches_ckdtree(radius, k):
    from hullscan.core.grid import _voxel_knn_numpy, voxel_knn

    rng = np.random.default_rng(int(radius * 100) + k)
    # A bent sheet (floor, wall, slope) sampled densely, averaged into 5 cm voxels as make_cells does.
    u, v = rng.uniform(0, 3, size=(2, 250000))
    p = np.stack([u, v, np.where(u < 1, 0.0, np.where(u < 2, (u - 1) * 2.0, 2.0 + v))], axis=1)
    p += rng.normal(scale=0.01, size=p.shape) + np.array([50.0, -20.0, -3.0])
    keys = voxel_keys(p, 0.05)
    first, inv, cnt = group_keys(keys)
    cp = np.stack([np.bincount(inv, weights=p[:, i]) / cnt for i in range(3)], axis=1)
    got = voxel_knn(cp, keys[first], 0.05, k, radius)
    assert np.array_equal(got, _voxel_knn_numpy(cp, k, radius))
    assert voxel_knn(cp[:0], keys[:0], 0.05, k, radius).shape == (0, k)
    with pytest.raises(ValueError, match="ascending"):
        voxel_knn(cp[::-1], keys[first][::-1], 0.05, k, radius)
