"""Configuration of the comparator subsystem."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RegistrationConfig(BaseModel):
    """Coarse, multi-hypothesis registration from the navigation prior (compare.registration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coarse_voxel_m: float = Field(0.5, gt=0.0, description="voxel of the sparse cloud the coarse fit uses (m)")
    coarse_points: int = Field(3000, ge=100, description="most cloud points in the coarse fit")
    proxy_spacing_m: float = Field(0.15, gt=0.0, description="spacing of the reference samples the coarse fit "
                                   "queries (a KD-tree of oriented samples instead of the mesh)")
    seed_heading_step_deg: float = Field(10.0, gt=0.0, description="heading spacing of the seeds (deg)")
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
    along_points: int = Field(10000, ge=100, description="cloud points in the scan of the fit along the ship")
    along_settle_m: float = Field(1.5, gt=0.0, description="the fit is moved along the ship to its lowest cost "
                                  "within +/- this (m)")
    along_settle_step_m: float = Field(0.1, gt=0.0, description="step of that scan (m)")
    along_tie: float = Field(0.03, gt=0.0, description="shifts along the ship whose cost is within this share of "
                             "the lowest are as good: the reported ambiguity")
    ambiguity_scan_m: float = Field(10.0, gt=0.0, description="least reach of the scan along the ship (m)")
    ambiguity_step_m: float = Field(0.5, gt=0.0, description="step of the scan along the ship (m)")


class CompareConfig(BaseModel):
    """Alignment, deviation, finding, coverage and scoring thresholds (metres unless named)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- findings
    min_height_m: float = Field(0.05, gt=0.0, description="smallest deviation that can form a finding (m)")
    grow_height_m: float = Field(0.025, gt=0.0, description="a finding grows over neighbours deviating more than this (m)")
    min_zscore: float = Field(3.0, ge=0.0, description="deviation / uncertainty a seed point must exceed")
    min_footprint_m2: float = Field(0.02, ge=0.0, description="smaller deviating patches are roughness, not findings")
    min_volume_m3: float = Field(0.002, ge=0.0, description="smaller deviating patches are not reported")
    min_points: int = Field(12, ge=1, description="fewest cloud points a finding needs")
    min_seed_points: int = Field(
        12, ge=1, description="fewest cloud points in a finding's seed cells (those clearing min_height and "
        "min_zscore); fewer: a fragment merged into a neighbour, or dropped")
    smooth_radius_m: float = Field(0.08, gt=0.0, description="median filter radius over the deviation (barnacles)")
    baseline_radius_m: float = Field(1.5, gt=0.0, description="radius of the local baseline (as-built, growth layer)")
    baseline_clip_m: float = Field(0.06, ge=0.0, description="largest local baseline removed (as-built tolerance)")
    growth_min_footprint_m2: float = Field(1.5, ge=0.0, description="a protrusion this broad ...")
    growth_max_mean_height_m: float = Field(0.08, ge=0.0, description="... whose mean height is below this ...")
    growth_max_slenderness: float = Field(0.12, ge=0.0,
                                          description="... and max height / sqrt(footprint) below this is a growth layer")
    merge_gap_m: float = Field(0.3, ge=0.0, description="fragments this close to a larger finding belong to it")
    merge_max_volume_m3: float = Field(0.01, ge=0.0, description="largest fragment merged into a neighbour (m3)")
    max_deviation_m: float = Field(1.5, gt=0.0, description="points further from the reference are not hull")
    frame_spacing_m: float | None = Field(None, gt=0.0, description="frame spacing for frame numbers (m)")
    frame_zero_x_m: float = Field(0.0, description="x of frame 0 in the hull frame (m)")
    # --- alignment
    voxel_m: float = Field(0.10, gt=0.0, description="voxel size of the cloud used for alignment")
    icp_max_iter: int = Field(40, ge=1)
    icp_schedule_m: tuple[float, ...] = Field((0.8, 0.3, 0.12), description="ICP correspondence radii, coarse to fine")
    tukey_k_m: float = Field(0.06, gt=0.0, description="Tukey width of the final ICP stage (compartments are outliers)")
    max_residual_m: float = Field(0.06, gt=0.0, description="alignment RMS above this fails (different ship?)")
    min_inlier_fraction: float = Field(
        0.8, gt=0.0, le=1.0, description="share of the cloud within 2 x tukey_k of the reference after ICP; the "
        "right ship fits >= 0.886 in every scenario (1.7 m drift, heavy growth), a similar ship's midbody 0.77")
    local_block_m: float = Field(4.0, ge=0.0, description="piecewise drift correction block size (0: rigid only)")
    local_max_shift_m: float = Field(0.6, gt=0.0, description="largest drift a block may be shifted by (m)")
    global_registration: bool = Field(True, description="try FPFH + RANSAC when no navigation prior is given, or when the prior does not fit")
    seed: int = 0
    registration: RegistrationConfig = Field(default_factory=RegistrationConfig)
    # --- coverage
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
    coverage_max_z_m: float = Field(-0.1, description="only reference surface below this z (hull frame) must be inspected")
    min_unseen_patch_m2: float = Field(0.1, ge=0.0, description="smaller unseen patches are merged into the total only")
    # --- scoring
    region_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "sea_chest": 1.0, "rudder": 0.95, "propeller": 0.9, "thruster_tunnel": 0.9, "skeg": 0.85,
            "stern": 0.8, "bilge_keel": 0.75, "bottom": 0.6, "side": 0.55, "bow": 0.5, "anode": 0.4,
            "unknown": 0.6,
        },
        description="risk weight per hull region",
    )
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
    # --- camera evidence
    max_crops: int = Field(3, ge=0, description="best camera crops kept per finding")
    crop_margin_px: int = Field(24, ge=0)
