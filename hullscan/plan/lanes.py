"""Lanes the vehicle can fly: along the hull at a standoff with the hull on the vehicle's left (the
sonar looks left and up), landmark lanes over each high-risk feature, side lanes at depths, bottom
lanes under the keel; transits between them, the minimum depth and the no-go zone round the
propeller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
# Waypoints along a lane this far apart (the vehicle flies straight between them).
WAYPOINT_STEP_M = 5.0
# The lane keeps its standoff from the broadest part of the hull within this of each station.
CLEARANCE_WINDOW_M = 3.0


@dataclass(frozen=True)
class Vehicle:
    """What the vehicle can fly: lane speed, standoff from the plating, the shallowest depth it may
    hold, the time a turn onto the next lane costs, and how far it keeps from the propeller's blades."""

    speed_mps: float = 0.8
    standoff_m: float = 3.0
    min_depth_m: float = 1.0
    turn_time_s: float = 20.0
    propeller_nogo_m: float = 2.0


@dataclass(frozen=True, eq=False)
class Lane:
    """One lane in the hull frame, waypoints in flying order."""

    name: str
    kind: str  # landmark / side / bottom
    side: str  # port / starboard / bottom
    target: str  # the landmark (or hull part) the lane is for
    waypoints: F64
    speed_mps: float
    standoff_m: float
    risk: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def length_m(self) -> float:
        return float(np.linalg.norm(np.diff(self.waypoints, axis=0), axis=1).sum())

    @property
    def duration_s(self) -> float:
        return self.length_m / self.speed_mps

    @property
    def depth_m(self) -> float:
        return float(-self.waypoints[:, 2].mean())

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "side": self.side, "target": self.target,
                "speed_mps": self.speed_mps, "standoff_m": self.standoff_m, "depth_m": round(self.depth_m, 2),
                "length_m": round(self.length_m, 1), "duration_s": round(self.duration_s, 1),
                "risk_weight": self.risk, "notes": list(self.notes),
                "waypoints_hull": np.round(self.waypoints, 3).tolist()}


def cast(scene: Any, origins: F64, dirs: F64) -> F64:
    import open3d.core as o3c

    rays = np.concatenate([origins, dirs], axis=1).astype(np.float32)
    return np.asarray(scene.cast_rays(o3c.Tensor(rays))["t_hit"].numpy(), dtype=np.float64)  # type: ignore[call-overload]


def half_breadth(scene: Any, xs: F64, z: float, sign: float, beam: float) -> F64:
    """The outermost |y| of the hull on one side at each station (rays cast inwards), the broadest
    within +-CLEARANCE_WINDOW_M so a lane keeps its standoff from bumps; 0 beyond the hull's ends."""
    far = beam + 100.0
    o = np.stack([xs, np.full_like(xs, sign * far), np.full_like(xs, z)], 1)
    t = cast(scene, o, np.tile([0.0, -sign, 0.0], (len(xs), 1)))
    y = np.where(np.isfinite(t), far - t, 0.0)
    step = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    k = max(1, round(CLEARANCE_WINDOW_M / max(step, 1e-3)))
    pad = np.pad(y, k, mode="edge")
    return np.asarray(np.max(np.lib.stride_tricks.sliding_window_view(pad, 2 * k + 1), axis=1))


def side_lane(scene: Any, beam: float, x0: float, x1: float, z: float, side: str, vehicle: Vehicle) -> F64:
    """Waypoints along one side at height ``z``, at the standoff from the hull, hull on the left:
    starboard lanes run towards the bow, port lanes towards the stern."""
    sign = 1.0 if side == "port" else -1.0
    n = max(2, int(np.ceil((x1 - x0) / 1.0)) + 1)
    xs = np.linspace(x0, x1, n)
    yb = half_breadth(scene, xs, z, sign, beam)
    lane = np.stack([xs, sign * (yb + vehicle.standoff_m), np.full_like(xs, z)], 1)
    keep = np.unique(np.r_[0, np.arange(0, n, int(WAYPOINT_STEP_M)), n - 1])
    lane = lane[keep]
    return lane if side == "starboard" else lane[::-1]


@dataclass(frozen=True)
class NoGo:
    """A sphere round the propeller's hub the vehicle must not enter (None: the hull has no propeller)."""

    centre: tuple[float, float, float]
    radius_m: float

    def push_out(self, waypoints: F64) -> tuple[F64, bool]:
        """Waypoints moved outwards (away from the centreline) until outside the sphere, densified to
        1 m first so a straight leg cannot cut through it; whether anything moved."""
        seg = np.linalg.norm(np.diff(waypoints, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        dense = np.stack([np.interp(np.arange(0.0, s[-1] + 1.0, 1.0).clip(max=s[-1]), s, waypoints[:, i])
                          for i in range(3)], 1) if s[-1] > 0 else waypoints
        c = np.asarray(self.centre)
        dx, dz = dense[:, 0] - c[0], dense[:, 2] - c[2]
        reach2 = self.radius_m**2 - dx**2 - dz**2
        inside = (reach2 > 0) & (np.abs(dense[:, 1] - c[1]) < np.sqrt(np.maximum(reach2, 0.0)))
        if not inside.any():
            return waypoints, False
        sign = np.where(dense[:, 1] >= c[1], 1.0, -1.0)
        out = dense.copy()
        out[inside, 1] = c[1] + sign[inside] * (np.sqrt(reach2[inside]) + 0.05)
        return out, True


def transit(scene: Any, a: F64, b: F64, deep_z: float, nogo: NoGo | None) -> F64:
    """Waypoints from the end of one lane to the start of the next (ends excluded): straight where
    the water is clear, else down under the keel and across."""
    d = b - a
    n = float(np.linalg.norm(d))
    if n < 1e-6:
        return np.zeros((0, 3))
    t = cast(scene, a[None], (d / n)[None])
    if not np.isfinite(t[0]) or t[0] > n:
        via = np.zeros((0, 3))
    else:
        via = np.array([[a[0], a[1], min(a[2], deep_z)], [b[0], b[1], min(b[2], deep_z)]])
    if nogo is not None and len(via):
        moved, _ = nogo.push_out(np.vstack([a, via, b]))
        via = moved[1:-1]
    return via


def polyline_length(p: F64) -> float:
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0
