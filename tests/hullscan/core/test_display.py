"""The bounded display cloud for live viewers: thinning kernel vs numpy, bounds, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.display import (
    cell_hashes,
    cell_hashes_reference,
    display_indices,
)
from hullscan.model import HullCloud
from hullscan.recon.display import display_cloud


@pytest.mark.parametrize("seed,cell", [(0, 0.02), (1, 0.05), (2, 1.0)])
def test_cell_hashes_match_reference(seed: int, cell: float) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(-300.0, 300.0, (20_000, 3))
    np.testing.assert_array_equal(cell_hashes(p, cell), cell_hashes_reference(p, cell))


def test_cell_hashes_checks_input() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        cell_hashes(np.zeros((4, 2)), 0.02)
    with pytest.raises(ValueError, match="cell_m"):
        cell_hashes(np.zeros((4, 3)), 0.0)


def _wall(n: int, seed: int = 0) -> HullCloud:
    """A surface-like cloud: one point per 2 cm voxel of a 2-D patch, shuffled rows."""
    side = int(np.ceil(np.sqrt(n)))
    i, j = np.divmod(np.arange(n), side)
    rng = np.random.default_rng(seed)
    p = np.column_stack([0.02 * i + 0.01, 3.0 + rng.normal(0, 0.002, n), -2.0 - 0.02 * j - 0.01])
    p = p[rng.permutation(n)]
    return HullCloud(p, np.tile(np.float32([0, -1, 0]), (n, 1)), rng.random(n).astype(np.float32),
                     rng.integers(1, 9, n).astype(np.int32), np.full(n, 0.01, np.float32))


def test_display_cloud_small_map_is_the_map_itself() -> None:
    c = _wall(5_000)
    assert display_cloud(c, 5_000, 0.02) is c
    assert np.array_equal(display_indices(c.points, 10_000, 0.02), np.arange(5_000))


def test_display_cloud_bounded_deterministic_subset_spread_out() -> None:
    c = _wall(200_000)
    for cap in (1_000, 30_000, 150_000):
        idx = display_indices(c.points, cap, 0.02)
        assert 0.8 * cap <= len(idx) <= cap  # bounded, and close to the budget
        assert np.all(np.diff(idx) > 0)                           # distinct rows, original order
        assert np.array_equal(idx, display_indices(c.points.copy(), cap, 0.02))  # deterministic
        shown = display_cloud(c, cap, 0.02)
        assert len(shown) == len(idx)
        # A subset of the full cloud, every field taken from the same row.
        assert np.array_equal(shown.points, c.points[idx]) and np.array_equal(shown.hits, c.hits[idx])
        assert np.array_equal(shown.confidence, c.confidence[idx]) and np.array_equal(shown.normals, c.normals[idx])
        # Spread over the whole patch: every 0.5 m tile keeps about its share of points.
        tiles = np.floor(shown.points[:, [0, 2]] / 0.5).astype(int)
        _, counts = np.unique(tiles, axis=0, return_counts=True)
        expected = len(idx) * (0.5 / 0.02) ** 2 / len(c)
        assert counts[:-1].min() > 0.5 * expected if cap >= 30_000 else len(counts) > 10
    # Row order does not matter: the same points (shuffled) give the same subset of points.
    perm = np.random.default_rng(1).permutation(len(c))
    a = c.points[display_indices(c.points, 30_000, 0.02)]
    b = c.points[perm][display_indices(c.points[perm], 30_000, 0.02)]
    assert np.array_equal(np.unique(a, axis=0), np.unique(b, axis=0))
