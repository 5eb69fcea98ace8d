from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _first_dive(mesh: Path, run: Path, status_at: Any) -> None:
    """An earlier inspection's coverage.ply as replay writes it, in the mesh file's frame."""
    import numpy as np

    from hullscan.compare.config import CompareConfig
    from hullscan.compare.reference import mesh_reference
    from hullscan.hull import load_mesh
    from hullscan.report.outputs import write_coverage_ply

    m = load_mesh(mesh, draft=3.0)
    cov = CompareConfig().coverage
    ref = mesh_reference(m, coverage_cell=cov.coverage_cell_m, coverage_max_z=cov.coverage_max_z_m)
    s = ref.samples
    pts = s if m.ref_from_hull is None else m.ref_from_hull.apply(s)
    run.mkdir(parents=True)
    write_coverage_ply(run / "coverage.ply", pts, None, status_at(s).astype(np.uint8), 0.1, ref.sample_area)


def test_redive_after_an_earlier_inspection(mesh: Path, tmp_path: Path) -> None:
    import dataclasses

    import numpy as np

    from hullscan.compare.earlier import load_earlier, other_reference
    from hullscan.outdir import sha256_file

    run = tmp_path / "first"
    _first_dive(mesh, run, lambda s: np.where(s[:, 1] < -2.9, 1, 3))
    out = _plan("--reference", str(mesh), "--draft", "3", "--time", "15min", "--after", str(run),
                "--out", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert doc["after"]["matched_fraction"] == 1.0 and doc["after"]["cleared_before_m2"] > 100
    assert doc["lanes"] and {ln["side"] for ln in doc["lanes"]} <= {"starboard", "bottom"}
    assert "it cleared for 0.1 m is not flown again" in out.stdout and "warning" not in out.stdout
    # a third dive after two: what both left (the second cleared the starboard side)
    second = tmp_path / "second"
    _first_dive(mesh, second, lambda s: np.where(s[:, 1] < -2.9, 3, 0))
    out = _plan("--reference", str(mesh), "--draft", "3", "--time", "15min", "--after", str(run), "--after",
                str(second), "--out", str(tmp_path / "q"))
    assert out.returncode == 1 and "no lane from this standoff clears more" in out.stderr, out.stderr
    # made against another reference file (findings.json's hash): said, not refused
    earlier = load_earlier(run)
    assert earlier.reference_sha256 is None and other_reference(earlier, mesh) is None
    assert other_reference(dataclasses.replace(earlier, reference_sha256=sha256_file(mesh)), mesh) is None
    assert "another reference file" in str(other_reference(dataclasses.replace(earlier, reference_sha256="0" * 64), mesh))


def test_redive_bad_input_is_one_line(mesh: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hullscan.cli import main

    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "coverage.ply").write_text("not a ply")
    for run, line in ((tmp_path / "empty", "--after " + str(tmp_path / "empty") + ": no coverage.ply there"),
                      (bad, "--after: " + str(bad / "coverage.ply") + ": not a PLY file")):
        caplog.clear()
        assert main(["plan", "--reference", str(mesh), "--draft", "3", "--after", str(run), "--out",
                     str(tmp_path / "p")]) == 1
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and line in errors[0], errors
