from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hullscan.errors import NavigationError
from hullscan.model import (
    CameraModel,
    HullCloud,
    ImagingPing,
    NavSample,
    ProfilingPing,
    Trajectory,
    Transform,
)


def test_transform_compose_inverse_roundtrip() -> None:
    rng = np.random.default_rng(0)
    a = Transform(Rotation.random(random_state=1).as_quat(), rng.normal(size=3))
    b = Transform(Rotation.random(random_state=2).as_quat(), rng.normal(size=3))
    p = rng.normal(size=(10, 3))
    np.testing.assert_allclose((a @ b).apply(p), a.apply(b.apply(p)), atol=1e-12)
    np.testing.assert_allclose((a.inverse() @ a).apply(p), p, atol=1e-12)
    np.testing.assert_allclose(Transform.from_matrix(a.as_matrix()).apply(p), a.apply(p), atol=1e-12)


def test_transform_rejects_bad_quaternion() -> None:
    with pytest.raises(ValueError, match="rotation"):
        Transform(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="translation"):
        Transform(np.array([0, 0, 0, 1.0]), np.array([np.nan, 0, 0]))


def test_ping_arrays_are_checked_and_frozen() -> None:
    with pytest.raises(ValueError, match=r"ProfilingPing.ranges: expected shape \(3\)"):
        ProfilingPing(0, "sonar", np.zeros(3), np.zeros(4), np.zeros(3))
    ping = ProfilingPing(0, "sonar", np.zeros(3), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError):
        ping.ranges[0] = 2.0
    with pytest.raises(ValueError, match="intensities"):
        ImagingPing(0, "s", np.ones((4, 3)), np.ones(5), np.ones((4, 5)))


def test_trajectory_interpolates_linear_and_slerp() -> None:
    q0 = Rotation.from_euler("z", 0.0).as_quat()
    q1 = Rotation.from_euler("z", np.pi / 2).as_quat()
    traj = Trajectory(np.array([0, 1_000_000_000]), np.array([[0, 0, 0], [2.0, 0, 0]]), np.array([q0, q1]),
                      max_gap_s=2.0)
    pos, quat, _, valid = traj.interpolate([500_000_000, 2_000_000_000])
    np.testing.assert_allclose(pos[0], [1.0, 0, 0])
    assert Rotation.from_quat(quat[0]).as_euler("xyz")[2] == pytest.approx(np.pi / 4)
    assert valid.tolist() == [True, False]


def test_trajectory_gap_is_invalid() -> None:
    traj = Trajectory(np.array([0, 10**9, 5 * 10**9]), np.zeros((3, 3)), np.tile([0, 0, 0, 1.0], (3, 1)),
                      max_gap_s=2.0)
    _, _, _, valid = traj.interpolate([5 * 10**8, 3 * 10**9])
    assert valid.tolist() == [True, False]
    with pytest.raises(NavigationError, match=r"no navigation at t=3\.000"):
        traj.pose_at(3 * 10**9)


def test_trajectory_from_samples_sorts() -> None:
    s = [NavSample(t, [t * 1e-9, 0, 0], [0, 0, 0, 1]) for t in (2 * 10**8, 10**8, 3 * 10**8)]
    traj = Trajectory.from_samples(s)
    assert traj.stamps_ns.tolist() == [10**8, 2 * 10**8, 3 * 10**8]


def test_camera_projection() -> None:
    cam = CameraModel(0, "camera", 640, 480, np.array([[500, 0, 320], [0, 500, 240], [0, 0, 1.0]]))
    uv, ok = cam.project(np.array([[0, 0, 2.0], [0, 0, -1.0], [10, 0, 1.0]]))
    np.testing.assert_allclose(uv[0], [320, 240])
    assert ok.tolist() == [True, False, False]


def test_hull_cloud_transform_and_subset() -> None:
    c = HullCloud.from_points(np.eye(3))
    t = Transform.from_euler(0, 0, np.pi / 2, (1, 0, 0))
    moved = c.transformed(t, "hull")
    np.testing.assert_allclose(moved.points[0], [1, 1, 0], atol=1e-12)
    assert len(c.subset(np.array([True, False, True]))) == 2
