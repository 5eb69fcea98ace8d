"""Voxel keys and their groups: the grid hashing every stage shares.

A point's voxel of size ``size`` m is packed into one int64 key (21 bits per axis, offset so
that negative coordinates pack too); grouping the keys gives each voxel's first point, each
point's voxel and the counts, in linear passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hullscan.core.chunks import run_chunked

F64 = NDArray[np.float64]


# ------------------------------------------------------------------ voxel keys and groups
# 5 M-point clouds go through voxel grouping several times per inspection (alignment, two drift
# passes, their blend, the analysis cells): two linear numba passes replace numpy's floor / astype /
# strided column minimum and np.unique's O(N log N) stable sort (about 3 s -> 0.3 s per call there).

_KEY_BITS = 21


@njit(cache=True, nogil=True)
def _voxel_keys(points: F64, size: float, out: NDArray[np.int64]) -> int:  # noqa: C901 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
    """Fill ``out`` (N,) with the voxel key of each point; 0 on success, 1 if an axis spans
    ``1 << 21`` voxels or more, 2 on a non-finite coordinate."""
    n = points.shape[0]
    if n == 0:
        return 0
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for j in range(3):
        v = points[0, j]
        if not np.isfinite(v):
            return 2
        f = np.floor(v / size)
        if abs(f) > 4.0e18:
            return 1
        lo[j] = np.int64(f)
        hi[j] = lo[j]
    for i in range(n):
        for j in range(3):
            v = points[i, j]
            if not np.isfinite(v):
                return 2
            f = np.floor(v / size)
            if abs(f) > 4.0e18:
                return 1
            k = np.int64(f)
            if k < lo[j]:
                lo[j] = k
            elif k > hi[j]:
                hi[j] = k
    for j in range(3):
        if hi[j] - lo[j] >= (1 << _KEY_BITS):
            return 1
    for i in range(n):
        kx = np.int64(np.floor(points[i, 0] / size)) - lo[0]
        ky = np.int64(np.floor(points[i, 1] / size)) - lo[1]
        kz = np.int64(np.floor(points[i, 2] / size)) - lo[2]
        out[i] = (kx << 42) | (ky << 21) | kz
    return 0


def _voxel_keys_numpy(points: F64, size: float) -> NDArray[np.int64]:
    """Plain numpy reference of :func:`voxel_keys`."""
    if not len(points):
        return np.zeros(0, np.int64)
    k = np.floor(points / size).astype(np.int64)
    k -= k.min(axis=0)
    if k.max(initial=0) >= 1 << _KEY_BITS:
        raise ValueError(f"cloud spans more than {(1 << _KEY_BITS) * size:.0f} m at {size} m voxels")
    return (k[:, 0] << 42) | (k[:, 1] << 21) | k[:, 2]


def voxel_keys(points: F64, size: float) -> NDArray[np.int64]:
    """One int64 per voxel of ``size`` m (21 bits per axis, lexicographic in x, y, z voxel index)."""
    p = np.ascontiguousarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"voxel_keys: expected points (N, 3), got {p.shape}")
    if not size > 0:
        raise ValueError(f"voxel_keys: voxel size must be > 0 m, got {size}")
    out = np.empty(len(p), np.int64)
    err = _voxel_keys(p, float(size), out)
    if err == 1:
        raise ValueError(f"cloud spans more than {(1 << _KEY_BITS) * size:.0f} m at {size} m voxels")
    if err == 2:
        raise ValueError("voxel_keys: points hold non-finite coordinates")
    return out


@njit(cache=True, nogil=True)
def _first_of_groups(keys: NDArray[np.int64], table_keys: NDArray[np.int64], table_ids: NDArray[np.int64],
                     first: NDArray[np.int64], inverse: NDArray[np.int64]) -> int:
    """Open-addressing hash grouping: ``first[g]`` is the first index of group ``g`` (groups numbered
    in order of first appearance), ``inverse[i]`` the group of ``keys[i]``. ``table_ids`` must be
    all -1 and a power of two long. Returns the number of groups, or -1 when the table got half full."""
    mask = np.uint64(len(table_ids) - 1)
    mult = np.uint64(0x9E3779B97F4A7C15)
    shift = np.uint64(29)
    one = np.uint64(1)
    limit = len(table_ids) // 2
    n = 0
    for i in range(len(keys)):
        k = keys[i]
        if i > 0 and k == keys[i - 1]:  # scan order: neighbouring points often share a voxel
            inverse[i] = inverse[i - 1]
            continue
        h = np.uint64(k) * mult
        s = (h ^ (h >> shift)) & mask
        while True:
            g = table_ids[s]
            if g < 0:
                if n >= limit:
                    return -1
                table_ids[s] = n
                table_keys[s] = k
                first[n] = i
                inverse[i] = n
                n += 1
                break
            if table_keys[s] == k:
                inverse[i] = g
                break
            s = (s + one) & mask
    return n


def _group_keys_numpy(keys: NDArray[np.int64], sort: bool = True) -> tuple[NDArray[np.int64], ...]:
    """Plain numpy reference of :func:`group_keys`."""
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    first, inverse = first.astype(np.int64), inverse.ravel().astype(np.int64)
    if not sort:  # renumber groups in order of first appearance
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        first, inverse, counts = first[order], rank[inverse], counts[order]
    return first, inverse, counts.astype(np.int64)


def group_keys(keys: NDArray[np.int64], sort: bool = True
               ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """``(first, inverse, counts)`` of the distinct values of ``keys`` (N,) int64.

    ``sort``: groups in ascending key order, exactly as ``np.unique(keys, return_index=True,
    return_inverse=True, return_counts=True)`` returns them; otherwise in order of first
    appearance (``first`` then ascends: ``points[first]`` keeps the input order).
    """
    k = np.ascontiguousarray(keys)
    if k.ndim != 1 or k.dtype != np.int64:
        raise ValueError(f"group_keys: expected int64 keys (N,), got {k.dtype} {k.shape}")
    n = len(k)
    first = np.empty(n, np.int64)
    inverse = np.empty(n, np.int64)
    size = 1 << max(10, int(np.ceil(np.log2(max(1, 2 * n if n < (1 << 20) else n // 2)))))
    while True:
        table_ids = np.full(size, -1, np.int64)
        u = _first_of_groups(k, np.empty(size, np.int64), table_ids, first, inverse)
        if u >= 0:
            break
        size *= 4
    first = first[:u]
    if sort:
        order = np.argsort(k[first])
        rank = np.empty(u, np.int64)
        rank[order] = np.arange(u)
        first, inverse = first[order], rank[inverse]
    return first, inverse, np.bincount(inverse, minlength=u).astype(np.int64)


@njit(cache=True, nogil=True)
def _voxel_knn(p: F64, keys: NDArray[np.int64], col_keys: NDArray[np.int64], col_start: NDArray[np.int64],  # noqa: C901 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
               k: int, r2: float, reach: int, c_begin: int, c_end: int, out: NDArray[np.int64]) -> None:
    """k nearest (squared distance < ``r2``) of each voxel mean ``p`` among all, searching the
    voxels within ``reach`` of its own. ``keys`` ascending (x, then y, then z); a column (x, y)
    is one run of them, starting at ``col_start`` (C + 1,) with key ``col_keys`` (C,). ``out``
    (M, k): indices by distance, M where fewer are in range; filled for columns ``c_begin`` to
    ``c_end`` (exclusive)."""
    m_all = p.shape[0]
    n_cols = len(col_keys)
    zmask = np.int64((1 << 21) - 1)
    span = 2 * reach + 1
    nbr = np.empty(span * span, np.int64)
    ptr = np.empty(span * span, np.int64)
    cptr = np.zeros(span, np.int64)  # per x offset: first column not before the window (only moves on)
    bd = np.empty(k)
    bi = np.empty(k, np.int64)
    for c in range(c_begin, c_end):
        cx = col_keys[c] >> 21
        cy = col_keys[c] & zmask
        nn = 0
        for a in range(span):
            x = cx + a - reach
            if x < 0:
                continue
            lo_key = (x << 21) | max(cy - reach, 0)
            hi_key = (x << 21) | min(cy + reach, zmask)
            while cptr[a] < n_cols and col_keys[cptr[a]] < lo_key:
                cptr[a] += 1
            q = cptr[a]
            while q < n_cols and col_keys[q] <= hi_key:
                nbr[nn] = q
                ptr[nn] = col_start[q]
                nn += 1
                q += 1
        for i in range(col_start[c], col_start[c + 1]):  # ascending z: the pointers only move on
            z = keys[i] & zmask
            m = 0
            for j in range(nn):
                end = col_start[nbr[j] + 1]
                while ptr[j] < end and (keys[ptr[j]] & zmask) < z - reach:
                    ptr[j] += 1
                q = ptr[j]
                while q < end and (keys[q] & zmask) <= z + reach:
                    dx = p[q, 0] - p[i, 0]
                    dy = p[q, 1] - p[i, 1]
                    dz = p[q, 2] - p[i, 2]
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 < r2 and (m < k or d2 < bd[k - 1]):
                        t = m if m < k else k - 1
                        if m < k:
                            m += 1
                        while t > 0 and bd[t - 1] > d2:
                            bd[t] = bd[t - 1]
                            bi[t] = bi[t - 1]
                            t -= 1
                        bd[t] = d2
                        bi[t] = q
                    q += 1
            for t in range(k):
                out[i, t] = bi[t] if t < m else m_all


def _voxel_knn_numpy(points: F64, k: int, radius: float) -> NDArray[np.int64]:
    """Plain (cKDTree) reference of :func:`voxel_knn`."""
    from scipy.spatial import cKDTree

    _, nb = cKDTree(points).query(points, k=k, distance_upper_bound=radius, workers=-1)
    return np.asarray(nb, dtype=np.int64).reshape(len(points), k)


def voxel_knn(points: F64, keys: NDArray[np.int64], size: float, k: int, radius: float) -> NDArray[np.int64]:
    """(M, k) indices of the ``k`` nearest of ``points`` (themselves included) closer than ``radius``
    m, nearest first, M where fewer are; as ``cKDTree.query(points, k, distance_upper_bound=radius)``.

    ``points`` are the means of the voxels of ``size`` m whose :func:`voxel_keys` are ``keys``,
    distinct and ascending (``group_keys`` order): each lies in its own voxel, so its neighbours
    are in the voxels around it, found through the sorted keys without building a tree.
    """
    p = np.ascontiguousarray(points, dtype=np.float64)
    kk = np.ascontiguousarray(keys, dtype=np.int64)
    if p.ndim != 2 or p.shape[1] != 3 or kk.shape != (len(p),):
        raise ValueError(f"voxel_knn: expected points (M, 3) and keys (M,), got {p.shape} and {kk.shape}")
    if len(kk) > 1 and not bool(np.all(kk[1:] > kk[:-1])):
        raise ValueError("voxel_knn: keys must be distinct and ascending (group_keys order)")
    if k < 1 or not radius > 0 or not size > 0:
        raise ValueError(f"voxel_knn: need k >= 1, radius > 0 m and size > 0 m; got {k}, {radius}, {size}")
    out = np.empty((len(p), k), np.int64)
    if not len(p):
        return out
    cols = kk >> 21
    start = np.flatnonzero(np.concatenate([[True], cols[1:] != cols[:-1]]))
    col_start = np.concatenate([start, [len(p)]]).astype(np.int64)
    reach = int(np.floor(radius / size)) + 1  # a mean lies in its voxel: no nearer one is further off
    col_keys = np.ascontiguousarray(cols[start])
    # nogil kernel, disjoint rows of out per chunk of columns; as many chunks as the points warrant.
    run_chunked(len(col_keys), lambda c0, c1: _voxel_knn(p, kk, col_keys, col_start, int(k), float(radius) ** 2,
                                                         reach, c0, c1, out), 100_000, size=len(p))
    return out


def voxel_down(points: F64, size: float) -> F64:
    """The first point (in input order) of each voxel of ``size`` m, in input order."""
    first, _, _ = group_keys(voxel_keys(points, size), sort=False)
    return points[first]


def extent(points: F64) -> F64:
    """``np.ptp(points, axis=0)`` without numpy's slow strided column reduction on (N, 3)."""
    if not len(points):
        return np.zeros(points.shape[1] if points.ndim == 2 else 3)
    return np.array([float(np.ptp(points[:, j])) for j in range(points.shape[1])])
