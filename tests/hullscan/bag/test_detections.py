"""``marine_acoustic_msgs/SonarDetections`` as an input: a multibeam's own detections, written to a
real bag and read back as 3-D returns, with flagged beams counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagReader, BagWriter
from hullscan.model import MultibeamDetections, NavSample, PointsPing, Transform, TransformStamped

T0 = 1_700_000_000_000_000_000


def _ping(i: int, n: int = 64) -> MultibeamDetections:
    rx = np.linspace(-1.0, 1.0, n)  # across-track steering, + to starboard
    depth = 4.0  # a flat surface 4 m below the sonar
    twtt = 2 * depth / np.cos(rx) / 1480.0
    flags = np.zeros(n, np.uint8)
    flags[:3] = 1  # the sonar marked the outer beams bad
    twtt[-1] = np.nan
    return MultibeamDetections(T0 + i * 50_000_000, "multibeam", twtt, rx, np.zeros(n), flags,
                               np.full(n, 7.0), sound_speed=1480.0)


def test_geometry_of_a_down_looking_multibeam() -> None:
    det = _ping(0)
    pts = det.to_points()
    assert isinstance(pts, PointsPing) and len(pts.points) == det.n_beams - 4
    np.testing.assert_allclose(pts.points[:, 2], -4.0, atol=1e-4)  # all on the surface 4 m down
    starboard = pts.points[det.rx_angles[det.good()] > 0.5]
    assert (starboard[:, 1] < 0).all()  # + rx is to starboard, which is -y
    fwd = MultibeamDetections(0, "m", [0.01], [0.0], [0.2], [0], [1.0]).to_points().points[0]
    assert fwd[0] > 0 and fwd[2] < 0  # + tx is forward


def test_bad_shapes_and_sound_speed_are_refused() -> None:
    with pytest.raises(ValueError, match="rx_angles"):
        MultibeamDetections(0, "m", [0.01, 0.02], [0.0], [0.0, 0.0], [0, 0], [1.0, 1.0])
    with pytest.raises(ValueError, match="sound_speed"):
        MultibeamDetections(0, "m", [0.01], [0.0], [0.0], [0], [1.0], sound_speed=0.0)


def test_round_trip_through_a_bag_counts_flagged_beams(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    with BagWriter(bag) as w:
        w.write_tf([TransformStamped(T0, "base_link", "multibeam", Transform(), True)], static=True)
        for i in range(20):
            w.write(NavSample(T0 + i * 50_000_000, [0.05 * i, 0, 0], [0, 0, 0, 1]))
            w.write(_ping(i))
    with BagReader(bag) as r:
        pings = [s for s in r.samples() if isinstance(s, PointsPing)]
        drops = dict(r.drops.counts)
    assert len(pings) == 20 and all(p.frame_id == "multibeam" for p in pings)
    np.testing.assert_allclose(pings[5].points, _ping(5).to_points().points, atol=1e-6)
    assert drops[("/sonar/detections", "flagged_beam")] == 20 * 4
