"""``inspect``: one hull cloud against one reference -> findings, coverage, deviation.

Errors are raised as usual by :func:`inspect`; :func:`attempt_inspection` returns instead an
:class:`Inspection` with ``status='partial'``, the error in ``failure`` and whatever was computed
before it, so the commands can still write a report saying what could be done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hullscan.compare.align import Alignment, AlignmentFailed, LocalCorrection
from hullscan.compare.analysis import (
    LOW,
    RELIEF,
    THIN,
    UNCERTAIN,
    Cells,
    Coverage,
    clearance,
    finding_passes,
    make_finding,
    recalibrated,
    uncertain_reason,
    unseen_reason,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.kinds import (
    Candidates,
    Framing,
    Placement,
    ReferenceDescription,
    ReferenceSource,
    reference_source,
)
from hullscan.compare.kinds import (
    build_reference as build_reference,  # re-exported: ros.camera, tests
)
from hullscan.compare.localshift import with_local_shift
from hullscan.compare.prior import PriorSigma
from hullscan.compare.reference import Reference
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import Finding, FittingsSummary, HistoryComparison, HullCloud, Transform

if TYPE_CHECKING:
    from hullscan.compare.alongship import AlongShipPlacement
    from hullscan.compare.camera import CameraSet
    from hullscan.recon.drift import AlongShipUncertainty

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
    # The error that ended a partial comparison (attempt_inspection), re-raised by inspect.
    failure: HullscanError | None = None
    # The comparison with the vessel's last cleared scan (hullscan.history); None without --vessel.
    history: HistoryComparison | None = None
    # How well drift correction placed the survey along the ship, per submap (hull frame).
    along_ship: AlongShipPlacement | None = None
    # The ship's declared fittings (--fittings) and the findings they explain; None without a plan.
    fittings: FittingsSummary | None = None

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
            normals = None if cov.normals is None else cov.normals[idx]
            seen = (clearance(self.cells, self.config, cov.samples[idx], local=True, at_normals=normals)[1](height)
                    | cov.under[idx])
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
            # Beside the reference's own relief, over plating that reads low or on a thin plate: that
            # patch's reason (drawn for the clear height; a thin plate's holds for any).
            patch = unseen_reason(cov.patches, point, margin)
            if patch.startswith(THIN) or (patch.startswith((RELIEF, LOW, UNCERTAIN))
                                          and (height is None or height == cov.clear_height)):
                return patch  # with why, where the patch says (few returns, or an uneven surface)
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



def inspect(cloud: HullCloud, reference: Any, config: CompareConfig | None = None, *,
            hull_to_nav: Transform | None = None, cameras: CameraSet | None = None,
            progress: Callable[[str], None] | None = None, sigma: PriorSigma | None = None,
            prior: dict[str, Any] | None = None, registration: dict[str, Any] | None = None,
            along: AlongShipUncertainty | None = None) -> Inspection:
    """Compare ``cloud`` with ``reference`` (a :class:`ReferenceSource`, or what
    :func:`reference_source` turns into one: HullMesh, HullCloud or ``"mirror"``).

    ``hull_to_nav`` is the navigation prior (nav <- hull, the internal hull frame) and ``sigma``
    its uncertainty (searched by the registration; None: the prior is only refined). ``cameras`` is a
    :class:`hullscan.compare.camera.CameraSet` for camera evidence; ``along`` as in
    :func:`attempt_inspection`. Raises HullscanError subclasses; :func:`attempt_inspection` returns
    the partial result instead.
    """
    ins = attempt_inspection(cloud, reference, config, hull_to_nav=hull_to_nav, cameras=cameras, progress=progress,
                             sigma=sigma, prior=prior, registration=registration, along=along)
    if ins.failure is not None:
        raise ins.failure
    return ins


def attempt_inspection(cloud: HullCloud, reference: Any, config: CompareConfig | None = None, *,
                       hull_to_nav: Transform | None = None, cameras: CameraSet | None = None,
                       progress: Callable[[str], None] | None = None, sigma: PriorSigma | None = None,
                       prior: dict[str, Any] | None = None, registration: dict[str, Any] | None = None,
                       along: AlongShipUncertainty | None = None) -> Inspection:
    """:func:`inspect` without raising: an error ends the comparison with ``status='partial'``,
    the error in ``failure`` and whatever was computed before it, for a partial report.

    ``along``: the drift stage's along-ship uncertainty, placed with the survey (``along_ship``):
    where it is large, the detector lets a reference feature move that far along the ship."""
    config = config or CompareConfig()
    try:
        source = reference_source(reference)
    except HullscanError as err:
        return Inspection(config, "unknown", "", status="partial", error=str(err), error_type=type(err).__name__,
                          failure=err)
    ins = _open_inspection(source.describe(), len(cloud), config, prior, registration)
    try:
        _inspect(ins, cloud, source, config, hull_to_nav, cameras, progress, sigma, along)
    except HullscanError as err:
        ins.status, ins.error, ins.error_type, ins.failure = "partial", str(err), type(err).__name__, err
        if isinstance(err, AlignmentFailed):
            ins.alignment = err.attempt
    return ins


def _open_inspection(about: ReferenceDescription, n_points: int, config: CompareConfig,
                     prior: dict[str, Any] | None, registration: dict[str, Any] | None) -> Inspection:
    ins = Inspection(config, about.kind, about.name, n_cloud_points=n_points, prior=prior, registration=registration,
                     ref_from_hull=about.ref_from_hull, waterline=about.waterline,
                     waterline_guessed=about.waterline_guessed)
    if ins.waterline_guessed:
        ins.notes.append(f"{ins.waterline}: depths below the waterline and the wetted surface are a guess; "
                         "give --draft from the draft marks")
    if about.scale_guess:
        ins.notes.append(f"{about.scale_guess}; positions, sizes and volumes scale with it")
    return ins


def _inspect(ins: Inspection, cloud: HullCloud, source: ReferenceSource, config: CompareConfig,
             prior: Transform | None, cameras: CameraSet | None, progress: Callable[[str], None] | None,
             sigma: PriorSigma | None = None, along: AlongShipUncertainty | None = None) -> None:
    """The comparison, stage by stage, each timed under its name in ``ins.timings_s``."""
    tm = ins.timings_s
    # Points that are not numbers are dropped; too few cannot be a hull.
    cloud = _usable_cloud(cloud, ins.drops)
    points = np.asarray(cloud.points, dtype=np.float64)
    # The reference surface, in the frame the comparison is made in.
    with _stage(tm, "reference", progress):
        framing = source.frame(cloud, points, config, prior)
        ins.reference, ins.reference_name = framing.reference, framing.reference.name
        ins.notes.extend(framing.notes)
    # The cloud placed on the reference: a rigid fit, then piecewise drift corrections.
    with _stage(tm, "alignment", progress):
        placement = source.align(points, framing, config, prior, sigma)
        _record_placement(ins, placement)
        if along is not None and ins.cloud_to_ref is not None:
            from hullscan.compare.alongship import survey_placement

            # How well the survey is placed along the ship, stretch by stretch (drift stage).
            ins.along_ship = survey_placement(along, ins.cloud_to_ref, ins.alignment,
                                              config.alignment.registration.along_settle_step_m)
    # The signed deviation of each point, where the reference can judge it.
    with _stage(tm, "signed_distance", progress):
        _judge_points(ins, placement.points, source, framing, config)
    # Points averaged into analysis cells, each with its deviation's uncertainty.
    with _stage(tm, "cells", progress):
        cells = _with_along_reach(source.cells(placement, cloud, framing, config), ins.along_ship,
                                  None if along is None else along.submap_length_m)
        # Plating facing fore or aft judged against its surroundings moved along the ship too.
        ins.cells = cells = with_local_shift(cells, config)
    # Deviating cells grouped into findings, largest risk first.
    with _stage(tm, "segmentation", progress):
        first = cells
        cells, candidates = _segmented(cells, source, framing, config, ins.drops)
        ins.cells = cells
        # How the deviations' uncertainty was had: the scale is the last segmentation's.
        ins.notes.append(_uncertainty_note(cells, cloud, config, away=cells is not first))
        _record_findings(ins, candidates, cells, framing.reference, config, cloud)
    # What was inspected, and why the rest was not.
    with _stage(tm, "coverage", progress):
        ins.coverage, notes = source.coverage(cells, framing, candidates, config)
        ins.notes.extend(notes)
    # Camera frames showing each finding.
    if cameras is not None and ins.findings:
        with _stage(tm, "camera_evidence", progress):
            _attach_camera_evidence(ins, cameras, config)
    log.info("%d findings, coverage %.0f%%, alignment residual %.3f m", len(ins.findings),
             100 * ins.coverage.fraction, placement.alignment.residual_m)


def _segmented(cells: Cells, source: ReferenceSource, framing: Framing, config: CompareConfig,
               drops: DropLog) -> tuple[Cells, Candidates]:
    """Deviating cells grouped into candidates; where something was found, the survey's scale read
    again from the plating away from it and the cells segmented once more
    (:func:`hullscan.compare.analysis.recalibrated`). Only the last segmentation's drops count."""
    first = DropLog()
    candidates = source.candidates(cells, framing, config, first)
    again = recalibrated(cells, [s[1] for s in candidates.kept], config)
    if again is cells:
        drops.merge(first)
        return cells, candidates
    return again, source.candidates(again, framing, config, drops)


