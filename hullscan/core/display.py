"""Bounded display clouds: a deterministic spatial thinning of a hull cloud for live viewers.

An operator's 1 Hz view does not need millions of points; the comparator and the final map
use the full cloud. Points are kept by a hash of the voxel they lie in, so the same map gives
the same subset, the subset is spread evenly, and a point once shown mostly stays shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

_M1 = 0xBF58476D1CE4E5B9  # splitmix64 finaliser constants
_M2 = 0x94D049BB133111EB


@njit(cache=True, nogil=True)
def _cell_hashes(points: NDArray[np.float64], inv_cell: float, out: NDArray[np.uint64]) -> None:
    """splitmix64 of each point's 21-bit-per-axis grid cell key, into ``out``."""
    for i in range(points.shape[0]):
        h = np.uint64(0)
        for a in range(3):
            k = np.uint64(np.int64(np.floor(points[i, a] * inv_cell)) & np.int64(0x1FFFFF))
            h = (h << np.uint64(21)) | k
        h ^= h >> np.uint64(30)
        h *= np.uint64(_M1)
        h ^= h >> np.uint64(27)
        h *= np.uint64(_M2)
        h ^= h >> np.uint64(31)
        out[i] = h


def cell_hashes_reference(points: NDArray[np.float64], cell_m: float) -> NDArray[np.uint64]:
    """Plain numpy version of :func:`cell_hashes` (for tests)."""
    k = (np.floor(points * (1.0 / cell_m)).astype(np.int64) & 0x1FFFFF).astype(np.uint64)
    h = (k[:, 0] << np.uint64(42)) | (k[:, 1] << np.uint64(21)) | k[:, 2]
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(30)
        h *= np.uint64(_M1)
        h ^= h >> np.uint64(27)
        h *= np.uint64(_M2)
        h ^= h >> np.uint64(31)
    return h


def cell_hashes(points: NDArray[np.float64], cell_m: float) -> NDArray[np.uint64]:
    """A well-mixed 64-bit hash (N,) of the ``cell_m`` (m) grid cell of each point (N, 3)."""
    p = np.ascontiguousarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"cell_hashes: points must be (N, 3), got {p.shape}")
    if not cell_m > 0:
        raise ValueError(f"cell_hashes: cell_m must be > 0 m, got {cell_m}")
    out = np.empty(p.shape[0], np.uint64)
    _cell_hashes(p, 1.0 / float(cell_m), out)
    return out


def display_cutoff(n: int, max_points: int) -> np.uint64:
    """The hash cut-off of :func:`display_indices` for a cloud of ``n`` > ``max_points`` > 0 points:
    a fraction a little under ``max_points / n`` of the cells is kept."""
    frac = max_points / n * max(0.5, 1.0 - 4.0 / float(np.sqrt(max_points)))
    return np.uint64(min(frac, 1.0) * 2.0**64 - 1.0)


def limit_indices(idx: NDArray[np.int64], h: NDArray[np.uint64], max_points: int) -> NDArray[np.int64]:
    """``idx`` (ascending) itself, or when it holds over ``max_points`` rows, the ``max_points`` with the
    smallest hashes ``h`` (one per row of ``idx``), ascending."""
    if idx.shape[0] > max_points:
        keep = np.argpartition(h, max_points - 1)[:max_points]
        idx = np.sort(idx[keep])
    return idx.astype(np.int64, copy=False)


@njit(cache=True, nogil=True)
def _surface_below(reason: NDArray[np.int8], hashes: NDArray[np.uint64], cut: np.uint64,
                   out: NDArray[np.int64]) -> int:
    """Ids ``i`` with ``reason[i] == 0`` and ``hashes[i] < cut``, ascending, into ``out``; their count."""
    c = 0
    for i in range(reason.shape[0]):
        if reason[i] == 0 and hashes[i] < cut:
            out[c] = i
            c += 1
    return c


def surface_below(reason: NDArray[np.int8], hashes: NDArray[np.uint64], cut: np.uint64) -> NDArray[np.int64]:
    """Voxels kept as surface (``reason`` (N,) int8 == 0) whose cell hash (``hashes`` (N,) uint64) is
    under ``cut``, ascending: the display subset of a surface cache without gathering the surface."""
    if reason.ndim != 1 or hashes.shape != reason.shape:
        raise ValueError(f"surface_below: reason and hashes must be (N,) alike, got {reason.shape} and {hashes.shape}")
    if reason.dtype != np.int8 or hashes.dtype != np.uint64:
        raise ValueError(f"surface_below: need int8 reason and uint64 hashes, got {reason.dtype} and {hashes.dtype}")
    out = np.empty(reason.shape[0], np.int64)
    c = _surface_below(np.ascontiguousarray(reason), np.ascontiguousarray(hashes), np.uint64(cut), out)
    return out[:c].copy()


