"""Configuration of the reconstruction subsystem."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DriftConfig(BaseModel):
    """Submap alignment that corrects navigation drift (run in ``finish()``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="align submaps with robust ICP and re-fuse")
    require_reference: bool = Field(False, description="correct only against a reference surface; without "
                                    "one leave the navigation as recorded (the live mapper: the reference is "
                                    "the comparator's, placed where it registered the map; in mirror mode, which "
                                    "the comparator says, between the survey's passes as replay; docs/ros.md)")
    submap_length_m: float = Field(10.0, gt=0.5, description="distance travelled per submap")
    icp_voxel: float = Field(0.05, gt=0.0, description="downsampling voxel for ICP (m)")
    max_correspondence_m: float = Field(1.5, gt=0.0, description="ICP correspondence distance at the start")
    tukey_k: float = Field(0.1, gt=0.0, description="Tukey robust kernel scale (m)")
    min_overlap_points: int = Field(200, ge=10, description="skip submaps with less overlap")
    max_drift_rate: float = Field(0.02, gt=0.0, description="largest credible drift per metre travelled; "
                                  "a bigger correction step between submaps is rejected")
    fix_depth: bool = Field(False, description="keep depth (pressure sensor, no drift) out of the correction")
    min_improvement: float = Field(0.10, ge=0.0, lt=1.0,
                                   description="accept a submap correction only if it lowers the overlap "
                                               "cost by this fraction")
    # Alignment to a reference surface (absolute: also corrects the first lane and heading bias)
    reference: str | None = Field(None, description="design mesh (STL/OBJ/PLY) or an earlier hullscan cloud "
                                                    "PLY; submaps are aligned to it (yaw + translation) "
                                                    "instead of to each other")
    hull_to_nav: str | None = Field(None, description="navigation prior file (JSON/YAML): the reference "
                                                      "file's own frame in the navigation frame, with an "
                                                      "optional sigma (docs/prior.md); needed for a mesh, "
                                                      "identity for a cloud")
    reference_units: str = Field("auto", description="mesh units: auto, m, cm, mm, model")
    reference_max_points: int = Field(20000, ge=100, description="submap points used against the reference")
    reference_min_eig_ratio: float = Field(
        0.005, gt=0.0, lt=1.0, description="against the reference, a direction is constrained if its ICP "
        "eigenvalue exceeds this fraction of the largest (submap to submap: 0.05); a few bilge points fix "
        "a bottom lane sideways")
    max_yaw_deg: float = Field(3.0, gt=0.0, le=45.0,
                               description="largest heading correction against the reference (deg)")
    smoother: bool = Field(True, description="against a reference, solve all submaps' corrections together "
                           "under a drift model (a direction a submap does not constrain comes from its "
                           "neighbours before and after); false: align them in turn, carrying the last "
                           "correction (hullscan/recon/smoothing.py)")
    smoother_drift_rate: float = Field(0.01, gt=0.0, description="smoother: position drift per metre "
                                       "travelled (1 sigma per axis)")
    smoother_correlation_m: float = Field(40.0, gt=0.0, description="smoother: distance over which the drift "
                                          "rate stays correlated (DVL drift is a velocity error)")
    smoother_yaw_rate_deg: float = Field(0.002, gt=0.0, description="smoother: heading drift per metre "
                                         "travelled (deg, 1 sigma)")
    smoother_vertical_prior_m: float = Field(0.2, gt=0.0, description="smoother: how far (1 sigma) a submap's "
                                             "vertical correction may stray from the registered placement where its fit "
                                             "does not fix it (depth comes from a pressure sensor, which does not drift; "
                                             "a single side lane leaves the vertical to a wall's slight tilt)")
    fit_sigma_m: float = Field(0.02, gt=0.0, description="smoother: uncertainty of a submap's fit along "
                               "its best-constrained direction (m); weaker directions in proportion")
    along_features: bool = Field(False, description="smoother: measure each submap's position along the ship "
                                 "from reference relief it saw (an anode) on a 1-D profile of its distance to the "
                                 "reference (hullscan/recon/alongfix.py); plain plating, a taper and a row of "
                                 "look-alike features give none. Off by default: on the scenario library it placed "
                                 "partial_coverage's lane to 5 cm but moved all_sensors' 0.2 m the wrong way "
                                 "(docs/evaluation.md, stop 46)")
    smoother_refit_m: float = Field(0.5, gt=0.0, description="smoother: correspondence distance when "
                                    "submaps are fitted again from the solved corrections")
    measured_sigma: bool = Field(
        True, description="against a reference, the corrected navigation's position uncertainty is what each "
        "submap's correction leaves there (RMS to the reference), not the DVL/INS's absolute sigma, which grows "
        "with distance and would leave no plating of a long survey clearable; where a submap does not lie on the "
        "reference the DVL's is kept (false: the DVL's everywhere; docs/results/issue15_uncertainty.md, stop 30)")