def _uncertainty_note(cells: Cells, cloud: HullCloud, config: CompareConfig, away: bool = False) -> str:
    """How the deviations' uncertainty was had, for the outputs (docs/method.md, "Uncertainty");
    ``away``: the scale was read again away from the findings (:func:`_segmented`)."""
    if cells.uncertainty_model == "sonar":
        return (f"uncertainty: sonar model from each point's incidence and range, with the local systematic "
                f"error (scale {cells.uncertainty_scale:.2f}); the deviation is judged against its surroundings")
    u = config.uncertainty
    what = ("the uncertainty of each cell's judged height (its points' own sigma over their number)"
            if u.random == "mean" else "the points' own sigma")
    how = (f"uncertainty from {what} (default {u.fallback_sigma_m:g} m where none) and "
           + ("the local systematic error around each cell" if u.systematic == "local" else "the alignment's residual"))
    if u.self_calibrate and cells.uncertainty_scale != 1.0:  # mirror mode is not calibrated
        how += (f", scaled by the survey's own plating scatter (x {cells.uncertainty_scale:.2f} overall"
                + (", each incidence band apart" if u.calibrate_by_incidence and cloud.has_geometry else "")
                + (f", read from the plating farther than {u.calibrate_away_m:g} m from the findings" if away else "") + ")")
    if cells.leading_edge_gain > 0:
        how += (f"; the returns' leading-edge bias taken out of the deviations ({cells.leading_edge_gain:.2f} x the "
                f"first-arrival model for a {u.beam_width_deg:g} deg beam, as the survey's plating showed it)")
    if not cloud.has_geometry:
        return (f"coverage estimated: the cloud has no viewing geometry (incidence, range): a plain PLY or a scan "
                f"saved by another tool; {how}")
    if config.uncertainty.model != "sonar":
        return f"uncertainty: the estimated model (compare.uncertainty.model), {how}"
    return f"uncertainty: the mirror comparison weighs each side by its points' own sigma; {how}"


