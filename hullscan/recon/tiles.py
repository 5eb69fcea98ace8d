"""A whole ship in bounded memory: kept returns spilled to disk, then fused and extracted tile by tile.

The in-memory path fuses every return into one voxel map, whose size follows the hull (about 10 GB
for the wetted hull of a 250 m ship at 2 cm). Here the survey's blocks of kept returns go to a
spill file as they arrive (:class:`BlockStore`, 5 bytes a beam); at the end the nav frame is cut
into cubes of ``tile_m`` and each is fused on its own map, extracted, and freed (:func:`fuse_tiles`).
Peak memory is then one tile's map, the blocks' small metadata, and the output cloud.

The cloud is **the in-memory path's, bit for bit and in the same order** (tested), because:

- a return touches only the voxel it hits and the voxels of its carved band (``carve_length_m``
  before the hit), so a voxel's record depends only on the returns whose hit or band reaches it,
  in input order. A tile's map is fed, in input order, every return whose band's bounding box
  reaches the tile grown by one extraction cell (its halo), so every voxel there gets the same
  records in the same order, and is created in the same relative order;
- extraction fits one plane per cell to the sums of the 3 x 3 x 3 cells around it, so a cell of
  the tile needs complete cells one cell around it: the halo. Tiles are whole cells, on the
  global cell lattice, and each cell belongs to exactly one tile;
- the in-memory map numbers voxels in the order of their first hit, and extraction writes points
  in voxel order. Each tile's points carry the input index of their voxel's first hit, and the
  merged cloud is sorted by it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.core.visits import VoxelVisits
from hullscan.core.voxelmap import VoxelMap
from hullscan.errors import HullscanError

log = logging.getLogger("hullscan.recon")


@dataclass
class Block:
    """Consecutive pings of one sonar processed together: beam directions (B, 3) in the sonar frame,
    ranges (P, B), which returns are kept (P, B) and the beams' footprint (rad)."""

    stamps: NDArray[np.int64]
    frame_id: str
    dirs: NDArray[np.float32]
    ranges: NDArray[np.float32]
    keep: NDArray[np.bool_]
    footprint: float


@dataclass(frozen=True)
class _Spilled:
    stamps: NDArray[np.int64]
    frame_id: str
    dirs: int  # index into BlockStore._dirs
    shape: tuple[int, int]
    offset: int
    footprint: float


class BlockStore:
    """Blocks spilled to one file as they come (ranges float32 then keep bytes); stamps, frame and
    footprint stay in memory (a few bytes a ping), beam directions once per sonar. Reads give the
    blocks back exactly. A context manager: the spill folder (a temporary one by default) goes on close."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._own = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="hullscan-spill-")) if directory is None else Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.path = self.dir / "blocks.bin"
            self._f = open(self.path, "w+b")  # noqa: SIM115 (held for the store's life; closed in close())
        except OSError as err:
            raise HullscanError(f"recon.tiling.spill_dir {self.dir}: cannot write the spill file ({err})") from err
        self._meta: list[_Spilled] = []
        self._dirs: list[NDArray[np.float32]] = []
        self._dir_ids: dict[int, int] = {}
        self.nbytes = 0

    def append(self, blk: Block) -> None:
        key = id(blk.dirs)
        di = self._dir_ids.get(key)
        if di is None or self._dirs[di] is not blk.dirs:
            di = len(self._dirs)
            self._dirs.append(blk.dirs)
            self._dir_ids[key] = di
        ranges = np.ascontiguousarray(blk.ranges, np.float32)
        keep = np.ascontiguousarray(blk.keep, np.bool_)
        self._f.seek(self.nbytes)
        try:
            self._f.write(ranges.tobytes())
            self._f.write(keep.tobytes())
        except OSError as err:
            raise HullscanError(f"{self.path}: spilling returns failed ({err})") from err
        self._meta.append(_Spilled(blk.stamps, blk.frame_id, di, (int(ranges.shape[0]), int(ranges.shape[1])),
                                   self.nbytes, blk.footprint))
        self.nbytes += ranges.nbytes + keep.nbytes

    def __len__(self) -> int:
        return len(self._meta)

    def stamps(self, i: int) -> NDArray[np.int64]:
        """Block ``i``'s ping stamps (P,), without reading its ranges from the spill file."""
        return self._meta[i].stamps

    def __getitem__(self, i: int) -> Block:
        m = self._meta[i]
        n = m.shape[0] * m.shape[1]
        self._f.flush()
        self._f.seek(m.offset)
        ranges = np.fromfile(self._f, np.float32, n).reshape(m.shape)
        keep = np.fromfile(self._f, np.bool_, n).reshape(m.shape)
        return Block(m.stamps, m.frame_id, self._dirs[m.dirs], ranges, keep, m.footprint)

    def __iter__(self) -> Iterator[Block]:
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        self._f.close()
        if self._own:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the tile lattice


