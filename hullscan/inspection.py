"""The inspection, end to end: a survey bag -> hull cloud -> compared with the reference -> findings.

Method (:func:`replay`):

1. The reference is loaded once as a kind (design mesh, earlier scan, or the hull's own mirror),
   and the navigation prior read (:func:`load_survey_reference`, :func:`load_prior`); a quay prior
   is placed on the design hull at the survey's first navigation fix (:func:`place_prior`).
2. The hull cloud is reconstructed from the sonar pings, with navigation drift corrected against
   the reference placed by the registered prior, or between submaps (:func:`reconstruct_survey`).
3. Camera frames are read for evidence, projected through the corrected trajectory
   (:func:`load_cameras`).
4. The cloud is registered to the reference and compared with it; findings, coverage and the
   report are written, a partial report when the comparison fails (:func:`inspect_survey`).

:func:`compare_cloud` is step 4 on a cloud saved earlier. The command-line adapters
(:mod:`hullscan.commands`) only turn arguments into these calls.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullscan.compare.kinds import MirrorSource, ReferenceSource, reference_source
from hullscan.compare.loading import load_prior, load_reference, progress_printer
from hullscan.compare.prior import REGISTERED_SIGMA, NavPrior, PriorSigma
from hullscan.config import HullscanConfig
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.hull.mesh import HullMesh
from hullscan.model import HullCloud, Transform
from hullscan.report.run import report_inspection, write_failure

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from hullscan.compare.camera import CameraSet
    from hullscan.compare.evaluate import EvalReference
    from hullscan.compare.inspect import Inspection
    from hullscan.compare.navref import NavReference
    from hullscan.recon.drift import AlongShipUncertainty
    from hullscan.recon.pipeline import ReconResult

# A step between the comparison and its report, given the finished Inspection and the cloud it
# judged (the comparison with the vessel's last cleared scan, hullscan.history): what it adds to
# the Inspection is in the report. Not called when the comparison failed.
Amend = Callable[["Inspection", HullCloud], None]

__all__ = ["Amend", "EarlierRegistration", "ReferenceFile", "SurveyReference", "compare_cloud", "compare_survey", "first_fix", "inspect_survey", "load_cameras",
           "load_survey_reference", "place_prior", "reconstruct_survey", "replay", "report_survey"]


@dataclass(frozen=True)
class ReferenceFile:
    """The reference as named on the command line: a design mesh or an earlier scan, with how to
    read it (units, the ship's draft, the file's up and bow axes, the trim: aft minus forward
    draft, m, and the ship's length, m, for a model-scale file); ``path`` None is mirror mode."""

    path: str | None
    units: str = "auto"
    draft: float | None = None
    up: str = "auto"
    bow: str = "auto"
    trim: float | None = None
    length: float | None = None

    @classmethod
    def from_notes(cls, notes: EvalReference) -> ReferenceFile:
        """The reference a simulated survey's operator notes name (design file, units, draft, axes,
        trim and a model's length), as the dive team would give it on the command line."""
        return cls(notes.path, notes.units, notes.draft_m, notes.up, notes.bow, notes.trim_m or None, notes.length_m)


@dataclass(frozen=True)
class EarlierRegistration:
    """nav <- hull from a registration already made from the prior (the drift stage's): only
    checked and refined; ``summary`` goes into findings.json as ``prior_registration``."""

    hull_to_nav: Transform
    summary: dict[str, Any] | None = None
    # How well the drift stage placed each stretch along the ship (corrected navigation frame).
    along: AlongShipUncertainty | None = None
    # Shifts along the ship (m) over which that registration fitted as well (Registration.along_range_m).
    along_range_m: tuple[float, float] | None = None


@dataclass(frozen=True, eq=False)
class SurveyReference:
    """The reference as the user gave it: its kind, and the surface read from its file (None in
    mirror mode, where the hull's own reflection is the reference)."""

    source: ReferenceSource
    surface: HullMesh | HullCloud | None
    label: str  # the path as given, or "mirror"

    @property
    def ref_from_hull(self) -> Transform | None:
        """The reference file's own frame from the internal hull frame (None: the same)."""
        return self.source.describe().ref_from_hull


def load_survey_reference(file: ReferenceFile | str | None) -> SurveyReference:
    """The reference file (a design mesh or an earlier scan) as a kind; ``None``: mirror mode."""
    f = file if isinstance(file, ReferenceFile) else ReferenceFile(file)
    if f.path is None:
        return SurveyReference(MirrorSource(), None, "mirror")
    surface = load_reference(f.path, f.units, draft=f.draft, up=f.up, bow=f.bow, trim=f.trim, length=f.length)
    return SurveyReference(reference_source(surface), surface, str(f.path))


def first_fix(bag: str, config: HullscanConfig) -> NDArray[Any]:
    """The survey's first navigation position (nav frame), for a quay prior."""
    from hullscan.bag.reader import BagReader
    from hullscan.model import NavSample

    with BagReader(bag, config.topics) as reader:
        for item in reader.samples():
            if isinstance(item, NavSample):
                return item.position
    raise HullscanError(f"{bag}: no navigation sample found; a quay prior needs the survey's first fix")


def place_prior(prior: NavPrior | None, reference: SurveyReference, bag: str | None,
                config: HullscanConfig) -> NavPrior | None:
    """A quay prior (frame and side of the design hull) placed at the survey's first fix; a
    transform prior as it is. ``bag``: None where there is no survey to take the fix from."""
    if prior is None or prior.form != "quay":
        return prior
    if bag is None:
        raise HullscanError(f"{prior.source}: a quay prior needs the survey's first navigation fix; use it "
                            "with hullscan replay BAG, or give compare a {translation, rotation} prior")
    if not isinstance(reference.surface, HullMesh):
        raise HullscanError(f"{prior.source}: a quay prior names a frame and side of the design hull; "
                            "give a design mesh as --reference, or a {translation, rotation} prior")
    return prior.resolve(reference.surface, first_fix(bag, config), config.compare.scoring.frame_spacing_m,
                         config.compare.scoring.frame_zero_x_m)


def with_drift_correction(config: HullscanConfig) -> HullscanConfig:
    """``config`` with the reconstruction's navigation drift correction switched on."""
    rc = config.recon.model_copy(update={"drift": config.recon.drift.model_copy(update={"enabled": True})})
    return config.model_copy(update={"recon": rc})


def drift_reference(reference: SurveyReference, prior: NavPrior | None,
                    config: HullscanConfig) -> NavReference | None:
    """The reference placed in the navigation frame by the prior, registered first over the
    prior's uncertainty, for submaps to be aligned to; None without a surface or a prior."""
    if reference.surface is None or prior is None:
        return None  # submaps are aligned to each other instead
    from hullscan.compare.navref import nav_reference

    # The file is not read a second time: the surface loaded for the comparison is reused.
    return nav_reference(reference.surface, prior.hull_to_nav(reference.ref_from_hull), reference.label,
                         sigma=prior.search, compare_config=config.compare)


def reconstruct_survey(bag: str, config: HullscanConfig, *, drift_to: NavReference | None = None,
                       progress: bool = True) -> ReconResult:
    """The hull cloud and the vehicle's trajectory from the bag's sonar and navigation."""
    from hullscan.recon import reconstruct_bag

    if progress:
        print(f"[replay] reconstructing {bag} ...", file=sys.stderr, flush=True)
    return reconstruct_bag(bag, config, progress=progress, drift_reference=drift_to)


def load_cameras(bag: str, recon: ReconResult, config: HullscanConfig) -> CameraSet | None:
    """The bag's camera frames, placed by the corrected trajectory; None (and said why) without."""
    from hullscan.compare.camera import CameraSet

    if recon.trajectory is None:
        print("[replay] no camera evidence: no trajectory was reconstructed", file=sys.stderr)
        return None
    try:
        return CameraSet.from_bag(bag, recon.trajectory, config.topics)
    except HullscanError as err:
        print(f"[replay] no camera evidence: {err}", file=sys.stderr)
        return None


def _prior_placement(reference: SurveyReference, prior: NavPrior | None, registered: EarlierRegistration | None
                     ) -> tuple[Transform | None, PriorSigma | None]:
    """nav <- hull and the range to search around it: an earlier registration's (only checked and
    refined), the prior's, or none (global registration)."""
    if registered is not None:
        return registered.hull_to_nav, _registered_sigma(registered)
    if prior is None:
        return None, None
    return prior.hull_to_nav(reference.ref_from_hull), prior.search


def _registered_sigma(registered: EarlierRegistration) -> PriorSigma:
    """The range the comparison checks an earlier registration within: :data:`REGISTERED_SIGMA`, but
    along the ship no tighter than the range that registration itself called ambiguous (a flat bottom
    fixes no position along it: the final fit may settle metres away, and is not the operator's
    prior at fault)."""
    if registered.along_range_m is None:
        return REGISTERED_SIGMA
    reach = max(abs(registered.along_range_m[0]), abs(registered.along_range_m[1]))
    fixed = None if registered.along is None else registered.along.relief_sd_m()
    if fixed is not None:
        # Since then the drift stage placed the survey along the ship from reference relief it saw
        # (an anode; hullscan/recon/alongfix.py): the check stays within that (1 sigma), where the
        # cost of the whole cloud, flat along a midbody and pulled by compartments and growth,
        # would let the fit settle decimetres off.
        return replace(REGISTERED_SIGMA, along_m=min(fixed, REGISTERED_SIGMA.along_m))
    return replace(REGISTERED_SIGMA, along_m=max(REGISTERED_SIGMA.along_m, reach))


def compare_survey(cloud: HullCloud, reference: SurveyReference, config: HullscanConfig, *,
                   prior: NavPrior | None = None, registered: EarlierRegistration | None = None,
                   cameras: CameraSet | None = None, progress: bool = True, upstream: DropLog | None = None
                   ) -> Inspection:
    """Compare the cloud with the reference; nothing written, a failure kept in the Inspection
    (``failure``) for :func:`report_survey`.

    ``registered``: an earlier registration from the prior (the drift stage's).
    ``upstream``: the bag's and the reconstruction's drops, carried into findings.json."""
    from hullscan.compare.inspect import attempt_inspection

    # The comparison: registered from the prior (or its earlier registration), then judged.
    hull_to_nav, sigma = _prior_placement(reference, prior, registered)
    ins = attempt_inspection(cloud, reference.source, config.compare, hull_to_nav=hull_to_nav, cameras=cameras,
                             progress=progress_printer(progress), sigma=sigma,
                             prior=None if prior is None else prior.as_dict(),
                             registration=None if registered is None else registered.summary,
                             along=None if registered is None else registered.along)
    # Upstream losses belong to this run's outputs too, complete or partial.
    if upstream is not None:
        ins.drops.merge(upstream)
    # Each finding's metres from the stern with how well the survey is placed along the ship there.
    if registered is not None and registered.along is not None and ins.cloud_to_ref is not None:
        place_along_ship(ins, registered.along, ins.cloud_to_ref, config.recon.drift.submap_length_m)
    return ins


def place_along_ship(ins: Inspection, along: AlongShipUncertainty, cloud_to_ref: Transform, radius_m: float) -> None:
    """The drift stage's along-ship uncertainty placed by ``cloud_to_ref`` in the reference's
    frame, on ``ins`` and on each of its findings (:mod:`hullscan.compare.alongship`), with a note
    where a stretch rests on dead reckoning. The comparison's fine fit after the drift stage only
    refines the placement; the along-ship posterior is the drift stage's."""
    from hullscan.compare.alongship import place_findings, survey_placement

    # The comparison placed it already where it was given the drift stage's figures.
    placement = ins.along_ship or survey_placement(along, cloud_to_ref, ins.alignment,
                                                   ins.config.alignment.registration.along_settle_step_m)
    ins.along_ship = placement
    ins.findings = place_findings(ins.findings, placement, radius_m)
    note = placement.note()
    if note is not None:
        ins.notes.append(note)


def report_survey(ins: Inspection, cloud: HullCloud, out: str | Path, inputs: dict[str, Any],
                  config: HullscanConfig, amend: Amend | None = None) -> Inspection:
    """``amend`` (see :data:`Amend`) on a finished comparison, then the outputs written to ``out``;
    after a failed comparison a partial report is written and its error raised."""
    if amend is not None and ins.failure is None:
        amend(ins, cloud)
    report_inspection(ins, out, inputs, config)
    return ins


def inspect_survey(cloud: HullCloud, reference: SurveyReference, out: str | Path, config: HullscanConfig,
                   inputs: dict[str, Any], *, prior: NavPrior | None = None,
                   registered: EarlierRegistration | None = None, cameras: CameraSet | None = None,
                   progress: bool = True, upstream: DropLog | None = None) -> Inspection:
    """Compare the cloud with the reference and write the outputs to ``out``; on failure a partial
    report is written and the error raised (:func:`compare_survey`, then :func:`report_survey`)."""
    ins = compare_survey(cloud, reference, config, prior=prior, registered=registered, cameras=cameras,
                         progress=progress, upstream=upstream)
    return report_survey(ins, cloud, out, inputs, config)


def replay(bag: str, reference_file: ReferenceFile | str | None, out: str, config: HullscanConfig, *,
           prior_path: str | None = None, camera: bool = True, progress: bool = True, drift: bool = True,
           case: str | None = None, amend: Amend | None = None) -> Inspection:
    """A recorded survey, end to end (module docstring); a reference path None: mirror mode.
    Returns the Inspection; raises HullscanError after writing a partial report.

    ``drift``: correct navigation drift, against the reference when there is one and a prior places
    it (the prior is registered first), otherwise between submaps (recon.drift)."""
    ref_file = reference_file if isinstance(reference_file, ReferenceFile) else ReferenceFile(reference_file)
    reference_arg = ref_file.path
    inputs = {"bag": bag, "reference": reference_arg, "prior": prior_path, "case": case}
    try:
        # 1. The reference and the navigation prior, a quay prior placed at the first fix.
        reference = load_survey_reference(ref_file)
        prior = place_prior(load_prior(prior_path), reference, bag, config)
        # 2. The hull cloud, navigation drift corrected against the placed reference.
        config = with_drift_correction(config) if drift else config
        drift_to = drift_reference(reference, prior, config) if drift else None
        recon = reconstruct_survey(bag, config, drift_to=drift_to, progress=progress)
    except HullscanError as err:
        write_failure(err, out, config.compare, inputs, config, str(reference_arg or "mirror"))
        raise
    _save_cloud(recon.cloud, out)
    # 3. Camera evidence through the corrected trajectory.
    cameras = load_cameras(bag, recon, config) if camera else None
    # 4. The comparison and its report.
    reg = recon.registration
    registered = (EarlierRegistration(recon.hull_to_nav, None if reg is None else reg.as_dict(), recon.along,
                                      None if reg is None else reg.along_range_m)
                  if drift_to is not None and recon.hull_to_nav is not None else None)
    ins = compare_survey(recon.cloud, reference, config, prior=prior, cameras=cameras, registered=registered,
                         progress=progress, upstream=recon.drops)
    if reg is not None and reg.relief is not None:
        # Where the drift stage's registration placed the survey along the ship from; the comparison
        # then settled the corrected cloud within +/- 0.5 m of it.
        ins.notes.append(f"before drift correction, {reg.relief.note()}")
    report_survey(ins, recon.cloud, out, inputs, config, amend)
    if recon.trajectory is not None:
        t = recon.trajectory
        ins.track = (t.stamps_ns, t.positions, t.orientations)
    return ins


def _save_cloud(cloud: HullCloud, out: str | Path) -> None:
    from hullscan.cloud_io import save_cloud

    Path(out).mkdir(parents=True, exist_ok=True)
    save_cloud(cloud, Path(out) / "cloud.ply")


def compare_cloud(cloud_path: str, reference_file: ReferenceFile | str | None, out: str, config: HullscanConfig, *,
                  prior_path: str | None = None, progress: bool = True, config_path: str | None = None,
                  case: str | None = None, amend: Amend | None = None) -> Inspection:
    """A hull cloud saved earlier (hullscan reconstruct) compared with the reference: step 4 of
    :func:`replay`. A reference path None: mirror mode."""
    ref_file = reference_file if isinstance(reference_file, ReferenceFile) else ReferenceFile(reference_file)
    reference_arg = ref_file.path
    from hullscan.cloud_io import load_cloud, load_metadata

    inputs = {"cloud": cloud_path, "reference": reference_arg, "prior": prior_path, "config": config_path,
              "case": case}
    try:
        cloud = load_cloud(cloud_path)
        prior = load_prior(prior_path)
        reference = load_survey_reference(ref_file)
        prior = place_prior(prior, reference, None, config)
    except HullscanError as err:
        write_failure(err, out, config.compare, inputs, config, str(reference_arg or "mirror"))
        raise
    # The bag's and the reconstruction's drops, from the cloud's sidecar (reconstruct writes them).
    upstream = DropLog.from_dicts(load_metadata(cloud_path).get("drops") or [])
    ins = compare_survey(cloud, reference, config, prior=prior, progress=progress, upstream=upstream)
    return report_survey(ins, cloud, out, inputs, config, amend)
