"""Aligning a hull cloud with its reference.

Coarse: the navigation prior (``hull_to_nav``) when given, otherwise a handful of candidates
(principal-axis yaw both ways, FPFH + RANSAC) each refined and scored. Fine: point-to-plane
ICP with Tukey weights and shrinking correspondence radii, so compartments (tens of cm off the
reference) end up with zero weight and cannot pull the result. Directions the surface does
not constrain (sliding along a parallel mid-body) keep the prior instead of drifting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.compare.config import CompareConfig
from hullscan.compare.prior import PriorSigma, held_along
from hullscan.compare.reference import Reference
from hullscan.compare.relief import ReliefFix, measure_relief
from hullscan.core.chunks import map_threads
from hullscan.core.grid import extent, group_keys, voxel_down, voxel_keys
from hullscan.core.interp import blend_shifts
from hullscan.core.robust import tukey
from hullscan.errors import AlignmentError, HullscanError
from hullscan.model import Transform

log = logging.getLogger("hullscan.compare")
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class LayerTrade:
    """What a growth layer of ``thickness_m`` over the steel would change. Laid that far proud of the
    reference, the cloud moves out of it (``motion``, 4x4, reference <- reference: across and up, as
    the fit finds it) or, along a taper, along the ship (``along_motion``: along and in heading
    only); where both trade, any mix of the two fits alike. ``along_m`` .. ``heading_deg``: at the
    survey's centre in hull axes, ``along_m`` from ``along_motion``, the rest from ``motion``."""

    thickness_m: float
    motion: F64
    along_motion: F64
    along_m: float
    across_m: float
    vertical_m: float
    heading_deg: float

    def note(self) -> str:
        return (f"a growth layer as thick as the surface's relief ({self.thickness_m * 100:.0f} cm, its 1st to 99th "
                "percentile of distance to the reference, as barnacles with bare plating between are; a uniform coat "
                f"may be thicker) would move the survey up to {abs(self.across_m) * 100:.0f} cm across and "
                f"{abs(self.vertical_m) * 100:.0f} cm in depth, or, taken up along the hull's taper, "
                f"{abs(self.along_m):.2f} m along the ship: positions of findings, metres from the stern, frame "
                "numbers and depths are uncertain by as much")

    def as_dict(self) -> dict[str, Any]:
        return {"thickness_m": round(self.thickness_m, 4), "along_m": round(self.along_m, 3),
                "across_m": round(self.across_m, 3), "vertical_m": round(self.vertical_m, 3),
                "heading_deg": round(self.heading_deg, 3), "motion": np.round(self.motion, 6).tolist(),
                "along_motion": np.round(self.along_motion, 6).tolist()}


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
    registration: Registration | None = None
    # How far the cloud stands proud of the reference everywhere alike (m; :func:`surface_offset`),
    # which the fit took out; None where it was not fitted (compare.alignment.surface_offset off).
    surface_offset_m: float | None = None
    # After the drift correction (hullscan.compare.kinds): the surface's texture at the scale of
    # barnacles and, on a rough hull, its relief (:func:`surface_spread`)
    # and how the placement would move were the surveyed surface a layer that thick over the steel
    # (:func:`layer_trade`); None on a smooth one.
    surface_texture_m: float | None = None
    surface_relief_m: float | None = None
    layer: LayerTrade | None = None

    @property
    def ambiguity_note(self) -> str | None:
        reg = self.registration
        return None if reg is None else reg.ambiguity_note()

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "residual_m": round(self.residual_m, 5),
            "median_abs_m": round(self.median_abs_m, 5),
            "inlier_fraction": round(self.inlier_fraction, 4),
            "iterations": self.iterations,
            "degenerate_directions": list(self.degenerate),
            "surface_offset_m": None if self.surface_offset_m is None else round(self.surface_offset_m, 4),
            "surface_relief_m": None if self.surface_relief_m is None else round(self.surface_relief_m, 4),
            "surface_texture_m": None if self.surface_texture_m is None else round(self.surface_texture_m, 4),
            "growth_layer": None if self.layer is None else self.layer.as_dict(),
            "matrix": np.round(self.transform.as_matrix(), 6).tolist(),
            "candidates": list(self.candidates),
            "registration": None if self.registration is None else self.registration.as_dict(),
        }


@dataclass(frozen=True)
class Hypothesis:
    """One converged coarse fit: ``transform`` is reference <- cloud."""

    transform: Transform
    seed: str
    inlier_fraction: float
    median_abs_m: float
    cost: float  # mean truncated squared distance at the fine scale (m^2): lower fits better
    offset_along_m: float  # from the prior, at the registration's pivot (Registration.pivot), hull axes
    offset_across_m: float
    offset_vertical_m: float
    offset_heading_deg: float

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "inlier_fraction": round(self.inlier_fraction, 4), "cost_m2": float(f"{self.cost:.4g}"),
                "median_abs_m": round(self.median_abs_m, 4),
                "offset_from_prior": {"along_m": round(self.offset_along_m, 3),
                                      "across_m": round(self.offset_across_m, 3),
                                      "vertical_m": round(self.offset_vertical_m, 3),
                                      "heading_deg": round(self.offset_heading_deg, 3)}}


@dataclass(frozen=True)
class Registration:
    """Coarse, multi-hypothesis registration from a prior with its uncertainty.

    ``best`` is the chosen hypothesis; ``alternatives`` are distinct ones that fit as well (within
    ``tie_margin`` of its inlier fraction). ``along_range_m`` is the interval of shifts along the
    ship (hull x) over which the fit stays as good: wider than a metre means the surveyed geometry
    (a parallel midbody from one side) does not fix the position along the ship.
    """

    best: Hypothesis
    hypotheses: tuple[Hypothesis, ...]
    alternatives: tuple[Hypothesis, ...]
    along_range_m: tuple[float, float]
    searched: dict[str, float]
    pivot: tuple[float, float, float] = (0.0, 0.0, 0.0)  # where the prior's bounds hold (the start of a quay prior, else the survey's centre), reference frame
    relief: ReliefFix | None = None  # the position along the ship fixed by reference relief the survey saw (compare.relief)

    @property
    def along_ambiguous(self) -> bool:
        lo, hi = self.along_range_m
        return hi - lo > 1.0

    def along_sd_m(self, step_m: float) -> float:
        """How well the fit places the survey along the ship (1 sigma, m): half the tie range, at
        least half the scan's ``step_m`` (its resolution)."""
        lo, hi = self.along_range_m
        return max((hi - lo) / 2.0, step_m / 2.0)

    def ambiguity_note(self) -> str | None:
        if self.relief is not None:
            return self.relief.note()
        if not self.along_ambiguous:
            return None
        lo, hi = self.along_range_m
        return (f"position along the ship ambiguous by {lo:+.1f}/{hi:+.1f} m (the surveyed hull looks the same "
                "over that range); frame numbers and metres from the stern are uncertain by as much")

    def as_dict(self) -> dict[str, Any]:
        return {"best": self.best.as_dict(), "alternatives": [h.as_dict() for h in self.alternatives],
                "hypotheses": len(self.hypotheses), "along_range_m": [round(v, 2) for v in self.along_range_m],
                "along_ambiguous": self.along_ambiguous, "note": self.ambiguity_note(), "searched": self.searched,
                "pivot": [round(v, 3) for v in self.pivot],
                "relief": None if self.relief is None else self.relief.as_dict()}


def _exp(x: F64) -> F64:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    m[:3, 3] = x[3:]
    return m


_DIRS = ("roll", "pitch", "yaw", "x", "y", "z")
# Paint and growth and the sonar's first arrival put surveyed plating a few centimetres proud at
# most; a larger uniform offset in a fit is a shift it has mistaken for one.
MAX_SURFACE_OFFSET_M = 0.05


def offset_bounds(reference: Reference) -> tuple[float, float]:
    """The surface offsets (m) a fit may take out. Against a design mesh only proud ones: paint,
    growth and the sonar's first arrival all add to the hull, and an offset that puts the survey
    inside the design (strong_drift: -35 mm) is drift's distortion taken up, not a surface. Against
    an earlier scan either way (today's hull may carry less growth than then)."""
    return (-MAX_SURFACE_OFFSET_M if reference.kind == "scan" else 0.0), MAX_SURFACE_OFFSET_M


def _inverse(order: NDArray[np.int64] | None) -> NDArray[np.int64] | None:
    if order is None:
        return None
    inv = np.empty(len(order), np.int64)
    inv[order] = np.arange(len(order))
    return inv


