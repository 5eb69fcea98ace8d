"""Bag player: a bag's messages on their topics, in real time or at a rate factor, with ``/clock``.

Samples come from :class:`hullscan.bag.BagReader` (so damaged or foreign bags play as far
as they read) and are published under the configured topic names (``--keep-names`` keeps
the bag's own). ``/clock`` carries the bag time so nodes with ``use_sim_time`` follow it.

Without ``tf2_msgs`` (the pip wheels have none) ``/tf`` cannot be published: static
sensor mountings go out as JSON on ``/hullscan/mounts`` (latched), which the mapper reads;
dynamic TF edges are counted as not published. On a full ROS install ``/tf_static`` is
published as well. At the end ``/hullscan/survey_end`` tells the mapper to finish.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hullscan.bag import BagReader, Role
from hullscan.config import HullscanConfig
from hullscan.diagnostics import DropLog
from hullscan.model import (
    CameraFrame,
    CameraModel,
    ImagingPing,
    NavSample,
    PointsPing,
    ProfilingPing,
    TransformStamped,
)


def _role(item: Any) -> Role:
    if isinstance(item, ProfilingPing):
        return Role.SCAN
    if isinstance(item, PointsPing):
        return Role.POINTS
    if isinstance(item, ImagingPing):
        return Role.IMAGE
    if isinstance(item, NavSample):
        return Role.ODOM
    if isinstance(item, TransformStamped):
        return Role.TF_STATIC if item.static else Role.TF
    if isinstance(item, CameraFrame):
        return Role.CAMERA_COMPRESSED if item.compressed else Role.CAMERA_IMAGE
    assert isinstance(item, CameraModel)
    return Role.CAMERA_INFO


def _tf_message(tf_message_type: Any, edges: Any) -> Any:
    from geometry_msgs.msg import Quaternion, Transform, Vector3
    from geometry_msgs.msg import TransformStamped as TfEdge

    from hullscan.ros.messages import header

    out = tf_message_type()
    for e in edges:
        t, q = e.transform.translation, e.transform.rotation
        out.transforms.append(TfEdge(
            header=header(e.stamp_ns, e.parent_frame), child_frame_id=e.child_frame,
            transform=Transform(translation=Vector3(x=t[0], y=t[1], z=t[2]),
                                rotation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]))))
    return out


class _Pacer:
    """Holds each message back until its bag time, scaled by ``rate`` (<= 0: as fast as possible)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.t0_bag: int | None = None
        self.t0_wall = time.monotonic()

    def wait(self, stamp_ns: int) -> None:
        if self.t0_bag is None:
            self.t0_bag, self.t0_wall = stamp_ns, time.monotonic()
        if self.rate > 0:
            delay = self.t0_wall + (stamp_ns - self.t0_bag) * 1e-9 / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def _publishers(node: Any, bag: BagReader, config: HullscanConfig, keep_names: bool, depth: int
                ) -> tuple[dict[Role, tuple[Any, str]], dict[Role, Any]]:
    """One publisher per sample role the bag has (on the contract's name unless ``keep_names``), and
    the message converters by role."""
    from nav_msgs.msg import Odometry
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2

    from hullscan.ros import messages

    qos = QoSProfile(depth=depth, reliability=QoSReliabilityPolicy.RELIABLE)
    types: dict[Role, tuple[type, Any]] = {
        Role.SCAN: (LaserScan, messages.laserscan), Role.POINTS: (PointCloud2, messages.pointcloud),
        Role.ODOM: (Odometry, messages.odometry), Role.CAMERA_IMAGE: (Image, messages.image),
        Role.CAMERA_COMPRESSED: (CompressedImage, messages.compressed_image),
        Role.CAMERA_INFO: (CameraInfo, messages.camera_info),
    }
    pubs: dict[Role, tuple[Any, str]] = {}
    for role, (msg_type, _) in types.items():
        bag_topic = bag.plan.topic(role)
        if bag_topic:
            topic = bag_topic if keep_names else getattr(config.topics, role.value) or bag_topic
            pubs[role] = (node.create_publisher(msg_type, topic, qos), topic)
    return pubs, {role: conv for role, (_, conv) in types.items()}