def _usable_cloud(cloud: HullCloud, drops: DropLog) -> HullCloud:
    finite = np.all(np.isfinite(np.asarray(cloud.points, dtype=np.float64)), axis=1)
    drops.add("cloud", "non_finite_point", int((~finite).sum()))
    if len(cloud) and not finite.all():
        cloud = cloud.subset(finite)
    if len(cloud) < MIN_CLOUD_POINTS:
        raise HullscanError(f"cloud has {len(cloud)} usable points; need at least {MIN_CLOUD_POINTS} to inspect "
                            "a hull (empty survey, or the wrong topic/frame?)")
    return cloud


def _with_along_reach(cells: Cells, along: AlongShipPlacement | None, radius_m: float | None) -> Cells:
    """``cells`` knowing how far along the ship the survey's placement is stated uncertain at any
    place (2 sigma, the largest over the submaps within ``radius_m`` of it, as each finding's)."""
    if along is None or radius_m is None:
        return cells
    return replace(cells, along_reach=lambda at: along.at_many(at, radius_m))


def _record_placement(ins: Inspection, placement: Placement) -> None:
    ins.alignment = placement.alignment
    ins.cloud_to_ref = placement.alignment.transform
    ins.notes.extend(placement.notes)
    ins.local_corrections = list(placement.corrections)
    ins.local_correction = placement.corrections[0] if placement.corrections else None
    ins.points = placement.points


