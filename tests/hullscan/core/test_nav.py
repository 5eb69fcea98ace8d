"""Pose interpolation against scipy's Slerp, the statuses that keep pings off invented poses, and
depth smoothing against numpy's polyfit window by window."""

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
    smooth_depth,
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


def _polyfit_reference(t: np.ndarray, z: np.ndarray, half_ns: int, max_gap_ns: int, min_samples: int = 5) -> np.ndarray:
    """smooth_depth written out sample by sample with numpy's polyfit."""
    out = z.astype(float).copy()
    for i in range(len(t)):
        m = np.abs(t - t[i]) <= half_ns
        sel = np.flatnonzero(m)
        if len(sel) < min_samples or np.any(np.diff(t[sel]) > max_gap_ns):
            continue
        out[i] = np.polyval(np.polyfit((t[sel] - t[i]) * 1e-9, z[sel], 2), 0.0)
    return out


def test_smooth_depth_matches_a_polyfit_per_window_and_keeps_gaps_and_sparse_stretches_raw() -> None:
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.integers(40_000_000, 60_000_000, 300)).astype(np.int64)  # about 20 Hz, jittered
    t[150:] += 2_000_000_000  # a 2 s navigation gap
    t[250:] += 300_000_000  # sparse for a moment: 0.35 s between two samples
    z = -3.0 + 0.4 * np.sin(t * 1e-9) + rng.normal(0, 0.02, len(t))
    idx = np.arange(len(t))
    got = smooth_depth(t, z, idx, 500_000_000, 500_000_000)
    np.testing.assert_allclose(got, _polyfit_reference(t, z, 500_000_000, 500_000_000), atol=1e-9)
    # With a shorter gap limit the 0.35 s pause is a gap: windows that span it keep the raw depth.
    strict = smooth_depth(t, z, idx, 500_000_000, 300_000_000)
    np.testing.assert_allclose(strict, _polyfit_reference(t, z, 500_000_000, 300_000_000), atol=1e-9)
    assert strict[249] == z[249] and strict[250] == z[250] and got[249] != z[249]
    # Off: the record's own depth.
    np.testing.assert_array_equal(smooth_depth(t, z, idx, 0, 500_000_000), z)


def test_smoothing_takes_out_depth_sensor_noise_and_keeps_heave() -> None:
    """2 cm of white noise at 20 Hz on 0.5 m of heave with a 6 s period (waves near the surface):
    the smoothed depth follows the heave within a few millimetres."""
    rng = np.random.default_rng(2)
    t = np.arange(2400, dtype=np.int64) * 50_000_000
    true = -2.0 + 0.5 * np.sin(2 * np.pi * t * 1e-9 / 6.0)
    z = true + rng.normal(0, 0.02, len(t))
    got = smooth_depth(t, z, np.arange(len(t)), 500_000_000, 500_000_000)
    inner = slice(20, -20)
    assert np.sqrt(np.mean((z[inner] - true[inner]) ** 2)) > 0.018
    assert np.sqrt(np.mean((got[inner] - true[inner]) ** 2)) < 0.008


def test_interpolation_reads_the_smoothed_depth_of_the_bracketing_samples() -> None:
    t, rows = _record(n=60)
    rows[:, 2] = -3.0 + np.random.default_rng(3).normal(0, 0.02, 60)
    stamps = t[10:50] + 37_000_000
    pos, *_ = interpolate_poses(t, rows, stamps, 500_000_000, 5.0, depth_half_window_ns=500_000_000)
    zs = smooth_depth(t, rows[:, 2], np.arange(60), 500_000_000, 500_000_000)
    np.testing.assert_allclose(pos[:, 2], np.interp(stamps, t, zs), atol=1e-12)
    raw, *_ = interpolate_poses(t, rows, stamps, 500_000_000, 5.0)
    np.testing.assert_allclose(raw[:, 2], np.interp(stamps, t, rows[:, 2]), atol=1e-12)
    np.testing.assert_allclose(pos[:, :2], raw[:, :2])
