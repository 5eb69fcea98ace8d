"""``hullscan oculus2bag RAW... --out BAG``: raw Oculus imaging-sonar captures to a rosbag2 bag.

Each simple ping result becomes a ``marine_acoustic_msgs/ProjectedSonarImage`` on the imaging
sonar topic (``topics.image``), intensities kept at the sonar's own sample size. A raw capture
carries no clock that maps to time, so pings are stamped ``--start`` + n / ``--rate``.
"""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  hullscan oculus2bag ping_*.raw --out bags/oculus                  10 Hz from t = 0
  hullscan oculus2bag capture.raw --out bags/oc --rate 15 --frame oculus --elevation-deg 20
"""


def register(sub: Any) -> None:
    p = sub.add_parser("oculus2bag", help="convert raw Oculus sonar captures to a bag (ProjectedSonarImage)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("raw", nargs="+", help="raw captures: simple ping result messages back to back")
    p.add_argument("--out", required=True, help="bag to write (must not exist)")
    p.add_argument("--topic", help="topic (default: the config's topics.image)")
    p.add_argument("--frame", default="sonar", help="frame_id of the pings (default: sonar)")
    p.add_argument("--rate", type=float, default=10.0, help="ping rate for the stamps, Hz (default 10)")
    p.add_argument("--start", type=float, default=0.0, help="stamp of the first ping, s (default 0)")
    p.add_argument("--elevation-deg", type=float, default=12.0,
                   help="vertical aperture of the sonar head, degrees (default 12)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.bag import BagWriter
    from hullscan.config import TopicsConfig
    from hullscan.diagnostics import DropLog
    from hullscan.errors import ConfigError
    from hullscan.sonar.oculus import read_pings

    if not args.rate > 0:
        raise ConfigError(f"--rate is {args.rate}, expected a positive ping rate in Hz")
    drops = DropLog()
    n = 0
    dtypes = {1: 0, 2: 2, 4: 4}  # sample bytes -> SonarImageData dtype (uint8, uint16, uint32)
    with BagWriter(args.out, storage=args.storage, topics=TopicsConfig(), sonar_image_dtype=0) as bag:
        for raw in args.raw:
            for ping in read_pings(raw, drops):
                bag.sonar_image_dtype = dtypes[ping.intensities.dtype.itemsize]
                stamp = round((args.start + n / args.rate) * 1e9)
                bag.write(ping.to_imaging_ping(stamp, args.frame, args.elevation_deg), topic=args.topic)
                n += 1
    print(f"oculus2bag: {n} pings -> {args.out}")
    for (where, reason), k in sorted(drops.counts.items()):
        print(f"  skipped {k} x {reason.replace('_', ' ')} in {where} ({drops.examples[(where, reason)]})")
    if n == 0:
        raise ConfigError(f"{', '.join(args.raw)}: no simple ping result found, nothing written")
    return 0
