"""Publish a saved hull map as the mapper would (latched ``/hullscan/cloud_full``), then stay up.

    python tests/hullscan/ros/publish_cloud.py CLOUD.ply SECONDS

Prints ``published <monotonic time>`` once a subscriber (the comparator) is matched.
"""

from __future__ import annotations

import sys
import time

import rclpy
from sensor_msgs.msg import PointCloud2

from hullscan.cloud_io import load_cloud
from hullscan.ros import messages
from hullscan.ros.common import LATCHED


def main() -> None:
    cloud = load_cloud(sys.argv[1])
    with rclpy.init():
        node = rclpy.create_node("hullscan_test_cloud")
        pub = node.create_publisher(PointCloud2, "/hullscan/cloud_full", LATCHED)
        end = time.monotonic() + float(sys.argv[2])
        while time.monotonic() < end and pub.get_subscription_count() == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        pub.publish(messages.hull_cloud(cloud, 1_700_000_000_000_000_000))
        print(f"published {time.monotonic():.3f}", flush=True)
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()


if __name__ == "__main__":
    main()
