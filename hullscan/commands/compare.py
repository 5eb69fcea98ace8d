"""``hullscan compare CLOUD --reference MESH|SCAN | --mirror --out DIR``: flag compartments on a hull cloud.

Aligns the cloud with the reference (navigation prior, or global registration when none is
given), measures the signed deviation, segments protrusions and recesses, scores them, works out
what was not inspected, and writes findings.json, report.html, deviation.ply and config.yaml.
"""

from __future__ import annotations

import argparse
from typing import Any

from hullscan.commands.history import add_vessel_args

EXAMPLES = """\
examples:
  hullscan compare runs/box/cloud.ply --reference hull.stl --out runs/box/inspection
  hullscan compare cloud.ply --reference hull.stl.gz --units mm --out out    mesh drawn in millimetres
  hullscan compare cloud.ply --reference earlier_scan.ply --out out        against an earlier clean scan
  hullscan compare cloud.ply --mirror --out out                            no reference: port vs starboard
  hullscan compare cloud.ply --reference hull.stl --draft 6.2 --prior prior.json --out out
      prior.json: {"translation": [50, -20, 0], "yaw_deg": 30, "sigma": {"along_m": 5, "heading_deg": 10}}
  hullscan compare cloud.ply --reference hull.stl --case case.yaml --out out   vessel, IMO, case number in the report
the last line is the verdict; exit status (docs/report.md):
  0 nothing found, and at least report.clear_floor (95 %) of the wetted hull cleared
  3 compartments found
  4 nothing found in what was cleared, but less than the floor cleared: not a clean hull
  1 inspection failed (a partial report is still written to --out)
"""


def add_reference_args(p: argparse.ArgumentParser) -> None:
    """The reference, output and prior options that compare and replay share."""
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--reference", help="design mesh (STL/OBJ/PLY, .gz ok) or an earlier clean scan (cloud PLY)")
    ref.add_argument("--mirror", action="store_true", help="no reference: compare the hull with its reflection")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--prior", "--hull-to-nav", dest="prior", metavar="FILE",
                   help="navigation prior (JSON/YAML): {translation, rotation} placing the reference file's own "
                        "frame in the navigation frame, or a quay prior {ship_heading_deg, start: {frame, side, "
                        "depth_m}} (replay only); optional sigma {along_m, across_m, heading_deg} (default 5 m, "
                        "2 m, 10 deg: the search range). See docs/prior.md")
    p.add_argument("--draft", type=float, metavar="M",
                   help="the ship's draft today, metres from the keel to the waterline (draft marks); without "
                        "it the waterline is guessed and every output says so")
    p.add_argument("--trim", type=float, metavar="M",
                   help="the ship's trim today: aft draft minus forward draft in metres (positive by the stern); "
                        "with it --draft is the mean draft, and the waterline and depths follow the trimmed ship")
    p.add_argument("--units", default="auto", help="mesh units: auto, m, cm, mm, model (default auto)")
    p.add_argument("--length", type=float, metavar="M",
                   help="the ship's length overall in metres, for a model-scale mesh (the file's largest extent "
                        "becomes this); without it a model is read as a 100 m ship and every output says so")
    p.add_argument("--up", default="auto", choices=("auto", "+x", "-x", "+y", "-y", "+z", "-z"),
                   help="the mesh file's up axis (default: the file's +z when its axes read as a hull's)")
    p.add_argument("--bow", default="auto", choices=("auto", "+x", "-x", "+y", "-y", "+z", "-z"),
                   help="the mesh file's axis towards the bow (default: the file's +x when plausible)")
    p.add_argument("--fittings", metavar="FILE",
                   help="the ship's declared fittings (anode or docking plan, YAML): a finding where the plan puts "
                        "an anode and no larger than it is marked as that fitting and not counted by the verdict; "
                        "one larger than it stays a finding. See docs/fittings.md")
    p.add_argument("--case", help="case YAML: case_number, vessel_name, imo_number, flag, port, berth, operator, "
                   "agency, survey_start/end, vehicle, sensor_serials (shown in the report, kept in findings.json)")


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="compare a hull cloud with a reference and report findings",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cloud", help="hull cloud PLY (as written by hullscan reconstruct)")
    add_reference_args(p)
    p.add_argument("--frame-spacing", type=float, help="frame spacing in m, for frame numbers")
    p.add_argument("--config", help="YAML config (comparator settings under 'compare:')")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    add_vessel_args(p)
    p.set_defaults(func=run)


def reference_file(args: argparse.Namespace) -> Any:
    """The reference options shared by compare and replay (``--reference``/``--mirror``, ``--units``,
    ``--draft``, ``--up``, ``--bow``, ``--trim``) as a :class:`hullscan.inspection.ReferenceFile`."""
    from hullscan.inspection import ReferenceFile

    return ReferenceFile(None if args.mirror else args.reference, args.units, args.draft, args.up, args.bow,
                         args.trim, args.length)


def run(args: argparse.Namespace) -> int:
    from hullscan.commands.history import inspect_and_record
    from hullscan.config import load_config
    from hullscan.inspection import compare_cloud

    overrides = {"compare": {"scoring": {"frame_spacing_m": args.frame_spacing}}} if args.frame_spacing else None
    cfg = load_config(args.config, overrides)
    return inspect_and_record(args, cfg, "compare", args.cloud, lambda amend: compare_cloud(
        args.cloud, reference_file(args), args.out, cfg, prior_path=args.prior, progress=not args.no_progress,
        config_path=args.config, case=args.case, amend=amend))