def surface_below_reference(reason: NDArray[np.int8], hashes: NDArray[np.uint64], cut: np.uint64) -> NDArray[np.int64]:
    """Plain numpy version of :func:`surface_below` (for tests)."""
    return np.flatnonzero((reason == 0) & (hashes < np.uint64(cut))).astype(np.int64)


def display_indices(points: NDArray[np.float64], max_points: int, cell_m: float) -> NDArray[np.int64]:
    """Rows of ``points`` (N, 3) to show when there are more than ``max_points`` (all rows otherwise).

    Points whose cell hash is below a cut-off (:func:`display_cutoff`) are kept, in their original
    order. The cut-off keeps a fraction a little under ``max_points / N``; in the rare case the count
    is still over, the smallest hashes are kept, so the count never exceeds ``max_points``.
    """
    n = int(points.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points <= 0:
        return np.zeros(0, np.int64)
    h = cell_hashes(points, cell_m)
    idx = np.flatnonzero(h < display_cutoff(n, max_points))
    return limit_indices(idx, h[idx], max_points)


# --------------------------------------------------------------------------- packed rows
#
# A hull cloud message (``hullscan.ros.messages.hull_cloud``) is one 40-byte little-endian record per
# point: x y z normal_x normal_y normal_z deviation confidence (float32), hits (int32), sigma (float32);
# where the map kept when each voxel was seen (``hullscan.core.visits``), 48 bytes, with first_seen and
# last_seen (float32 s relative to the message's stamp: -12.5 is 12.5 s before it; NaN: never). Relative
# to the stamp because a float32 of seconds since the epoch resolves only 2 minutes; an age resolves
# a millisecond over an hour. Packing the rows straight from per-voxel arrays skips gathering a cloud
# and copying it into a message.

ROW_FIELDS = ("x", "y", "z", "normal_x", "normal_y", "normal_z", "deviation", "confidence", "hits", "sigma")
ROW_BYTES = 4 * len(ROW_FIELDS)
TIME_FIELDS = ("first_seen", "last_seen")
TIMED_ROW_BYTES = ROW_BYTES + 4 * len(TIME_FIELDS)


@dataclass(frozen=True)
class RowTimes:
    """When each packed row's voxel was first and last seen: ``first_s`` and ``last_s`` (R,)
    float32 s since ``t0_ns``, and the message's ``stamp_ns`` they are written relative to."""

    first_s: NDArray[np.float32]
    last_s: NDArray[np.float32]
    t0_ns: int
    stamp_ns: int

    @property
    def offset_s(self) -> float:
        """Seconds to add to a time since ``t0_ns`` for its age relative to ``stamp_ns``."""
        return (self.t0_ns - self.stamp_ns) * 1e-9


def ages(seconds: NDArray[np.floating], offset_s: float) -> NDArray[np.float32]:
    """Times since an origin (s) as float32 ages relative to a stamp ``offset_s`` after it; NaN
    where not finite (a voxel never seen). The same arithmetic as the packing kernel's."""
    a = (np.asarray(seconds, np.float32).astype(np.float64) + offset_s).astype(np.float32)
    return np.where(np.isfinite(a), a, np.float32(np.nan))


@njit(cache=True, nogil=True)
def _pack_rows(ids: NDArray[np.int64], points: NDArray[np.float64], normals: NDArray[np.float32],
               confidence: NDArray[np.float32], hits: NDArray[np.int32], sigma: NDArray[np.float32],
               seen: NDArray[np.float32], offset_s: float, out_f: NDArray[np.float32],
               out_i: NDArray[np.int32]) -> None:
    """Row ``r`` of ``out_f`` / ``out_i`` (two views of one (R, 10) or (R, 12) buffer) from element
    ``ids[r]``; with 12 columns, the ages of ``seen[r]`` (first and last time, ``offset_s`` added) too."""
    nan = np.float32(np.nan)
    timed = out_f.shape[1] == 12
    for r in range(ids.shape[0]):
        v = ids[r]
        out_f[r, 0] = np.float32(points[v, 0])
        out_f[r, 1] = np.float32(points[v, 1])
        out_f[r, 2] = np.float32(points[v, 2])
        out_f[r, 3] = normals[v, 0]
        out_f[r, 4] = normals[v, 1]
        out_f[r, 5] = normals[v, 2]
        out_f[r, 6] = nan
        out_f[r, 7] = confidence[v]
        out_i[r, 8] = hits[v]
        out_f[r, 9] = sigma[v]
        if timed:
            a = np.float32(np.float64(seen[r, 0]) + offset_s)
            b = np.float32(np.float64(seen[r, 1]) + offset_s)
            out_f[r, 10] = a if np.isfinite(a) else nan
            out_f[r, 11] = b if np.isfinite(b) else nan


def pack_rows(ids: NDArray[np.int64], points: NDArray[np.float64], normals: NDArray[np.float32],
              confidence: NDArray[np.float32], hits: NDArray[np.int32], sigma: NDArray[np.float32],
              out: NDArray[np.uint8], times: RowTimes | None = None) -> None:
    """Write the hull-cloud message rows (:data:`ROW_FIELDS`, deviation NaN; then :data:`TIME_FIELDS`
    where ``times`` is given) of elements ``ids`` (R,) of the per-element arrays (points (N, 3)
    float64 in m, normals (N, 3), confidence, hits, sigma (N,)) into ``out``, a writable
    little-endian byte buffer of R * :data:`ROW_BYTES` (:data:`TIMED_ROW_BYTES`) bytes."""
    n = points.shape[0]
    if points.ndim != 2 or points.shape[1] != 3 or normals.shape != (n, 3) or not (
            confidence.shape == hits.shape == sigma.shape == (n,)):
        raise ValueError(f"pack_rows: need points and normals (N, 3) and confidence, hits, sigma (N,), got "
                         f"{points.shape}, {normals.shape}, {confidence.shape}, {hits.shape}, {sigma.shape}")
    if (points.dtype != np.float64 or normals.dtype != np.float32 or confidence.dtype != np.float32
            or hits.dtype != np.int32 or sigma.dtype != np.float32 or ids.dtype != np.int64 or ids.ndim != 1):
        raise ValueError("pack_rows: need int64 ids, float64 points, float32 normals/confidence/sigma, int32 hits")
    step = ROW_BYTES if times is None else TIMED_ROW_BYTES
    if out.dtype != np.uint8 or out.ndim != 1 or out.shape[0] != ids.shape[0] * step or not out.flags.writeable:
        raise ValueError(f"pack_rows: out must be a writable uint8 buffer of {ids.shape[0] * step} bytes, "
                         f"got {out.dtype} {out.shape}")
    if ids.shape[0] and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"pack_rows: ids outside 0..{n - 1}")
    seen, offset = np.zeros((0, 2), np.float32), 0.0
    if times is not None:
        first, last = np.asarray(times.first_s, np.float32), np.asarray(times.last_s, np.float32)
        if first.shape != ids.shape or last.shape != ids.shape:
            raise ValueError(f"pack_rows: times need one first and last time per row ({ids.shape[0]}), got "
                             f"{first.shape} and {last.shape}")
        seen, offset = np.stack([first, last], axis=1), times.offset_s
    if ids.shape[0] == 0:
        return
    cols = step // 4
    _pack_rows(ids, points, normals, confidence, hits, sigma, seen, offset,
               out.view("<f4").reshape(-1, cols), out.view("<i4").reshape(-1, cols))


def pack_rows_reference(ids: NDArray[np.int64], points: NDArray[np.float64], normals: NDArray[np.float32],
                        confidence: NDArray[np.float32], hits: NDArray[np.int32],
                        sigma: NDArray[np.float32], times: RowTimes | None = None) -> bytes:
    """Plain numpy version of :func:`pack_rows` (for tests): the bytes it writes."""
    names = ROW_FIELDS + (TIME_FIELDS if times is not None else ())
    dt = np.dtype([(k, "<i4" if k == "hits" else "<f4") for k in names])
    rec = np.empty(ids.shape[0], dt)
    p, nr = points[ids], normals[ids]
    for i, k in enumerate(("x", "y", "z")):
        rec[k] = p[:, i]
        rec["normal_" + k] = nr[:, i]
    rec["deviation"] = np.nan
    rec["confidence"], rec["hits"], rec["sigma"] = confidence[ids], hits[ids], sigma[ids]
    if times is not None:
        rec["first_seen"] = ages(times.first_s, times.offset_s)
        rec["last_seen"] = ages(times.last_s, times.offset_s)
    return rec.tobytes()
