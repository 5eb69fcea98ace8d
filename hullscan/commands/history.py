"""``hullscan history IMO``: a vessel's inspections from the history database.

``replay`` and ``compare`` record an inspection there with ``--vessel IMO``, and compare the hull
with the vessel's last cleared scan: findings are marked "new since DATE" or "present since DATE".
The database: ``--db URL`` (or a SQLite file path), else $HULLSCAN_DB, else
~/.local/share/hullscan/history.db; a port's server: postgresql+psycopg://user@host/dbname.
See docs/history.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from hullscan.compare.fittings import FittingPlan
    from hullscan.compare.inspect import Inspection
    from hullscan.config import HullscanConfig
    from hullscan.history import VesselHistory
    from hullscan.inspection import Amend
    from hullscan.report.verdict import Verdict

EXAMPLES = """\
examples:
  hullscan history 9074729                                  the vessel's inspections, oldest first
  hullscan history "IMO 9074729" --json                      as JSON, with each inspection's findings
  hullscan history 9074729 --db /srv/port/history.db         another SQLite file
  hullscan history 9074729 --db postgresql+psycopg://inspect@db.port.example/hullscan
  HULLSCAN_DB=/srv/port/history.db hullscan history 9074729
record inspections (compared with the vessel's last cleared scan when there is one):
  hullscan replay bags/box --reference hull.stl --out runs/box --vessel 9074729 --port Rotterdam --operator "J. Smit"
  hullscan compare cloud.ply --reference hull.stl --out out --vessel 9074729 --cleared
      --cleared: the findings were checked and are benign; keep this cloud as the vessel's clean scan
      (a hull with nothing found and enough cleared, exit status 0, is kept without it)
"""


def add_db_arg(p: argparse._ActionsContainer) -> None:
    p.add_argument("--db", metavar="URL",
                   help="history database: a SQLite file path or a SQLAlchemy URL (postgresql+psycopg://user@host/db); "
                        "default $HULLSCAN_DB, else ~/.local/share/hullscan/history.db")


def add_vessel_args(p: argparse.ArgumentParser) -> None:
    """The options with which replay and compare record the inspection in the history."""
    g = p.add_argument_group("inspection history (docs/history.md)")
    g.add_argument("--vessel", metavar="IMO",
                   help="record this inspection in the vessel's history (IMO number, 7 digits) and compare the hull "
                        "with its last cleared scan: findings are marked new / present since that date")
    g.add_argument("--vessel-name", help="the vessel's name (default: the case file's vessel_name)")
    g.add_argument("--flag", help="the vessel's flag state (default: the case file's)")
    g.add_argument("--port", help="port of the inspection (default: the case file's)")
    g.add_argument("--operator", help="who ran the inspection (default: the case file's); the case number is "
                   "the case file's case_number")
    g.add_argument("--cleared", action="store_true",
                   help="the hull is cleared (its findings were checked and are benign): keep its cloud as the "
                        "vessel's clean scan (kept anyway when nothing is found and enough is cleared)")
    g.add_argument("--store", metavar="DIR", help="where clean clouds are kept (default $HULLSCAN_STORE, else "
                   "clean-clouds/ beside a SQLite database)")
    add_db_arg(g)


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="list a vessel's inspections (the inspection history database)",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("imo", help="the vessel's IMO number (7 digits, with or without 'IMO')")
    add_db_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON: the vessel and its inspections with findings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hullscan.history.db import HistoryDB, resolve
    from hullscan.history.imo import parse_imo
    from hullscan.history.listing import render_table
    from hullscan.history.record import vessel_history

    imo = parse_imo(args.imo)
    target = resolve(args.db)
    db = HistoryDB.open(target, write=False)
    try:
        vessel = vessel_history(db, imo)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"database": target.label, "vessel": vessel}, indent=2))
    elif vessel is None:
        print(f"no inspection of IMO {imo} recorded in {target.label}")
    else:
        print(render_table(vessel, target.label))
    return 0


def open_vessel_history(args: argparse.Namespace) -> VesselHistory | None:
    """The history for ``--vessel`` (None without it), opened and checked writable before any work:
    a bad IMO number, a locked, read-only or newer database is one line now, not after the run."""
    if not getattr(args, "vessel", None):
        return None
    from hullscan.history import HistoryError, VesselHistory, Visit, parse_imo
    from hullscan.report.case import load_case

    imo = parse_imo(args.vessel)
    case = load_case(args.case)
    if case.imo_number and parse_imo(case.imo_number) != imo:
        raise HistoryError(f"--vessel {imo}, but the case file {args.case} is for IMO {case.imo_number}")
    visit = Visit(imo, args.vessel_name or case.vessel_name, args.flag or case.flag, args.port or case.port,
                  args.operator or case.operator, case.case_number)
    return VesselHistory.open(visit, args.db, args.store)


def reference_sha256(args: argparse.Namespace) -> str | None:
    from hullscan.report.outputs import sha256_file

    ref = None if args.mirror else Path(args.reference)
    return sha256_file(ref) if ref is not None and ref.is_file() else None


def record_run(history: VesselHistory, args: argparse.Namespace, ins: Inspection, verdict: Verdict,
               command: str, cloud: str | Path | None) -> None:
    """The inspection into the vessel's history (its inputs' hashes from the findings.json written)."""
    from hullscan.history import HistoryError, RunRecord

    doc = json.loads((Path(args.out) / "findings.json").read_text())
    hashes = {i["role"]: i.get("sha256") for i in doc.get("inputs", [])}
    reference = None if args.mirror else str(Path(args.reference).resolve())
    run = RunRecord(command, hashes, reference, str(Path(args.out).resolve()),
                    None if cloud is None else str(cloud), args.cleared)
    try:
        rec = history.record(ins, verdict, run)
    except HistoryError as err:
        raise type(err)(f"{err} (the report is in {args.out}; this inspection is not in the history)") from err
    kept = f"; its cloud is kept as the vessel's clean scan ({rec.kept.path})" if rec.kept else ""
    print(f"[history] inspection #{rec.inspection_id} of IMO {history.visit.imo} recorded in "
          f"{history.db.target.label}{kept}", file=sys.stderr)


def load_plan(args: argparse.Namespace, cfg: HullscanConfig) -> FittingPlan | None:
    """The ship's declared fittings (``--fittings``), read and checked; None without it."""
    if not getattr(args, "fittings", None):
        return None
    from hullscan.compare.fittings import check_plan, load_fittings

    plan = load_fittings(args.fittings)
    check_plan(plan, cfg.compare, bool(getattr(args, "mirror", False)))
    return plan


