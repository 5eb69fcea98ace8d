"""The live mapper's cheap paths: the display cloud gathered from the surface cache, and
incremental checkpoints (base + delta log), against the full computations they stand for."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.display import (
    cell_hashes,
    display_cutoff,
    surface_below,
    surface_below_reference,
)
from hullscan.core.voxelmap import SurfaceCache, VoxelMap
from hullscan.recon import ReconConfig, Reconstructor
from hullscan.recon.display import display_cloud
from tests.hullscan.recon.synth import PATCH_ORIGINS, PATCH_VS, fuse_patch, survey

VS = PATCH_VS
ORIGINS = PATCH_ORIGINS
_fuse = fuse_patch


def _same_cloud(a: object, b: object) -> None:
    for k in ("points", "normals", "confidence", "hits", "sigma"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_surface_below_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 50_000
    reason = rng.integers(0, 4, n).astype(np.int8)
    hashes = cell_hashes(rng.uniform(-50, 50, (n, 3)), 0.02)
    for cut in (np.uint64(0), display_cutoff(n, 5_000), display_cutoff(n, 40_000), np.uint64(2**64 - 1)):
        np.testing.assert_array_equal(surface_below(reason, hashes, cut), surface_below_reference(reason, hashes, cut))
    with pytest.raises(ValueError, match="alike"):
        surface_below(reason, hashes[:-1], np.uint64(5))
    with pytest.raises(ValueError, match="int8"):
        surface_below(reason.astype(np.int32), hashes, np.uint64(5))


@pytest.mark.parametrize("cap", [0, 300, 2_000, 10**9])
def test_cache_display_equals_display_cloud_of_the_full_cloud(cap: int) -> None:
    rng = np.random.default_rng(3)
    vm = VoxelMap(VS)
    cache, full = SurfaceCache(), SurfaceCache()
    for step in range(6):  # the map grows and changes between calls; hashes follow the changes
        _fuse(vm, rng, 0.3 * step, 0.3 * step + 0.8, 6000)
        out, total = cache.display(vm, cap, VS)
        ref, _ = full.update(vm)
        assert total == ref["points"].shape[0] > 0
        from hullscan.model import HullCloud

        whole = HullCloud(ref["points"], ref["normals"], ref["confidence"], ref["hits"], ref["sigma"])
        _same_cloud(HullCloud(out["points"], out["normals"], out["confidence"], out["hits"], out["sigma"]),
                    display_cloud(whole, cap, VS))
        assert out["points"].shape[0] <= cap
    # Another grid recomputes the hashes.
    out, total = cache.display(vm, 500, 0.05)
    whole = HullCloud(*(full.update(vm)[0][k] for k in ("points", "normals", "confidence", "hits", "sigma")))
    np.testing.assert_array_equal(out["points"], display_cloud(whole, 500, 0.05).points)


def test_reconstructor_display_cloud_equals_thinned_cloud() -> None:
    s = survey(n_pings=120, beams=64, lanes=(0.0, 1.0))
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    for i, it in enumerate(s.items):
        rec.add(it)
        if i % 61 == 60:
            shown, total = rec.display_cloud(700)
            cloud = rec.cloud()
            assert total == len(cloud)
            _same_cloud(shown, display_cloud(cloud, 700, rec.config.voxel_size))
    assert total > 700 >= len(shown) > 0


# --------------------------------------------------------------------------- incremental checkpoints


def test_changed_since_matches_reference() -> None:
    from hullscan.recon.checkpoint import changed_since, changed_since_reference

    rng = np.random.default_rng(4)
    n_old, n = 5_000, 6_000
    acc = rng.integers(0, 50, (n, 16)).astype(np.float32)
    acc[rng.choice(n_old, 20, replace=False), rng.integers(0, 2, 20)] = 2.0**24  # saturated counts
    snap = np.zeros((n + 10, 2), np.float32)
    snap[:n_old] = acc[:n_old, :2]
    bump = rng.choice(n_old, 300, replace=False)
    acc[bump, rng.integers(0, 2, 300)] += 1
    want = changed_since_reference(acc, snap, n_old, n)
    got = changed_since(acc, snap, n_old, n)
    np.testing.assert_array_equal(got, want)
    assert 300 + 1_000 <= len(got) <= 320 + 1_000
    np.testing.assert_array_equal(snap[:n], acc[:n, :2])  # brought up to date
    with pytest.raises(ValueError, match="snap"):
        changed_since(acc, np.zeros((10, 2), np.float32), 0, n)


def _state(rec: Reconstructor) -> dict[str, object]:
    t, a = rec.nav.arrays()
    seen = None if rec.visits is None else (rec.visits.t0_ns, *rec.visits.at(np.arange(rec.map.n, dtype=np.int64)))
    return {"map": rec.map.state(), "nav_t": t.copy(), "nav_a": a.copy(), "stats": dict(rec.stats),
            "drops": dict(rec.drops.counts), "seen": seen}


def _assert_restores(path: object, want: dict[str, object]) -> Reconstructor:
    back = Reconstructor(ReconConfig(chunk_pings=1))
    back.restore(path)  # type: ignore[arg-type]
    got = _state(back)
    for k in ("vkey", "acc"):
        np.testing.assert_array_equal(got["map"][k], want["map"][k], err_msg=k)  # type: ignore[index]
        assert got["map"][k].dtype == want["map"][k].dtype  # type: ignore[index]
    np.testing.assert_array_equal(got["nav_t"], want["nav_t"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(got["nav_a"], want["nav_a"])  # type: ignore[arg-type]
    assert got["stats"] == want["stats"] and got["drops"] == want["drops"]
    # When each voxel was seen, bit for bit, with its origin (and the map's range weighting).
    assert got["map"]["weight_range_m"] == want["map"]["weight_range_m"]  # type: ignore[index]
    assert (got["seen"] is None) == (want["seen"] is None)
    if want["seen"] is not None:
        assert got["seen"][0] == want["seen"][0]  # type: ignore[index]
        for i in (1, 2):
            np.testing.assert_array_equal(got["seen"][i], want["seen"][i])  # type: ignore[index]
    return back


def _items() -> list[object]:
    return survey(n_pings=200, beams=64, lanes=(0.0, 1.0)).items


def test_incremental_checkpoints_restore_bit_for_bit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.recon.checkpoint import delta_path

    items = _items()
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    path = tmp_path / "m.ckpt"
    kinds, sizes = [], []
    i = 0
    while i < len(items):
        rec.add(items[i])
        i += 1
        if i % 60 == 0:
            write = rec.checkpoint_incremental(path)
            want = _state(rec)
            for it in items[i:i + 7]:  # the map goes on changing before the write
                rec.add(it)
            i += 7
            info = write()
            kinds.append(info["kind"])
            sizes.append(info["bytes"])
            _assert_restores(path, want)
    assert kinds[0] == "base" and set(kinds[1:]) == {"delta"} and len(kinds) >= 5
    assert max(sizes[1:]) < 0.5 * rec.map.n * 64  # deltas hold the changes only
    assert delta_path(path).stat().st_size == sum(sizes[1:])
    # The full cloud of the restored map is the live one's, and it continues where it stopped.
    # A navigation sample with the stamp of the last one replaces it: the log carries that row again.
    from hullscan.model import NavSample

    rec.checkpoint_incremental(path)()
    t, a = rec.nav.arrays()
    rec.add(NavSample(int(t[-1]), a[-1, :3] + 0.01, a[-1, 3:7]))
    rec.checkpoint_incremental(path)()
    back = _assert_restores(path, _state(rec))
    np.testing.assert_array_equal(back.cloud().points, rec.cloud().points)
    assert back.restored["deltas"] == len(kinds) + 1


def test_kill_between_and_during_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A writer killed mid-append leaves a torn record: restore gives the checkpoint before it,
    and the restarted process appends over the torn bytes."""
    from hullscan.recon.checkpoint import delta_path

    items = _items()
    path = tmp_path / "m.ckpt"
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    states = []
    for it in items[:300]:
        rec.add(it)
    for k in range(3):
        for it in items[300 + 40 * k: 340 + 40 * k]:
            rec.add(it)
        rec.checkpoint_incremental(path)()
        states.append(_state(rec))
    log = delta_path(path)
    good = log.read_bytes()
    # Killed while appending the next record: only part of it reached the disk.
    for it in items[420:460]:
        rec.add(it)
    rec.checkpoint_incremental(path)()
    torn = log.read_bytes()
    for cut in (len(good) + 7, len(good) + 40, len(torn) - 1):
        log.write_bytes(torn[:cut])
        _assert_restores(path, states[-1])
    # Corrupt payload byte: the record fails its CRC.
    bad = bytearray(torn)
    bad[-5] ^= 0xFF
    log.write_bytes(bytes(bad))
    back = _assert_restores(path, states[-1])
    assert back.restored["ignored_bytes"] == len(torn) - len(good)
    # The restarted process goes on: its next record replaces the torn one.
    for it in items[420:]:
        back.add(it)
    back.checkpoint_incremental(path)()
    assert back.restored["deltas"] == 2 and log.stat().st_size < len(torn) + len(torn) - len(good)
    _assert_restores(path, _state(back))


