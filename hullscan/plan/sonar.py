"""Sonar profiles for planning: what one ping sees and how well (beams, swath, beam width, range
noise, maximum range, ping rate, and how the head is mounted on the vehicle).

The presets copy the simulator's sensor defaults (``hullscan_sim.scenario.MultibeamSpec`` and
``ImagingSpec``, ``MountSpec``): hullscan does not import the simulator at run time, so a change
there must be copied here by hand (``tests/hullscan/plan/test_sonar.py`` compares them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from hullscan.errors import PlanError

Fan = Literal["across", "along"]


@dataclass(frozen=True)
class SonarProfile:
    """One sonar head as the planner sees it.

    ``fan``: ``across`` for a profiler whose fan slices across the hull (the beams lie in the
    vehicle's y-z plane), ``along`` for an imaging sonar whose fan lies along the hull. ``aperture_deg``:
    the spread across the fan (the -3 dB beam width for a profiler, the elevation aperture for an
    imaging sonar); ``beam_width_deg`` is what the uncertainty model takes as the beam's width.
    ``tilt_deg``: the look direction, tilted up from the vehicle's left (port) side, as the simulator
    mounts it. ``max_incidence_deg``: returns beyond this incidence are lost (the simulator drops
    half of them at 78 degrees; reconstruction drops all beyond 80).
    """

    name: str
    beams: int
    swath_deg: float
    beam_width_deg: float
    range_sigma_m: float
    range_sigma_per_m: float
    range_min_m: float
    range_max_m: float
    ping_rate_hz: float
    fan: Fan = "across"
    aperture_deg: float = 1.0
    tilt_deg: float = 45.0
    max_incidence_deg: float = 78.0

    def __post_init__(self) -> None:
        checks = [(self.beams >= 2, "beams: expected at least 2"),
                  (0 < self.swath_deg <= 180, "swath_deg: expected 0 < swath <= 180"),
                  (0 < self.beam_width_deg <= 45, "beam_width_deg: expected 0 < width <= 45"),
                  (self.range_sigma_m > 0 and self.range_sigma_per_m >= 0, "range noise: expected > 0"),
                  (0 <= self.range_min_m < self.range_max_m, "range_min_m < range_max_m expected"),
                  (self.ping_rate_hz > 0, "ping_rate_hz: expected > 0"),
                  (self.fan in ("across", "along"), "fan: expected 'across' or 'along'"),
                  (0 < self.aperture_deg <= 60, "aperture_deg: expected 0 < aperture <= 60"),
                  (-90 <= self.tilt_deg <= 90, "tilt_deg: expected -90..90"),
                  (0 < self.max_incidence_deg < 90, "max_incidence_deg: expected 0 < incidence < 90")]
        for ok, what in checks:
            if not ok:
                raise PlanError(f"sonar profile {self.name!r}: {what}")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# The simulator's MultibeamSpec defaults (sim/scenario.py): 512 beams over 126 degrees, 1 degree
# beams, 1 cm + 0.1 %/m range noise, 0.3-20 m, 30 Hz, mounted looking left and 45 degrees up,
# returns dropped around 78 degrees of incidence.
MULTIBEAM = SonarProfile("multibeam", beams=512, swath_deg=126.0, beam_width_deg=1.0, range_sigma_m=0.01,
                         range_sigma_per_m=0.001, range_min_m=0.3, range_max_m=20.0, ping_rate_hz=30.0,
                         fan="across", aperture_deg=1.0, tilt_deg=45.0, max_incidence_deg=78.0)
# The simulator's ImagingSpec defaults: 96 beams over a 60 degree fan along the hull, a 12 degree
# elevation aperture (the beam width the uncertainty sees), 12 m, 5 Hz, looking left and 20 degrees
# up. Its range noise is a range bin (12 m / 200 bins = 6 cm, a uniform bin's sigma is 1.7 cm).
IMAGING = SonarProfile("imaging", beams=96, swath_deg=60.0, beam_width_deg=12.0, range_sigma_m=0.017,
                       range_sigma_per_m=0.0, range_min_m=0.3, range_max_m=12.0, ping_rate_hz=5.0,
                       fan="along", aperture_deg=12.0, tilt_deg=20.0, max_incidence_deg=78.0)
PRESETS: dict[str, SonarProfile] = {p.name: p for p in (MULTIBEAM, IMAGING)}


def load_profile(spec: str) -> SonarProfile:
    """A preset by name (``multibeam``, ``imaging``) or a YAML file of :class:`SonarProfile` fields
    (``preset: NAME`` starts from a preset and overrides the fields given)."""
    if spec in PRESETS:
        return PRESETS[spec]
    p = Path(spec)
    if not p.exists():
        raise PlanError(f"--sonar {spec}: neither a preset ({', '.join(PRESETS)}) nor an existing YAML file")
    import yaml

    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise PlanError(f"{p}: cannot read the sonar profile: {err}") from err
    if not isinstance(data, dict):
        raise PlanError(f"{p}: expected a mapping of sonar profile fields, got {type(data).__name__}")
    base = PRESETS.get(str(data.pop("preset", "multibeam")))
    if base is None:
        raise PlanError(f"{p}: preset: expected one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(SonarProfile)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PlanError(f"{p}: unknown sonar profile field(s) {', '.join(unknown)} (expected {', '.join(sorted(known))})")
    try:
        return replace(base, name=str(data.pop("name", p.stem)), **data)
    except TypeError as err:
        raise PlanError(f"{p}: {err}") from err
