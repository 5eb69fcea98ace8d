"""``inspect``: one hull cloud against one reference -> findings, coverage, deviation.

Errors are raised as usual; whatever was computed before the error travels with it as
``err.partial`` (an :class:`Inspection` with ``status='partial'``), so the commands can still
write a report saying what could be done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.transform import Rotation

from hullscan.compare.align import (
    Alignment,
    AlignmentFailed,
    LocalCorrection,
    align,
    local_refine,
    robust_icp,
    score,
    voxel_down,
)
from hullscan.compare.analysis import (
    Cells,
    Coverage,
    clearance,
    coverage,
    joined_off_reference,
    make_cells,
    make_finding,
    measure,
    peel_layer,
    segment,
    uncertain_reason,
    unseen_reason,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.mirror import (
    NOT_COMPARABLE,
    MirrorReference,
    MirrorSupport,
    centreline_constrained,
    context_filter,
    mirror_coverage,
    sideways_balance,
)
from hullscan.compare.prior import PriorSigma
from hullscan.compare.reference import Reference, cloud_normals, mesh_reference, scan_reference
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import Finding, HullCloud, Transform

log = logging.getLogger("hullscan.compare")
F64 = NDArray[np.float64]
MIN_CLOUD_POINTS = 200


@dataclass(eq=False)
class Inspection:
    """Everything one comparison produced (or, with ``status='partial'``, got as far as)."""

    config: CompareConfig
    reference_kind: str
    reference_name: str
    findings: tuple[Finding, ...] = ()
    alignment: Alignment | None = None
    coverage: Coverage | None = None
    reference: Reference | None = None
    cloud_to_ref: Transform | None = None  # reference <- cloud frame
    local_correction: LocalCorrection | None = None  # piecewise drift correction after cloud_to_ref
    local_corrections: list[LocalCorrection] = field(default_factory=list)  # all passes, applied in order
    points: F64 | None = None  # cloud points in the reference frame
    deviation: F64 | None = None  # per point, m, NaN where not judged
    cells: Cells | None = None
    local_maps: dict[str, tuple[F64, tuple[float, float, float, float]]] = field(default_factory=dict)
    crops: dict[str, list[NDArray[np.uint8]]] = field(default_factory=dict)
    # Whole camera frames with the finding's pixel box, for the report (issue 16).
    frames: dict[str, list[tuple[NDArray[np.uint8], tuple[int, int, int, int]]]] = field(default_factory=dict)
    status: str = "complete"
    error: str | None = None
    error_type: str | None = None
    notes: list[str] = field(default_factory=list)
    drops: DropLog = field(default_factory=DropLog)
    timings_s: dict[str, float] = field(default_factory=dict)
    n_cloud_points: int = 0
    # The reference file's own frame (what users see) from the internal hull frame; None: the same.
    ref_from_hull: Transform | None = None
    waterline: str = ""
    waterline_guessed: bool = False
    prior: dict[str, Any] | None = None  # the navigation prior as given (NavPrior.as_dict)
    registration: dict[str, Any] | None = None  # the drift stage's registration from the prior
    # The vehicle's (stamps, positions, orientations) in the cloud's frame, for evaluation.
    track: tuple[NDArray[np.int64], F64, F64] | None = None

    def to_user(self, points: ArrayLike) -> F64:
        """Internal hull-frame points (N, 3) or (3,) in the reference file's own coordinates (m)."""
        p = np.asarray(points, dtype=np.float64)
        return p.copy() if self.ref_from_hull is None else self.ref_from_hull.apply(p)

    def to_internal(self, points: ArrayLike) -> F64:
        """The reference file's coordinates back in the internal hull frame (inverse of :meth:`to_user`)."""
        p = np.asarray(points, dtype=np.float64)
        return p.copy() if self.ref_from_hull is None else self.ref_from_hull.inverse().apply(p)

    def box_to_user(self, lo: ArrayLike, hi: ArrayLike) -> tuple[F64, F64]:
        """An axis-aligned box of the hull frame as the axis-aligned box around it in the file's frame."""
        lo_a, hi_a = np.asarray(lo, float), np.asarray(hi, float)
        corners = np.array([[(lo_a, hi_a)[i][0], (lo_a, hi_a)[j][1], (lo_a, hi_a)[k][2]]
                            for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        c = self.to_user(corners)
        return c.min(axis=0), c.max(axis=0)

    @property
    def alignment_residual_m(self) -> float | None:
        return None if self.alignment is None else self.alignment.residual_m

    def status_at(self, point: F64, margin: float = 0.3, height: float | None = None) -> str:
        """'finding', 'not_inspected' or 'clear' at a point of the reference frame.

        ``height``: for a compartment of this height (m), the surface around must be cleared for
        it (see Coverage) rather than for ``clear_height_m``. Mirror mode keeps its own coverage.
        """
        p = np.asarray(point, dtype=float)
        for f in self.findings:
            if np.all(p >= np.array(f.bbox_min) - margin) and np.all(p <= np.array(f.bbox_max) + margin):
                return "finding"
        cov = self.coverage
        if cov is None or not len(cov.samples):
            return "not_inspected"
        d = np.linalg.norm(cov.samples - p, axis=1)
        near = d < max(margin, 2 * np.sqrt(cov.sample_area))
        if not near.any():
            return "not_inspected"
        seen = cov.seen[near]
        if (height is not None and height > 0 and self.cells is not None and cov.under is not None
                and self.reference_kind != "mirror"):
            idx = np.flatnonzero(near)
            seen = clearance(self.cells, self.config, cov.samples[idx], local=True)[1](height) | cov.under[idx]
        return "clear" if seen.mean() >= 0.5 else "not_inspected"


    def reason_not_inspected(self, point: F64, height: float | None = None, margin: float = 0.3) -> str:
        """Why ``point`` is not inspected: "not seen", or seen but too uncertain to clear a compartment
        of ``height`` (default clear_height_m); in mirror mode the reason of the patch around it."""
        cov = self.coverage
        if cov is None or not len(cov.samples):
            return "not seen"
        if self.reference_kind == "mirror" or cov.seen_any is None:
            return unseen_reason(cov.patches, point, margin)
        near = np.linalg.norm(cov.samples - np.asarray(point, float), axis=1) < max(margin, 2 * np.sqrt(cov.sample_area))
        if near.any() and cov.seen_any[near].mean() >= 0.5:
            return uncertain_reason(cov.clear_height if height is None else height)
        return "not seen"


@contextmanager
def _stage(timings: dict[str, float], name: str, progress: Callable[[str], None] | None) -> Iterator[None]:
    if progress:
        progress(name)
    t = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - t, 3)


def build_reference(reference: Any, config: CompareConfig) -> Reference:
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, HullCloud):
        return scan_reference(reference, name=f"scan ({reference.frame_id})", coverage_cell=config.coverage_cell_m)
    if hasattr(reference, "vertices") and hasattr(reference, "faces"):
        return mesh_reference(reference, coverage_cell=config.coverage_cell_m, icp_spacing=config.voxel_m,
                              coverage_max_z=config.coverage_max_z_m, seed=config.seed)
    raise HullscanError(f"reference: expected a HullMesh, a HullCloud or 'mirror', got {type(reference).__name__}")