def test_compaction_and_crash_before_the_log_is_emptied(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.recon.checkpoint import delta_path

    items = _items()
    path = tmp_path / "m.ckpt"
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    compacted = 0
    for i, it in enumerate(items):
        rec.add(it)
        if i % 50 == 49:
            w = rec.checkpoint_incremental(path, compact_ratio=0.05)
            assert rec._ckpt is not None
            rec._ckpt.compact_min_bytes = 0
            before = delta_path(path).read_bytes() if delta_path(path).exists() else b""
            info = w()
            if "compacted" in info:
                compacted += 1
                assert not delta_path(path).exists()
                # Killed after the new base replaced the old one, before the log was emptied:
                # the old log's records name the old base and are ignored.
                delta_path(path).write_bytes(before + b"partial")
                _assert_restores(path, _state(rec))
                delta_path(path).unlink()
            _assert_restores(path, _state(rec))
    assert compacted >= 2


def test_writers_out_of_order_or_failed_fall_back_to_a_new_base(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.errors import HullscanError

    items = _items()
    path = tmp_path / "m.ckpt"
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    for it in items[:200]:
        rec.add(it)
    rec.checkpoint_incremental(path)()
    for it in items[200:260]:
        rec.add(it)
    w1 = rec.checkpoint_incremental(path)
    for it in items[260:320]:
        rec.add(it)
    w2 = rec.checkpoint_incremental(path)
    with pytest.raises(HullscanError, match="order"):
        w2()
    with pytest.raises(HullscanError, match=r"order|earlier"):
        w1()  # w2 failed: nothing more is appended to that log
    for it in items[320:]:
        rec.add(it)
    info = rec.checkpoint_incremental(path)()
    assert info["kind"] == "base"
    _assert_restores(path, _state(rec))


def test_legacy_checkpoint_and_full_checkpoint_drop_the_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.recon.checkpoint import delta_path

    items = _items()
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    for it in items[:300]:
        rec.add(it)
    path = tmp_path / "m.ckpt"
    rec.checkpoint_incremental(path)()
    for it in items[300:360]:
        rec.add(it)
    rec.checkpoint_incremental(path)()
    assert delta_path(path).exists()
    rec.checkpoint(path)  # a full checkpoint: no log
    assert not delta_path(path).exists()
    back = _assert_restores(path, _state(rec))
    for it in items[360:]:
        back.add(it)
    assert back.checkpoint_incremental(path)()["kind"] == "delta"  # the restored base is followed
    _assert_restores(path, _state(back))


# --------------------------------------------------------------------------- packed message rows


@pytest.mark.parametrize("seed", [0, 1])
def test_pack_rows_matches_reference(seed: int) -> None:
    from hullscan.core.display import (
        ROW_BYTES,
        TIMED_ROW_BYTES,
        RowTimes,
        pack_rows,
        pack_rows_reference,
    )

    rng = np.random.default_rng(seed)
    n = 20_000
    pts = rng.uniform(-500, 500, (n, 3))
    nrm = rng.normal(size=(n, 3)).astype(np.float32)
    conf, sig = rng.random(n).astype(np.float32), rng.random(n).astype(np.float32)
    hits = rng.integers(0, 2**31 - 1, n).astype(np.int32)
    for ids in (np.sort(rng.choice(n, 5_000, replace=False)), np.arange(n), np.zeros(0, np.int64)):
        ids = ids.astype(np.int64)
        out = np.empty(ids.shape[0] * ROW_BYTES, np.uint8)
        pack_rows(ids, pts, nrm, conf, hits, sig, out)
        assert out.tobytes() == pack_rows_reference(ids, pts, nrm, conf, hits, sig)
    # With when each voxel was seen (ages relative to a stamp; never seen: NaN).
    t0, stamp = 1_714_550_400_000_000_000, 1_714_550_400_000_000_000 + 95 * 10**9
    for ids in (np.sort(rng.choice(n, 5_000, replace=False)), np.zeros(0, np.int64)):
        ids = ids.astype(np.int64)
        first = rng.uniform(0, 90, ids.shape[0]).astype(np.float32)
        first[::7] = np.inf
        times = RowTimes(first, (first + 1).astype(np.float32), t0, stamp)
        out = np.empty(ids.shape[0] * TIMED_ROW_BYTES, np.uint8)
        pack_rows(ids, pts, nrm, conf, hits, sig, out, times)
        assert out.tobytes() == pack_rows_reference(ids, pts, nrm, conf, hits, sig, times)
        seen = out.view("<f4").reshape(-1, 12)[:, 10]
        assert np.isnan(seen[::7]).all() and (np.nanmax(seen, initial=-5.0) <= -5.0)
    with pytest.raises(ValueError, match="one first and last time per row"):
        two = np.zeros(2, np.float32)
        pack_rows(np.arange(3), pts, nrm, conf, hits, sig, np.empty(3 * TIMED_ROW_BYTES, np.uint8),
                  RowTimes(two, two, t0, stamp))
    with pytest.raises(ValueError, match="bytes"):
        pack_rows(ids, pts, nrm, conf, hits, sig, np.empty(7, np.uint8))
    with pytest.raises(ValueError, match="int32 hits"):
        pack_rows(np.arange(3), pts, nrm, conf, hits.astype(np.int64), sig, np.empty(3 * ROW_BYTES, np.uint8))
    with pytest.raises(ValueError, match="outside"):
        pack_rows(np.array([n]), pts, nrm, conf, hits, sig, np.empty(ROW_BYTES, np.uint8))