def robust_icp(src: F64, reference: Reference, t0: F64, schedule: tuple[float, ...], k_final: float,  # noqa: PLR0913 (keyword-only switches of one fit, each documented below)
               max_iter: int, *, order: NDArray[np.int64] | None = None, upright: bool = False,
               offset: bool = False, held: float = 0.0, metric: bool = True) -> tuple[F64, int, tuple[str, ...]]:
    """Tukey-weighted point-to-plane ICP against ``reference.closest``; returns the 4x4 matrix.

    ``offset``: at the finest stage, how far the cloud stands proud of the reference everywhere
    alike (:func:`surface_offset`) is a seventh unknown of each step, solved with the pose, so a
    uniform offset is not traded for a shift along a tapering hull. Solved jointly rather than in
    turns: a fit that has already taken the offset up as shifts (across the ship on the side, up on
    the bottom) leaves residuals that average zero, and an offset estimated from them alone would
    stay there. Where nothing separates the offset from a shift (one flat plate) the pair keeps its
    value, as every direction the surface leaves loose does.

    ``upright``: roll and pitch stay as they are (heading and translation only): the navigation
    frame is levelled by the INS, so a coarse search from afar must not tip the hull over a
    direction the surveyed surface leaves loose (a round bilge, a cylinder).

    ``order``: a permutation of ``src`` putting nearby points next to each other, in which the
    reference is queried (a random subsample queried in random order takes twice as long); the
    fit itself is the same.

    ``held``: the cloud is fitted standing this far (m) proud of the reference everywhere (a growth
    layer taken as given, :func:`layer_trade`), the offset not solved.

    ``metric``: each step solved in metres (:func:`_gauss_newton`); False: in radians, where every
    shift the surface constrains less than the turns is left loose (the drift stage's registration
    from the prior, :mod:`hullscan.compare.navref`).
    """
    back = _inverse(order)
    t = t0.copy()
    iters = 0
    degenerate: tuple[str, ...] = ()
    proud = 0.0
    lo, hi = offset_bounds(reference)
    for si, radius in enumerate(schedule):
        k = k_final if si == len(schedule) - 1 else max(k_final, radius / 2)
        for _ in range(max_iter):
            iters += 1
            p = src @ t[:3, :3].T + t[:3, 3]
            if order is None or back is None:
                c, n, _ = reference.closest(p, within=radius)
            else:
                c, n, _ = reference.closest(p[order], within=radius)
                c, n = c[back], n[back]
            # Points with no sample within the radius (NaN) carry no weight.
            near = np.isfinite(c[:, 0])
            c = np.where(near[:, None], c, p)
            n = np.where(near[:, None], n, 0.0)
            diff = p - c
            r = np.einsum("ij,ij->i", diff, n) - held
            close = near & (np.linalg.norm(diff, axis=1) < radius)
            joint = offset and si == len(schedule) - 1
            if joint:
                r = r - proud
            w = tukey(r, k) * close
            if w.sum() < 30:
                break
            m = np.average(p, axis=0, weights=w)
            a = np.hstack([np.cross(p - m, n), n])
            if upright:
                a[:, :2] = 0.0
            d_proud = 0.0
            if joint:
                x, evec, ok = _gauss_newton(np.hstack([a, -np.ones((len(a), 1))]), w, r, upright, metric)
                d_proud = float(x[6])
                if not lo <= proud + d_proud <= hi:
                    # At a bound the offset is held there and the pose solved alone: a pose step
                    # solved with the offset moving does not fit the offset held.
                    d_proud = float(np.clip(proud + d_proud, lo, hi)) - proud
                    x, evec, ok = _gauss_newton(a, w, r - d_proud, upright, metric)
                proud += d_proud
            else:
                x, evec, ok = _gauss_newton(a, w, r, upright, metric)
            if si == len(schedule) - 1:
                degenerate = tuple((*_DIRS, "surface offset")[int(np.argmax(np.abs(evec[:, j])))]
                                   for j in np.flatnonzero(~ok))
            x = x[:6]
            step = _exp(x)
            shift = np.eye(4)
            shift[:3, 3] = m
            unshift = np.eye(4)
            unshift[:3, 3] = -m
            t = shift @ step @ unshift @ t
            if np.linalg.norm(x[:3]) < 1e-5 and np.linalg.norm(x[3:]) < 1e-4 and abs(d_proud) < 1e-4:
                break
    return t, iters, degenerate


def _gauss_newton(a: F64, w: F64, r: F64, upright: bool, metric: bool = True) -> tuple[F64, F64, NDArray[np.bool_]]:
    """One weighted least-squares step for residuals ``r`` (N,) with Jacobian ``a`` (N, 6 or 7;
    rotation first, then translation): the step, the eigenvectors of the normal matrix and which
    of them were solved. Directions the surface barely constrains keep their current value.

    The rotations are solved as the motion (m) they give at the points' lever arm (:func:`_lever`),
    so that "barely" compares metres with metres: in radians a turn about a survey tens of metres
    across carries a thousand times the information of a shift, and a shift along a gently
    tapering hull (taper 1:10, a hundredth of the information of a shift across it) fell under the
    threshold and was never solved; the position along the ship was then left to the scans that
    hold the other unknowns still, 9 cm off on an exactly navigated survey (fouled_feeder's hull)."""
    scale = np.ones(a.shape[1])
    if metric:
        scale[:3] = 1.0 / _lever(a, w)
    a_m = a * scale
    h = a_m.T @ (w[:, None] * a_m)
    g = -a_m.T @ (w * r)
    ev, evec = np.linalg.eigh(h)
    ok = ev > 1e-4 * ev.max() if not upright else ev > max(1e-4 * ev.max(), 1e-12)
    return scale * (evec[:, ok] @ ((evec[:, ok].T @ g) / ev[ok])), evec, ok


def _lever(a: F64, w: F64) -> float:
    """The points' weighted RMS lever arm (m) about the centre of the rotation: the ratio of the
    Jacobian ``a``'s rotation columns (``(p - m) x n``) to its translation columns (``n``)."""
    rot, shift = float(np.sum(w[:, None] * a[:, :3] ** 2)), float(np.sum(w[:, None] * a[:, 3:6] ** 2))
    return float(np.sqrt(rot / shift)) if rot > 0.0 and shift > 0.0 else 1.0


def score(src: F64, reference: Reference, t: F64, k: float, *, order: NDArray[np.int64] | None = None,
          offset: bool = False) -> tuple[float, float, float]:
    """RMS of inliers, median |distance|, inlier fraction (|distance| < 2k); ``order`` as in robust_icp;
    ``offset``: distances net of the cloud's uniform offset from the reference (:func:`surface_offset`),
    which the fit then explains."""
    p = src @ t[:3, :3].T + t[:3, 3]
    back = _inverse(order)
    if order is None or back is None:
        d, _, _, _, over = reference.signed_distance(p)
    else:
        d, _, _, _, over = reference.signed_distance(p[order])
        d, over = d[back], over[back]
    if offset:
        d = d - _net_offset(d, over, 2 * k, reference)
    ad = np.abs(d)
    inl = (ad < 2 * k) & over
    rms = float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else float("inf")
    if reference.kind == "scan" and over.mean() >= SCAN_MIN_OVERLAP:
        # An earlier scan covers only what that survey covered: today's survey is judged where the
        # two overlap (enough of it must, or another ship's scan would pass on a sliver).
        return rms, float(np.median(ad[over])), float(inl[over].mean())
    return rms, float(np.median(ad)), float(inl.mean())


# The share of today's cloud an earlier scan must lie under for the fit to be judged on the overlap.
SCAN_MIN_OVERLAP = 0.5


def check_scale(cloud_points: F64, reference: Reference) -> None:
    """Catch references in the wrong units, or of a ship of another size, before aligning."""
    ce = np.sort(extent(cloud_points))[::-1]
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
    # An earlier scan covers what that survey covered: today's may run further along the same ship.
    if ratio > 1.3 and reference.kind != "scan":
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


def _global_candidates(src: F64, reference: Reference, config: CompareConfig) -> list[tuple[str, F64]]:
    """Placements found without a prior: principal axes both ways round, and FPFH + RANSAC."""
    cands = [(f"principal axes #{i}", t) for i, t in enumerate(_yaw_candidates(src, reference))]
    if config.alignment.global_registration:
        g = _fpfh_candidate(src, reference, max(0.5, float(reference.extent.max()) / 150), config.seed)
        if g is not None:
            cands.append(("FPFH+RANSAC", g))
    return cands


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


def _offsets(t: F64, prior: F64, pivot: F64) -> tuple[float, float, float, float]:
    """(along, across, vertical, heading deg) of fit ``t`` relative to ``prior`` at ``pivot`` (reference frame)."""
    d = t @ np.linalg.inv(prior)  # reference-frame motion taking the prior's placement to t's
    moved = d[:3, :3] @ pivot + d[:3, 3] - pivot
    yaw = float(np.rad2deg(np.arctan2(d[1, 0], d[0, 0])))
    return float(moved[0]), float(moved[1]), float(moved[2]), yaw


