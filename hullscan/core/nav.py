"""Navigation interpolation: poses at ping times from a navigation record, with its checks.

Positions are interpolated linearly and attitudes by SLERP between the two samples that bracket a
stamp; a stamp outside the record, in a gap longer than ``max_gap_ns`` or across a jump faster than
``max_speed`` (+ 5 cm) gets a status instead of a guess, so a ping is never placed on invented
navigation.
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


def interpolate_poses(t: NDArray[np.int64], a: F64, stamps: NDArray[np.int64], max_gap_ns: int, max_speed: float
                      ) -> tuple[F64, F64, F64, F64, NDArray[np.int8]]:
    """Poses at ``stamps`` (P,) from the record ``t`` (N,) ns, increasing, and its rows ``a`` (N, 13):
    x y z, qx qy qz qw, position sigma (3), attitude sigma (3). Returns position (P, 3), quaternion
    (P, 4), position sigma (P,), attitude sigma (P,) and a status (P,) of ``NAV_*``."""
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
    quat = slerp(a[i0, 3:7], a[i1c, 3:7], w)
    sig = np.linalg.norm(a[i0, 7:10] * (1 - w)[:, None] + a[i1c, 7:10] * w[:, None], axis=1)
    att = np.linalg.norm(a[i0, 10:13] * (1 - w)[:, None] + a[i1c, 10:13] * w[:, None], axis=1)
    return pos, quat, sig, att, status
