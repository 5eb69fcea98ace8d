"""Publish malformed sonar/navigation messages (run as a script by the robustness test)."""

from __future__ import annotations

import array
import time

import rclpy
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import LaserScan, PointCloud2, PointField

from hullscan.ros import messages


def _pause(node: rclpy.node.Node, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=min(0.05, seconds))


def main() -> None:
    qos = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
    with rclpy.init():
        node = rclpy.create_node("hullscan_injector")
        scan = node.create_publisher(LaserScan, "/sonar/scan", qos)
        odom = node.create_publisher(Odometry, "/nav/odom", qos)
        pts = node.create_publisher(PointCloud2, "/sonar/points", qos)
        end = time.monotonic() + 10
        while time.monotonic() < end and scan.get_subscription_count() == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        t = 1_700_000_000_000_000_000
        bad_len = LaserScan(header=messages.header(t, "sonar"), angle_min=0.0, angle_max=1.0,
                            angle_increment=0.1, ranges=array.array("f", [1.0] * 11),
                            intensities=array.array("f", [1.0] * 3))
        nan = LaserScan(header=messages.header(t + 1, "sonar"), angle_min=0.0, angle_max=1.0, angle_increment=0.1,
                        ranges=array.array("f", [float("nan")] * 11))
        empty = LaserScan(header=messages.header(t + 2, "sonar"))
        ghost = LaserScan(header=messages.header(t + 3, "ghost_sonar"), angle_min=0.0, angle_max=1.0,
                          angle_increment=0.1, ranges=array.array("f", [2.0] * 11))
        bad_odom = Odometry(header=messages.header(t, "odom"))
        bad_odom.pose.pose.position.x = float("nan")
        short = PointCloud2(header=messages.header(t, "sonar"), width=100, height=1, point_step=16, row_step=1600)
        short.fields = [PointField(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]
        # Paced: the mapper's sensor-data subscription keeps only the last few messages, so a
        # burst on a loaded machine would let the ghost pings below push the malformed ones out.
        for _ in range(3):
            for msg in (bad_len, nan, empty):
                scan.publish(msg)
                _pause(node, 0.1)
            odom.publish(bad_odom)
            _pause(node, 0.3)
        for i in range(401):  # more than the mapper holds while waiting for a mounting
            ghost.header = messages.header(t + 10 + i, "ghost_sonar")
            scan.publish(ghost)
            if i % 4 == 3:
                _pause(node, 0.01)
        pts.publish(short)
        end = time.monotonic() + 2
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        node.destroy_node()


if __name__ == "__main__":
    main()