def _about(pivot: F64, yaw_deg: float, shift: F64) -> F64:
    """4x4 reference-frame motion: turn by ``yaw_deg`` about the vertical through ``pivot``, then shift."""
    m = np.eye(4)
    r = Rotation.from_euler("z", np.deg2rad(yaw_deg)).as_matrix()
    m[:3, :3] = r
    m[:3, 3] = pivot + shift - r @ pivot
    return m


def _steps(sigma: float, step: float) -> F64:
    """Seed offsets covering +/- ``sigma`` at most ``step`` apart (0 always included)."""
    if sigma <= 0:
        return np.zeros(1)
    n = int(np.ceil(sigma / step))
    return np.linspace(-sigma, sigma, 2 * n + 1)


def coarse_register(points: F64, reference: Reference, prior: Transform, sigma: PriorSigma,
                    config: CompareConfig, metric: bool = True) -> Registration:
    """Multi-hypothesis coarse registration of cloud ``points`` from ``prior`` (reference <- cloud).

    The prior's error is bounded by ``sigma`` (ship terms) at ``sigma.about_nav`` (the start of
    the survey for a quay prior; else the survey's centre). Seeds cover that box: headings about
    the vertical through that point and shifts along the ship, each refined by robust ICP with
    wide, shrinking radii on a sparse copy of the cloud. Directions the surface does not constrain
    keep their seed's value, so on a parallel midbody the seeds stay where they started, all fitting
    equally well: the fit is then reported as ambiguous along the ship, never silently chosen.
    ``metric``: as in :func:`robust_icp`.
    """
    rc = config.alignment.registration
    # 1. A sparse cloud, and the reference as oriented samples in a KD-tree: the coarse search
    #    needs shape, not detail, and queries a tree many times faster than the mesh.
    src = _sparse(points, config)
    reference = _sample_proxy(reference, rc.proxy_spacing_m)
    p0 = prior.as_matrix()
    pivot = prior.apply(np.asarray(sigma.about_nav, np.float64) if sigma.about_nav is not None else src.mean(axis=0))
    # 2. Seeds over the prior's uncertainty (heading x along; across and depth ICP reaches from 0).
    #    Half a heading step may move the survey's far end by at most half the widest radius, so
    #    that some seed starts within the wide stage's reach of the right heading: on a whole ship
    #    surveyed from one end, a 10 deg step leaves 20 m there.
    wide, narrow = rc.coarse_schedule_m[:2], rc.coarse_schedule_m[2:]
    reach = float(np.percentile(np.hypot(*(prior.apply(src) - pivot)[:, :2].T), 95))
    heading_step = min(rc.seed_heading_step_deg, float(np.rad2deg(wide[0] / max(reach, 1e-6))))
    seeds = [(yaw, along) for yaw in _steps(sigma.heading_deg, heading_step)
             for along in _steps(sigma.along_m, rc.seed_along_step_m)]
    coarse: list[tuple[F64, str, tuple[float, float, float, float]]] = []

    def from_seed(seed: tuple[float, float]) -> F64:
        t0 = _about(pivot, float(seed[0]), np.array([seed[1], 0.0, 0.0])) @ p0
        return robust_icp(src, reference, t0, wide, rc.coarse_tukey_m, rc.coarse_max_iter, upright=True,
                          metric=metric)[0]

    # The seeds' fits are independent: on threads (the KD-tree's queries leave the GIL), then taken
    # in the seeds' order, so which are distinct is decided as one after the other would.
    for (yaw, along), t in zip(seeds, map_threads(from_seed, seeds), strict=True):
        off = _offsets(t, p0, pivot)
        # Seeds that the wide radii bring to the same place are one hypothesis.
        if all(abs(off[3] - o[3]) > rc.distinct_heading_deg or np.hypot(off[0] - o[0], off[1] - o[1])
               > rc.distinct_shift_m for _, _, o in coarse):
            coarse.append((t, f"heading {yaw:+.1f} deg, along {along:+.1f} m", off))
    # 3. Each distinct hypothesis refined to the fine scale and judged there: at the coarse scale a
    #    fit metres along a hull can hold as many points within 0.3 m as the right one.
    k = config.alignment.tukey_k_m
    def refined(t_c: F64) -> Hypothesis:
        t = robust_icp(src, reference, t_c, (*narrow, *config.alignment.icp_schedule_m), k, rc.coarse_max_iter,
                       upright=True, metric=metric)[0]
        _, med, inl = score(src, reference, t, k)
        return Hypothesis(Transform.from_matrix(t), "", inl, med, _cost(src, reference, t, 2 * k), *_offsets(t, p0, pivot))

    hyps = [replace(h, seed=name) for (_, name, _), h in zip(coarse, map_threads(refined, [c[0] for c in coarse]),
                                                               strict=True)]

    # 4. The best fit, and the distinct hypotheses that fit about as well: reported, never dropped.
    def move(h: Hypothesis) -> float:
        return float(np.hypot(h.offset_along_m, h.offset_across_m) + 0.2 * abs(h.offset_heading_deg))

    best = prior_nearest(hyps, sigma, rc.along_tie, rc.distinct_heading_deg, rc.distinct_shift_m)
    tied = [h for h in hyps if h.cost <= rc.tie_ratio * min(o.cost for o in hyps)]
    alternatives: list[Hypothesis] = []
    for h in sorted(tied, key=move):
        distinct = all(abs(h.offset_heading_deg - o.offset_heading_deg) > rc.distinct_heading_deg
                       or np.hypot(h.offset_along_m - o.offset_along_m, h.offset_across_m - o.offset_across_m)
                       > rc.distinct_shift_m for o in [best, *alternatives])
        if distinct:
            alternatives.append(h)
    # 5. How far the fit can slide along the ship and stay as good.
    lo, hi = _along_range(src, reference, best.transform.as_matrix(), best.cost, sigma, config)
    # Tied hypotheses elsewhere along the ship widen the range (ICP stops where the hull gives no grip).
    for h in alternatives:
        if abs(h.offset_heading_deg - best.offset_heading_deg) <= 2 * rc.distinct_heading_deg:
            lo = min(lo, h.offset_along_m - best.offset_along_m)
            hi = max(hi, h.offset_along_m - best.offset_along_m)
    along_range = (lo, hi)
    return Registration(best, tuple(hyps), tuple(alternatives), along_range,
                        {"seeds": float(len(seeds)), "heading_step_deg": round(heading_step, 3),
                         "along_m": sigma.along_m, "across_m": sigma.across_m, "heading_deg": sigma.heading_deg}, (float(pivot[0]), float(pivot[1]), float(pivot[2])))


def fix_along(points: F64, reference: Reference, t: F64, reg: Registration, sigma: PriorSigma,
              config: CompareConfig, offset_m: float = 0.0) -> tuple[F64, Registration]:
    """``t`` (reference <- cloud, 4x4) and ``reg`` with the position along the ship (hull x) taken
    from the reference relief ``points`` (N, 3, cloud frame, 0.1 m voxels) saw, where ``reg`` is
    ambiguous along it (:func:`hullscan.compare.relief.measure_relief`, over the range of ``sigma``);
    unchanged otherwise. The range reported is then the fix's stated 1 sigma (:attr:`ReliefFix.sigma_m`)."""
    if not reg.along_ambiguous or not reference.hull_frame:
        return t, reg
    relief = measure_relief(points, reference, t, sigma.along_m, reg.along_range_m, config.seed, offset_m)
    if relief is None:
        return t, reg
    moved = t.copy()
    moved[0, 3] += relief.shift_m  # the survey slid along hull x
    return moved, replace(reg, along_range_m=(-relief.sigma_m, relief.sigma_m), relief=relief)


def prior_nearest(hyps: list[Hypothesis], sigma: PriorSigma, tie: float, same_heading_deg: float,
                  same_across_m: float) -> Hypothesis:
    """The hypothesis the registration goes on from: the lowest cost, unless others slide from it
    only along the ship (within ``same_heading_deg`` of its heading and ``same_across_m`` of its
    position across) and fit within ``tie`` (a share) of it; then, of those, the one nearest the
    prior along the ship.

    A parallel midbody or a tanker's flat bottom does not fix the position along the ship: seeds
    5 m apart along it fit within 0.3 % of each other, the lowest cost is noise, and it walked the
    survey 10 m from a prior 4 m off (stop 50, sim/scenarios/holdout). Along that direction the
    prior is the only information there is. Hypotheses that differ in heading or across the ship
    are told apart by the surface, and the lowest cost stays: on long_side_160m a hypothesis 1.3 deg
    off in heading and 5 m along fitted 2 % worse than the right one."""
    low = min(hyps, key=lambda h: h.cost)
    sliding = [h for h in hyps if h.cost <= (1.0 + tie) * low.cost
               and abs(h.offset_heading_deg - low.offset_heading_deg) <= same_heading_deg
               and abs(h.offset_across_m - low.offset_across_m) <= same_across_m]
    return min(sliding, key=lambda h: (abs(h.offset_along_m) / max(sigma.along_m, 1e-6), h.cost))


