"""``hullscan reconstruct BAG --out DIR``: a survey bag to a clean hull point cloud.

Writes DIR/cloud.ply (+ cloud.json metadata), DIR/trajectory.npz (corrected poses),
DIR/config.yaml (the configuration used) and DIR/summary.json (drop counts by
reason, a time breakdown by stage with numba compile time apart, statistics).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

EXAMPLES = """\
examples:
  hullscan reconstruct bags/survey --out runs/survey
  hullscan reconstruct bags/survey --out runs/survey --voxel 0.03
  hullscan reconstruct bags/survey --out runs/survey --drift     also correct navigation drift
  hullscan reconstruct bags/survey --out runs/survey --drift --reference hull.stl --prior prior.json
      correct drift against the design mesh (absolute: also the first lane and heading bias)
  hullscan reconstruct bags/ship --out runs/ship --drift --reference hull.stl --prior prior.json --tiles 16
      a whole ship: fuse the map in 16 m cubes (bounded memory, the same cloud; recon.tiling)
  hullscan reconstruct bags/survey --out runs/survey --config my.yaml --time-offset 0.012
  (settings live under 'recon:' in the YAML; see config.yaml in any output folder)
"""

log = logging.getLogger("hullscan.reconstruct")


def register(sub: Any) -> None:
    p = sub.add_parser("reconstruct", help="bag -> hull point cloud (PLY)", description=__doc__,
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory, or a bare .mcap/.db3 file")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--config", help="YAML config (reconstruction settings under 'recon:')")
    p.add_argument("--voxel", type=float, help="fusion voxel size in metres (0.01..0.05)")
    p.add_argument("--time-offset", type=float, help="sonar clock minus navigation clock (s)")
    p.add_argument("--drift", action="store_true", help="correct navigation drift by submap ICP")
    p.add_argument("--reference", help="with --drift: align each submap to this design mesh "
                                       "(STL/OBJ/PLY, .gz ok) or earlier hullscan cloud PLY, "
                                       "instead of to each other")
    p.add_argument("--prior", "--hull-to-nav", dest="hull_to_nav", metavar="FILE",
                   help="navigation prior placing the reference file's own frame in the navigation frame "
                        "(JSON/YAML {translation, rotation|yaw_deg, sigma}; see docs/prior.md); needed with a "
                        "mesh --reference; registered over its sigma before the submaps are aligned")
    p.add_argument("--units", help="mesh units of --reference: auto, m, cm, mm, model (default auto)")
    p.add_argument("--tiles", type=float, metavar="METRES",
                   help="fuse the map tile by tile, in cubes of METRES (a whole ship in bounded memory; the "
                        "cloud is the same as in memory; recon.tiling)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``recon:`` settings the command line gives (nothing for an option not given)."""
    recon: dict[str, Any] = {}
    if args.voxel is not None:
        recon["voxel_size"] = args.voxel
    if args.time_offset is not None:
        recon["time_offset_s"] = args.time_offset
    drift: dict[str, Any] = {"enabled": True} if args.drift else {}
    for key, value in (("reference", args.reference), ("hull_to_nav", args.hull_to_nav),
                       ("reference_units", args.units)):
        if value is not None:
            drift[key] = value
    if drift:
        recon["drift"] = drift
    if args.tiles is not None:
        recon["tiling"] = {"enabled": True, "tile_m": args.tiles}
    return recon


def _report(res: Any, out: Path, bag: str) -> int:
    """What the run did, on the console; 1 when no hull point came out."""
    t = res.timings_s
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in t.items() if k not in ("total", "numba_compile"))
    print(f"{len(res.cloud)} points -> {out / 'cloud.ply'}  ({t['total']:.2f} s: {stages}; "
          f"numba compile/load {t['numba_compile']:.2f} s)")
    if res.drops:
        print("dropped:\n" + res.drops.summary())
    if res.drops.damaged():
        spans = ", ".join(f"{d['where']} {d['start_s']:.1f}-{d['end_s']:.1f} s" for d in res.drops.lost_spans())
        print(f"PARTIAL: the input was damaged; data lost{': ' + spans if spans else ''} (see summary.json)")
    if len(res.cloud) == 0:
        log.error("%s: no hull points could be reconstructed (see the drop counts above)", bag)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from hullscan.cloud_io import save_cloud
    from hullscan.config import dump_config, load_config
    from hullscan.errors import HullscanError
    from hullscan.outdir import atomic_path, output_folder, write_text_atomic
    from hullscan.recon.pipeline import reconstruct_bag

    recon = _overrides(args)
    cfg = load_config(args.config, {"recon": recon} if recon else None)
    drift_reference = None
    if cfg.recon.drift.reference is not None:
        if not cfg.recon.drift.enabled:
            raise HullscanError("--reference (recon.drift.reference) aligns the drift-correction submaps to it: "
                                "add --drift (recon.drift.enabled: true)")
        from hullscan.compare.navref import load_drift_reference

        drift_reference = load_drift_reference(cfg.recon.drift)  # fail before reading the bag, not after
    with output_folder(args.out, "reconstruct") as folder:  # checked and locked before the bag is read
        out = folder.path
        dump_config(cfg, out / "config.yaml")
        res = reconstruct_bag(args.bag, cfg, progress=not args.no_progress, drift_reference=drift_reference)
        status = "partial" if res.drops.damaged() else "complete"
        summary = {"bag": str(args.bag), "status": status, "points": len(res.cloud),
                   "timings_s": res.timings_s, "stats": res.stats, "drops": res.drops.as_dict(),
                   "lost_spans": res.drops.lost_spans()}
        # The drop counts first: on a full disk they are what must survive, not the large PLY.
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
        save_cloud(res.cloud, out / "cloud.ply", {"bag": str(args.bag), "voxel_size": cfg.recon.voxel_size,
                                                  "stats": res.stats, "status": status,
                                                  "drops": res.drops.as_dict()})
        if res.trajectory is not None:
            tr = res.trajectory
            with atomic_path(out / "trajectory.npz") as tmp, tmp.open("wb") as fh:
                np.savez(fh, stamps_ns=tr.stamps_ns, positions=tr.positions, orientations=tr.orientations)
    return _report(res, out, str(args.bag))
