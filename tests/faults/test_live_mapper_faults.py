"""The live mapper in-process (no DDS traffic: callbacks called directly): a finished survey's
checkpoint is not restored into the next survey, --resume restores it, /tf_static replaces a
mounting from parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _mapper(ckpt_dir: Path, **extra: object) -> Any:
    from rclpy.parameter import Parameter

    from hullscan.ros.mapper import MapperNode

    params = {"checkpoint_dir": str(ckpt_dir), "checkpoint_period_s": 1000.0, "sensor_frames": ["sonar"],
              "sensor_mounts": [0.0] * 6, "allow_missing_msgs": True, **extra}
    return MapperNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def _feed(node: Any, t0: int, n: int) -> None:
    from hullscan.ros import messages

    angles = np.linspace(-1.0, 1.0, 32)
    for i in range(n):
        t = t0 + i * S // 20
        node.on_odom(messages.odometry(NavSample(t, [i * 0.05, 0.0, 0.0], [0, 0, 0, 1])))
        node.on_ping(messages.laserscan(ProfilingPing(t, "sonar", angles, np.full(32, 4.0), np.zeros(32))),
                     "/sonar/scan", "scan")


def test_finished_survey_is_not_restored_into_the_next(tmp_path: Path, rclpy_ctx: Any) -> None:
    from std_srvs.srv import Trigger

    ck = tmp_path / "ck"
    a = _mapper(ck)
    _feed(a, T0, 200)
    a.session.checkpoint(wait=True)
    a._finish(Trigger.Response())
    a.destroy_node()

    c = _mapper(ck, resume="resume")  # asked to continue the finished survey
    _feed(c, T0 + 10 * S + S // 40, 3)
    assert any(r == "restored_checkpoint" for (_, r) in c.drops.counts), c.drops.summary()
    assert len(c.session.recon.nav) > 200
    c.destroy_node()

    b = _mapper(ck)  # the next survey, an hour later
    _feed(b, T0 + 3600 * S, 5)
    assert not any(r == "restored_checkpoint" for (_, r) in b.drops.counts), b.drops.summary()
    assert any(r == "checkpoint_not_restored" for (_, r) in b.drops.counts), b.drops.summary()
    assert len(b.session.recon.nav) == 5 and b.session.recon.drops.total("nav_late_reordered") == 0
    b.destroy_node()


def test_restart_of_the_same_survey_is_restored(tmp_path: Path, rclpy_ctx: Any) -> None:
    ck = tmp_path / "ck"
    a = _mapper(ck)
    _feed(a, T0, 100)
    a.session.checkpoint(wait=True)
    a.destroy_node()  # killed: no finish
    b = _mapper(ck)
    _feed(b, T0 + 7 * S, 5)  # a few seconds later: the same survey
    assert any(r == "restored_checkpoint" for (_, r) in b.drops.counts), b.drops.summary()
    assert float(b.stats["restore_gap_s"]) > 0
    b.destroy_node()
    fresh = _mapper(ck, resume="fresh")
    _feed(fresh, T0 + 8 * S, 5)
    assert len(fresh.session.recon.nav) == 5
    fresh.destroy_node()


def test_tf_static_replaces_the_configured_mounting(tmp_path: Path, rclpy_ctx: Any) -> None:
    node = _mapper(tmp_path / "ck")
    assert node.session.mount_table.sources["sonar"] == "parameters"
    assert any(r == "mount_from_parameters" for (_, r) in node.drops.counts)
    real = TransformStamped(0, "base_link", "sonar", Transform.from_euler(0.0, -np.pi / 2, 0.0, (0.3, 0, 0.2)), True)
    node.session.offer_mount(real, "tf_static")
    assert node.session.mount_table.sources["sonar"] == "tf_static"
    assert any(r == "mount_replaced" for (_, r) in node.drops.counts)
    got = node.session.recon._mount("sonar")
    np.testing.assert_allclose(got[1], [0.3, 0.0, 0.2])
    node.destroy_node()


def test_odometry_is_queued_deeper_than_the_sonar(tmp_path: Path, rclpy_ctx: Any) -> None:
    """Restoring a late survey's checkpoint holds the callbacks for 10-20 s: the queues hold that (the
    sonar's 1000, odometry's 3000: every ping needs it; 200 deep lost 796 odometry messages there)."""
    node = _mapper(tmp_path / "ck")
    try:
        depth = {t: [sub.qos_profile.depth for sub in node.subscriptions if sub.topic_name == t]
                 for t in ("/nav/odom", "/sonar/scan")}
        assert depth == {"/nav/odom": [3000], "/sonar/scan": [1000]}, depth
    finally:
        node.destroy_node()
    node = _mapper(tmp_path / "ck2", nav_input_depth=500)
    try:
        assert [sub.qos_profile.depth for sub in node.subscriptions if sub.topic_name == "/nav/odom"] == [500]
    finally:
        node.destroy_node()
