"""The package builds as a ROS user builds it: the system's python3 and setuptools (not the venv's),
and colcon from Debian's packages. Skipped where they are absent, failed under ``./setup.sh test`` (which installs them; tests/tools.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tools import missing_tool

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SCRIPTS = ("hullscan", "hullscan_mapper", "hullscan_comparator", "hullscan_camera", "hullscan_player",
           "hullscan_live", "hullscan_operator_view")


def _system_setuptools() -> str:
    if not SYSTEM_PYTHON.is_file():
        pytest.skip("no system python3")
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", "import setuptools; print(setuptools.__version__)"],
                          capture_output=True, text=True)
    if done.returncode:
        missing_tool("setuptools for the system python3", "Debian: python3-setuptools")
    return done.stdout.strip()


def test_setup_py_name_with_system_setuptools() -> None:
    version = _system_setuptools()  # 65.5 on Debian 12, 68.1.2 on Ubuntu 24.04: both reject a PEP 639 licence string
    done = subprocess.run([str(SYSTEM_PYTHON), "setup.py", "--name"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (version, done.stderr[-2000:])
    assert done.stdout.strip().splitlines()[-1] == "hullscan"


def test_colcon_build(tmp_path: Path) -> None:
    colcon = shutil.which("colcon")
    if colcon is None:
        missing_tool("colcon", "Debian: colcon python3-colcon-ros")
    _system_setuptools()
    src = tmp_path / "src" / "hullscan"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "bags", "build", "install",
                                                             "log", "__pycache__", "*.egg-info", ".*_cache"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}  # no venv, as on a ROS machine
    done = subprocess.run([colcon, "build", "--base-paths", "src", "--build-base", "build", "--install-base",
                           "install", "--event-handlers", "console_direct-"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pkg = tmp_path / "install" / "hullscan"
    for script in SCRIPTS:  # where `ros2 run` and launch_ros look
        assert (pkg / "lib" / "hullscan" / script).is_file(), script
    share = pkg / "share" / "hullscan"
    assert (pkg / "share" / "ament_index" / "resource_index" / "packages" / "hullscan").is_file()
    assert {p.name for p in (share / "launch").glob("*.launch.py")} == {
        "inspect.launch.py", "replay.launch.py", "simulate.launch.py"}
    assert (share / "config" / "hullscan.yaml").is_file() and (share / "package.xml").is_file()
