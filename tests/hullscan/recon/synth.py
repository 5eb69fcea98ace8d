"""Small synthetic surveys for the reconstruction tests: a cylindrical hull seen from below.

The hull is the cylinder y^2 + z^2 = R^2 (axis along x, nav frame). The vehicle runs
straight lanes under it along x; a profiling sonar is mounted looking up, its fan
across track. Ranges are exact ray-cylinder intersections plus Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.core.voxelmap import VoxelMap
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

RADIUS = 5.0
MOUNT = Transform.from_euler(0.0, -np.pi / 2, 0.0, (0.3, 0.0, 0.2))  # fan in base y-z, looking up
T0 = 1_000_000_000_000


@dataclass(frozen=True)
class Survey:
    items: list[object]
    truth_positions: np.ndarray


def cylinder_range(o: np.ndarray, d: np.ndarray, radius: float = RADIUS) -> np.ndarray:
    """Range along unit rays (N, 3) from o (N, 3) to the cylinder, NaN on a miss."""
    a = d[:, 1] ** 2 + d[:, 2] ** 2
    b = 2 * (o[:, 1] * d[:, 1] + o[:, 2] * d[:, 2])
    c = o[:, 1] ** 2 + o[:, 2] ** 2 - radius**2
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    return np.where((disc > 0) & (t > 0), t, np.nan)


def surface_distance(points: np.ndarray, radius: float = RADIUS) -> np.ndarray:
    return np.abs(np.hypot(points[:, 1], points[:, 2]) - radius)


@dataclass(frozen=True)
class Faults:
    """What goes wrong in a synthetic survey (nothing by default).

    ``drift_per_m``: the navigation drifts sideways (+y) by this fraction of the distance
    travelled; ``fish_every``: every n-th ping sees a fish ``fish_offset`` m in front of the hull on 6 beams.
    """

    drift_per_m: float = 0.0
    fish_every: int = 0
    fish_offset: float = 1.0


NO_FAULTS = Faults()


def survey(n_pings: int = 200, beams: int = 64, noise: float = 0.02, lanes: tuple[float, ...] = (0.0,),
           standoff: float = 3.0, speed: float = 0.5, rate_hz: float = 20.0, faults: Faults = NO_FAULTS,
           seed: int = 0) -> Survey:
    """Pings, navigation (50 Hz) and the static mounting, in time order; ``faults``: navigation
    drift and fish (:class:`Faults`)."""
    rng = np.random.default_rng(seed)
    items: list[object] = [TransformStamped(T0, "base_link", "sonar", MOUNT, static=True)]
    angles = np.linspace(-np.deg2rad(60), np.deg2rad(60), beams).astype(np.float32)
    dirs_s = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], 1)
    dt_ping = 1.0 / rate_hz
    events: list[tuple[int, int, object]] = []
    truth = []
    travelled = 0.0
    lane_t = n_pings * dt_ping + 1.0
    for li, y_lane in enumerate(lanes):
        t_lane = li * lane_t
        nav_dt = 0.02
        direction = 1.0 if li % 2 == 0 else -1.0
        yaw = 0.0 if direction > 0 else np.pi
        q = Transform.from_euler(0, 0, yaw).rotation
        x0 = 0.0 if direction > 0 else speed * n_pings * dt_ping
        z = -(RADIUS * np.cos(np.arcsin(min(abs(y_lane) / RADIUS, 0.99))) + standoff)
        n_nav = int((n_pings * dt_ping + 0.2) / nav_dt) + 1
        for k in range(n_nav):
            t = t_lane + k * nav_dt - 0.1
            pos = np.array([x0 + direction * speed * t - direction * speed * t_lane, y_lane, z])
            d_trav = travelled + speed * max(t - t_lane, 0.0)
            nav_pos = pos + np.array([0.0, faults.drift_per_m * d_trav, 0.0])
            stamp = T0 + round(t * 1e9)
            events.append((stamp, 0, NavSample(stamp, nav_pos, q, position_sigma=[0.01, 0.01, 0.01])))
        for i in range(n_pings):
            t = t_lane + i * dt_ping
            pos = np.array([x0 + direction * speed * (t - t_lane), y_lane, z])
            pose = Transform(q, pos) @ MOUNT
            o = np.repeat(pose.translation[None], beams, 0)
            d = pose.apply(dirs_s) - pose.translation
            r = cylinder_range(o, d) + rng.normal(0, noise, beams)
            if faults.fish_every and i % faults.fish_every == faults.fish_every // 2:
                r[beams // 2: beams // 2 + 6] -= faults.fish_offset
            stamp = T0 + round(t * 1e9)
            events.append((stamp, 1, ProfilingPing(stamp, "sonar", angles, r.astype(np.float32),
                                                   np.full(beams, 50.0, np.float32), range_min=0.2,
                                                   range_max=20.0)))
            truth.append(pos)
        travelled += speed * n_pings * dt_ping
    events.sort(key=lambda e: (e[0], e[1]))
    items += [e[2] for e in events]
    return Survey(items, np.array(truth))


# Voxel-map level: a plane patch of returns, for the incremental-extraction and checkpoint tests.
PATCH_VS = 0.02
PATCH_ORIGINS = np.array([[0.0, 0.0, -3.0], [0.5, 0.3, -2.0]])


def fuse_patch(vm: VoxelMap, rng: np.random.Generator, x0: float, x1: float, m: int, mu: float = 0.0) -> None:
    """Fuse ``m`` returns near the plane z = mu over x0..x1, seen from below with free space."""
    pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(-0.3, 0.3, m), rng.normal(mu, 0.01, m)])
    ray = rng.integers(0, 2, m).astype(np.int32)
    vm.fuse(pts, ray, PATCH_ORIGINS, rng.uniform(0.005, 0.02, m).astype(np.float32), 2.0, 0.15)


@dataclass(frozen=True)
class PlacedSurface:
    """A :class:`hullscan.recon.drift.SurfaceReference` on sampled points and their normals, already
    placed in the navigation frame (no registration to make), the ship's axis along x."""

    points: np.ndarray
    normals: np.ndarray
    sigma: object | None = None
    _tree: cKDTree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", cKDTree(self.points))

    def registered(self, survey: object) -> tuple[PlacedSurface, object]:
        return self, None

    def along(self) -> tuple[np.ndarray, float | None] | None:
        return np.array([1.0, 0.0, 0.0]), None

    def closest(self, p: np.ndarray, dist: float) -> tuple[np.ndarray, np.ndarray, NDArray[np.bool_]]:
        from hullscan.recon.drift import tree_closest

        return tree_closest(self.points, self.normals, self._tree)(p, dist)

    def cost(self, p: np.ndarray, c: float) -> float:
        q, n, ok = self.closest(p, c)
        r = np.full(len(p), c)
        r[ok] = np.minimum(np.abs(((p[ok] - q) * n).sum(1)), c)
        return float(np.mean(r**2))
