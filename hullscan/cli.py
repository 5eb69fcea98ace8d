"""The ``hullscan`` command line: one entry point, one sub-command per job.

Each sub-command lives in :mod:`hullscan.commands` as a module with
``register(subparsers)``; heavy imports happen inside the command, so
``hullscan --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hullscan._version import __version__
from hullscan.errors import HullscanError

# Order is the order shown in --help.
COMMANDS = ("demo", "simulate", "info", "reconstruct", "compare", "replay", "batch", "history", "evaluate", "plan",
            "schema", "play", "live", "oculus2bag")

EPILOG = """\
examples:
  hullscan demo --out runs/demo                     simulate a survey and inspect it end to end
  hullscan simulate --scenario sim/scenarios/box_on_side.yaml --out bags/box
  hullscan info bags/box                            which topics will be used for what
  hullscan reconstruct bags/box --out runs/box      bag -> hull point cloud (PLY)
  hullscan replay bags/box --reference hull.stl --out runs/box
  hullscan replay bags/box --reference hull.stl --out runs/box --vessel 9074729   recorded in the vessel's history
  hullscan batch --from surveys.txt --reference hull.stl --out runs/archive   many surveys, with a summary
  hullscan history 9074729                          the vessel's inspections
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hullscan",
        description="Find smuggling compartments on ship hulls from ROV/AUV sonar surveys.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hullscan {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hullscan.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"hullscan.commands.{name}":
                continue  # command not part of this build
            raise
        module.register(sub)
    return parser


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("numba").setLevel(logging.WARNING)
    # Alembic narrates each migration step at INFO; hullscan.history says what changed in one line.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HullscanError as err:
        logging.getLogger("hullscan").error("%s", err)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as err:  # a full disk, a read-only or vanished file: one line naming it, no traceback
        from hullscan.outdir import os_error_line

        logging.getLogger("hullscan").error("%s", os_error_line(err))
        if args.verbose > 1:
            raise
        return 1
    except Exception as err:  # a bug: still one line for the user; -vv shows the traceback
        logging.getLogger("hullscan").error("internal error in '%s': %s: %s (run with -vv for the traceback "
                                            "and please report it)", args.command, type(err).__name__, err)
        if args.verbose > 1:
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
