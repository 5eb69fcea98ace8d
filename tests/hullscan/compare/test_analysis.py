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


def test_cell_normals_are_the_unit_mean_of_each_cells_normals():
    from hullscan.compare.analysis import _cell_normals

    rng = np.random.default_rng(2)
    normals = rng.normal(size=(200, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    inv = rng.integers(0, 7, 200)
    got = _cell_normals(normals, inv, 7)
    for k in range(7):
        mean = normals[inv == k].sum(axis=0)
        np.testing.assert_allclose(got[k], mean / np.linalg.norm(mean), atol=1e-12)
