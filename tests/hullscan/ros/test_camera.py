"""Camera evidence: findings projected through pose, mounting and intrinsics pick the frame
that shows them best, not the keyframe taken nearest to them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("rclpy", reason="needs the ROS 2 wheels")

from hullscan.compare.config import CompareConfig
from hullscan.model import CameraFrame, CameraModel, NavSample, Trajectory, Transform
from hullscan.ros.camera import best_evidence

T0 = 1_700_000_000_000_000_000


def _row(fid: str, centre: tuple[float, float, float]) -> dict:
    c = np.asarray(centre)
    return {"id": fid, "kind": "protrusion", "centroid": c.tolist(), "volume_m3": 0.01, "max_height_m": 0.2,
            "footprint_m2": 0.1, "bbox_min": (c - 0.15).tolist(), "bbox_max": (c + 0.15).tolist(), "region": "side",
            "side": "port", "distance_from_stern_m": float(c[0]), "depth_m": 2.0, "confidence": 0.8, "risk": 0.5,
            "n_points": 50, "frame_number": None, "camera": [], "centroid_nav": c.tolist()}


def test_best_frame_is_the_one_looking_at_the_finding() -> None:
    # Camera looking to port and 30 deg forward (optical frame: z ahead, x right, y down).
    s, c = np.sin(np.radians(30)), np.cos(np.radians(30))
    rot = np.column_stack([(c, -s, 0.0), (0.0, 0.0, -1.0), (s, c, 0.0)])
    mount = Transform(Rotation.from_matrix(rot).as_quat(), [0.0, 0.0, 0.0])
    model = CameraModel(T0, "cam", 128, 96, np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]]))
    nav = [NavSample(T0 + i * 100_000_000, [0.1 * i, 0.0, 0.0], [0, 0, 0, 1]) for i in range(101)]
    frames = [CameraFrame(T0 + i * 500_000_000, "cam", np.full((96, 128), i, np.uint8)) for i in range(21)]
    doc = json.loads(json.dumps({"hull_to_nav": {"translation": [0, 0, 0], "rotation": [0, 0, 0, 1]},
                                 "findings": [_row("F001", (5.0, 3.0, 0.0)), _row("F002", (50.0, 3.0, 0.0))]}))
    best = best_evidence(doc, frames, {"cam": model}, Trajectory.from_samples(nav), {"cam": mount},
                         CompareConfig(), "/camera/image_raw")
    assert set(best) == {"F001"}  # F002 is beyond the survey: no frame saw it
    ev, frame, n = best["F001"]
    x = 0.05 * (frame.stamp_ns - T0) / 50_000_000  # vehicle x at the frame
    # Centred when the vehicle is 3 m * tan(30 deg) = 1.73 m short of the finding (x = 3.27 m);
    # the nearest keyframe (x = 5 m) sees it at the image edge only.
    assert 3.0 <= x <= 3.5, x
    assert n >= 2 and ev.visible_fraction == 1.0
    u0, v0, u1, v1 = ev.box
    assert u0 < 64 < u1 and v0 < 48 < v1
