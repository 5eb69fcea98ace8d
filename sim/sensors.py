"""Sensor models: profiling multibeam, imaging sonar, 3D sonar and camera, by ray casting
the world (as-built hull + parasites) with open3d. All rays of a block of pings are cast
in one call; everything else is vectorised numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hullscan_sim.scenario import (
    CameraSpec,
    ImagingSpec,
    MountSpec,
    MultibeamSpec,
    PointsSpec,
    WaterSpec,
)
from hullscan_sim.world import SurfaceTexture
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.hull.mesh import REGION_INDEX, HullMesh
from hullscan.model import (
    CameraFrame,
    CameraModel,
    ImagingPing,
    PointsPing,
    ProfilingPing,
    Transform,
)

F = NDArray[np.float64]

SEA_SURFACE_Z = 0.02  # hull frame; the ship floats at its design waterline
FRAME_MULTIBEAM = "sonar"
FRAME_IMAGING = "imaging_sonar"
FRAME_POINTS = "sonar3d"
FRAME_CAMERA = "camera_optical"


def mount_transform(m: MountSpec, fan_across: bool) -> Transform:
    """base_link <- sensor. The sensor's +x looks left and ``tilt_deg`` up. ``fan_across``:
    the sensor's x-y plane is the vehicle's y-z plane (a profiler slicing across the hull);
    otherwise the sensor's y axis is the vehicle's x (a fan along the hull)."""
    t = np.deg2rad(m.tilt_deg)
    look = np.array([0.0, np.cos(t), np.sin(t)])
    ys = np.array([0.0, -np.sin(t), np.cos(t)]) if fan_across else np.array([1.0, 0.0, 0.0])
    rot = np.stack([look, ys, np.cross(look, ys)], axis=1)
    return Transform(Rotation.from_matrix(rot).as_quat(), np.asarray(m.xyz, float))


def camera_mount(m: MountSpec) -> Transform:
    """base_link <- optical frame (z forward along the look direction, x along the vehicle)."""
    t = np.deg2rad(m.tilt_deg)
    z = np.array([0.0, np.cos(t), np.sin(t)])
    x = np.array([1.0, 0.0, 0.0])
    rot = np.stack([x, np.cross(z, x), z], axis=1)
    return Transform(Rotation.from_matrix(rot).as_quat(), np.asarray(m.xyz, float))


class World:
    """The ray-casting scene: geometry 0 the as-built hull, geometry 1 the parasites (if any)."""

    def __init__(self, hull: HullMesh, parasites: list[HullMesh], texture: SurfaceTexture) -> None:
        import open3d as o3d

        self.o3d = o3d
        core: Any = o3d.core
        self.core = core
        self.scene = o3d.t.geometry.RaycastingScene()
        self.hull = hull
        self.texture = texture
        self.hull_id = self.scene.add_triangles(core.Tensor(hull.vertices.astype(np.float32)),
                                                core.Tensor(hull.faces.astype(np.uint32)))
        self.parasite_id = -1
        if parasites:
            off = 0
            vs, fs = [], []
            for p in parasites:
                vs.append(p.vertices)
                fs.append(p.faces + off)
                off += len(p.vertices)
            self.parasite_id = self.scene.add_triangles(core.Tensor(np.concatenate(vs).astype(np.float32)),
                                                        core.Tensor(np.concatenate(fs).astype(np.uint32)))
        self.rays_cast = 0

    def cast(self, origins: F, dirs: F) -> dict[str, NDArray[Any]]:
        """Cast (N, 3) rays: t (inf = miss), unit normals, geometry and primitive ids."""
        rays = np.empty((len(origins), 6), np.float32)
        rays[:, :3] = origins
        rays[:, 3:] = dirs
        return self.cast_rays(rays)

    def cast_block(self, org: F, rot: F, dirs: NDArray[np.float32]) -> tuple[NDArray[np.float32], dict[str, NDArray[Any]]]:
        """Cast the sensor-frame ``dirs`` (R, 3) from P poses (``org`` (P, 3), ``rot`` (P, 3, 3)) in
        one call; returns the hull-frame rays (P*R, 6) and the hits."""
        p, r = len(org), len(dirs)
        block = np.empty((p, r, 6), np.float32)
        block[:, :, :3] = org[:, None, :]
        np.matmul(dirs[None], rot.transpose(0, 2, 1).astype(np.float32), out=block[:, :, 3:])
        rays = block.reshape(p * r, 6)
        return rays, self.cast_rays(rays)

    def cast_rays(self, rays: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        ans = self.scene.cast_rays(self.core.Tensor(rays), nthreads=0)
        self.rays_cast += len(rays)
        t = ans["t_hit"].numpy()
        # sound and light do not cross the sea surface: the hull above the waterline is unseen
        up = rays[:, 5] > 0
        if up.any():
            z_hit = rays[up, 2] + rays[up, 5] * t[up]
            t[np.flatnonzero(up)[z_hit > SEA_SURFACE_Z]] = np.inf
        return {"t": t, "n": ans["primitive_normals"].numpy(),
                "g": ans["geometry_ids"].numpy(), "prim": ans["primitive_ids"].numpy()}


def sensor_poses(pos_hull: F, quat_hull: F, mount: Transform) -> tuple[F, F]:
    """Origins (P, 3) and rotations (P, 3, 3) hull <- sensor for base_link poses in the hull frame."""
    rb = Rotation.from_quat(quat_hull)
    rm = mount.rot.as_matrix()
    rot = rb.as_matrix() @ rm
    org = pos_hull + rb.apply(np.array(mount.translation))
    return org, rot


def _cos_inc(n: NDArray[Any], d: NDArray[Any]) -> NDArray[Any]:
    return np.abs(np.einsum("ij,ij->i", n, d))


@dataclass
class Multibeam:
    spec: MultibeamSpec
    water: WaterSpec

    def __post_init__(self) -> None:
        s = self.spec
        half = np.deg2rad(s.swath_deg) / 2
        self.angles = np.linspace(-half, half, s.beams).astype(np.float32)
        bw = np.deg2rad(s.beamwidth_deg)
        k = s.footprint_rays
        # footprint pattern inside the -3 dB cone: the beam axis plus a ring at 0.35 beamwidth
        ring = np.linspace(0, 2 * np.pi, max(k - 1, 1), endpoint=False)
        da = np.r_[0.0, 0.35 * bw * np.cos(ring)][:k]
        de = np.r_[0.0, 0.35 * bw * np.sin(ring)][:k]
        a = self.angles.astype(np.float64)[:, None] + da[None]
        e = np.broadcast_to(de[None], a.shape)
        self.dirs = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
        self.dirs32 = self.dirs.astype(np.float32)
        self.mount = mount_transform(s.mount, fan_across=True)

    def pings(self, world: World, stamps: NDArray[np.int64], org: F, rot: F,
              rng: np.random.Generator) -> list[ProfilingPing]:
        s = self.spec
        p, nb, k = len(stamps), s.beams, s.footprint_rays
        if p == 0:
            return []
        rays, hit = world.cast_block(org, rot, self.dirs32)
        o, d = rays[:, :3], rays[:, 3:]
        t = hit["t"].astype(np.float64)
        ok = np.isfinite(t) & (t <= s.range_max_m) & (t >= s.range_min_m)
        cosi = np.where(ok, _cos_inc(hit["n"], d), 0.0)
        if world.texture.active and ok.any():
            pts = o[ok].astype(np.float64) + d[ok] * t[ok, None]
            t[ok] -= world.texture.height(pts) / np.maximum(cosi[ok], 0.3)
        t = np.where(ok & (cosi > 0.05), t, np.inf).reshape(p, nb, k)
        cosi = cosi.reshape(p, nb, k)
        first = np.argmin(t, axis=2)
        r = np.take_along_axis(t, first[..., None], 2)[..., 0]
        c = np.take_along_axis(cosi, first[..., None], 2)[..., 0]
        has = np.isfinite(r)
        inc = np.degrees(np.arccos(np.clip(c, 0, 1)))
        p_drop = 1 / (1 + np.exp(-(inc - s.grazing_dropout_deg) / 2.5))
        u = rng.random((4, p, nb))
        has &= u[0] >= p_drop
        rr = np.where(has, r, 0.0)
        sigma = s.noise_m + s.noise_per_m * rr
        rng_noise = rng.normal(0.0, 1.0, (p, nb))
        ranges = np.where(has, rr + sigma * rng_noise, np.nan)
        inten = np.where(has, 1000 * c ** 1.5 * np.exp(-0.04 * rr) * (1 + 0.15 * rng_noise), 0.0)
        spike = u[1] < s.spike_rate
        if spike.any():
            top = np.where(has, np.nan_to_num(ranges, nan=s.range_max_m), s.range_max_m)
            sr = s.range_min_m + u[3] * (top - s.range_min_m)
            ranges = np.where(spike, sr, ranges)
            inten = np.where(spike, 50 + 300 * u[3], inten)
        ghost = (u[2] < s.ghost_rate) & has & ~spike
        if ghost.any():
            gr = ranges * (1.3 + 0.7 * u[3])
            ranges = np.where(ghost, np.where(gr <= s.range_max_m, gr, np.nan), ranges)
            inten = np.where(ghost, 0.3 * inten, inten)
        ranges = ranges.astype(np.float32)
        inten = np.maximum(inten, 0).astype(np.float32)
        bw = float(np.deg2rad(s.beamwidth_deg))
        return [ProfilingPing(int(stamps[i]), FRAME_MULTIBEAM, self.angles, ranges[i], inten[i],
                              range_min=s.range_min_m, range_max=s.range_max_m, beamwidth=bw) for i in range(p)]


@dataclass
class ImagingSonar:
    spec: ImagingSpec

    def __post_init__(self) -> None:
        s = self.spec
        az = np.deg2rad(np.linspace(-s.fov_deg / 2, s.fov_deg / 2, s.beams))
        el = np.deg2rad(np.linspace(-s.elevation_deg / 2, s.elevation_deg / 2, s.elevation_rays))
        a, e = np.meshgrid(az, el, indexing="ij")
        self.dirs = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
        self.beam_dirs = np.stack([np.cos(az), np.sin(az), np.zeros_like(az)], -1).astype(np.float32)
        self.dr = s.range_max_m / s.range_bins
        self.ranges = ((np.arange(s.range_bins) + 0.5) * self.dr).astype(np.float32)
        self.mount = mount_transform(s.mount, fan_across=False)

    def pings(self, world: World, stamps: NDArray[np.int64], org: F, rot: F,
              rng: np.random.Generator) -> list[ImagingPing]:
        s = self.spec
        p = len(stamps)
        if p == 0:
            return []
        nr = len(self.dirs)
        rays, hit = world.cast_block(org, rot, self.dirs.astype(np.float32))
        d = rays[:, 3:]
        t = hit["t"]
        ok = np.isfinite(t) & (t < s.range_max_m)
        # time-varied gain compensates spreading; what is left is incidence and absorption
        w = _cos_inc(hit["n"], d) ** 2 * np.exp(-0.05 * np.where(ok, t, 0.0))
        ping = np.repeat(np.arange(p), nr)
        beam = np.tile(np.repeat(np.arange(s.beams), s.elevation_rays), p)
        rbin = np.clip((np.where(ok, t, 0) / self.dr).astype(np.int64), 0, s.range_bins - 1)
        img = np.zeros(p * s.range_bins * s.beams)
        np.add.at(img, (ping * s.range_bins + rbin) * s.beams + beam, np.where(ok, w, 0.0))
        img = img.reshape(p, s.range_bins, s.beams)
        img = img / max(1.0, s.elevation_rays / 3)
        sp = s.speckle
        img = img * ((1 - sp) + sp * rng.exponential(1.0, img.shape)) + 0.01 * rng.rayleigh(1.0, img.shape)
        img = np.clip(img, 0, 1).astype(np.float32)
        return [ImagingPing(int(stamps[i]), FRAME_IMAGING, self.beam_dirs, self.ranges, img[i],
                            beamwidth=float(np.deg2rad(s.fov_deg / s.beams)),
                            elevation_aperture=float(np.deg2rad(s.elevation_deg))) for i in range(p)]


@dataclass
class Sonar3D:
    spec: PointsSpec

    def __post_init__(self) -> None:
        s = self.spec
        az = np.deg2rad(np.linspace(-s.fov_deg[0] / 2, s.fov_deg[0] / 2, s.width))
        el = np.deg2rad(np.linspace(-s.fov_deg[1] / 2, s.fov_deg[1] / 2, s.height))
        e, a = np.meshgrid(el, az, indexing="ij")
        self.dirs = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
        self.mount = mount_transform(s.mount, fan_across=False)

    def pings(self, world: World, stamps: NDArray[np.int64], org: F, rot: F,
              rng: np.random.Generator) -> list[PointsPing]:
        s = self.spec
        p, nr = len(stamps), len(self.dirs)
        if p == 0:
            return []
        rays, hit = world.cast_block(org, rot, self.dirs.astype(np.float32))
        d = rays[:, 3:]
        t = hit["t"].reshape(p, nr)
        c = _cos_inc(hit["n"], d).reshape(p, nr)
        out = []
        for i in range(p):
            ok = np.isfinite(t[i]) & (t[i] < s.range_max_m) & (c[i] > 0.2)
            r = t[i, ok] + rng.normal(0, s.noise_m, int(ok.sum()))
            out.append(PointsPing(int(stamps[i]), FRAME_POINTS, (self.dirs[ok] * r[:, None]).astype(np.float32),
                                  (1000 * c[i, ok] ** 1.5).astype(np.float32)))
        return out


# paint colours (linear RGB) by region; parasites are dark grey
_REGION_RGB = np.array([
    [0.45, 0.12, 0.10],  # bottom: antifouling red
    [0.45, 0.12, 0.10],  # side
    [0.45, 0.12, 0.10],  # bow
    [0.45, 0.12, 0.10],  # stern
    [0.40, 0.12, 0.10],  # bilge keel
    [0.30, 0.30, 0.28],  # sea chest
    [0.45, 0.12, 0.10],  # rudder
    [0.55, 0.45, 0.25],  # propeller: bronze
    [0.35, 0.15, 0.12],  # thruster tunnel
    [0.45, 0.12, 0.10],  # skeg
    [0.60, 0.60, 0.62],  # anode: zinc/aluminium
])
_PARASITE_RGB = np.array([0.18, 0.18, 0.2])
_WATER_RGB = np.array([0.05, 0.28, 0.32])


@dataclass
class Camera:
    spec: CameraSpec
    water: WaterSpec

    def __post_init__(self) -> None:
        s = self.spec
        f = (s.width / 2) / np.tan(np.deg2rad(s.fov_deg) / 2)
        self.k = np.array([[f, 0, s.width / 2], [0, f, s.height / 2], [0, 0, 1.0]])
        u, v = np.meshgrid(np.arange(s.width) + 0.5, np.arange(s.height) + 0.5)
        d = np.stack([(u - s.width / 2) / f, (v - s.height / 2) / f, np.ones_like(u)], -1).reshape(-1, 3)
        self.dirs = d / np.linalg.norm(d, axis=1, keepdims=True)
        self.mount = camera_mount(s.mount)

    def info(self, stamp_ns: int) -> CameraModel:
        return CameraModel(stamp_ns, FRAME_CAMERA, self.spec.width, self.spec.height, self.k)

    def frames(self, world: World, stamps: NDArray[np.int64], org: F, rot: F,
               rng: np.random.Generator) -> list[CameraFrame]:
        s, w = self.spec, self.water
        p = len(stamps)
        if p == 0:
            return []
        rays, hit = world.cast_block(org, rot, self.dirs.astype(np.float32))
        o, d = rays[:, :3].astype(np.float64), rays[:, 3:]
        t = hit["t"]
        ok = np.isfinite(t) & (t < 30)
        cosi = _cos_inc(hit["n"], d)
        rgb = np.zeros((len(t), 3))
        is_hull = ok & (hit["g"] == world.hull_id)
        reg = np.where(is_hull, world.hull.face_region[np.minimum(hit["prim"], len(world.hull.face_region) - 1)], 0)
        rgb[is_hull] = _REGION_RGB[np.clip(reg[is_hull], 0, len(REGION_INDEX) - 1)]
        rgb[ok & ~is_hull] = _PARASITE_RGB
        if ok.any():
            pts = o[ok] + d[ok] * t[ok, None]
            rgb[ok] *= world.texture.albedo_factor(pts)[:, None]
        c = w.attenuation_per_m
        tt = np.where(ok, t, 30.0)
        # lamps on the vehicle: two-way attenuation and spreading; particles add veiling light
        lit = rgb * (cosi * np.exp(-2 * c * tt) / (1 + 0.02 * tt ** 2))[:, None] * 2.5
        veil = _WATER_RGB * w.backscatter * (1 - np.exp(-c * tt))[:, None] * 2.0
        img = lit + veil
        img = np.clip(img, 0, 1) ** (1 / 2.2) * 255
        img = img.reshape(p, s.height, s.width, 3) + rng.normal(0, s.noise, (p, s.height, s.width, 3))
        img8 = np.clip(img, 0, 255).astype(np.uint8)
        out = []
        for i in range(p):
            im = img8[i] if s.color else img8[i].mean(axis=2).astype(np.uint8)
            fmt = "jpeg" if s.compressed else ("rgb8" if s.color else "mono8")
            out.append(CameraFrame(int(stamps[i]), FRAME_CAMERA, im, compressed=s.compressed, format=fmt))
        return out
