"""Navigation drift correction by submap alignment.

The survey is cut into submaps of ``submap_length_m`` of travel. Each submap, in time
order, is aligned with robust point-to-plane ICP (open3d, Tukey kernel) to the
already-corrected submaps it overlaps (in practice the neighbouring lanes), starting
from the previous submap's correction because drift is continuous. The corrections,
rigid transforms of the nav frame anchored at each submap's mid time, are interpolated
in time (linear + SLERP) and applied to every navigation sample; the caller re-fuses.

The first submap is the anchor: drift before any overlap cannot be observed without a
reference, so the result is self-consistent (no double surfaces) and the remaining
absolute error is the drift of the anchor submap.

With a reference (``recon.drift.reference``: a design mesh placed in the nav frame by the
prior ``hull_to_nav``, or an earlier hullscan cloud), each submap is aligned to the reference
instead, for a yaw and a translation (a heading bias turns the track), so the first lane and
the heading bias are corrected too; by default (``smoother``) the corrections of all submaps are
then solved together under a drift model (:mod:`hullscan.recon.smoothing`), so that a stretch the
reference does not constrain is bridged from its neighbours. Both modes share
:func:`fit_submap`; the reference's closest points come from :mod:`hullscan.compare.reference`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.core.nav import slerp
from hullscan.errors import HullscanError
from hullscan.recon.alongfix import AlongFix, AlongFixParams, measure_along
from hullscan.recon.config import DriftConfig
from hullscan.recon.nav import NavBuffer
from hullscan.recon.smoothing import (
    AlongPosterior,
    Smoothed,
    SmootherModel,
    SubmapFit,
    along_posterior,
    correction_matrix,
    smooth_corrections,
)

log = logging.getLogger("hullscan.recon.drift")


Closest = Callable[[NDArray[np.float64], float],
                   tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]]


def _rotate_yaw(d: NDArray[np.float64], yaw: float) -> NDArray[np.float64]:
    c, s = np.cos(yaw), np.sin(yaw)
    out = d.copy()
    out[:, 0] = c * d[:, 0] - s * d[:, 1]
    out[:, 1] = s * d[:, 0] + c * d[:, 1]
    return out


def yaw_matrix(yaw: float) -> NDArray[np.float64]:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class SubmapAlignment:
    """What :func:`fit_submap` found: the centre shift ``t`` (3,), the heading change ``yaw`` (rad,
    about the centroid of the submap's points), the inliers at the finest scale and their RMS
    residual, and ``info`` (4, 4): the Tukey-weighted point-to-plane information of (yaw, t) at
    the solution relative to its best-constrained direction (whose eigenvalue is 1), restricted to
    the directions the target constrains (the others are zero)."""

    t: NDArray[np.float64]
    yaw: float
    n_inliers: int
    rms: float
    info: NDArray[np.float64]


def align_submap(src: NDArray[np.float64], closest: Closest, t0: NDArray[np.float64], max_dist: float,
                 voxel: float, tukey_k: float, axes: NDArray[np.float64] | None = None,
                 yaw0: float | None = None, min_eig_ratio: float = 0.05
                 ) -> tuple[NDArray[np.float64], float, int, float]:
    """:func:`fit_submap` as (translation, yaw, inliers, RMS residual)."""
    a = fit_submap(src, closest, t0, max_dist, voxel, tukey_k, axes, yaw0, min_eig_ratio)
    return a.t, a.yaw, a.n_inliers, a.rms


def fit_submap(src: NDArray[np.float64], closest: Closest, t0: NDArray[np.float64], max_dist: float,
               voxel: float, tukey_k: float, axes: NDArray[np.float64] | None = None,
               yaw0: float | None = None, min_eig_ratio: float = 0.05) -> SubmapAlignment:
    """Robust (Tukey) point-to-plane ICP of ``src`` against a target, coarse to fine.

    ``closest(points, max_dist)`` gives, for the points with a target point within ``max_dist``,
    the closest target points and their unit normals, and the mask of those points. The pose is a
    translation ``t`` and, when ``yaw0`` is given, a rotation about the vertical through the
    centroid ``m`` of ``src``: ``p -> Rz(yaw) (p - m) + m + t`` (heading bias is a rotation;
    roll and pitch come from the INS's gravity reference and do not drift).
    Degeneracy-aware step: directions the target leaves unconstrained (a flat bottom, a
    cylindrical midbody) are left out of each step and keep the prior. ``axes`` (3,) of 0/1 keeps
    the translation axes with 0 at the prior (depth from a pressure sensor does not drift).
    Returns the translation, the yaw (0 without ``yaw0``), the number of inliers at the finest
    scale, their RMS residual and the information of the fit (:class:`SubmapAlignment`).
    """
    mask = np.ones(3) if axes is None else np.asarray(axes, np.float64)
    rotate = yaw0 is not None
    centre = src.mean(axis=0)
    # Yaw enters the step scaled by the submap's horizontal radius, so that its eigenvalue is
    # comparable with the translations' (both in metres at the points).
    lever = float(np.sqrt(np.mean(np.sum((src[:, :2] - centre[:2]) ** 2, axis=1)))) if rotate else 1.0
    lever = max(lever, 1e-3)
    t = np.asarray(t0, np.float64).copy()
    yaw = float(yaw0) if yaw0 is not None else 0.0
    n_in, rms = 0, np.inf
    dist = max_dist
    none = np.zeros((4, 4))
    while True:
        c = max(dist, tukey_k)
        for _ in range(15):
            p = _rotate_yaw(src - centre, yaw) + centre + t if rotate else src + t
            q, n, ok = closest(p, dist)
            if ok.sum() < 10:
                return SubmapAlignment(t, yaw, 0, np.inf, none)
            r = ((p[ok] - q) * n).sum(1)
            n = n * mask
            if rotate:
                arm = p[ok] - (centre + t)
                # d r / d (lever * yaw): a small yaw moves a point by ez x arm.
                n = np.column_stack([(n[:, 1] * arm[:, 0] - n[:, 0] * arm[:, 1]) / lever, n])
            w = np.where(np.abs(r) < c, (1 - (r / c) ** 2) ** 2, 0.0)
            wn = n * w[:, None]
            # Degeneracy-aware step: move only along well-constrained directions (the
            # remapping of Zhang et al. 2016), so a sliding direction keeps the prior.
            ev, vec = np.linalg.eigh(wn.T @ n)
            g = vec.T @ (wn.T @ r)
            good = ev > min_eig_ratio * max(ev.max(), 1e-12)
            step = -vec[:, good] @ (g[good] / ev[good])
            if rotate:
                yaw += float(step[0]) / lever
                t += step[1:]
            else:
                t += step
            if np.linalg.norm(step) < 1e-4:
                break
        n_in = int((w > 0).sum())
        rms = float(np.sqrt(np.average(r**2, weights=w))) if w.sum() > 0 else np.inf
        if dist <= 3 * voxel:
            return SubmapAlignment(t, yaw, n_in, rms, _information(ev, vec, good, rotate, lever))
        dist = max(dist / 4, 3 * voxel)


def _information(ev: NDArray[np.float64], vec: NDArray[np.float64], good: NDArray[np.bool_], rotate: bool,
                 lever: float) -> NDArray[np.float64]:
    """The fit's information (4, 4) in (yaw rad, t m) from the last step's eigen-decomposition
    (yaw scaled by the lever there), kept to the constrained directions."""
    # Relative: 1 along the best-constrained direction (the caller sets the scale).
    h = (vec[:, good] * (ev[good] / max(float(ev.max()), 1e-12))) @ vec[:, good].T
    info = np.zeros((4, 4))
    if rotate:
        scale = np.array([lever, 1.0, 1.0, 1.0])
        info[:] = h * np.outer(scale, scale)
    else:
        info[1:, 1:] = h
    return info


def tree_closest(tgt: NDArray[np.float64], tgt_normals: NDArray[np.float64], tree: Any = None) -> Closest:
    """``closest`` for :func:`align_submap` on target points with normals (nearest point)."""
    if tree is None:
        from scipy.spatial import cKDTree

        tree = cKDTree(tgt)

    def closest(p: NDArray[np.float64], dist: float
                ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        d, j = tree.query(p, distance_upper_bound=dist)
        ok = np.isfinite(d)
        return tgt[j[ok]], tgt_normals[j[ok]], ok

    return closest


def align_translation(src: NDArray[np.float64], tgt: NDArray[np.float64], tgt_normals: NDArray[np.float64],
                      t0: NDArray[np.float64], max_dist: float, voxel: float, tukey_k: float,
                      axes: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], int, float]:
    """Robust point-to-plane ICP for a translation only against target points, coarse to fine.

    Navigation drift between overlapping submaps is mostly a position drift, and
    translation-only alignment stays well posed on hull shapes that let a rigid
    transform slide (:func:`align_submap` without yaw).
    Returns the translation, the number of inliers at the finest scale and their RMS residual.
    """
    t, _, n_in, rms = align_submap(src, tree_closest(tgt, tgt_normals), t0, max_dist, voxel, tukey_k, axes)
    return t, n_in, rms


def overlap_cost(src: NDArray[np.float64], tree: Any, tgt_normals: NDArray[np.float64],
                 t: NDArray[np.float64], c: float) -> float:
    """Overlap consistency of ``src + t`` with a target: mean truncated squared point-to-plane
    distance (points without a neighbour within ``c`` cost ``c^2``). Lower is better."""
    d, j = tree.query(src + t, distance_upper_bound=c)
    ok = np.isfinite(d)
    r = np.full(len(src), c)
    jj = j[ok]
    r[ok] = np.minimum(np.abs(((src[ok] + t - tree.data[jj]) * tgt_normals[jj]).sum(1)), c)
    return float(np.mean(r**2))


def _travelled(nav: NavBuffer) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    """Distance the vehicle had travelled (m, by the navigation) at given stamps: the record's
    cumulative path length, summed once, then interpolated per block of returns."""
    t, a = nav.arrays()
    at = t.astype(np.float64)
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(a[:, :3], axis=0), axis=1))])
    return lambda stamps: np.interp(stamps.astype(np.float64), at, travelled)


class SurfaceReference(Protocol):
    """A reference surface placed in the navigation frame, for aligning submaps to it
    (:class:`hullscan.compare.navref.NavReference` is the one hullscan builds; recon never imports
    the comparison code, the caller hands the reference in)."""

    @property
    def sigma(self) -> object | None: ...

    def registered(self, survey: SurveyReturns) -> tuple[SurfaceReference, object]: ...

    def closest(self, p: NDArray[np.float64], dist: float
                ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]: ...

    def cost(self, p: NDArray[np.float64], c: float) -> float: ...

    def along(self) -> tuple[NDArray[np.float64], float | None] | None:
        """The ship's along axis in the navigation frame (3,), and how well the placement fixes
        the survey along it (1 sigma, m; None: not known); None when the reference's frame is not
        the ship's (an earlier scan in its own navigation frame)."""
        ...


# Every kept return of the survey georeferenced with the given navigation, block by block: points
# (N, 3), their pings' stamps on the navigation clock (N,) and on the sonar's (N,).
Returns = Callable[[NavBuffer], Iterable[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]]]


class SurveyReturns(Protocol):
    """The survey's kept returns as drift correction reads them: submap by submap, and as dense voxel
    means. :class:`ReturnsInMemory` holds them in arrays; :class:`ReturnsSpilled` on disk, for a
    whole ship (recon.tiling), with bit-identical results."""

    def __len__(self) -> int: ...

    def submaps(self) -> Iterator[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]]:
        """Each submap's points (N, 3), sonar stamps (N,) and distance travelled (N,), in input order,
        submaps in travel order."""
        ...

    def dense(self, size: float, head: int | None = None) -> NDArray[np.float64]:
        """:func:`dense_voxels` of all returns, or of the first ``head``."""
        ...


