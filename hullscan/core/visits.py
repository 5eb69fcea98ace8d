"""When each voxel was seen: the first and the last return that fell in it, and passes counted from them.

Evidence across passes (a protrusion two lanes saw is surer than one a single lane saw) needs
to know, for a place on the hull, at which times the survey's returns came from it. The voxel
map's sums keep no time, and keeping a pass id per return would cost memory per return; two
float32 times per voxel (seconds since the survey's first ping) cost 8 bytes a voxel and answer
the question that matters: were the returns of this place gathered at one time or at times far
apart? A multibeam sees a spot of the hull for a second or two as it passes (its footprint along
the track over the vehicle's speed); a lane that comes back to it does so after a turn, tens of
seconds later. :func:`count_passes` groups the first and last times of a set of surface points
(a finding's) by gaps longer than a pass could last.

Kept beside the map (:class:`VoxelVisits`, indexed by voxel id), filled by :meth:`VoxelVisits.mark`
after each fusion call from the same points, so the fusion kernels are untouched.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hullscan.core.voxelmap import VoxelMap, _find


@njit(cache=True, nogil=True)
def _mark(table: NDArray[np.int64], points: NDArray[np.float64], t: NDArray[np.float32], inv: float,
          first: NDArray[np.float32], last: NDArray[np.float32]) -> int:
    """Earliest and latest ``t`` per voxel of ``points`` (the voxel ids are the map's); returns how
    many points fell in no voxel of the map (none, when called right after fusing them)."""
    missing = 0
    # Neighbouring beams of a ping often land in the same voxel: the last lookup is kept (as _fuse does).
    lx, ly, lz, v = -(1 << 40), 0, 0, -1
    for i in range(points.shape[0]):
        ix, iy, iz = int(np.floor(points[i, 0] * inv)), int(np.floor(points[i, 1] * inv)), int(np.floor(points[i, 2] * inv))
        if ix != lx or iy != ly or iz != lz:
            v = _find(table, ix, iy, iz)
            lx, ly, lz = ix, iy, iz
        if v < 0:
            missing += 1
            continue
        ti = t[i]
        if ti < first[v]:
            first[v] = ti
        if ti > last[v]:
            last[v] = ti
    return missing


@njit(cache=True, nogil=True)
def _update(ids: NDArray[np.int64], t: NDArray[np.float32], first: NDArray[np.float32],
            last: NDArray[np.float32]) -> None:
    """Earliest and latest ``t`` per voxel id of ``ids`` (the ids already looked up; -1 skipped).
    The min/max is :func:`_mark`'s, written out again on purpose: a shared njit helper made this
    kernel 3x slower and ``_mark`` 30 % (3 M returns: 0.076 against 0.027 s, 0.143 against 0.110 s)."""
    for i in range(ids.shape[0]):
        v = ids[i]
        if v < 0:
            continue
        ti = t[i]
        if ti < first[v]:
            first[v] = ti
        if ti > last[v]:
            last[v] = ti


class VoxelVisits:
    """First and last time (float32 s since ``t0_ns``) each voxel of a :class:`VoxelMap` was hit.

    ``first`` and ``last`` (capacity,) are indexed by voxel id (the map's insertion order); a voxel
    never marked has first +inf and last -inf."""

    def __init__(self, t0_ns: int) -> None:
        self.t0_ns = int(t0_ns)
        self.first = np.full(0, np.inf, np.float32)
        self.last = np.full(0, -np.inf, np.float32)

    @classmethod
    def from_arrays(cls, t0_ns: int, first: NDArray[np.floating], last: NDArray[np.floating]) -> VoxelVisits:
        """Visits of a map's voxels 0..n-1 as saved (each (n,), s since ``t0_ns``: a checkpoint's)."""
        f, la = np.asarray(first, np.float32), np.asarray(last, np.float32)
        if f.ndim != 1 or f.shape != la.shape:
            raise ValueError(f"VoxelVisits.from_arrays: first and last (n,), got {f.shape} and {la.shape}")
        v = cls(t0_ns)
        v._grow(f.shape[0])
        v.first[: f.shape[0]], v.last[: f.shape[0]] = f, la
        return v

    def _grow(self, n: int) -> None:
        if n <= len(self.first):
            return
        cap = max(n, 2 * len(self.first), 1 << 14)
        first, last = np.full(cap, np.inf, np.float32), np.full(cap, -np.inf, np.float32)
        first[: len(self.first)], last[: len(self.last)] = self.first, self.last
        self.first, self.last = first, last

    def mark(self, vm: VoxelMap, points: NDArray[np.float64], stamps_ns: NDArray[np.int64]) -> int:
        """Record that returns ``points`` (M, 3), already fused into ``vm``, were taken at
        ``stamps_ns`` (M,). Returns the number of points outside every voxel of the map (0 when
        they were just fused)."""
        points = np.ascontiguousarray(points, np.float64)
        stamps_ns = np.asarray(stamps_ns, np.int64)
        if points.ndim != 2 or points.shape[1] != 3 or stamps_ns.shape != (points.shape[0],):
            raise ValueError(f"VoxelVisits.mark: points (M, 3) and stamps (M,), got {points.shape} and {stamps_ns.shape}")
        self._grow(vm.n)
        t = ((stamps_ns - self.t0_ns) * 1e-9).astype(np.float32)
        return int(_mark(vm.table, points, t, 1.0 / vm.voxel_size, self.first, self.last))

    def mark_ids(self, voxel_ids: NDArray[np.int64], stamps_ns: NDArray[np.int64]) -> None:
        """:meth:`mark` for returns whose voxel ids (M,; -1: none) the caller has looked up already
        (the tiled path does, to order its voxels), taken at ``stamps_ns`` (M,)."""
        ids = np.ascontiguousarray(voxel_ids, np.int64)
        stamps_ns = np.asarray(stamps_ns, np.int64)
        if ids.shape != stamps_ns.shape or ids.ndim != 1:
            raise ValueError(f"VoxelVisits.mark_ids: ids (M,) and stamps (M,), got {ids.shape} and {stamps_ns.shape}")
        self._grow(int(ids.max()) + 1 if len(ids) else 0)
        _update(ids, ((stamps_ns - self.t0_ns) * 1e-9).astype(np.float32), self.first, self.last)

    def at(self, voxel_ids: NDArray[np.int64]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(first, last) seconds of the voxels ``voxel_ids`` (K,), each (K,)."""
        ids = np.asarray(voxel_ids, np.int64)
        self._grow(int(ids.max()) + 1 if len(ids) else 0)
        return self.first[ids].copy(), self.last[ids].copy()


def mark_reference(vm: VoxelMap, points: NDArray[np.float64], t: NDArray[np.float32]
                   ) -> dict[int, tuple[float, float]]:
    """:func:`_mark` in plain numpy: {voxel id: (first, last)} of ``points`` (M, 3) at ``t`` (M,)."""
    ids = vm.lookup(np.floor(np.asarray(points, np.float64) / vm.voxel_size).astype(np.int64))
    out: dict[int, tuple[float, float]] = {}
    for v in np.unique(ids[ids >= 0]):
        tv = np.asarray(t)[ids == v]
        out[int(v)] = (float(tv.min()), float(tv.max()))
    return out


def count_passes(first_s: NDArray[np.floating], last_s: NDArray[np.floating], gap_s: float,
                 min_points: int = 1) -> int:
    """Separate passes that saw a set of surface points: ``len(`` :func:`pass_starts` ``)``; 0 when no
    time is known."""
    return len(pass_starts(first_s, last_s, gap_s, min_points))


def pass_starts(first_s: NDArray[np.floating], last_s: NDArray[np.floating], gap_s: float,
                min_points: int = 1) -> NDArray[np.float64]:
    """When each separate pass that saw a set of surface points (K of them) first saw one of them (s,
    ascending). The points' first and last times (each (K,), s; non-finite ignored) are grouped
    wherever consecutive times lie more than ``gap_s`` apart. A group counts as a pass when at least
    ``min_points`` of the points were seen in it (first or last time there): the fringe of a lane's
    swath that grazed the place with a few far returns did not see it the way the detector asks of a
    finding. A lower bound on the passes (a voxel seen three times keeps its first and last only);
    where times are known but no group holds ``min_points``, the group that holds the most; empty when
    no time is known."""
    first = np.asarray(first_s, np.float64)
    last = np.asarray(last_s, np.float64)
    ok = np.isfinite(first) & np.isfinite(last)
    first, last = first[ok], last[ok]
    if not len(first):
        return np.zeros(0)
    t = np.sort(np.concatenate([first, last]))
    # Group g starts at starts[g]; a point is a member of the group its first time falls in, and of
    # the one its last time falls in when that is another.
    starts = t[np.r_[0, np.flatnonzero(np.diff(t) > gap_s) + 1]]
    g_first = np.searchsorted(starts, first, side="right") - 1
    g_last = np.searchsorted(starts, last, side="right") - 1
    members = np.bincount(g_first, minlength=len(starts)) + np.bincount(g_last[g_last != g_first],
                                                                         minlength=len(starts))
    counted = members >= min_points
    if not counted.any():
        counted[int(np.argmax(members))] = True
    return np.asarray(starts[counted], np.float64)
