"""``hullscan batch BAGS... | --from LIST --reference MESH --out DIR``: replay many surveys.

Each survey is replayed exactly as ``hullscan replay`` would, into ``DIR/<survey>/`` (the bag's
name; a short hash is added where two bags share one), on a local process pool by default or on
Dask distributed (``--dask``). A survey that fails is recorded and the others go on. DIR gets
``summary.csv`` and ``summary.html``: every survey's verdict, findings, coverage, wall time and
error. A rerun skips the surveys already done with the same inputs (``--force`` redoes all).
"""

from __future__ import annotations

import argparse
from typing import Any

from hullscan.commands.compare import add_reference_args, reference_file

EXAMPLES = """\
examples:
  hullscan batch bags/*/ --reference hull.stl --draft 5.1 --prior prior.json --out runs/archive
  hullscan batch --from surveys.txt --reference hull.stl --out runs/archive --workers 4
      surveys.txt: one bag path a line ('#' comments; relative paths from the list's folder)
  hullscan batch --from surveys.txt --reference hull.stl --out runs/archive --dask local:2
  hullscan batch --from surveys.txt --reference hull.stl --out /shared/runs --dask tcp://scheduler:8786
      workers started with: dask worker tcp://scheduler:8786 --nworkers 1 --nthreads 1 (bags, reference
      and --out on a path every worker reads and writes)
  hullscan batch --from surveys.txt --reference hull.stl --out runs/archive --force    redo every survey
engines: --workers N (default 2) local processes, one survey each at a time (--workers 1: in this process);
  --dask ADDRESS runs one task per survey on a Dask scheduler, --dask local:N on a local Dask cluster.
  A survey is one task: per-tile tasks for one very large survey need the tiled reconstruction of
  issue 19 part 1, which is not there yet.
resume: a survey's folder is marked done last, with a fingerprint of its inputs (bag, reference, prior,
  config, options, version); a rerun skips it, and redoes a survey that failed, was interrupted or changed.
exit status: 1 any survey failed (or the batch could not run); else 3 compartments found in any survey;
  else 4 any survey nothing found but not enough cleared; else 0. Per survey: see replay --help.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("batch", help="replay many survey bags (process pool or Dask), with a summary table",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bags", nargs="*", metavar="BAG", help="rosbag2 directories, or bare .mcap/.db3 files")
    p.add_argument("--from", dest="from_list", metavar="LIST", help="text file naming the bags, one a line")
    add_reference_args(p)
    p.add_argument("--config", help="YAML config (read by every worker)")
    p.add_argument("--no-drift", action="store_true", help="do not correct navigation drift (as replay)")
    p.add_argument("--frame-spacing", type=float, help="frame spacing in m, for frame numbers and a quay prior's frame")
    p.add_argument("--no-camera", action="store_true", help="skip camera evidence")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, metavar="N",
                        help="local worker processes (default 2; 1 runs the surveys one after another here)")
    engine.add_argument("--dask", metavar="ADDRESS",
                        help="run on Dask distributed: a scheduler address (tcp://host:8786) or local:N")
    p.add_argument("--dask-timeout", type=float, default=5.0, metavar="S",
                   help="seconds to wait for the Dask scheduler before giving up (default 5)")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="tries more for a survey whose worker died or whose task crashed (default 2)")
    p.add_argument("--force", action="store_true", help="redo surveys already done by an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.batch import ReplayOptions, parse_engine, read_survey_list, run_batch
    from hullscan.commands.history import load_plan
    from hullscan.config import load_config
    from hullscan.errors import BatchError

    if args.bags and args.from_list:
        raise BatchError("name the bags either on the command line or with --from LIST, not both")
    bags = read_survey_list(args.from_list) if args.from_list else list(args.bags)
    if not bags:
        raise BatchError("no survey to replay: name bags, or a list of them with --from LIST")
    if args.retries < 0:
        raise BatchError(f"--retries {args.retries}: expected 0 or more")
    engine = parse_engine(args.workers, args.dask, args.retries, args.dask_timeout)
    overrides = {"compare": {"scoring": {"frame_spacing_m": args.frame_spacing}}} if args.frame_spacing else None
    cfg = load_config(args.config, overrides)  # a bad config fails here, once, not in every worker
    load_plan(args, cfg)  # so does a bad --fittings plan
    options = ReplayOptions(reference_file(args), args.prior, args.config, args.frame_spacing,
                            camera=not args.no_camera, drift=not args.no_drift, case=args.case,
                            fittings=args.fittings)
    result = run_batch(bags, args.out, options, engine, force=args.force, progress=not args.no_progress)
    counts = {k: sum(1 for r in result.rows if r.kind == k) for k in ("found", "nothing_found", "failed")}
    print(f"batch: {len(result.rows)} surveys in {result.wall_s:.1f} s: {counts['found']} with compartments found, "
          f"{counts['nothing_found']} nothing found, {counts['failed']} failed -> {result.summary_html}", flush=True)
    return result.exit_code
