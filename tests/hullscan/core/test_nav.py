"""Pose interpolation against scipy's Slerp, and the statuses that keep pings off invented poses."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from hullscan.core.nav import (
    NAV_AFTER,
    NAV_BEFORE,
    NAV_GAP,
    NAV_JUMP,
    NAV_OK,
    interpolate_poses,
    slerp,
)


def _record(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.int64) * 100_000_000  # 10 Hz
    rows = np.zeros((n, 13))
    rows[:, 0] = np.arange(n) * 0.05  # 0.5 m/s
    rows[:, 3:7] = Rotation.from_euler("xyz", rng.normal(0, 0.3, (n, 3))).as_quat()
    rows[:, 7:10] = 0.01
    rows[:, 10:13] = 0.001
    return t, rows


def test_slerp_matches_scipy() -> None:
    t, rows = _record()
    w = np.random.default_rng(1).random(len(t) - 1)
    got = slerp(rows[:-1, 3:7], rows[1:, 3:7], w)
    for i, wi in enumerate(w):
        want = Slerp([0.0, 1.0], Rotation.from_quat(rows[i:i + 2, 3:7]))([wi]).as_quat()[0]
        assert min(np.abs(got[i] - want).max(), np.abs(got[i] + want).max()) < 1e-9


def test_positions_linear_and_exact_stamps_exact() -> None:
    t, rows = _record()
    stamps = np.array([t[3], t[3] + 25_000_000, t[-1]])
    pos, quat, sig, att, status = interpolate_poses(t, rows, stamps, 500_000_000, 5.0)
    assert (status == NAV_OK).all()
    assert np.allclose(pos[:, 0], [0.15, 0.1625, rows[-1, 0]])
    assert np.allclose(quat[0], rows[3, 3:7]) and np.allclose(sig, np.sqrt(3) * 0.01)
    assert att.shape == (3,)


def test_statuses_before_after_gap_jump() -> None:
    t, rows = _record()
    t = t.copy()
    t[10:] += 2_000_000_000  # a 2.1 s gap between samples 9 and 10
    rows = rows.copy()
    rows[15:, 0] += 3.0      # a 3 m jump between samples 14 and 15
    stamps = np.array([t[0] - 1, t[-1] + 1, t[9] + 1_000_000_000, t[14] + 50_000_000, t[5] + 1])
    *_, status = interpolate_poses(t, rows, stamps, 500_000_000, 5.0)
    assert status.tolist() == [NAV_BEFORE, NAV_AFTER, NAV_GAP, NAV_JUMP, NAV_OK]


def test_empty_record_places_nothing() -> None:
    *_, status = interpolate_poses(np.zeros(0, np.int64), np.zeros((0, 13)), np.array([1, 2]), 1, 1.0)
    assert (status == NAV_BEFORE).all()
