"""The camera node in-process (callbacks called directly, no DDS traffic): its keyframes, odometry
and intrinsics survive a restart of the same survey, a finished survey's do not go into the next,
and /diagnostics says what was restored (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hullscan.model import CameraFrame, CameraModel, NavSample

pytestmark = pytest.mark.ros

S = 1_000_000_000
T0 = 1_700_000_000 * S
K = np.array([[100.0, 0, 32], [0, 100.0, 24], [0, 0, 1]])


def _camera(ckpt_dir: Path, **extra: object) -> Any:
    from rclpy.parameter import Parameter

    from hullscan.ros.camera import CameraNode

    params = {"checkpoint_dir": str(ckpt_dir), "camera_frames": ["camera"], "camera_mounts": [0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
              "allow_missing_msgs": True, **extra}
    return CameraNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def _feed(node: Any, t0: int, seconds: int) -> None:
    """Odometry at 10 Hz, CameraInfo and images at 2 Hz (raw and compressed in turn)."""
    from hullscan.ros import messages

    for i in range(seconds * 10):
        t = t0 + i * S // 10
        node.on_odom(messages.odometry(NavSample(t, [i * 0.05, 0.0, 0.0], [0, 0, 0, 1])))
        if i % 5 == 0:
            node.on_info(messages.camera_info(CameraModel(t, "camera", 64, 48, K)))
            frame = CameraFrame(t, "camera", np.full((48, 64, 3), i % 256, np.uint8))
            compressed = i % 10 == 5
            node.on_image(messages.compressed_image(frame) if compressed else messages.image(frame), compressed)


def test_keyframes_survive_a_restart_and_not_a_finished_survey(tmp_path: Path, rclpy_ctx: Any) -> None:
    from std_msgs.msg import String

    a = _camera(tmp_path)
    _feed(a, T0, 6)
    assert len(a.keep.keyframes) == 6 and a.stats["checkpoint_keyframes"] == 6
    a.destroy_node()  # as kill -9: nothing finished, nothing flushed but what each keyframe wrote

    b = _camera(tmp_path)
    _feed(b, T0 + 10 * S, 2)
    assert b.stats["keyframes_restored"] == 6
    assert [f.stamp_ns for f in b.keep.keyframes] == [T0 + i * S for i in (0, 1, 2, 3, 4, 5, 10, 11)]
    assert b.keep.nav[0].stamp_ns == T0 and "camera" in b.keep.models
    # The survey's final findings answered: finished, never restored into the next survey.
    b.on_findings(String(data=json.dumps({"final": True, "stamp_ns": T0 + 12 * S, "findings": []})))
    b.destroy_node()

    c = _camera(tmp_path)
    _feed(c, T0 + 14 * S, 1)
    assert "keyframes_restored" not in c.stats and len(c.keep.keyframes) == 1
    assert "finished" in str(c.stats["checkpoint_decision"])
    c.destroy_node()

    d = _camera(tmp_path, resume="fresh")  # an explicit fresh start clears them
    assert "cleared" in str(d.stats["checkpoint_decision"])
    assert not (tmp_path / "camera" / "keyframes.log").exists()
    d.destroy_node()


def test_an_id_that_moved_loses_its_old_image(tmp_path: Path, rclpy_ctx: Any) -> None:
    """Finding ids are reassigned between inspections: an old image is kept for the same finding
    (its keyframes may have aged out) but never handed to another finding that took its id."""
    node = _camera(tmp_path, checkpoint_dir="")
    node.best = {"F001": {"stamp_ns": T0}, "F002": {"stamp_ns": T0 + S}}
    node.where = {"F001": [10.0, 2.0, -3.0], "F002": [20.0, 2.0, -3.0]}
    node._forget_moved([{"id": "F001", "centroid": [10.2, 2.0, -3.0]}, {"id": "F002", "centroid": [14.0, 2.0, -3.0]}])
    assert set(node.best) == {"F001"} and node.where["F002"] == [14.0, 2.0, -3.0]
    node.destroy_node()
