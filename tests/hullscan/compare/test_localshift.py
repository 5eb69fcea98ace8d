"""The local baseline's shift along the ship (hullscan.compare.localshift) on a thruster tunnel's wall."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.compare.analysis import Cells
from hullscan.compare.config import CompareConfig
from hullscan.compare.localshift import local_shift, with_local_shift

STEP = 0.05


def _tunnel(radius: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Cells (points, outward normals) of a tunnel's forward half (axis across the ship at x = 0,
    z = 0; its wall faces aft and up or down: n_x < 0), and of the side plating around its mouth
    (y = -1, facing to starboard), as a survey from one side sees them."""
    ang = np.arange(np.pi / 2 + 0.05, 3 * np.pi / 2 - 0.05, STEP / radius)  # the forward half: x > 0
    ys = np.arange(-1.0, -0.2, STEP)
    a, y = np.meshgrid(ang, ys)
    wall = np.column_stack([-radius * np.cos(a.ravel()) , y.ravel(), radius * np.sin(a.ravel())])
    wall_n = np.column_stack([np.cos(a.ravel()), np.zeros(a.size), -np.sin(a.ravel())])  # towards the axis
    gx, gz = np.meshgrid(np.arange(-2.5, 2.5, STEP), np.arange(-2.0, 2.0, STEP))
    side = np.column_stack([gx.ravel(), np.full(gx.size, -1.0), gz.ravel()])
    side = side[np.hypot(side[:, 0], side[:, 2]) > radius + 0.05]  # the mouth is open
    side_n = np.tile([0.0, -1.0, 0.0], (len(side), 1))
    return np.vstack([wall, side]), np.vstack([wall_n, side_n])


def _cells(points: np.ndarray, normals: np.ndarray, left: np.ndarray, reach: float | None) -> Cells:
    m = len(points)
    unc = np.full(m, 0.01)
    return Cells(points=points, count=np.ones(m, np.int64), sigma=unc, confidence=np.ones(m),
                 of_point=np.arange(m), d=left, base=points, normal=normals, ref_id=np.zeros(m, np.int64),
                 smooth=left, baseline=np.zeros(m), residual=left, zscore=left / unc, judged=np.ones(m, bool),
                 uncertainty=unc, along_reach=None if reach is None else (lambda at: np.full(len(at), reach)))


def test_a_placement_off_along_the_ship_is_taken_out_of_a_tunnels_wall_but_a_pack_on_it_stays():
    points, normals = _tunnel()
    rng = np.random.default_rng(0)
    # The survey placed 8 cm aft of the truth: the forward wall reads proud by 8 cm x |n_x|.
    left = 0.08 * -normals[:, 0] + rng.normal(0, 0.003, len(points))
    on_wall = np.abs(normals[:, 0]) > 0.3
    pack = on_wall & (np.abs(points[:, 1] + 0.6) < 0.2) & (points[:, 2] > 0.1) & (points[:, 2] < 0.5)
    left[pack] += 0.15
    cfg = CompareConfig()
    got = with_local_shift(_cells(points, normals, left, reach=0.2), cfg)
    clean = on_wall & ~pack
    # Before: the wall stood up to 8 cm proud (z-scores of 8); after, within a centimetre.
    assert np.percentile(left[clean], 90) > 0.06
    assert np.percentile(np.abs(got.residual[clean]), 90) < 0.01
    # The pack is outvoted by the wall around it: it keeps its height.
    assert np.median(got.residual[pack]) == pytest.approx(0.15, abs=0.02)
    # Plating facing to starboard is not moved by a shift along the ship.
    side = normals[:, 1] == -1.0
    np.testing.assert_allclose(got.residual[side], left[side])
    np.testing.assert_allclose(got.zscore, got.residual / 0.01)


def test_the_shift_is_kept_within_the_surveys_stated_along_ship_uncertainty():
    points, normals = _tunnel()
    left = 0.08 * -normals[:, 0]
    got = with_local_shift(_cells(points, normals, left, reach=0.03), CompareConfig())
    wall = np.abs(normals[:, 0]) > 0.9
    # 3 cm of the 8 taken out, no more: the rest is left for the detector to weigh.
    np.testing.assert_allclose(got.residual[wall], left[wall] - 0.03 * np.abs(normals[wall, 0]), atol=1e-9)


def test_a_recess_behind_a_grating_is_neither_fitted_nor_moved():
    from dataclasses import replace

    points, normals = _tunnel()
    left = 0.08 * -normals[:, 0]
    recess = (points[:, 1] > -0.6) & (np.abs(normals[:, 0]) > 0.0)  # the inner half, taken for a sea chest
    got = with_local_shift(replace(_cells(points, normals, left, reach=0.2), in_recess=recess), CompareConfig())
    np.testing.assert_array_equal(got.residual[recess], left[recess])
    # The rest of the wall is still fitted on its own.
    wall = ~recess & (np.abs(normals[:, 0]) > 0.3)
    assert np.percentile(np.abs(got.residual[wall]), 90) < 0.01


def test_nothing_changes_without_a_stated_uncertainty_when_off_or_on_plating_facing_sideways():
    points, normals = _tunnel()
    left = 0.08 * -normals[:, 0]
    cells = _cells(points, normals, left, reach=None)
    assert with_local_shift(cells, CompareConfig()) is cells
    off = CompareConfig.model_validate({"detection": {"local_shift": False}})
    cells = _cells(points, normals, left, reach=0.2)
    assert with_local_shift(cells, off) is cells
    side = np.abs(normals[:, 0]) < 0.3
    flat = local_shift(points[side], normals[side, 0], np.full(int(side.sum()), 0.05), CompareConfig())
    assert not flat.any()
