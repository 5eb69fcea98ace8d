"""The kinds of reference a hull cloud is compared with, behind one interface.

A design mesh, an earlier clean scan and the hull's own mirror image each answer the same
questions at each stage of the comparison (:func:`hullscan.compare.inspect.inspect`): the reference
surface and its frame, the cloud placed on it, which points it can judge, the analysis cells, the
candidate findings and what was covered. What a kind does differently stays inside its class, so
the comparison itself never asks which kind it has. The user's choice (a loaded mesh or scan, or
``"mirror"``) becomes one of these objects once, in :func:`reference_source`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.compare.align import (
    Alignment,
    LayerTrade,
    LocalCorrection,
    align,
    apply_corrections,
    fine_refiner,
    layer_trade,
    local_refine,
    robust_icp,
    score,
    surface_spread,
    voxel_down,
)
from hullscan.compare.analysis import Cells, Coverage, coverage, make_cells, segment
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
from hullscan.compare.reference import (
    HullMeshLike,
    Reference,
    cloud_normals,
    mesh_reference,
    scan_reference,
)
from hullscan.compare.segments import Seg, resolve_segments
from hullscan.core.grid import group_keys, voxel_keys
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import HullCloud, Transform

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class ReferenceDescription:
    """What the outputs say about the reference before it is built (and if building it fails)."""

    kind: str  # "mesh", "scan" or "mirror"
    name: str
    # The reference file's own frame (what users see) from the internal hull frame; None: the same.
    ref_from_hull: Transform | None = None
    waterline: str = ""
    waterline_guessed: bool = False
    scale_guess: str = ""  # a model-scale file read at an assumed length (HullMesh.scale_guess)


@dataclass(frozen=True, eq=False)
class Framing:
    """The reference surface in the frame the comparison is made in.

    ``fit`` and ``normals`` are set by a kind that finds the frame from the cloud itself (the
    mirror: the centreline plane fit, and the cloud's normals in that frame)."""

    reference: Reference
    notes: tuple[str, ...] = ()
    fit: Alignment | None = None
    normals: F64 | None = None
    # The mirror's drift corrections between passes, after ``fit`` (the surface is made from them),
    # and the cloud placed by both (made once: the support needs it, and the alignment is it).
    corrections: tuple[LocalCorrection, ...] = ()
    placed: F64 | None = None


@dataclass(frozen=True, eq=False)
class Placement:
    """The cloud placed on the reference: the rigid fit, then the piecewise drift corrections."""

    alignment: Alignment
    points: F64  # cloud points in the reference frame, corrections applied
    corrections: tuple[LocalCorrection, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Judgement:
    """Which points the reference can judge; ``problem``: why a share of the survey could not be."""

    judged: Mask
    problem: str | None = None


@dataclass(frozen=True, eq=False)
class Candidates:
    """Segments that become findings (largest first) and those found not comparable."""

    kept: tuple[Seg, ...]
    rejected: tuple[I64, ...] = ()
    notes: tuple[str, ...] = ()


@runtime_checkable
class ReferenceSource(Protocol):
    """One kind of reference, stage by stage (see the module docstring)."""

    def describe(self) -> ReferenceDescription:
        """Kind, name and frame of the reference, known before anything is built."""
        ...

    def frame(self, cloud: HullCloud, points: F64, config: CompareConfig, prior: Transform | None) -> Framing:
        """The reference surface and the frame the comparison is made in (``points``: the cloud's, finite)."""
        ...

    def align(self, points: F64, framing: Framing, config: CompareConfig, prior: Transform | None,
              sigma: PriorSigma | None) -> Placement:
        """The cloud placed on the reference; ``prior`` is nav <- hull, searched over ``sigma``."""
        ...

    def judge(self, points: F64, distance: F64, over: Mask, framing: Framing, config: CompareConfig,
              drops: DropLog) -> Judgement:
        """Which placed points the reference can judge, given their signed distance to it."""
        ...

    def cells(self, placement: Placement, cloud: HullCloud, framing: Framing, config: CompareConfig) -> Cells:
        """The placed points averaged into analysis cells with their deviation and its uncertainty."""
        ...

    def candidates(self, cells: Cells, framing: Framing, config: CompareConfig, drops: DropLog) -> Candidates:
        """Deviating cells segmented and resolved into the segments reported as findings."""
        ...

    def coverage(self, cells: Cells, framing: Framing, candidates: Candidates, config: CompareConfig
                 ) -> tuple[Coverage, tuple[str, ...]]:
        """What the survey cleared, and notes on what it could not."""
        ...


def _geometry(cloud: HullCloud) -> tuple[F64, F64] | None:
    """Each point's incidence (deg) and range (m), where the reconstruction kept them."""
    if cloud.incidence_deg is None or cloud.range_m is None or len(cloud.incidence_deg) != len(cloud):
        return None
    return np.asarray(cloud.incidence_deg, float), np.asarray(cloud.range_m, float)


def within_reach(distance: F64, over: Mask, config: CompareConfig) -> Mask:
    """Points over the reference surface and close enough to it to be hull."""
    return over & (np.abs(distance) <= config.detection.max_deviation_m)


# --------------------------------------------------------------------------- surfaces


def rough_surface_note(texture_m: float, layer: LayerTrade) -> str:
    """What a rough (fouled) hull leaves unknown: the fit lays the surface the sonar saw on the
    reference's steel, and where the survey sees the hull from few directions (a side and the
    bottom) a layer of growth over the steel fits as well as a shift of the survey out of it, up,
    across and, along a taper, along the ship (:func:`hullscan.compare.align.layer_trade`; the
    scenario library's heavy growth, about 9 cm as the sonar sees it, placed 10 cm high and 3.5 cm
    across, docs/evaluation.md)."""
    return (f"the hull's surface is rough (relief {texture_m * 100:.1f} cm at the scale of barnacles after the fit: "
            "growth?): the fit lays the surface the sonar saw on the reference, and this survey cannot measure a layer "
            "of growth over the steel: " + layer.note())


def rough_surface(points: F64, placed: F64, fit: Alignment, reference: Reference, config: CompareConfig) -> Alignment:
    """``fit`` with the surface's texture measured on the cloud as placed and drift-corrected
    (``placed``, N x 3; lanes placed apart would read as texture before the correction), and on a
    rough hull (texture at or above ``compare.alignment.rough_surface_m``) its relief and the
    growth layer's trade (:func:`hullscan.compare.align.layer_trade`, on ``points`` as the fit saw them)."""
    # Percentiles and the trade's fit: a sample does (drawn with replacement: drawing 200 k of 5 M
    # without it permutes all 5 M; a point twice changes neither).
    pick = (np.arange(len(placed)) if len(placed) <= 200_000
            else np.unique(np.random.default_rng(config.seed).integers(0, len(placed), 200_000)))
    texture, relief = surface_spread(placed[pick], reference, np.eye(4), config)
    if texture is None or relief is None or texture < config.alignment.rough_surface_m:
        return replace(fit, surface_texture_m=texture)
    # The trade is fitted on the sample as the fine fit sees a cloud (voxel-thinned, at most 60 k
    # points), not on all 5 M points again.
    layer = layer_trade(fine_refiner(points[pick], reference, config), fit.transform.as_matrix(), relief)
    return replace(fit, surface_texture_m=texture, surface_relief_m=relief, layer=layer)


class _SurfaceSource(ABC):
    """A reference surface given beforehand (design mesh or earlier scan): the cloud is registered
    to it, then corrected piecewise for navigation drift; protrusions and recesses are judged."""

    # Off-reference cells mean "beyond the edge" only for a design mesh (in a scan: not seen), so
    # only there do they join two protrusions.
    edge_joins: ClassVar[bool] = False

    @abstractmethod
    def surface(self, config: CompareConfig) -> Reference:
        """The reference surface, in the hull frame (mesh) or the scan's own frame."""

    def frame(self, cloud: HullCloud, points: F64, config: CompareConfig, prior: Transform | None) -> Framing:
        # Given beforehand: the surface does not depend on the cloud.
        ref = self.surface(config)
        return Framing(ref, tuple(ref.notes))

    def align(self, points: F64, framing: Framing, config: CompareConfig, prior: Transform | None,
              sigma: PriorSigma | None) -> Placement:
        prior_ref = prior.inverse() if prior is not None else None
        # The cloud grouped into the fit's voxels once: the fit, the coarse search and the drift
        # correction's blocks use the voxels, and every point is moved by its voxel's correction.
        first, of_voxel, _ = group_keys(voxel_keys(points, config.alignment.voxel_m), sort=False)
        voxels = points[first]
        fit = align(points, framing.reference, config, prior=prior_ref, sigma=sigma if prior is not None else None,
                    voxels=voxels)
        notes = [fit.ambiguity_note] if fit.ambiguity_note else []
        if fit.surface_offset_m is not None:
            notes.append(f"the surveyed surface stands {abs(fit.surface_offset_m) * 1000:.0f} mm "
                         f"{'proud of' if fit.surface_offset_m >= 0 else 'inside'} the reference overall (paint and "
                         "growth, the sonar's first arrival): the fit and the drift correction take it out")
        p_ref = fit.transform.apply(points)
        corrections = []
        block = config.alignment.local_block_m
        if block > 0:
            # Two passes, the second on a half-offset grid: what a block straddling a lane's
            # start or two lanes left behind is a ramp the shifted blocks fit. The blocks are
            # fitted on the voxels; each point then moves as its voxel's first point did (within
            # 0.17 m of it: the blend varies over metres, a few millimetres at most).
            start = fit.transform.apply(voxels)
            thin = start
            for off in (0.0, 0.5 * block):
                corr = local_refine(thin, framing.reference, config, offset=off, proud=fit.surface_offset_m or 0.0,
                                    thinned=True)
                thin = corr.apply(thin, block)
                corrections.append(corr)
                notes.append(f"drift correction: {len(corr.shifts)} blocks of {block} m "
                             f"(grid offset {off:g} m) shifted by up to {corr.max_shift_m:.3f} m")
            p_ref += (thin - start)[of_voxel]
        fit = rough_surface(points, p_ref, fit, framing.reference, config)
        if fit.layer is not None and fit.surface_texture_m is not None:
            notes.append(rough_surface_note(fit.surface_texture_m, fit.layer))
            if config.detection.rough_smooth_radius_m > 0:
                r = config.detection.rough_smooth_radius_m
                notes.append(f"on this rough hull the deviation is the median within {r * 100:.0f} cm (not "
                             f"{config.detection.smooth_radius_m * 100:.0f} cm): the barnacles' relief averages out "
                             f"and more of the hull clears; an object under about {4 * r:.1f} m across reads lower "
                             "than it stands")
        return Placement(fit, p_ref, tuple(corrections), tuple(notes))

    def judge(self, points: F64, distance: F64, over: Mask, framing: Framing, config: CompareConfig,
              drops: DropLog) -> Judgement:
        return Judgement(within_reach(distance, over, config))

    def cells(self, placement: Placement, cloud: HullCloud, framing: Framing, config: CompareConfig) -> Cells:
        if placement.alignment.layer is not None and config.detection.rough_smooth_radius_m > 0:
            config = config.model_copy(update={"detection": config.detection.model_copy(
                update={"smooth_radius_m": config.detection.rough_smooth_radius_m})})
        # The corrections after the rigid fit are shifts: the fit's rotation turns the normals.
        return make_cells(placement.points, np.asarray(cloud.sigma, float), np.asarray(cloud.confidence, float),
                          framing.reference, config, placement.alignment.residual_m, geometry=_geometry(cloud),
                          normals=cloud.normals, normals_rotation=placement.alignment.transform.rot.as_matrix())

    def candidates(self, cells: Cells, framing: Framing, config: CompareConfig, drops: DropLog) -> Candidates:
        segs = segment(cells, config, ("protrusion", "recess"))
        return Candidates(tuple(resolve_segments(segs, cells, config, drops, edge_joins=self.edge_joins)))

    def coverage(self, cells: Cells, framing: Framing, candidates: Candidates, config: CompareConfig
                 ) -> tuple[Coverage, tuple[str, ...]]:
        # Only what is reported counts as seen through: a growth layer or a fragment dropped
        # above is not a finding, and what could hide under it was not inspected.
        return coverage(cells, framing.reference, config, [s[1] for s in candidates.kept]), ()


@dataclass(frozen=True, eq=False)
class MeshSource(_SurfaceSource):
    """A design mesh (a HullMesh, or a Reference already built from one)."""

    mesh: HullMeshLike | Reference
    edge_joins: ClassVar[bool] = True

    def describe(self) -> ReferenceDescription:
        m = self.mesh
        return ReferenceDescription("mesh", str(getattr(m, "name", "") or type(m).__name__),
                                    getattr(m, "ref_from_hull", None), str(getattr(m, "waterline", "") or ""),
                                    bool(getattr(m, "waterline_guessed", False)),
                                    str(getattr(m, "scale_guess", "") or ""))

    def surface(self, config: CompareConfig) -> Reference:
        if isinstance(self.mesh, Reference):
            return self.mesh
        return mesh_reference(self.mesh, coverage_cell=config.coverage.coverage_cell_m, icp_spacing=config.alignment.voxel_m,
                              coverage_max_z=config.coverage.coverage_max_z_m, seed=config.seed)

    def judge(self, points: F64, distance: F64, over: Mask, framing: Framing, config: CompareConfig,
              drops: DropLog) -> Judgement:
        ref = framing.reference
        off_share = float(np.mean(~over))
        problem = None
        if not ref.watertight and off_share > 0.02:
            # Holes in the design mesh under the survey: those areas cannot be judged.
            problem = (f"reference mesh {ref.name!r} has holes or missing parts under the survey: "
                       f"{off_share:.0%} of the cloud lies over no reference surface and was not judged; "
                       "repair the mesh or use an earlier scan / --mirror")
        return Judgement(within_reach(distance, over, config), problem)


@dataclass(frozen=True, eq=False)
class ScanSource(_SurfaceSource):
    """An earlier clean scan of the same hull (a HullCloud, or a Reference already built from one)."""

    scan: HullCloud | Reference

    def describe(self) -> ReferenceDescription:
        name = self.scan.name if isinstance(self.scan, Reference) else type(self.scan).__name__
        return ReferenceDescription("scan", name)

    def surface(self, config: CompareConfig) -> Reference:
        s = self.scan
        if isinstance(s, Reference):
            return s
        return scan_reference(s, name=f"scan ({s.frame_id})", coverage_cell=config.coverage.coverage_cell_m)


# --------------------------------------------------------------------------- mirror

_M = np.diag([1.0, -1.0, 1.0])


def mirror_frame(points: F64, normals: F64, config: CompareConfig, prior: Transform | None
                 ) -> tuple[Transform, Reference, Alignment, tuple[LocalCorrection, ...]]:
    """Estimate the centreline plane and return (frame <- cloud, mirrored reference, fit, drift
    corrections between the passes applied after the frame, see :func:`mirror_drift`).

    The frame has the plane as y = 0; with a navigation prior it is the hull frame, otherwise
    x runs along the hull's long axis from its aft-most seen point and z = 0 is the top of the scan.
    """
    f0 = prior.inverse() if prior is not None else _provisional_frame(points)
    p = f0.apply(points)
    n = normals @ f0.rot.as_matrix().T
    band = config.mirror.mirror_centre_band_m
    port, stbd = float(np.mean(p[:, 1] > band)), float(np.mean(p[:, 1] < -band))
    if min(port, stbd) < 0.1:
        raise HullscanError(
            f"mirror mode needs both sides of the hull: {port:.0%} of the cloud is to port and {stbd:.0%} "
            "to starboard of the estimated centreline; give a reference mesh or scan instead")
    ref0 = _reflection(p, n, "mirror", prior is not None)
    src = voxel_down(p, config.alignment.voxel_m)
    # The plane has three degrees of freedom: a few thousand well-spread points fix it. The fit
    # slides slowly along the barely constrained long axis (harmless for the plane), so each stage
    # is capped rather than run to the full convergence tolerance (that took minutes).
    if len(src) > config.mirror.mirror_icp_points:
        src = src[np.random.default_rng(config.seed).choice(len(src), config.mirror.mirror_icp_points, replace=False)]
    t, iters, _ = robust_icp(src, ref0, np.eye(4), (1.0, *config.alignment.icp_schedule_m), config.alignment.tukey_k_m,
                             min(config.alignment.icp_max_iter, config.mirror.mirror_icp_max_iter))
    sideways = centreline_constrained(src, ref0, t, config.alignment.icp_schedule_m[-1], config.alignment.tukey_k_m,
                                      sideways_balance(p, n, config.alignment.voxel_m, band))
    fix, degenerate = _onto_plane(t, p, pinned=not sideways and prior is not None)
    if not sideways:
        degenerate = ("y", "yaw")  # left to the prior when there is one (pinned), else unknown
    p2 = fix.apply(p)
    n2 = n @ fix.rot.as_matrix().T
    p2, corrections = mirror_drift(p2, n2, config, prior is not None)
    ref = MirrorReference.of(_reflection(p2, n2, "mirror (own reflection)", prior is not None,
                                         config.coverage.coverage_cell_m))
    rms, med, inl = score(_placed(src, fix, corrections, config), ref, np.eye(4), config.alignment.tukey_k_m)
    frame = fix @ f0
    fit = Alignment(frame, "mirror symmetry (centreline plane)", rms, med, inl, iters, degenerate)
    return frame, ref, fit, corrections


def mirror_drift(p: F64, n: F64, config: CompareConfig, hull_frame: bool
                 ) -> tuple[F64, tuple[LocalCorrection, ...]]:
    """Drift corrections between passes in mirror mode (``p``, ``n``: the cloud in the mirror frame):
    the corrected points and the corrections.

    Each side's lane drifts its own way, so one side stands off its reflection of the other by the
    two drifts' difference. Each block is fitted to the reflection, as in mesh mode
    (:func:`hullscan.compare.align.local_refine`, compartments have no pull), and moved half way:
    its counterpart on the other side moves the other half, as its own fit asks. Two grids, the
    second half a block off, as in mesh mode; the reflection is made again after the first."""
    block = config.alignment.local_block_m
    if block <= 0:
        return p, ()
    out = []
    for off in (0.0, 0.5 * block):
        corr = local_refine(p, _reflection(p, n, "mirror", hull_frame), config, offset=off)
        half = LocalCorrection(corr.centres, 0.5 * corr.shifts)
        p = half.apply(p, block)
        out.append(half)
    return p, tuple(out)


# How well a prior must know the centreline for mirror mode to take it where the cloud does not fix
# it: a reflection off by 0.1 deg is 2 cm apart 10 m from the pivot, by 5 cm across 10 cm apart, and a
# compartment is judged on centimetres.
MIRROR_PIN_ACROSS_M = 0.05
MIRROR_PIN_HEADING_DEG = 0.1


def refuse_unfixed_centreline(prior: Transform | None, sigma: PriorSigma | None) -> None:
    """Raise unless a prior known to centimetres and a tenth of a degree (an exact one: ``sigma``
    None) can stand in for the centreline the cloud does not fix (``centreline_constrained``)."""
    if prior is not None and (sigma is None or (sigma.across_m <= MIRROR_PIN_ACROSS_M
                                                and sigma.heading_deg <= MIRROR_PIN_HEADING_DEG)):
        return
    known = ("no navigation prior" if prior is None or sigma is None else
             f"the navigation prior is known to +/- {sigma.across_m:g} m across and {sigma.heading_deg:g} deg "
             "of heading")
    raise HullscanError(
        "mirror mode: this survey does not fix the centreline plane (sideways-facing plating seen on one side "
        f"only; the bottom and bilges alone leave its offset and heading free), and {known}; the reflection "
        f"needs it to {MIRROR_PIN_ACROSS_M:g} m and {MIRROR_PIN_HEADING_DEG:g} deg. Survey the other side from a "
        "lane of its own, or give a reference mesh or an earlier scan instead")


def _provisional_frame(points: F64) -> Transform:
    """Without a prior: x along the hull's long axis from its aft-most seen point, y = 0 at the
    median across, z = 0 at the top of the scan."""
    xy = points[:, :2] - points[:, :2].mean(axis=0)
    w, v = np.linalg.eigh(xy.T @ xy)
    a = v[:, np.argmax(w)]
    rot = Transform(Rotation.from_euler("z", -np.arctan2(a[1], a[0])).as_quat())
    p = rot.apply(points)
    off = -np.array([p[:, 0].min(), np.median(p[:, 1]), p[:, 2].max()])
    return Transform(translation=off) @ rot


def _reflection(points: F64, normals: F64, name: str, hull_frame: bool, coverage_cell: float | None = None
                ) -> Reference:
    """The cloud reflected in y = 0, as a scan reference of kind mirror."""
    n = len(points)
    cloud = HullCloud(points @ _M, (normals @ _M).astype(np.float32), np.ones(n, np.float32), np.ones(n, np.int32),
                      np.zeros(n, np.float32), "mirror")
    if coverage_cell is None:
        return scan_reference(cloud, name=name, kind="mirror", hull_frame=hull_frame)
    return scan_reference(cloud, name=name, kind="mirror", coverage_cell=coverage_cell, hull_frame=hull_frame)


def _onto_plane(t: F64, p: F64, pinned: bool) -> tuple[Transform, tuple[str, ...]]:
    """The rigid move that puts the symmetry plane of the fit ``t`` (reflected cloud -> cloud) at
    y = 0, and the directions left to the prior. ``pinned``: offset and heading are not
    constrained by the cloud, so the prior's are kept (roll fitted)."""
    # S = M T is the reflection that maps the hull onto itself; its -1 eigenvector is the plane normal.
    lin = _M @ t[:3, :3]
    s_t = _M @ t[:3, 3]
    ev, evec = np.linalg.eig(lin)
    nrm = np.real(evec[:, np.argmin(np.real(ev))])
    nrm = nrm if nrm[1] >= 0 else -nrm
    c = p.mean(axis=0)
    q = 0.5 * (c + lin @ c + s_t)
    degenerate: tuple[str, ...] = ()
    if pinned:
        nrm = np.array([0.0, nrm[1], nrm[2]]) / np.hypot(nrm[1], nrm[2])
        q[1] = 0.0
        degenerate = ("y", "yaw")
    rf = Rotation.align_vectors([[0.0, 1.0, 0.0]], [nrm])[0]
    fix = Transform(translation=np.array([q[0], 0.0, q[2]])) @ Transform(rf.as_quat()) @ Transform(translation=-q)
    return fix, degenerate


@dataclass(frozen=True)
class MirrorSource:
    """No reference: the hull compared with its own reflection in the centreline plane.

    The frame is found from the cloud (the plane fit is the alignment); only protrusions are
    reported (each mirrors to a recess on the other side), and only where the other side was seen
    about as well."""

    def describe(self) -> ReferenceDescription:
        return ReferenceDescription("mirror", "mirror")

    def frame(self, cloud: HullCloud, points: F64, config: CompareConfig, prior: Transform | None) -> Framing:
        normals = cloud_normals(cloud)
        frame, ref, fit, corrections = mirror_frame(points, normals, config, prior)
        normals_ref = normals @ frame.rot.as_matrix().T
        placed = _placed(points, frame, corrections, config)
        if isinstance(ref, MirrorReference):
            # Tall objects are measured along the shell normal, which needs the cloud in the frame.
            ref.support = MirrorSupport.build(placed, normals_ref, np.asarray(cloud.sigma, float),
                                              np.asarray(cloud.confidence, float), config)
        notes = ["mirror mode: a deviation on one side shows as a protrusion there; recesses are not reported "
                 "(each protrusion mirrors to a recess on the other side); "
                 f"|y| < {config.mirror.mirror_centre_band_m} m cannot be judged"]
        if prior is None:
            notes.append("mirror mode without a navigation prior: x runs from the aft-most seen end "
                         "(bow/stern not known), z = 0 is the top of the scan")
        notes += [f"drift correction between passes (mirror): {len(c.shifts)} blocks of "
                  f"{config.alignment.local_block_m} m shifted by up to {c.max_shift_m:.3f} m" for c in corrections]
        return Framing(ref, tuple(notes), fit, normals_ref, corrections, placed)

    def align(self, points: F64, framing: Framing, config: CompareConfig, prior: Transform | None,
              sigma: PriorSigma | None) -> Placement:
        # The plane fit is the alignment, the corrections between passes were made with it.
        fit = _fit(framing)
        if "yaw" in fit.degenerate:
            refuse_unfixed_centreline(prior, sigma)
        placed = framing.placed if framing.placed is not None else _placed(points, fit.transform, framing.corrections, config)
        return Placement(fit, placed, framing.corrections)

    def judge(self, points: F64, distance: F64, over: Mask, framing: Framing, config: CompareConfig,
              drops: DropLog) -> Judgement:
        judged = within_reach(distance, over, config) & (np.abs(points[:, 1]) >= config.mirror.mirror_centre_band_m)
        counterpart, _ = _support(framing).comparable(points, np.where(judged, distance, np.nan), _normals(framing))
        drops.add("cloud", "no_mirrored_counterpart", int((judged & ~counterpart).sum()),
                  "mirror mode: the other side was not seen (or far less well) where this point's "
                  "reflection falls; not judged")
        return Judgement(judged & counterpart)

    def cells(self, placement: Placement, cloud: HullCloud, framing: Framing, config: CompareConfig) -> Cells:
        ref, support = framing.reference, _support(framing)
        band = config.mirror.mirror_centre_band_m
        other_sigma: list[F64] = []

        def not_comparable(cp: F64) -> Mask:
            # The centre band, and cells whose mirrored counterpart was not seen about as well.
            dm, _, nm, _, _ = ref.signed_distance(cp)
            ok, sig = support.comparable(cp, np.where(np.abs(dm) <= config.detection.max_deviation_m, dm, np.nan), nm)
            other_sigma.append(sig)
            return (np.abs(cp[:, 1]) < band) | ~ok

        residual = placement.alignment.residual_m
        c = make_cells(placement.points, np.asarray(cloud.sigma, float), np.asarray(cloud.confidence, float), ref,
                       config, residual, not_comparable)
        if not other_sigma:
            return c
        # Both sides are measurements: where the counterpart is a distinctly poorer one (longer
        # range, grazing incidence), the comparison is as uncertain as that side.
        other = np.nan_to_num(other_sigma[-1], nan=0.0)
        sig = np.where(other > 1.5 * c.sigma, other, c.sigma)
        unc = np.sqrt(np.maximum(sig, 0.01) ** 2 + residual ** 2)
        # Not self-calibrated: the residuals against the reflection hold two views' errors and the
        # hull's own asymmetry, which no scatter of plating vouches for; judged at its own seed
        # threshold instead (mirror_min_zscore, _judged_as_mirror).
        with np.errstate(invalid="ignore"):
            return replace(c, zscore=c.residual / unc, uncertainty=unc, uncertainty_scale=1.0, calibration=None)

    def candidates(self, cells: Cells, framing: Framing, config: CompareConfig, drops: DropLog) -> Candidates:
        config = _judged_as_mirror(config)
        segs = segment(cells, config, ("protrusion",))
        order = resolve_segments(segs, cells, config, drops, min_seed_points=config.coverage.coverage_min_points)
        if not order:
            return Candidates(())
        # On structures that do not agree with their reflection even around the deviation (a
        # propeller, a one-sided opening): not comparable, so not inspected - never clean.
        kept, dropped = context_filter(cells.points, cells.residual, cells.judged, [o[1] for o in order], config)
        why: dict[int, tuple[str, str, str]] = {}
        for i, share, agree in dropped:
            m = order[i][2]
            why[i] = ("mirror_not_comparable", f"{m['volume']:.4f} m3 at {_at(m, 2)} m: surroundings {share:.0%} "
                      f"comparable, {agree:.0%} of those agree with their reflection",
                      f"not comparable (surroundings not mirror-symmetric), not inspected: around {_at(m, 1)} m")
        # Wider than a drift-correction block: drift correction takes what spans blocks as the two
        # passes' offset and what fits inside one as an object, so a deviation this wide is a stretch
        # where the passes stand further apart than it reaches (local_max_shift_m) - no compartment
        # is that size, and it cannot be told from one. Not comparable: not inspected, never clean.
        wide = config.alignment.local_block_m ** 2
        for i in [i for i in kept if wide > 0 and order[i][2]["footprint"] > wide]:
            kept.remove(i)
            m = order[i][2]
            why[i] = ("mirror_passes_apart", f"{m['footprint']:.1f} m2, {m['max_height']:.2f} m high at {_at(m, 2)} "
                      f"m: wider than a drift-correction block ({wide:g} m2)",
                      f"not comparable, not inspected: {m['footprint']:.0f} m2 around {_at(m, 1)} m stand "
                      f"{m['max_height']:.1f} m off their reflection (the two sides' passes disagree there by more "
                      "than drift correction reaches)")
        for reason, detail, _ in why.values():
            drops.add("findings", reason, 1, detail)
        notes = [f"mirror mode: {note}" for _, _, note in why.values()]
        return Candidates(tuple(order[i] for i in kept), tuple(order[i][1] for i in why), tuple(notes))

    def coverage(self, cells: Cells, framing: Framing, candidates: Candidates, config: CompareConfig
                 ) -> tuple[Coverage, tuple[str, ...]]:
        cov = mirror_coverage(cells, framing.reference, _judged_as_mirror(config), list(candidates.kept),
                              list(candidates.rejected))
        nc = [p for p in cov.patches if p.get("reason") == NOT_COMPARABLE]
        if not nc:
            return cov, ()
        return cov, (f"mirror mode: {sum(p['area_m2'] for p in nc):.1f} m2 in {len(nc)} patches seen on one side "
                     "only or far better than on the other (no mirrored counterpart): not comparable, reported "
                     "as not inspected (coverage patches with this reason)",)


def _judged_as_mirror(config: CompareConfig) -> CompareConfig:
    """The config whose seed test (and so clearing rule) mirror mode applies to its own uncertainty:
    its own seed threshold, and one floor for both kinds (min_height_m: its residuals hold two views'
    errors, which the design mesh's 4 cm protrusion floor was not measured on)."""
    return config.model_copy(update={"detection": config.detection.model_copy(
        update={"min_zscore": config.mirror.mirror_min_zscore, "min_protrusion_height_m": None})})


def _at(m: dict[str, Any], digits: int) -> str:
    """A candidate's centroid as ``(x, y, z)`` to ``digits`` decimals, for notes and drops."""
    c = np.asarray(m["centroid"], float)
    return "(" + ", ".join(f"{v:.{digits}f}" for v in c) + ")"


def _placed(points: F64, frame: Transform, corrections: tuple[LocalCorrection, ...], config: CompareConfig) -> F64:
    return apply_corrections(frame.apply(points), corrections, config.alignment.local_block_m)


def _fit(framing: Framing) -> Alignment:
    if framing.fit is None:
        raise TypeError("mirror framing without its plane fit (not made by MirrorSource.frame)")
    return framing.fit


def _normals(framing: Framing) -> F64:
    if framing.normals is None:
        raise TypeError("mirror framing without the cloud's normals (not made by MirrorSource.frame)")
    return framing.normals


def _support(framing: Framing) -> MirrorSupport:
    ref = framing.reference
    if not isinstance(ref, MirrorReference) or ref.support is None:
        raise TypeError("mirror framing without its support (not made by MirrorSource.frame)")
    return ref.support


# --------------------------------------------------------------------------- the user's choice


def reference_source(reference: Any) -> ReferenceSource:
    """The user's reference as a kind: a HullMesh (or any mesh with vertices and faces), a HullCloud
    (an earlier scan), a Reference already built, ``"mirror"``, or a source already."""
    if isinstance(reference, (MeshSource, ScanSource, MirrorSource)):
        return reference
    if isinstance(reference, str):
        if reference != "mirror":
            raise HullscanError(f"reference: expected a mesh, a scan or 'mirror', got {reference!r}")
        return MirrorSource()
    if isinstance(reference, Reference):
        if reference.kind == "mirror":
            raise HullscanError("reference: a mirror reference is built from the cloud; pass 'mirror'")
        return MeshSource(reference) if reference.kind == "mesh" else ScanSource(reference)
    if isinstance(reference, HullCloud):
        return ScanSource(reference)
    if hasattr(reference, "vertices") and hasattr(reference, "faces"):
        return MeshSource(reference)
    raise HullscanError(f"reference: expected a HullMesh, a HullCloud or 'mirror', got {type(reference).__name__}")


def build_reference(reference: Any, config: CompareConfig) -> Reference:
    """The reference surface of a design mesh or an earlier scan (a Reference is returned as is)."""
    source = reference_source(reference)
    if not isinstance(source, _SurfaceSource):
        raise HullscanError("reference: the mirror is built from the cloud; build_reference needs a mesh or scan")
    return source.surface(config)
