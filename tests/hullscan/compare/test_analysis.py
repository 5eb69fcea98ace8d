"""Vectorised analysis helpers against numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hullscan.compare.analysis import row_nanmedian


@pytest.mark.parametrize("k", [1, 2, 5, 9, 10])
def test_row_nanmedian_matches_numpy(k):
    rng = np.random.default_rng(k)
    a = rng.normal(size=(5000, k))
    a[rng.random(a.shape) < 0.4] = np.nan
    a[rng.random(a.shape) < 0.01] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        want = np.nanmedian(a, axis=1)
    assert np.array_equal(row_nanmedian(a), want, equal_nan=True)