def _sample_proxy(reference: Reference, spacing: float) -> Reference:
    """``reference`` as its ICP samples (thinned to ``spacing``) with normals, queried through a
    KD-tree (the scan-reference path of :class:`Reference`)."""
    from scipy.spatial import cKDTree

    first, _, _ = group_keys(voxel_keys(reference.icp_points, spacing), sort=False)
    p, n = reference.icp_points[first], reference.icp_normals[first]
    return replace(reference, _scene=None, _shell_scene=None, _tree=cKDTree(p), _tree_points=p, _tree_normals=n,
                   spacing=spacing)


def _sparse(points: F64, config: CompareConfig) -> F64:
    rc = config.alignment.registration
    src = voxel_down(points, rc.coarse_voxel_m)
    if len(src) > rc.coarse_points:
        src = src[np.sort(np.random.default_rng(config.seed).choice(len(src), rc.coarse_points, replace=False))]
    return src


@dataclass(frozen=True, eq=False)
class AlignmentCandidate:
    """One starting pose refined by ICP and scored: where it put the cloud and how well it fits."""

    method: str  # where the starting pose came from
    matrix: F64  # reference <- cloud, 4 x 4
    inlier_fraction: float
    median_abs_m: float
    residual_m: float  # RMS point-to-plane distance of the inliers
    iterations: int = 0
    degenerate: tuple[str, ...] = ()

    @property
    def rank(self) -> tuple[float, float]:
        """Better is larger: inliers (to the percent) and then closeness (to the millimetre), so that
        noise does not decide; ties keep the candidates' order."""
        return round(self.inlier_fraction, 2), -round(self.median_abs_m, 3)

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "inlier_fraction": round(self.inlier_fraction, 4),
                "median_abs_m": round(self.median_abs_m, 4)}

    def alignment(self, candidates: tuple[dict[str, Any], ...] = (),
                  registration: Registration | None = None) -> Alignment:
        return Alignment(Transform.from_matrix(self.matrix), self.method, self.residual_m, self.median_abs_m,
                         self.inlier_fraction, self.iterations, self.degenerate, candidates, registration)


StartingPose = tuple[str, F64]  # (method, reference <- cloud 4 x 4)


@dataclass(frozen=True, eq=False)
class _Refiner:
    """Starting poses refined by robust ICP on ``src`` and scored; what counts as a fit."""

    src: F64
    reference: Reference
    config: CompareConfig
    tukey_m: float
    max_iter: int
    need: float  # share of the cloud within 2 x tukey_m a fit must hold
    max_median_m: float = np.inf
    order: NDArray[np.int64] | None = None
    verbose: bool = False
    # The whole cloud at the fine fit's voxels, before ``src`` was sampled from it (None: ``src`` is
    # all of it): the relief along the ship is looked for in every voxel (fix_along).
    voxels: F64 | None = None

    def refine(self, cands: list[StartingPose], schedule: tuple[float, ...]) -> list[AlignmentCandidate]:
        out = []
        for name, t0 in cands:
            t, iters, degenerate = robust_icp(self.src, self.reference, t0, schedule, self.tukey_m, self.max_iter,
                                              order=self.order, offset=self.config.alignment.surface_offset)
            rms, med, inl = score(self.src, self.reference, t, self.tukey_m, order=self.order,
                                  offset=self.config.alignment.surface_offset)
            out.append(AlignmentCandidate(name, t, inl, med, rms, iters, degenerate))
            if self.verbose:
                log.info("alignment candidate %s: inliers %.2f, median |d| %.3f m, rms %.3f m", name, inl, med, rms)
        return out

    def fits(self, r: AlignmentCandidate) -> bool:
        return bool(r.inlier_fraction >= self.need and r.median_abs_m <= self.max_median_m)

    def global_candidates(self) -> list[StartingPose]:
        return _global_candidates(self.src, self.reference, self.config)


def register_prior(points: F64, reference: Reference, prior: Transform, sigma: PriorSigma,
                   config: CompareConfig, metric: bool = True) -> Registration:
    """:func:`coarse_register`, checked: when nothing within the prior's range fits even coarsely
    (a drifting survey still fits within ``2 x coarse_tukey_m`` almost everywhere), the whole
    reference is searched and the error says how far from the prior the cloud does fit.
    ``metric``: as in :func:`robust_icp`."""
    rc = config.alignment.registration
    check_scale(points, reference)
    reg = coarse_register(points, reference, prior, sigma, config, metric)
    src = _sparse(points, config)
    t = reg.best.transform.as_matrix()
    rms, med, inl = score(src, reference, t, rc.coarse_tukey_m)
    if inl >= rc.min_coarse_inliers:
        check_upright(t, reference)
        attempt = Alignment(reg.best.transform, "registration from the navigation prior", rms, med, inl, 0, (), (), reg)
        check_within_prior(t, prior, np.array(reg.pivot), sigma, attempt)
        return reg
    near = AlignmentCandidate("registration from the navigation prior", t, inl, med, rms)
    coarse = _Refiner(src, reference, config, rc.coarse_tukey_m, rc.coarse_max_iter, rc.min_coarse_inliers)
    _raise_prior_far_off(near, reg, prior, coarse, (8.0, *rc.coarse_schedule_m))
    raise AssertionError("unreachable")  # _raise_prior_far_off always raises


def proud_at(src: F64, reference: Reference, t: F64, config: CompareConfig) -> float:
    """The offset the fit takes out for ``src`` placed by ``t`` (:func:`_net_offset` of the points
    within 2 Tukey widths); 0 where ``compare.alignment.surface_offset`` is off."""
    if not config.alignment.surface_offset:
        return 0.0
    c = 2 * config.alignment.tukey_k_m
    d, _, _, _, over = reference.signed_distance(src @ t[:3, :3].T + t[:3, 3], within=c + 3.0 * reference.spacing)
    return _net_offset(d, over, c, reference)


def surface_spread(src: F64, reference: Reference, t: F64, config: CompareConfig, block_m: float = 1.0
                   ) -> tuple[float | None, float | None]:
    """(texture, relief) (m) of ``src`` (N, 3) placed by ``t`` on the reference, from the signed
    distances of the points over the surface and within 2 Tukey widths (compartments, a small
    share, fall outside); (None, None) where fewer than 30 are.

    ``texture``: the 10th to 90th percentile of those distances less their median over each
    ``block_m`` block: the relief at the scale of barnacles, without what drift and growth patches
    add, nor anodes and compartments (a few per cent of the points). ``relief``: their 1st to 99th
    percentile. On a fouled hull the relief is the reported bound of what the fit cannot see: the fit
    lays the growth's surface on the steel, and growth (barnacles with bare plating between) is about
    as thick as its relief. It is a bound under that assumption, not a measurement: a layer without
    bare patches (a uniform coat) is thicker than its relief, which no survey of its surface can tell."""
    from hullscan.compare.analysis import group_median
    from hullscan.core.grid import group_keys, voxel_keys

    c = 2 * config.alignment.tukey_k_m
    p = src @ t[:3, :3].T + t[:3, 3]
    d, _, _, _, over = reference.signed_distance(p, within=c + 3.0 * reference.spacing)
    use = over & (np.abs(d) < c)
    if int(use.sum()) < 30:
        return None, None
    d = d[use]
    _, inv, _ = group_keys(voxel_keys(p[use], block_m))
    med = group_median(inv, d, int(inv.max()) + 1)
    t_lo, t_hi = np.percentile(d - med[inv], [10.0, 90.0])
    r_lo, r_hi = np.percentile(d, [1.0, 99.0])
    return float(t_hi - t_lo), float(r_hi - r_lo)


def _scan_sample(src: F64, config: CompareConfig) -> F64:
    """At most ``registration.along_points`` of ``src`` (in their order): what a scan of the cost
    along the ship evaluates at every step."""
    n = config.alignment.registration.along_points
    if len(src) <= n:
        return src
    return src[np.sort(np.random.default_rng(config.seed).choice(len(src), n, replace=False))]


