"""Publish malformed sonar/navigation messages (run as a script by the robustness test)."""

from __future__ import annotations

import array
import time

import rclpy
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import LaserScan, PointCloud2, PointField

from hullscan.ros import messages


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
        for _ in range(3):
            scan.publish(bad_len)
            scan.publish(nan)
            scan.publish(empty)
            odom.publish(bad_odom)
            rclpy.spin_once(node, timeout_sec=0.05)
        for i in range(401):  # more than the mapper holds while waiting for a mounting
            ghost.header = messages.header(t + 10 + i, "ghost_sonar")
            scan.publish(ghost)
        pts.publish(short)
        end = time.monotonic() + 2
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        node.destroy_node()


if __name__ == "__main__":
    main()