@dataclass(frozen=True)
class TileGrid:
    """Cubes of ``tile_cells`` extraction cells of ``cell`` voxels each, on the global voxel lattice."""

    voxel_size: float
    cell: int
    tile_cells: int
    carve_start_sigmas: float
    carve_len: float
    weight_range_m: float = 0.0  # the fusion weights' r0 (hullscan.core.voxelmap); 0: equal weights

    @classmethod
    def of(cls, tile_m: float, voxel_size: float, cell: int, carve_start_sigmas: float, carve_len: float,
           weight_range_m: float = 0.0) -> TileGrid:
        return cls(voxel_size, cell, max(1, round(tile_m / (cell * voxel_size))), carve_start_sigmas, carve_len,
                   weight_range_m)

    @property
    def tile_vox(self) -> int:
        return self.cell * self.tile_cells

    def extents(self, pts: NDArray[np.float64], origins: NDArray[np.float64], sigma: NDArray[np.float32]
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Voxel-index bounding boxes (N, 3) lo and hi (inclusive) of each return's hit and carved band,
        one voxel wider each way so that rounding here and in the fusion kernel cannot differ."""
        inv = 1.0 / self.voxel_size
        hit = np.floor(pts * inv)
        if self.carve_len > 0:
            d = pts - origins
            rng = np.sqrt(np.einsum("ij,ij->i", d, d))
            s_end = np.minimum(np.maximum(self.carve_start_sigmas * sigma.astype(np.float64), self.voxel_size)
                               + self.carve_len, rng)
            end = np.floor((pts - d * (s_end / np.where(rng > 0, rng, 1.0))[:, None]) * inv)
            lo, hi = np.minimum(hit, end), np.maximum(hit, end)
        else:
            lo, hi = hit, hit
        return lo.astype(np.int64) - 1, hi.astype(np.int64) + 1

    def tiles_of(self, lo: NDArray[np.int64], hi: NDArray[np.int64]) -> list[tuple[int, int, int]]:
        """The tiles whose region (the tile and one cell around it) the boxes reach."""
        tl = (lo - self.cell) // self.tile_vox
        th = (hi + self.cell) // self.tile_vox
        out: set[tuple[int, int, int]] = set()
        for r in _unique_rows(np.hstack([tl, th])):
            for tx in range(r[0], r[3] + 1):
                for ty in range(r[1], r[4] + 1):
                    for tz in range(r[2], r[5] + 1):
                        out.add((int(tx), int(ty), int(tz)))
        return sorted(out)

    def region(self, tile: tuple[int, int, int]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Voxel-index range [lo, hi) of the tile grown by one cell each way."""
        t = np.array(tile, np.int64)
        return t * self.tile_vox - self.cell, (t + 1) * self.tile_vox + self.cell

    def tile_of_voxel(self, ijk: NDArray[np.int64]) -> NDArray[np.int64]:
        """The tile (N, 3) that owns each voxel: the one holding its cell."""
        return (ijk // self.cell) // self.tile_cells


def _unique_rows(rows: NDArray[np.int64], bits: int = 10) -> NDArray[np.int64]:
    """``np.unique(rows, axis=0)`` for (N, K) small integers (each column spanning under
    2**bits, K * bits <= 63), as one int64 key per row: a row-wise unique sorts rows as byte strings,
    ten times slower than a sort of integers."""
    if rows.shape[0] == 0 or rows.shape[1] * bits > 63:
        return np.unique(rows, axis=0)
    low = rows.min(axis=0)
    rel = rows - low
    if int(rel.max()) >= 1 << bits:
        return np.unique(rows, axis=0)
    key = np.zeros(rows.shape[0], np.int64)
    for j in range(rows.shape[1]):
        key = (key << bits) | rel[:, j]
    u = np.unique(key)
    out = np.empty((u.shape[0], rows.shape[1]), np.int64)
    for j in range(rows.shape[1] - 1, -1, -1):
        out[:, j] = (u & ((1 << bits) - 1)) + low[j]
        u = u >> bits
    return out


# --------------------------------------------------------------------------- fusion, tile by tile

#: What fusing a tile needs of one block: georeferenced kept returns (points (N, 3), ping index (N,),
#: sonar origins per ping (P, 3), sigma (N,)), exactly as the in-memory path fuses them.
Georef = Callable[[Block], tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.float64], NDArray[np.float32]]]