_M = np.diag([1.0, -1.0, 1.0])


def mirror_frame(points: F64, normals: F64, config: CompareConfig, prior: Transform | None
                 ) -> tuple[Transform, Reference, Alignment]:
    """Estimate the centreline plane and return (frame <- cloud, mirrored reference, fit).

    The frame has the plane as y = 0; with a navigation prior it is the hull frame, otherwise
    x runs along the hull's long axis from its aft-most seen point and z = 0 is the top of the scan.
    """
    if prior is not None:
        f0 = prior.inverse()
    else:
        xy = points[:, :2] - points[:, :2].mean(axis=0)
        w, v = np.linalg.eigh(xy.T @ xy)
        a = v[:, np.argmax(w)]
        rot = Transform(Rotation.from_euler("z", -np.arctan2(a[1], a[0])).as_quat())
        p = rot.apply(points)
        off = -np.array([p[:, 0].min(), np.median(p[:, 1]), p[:, 2].max()])
        f0 = Transform(translation=off) @ rot
    p = f0.apply(points)
    n = normals @ f0.rot.as_matrix().T
    band = config.mirror_centre_band_m
    port, stbd = float(np.mean(p[:, 1] > band)), float(np.mean(p[:, 1] < -band))
    if min(port, stbd) < 0.1:
        raise HullscanError(
            f"mirror mode needs both sides of the hull: {port:.0%} of the cloud is to port and {stbd:.0%} "
            "to starboard of the estimated centreline; give a reference mesh or scan instead")
    ref0 = scan_reference(HullCloud(p @ _M, (n @ _M).astype(np.float32), np.ones(len(p), np.float32),
                                    np.ones(len(p), np.int32), np.zeros(len(p), np.float32), "mirror"),
                          name="mirror", kind="mirror", hull_frame=prior is not None)
    src = voxel_down(p, config.voxel_m)
    # The plane has three degrees of freedom: a few thousand well-spread points fix it. The fit
    # slides slowly along the barely constrained long axis (harmless for the plane), so each stage
    # is capped rather than run to the full convergence tolerance (that took minutes).
    if len(src) > config.mirror_icp_points:
        src = src[np.random.default_rng(config.seed).choice(len(src), config.mirror_icp_points, replace=False)]
    t, iters, _ = robust_icp(src, ref0, np.eye(4), (1.0, *config.icp_schedule_m), config.tukey_k_m,
                             min(config.icp_max_iter, config.mirror_icp_max_iter))
    sideways = centreline_constrained(src, ref0, t, config.icp_schedule_m[-1], config.tukey_k_m,
                                      sideways_balance(p, n, config.voxel_m, band))
    # S = M T is the reflection that maps the hull onto itself; its -1 eigenvector is the plane normal.
    lin = _M @ t[:3, :3]
    s_t = _M @ t[:3, 3]
    ev, evec = np.linalg.eig(lin)
    nrm = np.real(evec[:, np.argmin(np.real(ev))])
    nrm = nrm if nrm[1] >= 0 else -nrm
    c = p.mean(axis=0)
    q = 0.5 * (c + lin @ c + s_t)
    degenerate: tuple[str, ...] = ()
    if not sideways and prior is not None:
        # Offset and heading not constrained by the cloud: the navigation prior's (roll fitted).
        nrm = np.array([0.0, nrm[1], nrm[2]]) / np.hypot(nrm[1], nrm[2])
        q[1] = 0.0
        degenerate = ("y", "yaw")
    rf = Rotation.align_vectors([[0.0, 1.0, 0.0]], [nrm])[0]
    fix = Transform(translation=np.array([q[0], 0.0, q[2]])) @ Transform(rf.as_quat()) @ Transform(translation=-q)
    frame = fix @ f0
    p2 = fix.apply(p)
    n2 = n @ fix.rot.as_matrix().T
    ref = MirrorReference.of(scan_reference(
        HullCloud(p2 @ _M, (n2 @ _M).astype(np.float32), np.ones(len(p2), np.float32),
                  np.ones(len(p2), np.int32), np.zeros(len(p2), np.float32), "mirror"),
        name="mirror (own reflection)", kind="mirror", coverage_cell=config.coverage_cell_m,
        hull_frame=prior is not None))
    rms, med, inl = score(fix.apply(src), ref, np.eye(4), config.tukey_k_m)
    fit = Alignment(frame, "mirror symmetry (centreline plane)", rms, med, inl, iters, degenerate)
    return frame, ref, fit


