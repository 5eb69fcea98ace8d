"""Scenario files: one pydantic model (unknown keys are errors) and the YAML loader.

A scenario says which hull, what is stuck on it, how the drone surveys it, how
its navigation drifts and which sensors it carries. Errors name the key and
the value expected, e.g. ``parasites.0.size_m.2: Input should be greater than 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hullscan.config import model_from_dict, read_yaml
from hullscan.errors import ConfigError
from hullscan.hull.mesh import REGIONS

Pos = float  # metres
Vec3 = tuple[float, float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeaChestSpec(_Strict):
    """A recess in the side shell behind a grating (cooling-water intake)."""

    x_m: float | None = Field(None, description="centre, m from the stern end of the waterline (default 25 % L)")
    side: Literal["port", "starboard"] = "port"
    depth_below_wl_m: float | None = Field(None, gt=0, description="centre depth (default 75 % of draft)")
    width_m: float = Field(1.6, gt=0.2, le=6, description="along the hull")
    height_m: float = Field(1.0, gt=0.2, le=4)
    recess_m: float = Field(0.5, gt=0.1, le=2, description="depth of the recess into the hull")
    bar_spacing_m: float = Field(0.15, gt=0.03, le=1, description="grating bar pitch (0.15 m typical)")


class ParametricHullSpec(_Strict):
    """A merchant hull built from a few main dimensions (see hullscan_sim.hullform)."""

    length_m: float = Field(80.0, gt=5, le=400, description="waterline length")
    beam_m: float = Field(14.0, gt=1, le=70)
    draft_m: float = Field(5.0, gt=0.5, le=25)
    depth_m: float | None = Field(None, gt=0, description="keel to deck (default 1.6 x draft)")
    block_coefficient: float = Field(0.72, ge=0.45, le=0.9)
    parallel_midbody: float = Field(0.35, ge=0.0, le=0.7, description="fraction of the length")
    bilge_radius_m: float | None = Field(None, gt=0)
    bulbous_bow: bool = True
    skeg: bool = True
    rudder: bool = True
    propeller_blades: int = Field(4, ge=0, le=7, description="0: no propeller")
    propeller_diameter_m: float | None = Field(None, gt=0)
    bilge_keels: bool = True
    bow_thruster: bool = True
    sea_chests: list[SeaChestSpec] = Field(default_factory=lambda: [SeaChestSpec()])
    anodes: int = Field(8, ge=0, le=60, description="sacrificial anodes placed on side, bottom and stern")
    resolution_m: float = Field(0.3, ge=0.05, le=2.0, description="target triangle edge length")


class MeshHullSpec(_Strict):
    """A hull read from a mesh file (STL/OBJ/PLY, optionally .gz)."""

    path: str
    units: Literal["auto", "m", "cm", "mm", "model"] = "auto"
    scale: float | None = Field(None, gt=0, description="file units to metres (overrides units)")
    length_m: float | None = Field(None, gt=0, description="full-scale length for a model-scale file")
    bow: Literal["auto", "+x", "-x", "+y", "-y", "+z", "-z"] = "auto"
    up: Literal["auto", "+x", "-x", "+y", "-y", "+z", "-z"] = "auto"
    draft_m: float | None = Field(None, gt=0, description="waterline height above the lowest point")
    waterline_z: float | None = Field(None, description="waterline in file units along the file's up axis")
    anodes_draft_m: float | None = Field(None, gt=0, description="the draft the anodes were placed at (they are "
                                         "fitted in dry dock, not moved with the load); default draft_m")
    trim_m: float = Field(0.0, description="aft draft minus forward draft (m, positive by the stern; with it "
                          "draft_m is the mean draft at mid-length): the ship floats pitched")
    anodes: int = Field(6, ge=0, le=60)


class HullSpec(_Strict):
    parametric: ParametricHullSpec | None = None
    mesh: MeshHullSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> HullSpec:
        if self.parametric is not None and self.mesh is not None:
            raise ValueError("give either 'parametric' or 'mesh', not both")
        if self.parametric is None and self.mesh is None:
            object.__setattr__(self, "parametric", ParametricHullSpec())
        return self


class ParasiteSpec(_Strict):
    """A hidden compartment. Placed by ``position`` (hull frame, or the mesh file's own frame in
    metres with ``position_frame: file``, snapped to the surface) or by
    ``region`` (+ optional ``side`` and ``x_m``). ``size_m``: box/pack/limpet length, width,
    height; torpedo length, diameter, diameter."""

    id: str | None = None
    shape: Literal["box", "torpedo", "limpet", "pack"]
    size_m: tuple[float, float, float]
    position: Vec3 | None = None
    position_frame: Literal["hull", "file"] = Field(
        "hull", description="frame of 'position': the hull frame (x from the stern end of today's waterline, "
        "z up from it), or the mesh file's own (metres), which does not move with the draft: the same "
        "spot on two visits of one ship")
    region: str | None = None
    side: Literal["port", "starboard", "bottom"] | None = None
    x_m: float | None = None
    yaw_deg: float = Field(0.0, ge=-180, le=180, description="rotation about the surface normal")

    @field_validator("size_m")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        for i, s in enumerate(v):
            if not s > 0:
                raise ValueError(f"size_m[{i}] must be > 0 m, got {s}")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and v not in REGIONS:
            raise ValueError(f"expected one of {', '.join(REGIONS)}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _where(self) -> ParasiteSpec:
        if self.position is None and self.region is None and self.shape != "pack":
            raise ValueError("give 'position' (hull frame x, y, z) or 'region'")
        return self


class GrowthSpec(_Strict):
    """Marine growth: barnacle-scale roughness plus patchy layers (not to be flagged)."""

    roughness_m: float = Field(0.0, ge=0, le=0.1, description="1-sigma roughness (barnacles: 0.005-0.03)")
    cell_m: float = Field(0.05, gt=0.005, le=1.0, description="roughness cell size")
    patch_thickness_m: float = Field(0.0, ge=0, le=0.2, description="thickness of growth patches")
    patch_scale_m: float = Field(3.0, gt=0.2, le=50)


class AsBuiltSpec(_Strict):
    """Deviations of the real hull from its design mesh (not to be flagged)."""

    dents: int = Field(0, ge=0, le=200)
    dent_depth_m: float = Field(0.03, ge=0, le=0.1)
    dent_radius_m: float = Field(0.6, gt=0.1, le=3)
    seam_height_m: float = Field(0.0, ge=0, le=0.05, description="weld seam ridge height")
    seam_spacing_m: float = Field(2.4, gt=0.3, le=20, description="plate width / frame spacing")


SideName = Literal["port", "starboard"]


def _both_sides() -> list[SideName]:
    return ["starboard", "port"]


class SurveySpec(_Strict):
    """Lanes at a standoff: along each chosen side, then a lawnmower under the bottom."""

    standoff_m: float = Field(3.0, gt=0.5, le=15)
    speed_mps: float = Field(0.8, gt=0.05, le=3)
    speed_variation: float = Field(0.15, ge=0, le=0.6, description="relative speed wobble")
    sides: list[SideName] = Field(default_factory=_both_sides)
    side_lane_depths: list[float] = Field(default_factory=lambda: [0.5],
                                          description="fractions of the draft for side lanes")
    bottom_lanes: int = Field(3, ge=0, le=40)
    bottom_lane_spacing_m: float | None = Field(None, gt=0.5, description="default: beam / bottom_lanes")
    x_range_m: tuple[float, float] | None = Field(None, description="survey only this hull section")
    min_depth_m: float = Field(1.0, ge=0, description="the drone stays this deep (leaves a gap near the waterline)")
    max_duration_s: float | None = Field(None, gt=0, description="stop the survey after this time")
    motion: float = Field(1.0, ge=0, le=5, description="scale of sway/heave/roll/pitch/yaw wobble")
    plan: str | None = Field(None, description="fly the route of a `hullscan plan` plan.json (hull frame) at its "
                             "speed instead of the lanes above (relative to the scenario file)")

    @field_validator("side_lane_depths")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        for f in v:
            if not 0 < f <= 1.5:
                raise ValueError(f"expected fractions of the draft in (0, 1.5], got {f}")
        return v

    @field_validator("x_range_m")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"expected [start, end] with start < end, got {list(v)}")
        return v


class NavigationSpec(_Strict):
    """DVL/INS dead reckoning: drift grows with distance; depth is measured directly."""

    rate_hz: float = Field(20.0, gt=1, le=200)
    drift_percent: float = Field(0.3, ge=0, le=10, description="horizontal drift, % of distance travelled")
    correlation_m: float = Field(30.0, gt=0.5, description="distance over which the drift direction wanders")
    heading_bias_deg: float = Field(0.2, ge=-10, le=10)
    depth_sigma_m: float = Field(0.02, ge=0, le=1)
    attitude_sigma_deg: float = Field(0.05, ge=0, le=5)


class MountSpec(_Strict):
    """Sensor pose on base_link: translation (m) and how far the look direction is tilted
    up from the vehicle's left (port) side, in degrees (45: up-left)."""

    xyz: Vec3 = (0.3, 0.0, 0.2)
    tilt_deg: float = Field(45.0, ge=-90, le=90)


