"""The drone's survey: a route of lanes at a standoff from the hull, flown with speed
variation and wobble, and the DVL/INS navigation solution that drifts from it.

Everything is computed in the hull frame first (the route follows the hull) and
then mapped into the navigation frame by ``hull_to_nav``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hullscan_sim.scenario import NavigationSpec, SurveySpec
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.errors import ConfigError
from hullscan.hull.mesh import HullMesh
from hullscan.model import NavSample, Trajectory, Transform

F = NDArray[np.float64]
MOTION_RATE_HZ = 50.0


@dataclass(frozen=True)
class Motion:
    """True motion of base_link in the hull frame, sampled at MOTION_RATE_HZ."""

    stamps_ns: NDArray[np.int64]
    positions: F
    orientations: F  # xyzw
    route: F  # the planned route polyline (hull frame)

    def trajectory(self, hull_to_nav: Transform | None = None) -> Trajectory:
        if hull_to_nav is None:
            return Trajectory(self.stamps_ns, self.positions, self.orientations, frame_id="hull", max_gap_s=1.0)
        pos = hull_to_nav.apply(self.positions)
        quat = (hull_to_nav.rot * Rotation.from_quat(self.orientations)).as_quat()
        return Trajectory(self.stamps_ns, pos, quat, max_gap_s=1.0)


def _cast(scene: Any, origins: F, dirs: F) -> F:
    import open3d as o3d

    core: Any = o3d.core
    rays = np.concatenate([origins, dirs], axis=1).astype(np.float32)
    return np.asarray(scene.cast_rays(core.Tensor(rays))["t_hit"].numpy(), dtype=np.float64)


def half_breadth_profile(mesh: HullMesh, scene: Any, xs: F, z: float, sign: float) -> F:
    """Outermost |y| of the hull at each x at height z on one side (ray cast inwards); the
    nearest hit value where a station has none (beyond the hull ends)."""
    far = mesh.beam + 100.0
    o = np.stack([xs, np.full_like(xs, sign * far), np.full_like(xs, z)], 1)
    d = np.tile([0.0, -sign, 0.0], (len(xs), 1))
    t = _cast(scene, o, d)
    y = far - t
    ok = np.isfinite(t)
    if not ok.any():
        return np.zeros_like(xs)
    y = np.interp(xs, xs[ok], y[ok])
    # clearance: the largest breadth within +-3 m so the lane keeps its standoff from bumps
    k = max(1, round(3.0 / max(float(xs[1] - xs[0]), 1e-3))) if len(xs) > 1 else 1
    pad = np.pad(y, k, mode="edge")
    return np.asarray(np.max(np.lib.stride_tricks.sliding_window_view(pad, 2 * k + 1), axis=1))


def _segment_clear(scene: Any, a: F, b: F) -> bool:
    d = b - a
    n = float(np.linalg.norm(d))
    if n < 1e-6:
        return True
    t = _cast(scene, a[None], (d / n)[None])
    return bool(not np.isfinite(t[0]) or t[0] > n)


def route_from_plan(path: str) -> tuple[F, float]:
    """The route (K, 3, hull frame) and lane speed (m/s) of a ``hullscan plan`` plan.json."""
    import json

    try:
        doc = json.loads(Path(path).read_text())
        route = np.asarray(doc["route_hull"], float)[:, :3]
        speed = float(doc["vehicle"]["speed_mps"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise ConfigError(f"survey.plan: {path}: not a readable hullscan plan.json ({type(err).__name__}: {err})") from err
    if len(route) < 2:
        raise ConfigError(f"survey.plan: {path}: the plan's route has fewer than 2 waypoints")
    return route, speed


def plan_route(mesh: HullMesh, spec: SurveySpec) -> F:
    """Waypoints (K, 3) in the hull frame: side lanes with the hull on the drone's left
    (the sonars look left and up), then a lawnmower under the bottom; or a plan's route."""
    if spec.plan is not None:
        return route_from_plan(spec.plan)[0]
    scene = mesh.raycasting_scene()
    vx = mesh.vertices[:, 0]
    s = spec.standoff_m
    x_lo, x_hi = float(vx.min()) - s, float(vx.max()) + s
    if spec.x_range_m is not None:
        x_lo, x_hi = max(x_lo, spec.x_range_m[0]), min(x_hi, spec.x_range_m[1])
        if x_hi - x_lo < 2.0:
            raise ConfigError(f"survey.x_range_m: expected at least 2 m of hull between {float(vx.min()):.1f} and "
                              f"{float(vx.max()):.1f} m, got {list(spec.x_range_m)}")
    xs = np.arange(x_lo, x_hi + 1e-9, 1.0)
    if len(xs) < 2:
        xs = np.array([x_lo, x_hi])
    draft = mesh.draft
    lanes: list[F] = []
    for side in spec.sides:
        sign = 1.0 if side == "port" else -1.0
        for frac in spec.side_lane_depths:
            z = -max(frac * draft, spec.min_depth_m)
            yb = half_breadth_profile(mesh, scene, xs, z, sign)
            lane = np.stack([xs, sign * (yb + s), np.full_like(xs, z)], 1)
            # a lane thins out to a few waypoints (the drone flies straight between them)
            keep = np.unique(np.r_[0, np.arange(0, len(xs), 5), len(xs) - 1])
            lane = lane[keep]
            lanes.append(lane if side == "starboard" else lane[::-1])
    if spec.bottom_lanes > 0:
        zb = -(draft + s)
        half = 0.5 * mesh.beam
        spacing = spec.bottom_lane_spacing_m or mesh.beam / spec.bottom_lanes
        ys = -half + spacing * (np.arange(spec.bottom_lanes) + 0.5)
        for i, y in enumerate(ys):
            lane = np.array([[x_lo, y, zb], [x_hi, y, zb]])
            lanes.append(lane if i % 2 == 0 else lane[::-1])
    if not lanes:
        raise ConfigError("survey: no lanes (expected sides and/or bottom_lanes > 0)")
    deep = -(draft + s + 0.5)
    pts: list[F] = [lanes[0]]
    for lane in lanes[1:]:
        a, b = pts[-1][-1], lane[0]
        if not _segment_clear(scene, a, b):
            # go under the keel instead of through the hull
            via = np.array([[a[0], a[1], min(a[2], deep)], [b[0], b[1], min(b[2], deep)]])
            pts.append(via)
        pts.append(lane)
    return np.concatenate(pts)