def is_growth_layer(m: dict[str, Any], config: CompareConfig) -> bool:
    """A broad, thin, flat protrusion: marine growth thicker than the baseline clip.

    A compartment is compact (its height is a fair share of its width); a growth layer covers
    square metres at a few cm mean height with isolated lumps.
    """
    # A layer's thickness is measured over the surface it covers (nearest-point heights).
    fp = float(m.get("layer_footprint", m["footprint"]))
    if fp < config.growth_min_footprint_m2:
        return False
    return (float(m.get("layer_volume", m["volume"])) / fp < config.growth_max_mean_height_m
            and float(m.get("layer_max_height", m["max_height"])) / np.sqrt(fp) < config.growth_max_slenderness)


def carries_layer(m: dict[str, Any], config: CompareConfig) -> bool:
    """A broad protrusion that is mostly a thin layer with something standing on it.

    Half its cells or more are under the growth layer's mean height (nearest-point heights): a
    growth layer, or a thin appendage (skeg, rudder) that grazing sonar returns thicken by a few
    cm all over, with a compact object on it. A compartment, however large, is mostly object
    (median cell height tens of cm). Reported as a whole, the layer would swallow the object
    (its centroid metres off, its volume several times too large).
    """
    fp = float(m.get("layer_footprint", m["footprint"]))
    return (fp >= config.growth_min_footprint_m2
            and float(m.get("layer_median_height", np.inf)) < config.growth_max_mean_height_m)


