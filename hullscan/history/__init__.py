"""Inspection history: each vessel's inspections in a database, and what is new since its last
cleared inspection (docs/history.md).

* :mod:`.db`: which database (SQLite by default, PostgreSQL for a port's server), opened with its
  schema brought up to date by the Alembic migrations in ``migrations/``;
* :mod:`.models`: the tables (vessels, inspections, findings, clean clouds);
* :mod:`.record`: an inspection recorded in one transaction, the last cleared scan, a listing;
* :mod:`.changes`: today's findings marked new / present since that scan;
* :mod:`.store`: the cleared clouds kept on disk;
* :class:`VesselHistory`: what ``replay`` and ``compare --vessel`` use, in the order they use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import Inspection
from hullscan.history.changes import ChangeCheck, EarlierScan
from hullscan.history.db import HistoryDB, Target, resolve
from hullscan.history.errors import (
    HistoryError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistorySchemaError,
    InvalidIMOError,
)
from hullscan.history.imo import parse_imo
from hullscan.history.record import Recorded, RunRecord, Visit, last_clean_scan, record_inspection
from hullscan.report.verdict import Verdict

__all__ = ["HistoryError", "HistoryLockedError", "HistoryReadOnlyError", "HistorySchemaError", "InvalidIMOError",
           "RunRecord", "VesselHistory", "Visit", "parse_imo"]


@dataclass(frozen=True, eq=False)
class VesselHistory:
    """One run's use of the history: opened (and checked writable) before the inspection, the earlier
    cleared scan looked up, the comparison step handed to the inspection, the result recorded."""

    db: HistoryDB
    visit: Visit
    earlier: EarlierScan | None

    @classmethod
    def open(cls, visit: Visit, db: str | None = None, store: str | None = None) -> VesselHistory:
        target: Target = resolve(db, store)
        handle = HistoryDB.open(target, write=True)
        try:
            return cls(handle, visit, last_clean_scan(handle, visit.imo))
        except BaseException:
            handle.close()
            raise

    def change_check(self, config: CompareConfig, reference_sha256: str | None,
                     progress: Callable[[str], None] | None = None) -> ChangeCheck:
        """The step run after today's comparison, before its report (:class:`ChangeCheck`)."""
        return ChangeCheck(self.visit.imo, self.earlier, config, reference_sha256, progress)

    def record(self, ins: Inspection, verdict: Verdict, run: RunRecord) -> Recorded:
        return record_inspection(self.db, self.visit, ins, verdict, run)

    def close(self) -> None:
        self.db.close()
