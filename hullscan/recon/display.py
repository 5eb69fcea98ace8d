"""Bounded display clouds: a deterministic spatial thinning of a hull cloud for live viewers.

An operator's 1 Hz view does not need millions of points; the comparator and the final map
use the full cloud. Points are kept by a hash of the voxel they lie in, so the same map gives
the same subset, the subset is spread evenly, and a point once shown mostly stays shown.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hullscan.model import HullCloud

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


def display_indices(points: NDArray[np.float64], max_points: int, cell_m: float) -> NDArray[np.int64]:
    """Rows of ``points`` (N, 3) to show when there are more than ``max_points`` (all rows otherwise).

    Points whose cell hash is below a cut-off are kept, in their original order. The cut-off
    keeps a fraction a little under ``max_points / N``; in the rare case the count is still
    over, the smallest hashes are kept, so the count never exceeds ``max_points``.
    """
    n = int(points.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points <= 0:
        return np.zeros(0, np.int64)
    h = cell_hashes(points, cell_m)
    frac = max_points / n * max(0.5, 1.0 - 4.0 / float(np.sqrt(max_points)))
    idx = np.flatnonzero(h < np.uint64(min(frac, 1.0) * 2.0**64 - 1.0))
    if idx.shape[0] > max_points:
        keep = np.argpartition(h[idx], max_points - 1)[:max_points]
        idx = np.sort(idx[keep])
    return idx.astype(np.int64, copy=False)


def display_cloud(cloud: HullCloud, max_points: int, cell_m: float) -> HullCloud:
    """``cloud`` itself when it has at most ``max_points`` points, else its :func:`display_indices` subset."""
    if len(cloud) <= max_points:
        return cloud
    i = display_indices(cloud.points, max_points, cell_m)
    return HullCloud(cloud.points[i], cloud.normals[i], cloud.confidence[i], cloud.hits[i], cloud.sigma[i],
                     cloud.frame_id)
