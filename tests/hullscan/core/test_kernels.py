"""Every numba kernel against its plain numpy/Python reference on random inputs."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from hullscan.core import georef, voxelmap
from hullscan.core.voxelmap import VoxelMap, extract_reference, fuse_reference


def _rays(rng: np.random.Generator, n: int, n_origins: int = 5, noise: float = 0.005) -> tuple[np.ndarray, ...]:
    origins = rng.normal(0, 1, (n_origins, 3)) + np.array([0, 0, -3])
    ray = rng.integers(0, n_origins, n).astype(np.int32)
    # Points near the plane z = 0 so voxels are shared and carving finds voxels to hit.
    pts = np.column_stack([rng.uniform(-0.2, 0.2, n), rng.uniform(-0.2, 0.2, n), rng.normal(0, noise, n)])
    sigma = rng.uniform(0.005, 0.03, n).astype(np.float32)
    return pts, ray, origins, sigma


@pytest.mark.parametrize("seed,kernel", [(0, "serial"), (1, "serial"), (2, "serial"), (0, "parallel"),
                                         (1, "parallel"), (0, "pipelined"), (1, "pipelined")])
def test_fuse_matches_reference(seed: int, kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernel != "serial":  # the multi-threaded kernel on every batch, small ones included
        monkeypatch.setattr(voxelmap, "PARALLEL_MIN_POINTS", 0)
        monkeypatch.setattr(voxelmap, "_PIPE_BATCH", 100)  # several pipeline steps per call
    if kernel == "parallel":
        monkeypatch.setattr(voxelmap, "PARALLEL_MIN_THREADS", 2)
    if kernel == "pipelined" and numba.get_num_threads() < 2:
        pytest.skip("one numba thread: the serial kernel runs")
    rng = np.random.default_rng(seed)
    pts, ray, origins, sigma = _rays(rng, 3000)
    vs = 0.02
    vm = VoxelMap(vs, capacity=16)  # tiny: forces growth and rehashing on the way
    for part in np.array_split(np.arange(len(pts)), 7):
        vm.fuse(pts[part], ray[part], origins, sigma[part], 2.0, 0.1)
    ref = fuse_reference(pts, ray, origins, sigma, vs, 2.0, 0.1)
    assert vm.n == len(ref)
    idx = vm.voxel_indices()
    for v in range(vm.n):
        e = ref[tuple(int(c) for c in idx[v])]
        assert vm.hits[v] == e["hits"]
        assert vm.miss[v] == e["miss"]
        np.testing.assert_allclose(vm.s1[v], e["s1"], atol=1e-5)
        np.testing.assert_allclose(vm.s2[v], e["s2"], atol=1e-6)
        np.testing.assert_allclose(vm.sd[v], e["sd"], atol=1e-4)
        np.testing.assert_allclose(vm.ss[v], e["ss"], rtol=1e-4)
        np.testing.assert_allclose(vm.rs[v], e["rs"], rtol=1e-5)
    assert sum(e["miss"] for e in ref.values()) > 0  # carving was exercised


def test_lookup_matches_a_dictionary_of_the_voxel_indices() -> None:
    """VoxelMap.lookup (the private _find_many kernel) against a dict of voxel_indices: every voxel
    found at its insertion-order id, absent ones -1, the ids of hits first seen in input order."""
    rng = np.random.default_rng(7)
    pts, ray, origins, sigma = _rays(rng, 2000)
    vm = VoxelMap(0.02, capacity=16)
    vm.fuse(pts, ray, origins, sigma, 2.0, 0.0)
    idx = vm.voxel_indices()
    ref = {tuple(int(c) for c in v): i for i, v in enumerate(idx)}
    probe = np.concatenate([idx[rng.permutation(len(idx))], idx[:50] + np.array([0, 0, 10_000])])
    want = np.array([ref.get(tuple(int(c) for c in v), -1) for v in probe])
    np.testing.assert_array_equal(vm.lookup(probe), want)
    assert (want[-50:] == -1).all()
    hit_ids = vm.lookup(np.floor(pts / 0.02).astype(np.int64))
    _, first = np.unique(hit_ids, return_index=True)
    np.testing.assert_array_equal(hit_ids[np.sort(first)], np.arange(vm.n))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        vm.lookup(np.zeros((4, 2), np.int64))


@pytest.mark.parametrize("cell", [1, 2, 3])
def test_extract_matches_reference(cell: int) -> None:
    rng = np.random.default_rng(5)
    pts, ray, origins, sigma = _rays(rng, 4000)
    vs = 0.02
    vm = VoxelMap(vs)
    vm.fuse(pts, ray, origins, sigma, 2.0, 0.1)
    out, reason = vm.extract(cell, 3, 1.0)
    ref = extract_reference(fuse_reference(pts, ray, origins, sigma, vs, 2.0, 0.1), vs, cell, 3, 1.0)
    assert len(out["points"]) == len(ref) == int((reason == 0).sum())
    idx = vm.voxel_indices()[out["voxel"]]
    for k, p, n, h, inc, r in zip(idx, out["points"], out["normals"], out["hits"], out["incidence"], out["range"],
                                  strict=True):
        rp, rn, rh, rinc, rr = ref[tuple(int(c) for c in k)]
        np.testing.assert_allclose(p, rp, atol=1e-5)
        np.testing.assert_allclose(n, rn, atol=1e-3)
        assert h == rh
        assert abs(inc - rinc) < 0.2  # degrees (float32 sums; arccos is steep near 0)
        np.testing.assert_allclose(r, rr, rtol=1e-5)
    assert np.ptp(out["incidence"]) > 5  # the test's rays meet the surface at several angles


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_clean_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, b = 20, 64
    ranges = rng.uniform(2, 3, (p + 2, b)).astype(np.float32)
    ranges[rng.random((p + 2, b)) < 0.05] = np.nan
    ranges[rng.random((p + 2, b)) < 0.05] += np.float32(1.0)  # spikes
    ranges[0, :5] = 40.0
    intens = rng.uniform(0, 100, (p, b)).astype(np.float32)
    ang = np.linspace(-1, 1, b)
    dirs = np.column_stack([np.cos(ang), np.sin(ang), np.zeros(b)]).astype(np.float32)
    rmin = np.full(p, 2.05)
    rmax = rng.uniform(2.8, 3.5, p)
    got = georef.clean_block(ranges, intens, dirs, rmin, rmax, 10.0, 0.15, np.deg2rad(20))
    ref = georef.clean_reference(ranges, intens, dirs, rmin, rmax, 10.0, 0.15, np.deg2rad(20))
    np.testing.assert_array_equal(got, ref)
    assert set(np.unique(got)) >= {georef.OK, georef.NAN, georef.WEAK, georef.SPIKE_X}


def test_georef_matches_reference() -> None:
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    p, b = 30, 50
    ranges = rng.uniform(0.5, 10, (p, b)).astype(np.float32)
    keep = rng.random((p, b)) < 0.8
    d = rng.normal(size=(b, 3))
    dirs = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
    rot = Rotation.random(p, random_state=1).as_matrix()
    trans = rng.normal(0, 50, (p, 3))
    nav, att = rng.uniform(0, 0.1, p), rng.uniform(0, 0.01, p)
    a = georef.georef_block(ranges, keep, dirs, rot, trans, nav, att, 0.02, 0.02, ray0=7)
    r = georef.georef_reference(ranges, keep, dirs, rot, trans, nav, att, 0.02, 0.02, ray0=7)
    np.testing.assert_allclose(a[0], r[0], atol=1e-9)
    np.testing.assert_array_equal(a[1], r[1])
    np.testing.assert_allclose(a[2], r[2], rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_cfar_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = rng.exponential(1.0, (200, 40)).astype(np.float32)
    hit = rng.integers(20, 190, 40)
    img[hit, np.arange(40)] += rng.uniform(0, 40, 40).astype(np.float32)
    got = georef.cfar_first(img, 2, 8, 6.0, 1.0, 5)
    np.testing.assert_array_equal(got, georef.cfar_reference(img, 2, 8, 6.0, 1.0, 5))
    assert (got >= 0).sum() > 10


def test_wrappers_check_shapes() -> None:
    vm = VoxelMap(0.02)
    with pytest.raises(ValueError, match="points must be"):
        vm.fuse(np.zeros((3, 2)), np.zeros(3, np.int32), np.zeros((1, 3)), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="ray index"):
        vm.fuse(np.zeros((3, 3)), np.full(3, 4, np.int32), np.zeros((1, 3)), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="neighbour rows"):
        georef.clean_block(np.zeros((1, 4), np.float32), np.zeros((0, 4)), np.zeros((4, 3)),
                           np.zeros(0), np.zeros(0), 0, 0.1, 0)
    with pytest.raises(ValueError):
        VoxelMap(0.0)


def test_map_state_roundtrip() -> None:
    rng = np.random.default_rng(0)
    pts, ray, origins, sigma = _rays(rng, 2000)
    vm = VoxelMap(0.02)
    vm.fuse(pts, ray, origins, sigma)
    vm2 = VoxelMap.from_state(vm.state())
    a, _ = vm.extract()
    b, _ = vm2.extract()
    np.testing.assert_array_equal(a["points"], b["points"])


def test_smallest_eig_matches_numpy() -> None:
    from hullscan.core.voxelmap import _smallest_eig

    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.normal(size=(3, 3))
        c = a @ a.T * rng.uniform(1e-6, 1.0)
        w, v = np.linalg.eigh(c)
        lam, nx, ny, nz = _smallest_eig(c[0, 0], c[0, 1], c[0, 2], c[1, 1], c[1, 2], c[2, 2])
        assert abs(lam - w[0]) < 1e-9 * max(1.0, w[2])
        if w[1] - w[0] > 1e-3 * w[2]:  # eigenvector defined
            assert abs(abs(np.dot([nx, ny, nz], v[:, 0])) - 1) < 1e-6


def _fuse_all(pts: np.ndarray, ray: np.ndarray, origins: np.ndarray, sigma: np.ndarray,
              parts: int, carve: float) -> VoxelMap:
    vm = VoxelMap(0.02, capacity=16)
    for part in np.array_split(np.arange(len(pts)), parts):
        vm.fuse(pts[part], ray[part], origins, sigma[part], 2.0, carve)
    return vm


@pytest.mark.parametrize("carve", [0.1, 0.0])
def test_parallel_fuse_is_bit_identical_and_deterministic(carve: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Serial vs multi-threaded kernel, 1 vs all threads, any batching, repeated runs: same bits."""
    import numba

    rng = np.random.default_rng(11)
    pts, ray, origins, sigma = _rays(rng, 20000, noise=0.02)
    serial = _fuse_all(pts, ray, origins, sigma, 1, carve)
    monkeypatch.setattr(voxelmap, "PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(voxelmap, "PARALLEL_MIN_THREADS", 2)
    monkeypatch.setattr(voxelmap, "_PAR_BATCH", 1500)  # several batches per call
    nt = numba.get_num_threads()
    runs = []
    try:
        for threads, parts in ((nt, 1), (nt, 1), (nt, 9), (1, 3)):
            numba.set_num_threads(threads)
            runs.append(_fuse_all(pts, ray, origins, sigma, parts, carve))
    finally:
        numba.set_num_threads(nt)
    if carve > 0:
        assert serial.miss.sum() > 0
    for vm in runs:
        assert vm.n == serial.n
        np.testing.assert_array_equal(vm.vkey[: vm.n], serial.vkey[: serial.n])
        np.testing.assert_array_equal(vm.acc[: vm.n], serial.acc[: serial.n])


@pytest.mark.parametrize("kernel", ["parallel", "pipelined"])
def test_multithreaded_fuse_reports_bad_point_after_fusing_the_ones_before(
        kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voxelmap, "PARALLEL_MIN_POINTS", 0)
    if kernel == "parallel":
        monkeypatch.setattr(voxelmap, "PARALLEL_MIN_THREADS", 2)
        monkeypatch.setattr(voxelmap, "_PAR_BATCH", 1024)
    else:
        monkeypatch.setattr(voxelmap, "_PIPE_BATCH", 1024)
        monkeypatch.setattr(voxelmap, "_PIPE_CHUNK", 300)
        if numba.get_num_threads() < 2:
            pytest.skip("one numba thread: the serial kernel runs")
    rng = np.random.default_rng(3)
    pts, ray, origins, sigma = _rays(rng, 5000)
    pts[2500] = np.nan
    vm = VoxelMap(0.02)
    with pytest.raises(ValueError, match="point 2500"):
        vm.fuse(pts, ray, origins, sigma, 2.0, 0.1)
    ref = VoxelMap(0.02)
    ref.fuse(pts[:2500], ray[:2500], origins, sigma[:2500], 2.0, 0.1)
    assert vm.n == ref.n
    np.testing.assert_array_equal(vm.acc[: vm.n], ref.acc[: ref.n])


@pytest.mark.parametrize("carve", [0.1, 0.3])
def test_pipelined_fuse_is_bit_identical(carve: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two-thread pipeline (2 and 3 numba threads) vs serial kernel (1 thread): same table, ids, sums,
    occupancy, whatever the batching and the order in which the threads take the tasks."""
    rng = np.random.default_rng(12)
    pts, ray, origins, sigma = _rays(rng, 20000, noise=0.02)
    monkeypatch.setattr(voxelmap, "PARALLEL_MIN_POINTS", 0)
    nt = numba.get_num_threads()
    runs = []
    try:
        for threads, batch, chunk, depth, lists in ((1, 1024, 256, 3, 8), (2, 1024, 256, 3, 8), (2, 1500, 100, 1, 1),
                                                    (2, 700, 1000, 2, 3), (2, 1 << 20, 4096, 3, 8),
                                                    (3, 2000, 333, 3, 8)):
            if threads > numba.config.NUMBA_NUM_THREADS:
                continue
            numba.set_num_threads(threads)
            for name, value in (("_PIPE_BATCH", batch), ("_PIPE_CHUNK", chunk), ("_PIPE_DEPTH", depth),
                                ("_PIPE_LISTS", lists)):
                monkeypatch.setattr(voxelmap, name, value)
            runs.append(_fuse_all(pts, ray, origins, sigma, 3, carve))
    finally:
        numba.set_num_threads(nt)
    serial = runs[0]  # one thread: the serial kernel
    assert serial.miss.sum() > 0 and len(runs) >= 2
    for vm in runs[1:]:
        assert vm.n == serial.n
        np.testing.assert_array_equal(vm.table, serial.table)
        np.testing.assert_array_equal(vm.vkey, serial.vkey)
        np.testing.assert_array_equal(vm.acc, serial.acc)
        np.testing.assert_array_equal(vm.occ, serial.occ)
