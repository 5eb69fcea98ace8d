"""``hullscan replay BAG --reference MESH|SCAN | --mirror --out DIR``: a recorded survey, end to end.

Reconstructs the hull cloud from the bag (hullscan.recon), inspects it against the reference,
gathers camera evidence from the bag's camera frames (projected through the corrected trajectory,
TF extrinsics and intrinsics, occlusion checked) and writes the inspection outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hullscan.commands.compare import add_reference_args, reference_file
from hullscan.commands.history import add_vessel_args

EXAMPLES = """\
examples:
  hullscan replay bags/box --reference hull.stl --draft 5.1 --prior quay.yaml --out runs/box
      quay.yaml: {ship_heading_deg: 30, start: {frame: 60, side: port, depth_m: 2}}
  hullscan replay bags/box --reference hull.stl --draft 5.1 --prior prior.json --out runs/box
      prior.json: {"translation": [50, -20, 0], "yaw_deg": 30}  (reference frame in the navigation frame)
  hullscan replay bags/box --reference hull.stl --out runs/box          no prior: global registration
  hullscan replay bags/box --mirror --out runs/box-mirror
  hullscan replay bags/box --reference hull.stl --prior prior.json --no-drift --out runs/box
      skip the navigation drift correction (on by default)
  hullscan replay bags/ship --reference hull.stl --prior prior.json --tiles 16 --out runs/ship
      a whole ship: the map fused in 16 m cubes (bounded memory, the same findings)
the last line is the verdict; exit status: 0 nothing found and >= 95 % cleared; 3 compartments found;
  4 nothing found but less cleared; 1 inspection failed (a partial report is still written); see compare --help
"""


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="reconstruct a survey bag and inspect it (end to end)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory, or a bare .mcap/.db3 file")
    add_reference_args(p)
    p.add_argument("--config", help="YAML config")
    p.add_argument("--no-drift", action="store_true",
                   help="do not correct navigation drift (default: submaps are aligned to the --reference placed "
                        "by the registered prior; with --mirror or without a prior, to each other)")
    p.add_argument("--drift", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    p.add_argument("--frame-spacing", type=float, help="frame spacing in m, for frame numbers and a quay prior's frame")
    p.add_argument("--no-camera", action="store_true", help="skip camera evidence")
    p.add_argument("--tiles", type=float, metavar="METRES",
                   help="fuse the map tile by tile, in cubes of METRES: a whole ship in bounded memory, with the "
                        "same cloud and findings as in memory (recon.tiling)")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    add_vessel_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.commands.history import inspect_and_record
    from hullscan.config import load_config
    from hullscan.inspection import replay

    overrides: dict[str, Any] = {}
    if args.frame_spacing:
        overrides["compare"] = {"scoring": {"frame_spacing_m": args.frame_spacing}}
    if args.tiles is not None:
        overrides["recon"] = {"tiling": {"enabled": True, "tile_m": args.tiles}}
    cfg = load_config(args.config, overrides or None)
    return inspect_and_record(args, cfg, "replay", Path(args.out) / "cloud.ply", lambda amend: replay(
        args.bag, reference_file(args), args.out, cfg, prior_path=args.prior, camera=not args.no_camera,
        progress=not args.no_progress, drift=not args.no_drift, case=args.case, amend=amend))
