"""Bad scenario files fail with errors that name the key and the expected value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hullscan_sim import load_scenario, simulate
from hullscan_sim.scenario import scenario_from_dict

from hullscan.errors import ConfigError
from tests.sim._helpers import scenario_dict


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_unknown_key(tmp_path: Path) -> None:
    d = scenario_dict()
    d["survey"] = {**d["survey"], "standof_m": 3}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"survey\.standof_m: unknown key"):
        load_scenario(_write(tmp_path, d))


def test_negative_size(tmp_path: Path) -> None:
    d = scenario_dict(parasites=[{"shape": "box", "size_m": [0.5, -0.2, 0.3], "region": "side"}])
    with pytest.raises(ConfigError, match=r"parasites\.0\.size_m.*size_m\[1\] must be > 0"):
        load_scenario(_write(tmp_path, d))


def test_volume_out_of_range(tmp_path: Path) -> None:
    d = scenario_dict(parasites=[{"shape": "box", "size_m": [3, 2, 1], "region": "side"}])
    with pytest.raises(ConfigError, match=r"parasites\.0\.size_m: volume 6\.0000 m\^3 is outside the expected 0\.01\.\.3"):
        simulate(scenario_from_dict(d), tmp_path / "bag")


def test_parasite_off_hull(tmp_path: Path) -> None:
    d = scenario_dict(parasites=[{"shape": "box", "size_m": [0.5, 0.5, 0.3], "position": [25, 12, -2]}])
    with pytest.raises(ConfigError, match=r"parasites\.0\.position: \[25\.0, 12\.0, -2\.0\] is .* m from the hull "
                                          r"surface \(expected a point on the hull"):
        simulate(scenario_from_dict(d), tmp_path / "bag")


def test_unreadable_mesh(tmp_path: Path) -> None:
    (tmp_path / "broken.stl").write_text("solid nothing here\n")
    d = scenario_dict(hull={"mesh": {"path": "broken.stl"}})
    with pytest.raises(ConfigError, match=r"hull\.mesh\.path: .*broken\.stl"):
        simulate(load_scenario(_write(tmp_path, d)), tmp_path / "bag")
    d = scenario_dict(hull={"mesh": {"path": "missing.stl"}})
    with pytest.raises(ConfigError, match=r"hull\.mesh\.path: file 'missing\.stl' not found"):
        load_scenario(_write(tmp_path, d))


def test_bad_region_and_pack_without_chest(tmp_path: Path) -> None:
    d = scenario_dict(parasites=[{"shape": "box", "size_m": [0.5, 0.5, 0.3], "region": "funnel"}])
    with pytest.raises(ConfigError, match=r"parasites\.0\.region.*expected one of bottom, side"):
        scenario_from_dict(d)
    d = scenario_dict(parasites=[{"shape": "pack", "size_m": [0.5, 0.4, 0.3]}])
    d["hull"] = {"parametric": {"length_m": 50, "beam_m": 10, "draft_m": 4, "sea_chests": []}}
    with pytest.raises(ConfigError, match=r"parasites\.0\.shape: a pack goes inside a sea chest"):
        simulate(scenario_from_dict(d), tmp_path / "bag")


def test_existing_output_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    from hullscan.errors import BagError

    with pytest.raises(BagError, match="already exists"):
        simulate(scenario_from_dict(scenario_dict()), tmp_path / "bag", duration_s=1)
