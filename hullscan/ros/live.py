"""Composed mode: mapper, comparator and camera node in one process (a small laptop).

Parameters come from a ROS 2 params file (``/**`` and per-node sections), exactly as
``--ros-args --params-file`` gives them to the separate executables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_live(params_file: str | Path | None, threads: int = 4, nodes: tuple[str, ...] = ("mapper", "comparator", "camera"),
             duration_s: float | None = None, ros_args: list[str] | None = None) -> int:
    import time

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.parameter import Parameter

    from hullscan.ros.camera import CameraNode
    from hullscan.ros.common import params_for_node
    from hullscan.ros.comparator import ComparatorNode
    from hullscan.ros.mapper import MapperNode

    classes: dict[str, Any] = {"mapper": (MapperNode, "hullscan_mapper"),
                               "comparator": (ComparatorNode, "hullscan_comparator"),
                               "camera": (CameraNode, "hullscan_camera")}
    with rclpy.init(args=["hullscan_live", *(ros_args or [])]):
        executor = MultiThreadedExecutor(num_threads=threads)
        made = []
        for name in nodes:
            cls, node_name = classes[name]
            values = params_for_node(params_file, node_name) if params_file else {}
            overrides = [Parameter(k, value=v) for k, v in values.items()]
            node = cls(parameter_overrides=overrides, allow_undeclared_parameters=False)
            executor.add_node(node)
            made.append(node)
        try:
            if duration_s is None:
                executor.spin()
            else:
                end = time.monotonic() + duration_s
                while time.monotonic() < end:
                    executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown()
            for node in made:
                node.destroy_node()
    return 0


def main(argv: list[str] | None = None) -> int:
    import sys

    from hullscan.cli import main as cli_main

    return cli_main(["live", *(sys.argv[1:] if argv is None else argv)])
