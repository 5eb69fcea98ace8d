"""Faults inside the data: duplicate, reversed and late stamps, NaN and denormal values, zero and
non-unit quaternions, missing and late frames, a mounting given twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagWriter, msgdefs
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped
from hullscan.recon.config import ReconConfig
from hullscan.recon.mounts import MountTable
from hullscan.recon.nav import NavBuffer
from hullscan.recon.pipeline import Reconstructor
from tests.faults.helpers import PERIOD_NS, T0, read, survey, write_in_order
from tests.hullscan.recon.synth import survey as cylinder_survey


def _nav(i: int, x: float | None = None) -> NavSample:
    return NavSample(T0 + i * PERIOD_NS, [i * 0.05 if x is None else x, 0, 0], [0, 0, 0, 1])


def test_duplicate_stamp_keeps_the_first_and_is_counted() -> None:
    rec = Reconstructor(ReconConfig())
    for i in range(5):
        rec.add(_nav(i))
    rec.add(_nav(4, x=9.0))  # same stamp, another pose: ignored, counted
    t, a = rec.nav.arrays()
    assert len(t) == 5 and a[4, 0] == pytest.approx(0.2)
    assert rec.drops.counts[("navigation", "nav_duplicate_stamp")] == 1


def test_late_sample_is_reordered_not_dropped() -> None:
    nav = NavBuffer(1.0, 5.0)
    for i in (0, 1, 2, 4, 5):
        assert nav.add(_nav(i)) is None
    assert nav.add(_nav(3)) == "reordered"
    t, a = nav.arrays()
    assert list(t) == [T0 + i * PERIOD_NS for i in range(6)]
    assert a[3, 0] == pytest.approx(0.15)
    assert nav.rewritten_from == 3
    assert nav.add(_nav(3)) == "duplicate"


def test_reversed_stamps_in_a_bag_are_counted(tmp_path: Path) -> None:
    items = survey(20)
    items[9], items[11] = items[11], items[9]  # two odometry samples swapped
    items, r = read(write_in_order(tmp_path / "bag", items))
    assert r.drops.counts[("/nav/odom", "stamp_backwards")] == 1
    rec = Reconstructor(ReconConfig())
    rec.add_all(items)
    assert rec.drops.counts[("navigation", "nav_late_reordered")] == 1
    assert len(rec.nav) == 20


def test_duplicate_stamps_in_a_bag_are_counted(tmp_path: Path) -> None:
    items = survey(20)
    items.insert(12, _nav(5, x=3.0))  # a second sample with the stamp of the fifth (after later ones)
    items.insert(13, _nav(5, x=3.0))
    items, _r = read(write_in_order(tmp_path / "bag", items))
    rec = Reconstructor(ReconConfig())
    rec.add_all(items)
    assert rec.drops.counts[("navigation", "nav_duplicate_stamp")] == 2
    _items2, r2 = read(write_in_order(tmp_path / "bag2", [*survey(3)[:2], _nav(0, x=1.0)]))
    assert r2.drops.counts[("/nav/odom", "stamp_duplicate")] == 1


def test_nan_and_denormal_ranges_are_counted(tmp_path: Path) -> None:
    s = cylinder_survey(n_pings=40, beams=32, lanes=(0.0,))
    items: list[object] = []
    n_bad = 0
    for it in s.items:
        if isinstance(it, ProfilingPing) and len(items) % 7 == 0:
            r = it.ranges.copy()
            r[:4] = np.nan
            r[4:8] = np.float32(1e-42)  # denormal float32
            n_bad += 1
            it = ProfilingPing(it.stamp_ns, it.frame_id, it.angles, r, it.intensities, it.range_min,
                               it.range_max, it.beamwidth)
        items.append(it)
    got, r = read(write_in_order(tmp_path / "bag", items))
    nan = sum(int(np.isnan(x.ranges).sum()) for x in items if isinstance(x, ProfilingPing))
    assert n_bad > 0 and r.drops.counts[("/sonar/scan", "nan_range")] == nan  # every NaN, counted by the reader
    rec = Reconstructor(ReconConfig())
    rec.add_all(got)
    res = rec.finish()
    assert res.drops.total("below_min_range") >= 4 * n_bad  # denormals: counted, never fused
    assert len(res.cloud) > 0


def test_zero_and_non_unit_quaternions(tmp_path: Path) -> None:
    from rosbags.typesys.stores.ros2_kilted import (
        builtin_interfaces__msg__Time as Time,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__Point as Point,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__Pose as Pose,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__PoseWithCovariance as PoseCov,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__Quaternion as Quat,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__Twist as Twist,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__TwistWithCovariance as TwistCov,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        geometry_msgs__msg__Vector3 as Vec,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        nav_msgs__msg__Odometry as Odometry,
    )
    from rosbags.typesys.stores.ros2_kilted import (
        std_msgs__msg__Header as Header,
    )

    def odom(i: int, q: tuple[float, float, float, float]) -> object:
        t = T0 + i * PERIOD_NS
        return Odometry(Header(Time(sec=t // 10**9, nanosec=t % 10**9), "odom"), "base_link",
                        PoseCov(Pose(Point(x=0.0, y=0.0, z=0.0), Quat(x=q[0], y=q[1], z=q[2], w=q[3])),
                                np.zeros(36)),
                        TwistCov(Twist(Vec(x=0.0, y=0.0, z=0.0), Vec(x=0.0, y=0.0, z=0.0)), np.zeros(36)))

    with BagWriter(tmp_path / "bag") as bag:
        for i, q in enumerate([(0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 2.0), (0, 0, 0, 1.0000001)]):
            bag.write_msg("/nav/odom", msgdefs.ODOMETRY, odom(i, q), T0 + i * PERIOD_NS)
    items, r = read(tmp_path / "bag")
    assert len(items) == 3
    assert r.drops.counts[("/nav/odom", "malformed_message")] == 1  # zero quaternion
    assert r.drops.counts[("/nav/odom", "quaternion_renormalised")] == 1  # 2.0, not the rounding one
    assert all(np.linalg.norm(x.orientation) == pytest.approx(1.0) for x in items)  # type: ignore[attr-defined]


def test_frame_missing_is_counted_and_late_frame_still_places_pings() -> None:
    s = cylinder_survey(n_pings=60, beams=32, lanes=(0.0,))
    mount = next(x for x in s.items if isinstance(x, TransformStamped))
    rest = [x for x in s.items if x is not mount]
    rec = Reconstructor(ReconConfig())
    rec.add_all(rest)  # no mounting at all
    res = rec.finish()
    assert len(res.cloud) == 0 and res.drops.total("no_transform") > 0
    late = Reconstructor(ReconConfig())
    late.add_all([*rest[:10], mount, *rest[10:]])  # the mounting arrives after the first pings
    res2 = late.finish()
    assert len(res2.cloud) > 0


def test_mounting_given_twice_tf_static_wins() -> None:
    zero = TransformStamped(0, "base_link", "sonar", Transform(), True)
    real = TransformStamped(0, "base_link", "sonar", Transform.from_euler(0.0, -np.pi / 2, 0.0, (0.3, 0, 0.2)), True)
    table = MountTable()
    assert table.offer(zero, "parameters") == "new"
    assert table.from_parameters() == ["sonar"]
    assert table.offer(real, "tf_static") == "replaced"
    assert table.edges["sonar"] is real and table.from_parameters() == []
    assert table.offer(zero, "parameters") == "kept"  # parameters never replace /tf_static
    assert table.offer(real, "player") == "same"
    other = MountTable()
    assert other.offer(real, "tf_static") == "new"
    assert other.offer(zero, "parameters") == "kept"


def test_reconstructor_remount_replaces_the_mounting() -> None:
    s = cylinder_survey(n_pings=60, beams=32, lanes=(0.0,))
    mount = next(x for x in s.items if isinstance(x, TransformStamped))
    rest = [x for x in s.items if x is not mount]
    wrong = TransformStamped(mount.stamp_ns, mount.parent_frame, mount.child_frame, Transform(), True)
    good = Reconstructor(ReconConfig())
    good.add_all([mount, *rest])
    ref = good.finish().cloud
    rec = Reconstructor(ReconConfig())
    rec.add(wrong)
    rec.remount(mount)  # before any ping: the result is the one with the right mounting
    rec.add_all(rest)
    got = rec.finish().cloud
    assert len(got) == len(ref)
    np.testing.assert_allclose(np.sort(got.points, axis=0), np.sort(ref.points, axis=0), atol=1e-9)
