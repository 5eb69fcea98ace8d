"""The nodes as separate processes on loopback DDS: a bag played through them, and robustness."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hullscan.ros.helpers import (
    FAKE,
    REPO,
    node_cmd,
    output_so_far,
    rows,
    spawn,
    stop,
    write_survey,
)

pytestmark = pytest.mark.ros


def _play(bag: Path, env: dict[str, str], rate: float = 5.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", "play", str(bag), "--rate", str(rate), "--wait", "20"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=90)


def _warnings(events: list[dict], node: str) -> dict[str, str]:
    """drop keys -> counts from the node's WARN and ERROR diagnostics."""
    out: dict[str, str] = {}
    for e in events:
        if e["topic"] == "/diagnostics" and e["name"] == f"hullscan/{node}" and e["level"] >= 1:
            out.update({k: v for k, v in e["values"].items() if k.startswith("drop ")})
    return out


def test_bag_played_through_mapper_process(tmp_path: Path, ros_domain_env: dict[str, str]) -> None:
    bag = write_survey(tmp_path / "bag")
    mapper = spawn(node_cmd("mapper", reconstructor=FAKE, checkpoint_dir=tmp_path / "ckpt",
                            reliable_inputs="true"), ros_domain_env)
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "40"], ros_domain_env)
    try:
        # Rate 2: 3 s of pings, so the 1 Hz cloud goes out at least twice while the map grows
        # (at 5x the 6 s bag lasts 1.2 s and a second cloud was a matter of timer phase).
        played = _play(bag, ros_domain_env, rate=2.0)
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
    # ... and while pings wait for a mounting, mapping fails: ERROR, naming the frame.
    errors = [e for e in events if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_mapper"
              and e["level"] == 2]
    assert errors and "ghost_sonar" in errors[-1]["values"].get("error mounting", ""), merr
    cw = _warnings(events, "hullscan_comparator")
    assert "drop /hullscan/cloud no_cloud" in cw, cerr


@pytest.mark.parametrize("recon", [FAKE, "hullscan.recon:Reconstructor"], ids=["fake", "incremental"])
def test_mapper_killed_and_restarted_recovers_checkpoint(tmp_path: Path, ros_domain_env: dict[str, str],
                                                         recon: str) -> None:
    """Killed mid-survey (no goodbye, possibly while a checkpoint is being written): the restart
    restores the last checkpoint and loses at most 10 s of data. The real reconstructor writes a
    base, then delta records beside it."""
    env = ros_domain_env
    bag = write_survey(tmp_path / "bag", seconds=16.0)
    cmd = node_cmd("mapper", reconstructor=recon, checkpoint_dir=tmp_path / "ckpt", checkpoint_period_s=2.0,
                   reliable_inputs="true")
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "70"], env)
    mapper = spawn(cmd, env)
    # Rate 1: the restarted mapper (a few seconds to start) still gets pings.
    player = spawn([sys.executable, "-m", "hullscan", "play", str(bag), "--rate", "1", "--wait", "20"], env)
    try:
        ckpt = tmp_path / "ckpt" / "mapper.ckpt"
        end = time.monotonic() + 40
        while time.monotonic() < end and not (ckpt.exists() and ckpt.stat().st_mtime and _age(ckpt) < 5):
            time.sleep(0.2)
        time.sleep(3.0)
        # The kill waits until the probe has heard the first mapper's cloud: on a loaded machine DDS
        # discovery can take longer than the first checkpoint, and the data lost is measured from it.
        while time.monotonic() < end and '"/hullscan/cloud"' not in output_so_far(probe):
            time.sleep(0.2)
        killed_at = time.monotonic()
        mapper.kill()  # mid-survey, no goodbye
        mapper.wait()
        log = ckpt.with_name("mapper.ckpt.delta")
        if recon != FAKE:
            assert log.exists() and log.stat().st_size > 0  # deltas were appended after the base
        mapper = spawn(cmd, env)
        player.wait(timeout=60)
        time.sleep(7.0)  # the restarted mapper misses pings, so it finishes on end_timeout_s (5 s)
        assert mapper.poll() is None
    finally:
        outs = stop(mapper, player, probe)
    events = rows(outs[-1][0])
    mw = _warnings(events, "hullscan_mapper")
    assert any(k.endswith("restored_checkpoint") for k in mw), (mw, outs[0][1])
    diag = [e for e in events if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_mapper"]
    values = diag[-1]["values"]
    assert float(values["restore_gap_s"]) > 0  # pings came in after the restart
    # Lost at most 10 s of data: from the restored checkpoint to the newest data the killed mapper
    # had published (its display cloud carries the newest stamp; 1 Hz, so this is a lower bound).
    before = [e["stamp_ns"] for e in events if e["topic"] == "/hullscan/cloud" and e["wall"] < killed_at]
    assert before, "no cloud from the first mapper"
    lost_s = max(before) * 1e-9 - float(values["restored_stamp_s"])
    assert -0.01 <= lost_s <= 10.0, (lost_s, values)
    if recon != FAKE:  # restored from the base and the delta records after it
        assert int(values["restored_deltas"]) > 0, values
    # The pings after the restart are fused into the restored map (mountings re-established).
    after = [e["points"] for e in events if e["topic"] == "/hullscan/cloud" and e["wall"] > killed_at]
    assert len(after) >= 2 and after[-1] > after[0], after
    finals = [e for e in events if e["topic"] == "/hullscan/cloud_final"]
    assert finals and finals[-1]["points"] > 100


def _age(p: Path) -> float:
    return time.time() - p.stat().st_mtime