def _merges_into(seg: tuple[str, Any, dict[str, Any]], big: tuple[str, Any, dict[str, Any]],
                 config: CompareConfig, cells: Cells | None = None) -> bool:
    m, b = seg[2], big[2]
    if not (seg[0] == big[0] or big[0] == "protrusion"):
        return False
    g = config.merge_gap_m
    if not (np.all(m["bbox_min"] < b["bbox_max"] + g) and np.all(m["bbox_max"] > b["bbox_min"] - g)):
        return False
    small = m["volume"] < 0.1 * b["volume"] or (m["volume"] <= config.merge_max_volume_m3
                                                 and m["volume"] < b["volume"])
    if small:
        return True
    # A smaller protrusion the cloud joins to this one across the reference's edge (a corner of
    # a design mesh, where the cells have no surface under them) is the same object.
    return bool(cells is not None and seg[0] == big[0] == "protrusion" and m["volume"] < b["volume"]
                and joined_off_reference(cells, seg[1], big[1]))


Seg = tuple[str, Any, dict[str, Any]]


def resolve_segments(segs: list[Seg], cells: Cells, config: CompareConfig, drops: DropLog,
                     edge_joins: bool = False, seed_support: bool = True, min_seed_points: int | None = None
                     ) -> list[Seg]:
    """Segments -> findings: growth layers peeled, fragments merged, weakly seeded blobs dropped.

    Largest first. ``edge_joins``: cells off the reference join a fragment to its neighbour
    (design meshes only: there they mean beyond the reference's edge). ``seed_support``: drop
    what ``min_seed_points`` (default ``config.min_seed_points``) calls weakly seeded. Mirror
    mode asks less (the plane fit's residual and the worse side's noise cap the z-score: a real
    11 cm limpet there keeps one seed cell of 6 returns) but still some: a seed of one or two
    far-range returns is no more an object than so few returns make a surface seen
    (``coverage_min_points``).
    """
    need = config.min_seed_points if min_seed_points is None else min_seed_points
    order: list[Seg] = []
    pending = sorted(segs, key=lambda s: -s[2]["volume"])
    edge_cells = cells if edge_joins else None
    while pending:
        seg = pending.pop(0)
        m = seg[2]
        growth = seg[0] == "protrusion" and is_growth_layer(m, config)
        if growth or (seg[0] == "protrusion" and not m.get("peeled") and carries_layer(m, config)):
            # Broad, thin and flat: a marine-growth layer thicker than the baseline clip (or a
            # thin appendage thickened by grazing sonar returns), not a box. What stands clearly
            # proud of the layer itself is still a finding. The same for a broad layer that is
            # mostly thin with an object on it: the layer goes, the object is segmented anew.
            lfp = float(m["layer_footprint"] if "layer_footprint" in m else m["footprint"])
            lvol = float(m["layer_volume"] if "layer_volume" in m else m["volume"])
            drops.add("findings", "growth_layer" if growth else "layer_under_object", 1,
                      f"{lfp:.2f} m2, mean height {lvol / lfp:.3f} m, "
                      f"median {m.get('layer_median_height', float('nan')):.3f} m")
            for sub in segment(peel_layer(cells, seg[1], config), config, ("protrusion",)):
                if is_growth_layer(sub[2], config):
                    continue
                sub[2]["peeled"] = True  # peeled once: its own layer is gone
                pending.append(sub)
            pending.sort(key=lambda s: -s[2]["volume"])
            continue
        # Edge and shadow artefacts (small recesses at the rim of a protrusion included) and
        # fragments cut off by grating bars or shadows belong to the larger finding beside them.
        big = next((k for k in range(len(order)) if _merges_into(seg, order[k], config, edge_cells)), None)
        if big is not None:
            drops.add("findings", "merged_into_neighbour", 1, f"{m['volume']:.4f} m3 beside a larger one")
            kind, idx, _ = order[big]
            if seg[0] == kind:  # same sign: the fragment is part of it (volume, footprint)
                idx = np.union1d(idx, seg[1])
                merged = measure(cells, idx, 1.0 if kind == "protrusion" else -1.0)
                merged["seed_points"] = order[big][2].get("seed_points", 0) + m.get("seed_points", 0)
                order[big] = (kind, idx, merged)
            continue
        if seed_support and m.get("seed_points", need) < need:
            # Seeds holding only a few returns (single far-range returns at a swath edge or a
            # sea-chest wall) and no finding beside it to belong to: not evidence of an object.
            drops.add("findings", "weak_seed_support", 1,
                      f"{m['volume']:.4f} m3, seeds hold {m.get('seed_points', 0)} returns (need {need})")
            continue
        order.append(seg)
    return order


