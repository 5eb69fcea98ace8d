"""Camera evidence of the live camera node (hullscan.compare.camera.best_frames, no ROS): findings
projected through pose, mounting and intrinsics pick the frame that shows them best, not the
keyframe taken nearest to them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hullscan.compare.camera import CameraSet, best_frames, finding_from_row, findings_from_document
from hullscan.compare.config import CompareConfig
from hullscan.errors import MessageError
from hullscan.model import CameraFrame, CameraModel, NavSample, Trajectory, Transform

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
    findings, hull_to_nav = findings_from_document(doc)
    cams = CameraSet(frames, {"cam": model}, Trajectory.from_samples(nav), {"cam": mount}, "/camera/image_raw")
    best = best_frames(findings, hull_to_nav, cams, CompareConfig())
    assert set(best) == {"F001"}  # F002 is beyond the survey: no frame saw it
    ev, frame, n = best["F001"].evidence, best["F001"].frame, best["F001"].candidates
    assert ev.stamp_ns == frame.stamp_ns
    x = 0.05 * (frame.stamp_ns - T0) / 50_000_000  # vehicle x at the frame
    # Centred when the vehicle is 3 m * tan(30 deg) = 1.73 m short of the finding (x = 3.27 m);
    # the nearest keyframe (x = 5 m) sees it at the image edge only.
    assert 3.0 <= x <= 3.5, x
    assert n >= 2 and ev.visible_fraction == 1.0
    u0, v0, u1, v1 = ev.box
    assert u0 < 64 < u1 and v0 < 48 < v1


def test_findings_document_round_trip_and_bad_rows() -> None:
    doc = {"hull_to_nav": {"translation": [1.0, 2.0, 3.0], "rotation": [0, 0, 0, 1]},
           "findings": [_row("F001", (5.0, 3.0, 0.0))]}
    findings, hull_to_nav = findings_from_document(json.loads(json.dumps(doc)))
    assert [f.id for f in findings] == ["F001"] and findings[0].bbox_min == (4.85, 2.85, -0.15)
    np.testing.assert_allclose(hull_to_nav.translation, [1.0, 2.0, 3.0])
    assert findings_from_document({})[0] == ()
    with pytest.raises(MessageError, match="bad finding row 'F9'"):
        finding_from_row({"id": "F9", "kind": "protrusion"})
