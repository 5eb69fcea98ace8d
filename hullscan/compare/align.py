"""Aligning a hull cloud with its reference.

Coarse: the navigation prior (``hull_to_nav``) when given, otherwise a handful of candidates
(principal-axis yaw both ways, FPFH + RANSAC) each refined and scored. Fine: point-to-plane
ICP with Tukey weights and shrinking correspondence radii, so compartments (tens of cm off the
reference) end up with zero weight and cannot pull the result. Directions the surface does
not constrain (sliding along a parallel mid-body) keep the prior instead of drifting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import Reference
from hullscan.errors import AlignmentError, HullscanError
from hullscan.model import Transform

log = logging.getLogger("hullscan.compare")
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Alignment:
    """``transform`` maps cloud coordinates into the reference frame (reference <- cloud)."""

    transform: Transform
    method: str
    residual_m: float  # RMS point-to-plane distance of the inliers
    median_abs_m: float  # median |distance| over all points used
    inlier_fraction: float
    iterations: int
    degenerate: tuple[str, ...] = ()
    candidates: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "residual_m": round(self.residual_m, 5),
            "median_abs_m": round(self.median_abs_m, 5),
            "inlier_fraction": round(self.inlier_fraction, 4),
            "iterations": self.iterations,
            "degenerate_directions": list(self.degenerate),
            "matrix": np.round(self.transform.as_matrix(), 6).tolist(),
            "candidates": list(self.candidates),
        }


def voxel_keys(points: F64, size: float) -> NDArray[np.int64]:
    """One int64 per voxel (21 bits per axis): np.unique on it is far faster than on rows."""
    k = np.floor(points / size).astype(np.int64)
    k -= k.min(axis=0)
    if k.max(initial=0) >= 1 << 21:
        raise ValueError(f"cloud spans more than {(1 << 21) * size:.0f} m at {size} m voxels")
    return (k[:, 0] << 42) | (k[:, 1] << 21) | k[:, 2]


def voxel_down(points: F64, size: float) -> F64:
    _, first = np.unique(voxel_keys(points, size), return_index=True)
    return points[np.sort(first)]


def _tukey(r: F64, k: float) -> F64:
    u = np.clip(np.abs(r) / k, 0.0, 1.0)
    return (1 - u**2) ** 2


def _exp(x: F64) -> F64:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    m[:3, 3] = x[3:]
    return m


_DIRS = ("roll", "pitch", "yaw", "x", "y", "z")


def robust_icp(src: F64, reference: Reference, t0: F64, schedule: tuple[float, ...], k_final: float,
               max_iter: int) -> tuple[F64, int, tuple[str, ...]]:
    """Tukey-weighted point-to-plane ICP against ``reference.closest``; returns the 4x4 matrix."""
    t = t0.copy()
    iters = 0
    degenerate: tuple[str, ...] = ()
    for si, radius in enumerate(schedule):
        k = k_final if si == len(schedule) - 1 else max(k_final, radius / 2)
        for _ in range(max_iter):
            iters += 1
            p = src @ t[:3, :3].T + t[:3, 3]
            c, n, _ = reference.closest(p)
            diff = p - c
            r = np.einsum("ij,ij->i", diff, n)
            w = _tukey(r, k) * (np.linalg.norm(diff, axis=1) < radius)
            if w.sum() < 30:
                break
            m = np.average(p, axis=0, weights=w)
            a = np.hstack([np.cross(p - m, n), n])
            h = a.T @ (w[:, None] * a)
            g = -a.T @ (w * r)
            # Directions the surface barely constrains keep their current value.
            ev, evec = np.linalg.eigh(h)
            ok = ev > 1e-4 * ev.max()
            x = evec[:, ok] @ ((evec[:, ok].T @ g) / ev[ok])
            if si == len(schedule) - 1:
                degenerate = tuple(_DIRS[int(np.argmax(np.abs(evec[:, j])))] for j in np.flatnonzero(~ok))
            step = _exp(x)
            shift = np.eye(4)
            shift[:3, 3] = m
            unshift = np.eye(4)
            unshift[:3, 3] = -m
            t = shift @ step @ unshift @ t
            if np.linalg.norm(x[:3]) < 1e-5 and np.linalg.norm(x[3:]) < 1e-4:
                break
    return t, iters, degenerate


def score(src: F64, reference: Reference, t: F64, k: float) -> tuple[float, float, float]:
    """RMS of inliers, median |distance|, inlier fraction (|distance| < 2k)."""
    p = src @ t[:3, :3].T + t[:3, 3]
    d, _, _, _, over = reference.signed_distance(p)
    ad = np.abs(d)
    inl = (ad < 2 * k) & over
    rms = float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else float("inf")
    return rms, float(np.median(ad)), float(inl.mean())


def check_scale(cloud_points: F64, reference: Reference) -> None:
    """Catch references in the wrong units, or of a ship of another size, before aligning."""
    ce = np.sort(np.ptp(cloud_points, axis=0))[::-1]
    re = np.sort(reference.extent)[::-1]
    if re[0] <= 0 or ce[0] <= 0:
        raise AlignmentError(f"reference {reference.name!r} or cloud has zero extent")
    ratio = ce[0] / re[0]
    if 1 / 3000 < ratio < 1 / 300:
        raise AlignmentError(
            f"reference {reference.name!r} appears to be in millimetres: it is {re[0]:.0f} units long "
            f"while the cloud spans {ce[0]:.1f} m; load it with units='mm' (hullscan.hull.load_mesh) or rescale")
    if 300 < ratio < 3000:
        raise AlignmentError(
            f"cloud spans {ce[0]:.0f} units against a {re[0]:.2f} m reference: the cloud or the reference "
            "is in the wrong units (mm vs m)")
    if ratio > 1.3:
        raise AlignmentError(
            f"cloud ({ce[0]:.1f} m long) is longer than reference {reference.name!r} ({re[0]:.1f} m): "
            "a different ship, or the wrong reference")


def _yaw_candidates(src: F64, reference: Reference) -> list[F64]:
    """Principal-axis yaw (both ways round), centroids matched; gravity is shared (z up)."""
    def major_yaw(p: F64) -> float:
        xy = p[:, :2] - p[:, :2].mean(axis=0)
        w, v = np.linalg.eigh(xy.T @ xy)
        a = v[:, np.argmax(w)]
        return float(np.arctan2(a[1], a[0]))

    ref = reference.icp_points
    out = []
    base = major_yaw(ref) - major_yaw(src)
    for flip in (0.0, np.pi):
        r = Rotation.from_euler("z", base + flip).as_matrix()
        t = np.eye(4)
        t[:3, :3] = r
        rotated = src @ r.T
        # Match the top of the scan to the top of the reference's wetted part and centres in x, y.
        off = np.median(ref, axis=0) - np.median(rotated, axis=0)
        off[2] = np.percentile(ref[:, 2], 98) - np.percentile(rotated[:, 2], 98)
        t[:3, 3] = off
        out.append(t)
    return out


def _fpfh_candidate(src: F64, reference: Reference, voxel: float, seed: int) -> F64 | None:
    import open3d as o3d

    reg = o3d.pipelines.registration

    def prep(p: F64) -> tuple[Any, Any]:
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p)).voxel_down_sample(voxel)
        pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=voxel * 3, max_nn=30))
        feat = reg.compute_fpfh_feature(  # type: ignore[call-arg]
            pc, o3d.geometry.KDTreeSearchParamHybrid(radius=voxel * 6, max_nn=100))
        return pc, feat

    try:
        o3d.utility.random.seed(seed)
        s, sf = prep(src)
        t, tf = prep(reference.icp_points)
        res = reg.registration_ransac_based_on_feature_matching(
            s, t, sf, tf, True, voxel * 2, reg.TransformationEstimationPointToPoint(False), 3,
            [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(voxel * 2)],
            reg.RANSACConvergenceCriteria(100000, 0.999))
    except RuntimeError as err:  # open3d raises bare RuntimeErrors on degenerate input
        log.info("global registration failed: %s", err)
        return None
    return np.asarray(res.transformation)


def align(points: F64, reference: Reference, config: CompareConfig, *, prior: Transform | None = None) -> Alignment:
    """Align cloud ``points`` (cloud frame) with ``reference``; raises AlignmentError when it fails."""
    if len(points) < 50:
        raise HullscanError(f"cloud has only {len(points)} points; need at least 50 to align")
    if len(reference.icp_points) < 50:
        raise AlignmentError(f"reference {reference.name!r} has too little surface to align with")
    src = voxel_down(points, config.voxel_m)
    if len(src) > 60000:
        src = src[np.random.default_rng(config.seed).choice(len(src), 60000, replace=False)]
    check_scale(points, reference)
    k = config.tukey_k_m

    def global_candidates() -> list[tuple[str, F64]]:
        cands = [(f"principal axes #{i}", t) for i, t in enumerate(_yaw_candidates(src, reference))]
        if config.global_registration:
            g = _fpfh_candidate(src, reference, max(0.5, float(reference.extent.max()) / 150), config.seed)
            if g is not None:
                cands.append(("FPFH+RANSAC", g))
        return cands

    def refine(cands: list[tuple[str, F64]], schedule: tuple[float, ...]) -> list[tuple[Any, ...]]:
        out = []
        for name, t0 in cands:
            t, iters, degenerate = robust_icp(src, reference, t0, schedule, k, config.icp_max_iter)
            rms, med, inl = score(src, reference, t, k)
            out.append((inl, -med, name, t, iters, degenerate, rms, med))
            log.info("alignment candidate %s: inliers %.2f, median |d| %.3f m, rms %.3f m", name, inl, med, rms)
        return out

    def fits(r: tuple[Any, ...]) -> bool:
        return bool(r[0] >= config.min_inlier_fraction and r[7] <= config.max_residual_m)

    wide = (4.0, 2.0, 1.0, *config.icp_schedule_m)
    if prior is not None:
        results = refine([("navigation prior", prior.as_matrix())], config.icp_schedule_m)
        if not fits(results[0]) and config.global_registration:
            # A prior metres off (another waterline or origin convention in the mesh, a wrong
            # truth file) must not sink an inspection that global registration can still align.
            log.warning("navigation prior does not fit reference %r (inliers %.0f%%, median %.2f m): "
                        "trying global registration", reference.name, 100 * results[0][0], results[0][7])
            results += refine(global_candidates(), wide)
    else:
        results = refine(global_candidates(), wide)
    results.sort(key=lambda r: (round(r[0], 2), r[1]), reverse=True)
    inl, _, name, t, iters, degenerate, rms, med = results[0]
    summary = tuple({"method": r[2], "inlier_fraction": round(r[0], 4), "median_abs_m": round(r[7], 4)}
                    for r in results)
    result = Alignment(Transform.from_matrix(t), name, rms, med, inl, iters, degenerate, summary)
    if inl < config.min_inlier_fraction or med > config.max_residual_m:
        raise AlignmentFailed(
            f"cloud does not fit reference {reference.name!r}: after alignment ({name}) only "
            f"{inl:.0%} of the cloud lies within {2 * k:.2f} m of it (need {config.min_inlier_fraction:.0%}), "
            f"median distance {med:.2f} m (limit {config.max_residual_m:.2f} m). A different ship, a "
            "reference in other units, or a navigation prior that is far off; no findings were produced.",
            result)
    return result


class AlignmentFailed(AlignmentError):
    """Alignment ran but did not fit; carries the best attempt for the partial report."""

    def __init__(self, message: str, attempt: Alignment) -> None:
        super().__init__(message)
        self.attempt = attempt


@dataclass(frozen=True, eq=False)
class LocalCorrection:
    """Piecewise translations that undo navigation drift the rigid alignment cannot."""

    centres: F64  # (B, 3) block centres, reference frame
    shifts: F64  # (B, 3) translation added to the points of each block (m)

    @property
    def max_shift_m(self) -> float:
        return float(np.linalg.norm(self.shifts, axis=1).max()) if len(self.shifts) else 0.0

    def shift_at(self, points: F64, block: float) -> F64:
        """(N, 3) Gaussian blend of the nearby blocks' translations at ``points`` (smooth, no seams)."""
        from scipy.spatial import cKDTree

        k = min(8, len(self.centres))
        dist, idx = cKDTree(self.centres).query(points, k=k, workers=-1)
        dist, idx = np.atleast_2d(dist.T).T, np.atleast_2d(idx.T).T
        w = np.exp(-0.5 * (dist / (0.5 * block)) ** 2) + 1e-12
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("ij,ijk->ik", w, self.shifts[idx])

    def apply(self, points: F64, block: float) -> F64:
        """Shift ``points`` by :meth:`shift_at`, evaluated once per cell of ``block / 64``.

        The blend varies over metres, so evaluating it at each small cell's centre moves a shift
        by a few millimetres at most (1 mm for a 0.1 m step between neighbouring blocks), and
        millions of points cost a few hundred thousand lookups.
        """
        if not len(self.centres) or not len(points):
            return points
        cell = block / 64.0
        _, first, inv = np.unique(voxel_keys(points, cell), return_index=True, return_inverse=True)
        centres = (np.floor(points[first] / cell) + 0.5) * cell
        return points + self.shift_at(centres, block)[inv.ravel()]


