"""The reconstruction pipeline: pings and poses in, a clean hull point cloud out.

One :class:`Reconstructor` serves both the live stream (``add`` ping by ping)
and a bag (:func:`reconstruct_bag` feeds it the bag's samples in order). Pings
are processed in blocks of up to ``chunk_pings`` consecutive pings of one sonar;
the result does not depend on where blocks are cut, so incremental and batch
runs give the same cloud.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.core import georef
from hullscan.core.nav import NAV_AFTER, NAV_BEFORE, NAV_GAP, NAV_JUMP, NAV_OK
from hullscan.core.visits import VoxelVisits
from hullscan.core.voxelmap import SurfaceCache, VoxelMap
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError, TransformError
from hullscan.model import (
    DEFAULT_BEAMWIDTH_RAD,
    CameraFrame,
    CameraModel,
    HullCloud,
    ImagingPing,
    NavSample,
    PointsPing,
    ProfilingPing,
    Trajectory,
    Transform,
    TransformStamped,
)
from hullscan.recon import checkpoint as ckpt_files
from hullscan.recon.config import ReconConfig
from hullscan.recon.drift import (
    AlongShipUncertainty,
    DriftCorrection,
    SurfaceReference,
    correct_drift,
)
from hullscan.recon.nav import NavBuffer
from hullscan.recon.tiles import Block, BlockStore, TileGrid, fuse_tiles
from hullscan.settings import TopicsConfig
from hullscan.tf import TfTree

log = logging.getLogger("hullscan.recon")

_NAV_REASON = {NAV_BEFORE: "before_first_nav", NAV_AFTER: "after_last_nav", NAV_GAP: "nav_gap",
               NAV_JUMP: "pose_jump"}


@dataclass(frozen=True)
class ReconResult:
    """What a reconstruction produced."""

    cloud: HullCloud
    trajectory: Trajectory | None
    drops: DropLog
    timings_s: dict[str, float]
    stats: dict[str, float]
    # With drift correction against a reference: its placement in the navigation frame after the
    # registration from the prior (nav <- hull), and that registration.
    hull_to_nav: Transform | None = None
    registration: Any = None
    # ... and how well that placed each stretch along the ship (None without a reference).
    along: AlongShipUncertainty | None = None


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Adds the wall time of the ``with`` body to ``timings[stage]`` (a total over all blocks)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] += time.perf_counter() - t0


@dataclass(frozen=True, eq=False)
class _Ping:
    """A ping reduced to beams: unit directions (B, 3) in the sonar frame and one range each."""

    stamp_ns: int
    stream: str
    frame_id: str
    dirs: NDArray[np.float32]
    ranges: NDArray[np.float32]
    intens: NDArray[np.float32]
    rmin: float
    rmax: float
    footprint: float
    ordered: bool  # beams form a fan, so across/along-track neighbours mean something


_Block = Block  # pings processed together (kept for re-fusion after drift correction, or spilled when tiled)


# --------------------------------------------------------------------------- the reconstructor


class Reconstructor:
    """Incremental reconstruction: ``add`` samples in stream order, ``cloud()`` any time, ``finish()``.

    ``offline``: nothing reads the map before ``finish()`` (a recorded bag). With drift correction
    on, the kept returns are then fused once, at the end, with the corrected navigation, instead of
    as they come and again once corrected: the cloud is the same, bit for bit, for half the fusion
    and without two maps alive at once."""

    def __init__(self, config: ReconConfig | None = None, topics: TopicsConfig | None = None,
                 drift_reference: SurfaceReference | None = None, *, offline: bool = False) -> None:
        self.config = config or ReconConfig()
        self.topics = topics or TopicsConfig()
        # recon.drift.reference already loaded (hullscan.compare.navref.load_drift_reference), or None.
        self.drift_reference = drift_reference
        # Live, in mirror mode (no reference to place): drift corrected between the survey's passes
        # although recon.drift.require_reference (hullscan.recon.live.MappingSession.finish sets it).
        self.drift_between_passes = False
        self.registration: Any = None
        self.along: AlongShipUncertainty | None = None
        self.drops = DropLog()
        self.tf = TfTree()
        self.nav = NavBuffer(self.config.max_nav_gap_s, self.config.max_speed_mps,
                             self.config.nav_depth_smoothing_s)
        self.map = VoxelMap(self.config.voxel_size, weight_range_m=self.config.fusion_weight_range_m)
        # When each voxel was first and last seen (evidence across passes), beside the map; None until
        # the first fusion, and for good once a restart left the times before it unknown.
        self.visits: VoxelVisits | None = None
        self._times_known = self.config.seen_times
        self.timings: dict[str, float] = {"detect": 0.0, "georef": 0.0, "clean": 0.0, "fuse": 0.0,
                                          "extract": 0.0, "drift": 0.0}
        self.stats: dict[str, float] = {"pings_in": 0, "pings_fused": 0, "beams_in": 0, "points_fused": 0}
        self._queues: dict[str, list[_Ping]] = {}
        self._last_ranges: dict[str, NDArray[np.float32]] = {}
        self._mounts: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        self._dirs: dict[str, NDArray[np.float32]] = {}  # each sonar's beam directions, shared by its blocks
        # Blocks kept for re-fusion after drift correction (in memory), or all of them spilled to disk
        # when the map is fused tile by tile (recon.tiling).
        self.tiled = self.config.tiling.enabled
        self._blocks: list[_Block] | BlockStore = (BlockStore(self.config.tiling.spill_dir) if self.tiled else [])
        self.deferred = offline and self.config.drift.enabled and not self.tiled
        self._offset_ns = round(self.config.time_offset_s * 1e9)
        self._finished = False
        self._surface = self._new_surface()
        self._ckpt: ckpt_files.Tracker | None = None  # what the incremental checkpoint files hold
        self.restored: dict[str, int] = {}  # what the last restore read: deltas applied, bytes ignored
        # Whether the kept returns are the whole survey's (checkpoints carry them; one written without
        # them, restored, leaves the returns before the restart missing).
        self._returns_complete = True
        self.progress = False  # a progress bar for the tiles of a tiled finish()

    def _new_surface(self) -> SurfaceCache:
        c = self.config
        return SurfaceCache(c.surface_cell_voxels, c.min_hits, c.max_miss_ratio)

    # -- input
    def add(self, item: Any) -> None:
        """Take one sample (ping, navigation, TF; camera data is ignored here)."""
        if isinstance(item, NavSample):
            problem = self.nav.add(item)
            if problem == "duplicate":
                self.drops.add("navigation", "nav_duplicate_stamp", 1,
                               f"second sample at {item.stamp:.3f} s ignored (the first one is kept)")
            elif problem == "reordered":
                # Pings already placed before it arrived used the poses without it.
                self.drops.add("navigation", "nav_late_reordered", 1,
                               f"sample at {item.stamp:.3f} s arrived after a later one; inserted in order")
            elif problem:
                reason = "nav_gap" if problem.startswith("gap") else "pose_jump"
                self.drops.add("navigation", reason, 1, problem + "; pings in between are dropped")
        elif isinstance(item, TransformStamped):
            self.tf.add(item)
            return
        elif isinstance(item, ProfilingPing | PointsPing | ImagingPing):
            ping = self._normalise(item)
            if ping is None:
                return
            q = self._queues.setdefault(ping.stream, [])
            q.append(ping)
            self.stats["pings_in"] += 1
            self.stats["beams_in"] += ping.ranges.shape[0]
            if len(q) > self.config.max_pending_pings:
                old = q.pop(0)
                self.drops.add(ping.stream, "no_navigation", old.ranges.shape[0],
                               f"ping at {old.stamp_ns * 1e-9:.3f} s waited for navigation too long")
        elif isinstance(item, CameraFrame | CameraModel):
            return
        self._process(final=False, force=False)

    def remount(self, edge: TransformStamped) -> None:
        """Replace a sensor mounting (a /tf_static one over a configured one); pings not yet
        placed use the new one."""
        self.tf.add(edge)
        self._mounts.pop(edge.child_frame, None)
        self._mounts.pop(edge.child_frame.lstrip("/"), None)

    def add_all(self, items: Iterable[Any]) -> None:
        for it in items:
            self.add(it)

    def _normalise(self, item: ProfilingPing | PointsPing | ImagingPing) -> _Ping | None:
        c = self.config
        if isinstance(item, ProfilingPing):
            bw = c.beamwidth_rad or item.beamwidth
            return _Ping(item.stamp_ns, f"scan:{item.frame_id}", item.frame_id, item.directions(), item.ranges,
                         item.intensities, item.range_min, item.range_max, bw, True)
        if isinstance(item, PointsPing):
            r = np.linalg.norm(item.points.astype(np.float64), axis=1)
            d = (item.points / np.where(r > 0, r, 1.0)[:, None]).astype(np.float32)
            return _Ping(item.stamp_ns, f"points:{item.frame_id}", item.frame_id, d, r.astype(np.float32),
                         item.intensities, 0.0, np.inf, c.beamwidth_rad or DEFAULT_BEAMWIDTH_RAD, False)
        t0 = time.perf_counter()
        first_bin = int(np.searchsorted(item.ranges, c.min_range_m))
        idx = georef.cfar_first(item.intensities, c.cfar_guard, c.cfar_train, c.cfar_scale,
                                c.cfar_min_intensity, first_bin)
        found = idx >= 0
        self.drops.add(f"image:{item.frame_id}", "no_detection", int((~found).sum()),
                       "imaging sonar beam without a CFAR detection")
        rng = np.where(found, item.ranges[np.maximum(idx, 0)], np.nan).astype(np.float32)
        inten = np.where(found, item.intensities[np.maximum(idx, 0), np.arange(idx.shape[0])], 0.0)
        self.timings["detect"] += time.perf_counter() - t0
        # The return may come from anywhere inside the elevation aperture: the widest spread counts.
        return _Ping(item.stamp_ns, f"image:{item.frame_id}", item.frame_id, item.beam_directions, rng,
                     inten.astype(np.float32), float(item.ranges[0]), float(item.ranges[-1]),
                     max(item.beamwidth, item.elevation_aperture), True)

    # -- processing
    def _ready(self, q: list[_Ping], final: bool) -> int:
        """How many pings at the head of ``q`` can be processed now (stamps increase along ``q``)."""
        limit = len(q) if final else len(q) - 1  # the newest waits for its along-track neighbour
        if final or limit <= 0:
            return max(limit, 0)
        last = self.nav.last_ns
        if last is None:
            return 0
        # A ping waits for the navigation after it: the bracketing sample, and the far end of the
        # depth smoothing window, so that live and replay place it alike.
        wait = self._offset_ns + int(self.config.nav_depth_smoothing_s * 1e9)
        if q[limit - 1].stamp_ns + wait <= last:
            return limit
        n = 0
        while n < limit and q[n].stamp_ns + wait <= last:
            n += 1
        return n

    def _process(self, final: bool, force: bool) -> None:
        for stream, q in self._queues.items():
            if not (final or force) and len(q) <= self.config.chunk_pings:
                continue  # cheap exit on the hot path: not a full block yet
            n = self._ready(q, final)
            if n == 0 or (n < self.config.chunk_pings and not (final or force)):
                continue
            i = 0
            while i < n:
                j = i + 1
                p0 = q[i]
                while (j < n and j - i < self.config.chunk_pings and q[j].ranges.shape == p0.ranges.shape
                       and (q[j].dirs is p0.dirs or np.array_equal(q[j].dirs, p0.dirs))):
                    j += 1
                nxt = q[j] if j < len(q) else None
                self._process_block(stream, q[i:j], nxt)
                i = j
            del q[:n]

    def _mount(self, frame_id: str) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        m = self._mounts.get(frame_id)
        if m is None:
            try:
                tf = self.tf.lookup(self.topics.base_frame, frame_id)
            except TransformError as err:
                if frame_id.lstrip("/") in ("", self.topics.base_frame):
                    tf = None
                else:
                    self.drops.add(f"sonar:{frame_id}", "no_transform", 1, str(err))
                    return None
            m = (np.eye(3), np.zeros(3)) if tf is None else (tf.rot.as_matrix(), tf.translation.copy())
            self._mounts[frame_id] = m
        return m

    def _process_block(self, stream: str, pings: list[_Ping], nxt: _Ping | None) -> None:
        """One block of consecutive pings of one sonar: cleaned, placed by navigation, fused."""
        p0 = pings[0]
        where = f"sonar:{p0.frame_id}"
        stamps = np.array([p.stamp_ns for p in pings], np.int64)
        ranges = np.stack([p.ranges for p in pings])
        with _timed(self.timings, "clean"):
            # Returns that cannot be hull (out of range, weak, spikes, grazing) are dropped.
            keep = self._clean_returns(stream, pings, ranges, nxt, where)
            # So are pings without a credible pose at transmit time.
            keep &= self._placed_by_navigation(stamps, keep, where)[:, None]
        # Without the sonar's mounting no return can be placed.
        if self._mount(p0.frame_id) is None:
            self.drops.add(where, "no_transform_returns", int(keep.sum()))
            return
        blk = _Block(stamps, p0.frame_id, self._shared_dirs(p0.frame_id, p0.dirs), ranges, keep, p0.footprint)
        if self.tiled:
            # Fused tile by tile at the end (with the corrected navigation, if drift is corrected).
            self._blocks.append(blk)
            self.stats["pings_fused"] += int(keep.any(axis=1).sum())
            return
        # Kept to be fused again once navigation drift is corrected (offline: only then).
        if self.config.drift.enabled:
            self._blocks.append(blk)
        if not self.deferred:
            self._fuse_block(blk, self.nav)
        self.stats["pings_fused"] += int(keep.any(axis=1).sum())

    def _shared_dirs(self, frame_id: str, dirs: NDArray[np.float32]) -> NDArray[np.float32]:
        """``dirs``, or the same beam directions the sonar's last block held: live, a block is one
        ping, and the kept blocks would otherwise hold a copy per ping (3 kB of a 256-beam ping's 4.4)."""
        last = self._dirs.get(frame_id)
        if last is not None and last.shape == dirs.shape and np.array_equal(last, dirs):
            return last
        self._dirs[frame_id] = dirs
        return dirs

    def _with_neighbours(self, stream: str, pings: list[_Ping], ranges: NDArray[np.float32],
                         nxt: _Ping | None) -> NDArray[np.float32]:
        """The block's ranges framed by the previous and next ping of a fan (NaN where none), so
        the spike filter sees across block edges: the cloud does not depend on where blocks are cut."""
        p0 = pings[0]
        b = p0.ranges.shape[0]
        prev = self._last_ranges.get(stream)
        ext = np.full((len(pings) + 2, b), np.nan, np.float32)
        ext[1:-1] = ranges
        if p0.ordered:
            if prev is not None and prev.shape == (b,):
                ext[0] = prev
            if nxt is not None and nxt.ranges.shape == (b,):
                ext[-1] = nxt.ranges
        self._last_ranges[stream] = pings[-1].ranges
        return ext

    def _clean_returns(self, stream: str, pings: list[_Ping], ranges: NDArray[np.float32], nxt: _Ping | None,
                       where: str) -> NDArray[np.bool_]:
        """Which returns of the block are kept (B pings x beams); the others counted by reason."""
        c = self.config
        p0 = pings[0]
        ext = self._with_neighbours(stream, pings, ranges, nxt)
        intens = np.stack([p.intens for p in pings])
        rmin = np.maximum([p.rmin for p in pings], c.min_range_m)
        rmax = np.minimum([p.rmax for p in pings], c.max_range_m)
        reasons = georef.clean_block(ext, intens, p0.dirs, rmin, rmax, c.min_intensity,
                                     c.spike_threshold_m if p0.ordered else np.inf,
                                     np.deg2rad(c.min_grazing_deg) if p0.ordered else 0.0)
        counts = np.bincount(reasons.ravel(), minlength=len(georef.REASONS))
        for code in range(1, len(georef.REASONS)):
            if code == georef.NAN and p0.ordered and stream.startswith("scan"):
                continue  # the bag reader already counted NaN ranges of LaserScans
            self.drops.add(where, georef.REASONS[code], int(counts[code]),
                           f"{georef.REASONS[code].replace('_', ' ')} in ping at {p0.stamp_ns * 1e-9:.3f} s")
        return reasons == georef.OK

    def _placed_by_navigation(self, stamps: NDArray[np.int64], keep: NDArray[np.bool_], where: str
                              ) -> NDArray[np.bool_]:
        """Which pings have a pose at transmit time (+ the sonar-nav clock offset); the kept
        returns of the others are counted by why not."""
        status = self.nav.status(stamps + self._offset_ns)
        for code, reason in _NAV_REASON.items():
            bad = status == code
            if bad.any():
                self.drops.add(where, reason, int(keep[bad].sum()),
                               f"{int(bad.sum())} ping(s) from {stamps[bad][0] * 1e-9:.3f} s")
        return np.asarray(status == NAV_OK)

    def georef_block(self, blk: _Block, nav: NavBuffer) -> tuple[NDArray[np.float64], NDArray[np.int32],
                                                                  NDArray[np.float64], NDArray[np.float32]]:
        """Kept returns of a block in the nav frame: points, ping index, sonar origins, sigma."""
        pos, quat, sig, att, _ = nav.interpolate(blk.stamps + self._offset_ns)
        mount = self._mount(blk.frame_id)
        assert mount is not None
        r_nav = Rotation.from_quat(quat).as_matrix()
        rot = r_nav @ mount[0]
        trans = r_nav @ mount[1] + pos
        pts, ray, sigma = georef.georef_block(blk.ranges, blk.keep, blk.dirs, rot, trans, sig, att,
                                              self.config.range_sigma, blk.footprint)
        return pts, ray, trans, sigma

    def _returns(self, nav: NavBuffer) -> Iterator[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]]:
        """Every kept return georeferenced with ``nav``, block by block: points (N, 3), their pings'
        stamps on the navigation clock and on the sonar's (what drift correction aligns)."""
        for blk in self._blocks:
            pts, ray, _, _ = self.georef_block(blk, nav)
            yield pts, (blk.stamps + self._offset_ns)[ray], blk.stamps[ray]

    def _fuse_block(self, blk: _Block, nav: NavBuffer) -> None:
        c = self.config
        with _timed(self.timings, "georef"):
            pts, ray, trans, sigma = self.georef_block(blk, nav)
        with _timed(self.timings, "fuse"):
            self.map.fuse(pts, ray, trans, sigma, c.carve_start_sigmas, c.carve_length_m if c.carve else 0.0)
            if self._times_known:
                if self.visits is None:  # times from the survey's first block (the tiled path's too)
                    self.visits = VoxelVisits(int(blk.stamps[0]))
                if len(pts):
                    self.visits.mark(self.map, pts, blk.stamps[ray])
        self.stats["points_fused"] += pts.shape[0]

    # -- output
    def cloud(self) -> HullCloud:
        """The current fused surface (pings still waiting for navigation are not in it).

        Incremental: only cells near voxels changed since the previous call are re-extracted
        (:class:`SurfaceCache`); the result is exactly that of a full extraction, same order.
        """
        self._live_only("cloud")
        self._process(final=False, force=True)
        t0 = time.perf_counter()
        out, _ = self._surface.update(self.map)
        self.timings["extract"] += time.perf_counter() - t0
        return self._hull_cloud(out)

    def display_cloud(self, max_points: int, cell_m: float | None = None) -> tuple[HullCloud, int]:
        """``hullscan.recon.display.display_cloud(self.cloud(), max_points, cell_m)`` (the same points,
        values and order; ``cell_m`` defaults to the voxel size) and the number of points of the whole
        cloud, gathering only the points shown: O(map voxels) cheap passes plus O(shown points)."""
        self._live_only("display_cloud")
        self._process(final=False, force=True)
        t0 = time.perf_counter()
        out, total = self._surface.display(self.map, int(max_points), float(cell_m or self.config.voxel_size))
        self.timings["extract"] += time.perf_counter() - t0
        return HullCloud(out["points"], out["normals"], out["confidence"], out["hits"], out["sigma"],
                         self.topics.nav_frame, out["incidence"], out["range"]), total

    def packed_cloud(self, max_points: int | None = None, cell_m: float | None = None,
                     alloc: Callable[[int], Any] | None = None, stamp_ns: int | None = None) -> tuple[Any, int, int]:
        """The rows of a hull-cloud message (:data:`hullscan.core.display.ROW_FIELDS`, 40 bytes each,
        deviation NaN) of :meth:`cloud` (``max_points`` None) or of :meth:`display_cloud`, packed
        straight from the surface cache (no cloud gathered, no copy into a message) into a writable
        buffer from ``alloc(nbytes)`` (default a numpy uint8 array): (buffer, rows, surface points).
        With ``stamp_ns`` (the message's stamp) and the times known (``recon.seen_times``), 48 bytes
        each: when each point was first and last seen as well, in seconds relative to ``stamp_ns``
        (:data:`hullscan.core.display.TIME_FIELDS`), so that a comparator on the far side of a topic
        can count the passes that saw a finding."""
        from hullscan.core.display import ROW_BYTES, TIMED_ROW_BYTES, RowTimes

        self._live_only("packed_cloud")
        self._process(final=False, force=True)
        t0 = time.perf_counter()
        if max_points is None:
            ids = self._surface.surface_ids(self.map)
            total = int(ids.shape[0])
        else:
            ids, total = self._surface.display_ids(self.map, int(max_points),
                                                   float(cell_m or self.config.voxel_size))
        times = None
        if stamp_ns is not None and self._times_known and self.visits is not None:
            first, last = self.visits.at(ids)
            times = RowTimes(first, last, self.visits.t0_ns, int(stamp_ns))
        nbytes = int(ids.shape[0]) * (ROW_BYTES if times is None else TIMED_ROW_BYTES)
        buf = alloc(nbytes) if alloc is not None else np.empty(nbytes, np.uint8)
        if nbytes:
            self._surface.pack(ids, np.frombuffer(buf, np.uint8) if not isinstance(buf, np.ndarray) else buf, times)
        self.timings["extract"] += time.perf_counter() - t0
        return buf, int(ids.shape[0]), total

    def _live_only(self, what: str) -> None:
        if self.tiled:
            raise HullscanError(f"recon.tiling: {what}() needs the in-memory map; a tiled reconstruction makes "
                                "its cloud in finish() only (turn recon.tiling off for live use)")
        if self.deferred and not self._finished:
            raise HullscanError(f"{what}(): an offline reconstruction with drift correction fuses its map in "
                                "finish() only (construct the Reconstructor with offline=False for live use)")

    def _tiled_cloud(self) -> HullCloud:
        """Fuse and extract tile by tile (:mod:`hullscan.recon.tiles`): the in-memory path's cloud, bit
        for bit, in bounded memory. The spilled blocks are removed afterwards."""
        from tqdm import tqdm

        c = self.config
        assert isinstance(self._blocks, BlockStore)
        grid = TileGrid.of(c.tiling.tile_m, c.voxel_size, c.surface_cell_voxels, c.carve_start_sigmas,
                           c.carve_length_m if c.carve else 0.0, c.fusion_weight_range_m)
        nav = self.nav
        bar = tqdm(total=0, unit="tile", desc="fuse tiles", disable=not self.progress, mininterval=0.5)

        def georef(blk: _Block) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.float64],
                                         NDArray[np.float32]]:
            with _timed(self.timings, "georef"):
                return self.georef_block(blk, nav)

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        t0_ns = int(self._blocks.stamps(0)[0]) if len(self._blocks) else None  # the times' origin, as in memory
        t0 = time.perf_counter()
        try:
            surf = fuse_tiles(self._blocks, georef, grid, c.min_hits, c.max_miss_ratio, step,
                              seen_times=self._times_known)
        finally:
            bar.close()
            self._blocks.close()
        self.timings["fuse"] += time.perf_counter() - t0
        self.map = VoxelMap(c.voxel_size, weight_range_m=c.fusion_weight_range_m)  # nothing stays in memory
        self._last_extract = surf.reasons
        self.stats.update(surf.stats)
        self.stats["points_fused"] = surf.returns_in
        self.stats["voxels_tiled"] = surf.voxels
        self.stats["tile_map_bytes_max"] = surf.peak_map_bytes
        out = surf.out
        return HullCloud(out["points"], out["normals"], out["confidence"], out["hits"], out["sigma"],
                         self.topics.nav_frame, out["incidence"], out["range"], out.get("seen_first"),
                         out.get("seen_last"), t0_ns if "seen_first" in out else None)

    def _full_cloud(self) -> HullCloud:
        """One full extraction; frees the incremental cache (the final cloud needs no cache, and
        a batch run would only hold its memory)."""
        self._surface = self._new_surface()
        t0 = time.perf_counter()
        c = self.config
        out, reason = self.map.extract(c.surface_cell_voxels, c.min_hits, c.max_miss_ratio)
        self.timings["extract"] += time.perf_counter() - t0
        self._last_extract = np.bincount(reason, minlength=4)
        return self._hull_cloud(out)

    def _hull_cloud(self, out: dict[str, NDArray[Any]]) -> HullCloud:
        """The cloud of an extraction ``out`` (with its source voxel ids), with when each point was
        first and last seen where the times are known."""
        first = last = t0 = None
        if self._times_known and self.visits is not None:
            first, last = self.visits.at(out["voxel"].astype(np.int64))
            t0 = self.visits.t0_ns
        return HullCloud(out["points"], out["normals"], out["confidence"], out["hits"], out["sigma"],
                         self.topics.nav_frame, out["incidence"], out["range"], first, last, t0)

    def _drift_due(self) -> bool:
        """Whether ``finish()`` corrects navigation drift; when it is on but cannot, why is counted."""
        d = self.config.drift
        if not d.enabled or not len(self._blocks):
            return False
        if self.restored and not self._returns_complete:
            # The returns before the restart were not in the checkpoint: a map fused again from the
            # kept returns alone would lose everything before it.
            self.drops.add("drift", "not_corrected_after_restore", 1, "the map was restored from a checkpoint "
                           "and the returns before the restart are not kept; hullscan replay corrects the bag")
            return False
        if d.require_reference and self.drift_reference is None and not self.drift_between_passes:
            self.drops.add("drift", "not_corrected_without_reference", 1, "no placed reference to correct the "
                           "navigation against (the comparator had not registered the map)")
            return False
        return True

    def finish(self) -> ReconResult:
        """Process everything left, correct drift (if enabled) and return the result."""
        self._process(final=True, force=True)
        for stream, q in self._queues.items():
            if q:
                self.drops.add(stream, "unprocessed", len(q))
        traj = self.nav.trajectory(self.config.max_nav_gap_s)
        fuse_all = self.deferred  # offline: the map is fused only now
        if self._drift_due():
            t0 = time.perf_counter()
            try:
                drift = correct_drift(self.config.drift, self.nav, self._returns, self.drift_reference,
                                      spill=self._blocks.dir if isinstance(self._blocks, BlockStore) else None)
            except HullscanError as err:
                if not self.config.drift.require_reference:
                    raise
                # Live: a correction that fails leaves the map as recorded, never no map at all.
                self.drops.add("drift", "not_corrected", 1, str(err))
                drift = DriftCorrection(None, {"drift_submaps": 0}, self.drift_reference)
            self.drift_reference, self.registration = drift.reference, drift.registration or self.registration
            self.along = drift.along
            self.stats.update(drift.info)
            if drift.nav is not None:
                self.nav = drift.nav  # the tiles, or the map below, are fused with it
                if not self.tiled and not self.deferred:
                    # The live map holds the recorded navigation: a new one (the old freed first).
                    capacity = max(self.map.n, 1 << 14)
                    del self.map
                    self.map = VoxelMap(self.config.voxel_size, capacity=capacity,
                                        weight_range_m=self.config.fusion_weight_range_m)
                    self.visits = None  # its voxel ids are the old map's
                    self.stats["points_fused"] = 0
                    fuse_all = True
            self.timings["drift"] += time.perf_counter() - t0
            traj = self.nav.trajectory(self.config.max_nav_gap_s)
        if fuse_all:
            # Every kept return, in the order it came, with the navigation as it now stands (corrected,
            # or as recorded where the correction declined).
            for blk in self._blocks:
                self._fuse_block(blk, self.nav)
        if self.stats["pings_in"] == 0:
            self.drops.add("sonar", "no_pings", 1, "no sonar pings were received; the cloud is empty")
        elif self.nav.last_ns is None:
            self.drops.add("navigation", "no_navigation", 1, "no navigation samples; no ping could be placed")
        cloud = self._tiled_cloud() if self.tiled else self._full_cloud()
        self.stats["voxels"] = self.stats.pop("voxels_tiled") if self.tiled else self.map.n
        self.stats["map_bytes"] = self.stats.pop("tile_map_bytes_max") if self.tiled else self.map.nbytes
        # Beside the map: when each voxel was first and last seen (the tiled path frees them per tile).
        self.stats["seen_times_bytes"] = (0 if self.tiled or self.visits is None
                                          else int(self.visits.first.nbytes + self.visits.last.nbytes))
        self.stats["points_out"] = len(cloud)
        ex = self._last_extract
        self.stats["voxels_free_space"] = int(ex[1])
        self.stats["voxels_sparse"] = int(ex[2])
        self.stats["voxels_off_surface"] = int(ex[3])
        self._finished = True
        placed = getattr(self.drift_reference, "hull_to_nav", None)
        return ReconResult(cloud, traj, self.drops, dict(self.timings), dict(self.stats),
                           placed if self.config.drift.enabled else None, self.registration,
                           self.along if self.config.drift.enabled else None)

    # -- persistence
    def _ckpt_meta(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(mode="json"), "stats": dict(self.stats),
                "drops": [[w, r, n, self.drops.examples.get((w, r), "")] for (w, r), n in self.drops.counts.items()]}

    def _map_state(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """The map's state (copies) with when each voxel was seen where the times are known, and the
        meta for the checkpoint (the times' origin, ``seen_t0_ns``)."""
        st = self.map.state()
        t0 = None
        if self._times_known and self.visits is not None:
            first, last = self.visits.at(np.arange(self.map.n, dtype=np.int64))
            st.update(seen_first=first, seen_last=last)
            t0 = self.visits.t0_ns
        kept = self._kept()
        if kept is not None:
            # The returns kept to correct drift at the survey's end, so that a restart can still.
            st.update(ckpt_files.pack_returns(kept))
        return st, {**self._ckpt_meta(), "seen_t0_ns": t0, "returns_complete": kept is not None and self._returns_complete}

    def _kept(self) -> list[_Block] | None:
        """The returns kept in memory to correct drift at the survey's end; None where none are kept."""
        return self._blocks if self.config.drift.enabled and isinstance(self._blocks, list) else None

    def _nav_copy(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        t, a = self.nav.arrays()
        return t.copy(), a.copy()

    def checkpoint(self, path: str | Path) -> None:
        """Save the map and navigation so :meth:`restore` can continue after a restart (a full
        base file; a delta log beside it from an earlier base is removed)."""
        self._live_only("checkpoint")
        self._process(final=False, force=True)
        st, meta = self._map_state()
        t, a = self.nav.arrays()
        ckpt_files.write_base(Path(path), st, t, a, {**meta, "base_id": ckpt_files.new_base_id()})
        ckpt_files.delta_path(path).unlink(missing_ok=True)
        self._ckpt = None

    def checkpoint_incremental(self, path: str | Path, compact_ratio: float = 0.5) -> Callable[[], dict[str, Any]]:
        """Capture the checkpoint at ``path`` now, on this thread; returns the function that writes
        it (from any thread, while this reconstructor goes on; writers must run one at a time, in
        the order taken). Returns what it wrote (``kind`` base/delta, ``bytes``, ``voxels``).

        When ``path`` holds a base of this map (written or restored here), only the voxels changed
        since the previous checkpoint (and the new navigation rows) are captured and appended to
        the delta log beside it (:mod:`hullscan.recon.checkpoint`): the cost here is one pass over
        the hit/miss counts plus the changes. Otherwise (first checkpoint, another path, a map
        replaced by drift correction, a failed write) the whole map is copied for a new base. The
        log is folded into a new base by the writer once over ``compact_ratio`` of the base size.
        :meth:`restore` reads base + log back bit for bit."""
        self._live_only("checkpoint")
        self._process(final=False, force=True)
        path = Path(path)
        tr, vm, n = self._ckpt, self.map, self.map.n
        if (tr is None or tr.path != path or tr.map is not vm or tr.nav is not self.nav or tr.broken
                or n < tr.n):
            st, meta = self._map_state()
            t, a = self._nav_copy()
            meta["base_id"] = ckpt_files.new_base_id()
            tr = ckpt_files.Tracker(path, vm, self.nav, np.ascontiguousarray(st["acc"][:, :2]), n, len(self.nav),
                                    meta["base_id"], compact_ratio=compact_ratio, blocks=len(self._blocks))
            self._ckpt = tr
            return ckpt_files.base_writer(tr, st, t, a, meta)
        tr.grow(n)
        ids = ckpt_files.changed_since(vm.acc, tr.snap, tr.n, n)
        # From the first row a late sample shifted (or the last row, as before), so a restore matches.
        start = max(min(tr.nav_n - 1, self.nav.rewritten_from), 0)
        self.nav.rewritten_from = 1 << 62
        t, a = self.nav.arrays()
        arrays = {"ids": ids, "vkey": vm.vkey[ids], "acc": vm.acc[ids], "nav_t": t[start:].copy(),
                  "nav_a": a[start:].copy()}
        t0 = None
        if self._times_known and self.visits is not None:  # a hit changes the counts: the same voxels
            arrays["seen_first"], arrays["seen_last"] = self.visits.at(ids)
            t0 = self.visits.t0_ns
        if (kept := self._kept()) is not None:  # those kept since the previous checkpoint
            arrays.update(ckpt_files.pack_returns(kept[tr.blocks:]))
            tr.blocks = len(kept)
        meta = {"n": n, "nav_start": start, "stats": dict(self.stats), "drops": self._ckpt_meta()["drops"],
                "seen_t0_ns": t0}
        tr.n, tr.nav_n = n, len(self.nav)
        return ckpt_files.delta_writer(tr, arrays, meta)

    def checkpoint_snapshot(self) -> Callable[[str | Path], None]:
        """What :meth:`checkpoint` would write now, as a function that writes it later (from any
        thread, while this reconstructor goes on changing): pending pings are fused here, then the
        map, navigation, stats and drops are copied. The live map and queues are not touched by the
        writer, and the file is the full base format, as :meth:`checkpoint` writes it."""
        self._live_only("checkpoint")
        self._process(final=False, force=True)
        st, meta = self._map_state()  # copies; fresh dicts and lists
        t, a = self._nav_copy()

        def write(path: str | Path) -> None:
            ckpt_files.write_base(Path(path), st, t, a, {**meta, "base_id": ckpt_files.new_base_id()})
            ckpt_files.delta_path(path).unlink(missing_ok=True)

        return write

    @property
    def last_extract_s(self) -> float:
        """Seconds the last incremental surface update spent finding and extracting changed cells."""
        last = self._surface.last
        return float(last.get("find_s", 0.0)) + float(last.get("extract_s", 0.0))

    def restore(self, path: str | Path) -> None:
        """Load a checkpoint written by :meth:`checkpoint` or :meth:`checkpoint_incremental` (base and
        the valid records of its delta log; replaces the current map). Further incremental
        checkpoints to ``path`` append to its log."""
        ck = ckpt_files.load(path)
        st, meta = ck["state"], ck["meta"]
        if abs(float(st["voxel_size"]) - self.config.voxel_size) > 1e-12:
            raise HullscanError(f"{path}: checkpoint voxel size {float(st['voxel_size'])} m differs from "
                                f"the configured {self.config.voxel_size} m")
        self.map = VoxelMap.from_state(st)
        # When each voxel was seen, where the checkpoint kept it (written with recon.seen_times on);
        # a checkpoint without them leaves the map without times: what it saw before the restart
        # can no longer be told apart, and half the times would undercount passes silently.
        self.visits, self._times_known = None, False
        t0 = meta.get("seen_t0_ns")
        if self.config.seen_times and t0 is not None and all(k in st for k in ckpt_files.SEEN):
            self.visits, self._times_known = VoxelVisits.from_arrays(int(t0), st["seen_first"], st["seen_last"]), True
        self._surface = self._new_surface()
        self.nav = NavBuffer(self.config.max_nav_gap_s, self.config.max_speed_mps,
                             self.config.nav_depth_smoothing_s)
        self.nav.load(ck["nav_t"], ck["nav_a"])
        self.stats.update(meta["stats"])
        for w, r, n, ex in meta["drops"]:
            self.drops.counts[(w, r)] = n
            self.drops.examples[(w, r)] = ex
        self.restored = {"deltas": ck["deltas"], "ignored_bytes": ck["ignored_bytes"]}
        # The survey's returns before the restart, where the checkpoint kept them (to correct drift at the end).
        kept = all(k in st for k in ckpt_files.RETURNS)
        if self._kept() is not None:
            blocks = ckpt_files.unpack_returns([st]) if kept else []
            for blk in blocks:  # new pings share their sonar's beam directions again
                self._dirs[blk.frame_id] = blk.dirs
            self._blocks = blocks
        self._returns_complete = kept and bool(meta.get("returns_complete"))
        self._ckpt = None
        if ck["base_id"] is not None:
            n = self.map.n
            self._ckpt = ckpt_files.Tracker(Path(path), self.map, self.nav, np.ascontiguousarray(st["acc"][:n, :2]),
                                            n, len(self.nav), ck["base_id"], base_bytes=Path(path).stat().st_size,
                                            log_end=ck["log_bytes"], seq=ck["deltas"], blocks=len(self._blocks))


# --------------------------------------------------------------------------- batch


def warmup() -> float:
    """Compile (or load from cache) every kernel; returns the seconds it took."""
    t0 = time.perf_counter()
    quiet = logging.getLogger("hullscan")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the toy input below drops returns on purpose
    try:
        _warm_inputs()
    finally:
        quiet.setLevel(level)
    return time.perf_counter() - t0


def _warm_inputs() -> None:
    rec = Reconstructor(ReconConfig(chunk_pings=2))
    angles = np.linspace(-1, 1, 8, dtype=np.float32)
    for i in range(3):
        rec.add(NavSample(i * 10**8, np.array([0.0, i * 0.05, 0.0]), np.array([0.0, 0, 0, 1])))
        rec.add(ProfilingPing(i * 10**8, "base_link", angles, np.full(8, 2.0, np.float32), np.ones(8, np.float32)))
    rec.add(ImagingPing(2 * 10**8, "base_link", np.eye(3, dtype=np.float32), np.linspace(0.5, 3, 20),
                        np.ones((20, 3), np.float32)))
    rec.finish()


class SurveySettings(Protocol):
    """What reconstructing a bag reads of the configuration (:class:`hullscan.config.HullscanConfig`
    has it; recon does not import the whole configuration, which assembles recon's own)."""

    @property
    def recon(self) -> ReconConfig: ...

    @property
    def topics(self) -> TopicsConfig: ...


@dataclass(frozen=True)
class ReconSettings:
    """The defaults of :class:`SurveySettings`."""

    recon: ReconConfig = field(default_factory=ReconConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)


def reconstruct_bag(path: str | Path, config: SurveySettings | None = None, progress: bool = True,
                    drift_reference: SurfaceReference | None = None, prefetch: bool = True) -> ReconResult:
    """Reconstruct a whole bag (the same code path as the live mapper); ``drift_reference``: the
    drift-correction reference already loaded (:func:`hullscan.compare.navref.load_drift_reference`);
    ``prefetch``: decode the bag in a second process while this one fuses (same result)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from hullscan.bag import BagReader
    from hullscan.bag.prefetch import prefetched_samples

    config = config or ReconSettings()
    compile_s = warmup()
    t_start = time.perf_counter()
    rec = Reconstructor(config.recon, config.topics, drift_reference, offline=True)
    rec.progress = progress
    with BagReader(path, config.topics) as bag:
        total = sum(c.count for c in bag.plan.choices.values() if c.topic)
        bar = tqdm(total=total, unit="msg", desc="reconstruct", disable=not progress, mininterval=0.5)
        n = 0
        # Log lines during the run go through tqdm.write, so they do not break the progress bar.
        with logging_redirect_tqdm():
            for item in prefetched_samples(bag) if prefetch else bag.samples():
                rec.add(item)
                n += 1
                if n % 256 == 0:
                    bar.update(256)
            bar.update(n % 256)
        bar.close()
        rec.drops.merge(bag.drops)
    res = rec.finish()
    log.info("%s", res.drops.routine_summary())
    total_s = time.perf_counter() - t_start
    timings = dict(res.timings_s)
    timings["read_bag"] = max(0.0, total_s - sum(timings.values()))
    timings["total"] = total_s
    timings["numba_compile"] = compile_s
    return ReconResult(res.cloud, res.trajectory, res.drops, timings, res.stats, res.hull_to_nav, res.registration,
                       res.along)


__all__ = ["ReconResult", "Reconstructor", "reconstruct_bag", "warmup"]