def play(bag_path: str | Path, config: HullscanConfig, *, rate: float = 1.0, keep_names: bool = False,
         wait_s: float = 5.0, wait_for: int = 1, clock: bool = True, linger_s: float = 1.0,
         depth: int = 500) -> dict[str, Any]:
    """Publish the bag; returns counts by topic and the drops. ``rate`` <= 0 plays as fast as possible."""
    import rclpy
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import String

    from hullscan.ros import messages
    from hullscan.ros.common import LATCHED, spin_for, wait_for_listeners

    try:
        from tf2_msgs.msg import TFMessage
    except ImportError:
        TFMessage = None
    drops = DropLog()
    counts: dict[str, int] = {}
    statics: dict[str, TransformStamped] = {}
    with rclpy.init(), BagReader(bag_path, config.topics) as bag:
        node = rclpy.create_node("hullscan_player")
        pubs, convert = _publishers(node, bag, config, keep_names, depth)
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        mounts_pub = node.create_publisher(String, "/hullscan/mounts", LATCHED)
        end_pub = node.create_publisher(String, "/hullscan/survey_end", LATCHED)
        tf_static_pub = node.create_publisher(TFMessage, config.topics.tf_static, LATCHED) if TFMessage else None
        # Wait for listeners on the sonar and navigation topics so nothing is sent into the void.
        watch = [pubs[r][0] for r in (Role.SCAN, Role.POINTS, Role.ODOM) if r in pubs]
        wait_for_listeners(node, watch, [p for p, _ in pubs.values()], wait_s, wait_for)
        pacer = _Pacer(rate)
        for item in bag.samples():
            role = _role(item)
            if isinstance(item, TransformStamped) and item.static:
                # Mountings: latched, as /hullscan/mounts (and /tf_static where tf2_msgs exists).
                statics[item.child_frame] = item
                mounts_pub.publish(String(data=messages.mounts_json(statics.values())))
                if tf_static_pub is not None:
                    tf_static_pub.publish(_tf_message(TFMessage, statics.values()))
                counts["/hullscan/mounts"] = counts.get("/hullscan/mounts", 0) + 1
            elif isinstance(item, TransformStamped):
                drops.add(config.topics.tf, "tf_not_published", 1,
                          "tf2_msgs is not installed: dynamic TF cannot be published")
            elif role not in pubs:
                drops.add(role.value, "no_message_type", 1,
                          f"{type(item).__name__}: its ROS message package is not installed")
            else:
                pacer.wait(item.stamp_ns)
                if clock_pub is not None:
                    clock_pub.publish(messages.clock(item.stamp_ns))
                pub, topic = pubs[role]
                pub.publish(convert[role](item))
                counts[topic] = counts.get(topic, 0) + 1
        drops.merge(bag.drops)
        summary = {"bag": str(bag_path), "published": counts, "wall_s": round(time.monotonic() - pacer.t0_wall, 3),
                   "drops": drops.as_dict(), "damage": bag.damage}
        end_pub.publish(String(data=json.dumps(summary)))
        node.get_logger().info(f"played {sum(counts.values())} messages in {summary['wall_s']} s")
        spin_for(node, linger_s)  # keep the publishers alive so reliable/latched data reaches everyone
        node.destroy_node()
    return summary


def main(argv: list[str] | None = None) -> int:
    """``hullscan_player BAG [--rate R]`` (the launch files' executable; same as ``hullscan play``)."""
    import sys

    from hullscan.cli import main as cli_main

    args = sys.argv[1:] if argv is None else argv
    # Drop the --ros-args tail a launch file appends.
    if "--ros-args" in args:
        args = args[: args.index("--ros-args")]
    status = cli_main(["play", *args])
    # Played and shut down: end now. The interpreter's finalization (DDS threads of the native
    # libraries) has hung a finished player until launch's SIGINT killed it ("process has died").
    from hullscan.ros.common import _leave

    _leave(status)
    return status
