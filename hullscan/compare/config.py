"""Configuration of the comparator subsystem, nested by concern (see :class:`CompareConfig`)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RegistrationConfig(BaseModel):
    """Coarse, multi-hypothesis registration from the navigation prior (compare.registration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coarse_voxel_m: float = Field(0.5, gt=0.0, description="voxel of the sparse cloud the coarse fit uses (m)")
    coarse_points: int = Field(3000, ge=100, description="most cloud points in the coarse fit")
    proxy_spacing_m: float = Field(0.15, gt=0.0, description="spacing of the reference samples the coarse fit "
                                   "queries (a KD-tree of oriented samples instead of the mesh)")
    seed_heading_step_deg: float = Field(10.0, gt=0.0, description="largest heading spacing of the seeds (deg); "
                                         "finer on a long survey, so that half a step moves its far end by at most "
                                         "half the widest coarse radius")
    seed_along_step_m: float = Field(5.0, gt=0.0, description="spacing of the seeds along the ship (m)")
    coarse_schedule_m: tuple[float, ...] = Field(
        (4.0, 2.0, 1.0, 0.5), min_length=3, description="coarse ICP correspondence radii (m): every seed runs the "
        "first two, each distinct hypothesis the rest and then icp_schedule_m")
    coarse_tukey_m: float = Field(0.15, gt=0.0, description="Tukey width of the coarse fit's last stage (m)")
    coarse_max_iter: int = Field(10, ge=1, description="ICP iterations per coarse stage")
    tie_ratio: float = Field(1.3, ge=1.0, description="hypotheses (and shifts along the ship) whose fit cost is "
                             "within this factor of the best fit as well: seen from here they are the same")
    distinct_heading_deg: float = Field(1.0, gt=0.0, description="tied hypotheses this far apart in heading are distinct")
    distinct_shift_m: float = Field(0.5, gt=0.0, description="... or this far apart horizontally (m)")
    min_coarse_inliers: float = Field(0.5, gt=0.0, le=1.0, description="share of the sparse cloud within "
                                      "2 x coarse_tukey_m of the reference below which the prior is judged off")
    along_points: int = Field(6000, ge=100, description="cloud points in the scan of the fit along the ship")
    along_settle_m: float = Field(1.5, gt=0.0, description="the fit is moved along the ship to its lowest cost "
                                  "within +/- this (m)")
    along_settle_step_m: float = Field(0.1, gt=0.0, description="step of that scan (m)")
    settle_heading_deg: float = Field(0.4, ge=0.0, description="... and about the best shift, turning the heading "
                                      "within +/- this as well (deg; along a smooth hull a shift and a turn trade off)")
    settle_heading_step_deg: float = Field(0.2, gt=0.0, description="heading step of that scan (deg)")
    settle_min_gain: float = Field(0.0, ge=0.0, lt=1.0, description="the settle moves the fit only when that "
                                   "lowers its cost by more than this share (0: to the lowest point however small the gain)")
    settle_rounds: int = Field(6, ge=1, description="after it, (finest ICP, settle within 0.3 m) repeats while the "
                               "settle moves the fit by half a step or more and lowers its cost by more than along_tie, "
                               "at most this many rounds (1: the behaviour before stop 36)")
    along_tie: float = Field(0.03, gt=0.0, description="shifts along the ship whose cost is within this share of "
                             "the lowest are as good: the reported ambiguity; of the coarse hypotheses that slide from "
                             "the lowest-cost one only along the ship and fit within it, the one nearest the prior is "
                             "taken (stop 50)")
    ambiguity_scan_m: float = Field(10.0, gt=0.0, description="least reach of the scan along the ship (m)")
    ambiguity_step_m: float = Field(0.5, gt=0.0, description="step of the scan along the ship (m)")


class AlignmentConfig(BaseModel):
    """Fine alignment of the cloud with the reference (compare.alignment): robust ICP, its acceptance, the piecewise drift correction, and the coarse registration from the navigation prior."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voxel_m: float = Field(0.10, gt=0.0, description="voxel size of the cloud used for alignment")
    icp_max_iter: int = Field(40, ge=1)
    icp_schedule_m: tuple[float, ...] = Field((0.8, 0.3, 0.12), description="ICP correspondence radii, coarse to fine")
    tukey_k_m: float = Field(0.06, gt=0.0, description="Tukey width of the final ICP stage (compartments are outliers)")
    max_residual_m: float = Field(0.06, gt=0.0, description="alignment RMS above this fails (different ship?)")
    rough_surface_m: float = Field(
        0.022, gt=0.0, description="a texture of the drift-corrected surface (10th to 90th percentile of its distance "
        "to the reference less each metre's median: barnacles, not drift, growth patches or anodes) at or above this "
        "says the hull is rough (growth): the outputs then say how far the placement would move were the surveyed "
        "surface a growth layer as thick as its relief, which the survey does not separate from the vehicle's position "
        "(the scenario library's clean hulls 0.7-1.8 cm, heavy growth 2.8 cm)")
    min_inlier_fraction: float = Field(
        0.8, gt=0.0, le=1.0, description="share of the cloud within 2 x tukey_k of the reference after ICP; the "
        "right ship fits >= 0.886 in every scenario (1.7 m drift, heavy growth), a similar ship's midbody 0.77")
    surface_offset: bool = Field(
        False, description="the fine fit estimates, with the pose, how far the surveyed surface stands proud of the "
        "reference everywhere alike (paint and growth, the sonar's first arrival: 1-2 cm in the simulated library) and "
        "judges the placement net of it. Off since stop 47: once the fit solves the shift along a taper (its rotations "
        "weighed in metres), a free offset trades with that shift instead (wigley_mesh 0.24 m along, the offset at its "
        "5 cm bound); on a survey seen from one side nothing else tells an offset from a shift (docs/method.md)")
    local_block_m: float = Field(4.0, ge=0.0, description="piecewise drift correction block size (0: rigid only)")
    local_max_shift_m: float = Field(0.6, gt=0.0, description="largest drift a block may be shifted by (m)")
    global_registration: bool = Field(True, description="try FPFH + RANSAC when no navigation prior is given, or when the prior does not fit")
    registration: RegistrationConfig = Field(default_factory=RegistrationConfig)


class DetectionConfig(BaseModel):
    """Deviation to findings (compare.detection): smoothing, local baseline, seeds and growth, merging, and what is growth rather than a compartment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_height_m: float = Field(0.05, gt=0.0, description="smallest deviation that can form a finding (m); "
                                "protrusions: min_protrusion_height_m")
    min_protrusion_height_m: float | None = Field(
        0.04, gt=0.0, description="smallest protrusion that can form a finding (m; None: min_height_m): a pack "
        "strapped flat to the plating 5 cm proud reads 4-5 cm at its top after the median and the local baseline "
        "(bench/clearance.py --height 0.05), so a floor of 5 cm finds such packs by chance; recesses (as-built "
        "dents a few cm deep) keep min_height_m")
    grow_height_m: float = Field(0.025, gt=0.0, description="a finding grows over neighbours deviating more than this (m)")
    min_zscore: float = Field(5.0, ge=0.0, description="deviation / uncertainty a seed cell must exceed: with the "
                              "uncertainty self-calibrated (z-scores of plating spread as N(0, 1)), 5 leaves a "
                              "Gaussian tail of 3e-7 per cell, under one stray seed in a hull's 10^5-10^6 cells")
    min_footprint_m2: float = Field(0.02, ge=0.0, description="smaller deviating patches are roughness, not findings")
    min_volume_m3: float = Field(0.002, ge=0.0, description="smaller deviating patches are not reported")
    min_points: int = Field(12, ge=1, description="fewest cloud points a finding needs")
    min_seed_points: int = Field(
        12, ge=1, description="fewest cloud points in a finding's seed cells (those clearing min_height and "
        "min_zscore); fewer: a fragment merged into a neighbour, or dropped")
    smooth_radius_m: float = Field(0.08, gt=0.0, description="median filter radius over the deviation (barnacles)")
    rough_smooth_radius_m: float = Field(
        0.15, ge=0.0, description="on a rough hull (compare.alignment.rough_surface_m), the median filter's radius "
        "instead: barnacles' relief (heavy_growth: 2.5 cm, 1 sigma) left 1.1-1.4 cm after an 8 cm median, and the "
        "hull cleared 53 % of what was seen for 0.1 m (74 % at 15 cm; at 20 cm 10 cm caps in cleared surface were "
        "missed, bench/clearance.py); an object under about 4 x this across reads lower (0: smooth_radius_m everywhere)")
    baseline_radius_m: float = Field(1.5, gt=0.0, description="radius of the local baseline (as-built, growth layer)")
    baseline_clip_m: float = Field(0.06, ge=0.0, description="largest local baseline removed (as-built tolerance)")
    growth_min_footprint_m2: float = Field(1.5, ge=0.0, description="a protrusion this broad ...")
    growth_max_mean_height_m: float = Field(0.08, ge=0.0, description="... whose mean height is below this ...")
    growth_max_slenderness: float = Field(0.12, ge=0.0,
                                          description="... and max height / sqrt(footprint) below this is a growth layer")
    layer_object_share: float = Field(
        0.2, ge=0.0, lt=1.0, description="a growth layer peeled off a broad protrusion is measured on its cells but "
        "the highest this share: an object standing on the layer, up to this share of its area, stays proud of it "
        "(0: the layer from all of them, as before stop 44)")
    merge_gap_m: float = Field(0.3, ge=0.0, description="fragments this close to a larger finding belong to it")
    merge_max_volume_m3: float = Field(0.01, ge=0.0, description="largest fragment merged into a neighbour (m3)")
    unseen_join_m: float = Field(
        0.6, ge=0.0, description="a smaller protrusion whose feet face a larger one's across at most this much surface "
        "that the survey did not see at all is the same object, astride a gap between lanes (0: never joined)")
    max_deviation_m: float = Field(1.5, gt=0.0, description="points further from the reference are not hull")
    min_facing_share: float = Field(0.05, ge=0.0, le=1.0, description="a protrusion whose cells face along the "
                                    "reference's normal (the cloud's surface within 60 deg of it) make up less than "
                                    "this share of its returns is a surface seen past the reference's edge (a thin "
                                    "plate's footprint spill), not an object with a top: dropped (0: off; clouds "
                                    "without normals: off)")
    min_beam_footprints: float = Field(1.0, ge=0.0, description="a protrusion narrower (the square root of its "
                                       "footprint) than this many of the sonar's beam footprints where it was seen "
                                       "(its returns' median range x uncertainty.beam_width_deg) cannot be resolved: "
                                       "its height is the beam smeared over an edge, not an object's (all_sensors: a "
                                       "2 L, 7 cm bump on a bilge keel seen from 15 m, 0.21 m across under a 0.26 m "
                                       "footprint); dropped (0: off; clouds without ranges: off)")
    contradiction_radius_m: float = Field(0.05, ge=0.0, description="a deviating cell whose foot on the reference "
                                          "lies this close to that of a cell on the plating cannot seed a finding: "
                                          "another view saw plating there (0: off)")
    contradiction_around_m: float = Field(0.15, ge=0.0, description="... nor one with plating seen all around its "
                                          "foot within this radius (0: off; sonar uncertainty model only: every top cell of an object narrower than "
                                          "twice this has plating all around it)")
    feature_shift_m: float = Field(0.2, ge=0.0, description="a deviating cell that the reference's own surface "
                                   "explains when moved up to this far along the plating (an anode's end or a bilge "
                                   "keel's edge seen by a lane placed a little off along the ship: the reference has "
                                   "surface at the cell's height within this distance of its foot) cannot seed a "
                                   "finding; not in recesses behind a grating (0: off)")
    feature_shift_along_max_m: float = Field(1.0, ge=0.0, description="... and where the survey states its placement "
                                             "along the ship uncertain by more (2 sigma, along_ship in findings.json: dead "
                                             "reckoning over plating that fixes no position along it), up to this far "
                                             "along the ship; coverage clears no such place beside relief of the "
                                             "compartment's height (0 or <= feature_shift_m: feature_shift_m only)")
    local_shift: bool = Field(True, description="the local baseline also takes out a shift along the ship, fitted "
                              "around each 0.5 m block on the plating that faces fore or aft (a thruster tunnel's "
                              "walls, a transom) and kept within the survey's stated along-ship uncertainty there "
                              "(up to feature_shift_along_max_m): a survey placed centimetres off along the ship "
                              "reads a tunnel's forward wall proud and its after wall sunk (hullscan.compare.localshift)")
    pass_gap_s: float = Field(15.0, gt=0.0, description="returns of a finding taken further apart in time than this "
                              "came from separate passes (a multibeam sees a spot for a second or two as it goes by; "
                              "a lane that comes back does so after a turn), each counted where it saw min_points of "
                              "the finding's points: a finding that two passes saw is surer than one seen once "
                              "(clouds that kept when each point was seen)")


class UncertaintyConfig(BaseModel):
    """How certain a surface cell's height is along the hull's normal (:mod:`hullscan.compare.uncertainty`).

    The sonar's own terms, per point from its incidence and range; navigation error is not among
    them, since the deviation is judged relative to the surroundings where it cancels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["sonar", "estimated"] = Field(
        "estimated", description="estimated: from the cloud's own sigma (navigation included: after drift correction "
        "against a reference, what the corrections left, recon.drift.measured_sigma) and the systematic term below; sonar (trial, docs/results/issue15_uncertainty.md): from each point's incidence and range where the "
        "cloud has them, the local systematic error, and the contradiction of deviations by plating seen")
    systematic: Literal["alignment", "local"] = Field(
        "local", description="estimated model: the survey's systematic error on each cell. local: what the local "
        "baseline leaves around the cell, read as the sonar model reads it (0.5 m and 1 m blocks' spread); "
        "alignment (the default up to stop 37): the alignment's residual, one figure for the whole hull")
    random: Literal["point", "mean"] = Field(
        "mean", description="estimated model: the cell's random error. mean: the uncertainty of the height the "
        "detector judges (the median over the smoothing neighbourhood of each cell's mean of its points), as the "
        "sonar model takes it; point (the default up to stop 37, with systematic: alignment, self_calibrate: false "
        "and detection.min_zscore 3): its points' single-return sigma, several times too cautious "
        "(docs/results/issue15_uncertainty.md)")
    leading_edge: Literal["correct", "off"] = Field(
        "correct", description="estimated model, clouds with viewing geometry: correct: take each cell's "
        "leading-edge bias (a first arrival stands proud of the plating by a share of the beam's footprint that "
        "grows with the incidence, beam_width_deg) out of its deviation, at the size the survey's own plating shows "
        "(the slope of deviation on the modelled bias over every judged cell; the outputs give it); off: left in "
        "(the default up to stop 39, where it was only met by calibrate_by_incidence). The sonar model keeps it "
        "in the uncertainty instead")
    range_sigma_m: float = Field(0.01, gt=0.0, description="sonar range noise at zero range (1 sigma, m)")
    range_sigma_per_m: float = Field(0.001, ge=0.0, description="extra range noise per metre of range (1 sigma)")
    beam_width_deg: float = Field(1.0, gt=0.0, le=45.0, description="the sonar beam's -3 dB width (deg): its "
                                  "footprint across the normal and its leading-edge bias at grazing incidence")
    floor_m: float = Field(0.003, ge=0.0, description="least uncertainty of a cell's height (m): what the model "
                           "leaves out (voxel quantisation, reference meshing)")
    systematic_quantile: float = Field(0.75, gt=0.0, lt=1.0, description="the local systematic error is read from "
                                       "this quantile of the 0.5 m blocks' offsets from the baseline within its radius "
                                       "(0.5: the median; higher: a patch covering a smaller share of the neighbourhood "
                                       "counts; a compartment covers a few blocks)")
    wide_radius_m: float = Field(3.0, ge=0.0, description="radius of the metre-scale systematic term: the spread of "
                                 "the residuals of 1 m blocks within it (0: off)")
    self_calibrate: bool = Field(True, description="scale the model (either) by the survey's own scatter: the robust "
                                 "spread of the cells' z-scores over all judged plating (compartments are a small "
                                 "share) is made 1, so that detection.min_zscore reads as a tail probability")
    calibrate_by_incidence: bool = Field(True, description="self-calibrate each incidence band of the cells' "
                                         "returns (0-30, 30-60, 60-90 deg) apart where it holds 200 judged cells "
                                         "(clouds with viewing geometry; estimated model): its terms do not follow "
                                         "the incidence, the survey's scatter does (grazing returns scatter more)")
    calibrate_relief_apart_deg: float = Field(0.0, ge=0.0, le=180.0, description="within each incidence band "
                                              "(estimated model, with calibrate_by_incidence), self-calibrate apart the cells beside the reference's own relief "
                                              "(where its surface turns by more than this many degrees within 0.75 m: a "
                                              "sea chest's walls, a rudder, a propeller; a bilge's turn does not) and "
                                              "the plain plating, each where it holds 200 judged cells: beside relief the "
                                              "returns scatter by another law. 0: off, the default: at 45 the "
                                              "library's z-scores were honest in every band, but one more false "
                                              "alarm showed on every prior of one hull (docs/method.md)")
    calibrate_away_m: float = Field(2.0, ge=0.0, description="self-calibrate once more, leaving out the cells "
                                    "within this distance (m) of a finding: its flanks, the baseline it disturbs "
                                    "and the growth around it are not plating, and where they are a large share of "
                                    "an incidence band they widen its scale (every z-score there reads low); then "
                                    "segment again with the new z-scores. 0: off (docs/method.md)")
    scale_limits: tuple[float, float] = Field((0.2, 10.0), description="least and largest scale self-calibration may "
                                              "apply to the model (below 1: the model's terms over-count; the "
                                              "least keeps a survey of implausibly smooth plating from clearing "
                                              "on its own say-so)")
    fallback_sigma_m: float = Field(0.02, gt=0.0, description="uncertainty of a point from a cloud without viewing "
                                    "geometry (a plain PLY, an earlier scan saved elsewhere): coverage is then estimated")


class CoverageConfig(BaseModel):
    """What counts as inspected (compare.coverage): seen and cleared reference surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coverage_cell_m: float = Field(0.2, gt=0.0, description="spacing of the reference samples for coverage")
    coverage_radius_m: float = Field(0.2, gt=0.0, description="a reference sample is seen if a good point lies this close")
    coverage_min_points: int = Field(3, ge=1, description="points needed near a sample to clear it")
    coverage_min_confidence: float = Field(0.3, ge=0.0, le=1.0, description="cloud points below this do not clear")
    clear_height_m: float = Field(
        0.10, ge=0.0, description="coverage: a sample is cleared only where most good cells around it could show a "
        "compartment this high (min_zscore x the z-score's uncertainty <= clear_margin x this); surface seen only "
        "by poorer cells is not inspected (0: any good cell clears)")
    clear_margin: float = Field(
        0.8, gt=0.0, le=1.0, description="share of clear_height_m a compartment's top is counted on: the detector "
        "reads a rounded top low (5 cm cells, median, local baseline); bench/clearance.py measures it")
    thin_plate_m: float = Field(
        0.2, ge=0.0, description="coverage: reference surface with an opposite face of the reference behind it "
        "within this depth (a bilge keel, a propeller blade) is not cleared, however well seen: a compartment on "
        "one face is not told from the plate (bench/keel_caps.py); 0: off")
    coverage_max_z_m: float = Field(-0.1, description="only reference surface below this z (hull frame) must be inspected")
    min_unseen_patch_m2: float = Field(0.1, ge=0.0, description="smaller unseen patches are merged into the total only")


class MirrorConfig(BaseModel):
    """Mirror mode (compare.mirror): the hull compared with its own reflection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mirror_centre_band_m: float = Field(0.3, ge=0.0, description="mirror mode: |y| below this cannot be judged")
    mirror_counterpart_radius_m: float = Field(
        0.12, gt=0.0, description="mirror mode: radius in which a point's mirrored counterpart must be observed")
    mirror_min_density_ratio: float = Field(
        0.1, ge=0.0, description="mirror mode: counterpart needs this share of the point's own good returns")
    mirror_shell_cell_m: float = Field(0.5, gt=0.0, description="mirror mode: cell of the mean shell normal")
    mirror_context_radius_m: float = Field(
        1.0, gt=0.0, description="mirror mode: surroundings of a finding that must agree with their reflection")
    mirror_context_min_judged: float = Field(
        0.5, ge=0.0, le=1.0, description="mirror mode: share of a finding's surroundings that must be comparable")
    mirror_context_min_agreement: float = Field(
        0.7, ge=0.0, le=1.0, description="mirror mode: share of those within min_height of their reflection")
    mirror_icp_points: int = Field(20000, ge=100, description="mirror mode: cloud points used to fit the plane")
    mirror_icp_max_iter: int = Field(12, ge=1, description="mirror mode: ICP iterations per stage of the plane fit")
    mirror_min_zscore: float = Field(3.0, ge=0.0, description="mirror mode: the seed threshold (and so the clearing "
                                     "rule) on its own uncertainty, the worse side's point sigma and the plane "
                                     "fit's residual, not self-calibrated (detection.min_zscore is for the "
                                     "self-calibrated models)")


class ScoringConfig(BaseModel):
    """Risk and ship terms (compare.scoring): region weights and frame numbering."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "sea_chest": 1.0, "rudder": 0.95, "propeller": 0.9, "thruster_tunnel": 0.9, "skeg": 0.85,
            "stern": 0.8, "bilge_keel": 0.75, "bottom": 0.6, "side": 0.55, "bow": 0.5, "anode": 0.4,
            "unknown": 0.6,
        },
        description="risk weight per hull region",
    )
    frame_spacing_m: float | None = Field(None, gt=0.0, description="frame spacing for frame numbers (m)")
    frame_zero_x_m: float = Field(0.0, description="x of frame 0 in the hull frame (m)")