@dataclass
class TiledSurface:
    """The merged extraction of every tile (the arrays of :meth:`VoxelMap.extract`, in the in-memory
    path's order), per-voxel outcome counts (see :func:`hullscan.core.voxelmap._extract`) over the
    voxels tiles own, and what it cost."""

    out: dict[str, NDArray[Any]]
    reasons: NDArray[np.int64]
    voxels: int
    tiles: int
    peak_map_bytes: int
    returns_in: int
    returns_fused: int
    stats: dict[str, float] = field(default_factory=dict)


def index_tiles(blocks: BlockStore, georef: Georef, grid: TileGrid
                ) -> tuple[dict[tuple[int, int, int], list[int]], NDArray[np.int64]]:
    """Which blocks reach each tile, and each block's first return's index in the whole input."""
    tiles: dict[tuple[int, int, int], list[int]] = {}
    offsets = np.zeros(len(blocks) + 1, np.int64)
    for bi, blk in enumerate(blocks):
        pts, ray, trans, sigma = georef(blk)
        offsets[bi + 1] = offsets[bi] + pts.shape[0]
        if pts.shape[0] == 0:
            continue
        lo, hi = grid.extents(pts, trans[ray], sigma)
        for t in grid.tiles_of(lo, hi):
            tiles.setdefault(t, []).append(bi)
    return tiles, offsets


@dataclass(frozen=True)
class _Returns:
    """Georeferenced kept returns as the map fuses them: points (N, 3), ping index into ``trans``
    (N,), sonar origins per ping (P, 3), sigma (N,)."""

    pts: NDArray[np.float64]
    ray: NDArray[np.int32]
    trans: NDArray[np.float64]
    sigma: NDArray[np.float32]


@dataclass(frozen=True)
class _Placed(_Returns):
    """A block's returns and their extents, cached between tiles. The extents are kept as (3, N)
    int32, one contiguous row per axis: selecting a tile's returns compares rows (a reduction over
    the rows of an (N, 3) array costs ten times as much)."""

    lo: NDArray[np.int32]
    hi: NDArray[np.int32]

    def select(self, reg_lo: NDArray[np.int64], reg_hi: NDArray[np.int64]) -> NDArray[np.int64]:
        """Indices of the returns whose extents reach the region [reg_lo, reg_hi)."""
        lo, hi = self.lo, self.hi
        return np.flatnonzero((hi[0] >= reg_lo[0]) & (hi[1] >= reg_lo[1]) & (hi[2] >= reg_lo[2])
                              & (lo[0] < reg_hi[0]) & (lo[1] < reg_hi[1]) & (lo[2] < reg_hi[2]))

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in (self.pts, self.ray, self.trans, self.sigma, self.lo, self.hi))


