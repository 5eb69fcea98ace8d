"""Parametric merchant hull as a labelled triangle mesh, and solids attached to a hull surface.

The skin is a grid of stations (x) by girth points: each section is a
superellipse |y/b|^n + |z/k|^n = 1 below the waterline (n ~ 8 amidships gives a
box section with a round bilge, n -> 2 at the ends gives fine lines) and wall
sided above it. The half-breadth b(x) tapers over the entrance and run with an
exponent chosen so the block coefficient matches; the keel rises over the run.
Appendages are separate closed solids overlapping the skin: ray casting only
needs the outer surface, not a boolean union.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from hullscan_sim.scenario import ParametricHullSpec, SeaChestSpec
from numpy.typing import NDArray

from hullscan.errors import ConfigError
from hullscan.hull.mesh import REGION_INDEX, HullMesh, merge_meshes
from hullscan.hull.regions import classify_regions

F = NDArray[np.float64]


@dataclass(frozen=True)
class SeaChest:
    """A sea chest as built: opening centre on the shell, outward normal, along-hull axis."""

    index: int
    center: F
    normal: F
    along: F
    width: float
    height: float
    recess: float


@dataclass(frozen=True)
class HullBuild:
    mesh: HullMesh
    sea_chests: tuple[SeaChest, ...]
    block_coefficient: float


def part(v: F, f: NDArray[np.int64], region: str, name: str = "part") -> HullMesh:
    return HullMesh(v, f, np.full(len(f), REGION_INDEX[region], np.int16), name, name, 0.0, 0.0, 0.0)


def surface_frame(normal: F, along_hint: F | None = None) -> F:
    """3x3 matrix whose columns are (along, across, normal): a right-handed surface frame
    with ``along`` as close to ``along_hint`` (default hull x) as the surface allows."""
    n = normal / np.linalg.norm(normal)
    hint = np.array([1.0, 0.0, 0.0]) if along_hint is None else along_hint
    t = hint - n * float(hint @ n)
    if np.linalg.norm(t) < 1e-6:
        t = np.array([0.0, 0.0, 1.0]) - n * n[2]
    t /= np.linalg.norm(t)
    return np.stack([t, np.cross(n, t), n], axis=1)


def solid_at(mesh: trimesh.Trimesh, origin: F, frame: F, region: str, name: str) -> HullMesh:
    v = np.asarray(mesh.vertices) @ frame.T + origin
    return part(v, np.asarray(mesh.faces, np.int64), region, name)


def _superellipse_area_factor(n: F) -> F:
    from scipy.special import gamma

    return np.asarray(gamma(1 + 1 / n) ** 2 / gamma(1 + 2 / n))


class _Lines:
    """Half-breadth, keel depth and section exponent along the hull."""

    def __init__(self, s: ParametricHullSpec, p: float) -> None:
        self.s, self.p = s, p
        L = s.length_m
        rest = (1 - s.parallel_midbody) * L
        self.l_ent, self.l_run = 0.55 * rest, 0.45 * rest
        self.x_fwd = L - self.l_ent
        self.x_aft = self.l_run
        # Midship section fullness: full ships have a small bilge radius (n ~ 8, Cm ~ 0.98),
        # fine ones a rounder midship section (n ~ 5, Cm ~ 0.93).
        self.n_mid = float(np.clip(5.0 + (s.block_coefficient - 0.55) * 20.0, 5.0, 8.0))

    def taper(self, x: F) -> F:
        u_e = np.clip((x - self.x_fwd) / max(self.l_ent, 1e-9), 0, 1)
        u_r = np.clip((self.x_aft - x) / max(self.l_run, 1e-9), 0, 1)
        f = (1 - u_e ** self.p) * (1 - 0.45 * u_r ** self.p)
        return np.asarray(np.maximum(f, 0.03))

    def keel(self, x: F) -> F:
        T, L = self.s.draft_m, self.s.length_m
        u_r = np.clip((self.x_aft * 0.8 - x) / max(self.x_aft * 0.8, 1e-9), 0, 1)
        k = T * (1 - 0.6 * u_r ** 1.6)
        fore = np.clip((x - 0.96 * L) / (0.04 * L), 0, 1)
        return np.asarray(k * (1 - 0.45 * fore ** 2))

    def exponent(self, x: F) -> F:
        return np.asarray(2.2 + (self.n_mid - 2.2) * self.taper(x) ** 2)

    def block_coefficient(self) -> float:
        x = np.linspace(0, self.s.length_m, 801)
        b = 0.5 * self.s.beam_m * self.taper(x)
        area = 2 * b * self.keel(x) * _superellipse_area_factor(self.exponent(x))
        vol = float(np.sum(0.5 * (area[1:] + area[:-1]) * np.diff(x)))
        return vol / (self.s.length_m * self.s.beam_m * self.s.draft_m)

    def half_breadth(self, x: float, z: float) -> float:
        """Half-breadth of the skin at (x, z) (z <= 0), 0 below the keel."""
        b = float(self.taper(np.array([x]))[0]) * 0.5 * self.s.beam_m
        k = float(self.keel(np.array([x]))[0])
        n = float(self.exponent(np.array([x]))[0])
        if z >= 0:
            return b
        if -z >= k:
            return 0.0
        return b * (1 - (-z / k) ** n) ** (1 / n)


P_RANGE = (0.6, 8.0)  # taper exponents: hollow to very full ends


def _fit_lines(s: ParametricHullSpec) -> _Lines:
    """Lines whose block coefficient matches the spec (bisection on the taper exponent)."""
    lo, hi = P_RANGE
    cb_lo, cb_hi = _Lines(s, lo).block_coefficient(), _Lines(s, hi).block_coefficient()
    if not cb_lo - 0.01 <= s.block_coefficient <= cb_hi + 0.01:
        raise ConfigError(f"hull.parametric.block_coefficient: {s.block_coefficient} cannot be reached with "
                          f"parallel_midbody {s.parallel_midbody} (expected {cb_lo:.3f}..{cb_hi:.3f}; a smaller "
                          "midbody gives a finer hull)")
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if _Lines(s, mid).block_coefficient() < s.block_coefficient:
            lo = mid
        else:
            hi = mid
    return _Lines(s, 0.5 * (lo + hi))


def _section(b: float, k: float, n: float, zd: float, m_half: int) -> F:
    """Starboard half section from the keel (y=0) to the deck edge, resampled evenly by girth: (m_half, 2)."""
    th = np.linspace(np.pi / 2, 0, 160)
    y = b * np.cos(th) ** (2 / n)
    z = -k * np.sin(th) ** (2 / n)
    y = np.append(y, b)
    z = np.append(z, zd)
    seg = np.hypot(np.diff(y), np.diff(z))
    g = np.concatenate([[0], np.cumsum(seg)])
    gi = np.linspace(0, g[-1], m_half)
    return np.stack([np.interp(gi, g, y), np.interp(gi, g, z)], axis=1)


def _skin(s: ParametricHullSpec, lines: _Lines) -> HullMesh:
    L, T = s.length_m, s.draft_m
    depth = s.depth_m or 1.6 * T
    zd = depth - T
    res = s.resolution_m
    half_girth = T + zd + 0.5 * s.beam_m
    nx = int(np.clip(L / res, 60, 1000))
    m_half = int(np.clip(half_girth / res, 16, 300))
    # Keep the skin under ~240k triangles whatever the resolution asked (ray casting speed).
    shrink = np.sqrt(min(1.0, 240_000 / (4.0 * nx * m_half)))
    nx, m_half = max(60, int(nx * shrink)), max(16, int(m_half * shrink))
    xs = np.linspace(0.0, L, nx)
    b = 0.5 * s.beam_m * lines.taper(xs)
    k = lines.keel(xs)
    n = lines.exponent(xs)
    grid = np.empty((nx, 2 * m_half - 1, 3))
    for i in range(nx):
        sec = _section(b[i], k[i], n[i], zd, m_half)
        # starboard deck edge -> keel -> port deck edge (y to port is +)
        yz = np.concatenate([sec[::-1] * [-1, 1], sec[1:]])
        grid[i, :, 0] = xs[i]
        grid[i, :, 1:] = yz
    m = grid.shape[1]
    idx = np.arange(nx * m).reshape(nx, m)
    a, bb, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = [np.stack([a, bb, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    # deck lid between the two deck edges
    i0 = idx[:-1, 0]
    i1 = idx[1:, 0]
    j0 = idx[:-1, -1]
    j1 = idx[1:, -1]
    faces += [np.stack([i0, j0, j1], -1), np.stack([i0, j1, i1], -1)]
    verts = grid.reshape(-1, 3)
    # transom (x=0) and stem (x=L) closed by fans around their centroids
    extra: list[F] = []
    for row, flip in ((idx[0], True), (idx[-1], False)):
        cidx = len(verts) + len(extra)
        extra.append(verts[row].mean(axis=0))
        ring = np.append(row, row[0])
        fan = np.stack([np.full(len(ring) - 1, cidx), ring[:-1], ring[1:]], -1)
        faces.append(fan[:, [0, 2, 1]] if flip else fan)
    verts = np.concatenate([verts, np.array(extra)])
    f = np.concatenate(faces).astype(np.int64)
    mesh = HullMesh(verts, f, np.full(len(f), -1, np.int16), "skin", "parametric", L, s.beam_m, T)
    return mesh.with_regions(classify_regions(mesh))


def _tube(center: F, axis: F, radius: float, half_len: float, n: int = 28) -> tuple[F, NDArray[np.int64]]:
    fr = surface_frame(axis, np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0, 0]))
    u, w = fr[:, 0], fr[:, 1]
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = radius * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w)
    v = np.concatenate([center - half_len * axis + ring, center + half_len * axis + ring])
    i = np.arange(n)
    j = (i + 1) % n
    f = np.concatenate([np.stack([i, j, j + n], -1), np.stack([i, j + n, i + n], -1)])
    return v, f.astype(np.int64)


def _remove_faces(skin: HullMesh, drop: NDArray[np.bool_]) -> HullMesh:
    return HullMesh(skin.vertices, skin.faces[~drop], skin.face_region[~drop], skin.name, skin.source,
                    skin.length, skin.beam, skin.draft)


def _sea_chest(skin: HullMesh, lines: _Lines, spec: SeaChestSpec, index: int) -> tuple[HullMesh, list[HullMesh], SeaChest]:
    s = lines.s
    xc = spec.x_m if spec.x_m is not None else 0.25 * s.length_m
    zc = -(spec.depth_below_wl_m if spec.depth_below_wl_m is not None else 0.6 * s.draft_m)
    where = f"hull.parametric.sea_chests.{index}"
    if not 0.05 * s.length_m < xc < 0.95 * s.length_m:
        raise ConfigError(f"{where}.x_m: expected within the hull (0.05..0.95 x {s.length_m} m), got {xc}")
    if not -s.draft_m + spec.height_m / 2 < zc < -spec.height_m / 2:
        raise ConfigError(f"{where}.depth_below_wl_m: the chest must fit between the waterline and the keel "
                          f"(draft {s.draft_m} m, height {spec.height_m} m), got {-zc}")
    sign = 1.0 if spec.side == "port" else -1.0
    ys = min(lines.half_breadth(xc - spec.width_m / 2, zc), lines.half_breadth(xc + spec.width_m / 2, zc),
             lines.half_breadth(xc, zc))
    if ys < spec.recess_m + 0.3:
        raise ConfigError(f"{where}: the hull is too narrow at x={xc:.1f} m for a {spec.recess_m} m recess "
                          f"(half-breadth {ys:.2f} m)")
    c = skin.face_centroids()
    hole = ((np.abs(c[:, 0] - xc) < spec.width_m / 2) & (np.abs(c[:, 2] - zc) < spec.height_m / 2)
            & (c[:, 1] * sign > ys - 0.5))
    skin = _remove_faces(skin, hole)
    w, h, r = spec.width_m, spec.height_m, spec.recess_m
    # recess: an open box, its open face flush with (slightly proud of) the shell
    y_out, y_in = sign * (ys + 0.03), sign * (ys - r)
    x0, x1, z0, z1 = xc - w / 2, xc + w / 2, zc - h / 2, zc + h / 2
    corners = np.array([[x, y, z] for y in (y_out, y_in) for x in (x0, x1) for z in (z0, z1)])
    # indices: out: 0 (x0,z0) 1 (x0,z1) 2 (x1,z0) 3 (x1,z1); in: +4
    quads = [(4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    f = np.array([t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))], np.int64)
    parts = [part(corners, f, "sea_chest", "sea_chest")]
    n_bars = max(1, round(w / spec.bar_spacing_m) - 1)
    for xb in np.linspace(x0, x1, n_bars + 2)[1:-1]:
        bar = trimesh.creation.box(extents=[0.03, 0.06, h])
        parts.append(solid_at(bar, np.array([xb, sign * (ys - 0.02), zc]), np.eye(3), "sea_chest", "grating"))
    chest = SeaChest(index, np.array([xc, sign * ys, zc]), np.array([0.0, sign, 0.0]), np.array([1.0, 0, 0]),
                     w, h, r)
    return skin, parts, chest


def build_parametric(s: ParametricHullSpec) -> HullBuild:
    """The design hull (appendages and anodes included, no parasites) with face regions."""
    lines = _fit_lines(s)
    cb = lines.block_coefficient()
    L, B, T = s.length_m, s.beam_m, s.draft_m
    skin = _skin(s, lines)
    parts: list[HullMesh] = []
    chests: list[SeaChest] = []
    # Openings in the shell first (they cut the skin), then the solids on it; the part order is
    # the face order of the merged mesh, which the scenarios' random draws depend on.
    if s.bow_thruster:
        skin, tunnel = _thruster_tunnel(skin, lines, s)
        parts += tunnel
    for i, spec in enumerate(s.sea_chests):
        skin, chest_parts, chest = _sea_chest(skin, lines, spec, i)
        parts += chest_parts
        chests.append(chest)
    parts += _appendages(s, lines)
    design = merge_meshes([skin, *parts], "parametric", "parametric")
    design = HullMesh(design.vertices, design.faces, design.face_region, f"parametric_{L:g}m",
                      f"parametric L={L:g} B={B:g} T={T:g} Cb={cb:.3f}", L, B, T)
    anodes = place_anodes(design, s.anodes, rng_seed=int(L * 1000) % 2**31)
    if anodes:
        design = merge_meshes([design, *anodes], design.name, design.source)
    return HullBuild(design, tuple(chests), cb)


def _thruster_tunnel(skin: HullMesh, lines: _Lines, s: ParametricHullSpec) -> tuple[HullMesh, list[HullMesh]]:
    """A transverse bow-thruster tunnel: the shell opened where it passes (none where the bow is too
    fine to hold it)."""
    L, T = s.length_m, s.draft_m
    xt, zt = 0.9 * L, -0.45 * T
    rad = float(np.clip(0.12 * T, 0.3, 1.5))
    bt = lines.half_breadth(xt, zt)
    if not bt > 2 * rad:
        return skin, []
    c = skin.face_centroids()
    hole = ((c[:, 0] - xt) ** 2 + (c[:, 2] - zt) ** 2 < rad ** 2) & (np.abs(c[:, 1]) > 0.3 * bt)
    skin = _remove_faces(skin, hole)
    v, f = _tube(np.array([xt, 0.0, zt]), np.array([0.0, 1.0, 0.0]), rad, bt + 0.3)
    return skin, [part(v, f, "thruster_tunnel", "thruster_tunnel")]


def _appendages(s: ParametricHullSpec, lines: _Lines) -> list[HullMesh]:
    """The closed solids on the shell, in this order: bulb, skeg, propeller, rudder, bilge keels."""
    L, B, T = s.length_m, s.beam_m, s.draft_m
    parts: list[HullMesh] = []
    if s.bulbous_bow:
        bulb = trimesh.creation.icosphere(subdivisions=3)
        bulb.apply_scale([0.045 * L, min(0.09 * B, 0.22 * T), 0.22 * T])
        parts.append(solid_at(bulb, np.array([L - 0.005 * L, 0.0, -0.6 * T]), np.eye(3), "bow", "bulb"))
    prop_d = s.propeller_diameter_m or 0.65 * T
    xp, zp = -0.025 * L, -T + 0.55 * prop_d
    if s.skeg:
        skeg = trimesh.creation.box(extents=[0.13 * L, max(0.04 * B, 0.2), 0.6 * T])
        parts.append(solid_at(skeg, np.array([0.055 * L, 0.0, -0.45 * T - 0.1 * T]), np.eye(3), "skeg", "skeg"))
    if s.propeller_blades > 0:
        parts += _propeller(s, prop_d, xp, zp)
    if s.rudder:
        chord = 0.035 * L
        rudder = trimesh.creation.box(extents=[chord, max(0.15 * chord, 0.15), 0.9 * T])
        parts.append(solid_at(rudder, np.array([xp - 0.3 * prop_d - chord / 2, 0.0, -0.5 * T]), np.eye(3),
                              "rudder", "rudder"))
    if s.bilge_keels:
        parts += _bilge_keels(s, lines)
    return parts


def _propeller(s: ParametricHullSpec, prop_d: float, xp: float, zp: float) -> list[HullMesh]:
    """Hub, shaft (into the skeg) and pitched blades of a propeller centred at (xp, 0, zp)."""
    L = s.length_m
    hub_r = 0.11 * prop_d
    hub = trimesh.creation.cylinder(radius=hub_r, height=0.25 * prop_d, sections=24)
    to_x = np.array([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]])  # cylinder axis z -> x
    parts = [solid_at(hub, np.array([xp, 0.0, zp]), to_x, "propeller", "hub")]
    shaft = trimesh.creation.cylinder(radius=0.4 * hub_r, height=0.06 * L, sections=16)
    parts.append(solid_at(shaft, np.array([xp + 0.03 * L, 0.0, zp]), to_x, "propeller", "shaft"))
    span = prop_d / 2 - hub_r
    for kb in range(s.propeller_blades):
        blade = trimesh.creation.box(extents=[0.03 * prop_d, 0.28 * prop_d, span])
        blade.apply_translation([0, 0, hub_r + span / 2])
        pitch = trimesh.transformations.rotation_matrix(np.deg2rad(35), [0, 0, 1])
        spin = trimesh.transformations.rotation_matrix(2 * np.pi * kb / s.propeller_blades, [1, 0, 0])
        blade.apply_transform(spin @ pitch)
        parts.append(solid_at(blade, np.array([xp, 0.0, zp]), np.eye(3), "propeller", "blade"))
    return parts


def _bilge_keels(s: ParametricHullSpec, lines: _Lines) -> list[HullMesh]:
    """A fin on each bilge (port, then starboard) along the parallel midbody; none when it is too short."""
    L, B, T = s.length_m, s.beam_m, s.draft_m
    xb0, xb1 = max(lines.x_aft, 0.3 * L), min(lines.x_fwd, 0.7 * L)
    if not xb1 - xb0 > 2:
        return []
    k = T
    n = lines.n_mid
    th = np.pi / 4
    yb = 0.5 * B * np.cos(th) ** (2 / n)
    zb = -k * np.sin(th) ** (2 / n)
    parts = []
    for sign in (1.0, -1.0):
        nrm = np.array([0.0, sign, -1.0]) / np.sqrt(2)
        fin = trimesh.creation.box(extents=[xb1 - xb0, 0.04, 0.45])
        fr = np.stack([np.array([1.0, 0, 0]), np.cross(nrm, [1.0, 0, 0]), nrm], axis=1)
        parts.append(solid_at(fin, np.array([0.5 * (xb0 + xb1), sign * yb, zb]) + nrm * 0.2, fr,
                              "bilge_keel", "bilge_keel"))
    return parts


def outward_normal(mesh: HullMesh, points: F, face_ids: NDArray[np.int64]) -> F:
    """Face normals at ``points`` oriented away from the hull's centre line (x axis at mid draft)."""
    n = mesh.face_normals()[face_ids]
    axis_pt = np.stack([points[:, 0], np.zeros(len(points)), np.full(len(points), -0.5 * mesh.draft)], 1)
    flip = np.sum((points - axis_pt) * n, axis=1) < 0
    n[flip] *= -1
    return n