def _judge_points(ins: Inspection, points: F64, source: ReferenceSource, framing: Framing,
                  config: CompareConfig) -> None:
    d, _, _, _, over = framing.reference.signed_distance(points)
    verdict = source.judge(points, d, over, framing, config, ins.drops)
    ins.drops.add("cloud", "off_reference", int((~over).sum()),
                  "points not over the reference surface (beyond its edge or where it was not seen)")
    ins.drops.add("cloud", "too_far_from_reference", int((over & (np.abs(d) > config.detection.max_deviation_m)).sum()),
                  f"more than {config.detection.max_deviation_m} m from the reference (not hull)")
    ins.deviation = np.where(verdict.judged, d, np.nan)
    if verdict.problem is not None:
        # The comparison goes on (what could be judged is reported) but the run is partial.
        ins.status, ins.error_type, ins.error = "partial", "MeshError", verdict.problem


def _record_findings(ins: Inspection, candidates: Candidates, cells: Cells, reference: Reference,
                     config: CompareConfig, cloud: HullCloud | None = None) -> None:
    findings = []
    first = None if cloud is None else cloud.seen_first_s
    last = None if cloud is None else cloud.seen_last_s
    t0_ns = None if cloud is None else cloud.seen_t0_ns
    for i, (kind, idx, m) in enumerate(candidates.kept):
        # A pass counts where it alone holds what the detector asks of a finding (min_points).
        starts = finding_passes(cells, idx, first, last, config.detection.pass_gap_s, config.detection.min_points)
        f = make_finding(f"F{i + 1:03d}", kind, idx, m, cells, reference, config,
                         None if starts is None else len(starts), _utc(starts, t0_ns))
        findings.append(f)
        ins.local_maps[f.id] = (m["raster"], m["extent"])
    findings.sort(key=lambda f: -f.risk)
    ins.findings = tuple(findings)
    ins.notes.extend(candidates.notes)


def _utc(starts_s: F64 | None, t0_ns: int | None) -> tuple[str, ...]:
    """ISO 8601 UTC (to the second) of times ``starts_s`` (s) after ``t0_ns``; () where either is unknown."""
    if starts_s is None or t0_ns is None:
        return ()
    return tuple(datetime.fromtimestamp(t0_ns * 1e-9 + float(s), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                 for s in starts_s)


def _attach_camera_evidence(ins: Inspection, cameras: CameraSet, config: CompareConfig) -> None:
    from hullscan.compare.camera import camera_evidence, context_frames

    ev, crops = camera_evidence(ins, cameras, config)
    ins.findings = tuple(replace(f, camera=ev.get(f.id, ())) for f in ins.findings)
    ins.crops = crops
    ins.frames = context_frames(ev, cameras)
