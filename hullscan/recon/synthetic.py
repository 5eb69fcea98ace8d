"""Vectorised synthetic sonar rays for benchmarks: a cylindrical hull seen from below.

The hull is y^2 + z^2 = R^2 (axis along x); the vehicle runs lanes along x under it
at ``standoff`` with an upward-looking fan across track. Used by ``bench/`` to make
large, realistic ray sets without a simulator (no file I/O, no per-ping Python).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def cylinder_rays(n_pings: int, beams: int = 512, *, radius: float = 5.0, standoff: float = 3.0,
                  spacing: float = 0.025, lanes: int = 4, lane_step: float = 0.8, noise: float = 0.02,
                  fan_deg: float = 120.0, seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                                  NDArray[np.float32]]:
    """Sonar origins (P, 3), returns (P, B, 3) (NaN on a miss) and ranges (P, B) float32."""
    rng = np.random.default_rng(seed)
    per_lane = -(-n_pings // lanes)
    k = np.arange(n_pings)
    lane = k // per_lane
    y = (lane - (lanes - 1) / 2) * lane_step
    x = (k % per_lane) * spacing
    z = -(np.sqrt(np.maximum(radius**2 - y**2, 0.0)) + standoff)
    origins = np.column_stack([x, y, z])
    a = np.deg2rad(np.linspace(-fan_deg / 2, fan_deg / 2, beams))
    d = np.column_stack([np.zeros(beams), np.sin(a), np.cos(a)])  # fan in y-z, looking up
    oy, oz = origins[:, 1:2], origins[:, 2:3]
    dy, dz = d[None, :, 1], d[None, :, 2]
    qa = dy**2 + dz**2
    qb = 2 * (oy * dy + oz * dz)
    qc = oy**2 + oz**2 - radius**2
    disc = qb**2 - 4 * qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(disc)) / (2 * qa)
    t = np.where((disc > 0) & (t > 0), t, np.nan) + rng.normal(0, noise, t.shape)
    pts = origins[:, None, :] + t[:, :, None] * d[None]
    return origins, pts, t.astype(np.float32)