class TilingConfig(BaseModel):
    """A whole ship in bounded memory (``hullscan/recon/tiles.py``): kept returns spill to disk and the
    map is fused and extracted one cube of ``tile_m`` at a time. The cloud is the in-memory path's, bit
    for bit; peak memory follows the tile, not the hull. Replay and batch only (no live cloud)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="fuse tile by tile (for hulls whose map does not fit in memory)")
    tile_m: float = Field(16.0, ge=0.1, le=100.0, description="tile edge (m), rounded to whole extraction cells")
    spill_dir: str | None = Field(None, description="folder for the spilled returns (5 bytes a beam; default: "
                                  "a temporary folder, removed at the end)")


class ReconConfig(BaseModel):
    """Georeferencing, cleaning and fusion settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voxel_size: float = Field(0.02, ge=0.01, le=0.05, description="fusion voxel edge (m)")
    time_offset_s: float = Field(0.0, description="sonar clock minus navigation clock (s)")
    max_nav_gap_s: float = Field(0.5, gt=0.0, description="pings in a longer navigation gap are dropped")
    max_speed_mps: float = Field(5.0, gt=0.0, description="faster apparent motion is a pose jump")
    nav_depth_smoothing_s: float = Field(
        0.5, ge=0.0, le=5.0, description="half-width of the window (s) over which navigation depth is smoothed "
        "(a local quadratic in time) before pings are placed: a depth sensor's white noise otherwise moves whole "
        "swaths and reads as swath-wide strips on flat plating; 0: off. Pings wait this long for navigation")
    # Georeferencing
    range_sigma: float = Field(0.02, ge=0.0, description="1-sigma range noise of the sonar (m)")
    beamwidth_rad: float | None = Field(None, gt=0.0, description="override the ping's beam width")
    # Imaging sonar detection (cell-averaging CFAR, first detection along each beam)
    cfar_guard: int = Field(2, ge=0, description="CFAR guard cells each side")
    cfar_train: int = Field(8, ge=1, description="CFAR training cells each side")
    cfar_scale: float = Field(4.0, gt=0.0, description="detection threshold / noise estimate")
    cfar_min_intensity: float = Field(1.0, ge=0.0, description="absolute detection floor")
    # Cleaning
    min_range_m: float = Field(0.2, ge=0.0, description="drop returns nearer than this")
    max_range_m: float = Field(30.0, gt=0.0, description="drop returns farther than this")
    min_intensity: float = Field(0.0, ge=0.0, description="drop returns weaker than this (0: off)")
    spike_threshold_m: float = Field(0.15, gt=0.0, description="spike if this far off agreeing neighbours")
    min_grazing_deg: float = Field(10.0, ge=0.0, lt=90.0, description="drop returns at shallower grazing")
    # Fusion and free-space evidence
    carve: bool = Field(True, description="free-space evidence along each beam near the surface")
    carve_start_sigmas: float = Field(3.0, ge=0.0, description="carving starts this many sigmas before a hit")
    carve_length_m: float = Field(0.2, ge=0.0, description="length of the carved band before each hit")
    fusion_weight_range_m: float = Field(
        2.7, ge=0.0, description="returns weigh 1 / (1 + (range / r0)^2) in the voxel map's positions: r0 is the "
        "range where the beam footprint's spread equals the range noise (2 cm over a 1 degree beam: 2.7 m), so far, "
        "wide-footprint returns stop pulling the surface where near passes saw it (docs/method.md, Fusion); "
        "0: every return alike (before stop 37)")
    # Surface extraction
    surface_cell_voxels: int = Field(2, ge=1, le=4,
                                     description="plane-fit cell edge in voxels (window: 3 cells)")
    min_hits: int = Field(2, ge=1, description="neighbourhood hits needed to output a point")
    seen_times: bool = Field(True, description="keep when each voxel was first and last seen, for evidence across "
                             "passes (8 bytes a voxel; kept in checkpoints, so across a restart)")
    max_miss_ratio: float = Field(1.0, ge=0.0, description="voxels with misses > ratio*hits are free space")
    chunk_pings: int = Field(256, ge=1, description="pings processed per kernel call (1: live, lowest latency)")
    max_pending_pings: int = Field(5000, ge=1, description="pings waiting for navigation before being dropped")
    drift: DriftConfig = DriftConfig()
    tiling: TilingConfig = TilingConfig()