# ICP iterations of each step up a growth layer before the last (layer_trade): half the fine fit's
# (20) took 2.2 s of bench_compare's 15.5 s on a fouled synthetic hull; a few keep the points within
# the Tukey width's reach of the next step, and the last step converges from there.
LAYER_STEP_ITERS = 4
# Points the trade's fits use: a third of the fine fit's 60 k. The trade is stated in centimetres;
# on bench_compare's fouled hull a third of the points moved it by 1 mm across and in depth and
# took 1.2 s off its 2 s (each of its 27 ICP iterations asks the mesh for every point).
LAYER_POINTS = 20_000


def layer_trade(fit: _Refiner, t: F64, thickness_m: float) -> LayerTrade:
    """How the placement ``t`` moves when the cloud is laid ``thickness_m`` proud of the reference.

    A survey that sees the hull from few directions (one side and the bottom) cannot tell a layer
    over the steel from a shift of the survey out of it: along a taper the layer reads as a shift
    along the ship too (the offset over the taper's slope). The fit is redone with the layer held,
    raised half a Tukey width at a time so that the points stay within its reach (the steps between
    with :data:`LAYER_STEP_ITERS` iterations: they only carry the fit up the layer, and only the last
    placement, iterated to convergence, is reported)."""
    k = fit.config.alignment.tukey_k_m
    steps = max(1, int(np.ceil(thickness_m / (k / 2))))
    # Every k-th point in cloud order (:data:`LAYER_POINTS`): spread over the survey as the
    # sample is, and queried in that order.
    in_order = fit.order if fit.order is not None else np.arange(len(fit.src))
    src = fit.src[in_order[::max(1, int(np.ceil(len(fit.src) / LAYER_POINTS)))]]
    moved = t
    for i in range(1, steps + 1):
        held = thickness_m * i / steps  # the points stand this much further off: the radius follows
        moved, _, _ = robust_icp(src, fit.reference, moved, (fit.config.alignment.icp_schedule_m[-1] + held,), k,
                                 fit.max_iter if i == steps else min(fit.max_iter, LAYER_STEP_ITERS), held=held)
    motion = moved @ np.linalg.inv(t)
    pivot = t[:3, :3] @ fit.src.mean(axis=0) + t[:3, 3]
    _, across, vertical, yaw = _offsets(moved, t, pivot)
    along_motion = _along_trade(fit, t, thickness_m, pivot)
    along = _offsets(along_motion @ t, t, pivot)[0]
    return LayerTrade(float(thickness_m), motion, along_motion, along, across, vertical, yaw)


def _along_trade(fit: _Refiner, t: F64, thickness_m: float, pivot: F64, gain: float = 0.03) -> F64:
    """The motion along the ship and in heading (4x4, reference <- reference) that best lays the
    cloud placed by ``t`` ``thickness_m`` proud of the reference: over a taper of slope ``s`` about
    ``thickness_m / s``. Scanned (+/- 20 times the thickness, at most 3 m) as the settle scans; the
    identity where no shift lowers the cost by ``gain`` (a parallel midbody: the layer does not trade
    along the ship there)."""
    rc = fit.config.alignment.registration
    src = _scan_sample(fit.src, fit.config)
    c = 2 * fit.config.alignment.tukey_k_m

    costs = _pose_costs(src, fit.reference, t, pivot, c, thickness_m)
    step, ystep = rc.along_settle_step_m / 2, rc.settle_heading_step_deg
    reach = min(3.0, 20.0 * thickness_m)
    # The shift first, then the shift and heading together about the best one (the settle's valley).
    best, yaw, low = _lowest(costs, np.arange(-reach, reach + 1e-9, 2 * step), np.zeros(1))
    best, yaw, low = _lowest(costs, best + step * np.arange(-2.0, 3.0),
                             np.arange(-rc.settle_heading_deg, rc.settle_heading_deg + 1e-9, ystep))
    best, yaw, low = _lowest(costs, best + step * np.arange(-1.0, 2.0), yaw + 0.5 * ystep * np.arange(-1.0, 2.0))
    best = _parabola_along(costs, best, yaw, low, step)
    there, here = costs(np.array([best, 0.0]), np.array([yaw, 0.0]))
    if min(low, float(there)) > (1.0 - gain) * float(here):
        return np.eye(4)
    return _about(pivot, yaw, np.array([best, 0.0, 0.0]))


def _net_offset(d: F64, over: NDArray[np.bool_], c: float, reference: Reference) -> float:
    """:func:`surface_offset` of the signed distances ``d`` (N,) over the surface and within ``c``,
    held within :func:`offset_bounds`."""
    return float(np.clip(surface_offset(d, over & (np.abs(d) < c)), *offset_bounds(reference)))


def surface_offset(r: F64, use: NDArray[np.bool_], fallback: float = 0.0) -> float:
    """How far (m) the cloud stands proud of the reference everywhere alike: the median signed
    distance ``r`` (N,) of the points ``use`` (N,) (those near the surface; compartments and growth
    patches are a small share, so the median ignores them); ``fallback`` where fewer than 30 are.

    A rigid fit alone cannot tell a uniform offset along the normals from a shift: along a hull
    that tapers at slope ``s`` (beam per length) an offset ``e`` reads as a shift of ``e / s``
    along the ship (1.4 cm at a 1:6 taper: 8 cm, fine_container_ship with the simulator's own
    trajectory). Paint and growth and the sonar's first arrival (from the near edge of the beam's
    footprint) make surveyed plating stand 1-2 cm proud; net of that offset, such a cloud fits at 0."""
    if int(use.sum()) < 30:
        return fallback
    return float(np.median(r[use]))


def _cost(src: F64, reference: Reference, t: F64, c: float, offset: float = 0.0) -> float:
    """Mean squared distance of ``src`` placed by ``t`` to the reference, each truncated at ``c``;
    net of ``offset`` (m), the cloud's uniform offset from the reference (:func:`surface_offset`)."""
    return float(_costs(src, reference, [t], c, offset)[0])


def _costs(src: F64, reference: Reference, ts: Sequence[F64], c: float, offset: float = 0.0) -> F64:
    """:func:`_cost` of ``src`` (N, 3) under each placement of ``ts`` (K of 4x4), the reference asked
    once for all K x N points: each query of the mesh carries milliseconds of fixed cost, about as
    much as its 6,000 points (bench_compare's scans along the ship asked 200 of them). Each value is
    the mean of its own N, as :func:`_cost` takes it alone. Shape (K,)."""
    if not len(ts):
        return np.zeros(0)
    p = np.concatenate([src @ t[:3, :3].T + t[:3, 3] for t in ts])
    # A point with no sample within c (along the normal) and 3 spacings (across) costs c anyway.
    d, _, _, _, over = reference.signed_distance(p, within=c + 3.0 * reference.spacing)
    e = np.where(over, np.minimum(np.abs(d - offset), c), c) ** 2
    n = len(src)
    return np.array([np.mean(e[k * n:(k + 1) * n]) for k in range(len(ts))], np.float64)


def _along_range(src: F64, reference: Reference, t: F64, cost0: float, sigma: PriorSigma,
                 config: CompareConfig) -> tuple[float, float]:
    """Shifts along hull x (m) around ``t`` over which the fit stays as good (cost within the tie ratio)."""
    rc = config.alignment.registration
    reach = max(2.0 * sigma.along_m, rc.ambiguity_scan_m)
    shifts = np.arange(rc.ambiguity_step_m, reach + 1e-9, rc.ambiguity_step_m)
    lo = hi = 0.0
    for sign in (1.0, -1.0):
        for s in shifts:
            m = t.copy()
            m[0, 3] += sign * s
            if _cost(src, reference, m, 2 * config.alignment.tukey_k_m) > rc.tie_ratio * cost0:
                break
            if sign > 0:
                hi = float(s)
            else:
                lo = -float(s)
    return lo, hi


def check_within_prior(t: F64, prior: Transform, pivot: F64, sigma: PriorSigma, attempt: Alignment) -> None:
    """A fit far outside the prior's uncertainty is not accepted silently: the prior (or the
    reference's axes) is wrong, or the fit is a look-alike elsewhere on the hull."""
    along, across, _, yaw = _offsets(t, prior.as_matrix(), pivot)
    if (abs(along) <= 1.5 * sigma.along_m + 1.0 and abs(across) <= 1.5 * sigma.across_m + 1.0
            and abs(yaw) <= 1.5 * sigma.heading_deg + 2.0):
        return
    raise AlignmentFailed(
        f"navigation prior is outside the capture range: the cloud fits {along:+.1f} m along, {across:+.1f} m "
        f"across and {yaw:+.1f} deg in heading from the prior, beyond its uncertainty (+/- {sigma.along_m:g} m "
        f"along, {sigma.across_m:g} m across, {sigma.heading_deg:g} deg heading). Check the ship heading (degrees "
        "clockwise from north), the start frame and side, the prior's frame (the reference file's own "
        "coordinates) and the reference's --bow/--up; or state a wider sigma in the prior.", attempt)