def place_anodes(mesh: HullMesh, count: int, rng_seed: int = 0) -> list[HullMesh]:
    """Sacrificial anodes (0.8 x 0.25 x 0.08 m) on the side, bilge and stern, alternating sides."""
    if count <= 0:
        return []
    L, T, B = mesh.length, mesh.draft, mesh.beam
    guesses = []
    for i in range(count):
        sign = 1.0 if i % 2 == 0 else -1.0
        if i < 2:  # pair near the stern, by the propeller aperture
            guesses.append([0.06 * L, sign * B, -0.45 * T])
        else:
            frac = 0.15 + 0.6 * ((i - 2) // 2) / max(1, (count - 2) // 2)
            guesses.append([frac * L, sign * B, -0.8 * T])
    pts = np.array(guesses)
    skin = mesh.region_mask("side") | mesh.region_mask("stern") | mesh.region_mask("bottom")
    sub = HullMesh(mesh.vertices, mesh.faces[skin], mesh.face_region[skin], "s", "s", L, B, T)
    cp, fid, _ = sub.closest(pts)
    nrm = outward_normal(sub, cp, fid)
    box = trimesh.creation.box(extents=[0.8, 0.25, 0.1])
    box.apply_translation([0, 0, 0.03])
    return [solid_at(box, cp[i], surface_frame(nrm[i]), "anode", f"anode{i}") for i in range(count)]


def wigley_trimesh(length: float = 60.0, beam: float = 6.0, draft: float = 3.75, freeboard: float = 2.4,
                   nx: int = 121, nz: int = 31) -> trimesh.Trimesh:
    """The analytic Wigley hull y = B/2 (1 - (2x/L)^2)(1 - (z/T)^2), wall-sided above the
    waterline, closed by a deck; x from -L/2 (stern) to L/2, z = 0 at the waterline."""
    xi = np.linspace(-0.5, 0.5, nx)
    zs = np.concatenate([np.linspace(-draft, 0, nz), np.linspace(0, freeboard, 6)[1:]])
    zz = np.clip(zs, -draft, 0)
    half = 0.5 * beam * (1 - (2 * xi[:, None]) ** 2) * (1 - (zz[None, :] / draft) ** 2)
    half = np.maximum(half, 1e-3)
    m = len(zs)
    # girth: starboard deck -> keel -> port deck (keel row shared)
    yz = np.concatenate([np.stack([-half[:, ::-1], np.broadcast_to(zs[::-1], half.shape)], -1),
                         np.stack([half[:, 1:], np.broadcast_to(zs[1:], (nx, m - 1))], -1)], axis=1)
    g = yz.shape[1]
    v = np.concatenate([np.repeat(xi[:, None] * length, g, 1)[..., None], yz], -1).reshape(-1, 3)
    idx = np.arange(nx * g).reshape(nx, g)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    f = [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    f += [np.stack([idx[:-1, 0], idx[:-1, -1], idx[1:, -1]], -1), np.stack([idx[:-1, 0], idx[1:, -1], idx[1:, 0]], -1)]
    return trimesh.Trimesh(v, np.concatenate(f), process=False)