@dataclass(frozen=True)
class ReturnsInMemory:
    """:class:`SurveyReturns` in arrays: points (N, 3), submap index (N,), sonar stamps (N,),
    distance travelled (N,)."""

    pts: NDArray[np.float64]
    sub: NDArray[np.int64]
    stamps: NDArray[np.int64]
    travelled: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.pts.shape[0])

    def submaps(self) -> Iterator[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]]:
        for sid in np.unique(self.sub):
            m = self.sub == sid
            yield self.pts[m], self.stamps[m], self.travelled[m]

    def dense(self, size: float, head: int | None = None) -> NDArray[np.float64]:
        return dense_voxels(self.pts if head is None else self.pts[:head], size)


_ROW = np.dtype([("p", np.float64, 3), ("stamp", np.int64), ("travelled", np.float64)])


class ReturnsSpilled:
    """:class:`SurveyReturns` in a spill file (40 bytes a return, input order) with an index of each
    block's runs of one submap; reads give exactly :class:`ReturnsInMemory`'s arrays and dense
    voxels, holding one submap (or one chunk) in memory at a time."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "returns.bin"
        try:
            self._f = open(self.path, "w+b")  # noqa: SIM115 (held for the object's life; closed in close())
        except OSError as err:
            raise HullscanError(f"{self.path}: cannot write the spilled returns ({err})") from err
        self._runs: list[tuple[int, int, int]] = []  # (submap, first row, rows)
        self.n = 0

    def append(self, pts: NDArray[np.float64], sub: NDArray[np.int64], stamps: NDArray[np.int64],
               travelled: NDArray[np.float64]) -> None:
        rows = np.empty(pts.shape[0], _ROW)
        rows["p"], rows["stamp"], rows["travelled"] = pts, stamps, travelled
        self._f.seek(self.n * _ROW.itemsize)
        self._f.write(rows.tobytes())
        cut = np.flatnonzero(np.diff(sub)) + 1
        for a, b in zip(np.r_[0, cut], np.r_[cut, len(sub)], strict=True):
            if b > a:
                self._runs.append((int(sub[a]), self.n + int(a), int(b - a)))
        self.n += int(pts.shape[0])

    def __len__(self) -> int:
        return self.n

    def _read(self, first: int, rows: int) -> NDArray[np.void]:
        self._f.flush()
        self._f.seek(first * _ROW.itemsize)
        return np.fromfile(self._f, _ROW, rows)

    def submaps(self) -> Iterator[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]]:
        by_sub: dict[int, list[tuple[int, int]]] = {}
        for sid, first, rows in self._runs:
            by_sub.setdefault(sid, []).append((first, rows))
        for sid in sorted(by_sub):
            r = np.concatenate([self._read(first, rows) for first, rows in by_sub[sid]])
            yield np.ascontiguousarray(r["p"]), np.ascontiguousarray(r["stamp"]), np.ascontiguousarray(r["travelled"])

    def dense(self, size: float, head: int | None = None, chunk: int = 1 << 22) -> NDArray[np.float64]:
        end = self.n if head is None else min(head, self.n)
        return dense_voxels_chunked((np.ascontiguousarray(self._read(a, min(chunk, end - a))["p"])
                                     for a in range(0, end, chunk)), size)

    def close(self) -> None:
        self._f.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class DriftCorrection:
    """What drift correction gives: the corrected navigation (None when nothing could be aligned),
    its statistics, and with a reference the placement it settled on and the registration that
    found it (None without a reference or when the prior was already registered)."""

    nav: NavBuffer | None
    info: dict[str, float]
    reference: SurfaceReference | None = None
    registration: object | None = None
    along: AlongShipUncertainty | None = None


@dataclass(frozen=True)
class AlongShipUncertainty:
    """How well the corrected survey is placed along the ship, submap by submap: the smoother's
    posterior (:func:`hullscan.recon.smoothing.along_sd`). Where the surface fixes no position
    along the ship (a parallel midbody, a flat bottom), dead reckoning carries it from the
    nearest stretch that does, and the uncertainty grows with the distance travelled.

    ``stamps_ns`` (N,) each submap's middle; ``centres`` (N, 3) its centre in the corrected
    navigation frame; ``axis`` (3,) the ship's along axis there; ``posterior`` the smoother's
    along that axis; ``placement_sd_m`` how well the registration before drift correction fixed
    the whole survey along it (None: not known); ``drift_rate`` the drift model's rate per metre
    that the figures rest on; ``submap_length_m`` the travel per submap."""

    stamps_ns: NDArray[np.float64]
    centres: NDArray[np.float64]
    axis: NDArray[np.float64]
    posterior: AlongPosterior
    placement_sd_m: float | None
    drift_rate: float
    submap_length_m: float = 10.0  # travel per submap (recon.drift.submap_length_m)
    # (N,) the submaps whose position along the ship the reference relief they saw measured
    # (hullscan.recon.alongfix); None: not asked
    relief_fixed: NDArray[np.bool_] | None = None

    @classmethod
    def uniform(cls, centre: NDArray[np.float64], two_sd_m: float, drift_rate: float = 0.0) -> AlongShipUncertainty:
        """One submap at ``centre`` (3,; corrected navigation frame) placed to ``two_sd_m`` (2 sigma)
        along the ship, that figure everywhere: for a cloud whose drift stage's posterior is not at
        hand (the benches replay saved clouds with what the run stated)."""
        sd = float(two_sd_m) / 2.0
        return cls(np.zeros(1), np.asarray(centre, np.float64).reshape(1, 3), np.array([1.0, 0.0, 0.0]),
                   AlongPosterior(np.array([sd**2]), np.zeros(1), 1.0), None, float(drift_rate))

    def sd_m(self, placement_sd_m: float | None = None) -> NDArray[np.float64]:
        """1 sigma along the ship (m) per submap (N,), the whole survey fixed along it to
        ``placement_sd_m`` (a later registration's), else to the drift stage's."""
        return self.posterior.sd(self.placement_sd_m if placement_sd_m is None else placement_sd_m)

    def relief_sd_m(self) -> float | None:
        """How well reference relief alone placed the survey along the ship (1 sigma, m, at the best
        placed submap that relief fixed, without the registration's measurement); None where no
        relief did."""
        if self.relief_fixed is None or not np.any(self.relief_fixed):
            return None
        return float(self.posterior.sd(None)[self.relief_fixed].min())


def correct_drift(cfg: DriftConfig, nav: NavBuffer, returns: Returns,
                  reference: SurfaceReference | None = None, spill: Path | None = None) -> DriftCorrection:
    """Submaps of the survey aligned to each other (or to ``reference``) and the corrections
    interpolated into the navigation; ``spill``: a folder for the georeferenced returns (a whole
    ship: :class:`ReturnsSpilled`, the same result) instead of memory."""
    if len(nav) < 2:
        return DriftCorrection(None, {"drift_submaps": 0}, reference)
    if reference is None and cfg.reference is not None:
        raise HullscanError(f"recon.drift.reference {cfg.reference}: the reference was not loaded (load it with "
                            "hullscan.compare.navref.load_drift_reference and pass it as drift_reference)")
    # 1. Georeference every kept return once, labelled by submap (in memory, or spilled for a whole ship).
    survey = _collect(cfg, nav, returns, spill)
    if survey is None:
        return DriftCorrection(None, {"drift_submaps": 0}, reference)
    registration = None
    anchors_sigma: list[float] | None = None
    along: AlongShipUncertainty | None = None
    try:
        if reference is None:
            anchors_t, anchors_T, info = _align_submaps(cfg, survey)
        else:
            if reference.sigma is not None:
                # Where the ship lies is known only to the prior's uncertainty: register the whole
                # (drifting) survey first, so that the submaps start from the right placement.
                reference, registration = reference.registered(survey)
            if cfg.smoother:
                anchors_t, anchors_T, info, anchors_sigma, along = _smooth_to_reference(cfg, reference, survey)
            else:
                anchors_t, anchors_T, info, anchors_sigma = _align_to_reference(cfg, reference, survey)
    finally:
        if isinstance(survey, ReturnsSpilled):
            survey.close()
    # 2. Interpolate the corrections in time and apply them to the navigation.
    t, a = nav.arrays()
    at = np.array(anchors_t)
    T = np.array(anchors_T)
    idx = np.clip(np.searchsorted(at, t, side="right") - 1, 0, len(at) - 1)
    idx1 = np.clip(idx + 1, 0, len(at) - 1)
    span = at[idx1] - at[idx]
    w = np.where(span > 0, np.clip((t - at[idx]) / np.where(span > 0, span, 1), 0, 1), 0.0)
    q0 = Rotation.from_matrix(T[idx, :3, :3]).as_quat()
    q1 = Rotation.from_matrix(T[idx1, :3, :3]).as_quat()
    rc = Rotation.from_quat(slerp(q0, q1, w))
    tc = T[idx, :3, 3] * (1 - w)[:, None] + T[idx1, :3, 3] * w[:, None]
    new = a.copy()
    new[:, :3] = rc.apply(a[:, :3]) + tc
    new[:, 3:7] = (rc * Rotation.from_quat(a[:, 3:7])).as_quat()
    if anchors_sigma is not None and cfg.measured_sigma:
        new[:, 7:9] = _measured_sigma(a[:, 7:9], np.array(anchors_sigma), idx, idx1, w)
    out = NavBuffer(nav.max_gap_ns * 1e-9, nav.max_speed, nav.depth_smoothing_s)
    out.load(t.copy(), new)
    out.frame_id = nav.frame_id
    log.debug("drift corrections: %s", np.round(T[:, :3, 3], 3).tolist())
    log.info("drift: %d submaps, %d aligned, %d skipped, largest correction %.3f m",
             int(info["drift_submaps"]), int(info["drift_aligned"]), int(info["drift_skipped"]),
             info["drift_max_correction_m"])
    return DriftCorrection(out, info, reference, registration, along)


def _collect(cfg: DriftConfig, nav: NavBuffer, returns: Returns, spill: Path | None
             ) -> ReturnsInMemory | ReturnsSpilled | None:
    """One pass over the survey's returns, labelled by submap; None when there are none."""
    travelled_at = _travelled(nav)
    if spill is not None:
        out = ReturnsSpilled(spill)
        for pts, nav_stamps, stamps in returns(nav):
            d = travelled_at(nav_stamps)
            out.append(pts, (d // cfg.submap_length_m).astype(np.int64), stamps, d)
        if len(out) == 0:
            out.close()
            return None
        return out
    pts_l, dist_l, time_l = [], [], []
    for pts, nav_stamps, stamps in returns(nav):
        pts_l.append(pts)
        dist_l.append(travelled_at(nav_stamps))
        time_l.append(stamps)
    if not pts_l:
        return None
    travelled = np.concatenate(dist_l)
    return ReturnsInMemory(np.concatenate(pts_l), (travelled // cfg.submap_length_m).astype(np.int64),
                           np.concatenate(time_l), travelled)


def _measured_sigma(dvl: NDArray[np.float64], anchors: NDArray[np.float64], idx: NDArray[np.int64],
                    idx1: NDArray[np.int64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horizontal position sigma (N, 2) of the corrected navigation: between two submaps that lie on
    the reference, what their corrections leave there (RMS, interpolated); elsewhere, or where
    the DVL/INS claims less, the DVL/INS's own. The DVL's absolute sigma grows with distance
    travelled (0.8 % of 500 m is 4 m), but that drift is what the correction measured and removed:
    kept, it would leave no plating of a long survey clearable."""
    s = anchors[idx] * (1 - w) + anchors[idx1] * w
    s = np.where(np.isfinite(s), s, np.inf)[:, None]
    return np.minimum(dvl, s)


def _fit_rms(p: NDArray[np.float64], reference: SurfaceReference, cfg: DriftConfig) -> float:
    """RMS point-to-plane distance of corrected submap points to the reference, every point with a
    correspondence counted (not Tukey-weighted as in the fit: a part of the submap left off by more
    than the kernel would not show); NaN when too few of them lie on it to say."""
    q, n, ok = reference.closest(p, cfg.max_correspondence_m)
    if int(ok.sum()) < cfg.min_overlap_points:
        return float("nan")
    d = ((p[ok] - q) * n).sum(1)
    return float(np.sqrt(np.mean(d**2)))


def _downsample(p: NDArray[np.float64], voxel: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Voxel-downsampled points and their normals (open3d)."""
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p)).voxel_down_sample(voxel)
    pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=4 * voxel, max_nn=30))
    return np.asarray(pc.points).copy(), np.asarray(pc.normals).copy()


def _align_submaps(cfg: DriftConfig, survey: SurveyReturns
                   ) -> tuple[list[float], list[NDArray[np.float64]], dict[str, float]]:
    """Each submap, in time order, to the corrected submaps it overlaps (translation only)."""

    def cloud(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _downsample(p, cfg.icp_voxel)

    anchors_t: list[float] = []
    anchors_T: list[NDArray[np.float64]] = []
    done: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]] = []
    current = np.zeros(3)
    axes = np.array([1.0, 1.0, 0.0 if cfg.fix_depth else 1.0])
    aligned = skipped = rejected = 0
    residuals = []
    n_sub = 0
    for k, (pts_k, stamps_k, _) in enumerate(survey.submaps()):
        n_sub += 1
        sp, _ = cloud(pts_k)
        mid_t = float(np.median(stamps_k))
        if k > 0 and len(sp) >= cfg.min_overlap_points:
            # Target: corrected submaps whose boxes overlap this one's (grown by the search distance).
            lo = sp.min(0) + current - cfg.max_correspondence_m
            hi = sp.max(0) + current + cfg.max_correspondence_m
            tp_l, tn_l = [], []
            for p_, n_, blo, bhi in done:
                if np.all(bhi >= lo) and np.all(blo <= hi):
                    inside = np.all((p_ >= lo) & (p_ <= hi), axis=1)
                    tp_l.append(p_[inside])
                    tn_l.append(n_[inside])
            if sum(len(x) for x in tp_l) >= cfg.min_overlap_points:
                tp, tn = np.concatenate(tp_l), np.concatenate(tn_l)
                t_new, n_in, rms = align_translation(sp, tp, tn, current, cfg.max_correspondence_m,
                                                     cfg.icp_voxel, cfg.tukey_k, axes)
                # Accept only a correction that measurably improves the overlap consistency
                # (noise alone makes ICP wander by a few cm on smooth hull plating).
                from scipy.spatial import cKDTree

                tree = cKDTree(tp)
                c = 3 * cfg.icp_voxel
                before = overlap_cost(sp, tree, tn, current, c)
                after = overlap_cost(sp, tree, tn, t_new, c)
                # Drift is slow: a larger jump than the drift rate allows over one submap is ICP
                # sliding along featureless plating, not drift.
                jump = float(np.linalg.norm(t_new - current))
                if (n_in >= cfg.min_overlap_points and after < (1.0 - cfg.min_improvement) * before
                        and jump <= cfg.max_drift_rate * cfg.submap_length_m):
                    current = t_new
                    aligned += 1
                    residuals.append(rms)
                else:
                    skipped += 1
                    rejected += int(n_in >= cfg.min_overlap_points)
            else:
                skipped += 1
        anchors_t.append(mid_t)
        t4 = np.eye(4)
        t4[:3, 3] = current
        anchors_T.append(t4)
        p_new = sp + current
        p_new, n_new = cloud(p_new)
        done.append((p_new, n_new, p_new.min(0), p_new.max(0)))
    T = np.array(anchors_T)
    info = {"drift_submaps": float(n_sub), "drift_aligned": float(aligned), "drift_skipped": float(skipped),
            "drift_rejected": float(rejected),
            "drift_max_correction_m": float(np.abs(T[:, :3, 3]).max()) if len(T) else 0.0,
            "drift_icp_rms_m": float(np.mean(residuals)) if residuals else 0.0}
    return anchors_t, anchors_T, info


# --------------------------------------------------------------------------- alignment to a reference


def dense_voxels(pts: NDArray[np.float64], size: float, min_count: int = 4) -> NDArray[np.float64]:
    """Means of the voxels of ``size`` m that hold at least ``min_count`` returns: the surface,
    without the lone spikes, fish and multipath ghosts of the raw returns."""
    from hullscan.core.grid import group_keys, voxel_keys

    if not len(pts):
        return pts
    _, inv, counts = group_keys(voxel_keys(pts, size))
    sums = np.column_stack([np.bincount(inv, weights=pts[:, j], minlength=len(counts)) for j in range(3)])
    keep = counts >= min_count
    return sums[keep] / counts[keep, None]


def dense_voxels_chunked(chunks: Iterable[NDArray[np.float64]], size: float, min_count: int = 4
                         ) -> NDArray[np.float64]:
    """:func:`dense_voxels` of the concatenated ``chunks``, bit for bit, holding only the voxels' sums:
    the same voxels in the same (x, y, z index) order, each summed in input order from zero."""
    from hullscan.recon.tiles import PACK_OFFSET, pack_index

    off = PACK_OFFSET
    keys = np.zeros(0, np.int64)
    sums = np.zeros((0, 3))
    counts = np.zeros(0, np.int64)
    for c in chunks:
        if not len(c):
            continue
        ijk = np.floor(c / size).astype(np.int64)
        if ijk.min() < -off or ijk.max() >= off:
            raise ValueError(f"dense_voxels_chunked: points beyond +-{off * size:.0f} m at {size} m voxels")
        k = pack_index(ijk)
        new = np.setdiff1d(k, keys)
        if len(new):
            merged = np.union1d(keys, new)
            at = np.searchsorted(merged, keys)
            s2, c2 = np.zeros((len(merged), 3)), np.zeros(len(merged), np.int64)
            s2[at], c2[at] = sums, counts
            keys, sums, counts = merged, s2, c2
        idx = np.searchsorted(keys, k)
        for j in range(3):
            col = sums[:, j].copy()
            np.add.at(col, idx, c[:, j])  # in input order, as np.bincount adds
            sums[:, j] = col
        counts += np.bincount(idx, minlength=len(keys))
    keep = counts >= min_count
    return sums[keep] / counts[keep, None]


Anchors = tuple[list[float], list[NDArray[np.float64]], dict[str, float], list[float]]


def _align_to_reference(cfg: DriftConfig, reference: SurfaceReference, survey: SurveyReturns) -> Anchors:
    """Each submap, in time order, to the reference: a yaw and a translation per submap, and what
    its correction leaves against the reference (RMS, m; NaN where too little of it lies on it).

    Starts from the navigation prior (the reference placed by ``hull_to_nav``) for the first
    submap and from the previous submap's correction after that (drift is continuous). A
    correction is accepted if it lowers the truncated point-to-plane cost against the
    reference by ``min_improvement``, keeps the heading correction within ``max_yaw_deg`` and
    moves the submap by no more than credible drift since the last accepted one
    (``max_drift_rate`` x distance, at least ``max_correspondence_m`` for the first);
    otherwise the previous correction is kept (``drift_rejected``).
    """
    subs = _submaps(cfg, survey)
    axes = np.array([1.0, 1.0, 0.0 if cfg.fix_depth else 1.0])
    yaw, trans = 0.0, np.zeros(3)  # current correction: p -> Rz(yaw) p + trans
    anchors_t: list[float] = []
    anchors_T: list[NDArray[np.float64]] = []
    aligned = skipped = rejected = 0
    residuals: list[float] = []
    anchors_sigma: list[float] = []
    moves: list[float] = []
    since = 0  # submaps since the last accepted correction
    c_cost = 3 * cfg.icp_voxel
    for sid, sm in enumerate(subs):
        mid_t, sp = sm.mid_t, sm.points
        fit_rms = float("nan")
        since += 1
        if len(sp) >= cfg.min_overlap_points:
            centre = sp.mean(axis=0)
            rz = yaw_matrix(yaw)
            t0 = rz @ centre + trans - centre  # the same correction about the submap's centre
            t_new, yaw_new, n_in, rms = align_submap(sp, reference.closest, t0, cfg.max_correspondence_m,
                                                     cfg.icp_voxel, cfg.tukey_k, axes, yaw0=yaw,
                                                     min_eig_ratio=cfg.reference_min_eig_ratio)
            rz_new = yaw_matrix(yaw_new)
            before = reference.cost(sp @ rz.T + trans, c_cost)
            after = reference.cost((sp - centre) @ rz_new.T + centre + t_new, c_cost)
            jump = float(np.linalg.norm(t_new - t0))  # of the submap's centre
            limit = (cfg.max_correspondence_m if aligned == 0
                     else cfg.max_drift_rate * cfg.submap_length_m * since + 3 * cfg.icp_voxel)
            if (n_in >= cfg.min_overlap_points and after < (1.0 - cfg.min_improvement) * before
                    and abs(yaw_new) <= np.deg2rad(cfg.max_yaw_deg) and jump <= limit):
                yaw = yaw_new
                trans = centre + t_new - rz_new @ centre
                aligned += 1
                since = 0
                residuals.append(rms)
                moves.append(float(np.linalg.norm(t_new)))
            else:
                skipped += 1
                rejected += int(n_in >= cfg.min_overlap_points)
                log.debug("submap %d: correction rejected (inliers %d, cost %.5f -> %.5f, yaw %.2f deg, jump "
                          "%.3f m of %.3f)", sid, n_in, before, after, np.rad2deg(yaw_new), jump, limit)
            if cfg.measured_sigma:  # one more closest-point query per submap: only when it is used
                # What the submap's correction (new, or carried from the last when nothing better was
                # found) leaves against the reference: the corrected navigation's uncertainty there.
                fit_rms = _fit_rms(sp @ yaw_matrix(yaw).T + trans, reference, cfg)
        else:
            skipped += 1
        t4 = np.eye(4)
        t4[:3, :3] = yaw_matrix(yaw)
        t4[:3, 3] = trans
        anchors_t.append(mid_t)
        anchors_T.append(t4)
        anchors_sigma.append(fit_rms)
        log.debug("submap %d: yaw %.3f deg, translation %s", sid, np.rad2deg(yaw), np.round(trans, 3).tolist())
    info = {"drift_submaps": float(len(subs)), "drift_aligned": float(aligned), "drift_skipped": float(skipped),
            "drift_rejected": float(rejected), "drift_max_correction_m": max(moves, default=0.0),
            "drift_icp_rms_m": float(np.mean(residuals)) if residuals else 0.0,
            "drift_max_yaw_deg": float(np.rad2deg(max((abs(float(np.arctan2(T[1, 0], T[0, 0])))
                                                       for T in anchors_T), default=0.0)))}
    return anchors_t, anchors_T, info, anchors_sigma


@dataclass(frozen=True)
class _Submap:
    """A submap's downsampled points (nav frame, uncorrected), their centre, its middle stamp and
    the distance travelled there."""

    points: NDArray[np.float64]
    centre: NDArray[np.float64]
    mid_t: float
    travelled: float


def _submaps(cfg: DriftConfig, survey: SurveyReturns) -> list[_Submap]:
    rng = np.random.default_rng(0)
    out = []
    for pts, stamps, travelled in survey.submaps():
        sp, _ = _downsample(pts, cfg.icp_voxel)
        if len(sp) > cfg.reference_max_points:
            sp = sp[np.sort(rng.choice(len(sp), cfg.reference_max_points, replace=False))]
        centre = sp.mean(axis=0) if len(sp) else pts.mean(axis=0)
        out.append(_Submap(sp, centre, float(np.median(stamps)), float(np.median(travelled))))
    return out


def _fit(cfg: DriftConfig, reference: SurfaceReference, sm: _Submap, x0: NDArray[np.float64], max_dist: float
         ) -> tuple[SubmapFit, float]:
    """One submap's alignment to the reference from the correction ``x0`` as a smoother measurement
    (no measurement when too little of it lies on the reference or the heading change is not
    credible), and its RMS residual."""
    axes = np.array([1.0, 1.0, 0.0 if cfg.fix_depth else 1.0])
    none = SubmapFit(sm.centre, sm.travelled, np.zeros(4), np.zeros((4, 4)))
    if len(sm.points) < cfg.min_overlap_points:
        return none, float("nan")
    a = fit_submap(sm.points, reference.closest, x0[1:4], max_dist, cfg.icp_voxel, cfg.tukey_k, axes,
                   yaw0=float(x0[0]), min_eig_ratio=cfg.reference_min_eig_ratio)
    if a.n_inliers < cfg.min_overlap_points or abs(a.yaw) > np.deg2rad(cfg.max_yaw_deg):
        return none, float("nan")
    z = np.concatenate([[a.yaw], a.t])
    return SubmapFit(sm.centre, sm.travelled, z, a.info / cfg.fit_sigma_m**2), a.rms


def _with_along(fit: SubmapFit, x: NDArray[np.float64], axis: NDArray[np.float64], fix: AlongFix) -> SubmapFit:
    """``fit`` with the along-ship measurement ``fix`` (made at the correction ``x``) added: one more
    row of information on the centre shift along ``axis``."""
    a = np.concatenate([[0.0], np.asarray(axis, np.float64) / np.linalg.norm(axis)])
    info = fit.info + np.outer(a, a) / fix.sigma_m**2
    rhs = fit.info @ fit.z + a * (float(a @ x) + fix.shift_m) / fix.sigma_m**2
    z = np.asarray(np.linalg.lstsq(info, rhs, rcond=None)[0], np.float64)
    return SubmapFit(fit.centre, fit.travelled, z, info)


def _relief_fixes(cfg: DriftConfig, reference: SurfaceReference, subs: list[_Submap], fits: list[SubmapFit],
                  solved: Smoothed, model: SmootherModel, ax: tuple[NDArray[np.float64], float | None]
                  ) -> tuple[list[SubmapFit], NDArray[np.bool_]]:
    """The fits with each submap's along-ship position measured from the reference relief it saw
    (:func:`hullscan.recon.alongfix.measure_along`, at its solved correction), and which submaps got
    one. A fix is taken only inside the drift model's 2 sigma there: it sharpens a placement, it
    does not overrule the navigation. Its 1 sigma is never under the drift over one submap (the
    submap is rigid only to that)."""
    axis, common = ax
    sd = along_posterior(fits, solved.weights, model, axis).sd(common)
    params = AlongFixParams(min_sigma_m=max(0.03, cfg.smoother_drift_rate * cfg.submap_length_m))
    out, fixed = list(fits), np.zeros(len(subs), bool)
    for k, (sm, xk) in enumerate(zip(subs, solved.x, strict=True)):
        t = correction_matrix(sm.centre, xk)
        fix = measure_along(sm.points @ t[:3, :3].T + t[:3, 3], axis, reference.closest, params)
        log.debug("submap %d: along fix %s (2 sigma before %.3f m)", k, fix, 2 * sd[k])
        if fix is not None and abs(fix.shift_m) <= 2 * sd[k]:
            out[k], fixed[k] = _with_along(fits[k], xk, axis, fix), True
    return out, fixed


def _smooth_to_reference(cfg: DriftConfig, reference: SurfaceReference, survey: SurveyReturns
                         ) -> tuple[list[float], list[NDArray[np.float64]], dict[str, float], list[float],
                                    AlongShipUncertainty | None]:
    """Each submap aligned to the reference, and all corrections solved together
    (:mod:`hullscan.recon.smoothing`): a submap the reference does not constrain in some direction
    takes it from its neighbours along the track, before and after, rather than carrying the last
    correction forward.

    1. Fit every submap in travel order, each starting from the previous submap's fit (drift is
       continuous).
    2. Solve all corrections under the drift model; fits that disagree are down-weighted.
    3. Fit every submap again from its solved correction (a near start keeps ICP out of a
       neighbouring minimum), and solve again. With ``along_features``, add where reference
       relief places a submap along the ship (:func:`_relief_fixes`) and solve once more.
    4. How well that places each submap along the ship (:class:`AlongShipUncertainty`).
    """
    subs = _submaps(cfg, survey)
    model = SmootherModel(drift_rate=cfg.smoother_drift_rate, correlation_m=cfg.smoother_correlation_m,
                          yaw_rate=np.deg2rad(cfg.smoother_yaw_rate_deg), prior_vertical_m=cfg.smoother_vertical_prior_m)
    # 1. A first fit of each submap, chained.
    fits, x = [], np.zeros(4)
    for sm in subs:
        f, _ = _fit(cfg, reference, sm, x, cfg.max_correspondence_m)
        fits.append(f)
        if np.any(f.info):
            x = f.z
    # 2-3. Solve, refit from the solution, solve again.
    solved = smooth_corrections(fits, model)
    refits = [_fit(cfg, reference, sm, xk, min(cfg.max_correspondence_m, cfg.smoother_refit_m))
              for sm, xk in zip(subs, solved.x, strict=True)]
    fits = [f for f, _ in refits]
    solved = smooth_corrections(fits, model)
    ax = reference.along()
    fixed = np.zeros(len(subs), bool)
    if ax is not None and cfg.along_features:
        # 3b. Where a submap saw reference relief (an anode), its position along the ship from it.
        fits, fixed = _relief_fixes(cfg, reference, subs, fits, solved, model, ax)
        if fixed.any():
            solved = smooth_corrections(fits, model)
    anchors_T = [correction_matrix(sm.centre, xk) for sm, xk in zip(subs, solved.x, strict=True)]
    anchors_sigma = ([_fit_rms(sm.points @ T[:3, :3].T + T[:3, 3], reference, cfg) for sm, T in zip(subs, anchors_T, strict=True)]
                     if cfg.measured_sigma else [float("nan")] * len(subs))
    has = np.array([bool(np.any(f.info)) for f in fits])
    good = solved.weights > 0.5
    rms = [r for (_, r), g in zip(refits, good, strict=True) if g]
    info = {"drift_submaps": float(len(subs)), "drift_aligned": float(good.sum()),
            "drift_skipped": float((~has).sum()), "drift_rejected": float((has & ~good).sum()),
            "drift_max_correction_m": float(np.linalg.norm(solved.x[:, 1:4], axis=1).max()) if len(subs) else 0.0,
            "drift_icp_rms_m": float(np.mean(rms)) if rms else 0.0,
            "drift_max_yaw_deg": float(np.rad2deg(np.abs(solved.x[:, 0]).max())) if len(subs) else 0.0}
    for k, xk in enumerate(solved.x):
        log.debug("submap %d: yaw %.3f deg, centre shift %s, weight %.2f", k, np.rad2deg(xk[0]),
                  np.round(xk[1:4], 3).tolist(), solved.weights[k])
    info["drift_along_fixed"] = float(fixed.sum())
    # 4. The placement along the ship, stretch by stretch.
    along = None
    if ax is not None and subs:
        axis, common = ax
        post = along_posterior(fits, solved.weights, model, axis)
        centres = np.array([T[:3, :3] @ sm.centre + T[:3, 3] for sm, T in zip(subs, anchors_T, strict=True)])
        along = AlongShipUncertainty(np.array([sm.mid_t for sm in subs]), centres, np.asarray(axis, np.float64),
                                     post, common, model.drift_rate, cfg.submap_length_m,
                                     fixed if cfg.along_features else None)
        info["drift_along_sd_max_m"] = float(along.sd_m().max())
    return [sm.mid_t for sm in subs], anchors_T, info, anchors_sigma, along
