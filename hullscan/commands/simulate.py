"""``hullscan simulate``: simulate a hull survey from a scenario YAML into a rosbag2 bag,
with the ground truth written beside it in ``BAG_DIR.truth/``."""

from __future__ import annotations

import argparse
import json
from typing import Any

EXAMPLES = """\
examples:
  hullscan simulate --scenario sim/scenarios/demo.yaml --out bags/demo
  hullscan simulate --scenario sim/scenarios/box_on_side.yaml --out bags/box --force
  hullscan simulate --scenario my.yaml --out bags/quick --duration 30 --decimate 4
  hullscan simulate --list                         the scenario library
  hullscan simulate --scenario demo --out bags/demo --figure docs/img/survey.png

The bag holds /sonar/scan (LaserScan), /sonar/image (ProjectedSonarImage),
/sonar/points (PointCloud2), /camera/image_raw[/compressed] + /camera/camera_info,
/nav/odom, /tf and /tf_static, as each scenario's sensors say. BAG_DIR.truth/ holds
truth.json (parasites, decoys, hull_to_nav, drift), trajectory_true.npz,
reference.ply (design hull with region labels) and scenario.yaml. What the dive team has lies
beside it: BAG_DIR.operator.yaml (quay notes: design file, draft, a prior), BAG_DIR.design.ply (a
parametric hull's design) and, for a mesh hull with fitted anodes, BAG_DIR.fittings.yaml.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="simulate a hull survey into a rosbag2 bag (+ ground truth)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", help="scenario YAML, or the name of one in the library (e.g. demo)")
    p.add_argument("--out", help="bag directory to create")
    p.add_argument("--force", action="store_true", help="replace an existing bag and its truth folder")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop the survey after S seconds")
    p.add_argument("--decimate", type=int, default=1, metavar="N", help="keep every N-th sensor message")
    p.add_argument("--figure", metavar="PNG", help="also draw hull, trajectory and returns to PNG")
    p.add_argument("--list", action="store_true", help="list the scenario library and exit")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hullscan_sim import SCENARIO_DIR, load_scenario, simulate

    from hullscan.errors import ConfigError

    if args.list:
        for f in sorted(SCENARIO_DIR.glob("*.yaml")):
            sc = load_scenario(f)
            print(f"{f.stem:<24} {sc.description}")
        return 0
    if not args.scenario or not args.out:
        raise ConfigError("simulate: expected --scenario FILE.yaml and --out BAG_DIR (see --help)")
    path = Path(args.scenario)
    if not path.exists() and (SCENARIO_DIR / f"{args.scenario}.yaml").exists():
        path = SCENARIO_DIR / f"{args.scenario}.yaml"
    res = simulate(load_scenario(path), args.out, duration_s=args.duration, ping_decimation=args.decimate,
                   progress=not args.json, overwrite=args.force)
    summary = {"bag": str(res.bag), "truth": str(res.truth_dir), "scenario": res.scenario.name,
               "duration_s": round(res.duration_s, 2), "messages": res.messages, "rays_cast": res.rays_cast,
               "timings_s": {k: round(v, 3) for k, v in res.timings_s.items()}, "nav": res.nav,
               "parasites": [p["id"] for p in res.parasites]}
    if args.figure:
        from hullscan_sim.figure import survey_figure

        summary["figure"] = str(survey_figure(res.bag, args.figure))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"bag: {res.bag}  ({res.duration_s:.1f} s survey, "
              + ", ".join(f"{k} {v}" for k, v in res.messages.items()) + ")")
        print(f"truth: {res.truth_dir}  parasites: {', '.join(summary['parasites']) or 'none'}")
        print(f"navigation drift: {res.nav['final_error_m']:.2f} m after {res.nav['distance_m']:.0f} m; "
              f"{res.rays_cast / 1e6:.1f} M rays in {res.timings_s['total_s']:.1f} s")
    return 0
