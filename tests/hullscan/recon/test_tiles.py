"""A whole ship in bounded memory (recon.tiling): the tiled path gives the in-memory path's cloud bit
for bit, in the same order, with and without drift correction; the spill stores read back exactly."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from hullscan.cli import main
from hullscan.compare.navref import load_drift_reference
from hullscan.errors import HullscanError
from hullscan.model import HullCloud
from hullscan.recon.config import DriftConfig, ReconConfig, TilingConfig
from hullscan.recon.drift import ReturnsInMemory, ReturnsSpilled, dense_voxels, dense_voxels_chunked
from hullscan.recon.pipeline import Reconstructor
from hullscan.recon.tiles import Block, BlockStore
from tests.hullscan.recon.synth import Faults, survey
from tests.hullscan.recon.test_drift_reference import _cylinder_mesh, _prior, _with_heading_bias

FIELDS = ("points", "normals", "confidence", "hits", "sigma", "incidence_deg", "range_m", "seen_first_s", "seen_last_s")


def _run(items: list[object], cfg: ReconConfig, reference: object = None):  # type: ignore[no-untyped-def]
    rec = Reconstructor(cfg, drift_reference=reference)  # type: ignore[arg-type]
    rec.add_all(items)
    return rec.finish()


def _assert_same(a: HullCloud, b: HullCloud) -> None:
    assert len(a) == len(b) > 1000
    assert a.seen_t0_ns == b.seen_t0_ns is not None
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f


@pytest.mark.parametrize("carve", [True, False])
def test_tiled_cloud_is_the_in_memory_cloud_bit_for_bit(carve: bool) -> None:
    # Tiles of 0.4 m on a 5 m cylinder: a tile face lies at z = -5.2, between the hull's bottom (-5)
    # and the far end of its returns' carved bands; fish 0.15 m in front of it are carved by the
    # bands of other pings, from returns whose hit lies in the next tile up.
    s = survey(n_pings=160, beams=64, lanes=(-0.8, 0.0, 0.8), faults=Faults(fish_every=3, fish_offset=0.15))
    mem = _run(s.items, ReconConfig(carve=carve))
    tiled = _run(s.items, ReconConfig(carve=carve, tiling=TilingConfig(enabled=True, tile_m=0.4)))
    _assert_same(mem.cloud, tiled.cloud)
    assert tiled.stats["tiles"] > 50
    for k in ("voxels", "points_fused", "pings_fused", "voxels_free_space", "voxels_sparse", "voxels_off_surface"):
        assert tiled.stats[k] == mem.stats[k], k
    assert tiled.drops.as_dict() == mem.drops.as_dict()
    # One tile's map is a fraction of the whole map.
    assert tiled.stats["map_bytes"] < mem.stats["map_bytes"]


def test_tiled_cloud_with_drift_correction_between_submaps() -> None:
    s = survey(n_pings=400, beams=96, lanes=(-1.5, -0.75, 0.0, 0.75, 1.5), faults=Faults(drift_per_m=0.01))
    drift = DriftConfig(enabled=True, submap_length_m=5.0)
    mem = _run(s.items, ReconConfig(drift=drift))
    tiled = _run(s.items, ReconConfig(drift=drift, tiling=TilingConfig(enabled=True, tile_m=1.5)))
    assert mem.stats["drift_aligned"] >= 1  # the correction did something, so the nav differs from the raw one
    _assert_same(mem.cloud, tiled.cloud)
    assert {k: v for k, v in mem.stats.items() if k.startswith("drift")} == \
        {k: v for k, v in tiled.stats.items() if k.startswith("drift")}


def test_tiled_cloud_with_drift_correction_against_a_registered_reference(tmp_path: Path) -> None:
    s = survey(n_pings=240, beams=96, lanes=(-1.0, 0.0, 1.0), faults=Faults(drift_per_m=0.01))
    items = _with_heading_bias(s.items, 0.5)
    mesh = _cylinder_mesh(tmp_path / "hull.ply")
    prior = _prior(tmp_path / "prior.json")
    # A prior with an uncertainty: the survey is registered first (the dense voxels of the whole
    # survey and of its first quarter, which the spilled path sums chunk by chunk).
    data = json.loads(prior.read_text())
    data["sigma"] = {"along_m": 0.3, "across_m": 0.2, "vertical_m": 0.1, "heading_deg": 1.0}
    prior.write_text(json.dumps(data))
    drift = DriftConfig(enabled=True, submap_length_m=2.5, reference=str(mesh), hull_to_nav=str(prior))
    mem = _run(items, ReconConfig(drift=drift), load_drift_reference(drift))
    tiled = _run(items, ReconConfig(drift=drift, tiling=TilingConfig(enabled=True, tile_m=1.5)),
                 load_drift_reference(drift))
    assert mem.registration is not None and tiled.registration is not None
    _assert_same(mem.cloud, tiled.cloud)
    np.testing.assert_array_equal(mem.hull_to_nav.as_matrix(), tiled.hull_to_nav.as_matrix())  # type: ignore[union-attr]
    assert mem.along is not None and tiled.along is not None
    np.testing.assert_array_equal(mem.along.sd_m(), tiled.along.sd_m())


def test_dense_voxels_chunked_is_dense_voxels_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.normal(0, 2, (20000, 3)), rng.normal(50, 0.3, (5000, 3))])
    cuts = [0, 7, 4000, 4001, 13000, 25000]
    chunks = [pts[a:b] for a, b in itertools.pairwise(cuts)]
    for size in (0.25, 0.07):
        want = dense_voxels(pts, size)
        got = dense_voxels_chunked(chunks, size)
        assert want.shape == got.shape and len(want) > 100
        assert np.array_equal(want, got)


def test_spilled_returns_read_back_as_the_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    # Two sonars' blocks interleaved: submap ids are not monotone over the input.
    subs = [np.repeat([0, 1], [30, 20]), np.repeat([0], 15), np.repeat([1, 2], [5, 40]), np.repeat([1, 2], [3, 9])]
    mem_l: list[tuple[np.ndarray, ...]] = []
    spilled = ReturnsSpilled(tmp_path)
    for sub in subs:
        p = rng.normal(0, 1, (len(sub), 3))
        st = rng.integers(0, 10**12, len(sub))
        tr = rng.uniform(0, 30, len(sub))
        spilled.append(p, sub, st, tr)
        mem_l.append((p, sub, st, tr))
    mem = ReturnsInMemory(*(np.concatenate([m[i] for m in mem_l]) for i in range(4)))
    assert len(spilled) == len(mem) == 122
    got = list(spilled.submaps())
    want = list(mem.submaps())
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            assert np.array_equal(a, b)
    assert np.array_equal(spilled.dense(0.5, head=60), mem.dense(0.5, head=60))
    spilled.close()
    assert not (tmp_path / "returns.bin").exists()


def test_block_store_round_trip_and_cleanup(tmp_path: Path) -> None:
    dirs = np.eye(3, dtype=np.float32)
    blocks = [Block(np.arange(k + 1, dtype=np.int64), "sonar", dirs, np.full((k + 1, 3), k, np.float32),
                    np.arange(3 * (k + 1)).reshape(k + 1, 3) % 2 == 0, 0.01 * k) for k in range(4)]
    with BlockStore(tmp_path / "spill") as store:
        for b in blocks:
            store.append(b)
        assert len(store) == 4 and store.nbytes == sum(b.ranges.nbytes + b.keep.nbytes for b in blocks)
        for a, b in zip(store, blocks, strict=True):
            assert np.array_equal(a.ranges, b.ranges) and np.array_equal(a.keep, b.keep)
            assert np.array_equal(a.stamps, b.stamps) and a.dirs is dirs and a.footprint == b.footprint
    assert not (tmp_path / "spill" / "blocks.bin").exists()
    with BlockStore() as own:
        folder = own.dir
        assert folder.is_dir()
    assert not folder.exists()


def test_tiled_reconstruction_has_no_live_cloud_and_a_bad_spill_folder_is_one_line(tmp_path: Path) -> None:
    rec = Reconstructor(ReconConfig(tiling=TilingConfig(enabled=True)))
    with pytest.raises(HullscanError, match=r"recon\.tiling"):
        rec.cloud()
    rec.finish()
    (tmp_path / "file").write_text("x")
    with pytest.raises(HullscanError, match="spill_dir"):
        Reconstructor(ReconConfig(tiling=TilingConfig(enabled=True, spill_dir=str(tmp_path / "file" / "sub"))))


def test_reconstruct_command_with_tiles_writes_the_same_cloud(tmp_path: Path) -> None:
    from hullscan.bag import BagWriter
    from hullscan.cloud_io import load_cloud

    s = survey(n_pings=120, beams=64, lanes=(0.0, 1.0))
    bag = tmp_path / "bag"
    with BagWriter(bag) as w:
        for it in s.items:
            w.write(it)
    assert main(["reconstruct", str(bag), "--out", str(tmp_path / "mem"), "--no-progress"]) == 0
    assert main(["reconstruct", str(bag), "--out", str(tmp_path / "tiled"), "--no-progress", "--tiles", "0.8"]) == 0
    _assert_same(load_cloud(tmp_path / "mem" / "cloud.ply"), load_cloud(tmp_path / "tiled" / "cloud.ply"))
    summary = json.loads((tmp_path / "tiled" / "summary.json").read_text())
    assert summary["stats"]["tiles"] > 1
    assert "tiling:" in (tmp_path / "tiled" / "config.yaml").read_text()


@pytest.mark.parametrize("submap_m", [5.0, 1000.0])
def test_an_offline_reconstruction_fuses_once_and_gives_the_live_cloud(submap_m: float) -> None:
    """Offline (a recorded bag) with drift correction on, the returns are fused once, at the end:
    the same cloud and statistics as fusing them live and again once corrected; also where the
    correction has nothing to align (one submap longer than the survey: the recorded navigation)."""
    s = survey(n_pings=400, beams=96, lanes=(-1.5, -0.75, 0.0, 0.75, 1.5), faults=Faults(drift_per_m=0.01))
    cfg = ReconConfig(drift=DriftConfig(enabled=True, submap_length_m=submap_m))
    live = _run(s.items, cfg)
    rec = Reconstructor(cfg, offline=True)
    assert rec.deferred
    rec.add_all(s.items)
    with pytest.raises(HullscanError, match="fuses its map in finish"):
        rec.cloud()
    offline = rec.finish()
    assert (live.stats["drift_aligned"] >= 1) == (submap_m < 100)
    _assert_same(live.cloud, offline.cloud)
    for k in ("voxels", "points_fused", "pings_fused", "voxels_free_space", "voxels_sparse", "voxels_off_surface"):
        assert offline.stats[k] == live.stats[k], k
    assert offline.drops.as_dict() == live.drops.as_dict()
    assert not Reconstructor(ReconConfig(), offline=True).deferred  # nothing to defer without drift correction


def test_unique_rows_is_numpy_unique_by_rows() -> None:
    from hullscan.recon.tiles import _unique_rows

    rng = np.random.default_rng(11)
    small = rng.integers(-40, 40, (5000, 6))
    np.testing.assert_array_equal(_unique_rows(small), np.unique(small, axis=0))
    wide = small.copy()
    wide[0, 2] = 1 << 20  # beyond the packed key's span: numpy's own row-wise unique
    np.testing.assert_array_equal(_unique_rows(wide), np.unique(wide, axis=0))
    assert _unique_rows(np.zeros((0, 6), np.int64)).shape == (0, 6)