def inspect(cloud: HullCloud, reference: Any, config: CompareConfig | None = None, *,
            hull_to_nav: Transform | None = None, cameras: Any = None,
            progress: Callable[[str], None] | None = None, sigma: PriorSigma | None = None,
            prior: dict[str, Any] | None = None, registration: dict[str, Any] | None = None) -> Inspection:
    """Compare ``cloud`` with ``reference`` (HullMesh, HullCloud or ``"mirror"``).

    ``hull_to_nav`` is the navigation prior (nav <- hull, the internal hull frame) and ``sigma``
    its uncertainty (searched by the registration; None: the prior is only refined). ``cameras`` is a
    :class:`hullscan.compare.camera.CameraSet` for camera evidence. Raises HullscanError
    subclasses; the partial result is attached to the error as ``partial``.
    """
    config = config or CompareConfig()
    is_mirror = isinstance(reference, str)
    if is_mirror and reference != "mirror":
        raise HullscanError(f"reference: expected a mesh, a scan or 'mirror', got {reference!r}")
    ins = Inspection(config, "mirror" if is_mirror else ("scan" if isinstance(reference, HullCloud) else "mesh"),
                     "mirror" if is_mirror else str(getattr(reference, "name", "") or type(reference).__name__))
    ins.n_cloud_points = len(cloud)
    ins.prior, ins.registration = prior, registration
    ins.ref_from_hull = getattr(reference, "ref_from_hull", None)
    ins.waterline = str(getattr(reference, "waterline", "") or "")
    ins.waterline_guessed = bool(getattr(reference, "waterline_guessed", False))
    if ins.waterline_guessed:
        ins.notes.append(f"{ins.waterline}: depths below the waterline and the wetted surface are a guess; "
                         "give --draft from the draft marks")
    try:
        _inspect(ins, cloud, reference, config, hull_to_nav, cameras, progress, sigma)
    except HullscanError as err:
        ins.status = "partial"
        ins.error = str(err)
        ins.error_type = type(err).__name__
        if isinstance(err, AlignmentFailed):
            ins.alignment = err.attempt
        err.partial = ins  # type: ignore[attr-defined]
        raise
    return ins


