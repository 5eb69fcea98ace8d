"""``hullscan play BAG``: publish a bag's messages on their ROS 2 topics, with ``/clock``."""

from __future__ import annotations

import argparse
import json
from typing import Any

EXAMPLES = """\
examples:
  hullscan play bags/survey                     real time
  hullscan play bags/survey --rate 5            five times faster than recorded
  hullscan play bags/survey --rate 0            as fast as possible
  hullscan play bags/survey --wait 10 --wait-for 1   wait until the mapper listens

Without tf2_msgs, sensor mountings from /tf_static go out as JSON on /hullscan/mounts
(the mapper reads them); /hullscan/survey_end is sent when the bag is done.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("play", help="publish a bag on ROS 2 topics (real time or --rate), with /clock",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory, or a bare .mcap/.db3 file")
    p.add_argument("--rate", type=float, default=1.0, help="rate factor (0: as fast as possible; default 1)")
    p.add_argument("--config", help="YAML config (topic names under 'topics:')")
    p.add_argument("--keep-names", action="store_true", help="publish on the bag's topic names, not the configured ones")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for subscribers before playing (at most; once --wait-for is met, playing starts after 1 s with no new subscriber)")
    p.add_argument("--wait-for", type=int, default=1, help="subscribers each sonar/odometry topic needs before playing")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.config import load_config
    from hullscan.ros import require_rclpy

    require_rclpy()
    from hullscan.ros.player import play

    summary = play(args.bag, load_config(args.config), rate=args.rate, keep_names=args.keep_names,
                   wait_s=args.wait, wait_for=args.wait_for, clock=not args.no_clock)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"played {sum(summary['published'].values())} messages from {summary['bag']} "
              f"in {summary['wall_s']} s")
        for topic, n in sorted(summary["published"].items()):
            print(f"  {topic}: {n}")
    return 0