class _PlacedCache:
    """Georeferenced blocks with their extents, the most recently used kept up to ``cache_bytes``."""

    def __init__(self, blocks: BlockStore, georef: Georef, grid: TileGrid, cache_bytes: int) -> None:
        self.blocks, self.georef, self.grid, self.cache_bytes = blocks, georef, grid, cache_bytes
        self.cache: OrderedDict[int, _Placed] = OrderedDict()
        self.cached = 0

    def get(self, bi: int) -> _Placed:
        placed = self.cache.get(bi)
        if placed is not None:
            self.cache.move_to_end(bi)
            return placed
        pts, ray, trans, sigma = self.georef(self.blocks[bi])
        lo, hi = self.grid.extents(pts, trans[ray], sigma)
        placed = _Placed(pts, ray, trans, sigma, np.ascontiguousarray(lo.T, np.int32), np.ascontiguousarray(hi.T, np.int32))
        self.cache[bi] = placed
        self.cached += placed.nbytes
        while self.cached > self.cache_bytes and len(self.cache) > 1:
            self.cached -= self.cache.popitem(last=False)[1].nbytes
        return placed


@dataclass(frozen=True)
class _TileReturns(_Returns):
    """The returns that reach one tile, in input order, with their voxel indices (N, 3), each
    return's index in the whole input (N,) and its ping's stamp (N,)."""

    ijk: NDArray[np.int64]
    gidx: NDArray[np.int64]
    stamps: NDArray[np.int64]


