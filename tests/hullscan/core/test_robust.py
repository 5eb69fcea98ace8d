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


def _weighted_median_reference(values: np.ndarray, weights: np.ndarray) -> float:
    """The textbook definition: the value minimising the weighted sum of absolute deviations
    (the least one where a range ties)."""
    costs = [float(np.sum(weights * np.abs(values - c))) for c in values]
    best = min(costs)
    return float(min(v for v, c in zip(values, costs, strict=True) if c <= best + 1e-12))


def test_group_weighted_median_matches_the_l1_definition_per_group() -> None:
    from hullscan.core.robust import group_weighted_median

    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, 600)
    values = rng.normal(size=600)
    weights = rng.uniform(0.1, 2.0, 600)
    got = group_weighted_median(groups, values, weights, 42)
    for g in range(42):
        sel = groups == g
        if not sel.any():
            assert np.isnan(got[g])
        else:
            assert got[g] == pytest.approx(_weighted_median_reference(values[sel], weights[sel]))


def test_group_weighted_median_ignores_a_heavy_minority_of_outliers() -> None:
    from hullscan.core.robust import group_weighted_median

    values = np.array([0.0, 0.01, -0.01, 0.02, 0.5, 0.6])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 1.5])  # outliers hold 3 of 7
    assert group_weighted_median(np.zeros(6, np.int64), values, weights, 1)[0] == pytest.approx(0.02)
