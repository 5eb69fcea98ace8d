"""``hullscan live --params FILE``: all hullscan nodes in one process (multi-threaded executor)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  hullscan live --params config/hullscan.yaml                 mapper + comparator + camera node
  hullscan live --params config/replay.yaml --nodes mapper comparator
  hullscan live --params config/hullscan.yaml --ros-args -p use_sim_time:=true
"""


def register(sub: Any) -> None:
    p = sub.add_parser("live", help="run the ROS 2 nodes in one process (composed mode)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", help="ROS 2 params file (/** and per-node ros__parameters)")
    p.add_argument("--nodes", nargs="+", default=["mapper", "comparator", "camera"],
                   choices=["mapper", "comparator", "camera"], help="which nodes to run")
    p.add_argument("--threads", type=int, default=4, help="executor threads")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    intent = p.add_mutually_exclusive_group()
    intent.add_argument("--resume", action="store_true", help="restore the mapper's checkpoint even if its survey "
                        "ended or lies long before this one (default: only a restart of the same survey resumes)")
    intent.add_argument("--fresh", action="store_true", help="start with an empty map; never restore a checkpoint")
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
    extra = ["-p", f"resume:={mode}"] if mode else []
    ros_args = ["--ros-args", *args.ros_args, *extra] if args.ros_args or extra else []
    return run_live(args.params, args.threads, tuple(args.nodes), args.duration, ros_args)