class EvidenceConfig(BaseModel):
    """Camera evidence (compare.evidence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_crops: int = Field(3, ge=0, description="best camera crops kept per finding")
    crop_margin_px: int = Field(24, ge=0)


# Where each setting of the earlier flat ``compare:`` section lives now (issue 14): a flat key in a
# config file or a ``compare.<key>`` parameter is moved into its group on load, with a warning.
FLAT_KEYS: dict[str, str] = {
    "voxel_m": "alignment",
    "icp_max_iter": "alignment",
    "icp_schedule_m": "alignment",
    "tukey_k_m": "alignment",
    "max_residual_m": "alignment",
    "min_inlier_fraction": "alignment",
    "local_block_m": "alignment",
    "local_max_shift_m": "alignment",
    "global_registration": "alignment",
    "registration": "alignment",
    "min_height_m": "detection",
    "min_protrusion_height_m": "detection",
    "grow_height_m": "detection",
    "min_zscore": "detection",
    "min_footprint_m2": "detection",
    "min_volume_m3": "detection",
    "min_points": "detection",
    "min_seed_points": "detection",
    "smooth_radius_m": "detection",
    "baseline_radius_m": "detection",
    "baseline_clip_m": "detection",
    "growth_min_footprint_m2": "detection",
    "growth_max_mean_height_m": "detection",
    "growth_max_slenderness": "detection",
    "merge_gap_m": "detection",
    "merge_max_volume_m3": "detection",
    "unseen_join_m": "detection",
    "max_deviation_m": "detection",
    "min_facing_share": "detection",
    "coverage_cell_m": "coverage",
    "coverage_radius_m": "coverage",
    "coverage_min_points": "coverage",
    "coverage_min_confidence": "coverage",
    "clear_height_m": "coverage",
    "clear_margin": "coverage",
    "coverage_max_z_m": "coverage",
    "min_unseen_patch_m2": "coverage",
    "mirror_centre_band_m": "mirror",
    "mirror_counterpart_radius_m": "mirror",
    "mirror_min_density_ratio": "mirror",
    "mirror_shell_cell_m": "mirror",
    "mirror_context_radius_m": "mirror",
    "mirror_context_min_judged": "mirror",
    "mirror_context_min_agreement": "mirror",
    "mirror_icp_points": "mirror",
    "mirror_icp_max_iter": "mirror",
    "region_weights": "scoring",
    "frame_spacing_m": "scoring",
    "frame_zero_x_m": "scoring",
    "max_crops": "evidence",
    "crop_margin_px": "evidence",
}


class FittingsConfig(BaseModel):
    """How a finding is matched to a fitting the ship's plan declares (``--fittings``, docs/fittings.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance_m: float = Field(0.5, ge=0.0, le=5.0, description="how far a plan's fitting may be from where the "
                               "plan puts it (m), beyond half its length and the survey's stated along-ship "
                               "uncertainty; a plan file's own tolerance_m overrides it")
    height_margin_m: float = Field(0.04, ge=0.0, le=0.2, description="a finding a fitting explains stands at most "
                                   "this much higher than the fitting's declared height (m)")
    volume_factor: float = Field(1.5, ge=1.0, le=3.0, description="a finding a fitting explains holds at most this "
                                 "multiple of its declared volume: a 10 L pack strapped beside a 16 L anode makes a "
                                 "26 L finding, more than 1.5 x 16 L, and it stays a finding (a fitting explains one "
                                 "finding, the nearest to where the plan puts it)")


