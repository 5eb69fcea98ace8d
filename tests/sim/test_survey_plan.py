from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hullscan_sim.scenario import SurveySpec
from hullscan_sim.survey import plan_route, route_from_plan

from hullscan.errors import ConfigError


def test_survey_flies_a_plans_route(tmp_path: Path) -> None:
    p = tmp_path / "plan.json"
    route = [[0, -5, -3, 0], [40, -5, -3, 50], [40, -5, -9, 60]]
    p.write_text(json.dumps({"route_hull": route, "vehicle": {"speed_mps": 0.6}}))
    got, speed = route_from_plan(str(p))
    assert speed == 0.6 and np.allclose(got, np.asarray(route)[:, :3])
    assert np.allclose(plan_route(None, SurveySpec(plan=str(p))), got)  # type: ignore[arg-type]


def test_unreadable_plan_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "plan.json"
    p.write_text("{}")
    with pytest.raises(ConfigError, match=r"not a readable hullscan plan\.json"):
        route_from_plan(str(p))