def check_half_side(points: F64, t: F64, reference: Reference) -> None:
    """A half-hull reference (one side, open along the centreline) can only judge a survey of that
    side: a cloud (``points``, N x 3, placed by ``t``, reference <- cloud) placed mostly on the open
    side is refused with the reason. The cloud is placed only for a half hull (5 M points: 0.2 s)."""
    half = str(getattr(reference.mesh, "half", "") or "")
    if not half or not len(points):
        return
    sign = 1.0 if half == "port" else -1.0
    other = float(np.mean(sign * (points @ t[1, :3] + t[1, 3]) < -0.5))
    if other > 0.5:
        seen = "starboard" if half == "port" else "port"
        raise AlignmentError(
            f"reference {reference.name!r} is a {half} half hull (open along its centreline), but {other:.0%} of the "
            f"survey lies on the {seen} side, where the half hull has no plating: give the full hull, or a "
            f"{seen} half (a mirrored copy of this one if the ship is symmetric)")


def check_upright(t: F64, reference: Reference) -> None:
    """The fit must keep the keel down and the waterline level: a design mesh's up axis (+z) stays
    within a few degrees of the navigation frame's up (INS roll and pitch are referenced to gravity)."""
    if reference.kind != "mesh":
        return
    up_in_ref = t[:3, :3] @ np.array([0.0, 0.0, 1.0])  # the navigation frame's up, in the hull frame
    tilt = float(np.rad2deg(np.arccos(np.clip(up_in_ref[2], -1.0, 1.0))))
    if tilt > 20.0:
        raise AlignmentError(
            f"the fit to reference {reference.name!r} tilts the hull by {tilt:.0f} deg (keel not down, waterline not "
            "level): the reference's axes are probably wrong; state them with --up and --bow (e.g. --up +z --bow +x)")


def align(points: F64, reference: Reference, config: CompareConfig, *, prior: Transform | None = None,
          sigma: PriorSigma | None = None, voxels: F64 | None = None) -> Alignment:
    """Align cloud ``points`` (cloud frame) with ``reference``; raises AlignmentError when it fails.

    ``prior`` is reference <- cloud from the navigation prior; with ``sigma`` (its uncertainty) the
    prior's neighbourhood is searched first (:func:`coarse_register`), without it the prior is
    only refined. Without a prior, global candidates (principal axes, FPFH + RANSAC) are tried.
    ``voxels``: ``points`` already thinned to ``alignment.voxel_m`` (:func:`voxel_down`; a caller
    that moves every point afterwards groups them once).
    """
    # The cloud as the fine fit sees it (voxel-thinned, at most 60 k points).
    fit = fine_refiner(points, reference, config, voxels)
    if prior is not None:
        check_half_side(points, prior.as_matrix(), reference)
    # Candidate poses: from the prior's neighbourhood, the prior itself, or global registration.
    results, reg = _fine_candidates(points, fit, prior, sigma)
    results.sort(key=lambda r: r.rank, reverse=True)
    best = results[0]
    result = best.alignment(tuple(r.summary() for r in results), reg)
    if not fit.fits(best):
        raise _no_fit(best, result, reference, config, prior is not None)
    t = best.matrix
    if reg is not None and sigma is not None:
        # Where the plating leaves the position along the ship open, the relief the survey saw (an
        # anode row) may fix it within the prior's range (at least 1.5 m): the operator's, or after
        # drift correction +/- 0.5 m about the drift stage's placement. There the corrected cloud's plating ties over
        # metres too, and a settle within that window took the noisy lowest point: the held-out
        # bulker's third prior, placed by the drift stage's fix, was settled 0.74 m off (stop 52).
        held = sigma
        if reg.along_ambiguous:
            t, reg = fix_along(fit.src if fit.voxels is None else fit.voxels, reference, t, reg, sigma, config,
                               proud_at(fit.src, reference, t, config))
        if reg.relief is not None:
            held = held_along(sigma, reg.relief.sigma_m, reg.relief.valley_sigma_m)
        # Along a hull the fit is held by a few features (bilge keel ends, sea chests, the ends'
        # curvature) that the Tukey-weighted ICP cannot pull once they are off by more than its
        # width: the shift along the ship is settled by scanning the fit's cost directly.
        t, _ = settle_along(fit.src, reference, t, held, config, ambiguity=False)
        t, along_range = _settle_with_icp(fit, best.method, t, held, config)
        if held.along_fixed_m is not None:
            # Reference relief fixed the position along the ship (above, or in the live comparator's
            # last inspection): the plating's own range, flat along a midbody, says nothing against it.
            along_range = (-held.along_fixed_m, held.along_fixed_m)
        reg = replace(reg, along_range_m=along_range)
        rms, med, inl = score(fit.src, reference, t, fit.tukey_m, order=fit.order, offset=config.alignment.surface_offset)
        result = replace(result, transform=Transform.from_matrix(t), residual_m=rms, median_abs_m=med,
                         inlier_fraction=inl, registration=reg)
    if config.alignment.surface_offset:
        result = replace(result, surface_offset_m=proud_at(fit.src, reference, t, config))
    # A fit must leave the hull upright, on its surveyed side, and within the prior's range.
    check_upright(t, reference)
    check_half_side(points, t, reference)
    if reg is not None and prior is not None and sigma is not None:
        check_within_prior(t, prior, np.array(reg.pivot), sigma, result)
    return result


def _settle_with_icp(fit: _Refiner, method: str, t: F64, sigma: PriorSigma, config: CompareConfig
                     ) -> tuple[F64, tuple[float, float]]:
    """Heading and the position across the ship follow a new position along it: refine them with
    the finest ICP stage, settle along the ship again near by, and repeat while the settle still
    moves the fit and lowers its cost clearly (by more than the along-ship tie). Where the position
    along the ship trades with heading and the position across it (a bow shoulder seen from one
    side: a shift along it is nearly a shift across), each round goes only part of the way down
    the valley: one round stopped a 160 m side 0.17 m along the ship from the cost's lowest point,
    at three times its cost (stop 36). Along a parallel midbody the cost is flat, and rounds that
    do not lower it would only walk the fit along the ship. Returns the fit and the range of
    shifts along it that fit as well (:func:`_tie_range`)."""
    rc = config.alignment.registration
    c = 2 * config.alignment.tukey_k_m
    centre = fit.src.mean(axis=0)
    for _ in range(rc.settle_rounds):
        t = fit.refine([(method, t)], fit.config.alignment.icp_schedule_m[-1:])[0].matrix
        proud = proud_at(fit.src, fit.reference, t, config)
        before = _cost(fit.src, fit.reference, t, c, proud)
        settled, _ = settle_along(fit.src, fit.reference, t, sigma, config, window_m=0.3, far=False, ambiguity=False)
        # How far the settle moved the cloud's centre along the ship (reference frame).
        moved, t = abs(_offsets(settled, t, t[:3, :3] @ centre + t[:3, 3])[0]), settled
        if moved < 0.5 * rc.along_settle_step_m or _cost(fit.src, fit.reference, t, c, proud) > (1.0 - rc.along_tie) * before:
            break
    # The range that fits as well, once, where the fit ended.
    pts = _scan_sample(fit.src, config)
    proud = proud_at(pts, fit.reference, t, config)
    return t, _tie_range(pts, fit.reference, t, _cost(pts, fit.reference, t, c, proud), sigma, config, proud)


def fine_refiner(points: F64, reference: Reference, config: CompareConfig, voxels: F64 | None = None) -> _Refiner:
    """The fine fit's sample of the cloud and its acceptance (inliers and median distance).
    ``voxels``: ``points`` already thinned to ``alignment.voxel_m`` (:func:`voxel_down`)."""
    if len(points) < 50:
        raise HullscanError(f"cloud has only {len(points)} points; need at least 50 to align")
    if len(reference.icp_points) < 50:
        raise AlignmentError(f"reference {reference.name!r} has too little surface to align with")
    ac = config.alignment
    src = voxels = voxel_down(points, ac.voxel_m) if voxels is None else voxels
    order = None
    if len(src) > 60000:
        sel = np.random.default_rng(config.seed).choice(len(src), 60000, replace=False)
        src = src[sel]
        order = np.argsort(sel)  # the same points in cloud order: the reference is queried in that order
    check_scale(points, reference)
    return _Refiner(src, reference, config, ac.tukey_k_m, ac.icp_max_iter, ac.min_inlier_fraction,
                    ac.max_residual_m, order, verbose=True, voxels=voxels)


