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


@pytest.mark.parametrize("seed,kernel,r0", [(0, "serial", 0.0), (1, "serial", 1.5), (2, "serial", 0.0),
                                            (0, "parallel", 1.5), (1, "parallel", 0.0), (0, "pipelined", 0.0),
                                            (1, "pipelined", 1.5)])
def test_fuse_matches_reference(seed: int, kernel: str, r0: float, monkeypatch: pytest.MonkeyPatch) -> None:
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
    vm = VoxelMap(vs, capacity=16, weight_range_m=r0)  # tiny: forces growth and rehashing on the way
    for part in np.array_split(np.arange(len(pts)), 7):
        vm.fuse(pts[part], ray[part], origins, sigma[part], 2.0, 0.1)
    ref = fuse_reference(pts, ray, origins, sigma, vs, 2.0, 0.1, r0)
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
        np.testing.assert_allclose(vm.weights[v], e["w"], rtol=1e-5)
    assert sum(e["miss"] for e in ref.values()) > 0  # carving was exercised
    w = np.array([e["w"] / e["hits"] for e in ref.values()])
    assert (np.ptp(w) > 0.1) if r0 > 0 else np.all(w == 1.0)  # the weights vary where they are on


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


@pytest.mark.parametrize("cell,r0", [(1, 0.0), (2, 0.0), (3, 0.0), (2, 1.5), (3, 1.5)])
def test_extract_matches_reference(cell: int, r0: float) -> None:
    rng = np.random.default_rng(5)
    pts, ray, origins, sigma = _rays(rng, 4000)
    vs = 0.02
    vm = VoxelMap(vs, weight_range_m=r0)
    vm.fuse(pts, ray, origins, sigma, 2.0, 0.1)
    out, reason = vm.extract(cell, 3, 1.0)
    ref = extract_reference(fuse_reference(pts, ray, origins, sigma, vs, 2.0, 0.1, r0), vs, cell, 3, 1.0)
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


@pytest.mark.parametrize("r0", [0.0, 2.7])
def test_map_state_roundtrip(r0: float) -> None:
    rng = np.random.default_rng(0)
    pts, ray, origins, sigma = _rays(rng, 2000)
    vm = VoxelMap(0.02, weight_range_m=r0)
    vm.fuse(pts, ray, origins, sigma)
    vm2 = VoxelMap.from_state(vm.state())
    assert vm2.weight_range_m == r0
    a, _ = vm.extract()
    b, _ = vm2.extract()
    np.testing.assert_array_equal(a["points"], b["points"])


def test_a_map_saved_before_weights_reads_as_equal_weights() -> None:
    """A checkpoint of 16-value records (before the weight sum was kept) extracts as it did then."""
    rng = np.random.default_rng(1)
    pts, ray, origins, sigma = _rays(rng, 2000)
    vm = VoxelMap(0.02)
    vm.fuse(pts, ray, origins, sigma)
    old = {"vkey": vm.vkey[: vm.n].copy(), "acc": vm.acc[: vm.n, :16].copy(), "voxel_size": np.array(0.02)}
    vm2 = VoxelMap.from_state(old)
    np.testing.assert_array_equal(vm2.weights, vm2.hits)
    np.testing.assert_array_equal(vm.extract()[0]["points"], vm2.extract()[0]["points"])
    with pytest.raises(ValueError, match="records"):
        VoxelMap.from_state({**old, "acc": old["acc"][:, :9]})
    with pytest.raises(ValueError, match="weight_range_m"):
        VoxelMap(0.02, weight_range_m=-1.0)


def test_a_far_return_pulls_a_shared_voxel_by_its_footprint_weight() -> None:
    """Near and far returns in one voxel: the position is their weighted mean, 1 / (1 + (r / r0)^2),
    so a 15 m return proud of the plating moves it far less than a 3 m one would."""
    near = np.array([[0.001, 0.001, 0.001]])  # seen from 3 m
    far = np.array([[0.001, 0.001, 0.019]])  # seen from 15 m, 18 mm proud
    origins = np.array([[0.0, 0.0, -3.0], [0.0, 0.0, -15.0]])
    pts, ray = np.vstack([near, far]), np.array([0, 1], np.int32)
    sig = np.full(2, 0.02, np.float32)
    alike = VoxelMap(0.02)
    alike.fuse(pts, ray, origins, sig)
    weighted = VoxelMap(0.02, weight_range_m=2.7)
    weighted.fuse(pts, ray, origins, sig)
    r_near, r_far = np.linalg.norm(near[0] - origins[0]), np.linalg.norm(far[0] - origins[1])
    w_near, w_far = 1 / (1 + (r_near / 2.7) ** 2), 1 / (1 + (r_far / 2.7) ** 2)
    centre = 0.01
    assert alike.s1[0, 2] / alike.weights[0] + centre == pytest.approx(0.010, abs=1e-6)
    want = (w_near * 0.001 + w_far * 0.019) / (w_near + w_far)
    assert weighted.s1[0, 2] / weighted.weights[0] + centre == pytest.approx(want, abs=1e-6)
    assert want < 0.003  # the near return holds the voxel
    assert weighted.hits[0] == alike.hits[0] == 2  # counts stay counts
    assert weighted.rs[0] / weighted.weights[0] == pytest.approx(
        (w_near * r_near + w_far * r_far) / (w_near + w_far), rel=1e-5)


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