def _gather(block_ids: list[int], cache: _PlacedCache, reg_lo: NDArray[np.int64], reg_hi: NDArray[np.int64],
            offsets: NDArray[np.int64], vs: float) -> _TileReturns:
    """The returns of ``block_ids`` whose extents reach the region, gathered for one fusion call:
    large enough for the map's two-thread pipeline (block by block, each call is too small and runs
    the serial kernel), in the same order, so with the same result."""
    pts_l: list[NDArray[np.float64]] = []
    ray_l: list[NDArray[np.int32]] = []
    trans_l: list[NDArray[np.float64]] = []
    sig_l: list[NDArray[np.float32]] = []
    gidx_l: list[NDArray[np.int64]] = []
    st_l: list[NDArray[np.int64]] = []
    n_trans = 0
    for bi in block_ids:
        placed = cache.get(bi)
        sel = placed.select(reg_lo, reg_hi)
        if sel.shape[0] == 0:
            continue
        pts_l.append(placed.pts[sel])
        ray_l.append((placed.ray[sel] + n_trans).astype(np.int32))
        trans_l.append(placed.trans)
        sig_l.append(placed.sigma[sel])
        gidx_l.append(offsets[bi] + sel)
        st_l.append(cache.blocks.stamps(bi)[placed.ray[sel]])
        n_trans += placed.trans.shape[0]
    if not pts_l:
        return _TileReturns(np.zeros((0, 3)), np.zeros(0, np.int32), np.zeros((0, 3)), np.zeros(0, np.float32),
                            np.zeros((0, 3), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    pts = np.concatenate(pts_l)
    return _TileReturns(pts, np.concatenate(ray_l), np.concatenate(trans_l), np.concatenate(sig_l),
                        np.floor(pts * (1.0 / vs)).astype(np.int64), np.concatenate(gidx_l), np.concatenate(st_l))


def fuse_tiles(blocks: BlockStore, georef: Georef, grid: TileGrid, min_hits: int, max_miss_ratio: float,
               progress: Callable[[int, int], None] | None = None, cache_bytes: int = 256 << 20,
               seen_times: bool = False) -> TiledSurface:
    """Fuse and extract every tile in turn (see the module's docstring); ``progress(done, total)``;
    ``cache_bytes``: georeferenced blocks kept for the next tiles (bounds the memory they take);
    ``seen_times``: also ``seen_first`` and ``seen_last`` per point (:mod:`hullscan.core.visits`,
    seconds since the first block's first ping, as the in-memory path gives them)."""
    vs = grid.voxel_size
    t0 = int(blocks.stamps(0)[0]) if len(blocks) else 0
    tiles, offsets = index_tiles(blocks, georef, grid)
    parts: list[dict[str, NDArray[Any]]] = []
    orders: list[NDArray[np.int64]] = []
    reasons = np.zeros(4, np.int64)
    voxels = peak = fused = 0
    # Tiles in the order the survey first reaches them, so that the blocks georeferenced for one tile
    # are mostly still in the cache for the next ones.
    order_tiles = sorted(tiles, key=lambda t: (tiles[t][0], t))
    cache = _PlacedCache(blocks, georef, grid, cache_bytes)
    for k, tile in enumerate(order_tiles):
        reg_lo, reg_hi = grid.region(tile)
        vm = VoxelMap(vs, weight_range_m=grid.weight_range_m)
        got = _gather(tiles[tile], cache, reg_lo, reg_hi, offsets, vs)
        if got.pts.shape[0]:
            vm.fuse(got.pts, got.ray, got.trans, got.sigma, grid.carve_start_sigmas, grid.carve_len)
        fused += got.pts.shape[0]
        peak = max(peak, vm.nbytes)
        out, reason = vm.extract(grid.cell, min_hits, max_miss_ratio)
        # Each voxel's first hit, in input order: the map numbers voxels in that order, so a hit
        # is a voxel's first exactly where its id exceeds every id before it (no sort needed).
        ids = vm.lookup(got.ijk) if got.ijk.shape[0] else np.zeros(0, np.int64)
        if seen_times:
            # When each voxel was first and last hit, from the same lookup (not a second one).
            visits = VoxelVisits(t0)
            visits.mark_ids(ids, got.stamps)
            out["seen_first"], out["seen_last"] = visits.at(out["voxel"].astype(np.int64))
        before = np.maximum.accumulate(np.concatenate(([-1], ids[:-1]))) if ids.shape[0] else ids
        first = np.flatnonzero(ids > before)
        if first.shape[0] != vm.n or not np.array_equal(ids[first], np.arange(vm.n)):
            raise HullscanError(f"tile {tile}: {vm.n} voxels, not numbered in the order of their first hits (a bug)")
        first_gidx = got.gidx[first]
        tv = grid.tile_of_voxel(vm.voxel_indices())
        owned = (tv[:, 0] == tile[0]) & (tv[:, 1] == tile[1]) & (tv[:, 2] == tile[2])
        voxels += int(owned.sum())
        reasons += np.bincount(reason[owned], minlength=4)[:4]
        mine = owned[out["voxel"]]
        parts.append({a: v[mine] for a, v in out.items()})
        orders.append(first_gidx[out["voxel"][mine]])
        del vm, got
        if progress is not None:
            progress(k + 1, len(tiles))
    order = np.concatenate(orders) if orders else np.zeros(0, np.int64)
    perm = np.argsort(order, kind="stable")
    names = ("points", "normals", "confidence", "hits", "sigma", "voxel", "incidence", "range",
             *(("seen_first", "seen_last") if seen_times else ()))
    merged: dict[str, NDArray[Any]] = {}
    for a in names:
        empty = np.zeros(0, np.float32) if a.startswith("seen_") else VoxelMap(vs).extract()[0][a]
        cat = np.concatenate([p[a] for p in parts]) if parts else empty
        merged[a] = cat[perm]
    log.info("tiled fusion: %d tiles of %.2f m, %d returns fused (%.2fx the input, halos and bands), "
             "largest tile map %.0f MB", len(tiles), grid.tile_vox * vs, fused,
             fused / max(int(offsets[-1]), 1), peak / 1e6)
    return TiledSurface(merged, reasons, voxels, len(tiles), peak, int(offsets[-1]), fused,
                        {"tiles": float(len(tiles)), "tile_returns_ratio": fused / max(int(offsets[-1]), 1)})


PACK_OFFSET = 1 << 20  # voxel indices within +-2^20 per axis pack into one int64


def pack_index(ijk: NDArray[np.int64]) -> NDArray[np.int64]:
    """One int64 per voxel index (N, 3) within +-2^20 per axis, ordered as the indices are
    lexicographically (x, then y, then z)."""
    off, mask = PACK_OFFSET, (1 << 21) - 1
    return (((ijk[:, 0] + off) & mask) << 42) | (((ijk[:, 1] + off) & mask) << 21) | ((ijk[:, 2] + off) & mask)
