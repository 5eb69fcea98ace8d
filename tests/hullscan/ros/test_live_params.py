"""``hullscan live --params FILE --ros-args -p ...``: the command line wins over the file, the file
over the defaults, as with ``ros2 run`` / ``ros2 launch``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.ros.live import live_ros_args
from tests.hullscan.ros.helpers import REPO, rows, spawn, stop

OTHER_SHIP = REPO / "sim" / "scenarios" / "meshes" / "wigley_60m_mm_yup.stl.gz"


def test_params_file_goes_first_user_args_last() -> None:
    assert live_ros_args("p.yaml", ["--ros-args", "-p", "a:=1"], ("n1", "n2")) == [
        "--ros-args", "--params-file", str(Path("p.yaml").resolve()), "-p", "a:=1", "-p", "n1:a:=1", "-p", "n2:a:=1"]
    assert live_ros_args(None, []) == []
    assert live_ros_args(None, ["-p", "n1:a:=1", "-r", "x:=y"], ("n1",)) == [
        "--ros-args", "-p", "n1:a:=1", "-r", "x:=y"]


@pytest.mark.ros
def test_command_line_overrides_params_file(tmp_path: Path, ros_domain_env: dict[str, str]) -> None:
    prior = tmp_path / "prior.json"
    prior.write_text(json.dumps({"translation": [1.0, 2.0, 3.0], "rotation": [0.0, 0.0, 0.0, 1.0]}))
    text = (REPO / "config" / "hullscan.yaml").read_text().replace("/tmp/hullscan", str(tmp_path))
    for key, value in (("draft", "3.0"), ("prior", str(prior))):  # the file's own lines, changed
        lines = [x for x in text.splitlines() if x.strip().startswith(f"{key}:")]
        assert len(lines) == 1, (key, lines)
        text = text.replace(lines[0], f"    {key}: {value}")
    assert f"prior: {prior}" in text and "reference: mirror" in text
    params = tmp_path / "hullscan.yaml"
    params.write_text(text)
    env = ros_domain_env
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "40"], env)
    live = spawn([sys.executable, "-m", "hullscan", "live", "--params", str(params), "--nodes", "comparator",
                  "--duration", "25", "--ros-args", "-p", f"reference:={OTHER_SHIP}",
                  "-p", "hullscan_comparator:draft:=4.5", "-p", "use_sim_time:=true"], env)
    try:
        live.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pass
    finally:
        (_, lerr), (pout, _) = stop(live, probe)
    assert live.returncode == 0, lerr[-3000:]
    diag = [e for e in rows(pout) if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_comparator"]
    assert diag, lerr[-3000:]
    values = diag[-1]["values"]
    assert values["reference"] == str(OTHER_SHIP)   # -p NAME:=VALUE beats the file's "mirror"
    assert values["draft"] == "4.5"                 # -p NODE:NAME:=VALUE beats the file's 3.0
    assert values["prior"] == str(prior)            # the file beats the default (none)
    assert values["use_sim_time"] == "True"         # the help's own example


@pytest.mark.ros
@pytest.mark.parametrize("after_s", [4.0, 15.0], ids=["starting", "spinning"])
def test_ctrl_c_during_live_duration_ends_cleanly(ros_domain_env: dict[str, str], after_s: float) -> None:
    """Ctrl-C during ``hullscan live --duration``, while the nodes are made or while they spin: no
    traceback; status 0 (stopped by ROS), 130, or the signal itself (-2: how CPython ends on an
    interrupt that reaches it outside rclpy's handling; seen once while the nodes were being made)."""
    import signal
    import time

    live = spawn([sys.executable, "-m", "hullscan", "live", "--nodes", "mapper", "comparator", "--duration", "60",
                  "--allow-missing"], ros_domain_env)
    time.sleep(after_s)
    live.send_signal(signal.SIGINT)
    live.wait(timeout=60)
    ((_, err),) = stop(live)
    assert live.returncode in (0, 130, -signal.SIGINT), err[-3000:]
    assert "Traceback" not in err, err[-3000:]
