from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.errors import PlanError
from hullscan.plan.sonar import IMAGING, MULTIBEAM, load_profile


def test_presets_copy_the_simulators_defaults() -> None:
    sim = pytest.importorskip("hullscan_sim.scenario")
    mb, im = sim.MultibeamSpec(), sim.ImagingSpec()
    assert (MULTIBEAM.beams, MULTIBEAM.swath_deg, MULTIBEAM.beam_width_deg, MULTIBEAM.range_sigma_m,
            MULTIBEAM.range_sigma_per_m, MULTIBEAM.range_max_m, MULTIBEAM.ping_rate_hz, MULTIBEAM.tilt_deg) == \
        (mb.beams, mb.swath_deg, mb.beamwidth_deg, mb.noise_m, mb.noise_per_m, mb.range_max_m, mb.rate_hz, mb.mount.tilt_deg)
    assert (IMAGING.beams, IMAGING.swath_deg, IMAGING.aperture_deg, IMAGING.range_max_m, IMAGING.ping_rate_hz,
            IMAGING.tilt_deg) == (im.beams, im.fov_deg, im.elevation_deg, im.range_max_m, im.rate_hz, im.mount.tilt_deg)


def test_yaml_profile_overrides_a_preset(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text("preset: multibeam\nbeams: 256\nping_rate_hz: 10\n")
    prof = load_profile(str(p))
    assert prof.name == "mine" and prof.beams == 256 and prof.ping_rate_hz == 10 and prof.swath_deg == 126.0


@pytest.mark.parametrize("text, match", [("beamz: 3\n", "unknown sonar profile field"),
                                         ("beams: 1\n", "beams: expected at least 2"),
                                         ("- 1\n", "expected a mapping")])
def test_bad_profiles_are_clear_errors(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(PlanError, match=match):
        load_profile(str(p))


def test_unknown_preset() -> None:
    with pytest.raises(PlanError, match="neither a preset"):
        load_profile("sidescan")