def _round_corners(route: F, radius: float) -> F:
    out = [route[0]]
    for i in range(1, len(route) - 1):
        a, p, c = route[i - 1], route[i], route[i + 1]
        d1, d2 = p - a, c - p
        l1, l2 = np.linalg.norm(d1), np.linalg.norm(d2)
        if l1 < 1e-6 or l2 < 1e-6:
            continue
        cut = min(radius, 0.45 * l1, 0.45 * l2)
        p0, p1 = p - d1 / l1 * cut, p + d2 / l2 * cut
        for u in np.linspace(0, 1, 9):
            out.append((1 - u) ** 2 * p0 + 2 * u * (1 - u) * p + u ** 2 * p1)
    out.append(route[-1])
    return np.asarray(out)


def fly(route: F, spec: SurveySpec, rng: np.random.Generator, start_ns: int,
        duration_s: float | None = None) -> Motion:
    """Fly ``route`` with speed variation, turn slow-downs and sway/heave/attitude wobble."""
    path = _round_corners(route, radius=max(1.5, 0.5 * spec.standoff_m))
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    keep = np.r_[True, seg > 1e-6]
    path = path[keep]
    s_nodes = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    ds = 0.05
    s = np.arange(0.0, s_nodes[-1], ds)
    pos = np.stack([np.interp(s, s_nodes, path[:, i]) for i in range(3)], 1)
    # heading from the horizontal tangent; held through vertical transits
    tan = np.gradient(pos, axis=0)
    horiz = np.hypot(tan[:, 0], tan[:, 1])
    yaw = np.arctan2(tan[:, 1], tan[:, 0])
    ok = horiz > 0.2 * ds
    if ok.any():
        idx = np.where(ok, np.arange(len(s)), 0)
        np.maximum.accumulate(idx, out=idx)
        yaw = np.unwrap(yaw[idx])
    curv = np.abs(np.gradient(yaw, ds))
    ph = rng.uniform(0, 2 * np.pi, 8)
    var = spec.speed_variation
    v = spec.speed_mps * (1 + var * (0.6 * np.sin(2 * np.pi * s / 23.0 + ph[0]) + 0.4 * np.sin(2 * np.pi * s / 7.3 + ph[1])))
    v = np.maximum(v / (1 + 2.0 * curv), 0.2 * spec.speed_mps)
    t_of_s = np.concatenate([[0.0], np.cumsum(ds / v[:-1])])
    t_end = t_of_s[-1] if duration_s is None else min(t_of_s[-1], duration_s)
    if spec.max_duration_s is not None:
        t_end = min(t_end, spec.max_duration_s)
    t = np.arange(0.0, t_end, 1.0 / MOTION_RATE_HZ)
    if len(t) < 4:
        raise ConfigError(f"survey: route too short ({t_end:.2f} s of motion; expected at least 0.1 s)")
    p = np.stack([np.interp(t, t_of_s, pos[:, i]) for i in range(3)], 1)
    hdg = np.interp(t, t_of_s, yaw)
    m = spec.motion
    sway = m * 0.08 * np.sin(2 * np.pi * t / 11.0 + ph[2])
    p[:, 0] += -np.sin(hdg) * sway
    p[:, 1] += np.cos(hdg) * sway
    p[:, 2] += m * 0.05 * np.sin(2 * np.pi * t / 7.0 + ph[3])
    roll = m * np.deg2rad(1.5) * np.sin(2 * np.pi * t / 5.0 + ph[4])
    pitch = m * np.deg2rad(1.5) * np.sin(2 * np.pi * t / 6.5 + ph[5])
    yaw_t = hdg + m * np.deg2rad(2.0) * np.sin(2 * np.pi * t / 13.0 + ph[6])
    quat = Rotation.from_euler("xyz", np.stack([roll, pitch, yaw_t], 1)).as_quat()
    stamps = start_ns + np.round(t * 1e9).astype(np.int64)
    return Motion(stamps, p, quat, route)


