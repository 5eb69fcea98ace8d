"""``hullscan compare CLOUD --reference MESH|SCAN | --mirror --out DIR``: flag compartments on a hull cloud.

Aligns the cloud with the reference (navigation prior, or global registration when none is
given), measures the signed deviation, segments protrusions and recesses, scores them, works out
what was not inspected, and writes findings.json, report.html, deviation.ply and config.yaml.
"""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  hullscan compare runs/box/cloud.ply --reference hull.stl --out runs/box/inspection
  hullscan compare cloud.ply --reference hull.stl.gz --units mm --out out    mesh drawn in millimetres
  hullscan compare cloud.ply --reference earlier_scan.ply --out out        against an earlier clean scan
  hullscan compare cloud.ply --mirror --out out                            no reference: port vs starboard
  hullscan compare cloud.ply --reference ref.ply --hull-to-nav bags/box.truth/truth.json --out out
exit status: 0 inspected; 1 error (a partial report is still written to --out)
"""


def add_reference_args(p: argparse.ArgumentParser) -> None:
    """The reference, output and prior options that compare and replay share."""
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--reference", help="design mesh (STL/OBJ/PLY, .gz ok) or an earlier clean scan (cloud PLY)")
    ref.add_argument("--mirror", action="store_true", help="no reference: compare the hull with its reflection")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--hull-to-nav", help="JSON with the navigation prior (nav <- hull); truth.json works")
    p.add_argument("--units", default="auto", help="mesh units: auto, m, cm, mm, model (default auto)")


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="compare a hull cloud with a reference and report findings",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cloud", help="hull cloud PLY (as written by hullscan reconstruct)")
    add_reference_args(p)
    p.add_argument("--frame-spacing", type=float, help="frame spacing in m, for frame numbers")
    p.add_argument("--config", help="YAML config (comparator settings under 'compare:')")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.cloud_io import load_cloud, load_metadata
    from hullscan.compare.loading import load_prior, load_reference, run_inspection, write_failure
    from hullscan.config import load_config
    from hullscan.diagnostics import DropLog
    from hullscan.errors import HullscanError
    from hullscan.outdir import output_folder

    overrides = {"compare": {"frame_spacing_m": args.frame_spacing}} if args.frame_spacing else None
    cfg = load_config(args.config, overrides)
    inputs = {"cloud": args.cloud, "reference": None if args.mirror else args.reference,
              "hull_to_nav": args.hull_to_nav, "config": args.config}
    with output_folder(args.out, "compare"):  # checked and locked before any work (issue 17)
        try:
            cloud = load_cloud(args.cloud)
            prior = load_prior(args.hull_to_nav)
            reference = "mirror" if args.mirror else load_reference(args.reference, args.units)
        except HullscanError as err:
            write_failure(err, args.out, cfg.compare, inputs, cfg, str(args.reference or "mirror"))
            raise
        # The bag's and the reconstruction's drops, from the cloud's sidecar (reconstruct writes them).
        upstream = DropLog.from_dicts(load_metadata(args.cloud).get("drops") or [])
        run_inspection(cloud, reference, args.out, cfg.compare, inputs, cfg, hull_to_nav=prior,
                       progress=not args.no_progress, upstream=upstream)
    return 0