class MultibeamSpec(_Strict):
    rate_hz: float = Field(30.0, ge=1, le=60)
    beams: int = Field(512, ge=16, le=2048)
    swath_deg: float = Field(126.0, gt=10, le=180)
    beamwidth_deg: float = Field(1.0, gt=0.1, le=5)
    footprint_rays: int = Field(4, ge=1, le=16, description="rays sampled inside each beam's cone")
    range_min_m: float = Field(0.3, ge=0)
    range_max_m: float = Field(20.0, gt=1, le=200)
    noise_m: float = Field(0.01, ge=0, le=0.5, description="range noise at zero range (1 sigma)")
    noise_per_m: float = Field(0.001, ge=0, le=0.05, description="extra range noise per metre of range")
    grazing_dropout_deg: float = Field(78.0, gt=30, le=90, description="incidence where half the returns drop")
    spike_rate: float = Field(0.002, ge=0, le=0.2, description="fish/bubble spikes per beam")
    ghost_rate: float = Field(0.001, ge=0, le=0.2, description="multipath ghosts per beam")
    mount: MountSpec = MountSpec()


class ImagingSpec(_Strict):
    rate_hz: float = Field(5.0, ge=0.2, le=30)
    beams: int = Field(96, ge=8, le=512)
    fov_deg: float = Field(60.0, gt=5, le=150)
    elevation_deg: float = Field(12.0, gt=1, le=40)
    elevation_rays: int = Field(8, ge=1, le=32)
    range_bins: int = Field(200, ge=16, le=2000)
    range_max_m: float = Field(12.0, gt=1, le=100)
    speckle: float = Field(1.0, ge=0, le=1, description="0: none, 1: fully developed (Rayleigh)")
    mount: MountSpec = MountSpec(xyz=(0.4, 0.0, 0.2), tilt_deg=20.0)


