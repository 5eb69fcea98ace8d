"""Robust statistics against numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hullscan.core.robust import neighbour_nanmedian


@pytest.mark.parametrize(("k", "rows"), [(1, 5000), (2, 5000), (5, 5000), (9, 5000), (10, 5000), (28, 5000),
                                         (28, 250_000)])
def test_neighbour_nanmedian_matches_numpy(k: int, rows: int) -> None:
    # 250 k rows take the threaded path (chunks of rows).
    rng = np.random.default_rng(k + rows)
    values = rng.normal(size=rows)
    values[rng.random(rows) < 0.2] = np.nan
    values[rng.random(rows) < 0.01] = np.inf
    values[rng.random(rows) < 0.01] = -np.inf
    nb = rng.integers(0, rows, (rows, k))
    nb[rng.random(nb.shape) < 0.3] = rows  # no neighbour there
    padded = np.append(values, np.nan)[nb]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows, inf - inf
        want = np.nanmedian(padded, axis=1)
    got, count = neighbour_nanmedian(values, nb)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(count, (~np.isnan(padded)).sum(axis=1))


def test_neighbour_nanmedian_rejects_misshapen_input() -> None:
    with pytest.raises(ValueError, match=r"values \(N,\) and nb \(M, K\)"):
        neighbour_nanmedian(np.zeros(4), np.zeros(4, np.int64))
