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


def _feet(x: tuple[float, float], y: tuple[float, float], step: float = 0.05) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(x[0], x[1] + 1e-9, step), np.arange(y[0], y[1] + 1e-9, step))
    return np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])


def test_two_protrusions_join_across_a_band_not_seen_but_not_across_plating_seen():
    # A 0.9 m wide object astride a lane gap: its two ends seen on either side of a 0.4 m band.
    from types import SimpleNamespace

    from hullscan.compare.analysis import joined_across_unseen

    low, high = _feet((0.0, 0.9), (0.0, 0.15)), _feet((0.0, 0.9), (0.6, 0.8))
    around = np.vstack([_feet((-0.6, -0.1), (-0.5, 1.2)), _feet((1.0, 1.5), (-0.5, 1.2))])  # plating at the ends
    a, b = np.arange(len(low)), len(low) + np.arange(len(high))

    def cells(*parts: np.ndarray) -> SimpleNamespace:
        return SimpleNamespace(base=np.vstack(parts))

    assert joined_across_unseen(cells(low, high, around), a, b, 0.6)
    # Plating seen across the band: two objects.
    assert not joined_across_unseen(cells(low, high, around, _feet((0.0, 0.9), (0.35, 0.4))), a, b, 0.6)
    # Farther apart than the join allows.
    assert not joined_across_unseen(cells(low, high + np.array([0.0, 0.5, 0.0]), around), a, b, 0.6)