class PointsSpec(_Strict):
    rate_hz: float = Field(5.0, ge=0.2, le=30)
    width: int = Field(64, ge=4, le=512)
    height: int = Field(32, ge=2, le=256)
    fov_deg: tuple[float, float] = (60.0, 30.0)
    range_max_m: float = Field(15.0, gt=1, le=100)
    noise_m: float = Field(0.02, ge=0, le=0.5)
    mount: MountSpec = MountSpec(xyz=(0.4, 0.0, 0.25), tilt_deg=20.0)


class CameraSpec(_Strict):
    rate_hz: float = Field(2.0, ge=0.1, le=30)
    width: int = Field(160, ge=16, le=1280)
    height: int = Field(120, ge=12, le=960)
    fov_deg: float = Field(70.0, gt=10, le=150)
    color: bool = True
    compressed: bool = False
    noise: float = Field(4.0, ge=0, le=50, description="pixel noise, grey levels")
    mount: MountSpec = MountSpec(xyz=(0.5, 0.0, 0.1), tilt_deg=20.0)


class SensorsSpec(_Strict):
    multibeam: MultibeamSpec | None = MultibeamSpec()
    imaging: ImagingSpec | None = None
    points: PointsSpec | None = None
    camera: CameraSpec | None = None

    @model_validator(mode="after")
    def _some(self) -> SensorsSpec:
        if self.multibeam is None and self.imaging is None and self.points is None:
            raise ValueError("at least one sonar (multibeam, imaging or points) is needed")
        return self


class WaterSpec(_Strict):
    attenuation_per_m: float = Field(0.15, ge=0, le=5, description="light attenuation (turbidity)")
    backscatter: float = Field(0.25, ge=0, le=1, description="veiling light from suspended particles")
    sound_speed_mps: float = Field(1500.0, ge=1400, le=1600)


class PlacementSpec(_Strict):
    """Where the ship lies in the navigation frame (odom, ENU)."""

    heading_deg: float = Field(30.0, ge=-360, le=360, description="bow direction, degrees from east")
    origin_en_m: tuple[float, float] = (50.0, -20.0)


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0)
    start_time_s: float = Field(1_714_550_400.0, ge=0, description="stamp of the first message (UTC s)")
    hull: HullSpec = HullSpec()
    placement: PlacementSpec = PlacementSpec()
    parasites: list[ParasiteSpec] = Field(default_factory=list)
    growth: GrowthSpec = GrowthSpec()
    as_built: AsBuiltSpec = AsBuiltSpec()
    survey: SurveySpec = SurveySpec()
    navigation: NavigationSpec = NavigationSpec()
    sensors: SensorsSpec = SensorsSpec()
    water: WaterSpec = WaterSpec()
    storage: Literal["mcap", "sqlite3"] = "mcap"


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    sc: Scenario = model_from_dict(Scenario, data, source)
    return sc


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML; a relative mesh path is resolved against the file."""
    p = Path(path)
    data = read_yaml(p)
    sc = scenario_from_dict(data, str(p))
    if sc.hull.mesh is not None:
        mp = Path(sc.hull.mesh.path)
        if not mp.is_absolute():
            mp = (p.parent / mp).resolve()
            if not mp.exists():
                raise ConfigError(f"{p}: hull.mesh.path: file {sc.hull.mesh.path!r} not found (expected a mesh "
                                  f"file relative to the scenario or absolute)")
            mesh = sc.hull.mesh.model_copy(update={"path": str(mp)})
            sc = sc.model_copy(update={"hull": HullSpec(mesh=mesh)})
    if sc.survey.plan is not None and not Path(sc.survey.plan).is_absolute():
        pp = (p.parent / sc.survey.plan).resolve()
        if not pp.exists():
            raise ConfigError(f"{p}: survey.plan: file {sc.survey.plan!r} not found (expected a plan.json relative "
                              "to the scenario or absolute)")
        sc = sc.model_copy(update={"survey": sc.survey.model_copy(update={"plan": str(pp)})})
    return sc
