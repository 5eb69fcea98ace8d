"""kill -9 of the live camera node during a played survey (issue 17), twice: each restarted node
restores the keyframe checkpoint (keyframes, the odometry at their stamps, intrinsics, mountings),
takes the findings again and the last one answers the final findings, each with its frame.

The survey passes the two findings about 9 s and 16 s into the 65 s demo (played at 5x). The node
is killed once it holds 20 keyframes (20 s of data, both findings just passed, ~9 s of play left);
the node restarted then (about 10 s to start on a loaded 2-core machine) is killed as soon as it
says what it restored, and the third comes up near or after the end of the play, so only the
checkpoint, carried through the second node, can frame the findings. Before the checkpoint a
late kill left the final findings unanswered (no keyframes, no odometry: 0 of 2 framed);
docs/faults.md has the figures. (Until stop 61 the mid and late kills were two surveys of 50 s
each; one survey with both kills checks the same and a restore of a restored checkpoint too.)

A kill before the play starts (the earlier form of this test) is not checked: whether its restarted
node frames the findings depends only on whether it is up before the play passes them (~2-3 s at
5x), a race the checkpoint cannot change (frames seen while no node runs are lost).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.hullscan.ros.helpers import REPO, node_cmd, output_so_far, rows, spawn, stop

pytestmark = [pytest.mark.ros, pytest.mark.slow]

KILL_AT_KEYFRAMES = 20  # of the demo's 65 (keyframe_period_s 1.0)
CAMERA = "hullscan/hullscan_camera"


def _camera_keyframes(probe: subprocess.Popen[str]) -> int:
    """The camera node's keyframe count, from the newest /diagnostics row the probe printed."""
    diag = [e for e in rows(output_so_far(probe)) if e["topic"] == "/diagnostics" and e["name"] == CAMERA]
    return int(diag[-1]["values"].get("keyframes", 0)) if diag else 0


def _camera_restored(probe: subprocess.Popen[str], since: float) -> int | None:
    """The keyframes a camera node started after wall time ``since`` said it restored (None: not yet)."""
    for e in rows(output_so_far(probe)):
        if e["topic"] == "/diagnostics" and e["name"] == CAMERA and e["wall"] > since \
                and "keyframes_restored" in e["values"]:
            return int(e["values"]["keyframes_restored"])
    return None