class CompareConfig(BaseModel):
    """The comparator's settings, by concern (metres unless named)::

        compare:
          alignment: {voxel_m, icp_schedule_m, tukey_k_m, ..., registration: {...}}
          detection: {min_height_m, min_zscore, ...}
          uncertainty: {range_sigma_m, beam_width_deg, self_calibrate, ...}
          coverage:  {coverage_cell_m, clear_height_m, ...}
          mirror:    {mirror_centre_band_m, ...}
          scoring:   {region_weights, frame_spacing_m, frame_zero_x_m}
          evidence:  {max_crops, crop_margin_px}
          fittings:  {tolerance_m, height_margin_m, volume_factor}
          seed: 0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    uncertainty: UncertaintyConfig = Field(default_factory=UncertaintyConfig)
    coverage: CoverageConfig = Field(default_factory=CoverageConfig)
    mirror: MirrorConfig = Field(default_factory=MirrorConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    fittings: FittingsConfig = Field(default_factory=FittingsConfig)
    seed: int = Field(0, description="seed of every random subsample (alignment, coverage): a run repeats exactly")

    @model_validator(mode="before")
    @classmethod
    def _group_flat_keys(cls, data: Any) -> Any:
        """Flat keys of the earlier layout (``compare.min_zscore``) into their groups, with a warning."""
        if not isinstance(data, dict) or not any(k in FLAT_KEYS for k in data):
            return data
        out: dict[str, Any] = {k: v for k, v in data.items() if k not in FLAT_KEYS}
        moved = []
        for key, value in data.items():
            if key in FLAT_KEYS:
                group = FLAT_KEYS[key]
                section = out.get(group)
                section = dict(section) if isinstance(section, dict) else {}
                section[key] = value
                out[group] = section
                moved.append(f"{key} -> {group}.{key}")
        warnings.warn("compare: flat keys moved into their groups (write them there): " + ", ".join(moved),
                      FutureWarning, stacklevel=2)
        return out
