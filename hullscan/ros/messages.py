"""Core types to rclpy messages (the reverse direction is :mod:`hullscan.bag.convert`,
whose ``*_from_msg`` functions read rclpy messages as they are)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Header

from hullscan.model import ProfilingPing


def header(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                  frame_id=frame_id)


def laserscan(ping: ProfilingPing) -> LaserScan:
    n = ping.n_beams
    msg = LaserScan()
    msg.header = header(ping.stamp_ns, ping.frame_id)
    msg.angle_min = float(ping.angles[0]) if n else 0.0
    msg.angle_max = float(ping.angles[-1]) if n else 0.0
    msg.angle_increment = float(ping.angles[1] - ping.angles[0]) if n > 1 else 0.0
    msg.range_min = float(ping.range_min)
    msg.range_max = float(ping.range_max)
    msg.ranges = np.asarray(ping.ranges, np.float32).tolist()
    msg.intensities = np.asarray(ping.intensities, np.float32).tolist()
    return msg