def _fine_candidates(points: F64, fit: _Refiner, prior: Transform | None, sigma: PriorSigma | None
                     ) -> tuple[list[AlignmentCandidate], Registration | None]:
    """Refined candidate poses, and the coarse registration when the prior's range was searched."""
    ac = fit.config.alignment
    wide = (4.0, 2.0, 1.0, *ac.icp_schedule_m)
    if prior is None:
        return fit.refine(fit.global_candidates(), wide), None
    if sigma is not None:
        # Search the prior's neighbourhood (its stated or default uncertainty), then refine. The
        # coarse fit's sparse cloud is thinned from the fine fit's voxels, not all the points again.
        reg = coarse_register(points if fit.voxels is None else fit.voxels, fit.reference, prior, sigma, fit.config)
        results = fit.refine([("registration from the navigation prior", reg.best.transform.as_matrix())],
                             ac.icp_schedule_m)
        if not fit.fits(results[0]):
            _raise_prior_far_off(results[0], reg, prior, fit, wide)
        return results, reg
    results = fit.refine([("navigation prior", prior.as_matrix())], ac.icp_schedule_m)
    if not fit.fits(results[0]) and ac.global_registration:
        # A prior metres off (another waterline or origin convention in the mesh, a wrong
        # truth file) must not sink an inspection that global registration can still align.
        log.warning("navigation prior does not fit reference %r (inliers %.0f%%, median %.2f m): "
                    "trying global registration", fit.reference.name, 100 * results[0].inlier_fraction,
                    results[0].median_abs_m)
        results += fit.refine(fit.global_candidates(), wide)
    return results, None


def _no_fit(best: AlignmentCandidate, result: Alignment, reference: Reference, config: CompareConfig,
            had_prior: bool) -> AlignmentFailed:
    """The error for a best candidate that still does not fit (with the attempt, for the report)."""
    ac = config.alignment
    cause = ("a navigation prior that is far off" if had_prior
             else "a reference that does not cover the surveyed part of the hull")
    return AlignmentFailed(
        f"cloud does not fit reference {reference.name!r}: after alignment ({best.method}) only "
        f"{best.inlier_fraction:.0%} of the cloud lies within {2 * ac.tukey_k_m:.2f} m of it (need "
        f"{ac.min_inlier_fraction:.0%}), median distance {best.median_abs_m:.2f} m (limit {ac.max_residual_m:.2f} m). "
        f"A different ship, or {cause}; no findings were produced.", result)


def settle_along(src: F64, reference: Reference, t: F64, sigma: PriorSigma, config: CompareConfig, *,
                 window_m: float | None = None, far: bool = True, ambiguity: bool = True
                 ) -> tuple[F64, tuple[float, float]]:
    """The fit moved along the ship (hull x) and turned in heading to its lowest fine cost, and the
    range of shifts from there over which the cost stays within ``along_tie`` of it (the
    position's ambiguity).

    The coarse registration sees the cloud at half-metre voxels and can stop a metre or two from
    the fine cost's minimum, so the along-ship range of the prior is scanned as well (``far``); a
    shift out there is taken only when it fits clearly better (by more than the tie) than the best
    within ``window_m`` of the fit, so that on a hull that looks alike along its length the fit
    stays where the prior put it. Along a smooth hull the position along the ship and the heading
    trade off (a shift along a hull that narrows towards both ends looks much like a turn), so
    about the best shift the two are scanned together, about the cloud's centre; ICP alone
    crawls along that valley and stops where its iterations run out. The minimum is placed
    between scan steps by a parabola through the lowest three costs in each direction."""
    rc = config.alignment.registration
    pts = _scan_sample(src, config)
    c = 2 * config.alignment.tukey_k_m
    # The offset where the fit is, held through the scan: re-estimated at every shift it would be
    # one more freedom for the shift to trade with (a sea chest's recess moved the median 1.6 cm).
    proud = proud_at(pts, reference, t, config)
    pivot = pts.mean(axis=0) @ t[:3, :3].T + t[:3, 3]  # the cloud's centre, reference frame

    costs = _pose_costs(pts, reference, t, pivot, c, proud)
    step, ystep = rc.along_settle_step_m, rc.settle_heading_step_deg
    # Never beyond what check_within_prior still accepts: a prior that is already a registration
    # (drift correction's, +/- 0.5 m) is not walked off along a hull that looks alike.
    half = min(rc.along_settle_m if window_m is None else window_m, 1.5 * sigma.along_m)
    turns = np.arange(-rc.settle_heading_deg, rc.settle_heading_deg + 1e-9, ystep)
    # Shift and heading together, first at twice the step over the window, then at the step
    # about the best of those (a shift and a turn trade off along a smooth hull: the valley of
    # the cost runs diagonally, and one direction at a time would stop on its side).
    best, yaw, low = _lowest(costs, np.arange(-half, half + 1e-9, 2 * step), turns)
    scan = np.arange(-1.5 * sigma.along_m, 1.5 * sigma.along_m + 1e-9, rc.ambiguity_step_m) if far else np.zeros(0)
    scan = scan[np.abs(scan) > half]
    if len(scan):
        shift, _, lowest = _lowest(costs, scan, np.array([yaw]))
        if lowest * (1.0 + rc.along_tie) < low:
            best, yaw, low = _lowest(costs, shift + np.arange(-rc.ambiguity_step_m, rc.ambiguity_step_m + 1e-9,
                                                              2 * step), turns)
    best, yaw, low = _lowest(costs, best + step * np.arange(-1.0, 2.0), yaw + 0.5 * ystep * np.arange(-1.0, 2.0))
    ystep *= 0.5
    best = _parabola_along(costs, best, yaw, low, step)
    left, mid, right = costs(np.full(3, best), yaw + ystep * np.arange(-1.0, 2.0))
    yaw += _parabola_offset(float(left), float(mid), float(right), ystep)
    # The cost where the settle ends, and where it started (the least gain's yardstick), at once.
    there, here = (float(v) for v in costs(np.array([best, 0.0]), np.array([yaw, 0.0])))
    low = min(low, there)
    if rc.settle_min_gain > 0 and low > (1.0 - rc.settle_min_gain) * here:
        # Not clearly better than where the fit is: along a flat cost the lowest point is noise.
        best, yaw, low = 0.0, 0.0, min(low, here)
    t = _about(pivot, yaw, np.array([best, 0.0, 0.0])) @ t
    # The ambiguity scan walks up to 10 m each way: only for the settle whose range is reported.
    return t, _tie_range(pts, reference, t, low, sigma, config, proud) if ambiguity else (0.0, 0.0)


def _tie_range(pts: F64, reference: Reference, t: F64, low: float, sigma: PriorSigma, config: CompareConfig,
               proud: float = 0.0) -> tuple[float, float]:
    """Shifts along hull x (m) from ``t`` over which the cost stays within ``along_tie`` of ``low``:
    scanned at the settle's step out to ``along_settle_m``, beyond that at ``ambiguity_step_m``.
    Scanned at the coarse step from the first fine one (0.1, 0.6, 1.1 m ...), a cost that stayed
    within the tie out to 0.5 m was reported as +/- 0.1 m: a flat bottom's survey placed 0.3 m
    along from the truth stated 0.1 m (limpet_on_bottom, stop 52)."""
    rc = config.alignment.registration
    c = 2 * config.alignment.tukey_k_m
    reach = max(2.0 * sigma.along_m, rc.ambiguity_scan_m)
    fine = np.arange(rc.along_settle_step_m, min(rc.along_settle_m, reach) + 1e-9, rc.along_settle_step_m)
    coarse = np.arange(fine[-1] + rc.ambiguity_step_m, reach + 1e-9, rc.ambiguity_step_m)

    def placed(v: float) -> F64:
        m = t.copy()
        m[0, 3] += v
        return m

    # The fine steps either side asked at once (one query of the reference), the coarse ones in turn
    # only where the cost is still within the tie at the last fine step.
    near = _costs(pts, reference, [placed(s * float(v)) for s in (1.0, -1.0) for v in fine], c, proud)

    def end_of(k: int, sign: float) -> float:
        """How far the tie holds on side ``k`` (0 ahead, 1 astern) of the fine scan, then the coarse one."""
        over = near[k * len(fine):(k + 1) * len(fine)] > (1.0 + rc.along_tie) * low
        first = int(np.argmax(over)) if over.any() else len(fine)
        end = float(fine[first - 1]) if first > 0 else 0.0
        if first == len(fine):
            for v in coarse:
                if _cost(pts, reference, placed(sign * float(v)), c, proud) > (1.0 + rc.along_tie) * low:
                    break
                end = float(v)
        return end

    return 0.0 - end_of(1, -1.0), end_of(0, 1.0)


