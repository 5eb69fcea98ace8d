"""``hullscan replay BAG --reference MESH|SCAN | --mirror --out DIR``: a recorded survey, end to end.

Reconstructs the hull cloud from the bag (hullscan.recon), inspects it against the reference,
gathers camera evidence from the bag's camera frames (projected through the corrected trajectory,
TF extrinsics and intrinsics, occlusion checked) and writes the inspection outputs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hullscan.commands.compare import add_reference_args

EXAMPLES = """\
examples:
  hullscan replay bags/box --reference hull.stl --out runs/box
  hullscan replay bags/box --reference bags/box.truth/reference.ply --hull-to-nav bags/box.truth/truth.json --out runs/box
  hullscan replay bags/box --mirror --out runs/box-mirror
  hullscan replay bags/box --reference hull.stl --hull-to-nav truth.json --drift --out runs/box
      correct navigation drift against the same reference before inspecting
exit status: 0 inspected; 1 error (a partial report is still written to --out)
"""


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="reconstruct a survey bag and inspect it (end to end)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory, or a bare .mcap/.db3 file")
    add_reference_args(p)
    p.add_argument("--config", help="YAML config")
    p.add_argument("--drift", action="store_true", help="correct navigation drift: submaps aligned to the "
                   "--reference (placed by --hull-to-nav); with --mirror, to each other")
    p.add_argument("--no-camera", action="store_true", help="skip camera evidence")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def replay(bag: str, reference_arg: str | None, out: str, cfg: Any, *, hull_to_nav: str | None = None,
           units: str = "auto", camera: bool = True, progress: bool = True, drift: bool = False) -> Any:
    """Reconstruct + inspect + write; returns the Inspection (raises with a partial report on error).

    ``drift``: correct navigation drift, against the reference when there is one (recon.drift)."""
    from pathlib import Path

    from hullscan.cloud_io import save_cloud
    from hullscan.compare.loading import load_prior, load_reference, run_inspection, write_failure
    from hullscan.errors import HullscanError
    from hullscan.recon import reconstruct_bag

    inputs = {"bag": bag, "reference": reference_arg, "hull_to_nav": hull_to_nav}
    try:
        prior = load_prior(hull_to_nav)
        reference = "mirror" if reference_arg is None else load_reference(reference_arg, units)
        drift_reference = None
        if drift:
            extra: dict[str, Any] = {"enabled": True}
            if reference_arg is not None:
                extra.update(reference=reference_arg, hull_to_nav=hull_to_nav, reference_units=units)
            rc = cfg.recon.model_copy(update={"drift": cfg.recon.drift.model_copy(update=extra)})
            cfg = cfg.model_copy(update={"recon": rc})
            if reference_arg is not None:  # the file the inspection loaded, not read a second time
                from hullscan.recon.drift import nav_reference

                drift_reference = nav_reference(reference, prior, reference_arg)
        if progress:
            print(f"[replay] reconstructing {bag} ...", file=sys.stderr, flush=True)
        recon = reconstruct_bag(bag, cfg, progress=progress, drift_reference=drift_reference)
    except HullscanError as err:
        write_failure(err, out, cfg.compare, inputs, cfg, str(reference_arg or "mirror"))
        raise
    Path(out).mkdir(parents=True, exist_ok=True)
    save_cloud(recon.cloud, Path(out) / "cloud.ply")
    cams = None
    if camera:
        from hullscan.compare.camera import CameraSet

        try:
            cams = CameraSet.from_bag(bag, recon.trajectory, cfg.topics)
        except HullscanError as err:
            print(f"[replay] no camera evidence: {err}", file=sys.stderr)
    return run_inspection(recon.cloud, reference, out, cfg.compare, inputs, cfg, hull_to_nav=prior,
                          cameras=cams, progress=progress, upstream=recon.drops)


def run(args: argparse.Namespace) -> int:
    from hullscan.config import load_config
    from hullscan.outdir import output_folder

    cfg = load_config(args.config)
    with output_folder(args.out, "replay"):  # checked and locked before any work (issue 17)
        replay(args.bag, None if args.mirror else args.reference, args.out, cfg, hull_to_nav=args.hull_to_nav,
               units=args.units, camera=not args.no_camera, progress=not args.no_progress, drift=args.drift)
    return 0
