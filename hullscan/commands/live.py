"""``hullscan live --params FILE``: all hullscan nodes in one process (multi-threaded executor)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  hullscan live --params config/hullscan.yaml                 mapper + comparator + camera node
  hullscan live --params config/replay.yaml --nodes mapper comparator
  hullscan live --params config/hullscan.yaml --ros-args -p use_sim_time:=true
  hullscan live --params config/hullscan.yaml --ros-args -p reference:=hull.stl -p draft:=7.2
  hullscan live --params config/hullscan.yaml --ros-args -p hullscan_mapper:input_timeout_s:=10.0

--ros-args comes last and wins over the params file (-p NAME:=VALUE for every node that has
NAME, -p NODE:NAME:=VALUE for one), also over the file's per-node sections.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("live", help="run the ROS 2 nodes in one process (composed mode)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", help="ROS 2 params file (/** and per-node ros__parameters)")
    p.add_argument("--nodes", nargs="+", default=["mapper", "comparator", "camera"],
                   choices=["mapper", "comparator", "camera"], help="which nodes to run")
    p.add_argument("--threads", type=int, default=4, help="executor threads")
    p.add_argument("--allow-missing", action="store_true",
                   help="run even where tf2_msgs / marine_acoustic_msgs are missing (the pip wheels): "
                        "/tf_static and the imaging sonar are then not subscribed (a warning on /diagnostics)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    intent = p.add_mutually_exclusive_group()
    intent.add_argument("--resume", action="store_true", help="restore the mapper's and the camera node's checkpoints "
                        "even if their survey ended or lies long before this one (default: only a restart of the same "
                        "survey resumes)")
    intent.add_argument("--fresh", action="store_true", help="start with an empty map and no keyframes; never restore "
                        "a checkpoint (the camera node's is cleared)")
    p.add_argument("--ros-args", nargs=argparse.REMAINDER, default=[], help="passed to rclpy (e.g. -p use_sim_time:=true)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.ros import require_rclpy

    require_rclpy()
    from pathlib import Path

    from hullscan.errors import ConfigError
    from hullscan.ros.live import run_live

    if args.params and not Path(args.params).is_file():
        raise ConfigError(f"{args.params}: no such params file (--params expects a ROS 2 params YAML, "
                          "e.g. config/hullscan.yaml)")
    mode = "resume" if args.resume else "fresh" if args.fresh else ""
    ros_args = list(args.ros_args)
    if ros_args[:1] == ["--ros-args"]:
        ros_args = ros_args[1:]
    if mode:
        ros_args += ["-p", f"resume:={mode}"]
    if args.allow_missing:
        ros_args = ["-p", "allow_missing_msgs:=true", *ros_args]
    ros_args = ["--ros-args", *ros_args] if ros_args else []
    return run_live(args.params, args.threads, tuple(args.nodes), args.duration, ros_args)
