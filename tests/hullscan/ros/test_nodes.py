"""The nodes as separate processes on loopback DDS: a bag played through them, and robustness."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hullscan.ros.helpers import FAKE, REPO, node_cmd, rows, spawn, stop, write_survey

pytestmark = pytest.mark.ros


def _play(bag: Path, env: dict[str, str], rate: float = 5.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", "play", str(bag), "--rate", str(rate), "--wait", "20"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=90)


def _warnings(events: list[dict], node: str) -> dict[str, str]:
    """drop keys -> counts from the node's WARN diagnostics."""
    out: dict[str, str] = {}
    for e in events:
        if e["topic"] == "/diagnostics" and e["name"] == f"hullscan/{node}" and e["level"] == 1:
            out.update({k: v for k, v in e["values"].items() if k.startswith("drop ")})
    return out


def test_bag_played_through_mapper_process(tmp_path: Path, ros_domain_env: dict[str, str]) -> None:
    bag = write_survey(tmp_path / "bag")
    mapper = spawn(node_cmd("mapper", reconstructor=FAKE, checkpoint_dir=tmp_path / "ckpt",
                            reliable_inputs="true"), ros_domain_env)
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "40"], ros_domain_env)
    try:
        played = _play(bag, ros_domain_env)
        assert played.returncode == 0, played.stderr
        time.sleep(2.5)
    finally:
        (_, merr), (pout, _) = stop(mapper, probe)
    events = rows(pout)
    finals = [e for e in events if e["topic"] == "/hullscan/cloud_final"]
    assert finals and finals[-1]["points"] > 100, merr
    clouds = [e for e in events if e["topic"] == "/hullscan/cloud"]
    assert len(clouds) >= 2
    diag = [e for e in events if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_mapper"]
    assert diag[-1]["values"]["pings"] == "150"  # every ping of the bag arrived
    assert not any("missed_pings" in k for k in diag[-1]["values"])
    assert (tmp_path / "ckpt" / "mapper.ckpt").is_file()


def test_malformed_input_missing_mounting_and_comparator_first(tmp_path: Path,
                                                               ros_domain_env: dict[str, str]) -> None:
    env = ros_domain_env
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "40"], env)
    comparator = spawn(node_cmd("comparator", no_cloud_warning_s=1.0, inspect_period_s=0.5), env)
    time.sleep(2.0)  # comparator up with no mapper
    mapper = spawn(node_cmd("mapper", reconstructor=FAKE, sensor_frames="[sonar]",
                            sensor_mounts="[0.2,0.0,0.0,0.0,0.0,0.0]"), env)
    try:
        inj = subprocess.run([sys.executable, str(REPO / "tests/hullscan/ros/inject.py")], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert inj.returncode == 0, inj.stderr
        time.sleep(2.5)
        assert mapper.poll() is None and comparator.poll() is None, "a node died"
    finally:
        (_, merr), (_, cerr), (pout, _) = stop(mapper, comparator, probe)
    events = rows(pout)
    mw = _warnings(events, "hullscan_mapper")
    assert "drop /sonar/scan malformed_message" in mw, (mw, merr)   # array lengths
    assert "drop /sonar/scan nan_range" in mw                      # NaNs
    assert "drop /sonar/scan empty_ping" in mw                     # empty frames
    assert "drop /nav/odom malformed_message" in mw
    assert "drop /sonar/points malformed_message" in mw
    assert "drop ghost_sonar no_transform" in mw                   # missing TF/mounting
    cw = _warnings(events, "hullscan_comparator")
    assert "drop /hullscan/cloud no_cloud" in cw, cerr


def test_mapper_killed_and_restarted_recovers_checkpoint(tmp_path: Path, ros_domain_env: dict[str, str]) -> None:
    env = ros_domain_env
    bag = write_survey(tmp_path / "bag", seconds=16.0)
    cmd = node_cmd("mapper", reconstructor=FAKE, checkpoint_dir=tmp_path / "ckpt", checkpoint_period_s=2.0,
                   reliable_inputs="true")
    mapper = spawn(cmd, env)
    player = spawn([sys.executable, "-m", "hullscan", "play", str(bag), "--rate", "2", "--wait", "20"], env)
    probe = None
    try:
        ckpt = tmp_path / "ckpt" / "mapper.ckpt"
        end = time.monotonic() + 40
        while time.monotonic() < end and not (ckpt.exists() and ckpt.stat().st_mtime and _age(ckpt) < 5):
            time.sleep(0.2)
        time.sleep(2.0)
        mapper.kill()  # mid-survey, no goodbye
        mapper.wait()
        probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "40"], env)
        mapper = spawn(cmd, env)
        player.wait(timeout=60)
        time.sleep(7.0)  # the restarted mapper misses pings, so it finishes on end_timeout_s (5 s)
        assert mapper.poll() is None
    finally:
        outs = stop(mapper, player, *([probe] if probe else []))
    events = rows(outs[-1][0])
    mw = _warnings(events, "hullscan_mapper")
    assert any(k.endswith("restored_checkpoint") for k in mw), (mw, outs[0][1])
    diag = [e for e in events if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_mapper"]
    restored = [e for e in events if e["topic"] == "/diagnostics" and "restored" in e["message"]]
    assert restored
    # Lost at most 10 s of data: from the checkpoint to the first ping after the restart.
    assert 0 < float(diag[-1]["values"]["restore_gap_s"]) <= 10.0
    finals = [e for e in events if e["topic"] == "/hullscan/cloud_final"]
    assert finals and finals[-1]["points"] > 100


def _age(p: Path) -> float:
    return time.time() - p.stat().st_mtime
