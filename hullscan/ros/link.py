"""A minimal live link over DDS: publish profiling pings as LaserScan, or listen and print them.

Used to prove (and to check on a drone) that two processes exchange sonar data::

    python -m hullscan.ros.link pub --count 20 --beams 512
    python -m hullscan.ros.link sub --count 20       # prints one JSON line per ping
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def _ping(i: int, beams: int) -> object:
    from hullscan.model import ProfilingPing

    angles = np.linspace(-1.1, 1.1, beams)
    ranges = (5.0 + 0.01 * i + 0.1 * np.cos(angles)).astype(np.float32)
    return ProfilingPing(1_700_000_000_000_000_000 + i * 50_000_000, "sonar", angles, ranges,
                         np.full(beams, float(i), np.float32))


def publish(topic: str, count: int, beams: int, rate_hz: float) -> int:
    import rclpy
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import LaserScan

    from hullscan.ros.messages import laserscan

    qos = QoSProfile(depth=count, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    with rclpy.init():
        node = rclpy.create_node("hullscan_link_pub")
        pub = node.create_publisher(LaserScan, topic, qos)
        # Wait for the listener so no ping is sent into the void.
        for _ in range(int(20 * rate_hz)):
            if pub.get_subscription_count() > 0:
                break
            rclpy.spin_once(node, timeout_sec=1.0 / rate_hz)
        for i in range(count):
            pub.publish(laserscan(_ping(i, beams)))  # type: ignore[arg-type]
            rclpy.spin_once(node, timeout_sec=1.0 / rate_hz)
        # Keep the publisher alive until the listener has everything (transient local).
        rclpy.spin_once(node, timeout_sec=2.0)
        node.destroy_node()
    return 0


def subscribe(topic: str, count: int, timeout_s: float) -> int:
    import time

    import rclpy
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import LaserScan

    from hullscan.bag.convert import scan_from_msg
    from hullscan.model import DEFAULT_BEAMWIDTH_RAD

    got: list[dict[str, object]] = []

    def on_scan(msg: LaserScan) -> None:
        ping = scan_from_msg(msg, topic, beamwidth=DEFAULT_BEAMWIDTH_RAD)
        got.append({"stamp_ns": ping.stamp_ns, "beams": ping.n_beams,
                    "ranges": ping.ranges.tolist(), "intensity0": float(ping.intensities[0])})
        print(json.dumps(got[-1]), flush=True)

    qos = QoSProfile(depth=count, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    with rclpy.init():
        node = rclpy.create_node("hullscan_link_sub")
        node.create_subscription(LaserScan, topic, on_scan, qos)
        end = time.monotonic() + timeout_s
        while len(got) < count and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
    return 0 if len(got) >= count else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["pub", "sub"])
    ap.add_argument("--topic", default="/sonar/scan")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--beams", type=int, default=256)
    ap.add_argument("--rate", type=float, default=20.0, help="publish rate (Hz)")
    ap.add_argument("--timeout", type=float, default=30.0, help="listener gives up after this (s)")
    a = ap.parse_args(argv)
    if a.mode == "pub":
        return publish(a.topic, a.count, a.beams, a.rate)
    return subscribe(a.topic, a.count, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