def inspect_and_record(args: argparse.Namespace, cfg: HullscanConfig, command: str, cloud: str | Path,
                       inspect: Callable[[Amend | None], Inspection]) -> int:
    """``compare`` and ``replay``'s run: the history opened (``--vessel``) before any work, the
    inspection in its locked output folder with the change check as its amend step, the verdict,
    then the inspection recorded; the exit status is the verdict's."""
    from hullscan.compare.fittings import amend_with
    from hullscan.compare.loading import progress_printer
    from hullscan.errors import HullscanError
    from hullscan.outdir import output_folder
    from hullscan.report.verdict import failed, inspection_verdict, print_verdict

    plan = load_plan(args, cfg)  # --fittings: read and checked before any work
    history = open_vessel_history(args)  # --vessel: the database checked before any work
    try:
        try:
            with output_folder(args.out, command):  # checked and locked before any work
                check = None if history is None else history.change_check(
                    cfg.compare, reference_sha256(args), progress_printer(not args.no_progress))
                ins = inspect(amend_with(plan, check))
        except HullscanError as err:
            return failed(err)
        verdict = inspection_verdict(ins, cfg.report)
        if history is not None:
            record_run(history, args, ins, verdict, command, cloud)
        return print_verdict(verdict)
    finally:
        if history is not None:
            history.close()
