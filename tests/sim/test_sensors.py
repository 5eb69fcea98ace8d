"""Imaging sonar, 3D sonar and camera produce data consistent with the geometry and the water."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hullscan_sim import SCENARIO_DIR, load_scenario, simulate
from hullscan_sim.scenario import scenario_from_dict
from hullscan_sim.sensors import ImagingSonar, Sonar3D

from hullscan.bag import BagReader
from hullscan.hull import load_mesh
from hullscan.model import CameraFrame, ImagingPing, PointsPing, Trajectory
from tests.sim._helpers import scenario_dict


@pytest.fixture(scope="module")
def all_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("all") / "bag"
    simulate(load_scenario(SCENARIO_DIR / "all_sensors.yaml"), out, duration_s=10)
    return out


def _items(bag: Path, kind: type) -> list:
    with BagReader(bag) as r:
        return [s for s in r.samples() if isinstance(s, kind)]


def test_points_lie_on_the_hull(all_bag: Path) -> None:
    truth = all_bag.with_name("bag.truth")
    tr = np.load(truth / "trajectory_true.npz")
    traj = Trajectory(tr["stamps_ns"], tr["positions_hull"], tr["orientations_hull"], frame_id="hull", max_gap_s=1)
    sc = load_scenario(truth / "scenario.yaml")
    assert sc.sensors.points is not None
    mount = Sonar3D(sc.sensors.points).mount
    ref = load_mesh(truth / "reference.ply")
    pings = _items(all_bag, PointsPing)
    assert pings and all(p.frame_id == "sonar3d" for p in pings)
    pts = np.concatenate([(traj.pose_at(p.stamp_ns) @ mount).apply(p.points.astype(float)) for p in pings])
    _, _, dist = ref.closest(pts)
    assert len(pts) > 1000 and np.median(dist) < 0.05


def test_imaging_sonar_sees_the_hull(all_bag: Path) -> None:
    truth = all_bag.with_name("bag.truth")
    tr = np.load(truth / "trajectory_true.npz")
    traj = Trajectory(tr["stamps_ns"], tr["positions_hull"], tr["orientations_hull"], frame_id="hull", max_gap_s=1)
    sc = load_scenario(truth / "scenario.yaml")
    assert sc.sensors.imaging is not None
    mount = ImagingSonar(sc.sensors.imaging).mount
    ref = load_mesh(truth / "reference.ply")
    pings = _items(all_bag, ImagingPing)
    assert pings
    seen = 0
    for p in pings:
        assert p.intensities.shape == (len(p.ranges), p.n_beams)
        origin = (traj.pose_at(p.stamp_ns) @ mount).translation
        _, _, d = ref.closest(origin[None])
        before = p.ranges < d[0] - 0.3
        # nothing but speckled noise before the hull, echoes from it beyond
        assert p.intensities[before].mean() < 0.05
        seen += bool(p.intensities[~before].max() > 0.2)
    assert seen >= 0.7 * len(pings)


def _mean_brightness(tmp: Path, attenuation: float) -> float:
    d = scenario_dict(sensors={"multibeam": {"rate_hz": 5, "beams": 64}, "camera": {"rate_hz": 2, "noise": 0}},
                      water={"attenuation_per_m": attenuation, "backscatter": 0.0})
    out = tmp / f"cam{attenuation}"
    simulate(scenario_from_dict(d), out, duration_s=4)
    frames = _items(out, CameraFrame)
    assert frames
    return float(np.mean([f.image.astype(float).mean() for f in frames]))


def test_turbidity_darkens_the_camera(tmp_path: Path) -> None:
    assert _mean_brightness(tmp_path, 0.05) > 1.5 * _mean_brightness(tmp_path, 0.8)
