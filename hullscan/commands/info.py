"""``hullscan info BAG``: what is in a bag and which topic will be used for what."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

EXAMPLES = """\
examples:
  hullscan info bags/survey                 topic plan and message counts
  hullscan info bags/survey --json          the same as JSON (for scripts)
  hullscan info bags/survey --read          also decode every message and count problems
"""


def register(sub: Any) -> None:
    p = sub.add_parser("info", help="show a bag's topics and how hullscan will use them",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory, or a bare .mcap/.db3 file")
    p.add_argument("--config", help="YAML config (topic names under 'topics:')")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--read", action="store_true", help="decode every message and report problems")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.bag import BagReader
    from hullscan.config import load_config
    from hullscan.report.case import survey_span_from_bag

    cfg = load_config(args.config)
    with BagReader(args.bag, cfg.topics) as bag:
        if args.read:
            for _ in bag.samples():
                pass
        out: dict[str, Any] = {
            "bag": str(bag.path),
            "messages": bag.message_count,
            # As ros2 bag info: start, end and duration, from the bag's metadata.yaml.
            "recording": survey_span_from_bag(args.bag),
            "salvaged": bag.salvage,
            "plan": bag.plan.as_dict(),
            "problems": bag.drops.as_dict() if args.read else None,
            "decoded": bool(args.read),
            "damage": bag.damage,
        }
    if args.json:
        out["lost_spans"] = bag.drops.lost_spans()
        print(json.dumps(out, indent=2))
        return _verdict(bag)
    print(f"bag: {out['bag']}  ({out['messages']} messages{', salvaged by scanning' if bag.salvage else ''})")
    rec = out["recording"]
    if rec is None:
        print("recording: start/end not known (no metadata.yaml; a bare storage file)")
    else:
        print(f"recording: {rec['start']} to {rec['end']} (UTC), duration {rec['duration_s']:.1f} s")
    print(bag.plan.describe())
    if args.read:
        print("problems:")
        print(bag.drops.summary())
    else:
        print("problems: not decoded (add --read to decode every message and count problems)")
        if bag.drops:  # what opening the bag already found (damage, unknown types)
            print(bag.drops.summary())
    return _verdict(bag)


def _verdict(bag: Any) -> int:
    """Exit 1, with one line, when the bag is damaged: data would be lost by any command reading it."""
    if not bag.drops.damaged():
        return 0
    lost = bag.drops.lost_spans()
    spans = ", ".join(f"{d['where']} {d['start_s']:.1f}-{d['end_s']:.1f} s" for d in lost[:6])
    logging.getLogger("hullscan.info").error("%s: damaged bag%s", bag.path, f"; data lost: {spans}" if spans else
                                             " (see problems above)")
    return 1