@dataclass(frozen=True)
class NavSolution:
    samples: tuple[NavSample, ...]
    error: F  # (N, 3) estimated - true position, nav frame
    distance: F  # (N,) distance travelled
    heading_bias_rad: float
    drift_rate: F  # (N, 2) the horizontal drift velocity per metre travelled

    def stats(self) -> dict[str, float]:
        horiz = np.linalg.norm(self.error[:, :2], axis=1)
        d = float(self.distance[-1])
        return {
            "distance_m": d,
            "final_error_m": float(horiz[-1]),
            "max_error_m": float(horiz.max()),
            "final_error_percent": float(100 * horiz[-1] / d) if d > 0 else 0.0,
            "depth_error_rms_m": float(np.sqrt(np.mean(self.error[:, 2] ** 2))),
        }


def navigate(truth: Trajectory, spec: NavigationSpec, rng: np.random.Generator) -> NavSolution:
    """DVL/INS dead reckoning at ``spec.rate_hz`` from the true nav-frame trajectory.

    Horizontal error integrates a drift velocity (a per-metre random process with
    RMS ``drift_percent`` / 100 and correlation distance ``correlation_m``) plus the
    displacement rotated by the heading bias; depth has white noise only.
    """
    lo, hi = truth.span_ns
    step = round(1e9 / spec.rate_hz)
    stamps = np.arange(lo, hi + 1, step, dtype=np.int64)
    pos, quat, _, _ = truth.interpolate(stamps)
    n = len(stamps)
    dp = np.diff(pos, axis=0, prepend=pos[:1])
    dist_step = np.linalg.norm(dp[:, :2], axis=1)
    distance = np.cumsum(dist_step)
    sigma = spec.drift_percent / 100.0
    bias = np.deg2rad(spec.heading_bias_deg)
    drift = np.zeros((n, 2))
    err = np.zeros((n, 3))
    b = rng.normal(0, sigma / np.sqrt(2), 2)
    cb, sb = np.cos(bias), np.sin(bias)
    noise = rng.normal(0, 1, (n, 2))
    for k in range(1, n):
        rho = np.exp(-dist_step[k] / spec.correlation_m)
        b = b * rho + sigma / np.sqrt(2) * np.sqrt(1 - rho * rho) * noise[k]
        drift[k] = b
        d = dp[k, :2]
        rot = np.array([cb * d[0] - sb * d[1], sb * d[0] + cb * d[1]]) - d
        err[k, :2] = err[k - 1, :2] + b * dist_step[k] + rot
    err[:, 2] = rng.normal(0, spec.depth_sigma_m, n) if spec.depth_sigma_m > 0 else 0.0
    att_sig = np.deg2rad(spec.attitude_sigma_deg)
    att_noise = rng.normal(0, att_sig, (n, 3)) if att_sig > 0 else np.zeros((n, 3))
    att_noise[:, 2] += bias
    est_rot = Rotation.from_rotvec(np.stack([np.zeros(n), np.zeros(n), att_noise[:, 2]], 1)) \
        * Rotation.from_quat(quat) * Rotation.from_rotvec(np.stack([att_noise[:, 0], att_noise[:, 1], np.zeros(n)], 1))
    est_q = est_rot.as_quat()
    est_p = pos + err
    dt = np.diff(stamps, prepend=stamps[0] - step) * 1e-9
    vel_nav = dp / dt[:, None]
    vel_body = Rotation.from_quat(quat).inv().apply(vel_nav)
    samples = []
    for k in range(n):
        ps = np.array([max(0.05, sigma * distance[k])] * 2 + [max(spec.depth_sigma_m, 1e-3)])
        samples.append(NavSample(int(stamps[k]), est_p[k], est_q[k], position_sigma=ps,
                                 orientation_sigma=np.full(3, max(att_sig, 1e-4)), velocity=vel_body[k]))
    return NavSolution(tuple(samples), err, distance, bias, drift)
