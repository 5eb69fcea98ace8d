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
  hullscan replay bags/box --reference hull.stl --draft 5.1 --prior quay.yaml --out runs/box
      quay.yaml: {ship_heading_deg: 30, start: {frame: 60, side: port, depth_m: 2}}
  hullscan replay bags/box --reference hull.stl --draft 5.1 --prior prior.json --out runs/box
      prior.json: {"translation": [50, -20, 0], "yaw_deg": 30}  (reference frame in the navigation frame)
  hullscan replay bags/box --reference hull.stl --out runs/box          no prior: global registration
  hullscan replay bags/box --mirror --out runs/box-mirror
  hullscan replay bags/box --reference hull.stl --prior prior.json --no-drift --out runs/box
      skip the navigation drift correction (on by default)
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
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def first_fix(bag: str, cfg: Any) -> Any:
    """The survey's first navigation position (nav frame), for a quay prior."""
    from hullscan.bag.reader import BagReader
    from hullscan.errors import HullscanError
    from hullscan.model import NavSample

    with BagReader(bag, cfg.topics) as reader:
        for item in reader.samples():
            if isinstance(item, NavSample):
                return item.position
    raise HullscanError(f"{bag}: no navigation sample found; a quay prior needs the survey's first fix")


def replay(bag: str, reference_arg: str | None, out: str, cfg: Any, *, prior_path: str | None = None,
           units: str = "auto", draft: float | None = None, up: str = "auto", bow: str = "auto",
           camera: bool = True, progress: bool = True, drift: bool = True, case: str | None = None) -> Any:
    """Reconstruct + inspect + write; returns the Inspection (raises with a partial report on error).

    ``drift``: correct navigation drift, against the reference when there is one and a prior places
    it (the prior is registered first), otherwise between submaps (recon.drift)."""
    from pathlib import Path

    from hullscan.cloud_io import save_cloud
    from hullscan.compare.loading import load_prior, load_reference, run_inspection, write_failure
    from hullscan.errors import HullscanError
    from hullscan.hull.mesh import HullMesh
    from hullscan.recon import reconstruct_bag

    inputs = {"bag": bag, "reference": reference_arg, "prior": prior_path, "case": case}
    try:
        prior = load_prior(prior_path)
        reference = "mirror" if reference_arg is None else load_reference(reference_arg, units, draft=draft,
                                                                          up=up, bow=bow)
        if prior is not None and prior.form == "quay":
            if not isinstance(reference, HullMesh):
                raise HullscanError(f"{prior_path}: a quay prior names a frame and side of the design hull; "
                                    "give a design mesh as --reference, or a {translation, rotation} prior")
            prior = prior.resolve(reference, first_fix(bag, cfg), cfg.compare.frame_spacing_m,
                                  cfg.compare.frame_zero_x_m)
        drift_reference = None
        if drift:
            rc = cfg.recon.model_copy(update={"drift": cfg.recon.drift.model_copy(update={"enabled": True})})
            cfg = cfg.model_copy(update={"recon": rc})
            if reference != "mirror" and prior is not None:
                from hullscan.recon.drift import nav_reference

                # Submaps are aligned to the reference placed by the prior, registered first over
                # the prior's uncertainty (the file is not read a second time).
                drift_reference = nav_reference(reference, prior.hull_to_nav(getattr(reference, "ref_from_hull", None)),
                                                reference_arg or "", sigma=prior.search, compare_config=cfg.compare)
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
    reg = recon.registration
    ins = run_inspection(recon.cloud, reference, out, cfg.compare, inputs, cfg, prior=prior,
                         registered=recon.hull_to_nav if drift_reference is not None else None,
                         registration=None if reg is None else reg.as_dict(), cameras=cams, progress=progress,
                         upstream=recon.drops)
    if recon.trajectory is not None:
        ins.track = (recon.trajectory.stamps_ns, recon.trajectory.positions, recon.trajectory.orientations)
    return ins


def run(args: argparse.Namespace) -> int:
    from hullscan.config import load_config
    from hullscan.errors import HullscanError
    from hullscan.outdir import output_folder
    from hullscan.report.verdict import failed, inspection_verdict, print_verdict

    overrides = {"compare": {"frame_spacing_m": args.frame_spacing}} if args.frame_spacing else None
    cfg = load_config(args.config, overrides)
    try:
        with output_folder(args.out, "replay"):  # checked and locked before any work
            ins = replay(args.bag, None if args.mirror else args.reference, args.out, cfg, prior_path=args.prior,
                         units=args.units, draft=args.draft, up=args.up, bow=args.bow, camera=not args.no_camera,
                         progress=not args.no_progress, drift=not args.no_drift, case=args.case)
    except HullscanError as err:
        return failed(err)
    return print_verdict(inspection_verdict(ins, cfg.report))
