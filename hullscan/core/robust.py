"""Robust statistics: weights for iteratively reweighted fits (ICP, plane fits), neighbourhood medians."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hullscan.core.chunks import run_chunked

F64 = NDArray[np.float64]


def tukey(r: F64, k: float) -> F64:
    """Tukey's biweight of residuals ``r`` (any shape) with cut-off ``k``: 1 at 0, 0 from ``|r| >= k``
    (a compartment tens of cm off the surface gets no weight in a fit)."""
    u = np.clip(np.abs(r) / k, 0.0, 1.0)
    return (1 - u**2) ** 2


@njit(cache=True, nogil=True)
def _neighbour_nanmedian(values: F64, nb: NDArray[np.int64], out: F64, count: NDArray[np.int64], begin: int,
                         end: int) -> None:
    """Rows ``begin`` to ``end``: the median of ``values[nb[i]]`` (neighbours index ``len(values)``
    where missing) that are not NaN into ``out``, NaN where none is, and how many were into
    ``count``; each row insertion-sorted in a buffer of K (K is small: a median filter's cells)."""
    m_all = len(values)
    k = nb.shape[1]
    buf = np.empty(k)
    for i in range(begin, end):
        n = 0
        for j in range(k):
            t = nb[i, j]
            if t < 0 or t >= m_all:
                continue
            v = values[t]
            if v != v:  # NaN
                continue
            m = n
            while m > 0 and buf[m - 1] > v:
                buf[m] = buf[m - 1]
                m -= 1
            buf[m] = v
            n += 1
        count[i] = n
        out[i] = np.nan if n == 0 else 0.5 * (buf[(n - 1) // 2] + buf[n // 2])


def neighbour_nanmedian(values: F64, nb: NDArray[np.int64]) -> tuple[F64, NDArray[np.int64]]:
    """Per row of ``nb`` (M, K: indices into ``values`` (N,), ``N`` where there is no neighbour, as
    :func:`hullscan.core.grid.voxel_knn` gives them): the median of those neighbours' ``values`` that
    are not NaN, NaN where none is (M,), and how many there were (M,). As
    ``np.nanmedian(values_padded[nb], axis=1)``, without the (M, K) gather: at K = 28 (a 15 cm median
    over 5 cm cells) the gather and numpy's row sort took 2 s for 1.5 M cells. Threads over row chunks."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    idx = np.ascontiguousarray(nb, dtype=np.int64)
    if v.ndim != 1 or idx.ndim != 2:
        raise ValueError(f"neighbour_nanmedian: expected values (N,) and nb (M, K), got {v.shape} and {idx.shape}")
    out = np.empty(len(idx))
    count = np.empty(len(idx), np.int64)
    run_chunked(len(idx), lambda lo, hi: _neighbour_nanmedian(v, idx, out, count, lo, hi), 100_000)
    return out, count


def group_weighted_median(groups: NDArray[np.int64], values: F64, weights: F64, n_groups: int) -> F64:
    """The weighted median of ``values`` (N,) per group id ``groups`` (N,; 0..``n_groups``-1) with
    ``weights`` (N,; > 0): the least value whose cumulative weight within its group reaches half
    the group's total; NaN for empty groups (n_groups,). The L1 fit of a constant: half the weight
    can be outliers before it moves (a compartment among the plating it sits on)."""
    out = np.full(n_groups, np.nan)
    if not len(values):
        return out
    order = np.lexsort((values, groups))
    g, v, w = groups[order], values[order], weights[order]
    total = np.bincount(g, weights=w, minlength=n_groups)
    cum = np.cumsum(w)
    # Cumulative weight within each group: the running sum less everything before the group.
    before = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    within = cum - before[g]
    half = 0.5 * total[g]
    first = (within >= half) & (within - w < half)
    out[g[first]] = v[first]
    return out
