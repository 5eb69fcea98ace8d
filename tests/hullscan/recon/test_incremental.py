"""Incremental surface extraction (SurfaceCache, Reconstructor.cloud) against full extraction."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.voxelmap import (
    SurfaceCache,
    VoxelMap,
    changed_reference,
    changed_voxels,
    region,
    region_reference,
)
from hullscan.recon import ReconConfig, Reconstructor
from tests.hullscan.recon.synth import PATCH_ORIGINS, PATCH_VS, fuse_patch, survey

VS = PATCH_VS
ORIGINS = PATCH_ORIGINS
_fuse = fuse_patch


def _assert_same(cache: SurfaceCache, vm: VoxelMap) -> tuple[dict[str, np.ndarray], np.ndarray]:
    out, reason = cache.update(vm)
    full, full_reason = vm.extract(*cache.params)
    np.testing.assert_array_equal(reason, full_reason)
    assert set(out) == set(full)  # voxel: the source voxel ids, ascending in both
    for k in out:  # same values and order (ascending voxel id), bit for bit
        np.testing.assert_array_equal(out[k], full[k], err_msg=k)
    return out, reason.copy()


def test_changed_voxels_matches_reference() -> None:
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 5, (500, 16)).astype(np.float32)
    snap = acc[:, :2].copy()
    acc[rng.integers(0, 400, 60), rng.integers(0, 2, 60)] += 1  # changed hits or misses
    acc[rng.integers(0, 400, 30), 2:] += 1.5  # other sums alone never change without a count
    ref = changed_reference(acc, snap, 400, 500)
    got = changed_voxels(acc, snap, 400, 500)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(snap[:500], acc[:500, :2])  # brought up to date
    assert changed_voxels(acc, snap, 500, 500).size == 0
    with pytest.raises(ValueError):
        changed_voxels(acc, snap[:10], 400, 500)


@pytest.mark.parametrize("cell", [1, 2, 3])
def test_region_matches_reference(cell: int) -> None:
    rng = np.random.default_rng(cell)
    vm = VoxelMap(VS, capacity=16)
    _fuse(vm, rng, -0.4, 0.4, 4000)
    changed = np.sort(rng.choice(vm.n, 25, replace=False)).astype(np.int64)
    ids, aff = region(vm, changed, cell)
    ref_all, ref_aff = region_reference(vm.voxel_indices(), changed, cell)
    assert len(ids) == len(set(ids.tolist())) == len(ref_all)
    assert set(ids.tolist()) == ref_all
    assert set(ids[aff].tolist()) == ref_aff
    assert 0 < len(ref_aff) < len(ref_all) < vm.n  # a real sub-region with a context margin
    # ascending ids within each cell: the order the full extraction sums a cell's voxels in
    cells = np.floor_divide(vm.voxel_indices()[ids], cell)
    same = np.all(cells[1:] == cells[:-1], axis=1)
    assert np.all(ids[1:][same] > ids[:-1][same])


@pytest.mark.parametrize("cell", [1, 2, 3])
def test_incremental_equals_full_step_by_step(cell: int) -> None:
    rng = np.random.default_rng(10 + cell)
    vm = VoxelMap(VS, capacity=16)  # tiny: growth of the map and of the cache on the way
    _fuse(vm, rng, -1.0, 1.0, 20000)
    cache = SurfaceCache(cell, 2, 1.0, full_fraction=2.0)  # always the region path after the first call
    _, reason = _assert_same(cache, vm)
    freed = 0
    for step in range(9):
        x = rng.uniform(-1.0, 0.8)
        # patches on the surface, behind it (new voxels) and in front of it: these pings see
        # through the surface voxels there, whose misses then turn them into free space
        mu = (0.0, 0.05, -0.06)[step % 3]
        _fuse(vm, rng, x, x + 0.2, 600 if mu >= 0 else 3000, mu)
        before = reason
        _, reason = _assert_same(cache, vm)
        assert cache.last["region_voxels"] < 0.5 * vm.n
        freed += int(np.sum((before == 0) & (reason[: before.shape[0]] == 1)))
    assert freed > 0


def test_cell_border_neighbour_effect() -> None:
    # One hit in a voxel of the next cell across a cell border changes the plane (and output)
    # of voxels in the cell on the other side, which hold no change themselves.
    rng = np.random.default_rng(3)
    vm = VoxelMap(VS)
    _fuse(vm, rng, -0.3, 0.3, 8000)
    cache = SurfaceCache(2, 2, 1.0, full_fraction=2.0)
    before, _ = _assert_same(cache, vm)
    p = np.array([[0.041, 0.001, 0.035]])  # voxel (2, 0, 1): cell (1, 0, 0), next to cell (0, 0, 0)
    vm.fuse(p, np.zeros(1, np.int32), ORIGINS[:1], np.full(1, 0.01, np.float32), 2.0, 0.0)
    after, _ = _assert_same(cache, vm)
    near = lambda o: o["points"][np.all(np.abs(o["points"] - [0.01, 0.01, 0.0]) < 0.02, axis=1)]  # noqa: E731
    assert near(before).shape == near(after).shape and not np.array_equal(near(before), near(after))


def test_new_map_object_resets_the_cache() -> None:
    rng = np.random.default_rng(4)
    vm = VoxelMap(VS)
    _fuse(vm, rng, -0.5, 0.5, 6000)
    cache = SurfaceCache(2, 2, 1.0)
    _assert_same(cache, vm)
    vm2 = VoxelMap(VS)
    _fuse(vm2, rng, 2.0, 2.5, 3000)
    _assert_same(cache, vm2)
    assert cache.last["region_voxels"] == vm2.n  # full extraction of the new map
    _assert_same(cache, VoxelMap.from_state(vm.state()))


def test_reconstructor_cloud_is_incremental_and_equals_full(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = survey(n_pings=160, beams=64, lanes=(0.0, 1.0))
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    c = rec.config
    calls = 0
    for i, it in enumerate(s.items):
        rec.add(it)
        if i % 97 == 96:
            cloud = rec.cloud()
            full, _ = rec.map.extract(c.surface_cell_voxels, c.min_hits, c.max_miss_ratio)
            np.testing.assert_array_equal(cloud.points, full["points"])
            np.testing.assert_array_equal(cloud.normals, full["normals"])
            np.testing.assert_array_equal(cloud.confidence, full["confidence"])
            np.testing.assert_array_equal(cloud.sigma, full["sigma"])
            np.testing.assert_array_equal(cloud.hits, full["hits"])
            calls += 1
    assert calls >= 5 and len(cloud) > 500
    assert rec._surface.last["region_voxels"] < rec.map.n  # the last calls were incremental
    rec.checkpoint(tmp_path / "m.npz")
    rec2 = Reconstructor(ReconConfig(chunk_pings=1))
    rec2.restore(tmp_path / "m.npz")
    np.testing.assert_array_equal(rec2.cloud().points, rec.cloud().points)
    res = rec.finish()
    np.testing.assert_array_equal(res.cloud.points, rec.cloud().points)