def local_refine(points: F64, reference: Reference, config: CompareConfig, offset: float = 0.0) -> LocalCorrection:
    """Per-block (``config.local_block_m`` cubes) robust point-to-plane translation.

    A drifting navigation solution bends the map: each survey lane is shifted a little
    differently, which a single rigid transform cannot undo and which would show as large,
    shallow 'protrusions'. Blocks several times larger than any compartment are fitted with a
    median start and Tukey weights narrowing to ``tukey_k_m``, so compartments have no pull;
    directions a block does not constrain (one flat plate) are left alone. ``offset`` shifts the
    block grid (a second pass on a half-offset grid fits what one block straddling two lanes
    or the start of a lane could not).
    """
    block = config.local_block_m
    src = voxel_down(points, config.voxel_m)
    keys = np.floor((src + offset) / block).astype(np.int64)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    centres, shifts = [], []
    for b in range(int(inv.max()) + 1 if len(inv) else 0):
        p = src[inv == b]
        if len(p) < 200:
            continue
        t = np.zeros(3)
        d, _, n, _, over = reference.signed_distance(p)
        ok = over & (np.abs(d) < config.local_max_shift_m)
        if ok.sum() < 100:
            continue
        nbar = n[ok].mean(axis=0)
        if np.linalg.norm(nbar) > 0.5:
            t = -float(np.median(d[ok])) * nbar / max(float(np.linalg.norm(nbar)), 1e-9)
        for k in (0.2, 0.1, config.tukey_k_m, config.tukey_k_m):
            d, _, n, _, over = reference.signed_distance(p + t)
            w = _tukey(d, k) * over
            if w.sum() < 50:
                break
            h = n.T @ (w[:, None] * n)
            g = -n.T @ (w * d)
            ev, evec = np.linalg.eigh(h)
            good = ev > 0.05 * ev.max()
            t = t + evec[:, good] @ ((evec[:, good].T @ g) / ev[good])
        if np.linalg.norm(t) < config.local_max_shift_m:
            centres.append(p.mean(axis=0))
            shifts.append(t)
    return LocalCorrection(np.array(centres).reshape(-1, 3), np.array(shifts).reshape(-1, 3))