def _inspect(ins: Inspection, cloud: HullCloud, reference: Any, config: CompareConfig,
             prior: Transform | None, cameras: Any, progress: Callable[[str], None] | None,
             sigma: PriorSigma | None = None) -> None:
    tm = ins.timings_s
    pts = np.asarray(cloud.points, dtype=np.float64)
    finite = np.all(np.isfinite(pts), axis=1)
    ins.drops.add("cloud", "non_finite_point", int((~finite).sum()))
    if len(pts) and not finite.all():
        cloud = cloud.subset(finite)
        pts = pts[finite]
    if len(pts) < MIN_CLOUD_POINTS:
        raise HullscanError(f"cloud has {len(pts)} usable points; need at least {MIN_CLOUD_POINTS} to inspect "
                            "a hull (empty survey, or the wrong topic/frame?)")
    is_mirror = isinstance(reference, str)
    with _stage(tm, "reference", progress):
        if is_mirror:
            normals = cloud_normals(cloud)
            frame, ref, fit = mirror_frame(pts, normals, config, prior)
            ins.notes.append("mirror mode: a deviation on one side shows as a protrusion there; recesses "
                             "are not reported (each protrusion mirrors to a recess on the other side); "
                             f"|y| < {config.mirror_centre_band_m} m cannot be judged")
            if prior is None:
                ins.notes.append("mirror mode without a navigation prior: x runs from the aft-most seen end "
                                 "(bow/stern not known), z = 0 is the top of the scan")
        else:
            ref = build_reference(reference, config)
            ins.notes.extend(ref.notes)
        ins.reference = ref
        ins.reference_name = ref.name
    with _stage(tm, "alignment", progress):
        if is_mirror:
            ins.alignment = fit
            cloud_to_ref = frame
            support = MirrorSupport.build(frame.apply(pts), normals @ frame.rot.as_matrix().T,
                                          np.asarray(cloud.sigma, float), np.asarray(cloud.confidence, float), config)
            if isinstance(ref, MirrorReference):
                ref.support = support
        else:
            prior_ref = prior.inverse() if prior is not None else None
            ins.alignment = align(pts, ref, config, prior=prior_ref, sigma=sigma if prior is not None else None)
            cloud_to_ref = ins.alignment.transform
            amb = ins.alignment.ambiguity_note
            if amb:
                ins.notes.append(amb)
        ins.cloud_to_ref = cloud_to_ref
        p_ref = cloud_to_ref.apply(pts)
        if not is_mirror and config.local_block_m > 0:
            # Two passes, the second on a half-offset grid: what a block straddling a lane's
            # start or two lanes left behind is a ramp the shifted blocks fit.
            for off in (0.0, 0.5 * config.local_block_m):
                corr = local_refine(p_ref, ref, config, offset=off)
                p_ref = corr.apply(p_ref, config.local_block_m)
                ins.local_corrections.append(corr)
                ins.notes.append(f"drift correction: {len(corr.shifts)} blocks of {config.local_block_m} m "
                                 f"(grid offset {off:g} m) shifted by up to {corr.max_shift_m:.3f} m")
            ins.local_correction = ins.local_corrections[0]
        ins.points = p_ref
    mirror = ref.kind == "mirror"
    band = config.mirror_centre_band_m
    with _stage(tm, "signed_distance", progress):
        d, _, _, _, over = ref.signed_distance(p_ref)
        judged = over & (np.abs(d) <= config.max_deviation_m)
        if mirror:
            judged &= np.abs(p_ref[:, 1]) >= band
            counterpart, _ = support.comparable(p_ref, np.where(judged, d, np.nan),
                                                normals @ cloud_to_ref.rot.as_matrix().T)
            ins.drops.add("cloud", "no_mirrored_counterpart", int((judged & ~counterpart).sum()),
                          "mirror mode: the other side was not seen (or far less well) where this point's "
                          "reflection falls; not judged")
            judged &= counterpart
        ins.drops.add("cloud", "off_reference", int((~over).sum()),
                      "points not over the reference surface (beyond its edge or where it was not seen)")
        ins.drops.add("cloud", "too_far_from_reference", int((over & (np.abs(d) > config.max_deviation_m)).sum()),
                      f"more than {config.max_deviation_m} m from the reference (not hull)")
        ins.deviation = np.where(judged, d, np.nan)
        off_share = float(np.mean(~over))
        if ref.kind == "mesh" and not ref.watertight and off_share > 0.02:
            # Holes in the design mesh under the survey: those areas cannot be judged.
            ins.status = "partial"
            ins.error_type = "MeshError"
            ins.error = (f"reference mesh {ref.name!r} has holes or missing parts under the survey: "
                         f"{off_share:.0%} of the cloud lies over no reference surface and was not judged; "
                         "repair the mesh or use an earlier scan / --mirror")
    with _stage(tm, "cells", progress):
        def exclude(cp: F64) -> NDArray[np.bool_]:
            return np.abs(cp[:, 1]) < band

        mirror_sigma: list[F64] = []

        def exclude_mirror(cp: F64) -> NDArray[np.bool_]:
            # The centre band, and cells whose mirrored counterpart was not seen about as well.
            dm, _, nm, _, _ = ref.signed_distance(cp)
            ok, sig = support.comparable(cp, np.where(np.abs(dm) <= config.max_deviation_m, dm, np.nan), nm)
            mirror_sigma.append(sig)
            return exclude(cp) | ~ok

        ins.cells = make_cells(p_ref, np.asarray(cloud.sigma, float), np.asarray(cloud.confidence, float), ref,
                               config, ins.alignment.residual_m, exclude_mirror if mirror else None)
        if mirror and mirror_sigma:
            # Both sides are measurements: where the counterpart is a distinctly poorer one (longer
            # range, grazing incidence), the comparison is as uncertain as that side.
            c = ins.cells
            other = np.nan_to_num(mirror_sigma[-1], nan=0.0)
            sig = np.where(other > 1.5 * c.sigma, other, c.sigma)
            unc = np.sqrt(np.maximum(sig, 0.01) ** 2 + ins.alignment.residual_m ** 2)
            with np.errstate(invalid="ignore"):
                ins.cells = replace(c, zscore=c.residual / unc, uncertainty=unc)
    with _stage(tm, "segmentation", progress):
        kinds = ("protrusion",) if mirror else ("protrusion", "recess")
        segs = segment(ins.cells, config, kinds)
        findings = []
        # Off-reference cells mean "beyond the edge" only for a design mesh (in a scan: not seen;
        # in mirror mode: not comparable), so only there do they join two protrusions.
        order = resolve_segments(segs, ins.cells, config, ins.drops, edge_joins=ref.kind == "mesh",
                                 min_seed_points=config.coverage_min_points if mirror else None)
        mirror_rejected: list[Any] = []
        if mirror and order:
            # On structures that do not agree with their reflection even around the deviation
            # (a propeller, a one-sided opening): not comparable, so not inspected - never clean.
            kept, dropped = context_filter(ins.cells.points, ins.cells.residual, ins.cells.judged,
                                           [o[1] for o in order], config)
            for i, share, agree in dropped:
                m = order[i][2]
                mirror_rejected.append(order[i][1])
                mc = np.asarray(m["centroid"], float)
                ins.drops.add("findings", "mirror_not_comparable", 1,
                              f"{m['volume']:.4f} m3 at ({mc[0]:.2f}, {mc[1]:.2f}, {mc[2]:.2f}) m: surroundings "
                              f"{share:.0%} comparable, {agree:.0%} of those agree with their reflection")
                ins.notes.append(f"mirror mode: not comparable (surroundings not mirror-symmetric), not inspected: "
                                 f"around ({mc[0]:.1f}, {mc[1]:.1f}, {mc[2]:.1f}) m")
            order = [order[i] for i in kept]
        for i, (kind, idx, m) in enumerate(order):
            f = make_finding(f"F{i + 1:03d}", kind, idx, m, ins.cells, ref, config)
            findings.append(f)
            ins.local_maps[f.id] = (m["raster"], m["extent"])
        findings.sort(key=lambda f: -f.risk)
        ins.findings = tuple(findings)
    with _stage(tm, "coverage", progress):
        if mirror:
            ins.coverage = mirror_coverage(ins.cells, ref, config, order, mirror_rejected)
            nc = [p for p in ins.coverage.patches if p.get("reason") == NOT_COMPARABLE]
            if nc:
                ins.notes.append(f"mirror mode: {sum(p['area_m2'] for p in nc):.1f} m2 in {len(nc)} patches seen on "
                                 "one side only or far better than on the other (no mirrored counterpart): "
                                 "not comparable, reported as not inspected (coverage patches with this reason)")
        else:
            # Only what is reported counts as seen through: a growth layer or a fragment dropped
            # above is not a finding, and what could hide under it was not inspected.
            ins.coverage = coverage(ins.cells, ref, config, [o[1] for o in order], mirror=mirror)
    if cameras is not None and ins.findings:
        from hullscan.compare.camera import camera_evidence, context_frames

        with _stage(tm, "camera_evidence", progress):
            ev, crops = camera_evidence(ins, cameras, config)
            ins.findings = tuple(replace(f, camera=ev.get(f.id, ())) for f in ins.findings)
            ins.crops = crops
            ins.frames = context_frames(ev, cameras)
    log.info("%d findings, coverage %.0f%%, alignment residual %.3f m", len(ins.findings),
             100 * ins.coverage.fraction, ins.alignment.residual_m)
