"""Composed mode: mapper, comparator and camera node in one process (a small laptop).

Parameters come from a ROS 2 params file (``/**`` and per-node sections) handed to rclpy as
``--ros-args --params-file FILE``, followed by the user's own ``--ros-args``: as with ``ros2 run``
and ``ros2 launch``, what comes later on the command line wins (``-p reference:=hull.stl``
overrides the file's ``reference``). The file is not turned into ``parameter_overrides``: those
beat every command-line argument in rclpy, so a ``-p`` was silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NODE_NAMES = {"mapper": "hullscan_mapper", "comparator": "hullscan_comparator", "camera": "hullscan_camera"}


def live_ros_args(params_file: str | Path | None, ros_args: list[str] | None = None,
                  node_names: tuple[str, ...] = ()) -> list[str]:
    """rclpy arguments: the params file first, then the user's ``--ros-args ...``, so that the
    command line comes last and wins.

    rcl ranks a node's own section above the ``/**`` wildcard whatever the order, and a plain
    ``-p NAME:=VALUE`` is a wildcard: against a file with ``hullscan_comparator: reference:
    mirror`` it would lose (``ros2 run`` drops it just the same). So each plain ``-p`` is also
    given for every node of this process by name (``-p NODE:NAME:=VALUE``), where it ranks with
    the file's node sections and, coming later, wins.
    """
    user = list(ros_args or [])
    if user[:1] == ["--ros-args"]:
        user = user[1:]
    out = ["--params-file", str(Path(params_file).resolve())] if params_file else []
    i = 0
    while i < len(user):
        arg = user[i]
        out.append(arg)
        if arg in ("-p", "--param") and i + 1 < len(user):
            rule = user[i + 1]
            out.append(rule)
            name = rule.split(":=", 1)[0]
            if ":=" in rule and ":" not in name:  # plain NAME:=VALUE, not NODE:NAME:=VALUE
                for node in node_names:
                    out += [arg, f"{node}:{rule}"]
            i += 1
        i += 1
    return ["--ros-args", *out] if out else []


def run_live(params_file: str | Path | None, threads: int = 4, nodes: tuple[str, ...] = ("mapper", "comparator", "camera"),
             duration_s: float | None = None, ros_args: list[str] | None = None) -> int:
    import time

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from hullscan.ros.camera import CameraNode
    from hullscan.ros.comparator import ComparatorNode
    from hullscan.ros.mapper import MapperNode

    classes: dict[str, Any] = {"mapper": MapperNode, "comparator": ComparatorNode, "camera": CameraNode}
    if params_file and not Path(params_file).is_file():
        from hullscan.errors import ConfigError

        raise ConfigError(f"--params {params_file}: no such file (a ROS 2 params file was expected)")
    names = tuple(NODE_NAMES[n] for n in nodes)
    with rclpy.init(args=["hullscan_live", *live_ros_args(params_file, ros_args, names)]):
        executor = MultiThreadedExecutor(num_threads=threads)
        made = []
        stopped = False
        # Ctrl-C can come at any point, while the nodes start (numba warm-up) as well as while
        # they spin: every path ends in the same clean shutdown, without a traceback.
        try:
            for name in nodes:
                node = classes[name]()
                executor.add_node(node)
                made.append(node)
            if duration_s is None:
                executor.spin()
            else:
                end = time.monotonic() + duration_s
                while rclpy.ok() and time.monotonic() < end:
                    executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            stopped = True
        except Exception:
            if rclpy.ok():
                raise
            # Ctrl-C while a node was being made: rclpy's signal handler had shut the context
            # down under it (RCLError "context is invalid"). A stop, not a failure.
            stopped = True
        finally:
            if stopped or not rclpy.ok():
                # As run_node: after a stop, leave without tearing nodes down after their context
                # (a native hang there outlived launch's SIGTERM now and then).
                from hullscan.ros.common import _leave

                _leave(0)
            executor.shutdown()
            for node in made:
                node.destroy_node()
    return 0


def main(argv: list[str] | None = None) -> int:
    import sys

    from hullscan.cli import main as cli_main

    return cli_main(["live", *(sys.argv[1:] if argv is None else argv)])
