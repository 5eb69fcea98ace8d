"""Smooth interpolation of corrections between a few hundred anchors (block centres)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hullscan.core.chunks import run_chunked

F64 = NDArray[np.float64]


@njit(cache=True, nogil=True)
def _blend_shifts(q: F64, cx: F64, cy: F64, cz: F64, shifts: F64, k: int, sigma: float, out: F64) -> None:
    """Brute-force k nearest of a few hundred block centres (``cx``, ``cy``, ``cz``) per query
    point, Gaussian-weighted blend of their ``shifts`` into ``out``."""
    d2 = np.empty(len(cx))
    bd = np.empty(k)
    bi = np.empty(k, np.int64)
    w = np.empty(k)
    for i in range(q.shape[0]):
        qx, qy, qz = q[i, 0], q[i, 1], q[i, 2]
        for b in range(len(cx)):
            dx = qx - cx[b]
            dy = qy - cy[b]
            dz = qz - cz[b]
            d2[b] = dx * dx + dy * dy + dz * dz
        m = 0
        for b in range(len(cx)):
            v = d2[b]
            if m < k:
                j = m
                m += 1
            elif v < bd[k - 1]:
                j = k - 1
            else:
                continue
            while j > 0 and bd[j - 1] > v:  # the k nearest, sorted; the earlier block first on ties
                bd[j] = bd[j - 1]
                bi[j] = bi[j - 1]
                j -= 1
            bd[j] = v
            bi[j] = b
        total = 0.0
        for j in range(k):
            r = np.sqrt(bd[j]) / sigma
            w[j] = np.exp(-0.5 * r * r) + 1e-12
            total += w[j]
        sx = sy = sz = 0.0
        for j in range(k):
            wj = w[j] / total
            sx += wj * shifts[bi[j], 0]
            sy += wj * shifts[bi[j], 1]
            sz += wj * shifts[bi[j], 2]
        out[i, 0] = sx
        out[i, 1] = sy
        out[i, 2] = sz


def _blend_shifts_numpy(points: F64, centres: F64, shifts: F64, k: int, sigma: float) -> F64:
    """Plain numpy (cKDTree) reference of :func:`blend_shifts`."""
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(centres).query(points, k=k, workers=-1)
    dist, idx = np.atleast_2d(dist.T).T, np.atleast_2d(idx.T).T
    w = np.exp(-0.5 * (dist / sigma) ** 2) + 1e-12
    w /= w.sum(axis=1, keepdims=True)
    out: F64 = np.einsum("ij,ijk->ik", w, shifts[idx])
    return out


def blend_shifts(points: F64, centres: F64, shifts: F64, k: int, sigma: float) -> F64:
    """(N, 3) blend of the translations ``shifts`` (B, 3) of the ``k`` block ``centres`` (B, 3) nearest
    each point, weighted by a Gaussian of the distance (``sigma`` m)."""
    p = np.ascontiguousarray(points, dtype=np.float64)
    c = np.ascontiguousarray(centres, dtype=np.float64)
    sh = np.ascontiguousarray(shifts, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or c.ndim != 2 or c.shape[1] != 3 or sh.shape != c.shape:
        raise ValueError(f"blend_shifts: expected points (N, 3), centres and shifts (B, 3); got {p.shape}, "
                         f"{c.shape}, {sh.shape}")
    if not 1 <= k <= len(c) or not sigma > 0:
        raise ValueError(f"blend_shifts: need 1 <= k <= {len(c)} blocks and sigma > 0 m, got k={k}, sigma={sigma}")
    out = np.empty(p.shape)
    cx, cy, cz = (np.ascontiguousarray(c[:, j]) for j in range(3))
    # nogil kernel: large queries in a few chunks on threads.
    run_chunked(len(p), lambda lo, hi: _blend_shifts(p[lo:hi], cx, cy, cz, sh, int(k), float(sigma), out[lo:hi]),
                50_000)
    return out
