"""Many surveys replayed as one batch: ``hullscan batch BAGS... --reference MESH --out DIR``.

Each survey is :func:`hullscan.inspection.replay` into ``DIR/<survey>`` (exactly the folder
``hullscan replay`` writes) on one of the engines of :mod:`hullscan.batch.engines`: this process,
a local process pool, or Dask distributed. A survey that fails is a row of the summary and the
others go on. A survey is marked done last (:data:`~hullscan.batch.jobs.DONE_MARKER`, with the
fingerprint of its inputs), so a rerun skips what is done and redoes what was interrupted, failed
or changed; ``force`` redoes everything.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hullscan.batch.engines import Engine, open_engine, parse_engine
from hullscan.batch.jobs import (
    ReplayOptions,
    SurveyJob,
    SurveyResult,
    plan_jobs,
    read_done,
    read_survey_list,
)
from hullscan.batch.summary import write_summary
from hullscan.errors import BatchError, OutputError
from hullscan.outdir import held_lock
from hullscan.report.verdict import EXIT_CLEAN, EXIT_FAILED, EXIT_FOUND, EXIT_NOT_ENOUGH_CLEARED

__all__ = ["BatchResult", "Engine", "ReplayOptions", "SurveyJob", "SurveyResult", "batch_exit_code", "parse_engine",
           "read_survey_list", "run_batch"]

BATCH_LOCK = ".hullscan-batch.lock"


@dataclass(frozen=True)
class BatchResult:
    """Every survey's row, in the order given, and how the batch ran."""

    rows: tuple[SurveyResult, ...]
    engine: Engine
    wall_s: float
    summary_csv: Path
    summary_html: Path

    @property
    def exit_code(self) -> int:
        return batch_exit_code(self.rows)


def batch_exit_code(rows: tuple[SurveyResult, ...] | list[SurveyResult]) -> int:
    """1 when any survey failed (its row says why), else 3 when any found compartments, else 4
    when any was not cleared enough, else 0: the worst of the surveys, failures first, since a
    failed survey is a hull nobody has judged."""
    codes = {r.exit_code for r in rows}
    for code in (EXIT_FAILED, EXIT_FOUND, EXIT_NOT_ENOUGH_CLEARED):
        if code in codes:
            return code
    return EXIT_CLEAN


@contextlib.contextmanager
def _batch_lock(out: Path) -> Iterator[None]:
    """One batch at a time into a folder (each survey folder is also locked by its replay)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{out}: cannot create the batch folder ({err.strerror or err})") from err
    with held_lock(out, BATCH_LOCK, f"pid {os.getpid()} (batch)", "hullscan batch"):
        yield


def _say(progress: bool, line: str) -> None:
    if progress:
        print(f"[batch] {line}", file=sys.stderr, flush=True)


def run_batch(bags: list[str], out: str, options: ReplayOptions, engine: Engine, *, force: bool = False,
              progress: bool = True) -> BatchResult:
    """Replay every bag into ``out/<survey>`` on ``engine`` and write the summary; surveys done by
    an earlier run with the same inputs are skipped unless ``force``."""
    t0 = time.monotonic()
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: --out is a file, expected a folder; give a folder name (it is created)")
    jobs = plan_jobs(bags, out, options)
    with open_engine(engine) as run_jobs, _batch_lock(out_dir):
        rows: dict[str, SurveyResult] = {}
        if not force:
            for job in jobs:
                earlier = read_done(job)
                if earlier is not None:
                    rows[job.name] = earlier
        todo = [j for j in jobs if j.name not in rows]
        if rows:
            _say(progress, f"{len(rows)} of {len(jobs)} surveys done by an earlier run, skipped (--force redoes them)")
        _say(progress, f"{len(todo)} surveys on {engine.describe()} -> {out_dir}")
        write_summary(jobs, rows, out_dir)

        def done(row: SurveyResult) -> None:
            rows[row.name] = row
            write_summary(jobs, rows, out_dir)
            _say(progress, f"{len(rows)}/{len(jobs)} {row.name}: {row.verdict} ({row.wall_s:.1f} s)")

        run_jobs(todo, done)
        missing = [j.name for j in jobs if j.name not in rows]
        if missing:  # an engine must answer for every survey; a silent gap would read as clean
            raise BatchError(f"the batch engine returned no result for: {', '.join(missing)}")
        csv_path, html_path = write_summary(jobs, rows, out_dir)
    return BatchResult(tuple(rows[j.name] for j in jobs), engine, time.monotonic() - t0, csv_path, html_path)