def _nodes_up(probe: subprocess.Popen[str], names: tuple[str, ...], timeout_s: float) -> bool:
    """Each of ``names`` has published on /diagnostics (imports, numba warm-up and DDS discovery done)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = {e["name"] for e in rows(output_so_far(probe)) if e["topic"] == "/diagnostics"}
        if all(n in seen for n in names):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo survey, simulated (the nodes only read it)."""
    bag = tmp_path_factory.mktemp("camera-kill") / "bag"
    done = subprocess.run([sys.executable, "-m", "hullscan", "simulate", "--scenario", "demo", "--out", str(bag)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return bag


def test_camera_killed_twice_during_a_survey_answers_the_final_findings_with_frames(
        demo_bag: Path, tmp_path: Path, ros_domain_env: dict[str, str]) -> None:
    cli = [sys.executable, "-m", "hullscan"]
    bag = demo_bag
    truth = bag.with_name("bag.truth")
    doc = json.loads((truth / "truth.json").read_text())
    prior = tmp_path / "prior.json"  # exact: the registration is not what is tested here
    prior.write_text(json.dumps({**doc["hull_to_nav"], "sigma": {"along_m": 0, "across_m": 0, "vertical_m": 0,
                                                                 "heading_deg": 0}}))
    env = ros_domain_env
    ref = bag.with_name("bag.design.ply")  # the design hull the quay notes name
    camera_cmd = node_cmd("camera", reference=ref, checkpoint_dir=tmp_path / "checkpoints", reliable_inputs="true")
    mapper = spawn(node_cmd("mapper", reliable_inputs="true", input_depth=2000), env)
    comparator = spawn(node_cmd("comparator", reference=ref, prior=prior, inspect_period_s=30.0), env)
    camera = spawn(camera_cmd, env)
    probe = spawn([*cli[:2], "hullscan.ros.probe", "--duration", "240", "--until-final", "--linger", "15"], env)
    second: subprocess.Popen[str] | None = None
    restarted: subprocess.Popen[str] | None = None
    killed_at = 0
    try:
        assert _nodes_up(probe, ("hullscan/hullscan_mapper", "hullscan/hullscan_comparator", CAMERA), 60.0), \
            "the nodes did not come up within 60 s"
        player = spawn([*cli, "play", str(bag), "--rate", "5", "--wait", "30", "--json"], env)
        deadline = time.monotonic() + 90
        while (killed_at := _camera_keyframes(probe)) < KILL_AT_KEYFRAMES and time.monotonic() < deadline:
            time.sleep(0.1)
        assert killed_at >= KILL_AT_KEYFRAMES, f"the camera node never held {KILL_AT_KEYFRAMES} keyframes"
        os.kill(camera.pid, signal.SIGKILL)
        camera.wait(timeout=10)
        since = time.monotonic()
        second = spawn(camera_cmd, env)
        # The second node is killed as soon as it says what it restored: the third then has only
        # what the second's restore left in the checkpoint.
        deadline = time.monotonic() + 90
        while (second_restored := _camera_restored(probe, since)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second_restored is not None and second_restored >= killed_at, (second_restored, killed_at)
        os.kill(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
        restarted = spawn(camera_cmd, env)
        player.wait(timeout=180)
        probe.wait(timeout=240)
    finally:
        outs = stop(*(p for p in (mapper, comparator, camera, restarted, probe) if p is not None))
        if second is not None and second.poll() is None:
            stop(second)
    assert camera.returncode == -signal.SIGKILL and second.returncode == -signal.SIGKILL
    events = rows(outs[-1][0])
    finals = [e for e in events if e["topic"] == "/hullscan/findings_json" and e.get("final")]
    assert finals and finals[-1]["findings"], outs[1][1][-2000:]
    ids = {f["id"] for f in finals[-1]["findings"]}
    answers = [e for e in events if e["topic"] == "/hullscan/evidence" and e.get("final")]
    assert answers, f"the restarted camera node did not answer the final findings: {outs[3][1][-3000:]}"
    evidence = answers[-1]["evidence"]
    assert set(evidence) == ids  # every finding is answered, with a frame or with none
    framed = sorted(i for i, e in evidence.items() if e)
    diag = [e for e in events if e["topic"] == "/diagnostics" and e["name"] == CAMERA]
    restored = [int(e["values"]["keyframes_restored"]) for e in diag if "keyframes_restored" in e["values"]]
    print(f"camera kill -9 twice (first at {killed_at} keyframes): {len(framed)} of {len(ids)} findings have a frame "
          f"after the restart; {restored[-1] if restored else 0} keyframes restored")
    assert framed == sorted(ids), ("findings without a frame after the restart", diag[-1:], outs[3][1][-3000:])
    # The frames came from the checkpoint: the keyframes held at the kill were restored (the
    # diagnostics lag up to 1 s, 5 keyframes at 5x), and a finding is answered with a frame taken before
    # the kill. Not every finding: the demo's box is passed twice, 18 s of bag time apart (3.6 s at 5x),
    # and a node restarted quickly enough sees the second pass and may keep a better frame from it
    # (CI at stop 41, "mid": the box's frame at 26 s, the sea-chest pack's at 16 s, killed at 20).
    assert restored and restored[-1] >= killed_at, (restored, killed_at)
    with np.load(truth / "trajectory_true.npz") as z:
        survey_start_ns = int(z["stamps_ns"][0])
    assert any(evidence[i]["stamp_ns"] < survey_start_ns + killed_at * 10**9 for i in framed), evidence
