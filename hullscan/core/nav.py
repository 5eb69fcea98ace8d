"""Navigation interpolation: poses at ping times from a navigation record, with its checks.

Positions are interpolated linearly and attitudes by SLERP between the two samples that bracket a
stamp; a stamp outside the record, in a gap longer than ``max_gap_ns`` or across a jump faster than
``max_speed`` (+ 5 cm) gets a status instead of a guess, so a ping is never placed on invented
navigation.

Depth can be smoothed first (:func:`smooth_depth`): a pressure depth sensor's white noise (2 cm at
20 Hz) moves each ping's whole swath up or down together, and on flat plating a few pings a few
centimetres off read as a thin strip, a swath wide, standing proud of or sunk into the hull. The
vehicle cannot heave centimetres in 50 ms, so a local quadratic over a second of samples takes
that noise out and keeps the vehicle's real vertical motion (waves, depth changes).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

# Navigation status per ping.
NAV_OK, NAV_BEFORE, NAV_AFTER, NAV_GAP, NAV_JUMP = range(5)


def slerp(q0: NDArray[np.float64], q1: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Vectorised SLERP of (N, 4) xyzw quaternions at weights (N,)."""
    dot = (q0 * q1).sum(1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-6
    s_safe = np.where(small, 1.0, s)
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / s_safe)
    b = np.where(small, w, np.sin(w * theta) / s_safe)
    q = a[:, None] * q0 + b[:, None] * q1
    out: F64 = q / np.linalg.norm(q, axis=1, keepdims=True)
    return out


def smooth_depth(t: NDArray[np.int64], z: F64, idx: NDArray[np.int64], half_window_ns: int, max_gap_ns: int,
                 min_samples: int = 5) -> F64:
    """Depth at samples ``idx`` (K,) of the record ``t`` (N,) ns, increasing, ``z`` (N,): a
    least-squares quadratic in time through the samples within ``half_window_ns`` of each, read at
    its own stamp. Where the window holds fewer than ``min_samples`` samples or spans a gap
    longer than ``max_gap_ns``, the sample's own depth is kept."""
    idx = np.asarray(idx, np.int64)
    out = z[idx].astype(np.float64)
    if half_window_ns <= 0 or len(t) < min_samples or not len(idx):
        return out
    lo = np.searchsorted(t, t[idx] - half_window_ns, side="left")
    hi = np.searchsorted(t, t[idx] + half_window_ns, side="right")
    # A window across a gap would join two stretches of navigation that need not agree.
    gaps = np.concatenate([[0], np.cumsum(np.diff(t) > max_gap_ns)])
    ok = (hi - lo >= min_samples) & (gaps[hi - 1] == gaps[lo])
    if not ok.any():
        return out
    rows, lo_ok, hi_ok = idx[ok], lo[ok], hi[ok]
    width = int((hi_ok - lo_ok).max())
    j = lo_ok[:, None] + np.arange(width)[None, :]
    inside = j < hi_ok[:, None]
    j = np.minimum(j, len(t) - 1)
    u = np.where(inside, (t[j] - t[rows][:, None]) * 1e-9, 0.0)  # seconds from the sample
    m = inside.astype(np.float64)
    zz = np.where(inside, z[j], 0.0)
    # Normal equations of z ~ c0 + c1 u + c2 u^2 per window (3 x 3, batched); c0 is the depth there.
    powers = [m * u**k for k in range(5)]
    sums = np.stack([p.sum(1) for p in powers], axis=1)
    lhs = np.stack([sums[:, [0, 1, 2]], sums[:, [1, 2, 3]], sums[:, [2, 3, 4]]], axis=1)
    rhs = np.stack([(powers[k] * zz).sum(1) for k in range(3)], axis=1)
    out[ok] = np.linalg.solve(lhs, rhs[:, :, None])[:, 0, 0]
    return out


def interpolate_poses(t: NDArray[np.int64], a: F64, stamps: NDArray[np.int64], max_gap_ns: int, max_speed: float,
                      depth_half_window_ns: int = 0) -> tuple[F64, F64, F64, F64, NDArray[np.int8]]:
    """Poses at ``stamps`` (P,) from the record ``t`` (N,) ns, increasing, and its rows ``a`` (N, 13):
    x y z, qx qy qz qw, position sigma (3), attitude sigma (3). Returns position (P, 3), quaternion
    (P, 4), position sigma (P,), attitude sigma (P,) and a status (P,) of ``NAV_*``.
    ``depth_half_window_ns`` > 0: the bracketing samples' depth smoothed first (:func:`smooth_depth`)."""
    p = stamps.shape[0]
    status = np.zeros(p, np.int8)
    if not len(t):
        status[:] = NAV_BEFORE
        return np.zeros((p, 3)), np.tile([0.0, 0, 0, 1], (p, 1)), np.zeros(p), np.zeros(p), status
    i1 = np.searchsorted(t, stamps, side="left")
    i0 = np.clip(i1 - 1, 0, len(t) - 1)
    i1c = np.clip(i1, 0, len(t) - 1)
    exact = (i1 < len(t)) & (t[i1c] == stamps)
    i0 = np.where(exact, i1c, i0)
    status[(stamps < t[0])] = NAV_BEFORE
    status[(stamps > t[-1])] = NAV_AFTER
    dt = (t[i1c] - t[i0]).astype(np.float64)
    inside = status == NAV_OK
    gap = inside & ~exact & (dt > max_gap_ns)
    status[gap] = NAV_GAP
    dist = np.linalg.norm(a[i1c, :3] - a[i0, :3], axis=1)
    jump = (status == NAV_OK) & ~exact & (dist > max_speed * dt * 1e-9 + 0.05)
    status[jump] = NAV_JUMP
    w = np.where(dt > 0, (stamps - t[i0]) / np.where(dt > 0, dt, 1.0), 0.0)
    w = np.clip(w, 0.0, 1.0)
    pos = a[i0, :3] * (1 - w)[:, None] + a[i1c, :3] * w[:, None]
    if depth_half_window_ns > 0:
        # Only the samples that bracket a stamp are smoothed: the record itself is never copied.
        need, inv = np.unique(np.concatenate([i0, i1c]), return_inverse=True)
        zs = smooth_depth(t, a[:, 2], need, depth_half_window_ns, max_gap_ns)[inv]
        pos[:, 2] = zs[:p] * (1 - w) + zs[p:] * w
    quat = slerp(a[i0, 3:7], a[i1c, 3:7], w)
    sig = np.linalg.norm(a[i0, 7:10] * (1 - w)[:, None] + a[i1c, 7:10] * w[:, None], axis=1)
    att = np.linalg.norm(a[i0, 10:13] * (1 - w)[:, None] + a[i1c, 10:13] * w[:, None], axis=1)
    return pos, quat, sig, att, status
