from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.commands.plan import parse_duration
from hullscan.errors import PlanError
from hullscan.hull import save_mesh
from tests.hullscan.plan.hulls import barge


def test_durations() -> None:
    assert parse_duration("30min") == 1800 and parse_duration("1h30min") == 5400
    assert parse_duration("90s") == 90 and parse_duration("12") == 720
    with pytest.raises(PlanError, match="expected a duration"):
        parse_duration("half an hour")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("plan") / "barge.ply"
    save_mesh(barge(), p)
    return p


def _plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", "plan", *args], capture_output=True, text=True)


def test_plan_writes_json_and_drawing_with_nav_waypoints(mesh: Path, tmp_path: Path) -> None:
    prior = tmp_path / "prior.json"
    prior.write_text(json.dumps({"translation": [50, -20, 0], "yaw_deg": 90}))
    out = _plan("--reference", str(mesh), "--draft", "3", "--time", "15min", "--prior", str(prior), "--out", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "p" / "plan.json").read_text())
    lane = doc["lanes"][0]
    assert lane["kind"] == "landmark" and lane["order"] == 1
    x, y, z = lane["waypoints_hull"][0]
    # yaw 90: hull x is north, hull y is west
    assert lane["waypoints_nav"][0] == pytest.approx([50 - y, -20 + x, z], abs=1e-3)
    assert 0 < doc["predicted"]["cleared_fraction"] <= doc["predicted"]["seen_fraction"]
    assert doc["planned_s"] <= 15 * 60 and len(doc["route_nav"]) == len(doc["route_hull"])
    svg = (tmp_path / "p" / "plan.svg").read_text()
    assert "lane-1" in svg and "view-bottom" in svg
    assert "predicted: cleared" in out.stdout


@pytest.mark.parametrize("args, line", [
    (["--time", "30s"], "too short for the landmarks"),
    (["--standoff", "30"], "cannot see the hull from a 30 m standoff"),
])
def test_bad_input_is_one_line(mesh: Path, tmp_path: Path, args: list[str], line: str) -> None:
    out = _plan("--reference", str(mesh), "--draft", "3", *args, "--out", str(tmp_path / "p"))
    assert out.returncode == 1
    assert line in out.stderr and "Traceback" not in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if "ERROR" in ln]) == 1