def _lowest(costs: Callable[[F64, F64], F64], shifts: F64, yaws: F64) -> tuple[float, float, float]:
    """(shift, yaw, cost) of the lowest cost over the grid of ``shifts`` and ``yaws``; ``costs(s, y)``:
    the costs (K,) at K pairs of shift and yaw (:func:`_pose_costs`), asked once for the grid."""
    s, y = np.meshgrid(np.asarray(shifts, np.float64), np.asarray(yaws, np.float64), indexing="ij")
    grid = costs(s.ravel(), y.ravel()).reshape(s.shape)
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    return float(shifts[i]), float(yaws[j]), float(grid[i, j])


def _pose_costs(src: F64, reference: Reference, t: F64, pivot: F64, c: float, offset: float
                ) -> Callable[[F64, F64], F64]:
    """``costs(shifts, yaws)``: :func:`_cost` (K,) of ``src`` placed by ``t``, then moved each shift
    (m) along hull x and turned each yaw (deg) about the vertical through ``pivot`` (K, each)."""
    def costs(shifts: F64, yaws: F64) -> F64:
        return _costs(src, reference, [_about(pivot, float(y), np.array([float(v), 0.0, 0.0])) @ t
                                       for v, y in zip(shifts, yaws, strict=True)], c, offset)
    return costs


def _parabola_along(costs: Callable[[F64, F64], F64], best: float, yaw: float, low: float, step: float) -> float:
    """``best`` moved to the lowest point of a parabola through the costs a ``step`` either side of it
    along the ship (and ``low`` at it; :func:`_parabola_offset`), the two asked at once."""
    left, right = costs(np.array([best - step, best + step]), np.array([yaw, yaw]))
    return best + _parabola_offset(float(left), low, float(right), step)


def _parabola_offset(left: float, mid: float, right: float, step: float) -> float:
    """Where a parabola through three equally spaced costs has its lowest point, relative to the
    middle one (within half a step either way; 0 when the three do not curve upwards)."""
    curve = left - 2.0 * mid + right
    if curve <= 0.0:
        return 0.0
    return float(np.clip(0.5 * step * (left - right) / curve, -0.5 * step, 0.5 * step))


def _raise_prior_far_off(near: AlignmentCandidate, reg: Registration, prior: Transform, fit: _Refiner,
                         wide: tuple[float, ...]) -> None:
    """Nothing within the prior's range fits: find where the cloud does fit and say how far that is."""
    far = fit.refine(fit.global_candidates(), wide) if fit.config.alignment.global_registration else []
    good = sorted((r for r in far if fit.fits(r)), key=lambda r: -r.inlier_fraction)
    sg = reg.searched
    where = (f"within the prior's range (+/- {sg['along_m']:g} m along, {sg['across_m']:g} m across, "
             f"{sg['heading_deg']:g} deg heading) the best fit holds only {near.inlier_fraction:.0%} of the cloud "
             f"within {2 * fit.tukey_m:.2f} m (need {fit.need:.0%})")
    attempt = near.alignment(registration=reg)
    if good:
        along, across, _, yaw = _offsets(good[0].matrix, prior.as_matrix(), np.array(reg.pivot))
        raise AlignmentFailed(
            f"navigation prior is outside the capture range: {where}; a fit holding {good[0].inlier_fraction:.0%} lies "
            f"{along:+.1f} m along, {across:+.1f} m across and {yaw:+.1f} deg in heading from the prior. Check the "
            "ship heading (degrees clockwise from north), the start frame and side, the prior's frame (the "
            "reference file's own coordinates) and the reference's --bow/--up; then give the prior again.",
            attempt)
    raise AlignmentFailed(
        f"cloud does not fit reference {fit.reference.name!r}: {where}, and no fit was found elsewhere either. "
        "A different ship, or a prior that is far off; no findings were produced.", attempt)


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
        """(N, 3) Gaussian blend of the 8 nearest blocks' translations at ``points`` (smooth, no seams)."""
        return blend_shifts(points, self.centres, self.shifts, min(8, len(self.centres)), 0.5 * block)

    def apply(self, points: F64, block: float) -> F64:
        """Shift ``points`` by :meth:`shift_at` (:func:`apply_corrections` of this one)."""
        return apply_corrections(points, (self,), block)


def apply_corrections(points: F64, corrections: Sequence[LocalCorrection], block: float) -> F64:
    """``points`` (N, 3) shifted by each of ``corrections`` in turn, every shift evaluated once per
    cell of ``block / 64`` m (the cells of ``points`` as given, each moved on by the shifts before).

    The blend varies over metres, so evaluating it at each small cell's centre moves a shift
    by a few millimetres at most (2.3 mm over 20,000 points with neighbouring 4 m blocks up to
    8 cm apart, tests/hullscan/compare/test_registration.py), and millions of points cost a few
    hundred thousand lookups; the cells are found once for all the corrections.
    """
    used = [c for c in corrections if len(c.centres)]
    if not used or not len(points):
        return points
    cell = block / 64.0
    first, inv, _ = group_keys(voxel_keys(points, cell), sort=False)
    centres = (np.floor(points[first] / cell) + 0.5) * cell
    moved = centres
    for corr in used:
        moved = moved + corr.shift_at(moved, block)
    return points + (moved - centres)[inv]


def local_refine(points: F64, reference: Reference, config: CompareConfig, offset: float = 0.0,
                 proud: float = 0.0, *, thinned: bool = False) -> LocalCorrection:
    """Per-block (``config.alignment.local_block_m`` cubes) robust point-to-plane translation.

    A drifting navigation solution bends the map: each survey lane is shifted a little
    differently, which a single rigid transform cannot undo and which would show as large,
    shallow 'protrusions'. Blocks several times larger than any compartment are fitted with a
    median start and Tukey weights narrowing to ``tukey_k_m``, so compartments have no pull;
    directions a block does not constrain (one flat plate) are left alone. ``offset`` shifts the
    block grid (a second pass on a half-offset grid fits what one block straddling two lanes
    or the start of a lane could not). ``proud``: the whole cloud's uniform offset from the
    reference (:attr:`Alignment.surface_offset_m`), taken out of every block's distances, so that
    blocks correct drift only and do not each trade the offset for a shift along a taper.
    ``thinned``: ``points`` are already thinned to ``alignment.voxel_m`` (the caller keeps the
    thinned cloud across both grids rather than thinning millions of points twice).
    """
    block = config.alignment.local_block_m
    src = points if thinned else voxel_down(points, config.alignment.voxel_m)
    # Blocks in lexicographic (x, y, z) block-index order, points of each in input order. Every
    # step queries the reference once for all blocks still iterating (one large query instead of
    # a few hundred small ones); each block's own fit is as if it were done alone.
    _, inv, counts = group_keys(voxel_keys(src + offset, block))
    order = np.argsort(inv, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    pts = [src[order[bounds[b]:bounds[b + 1]]] for b in range(len(counts)) if counts[b] >= 200]
    ts = [np.zeros(3) for _ in pts]

    def query(which: list[int]) -> list[tuple[F64, F64, NDArray[np.bool_]]]:
        if not which:
            return []
        d, _, n, _, over = reference.signed_distance(np.concatenate([pts[i] + ts[i] for i in which]))
        d = d - proud
        cut = np.cumsum([0] + [len(pts[i]) for i in which])
        return [(d[a:b], n[a:b], over[a:b]) for a, b in pairwise(cut)]

    active = []
    for i, (d, n, over) in enumerate(query(list(range(len(pts))))):
        ok = over & (np.abs(d) < config.alignment.local_max_shift_m)
        if ok.sum() < 100:
            continue
        active.append(i)
        nbar = n[ok].mean(axis=0)
        if np.linalg.norm(nbar) > 0.5:
            ts[i] = -float(np.median(d[ok])) * nbar / max(float(np.linalg.norm(nbar)), 1e-9)
    fitted = list(active)
    for k in (0.2, 0.1, config.alignment.tukey_k_m, config.alignment.tukey_k_m):
        still = []
        for i, (d, n, over) in zip(active, query(active), strict=True):
            w = tukey(d, k) * over
            if w.sum() < 50:
                continue
            h = n.T @ (w[:, None] * n)
            g = -n.T @ (w * d)
            ev, evec = np.linalg.eigh(h)
            good = ev > 0.05 * ev.max()
            ts[i] = ts[i] + evec[:, good] @ ((evec[:, good].T @ g) / ev[good])
            still.append(i)
        active = still
    centres, shifts = [], []
    for i in fitted:
        if np.linalg.norm(ts[i]) < config.alignment.local_max_shift_m:
            centres.append(pts[i].mean(axis=0))
            shifts.append(ts[i])
    return LocalCorrection(np.array(centres).reshape(-1, 3), np.array(shifts).reshape(-1, 3))
