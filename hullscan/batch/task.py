"""One survey, on whichever worker runs it: exactly ``hullscan replay BAG --out DIR/NAME``.

This module is what a pool or Dask worker imports to run a task; it imports nothing heavy at
module level, so that :func:`limit_threads` still runs before numba and OpenMP are loaded.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from hullscan.batch.jobs import SurveyJob, SurveyResult, clear_done, write_done
from hullscan.errors import HullscanError


def limit_threads(threads: int | None) -> None:
    """Pool worker initializer: at most ``threads`` numba and OpenMP threads in this process. Set
    before those libraries load, since both read it once; N workers on N cores otherwise start
    N x N threads that only take turns."""
    if threads:
        for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[var] = str(threads)


def _numba_threads(threads: int | None) -> None:
    # On a Dask worker started elsewhere the environment is the operator's; numba's thread count
    # can still be lowered per task (never raised past what the worker started with).
    if not threads:
        return
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]


def run_survey(job: SurveyJob) -> SurveyResult:
    """Replay one survey into ``job.out`` and mark it done; a HullscanError (a bad bag, a failed
    registration) is this survey's result, not the batch's end. Anything else (out of memory, a
    bug, a vanished shared disk) propagates, so the engine may retry it on another worker."""
    from hullscan.compare.fittings import amend_with, load_fittings
    from hullscan.config import load_config
    from hullscan.inspection import replay
    from hullscan.outdir import output_folder

    t0, started = time.monotonic(), time.time()
    _numba_threads(job.threads)
    opts = job.options
    error: str | None = None
    clear_done(job)  # the folder is replay's now; the marker comes back only when it is complete
    try:
        overrides = {"compare": {"scoring": {"frame_spacing_m": opts.frame_spacing}}} if opts.frame_spacing else None
        cfg = load_config(opts.config, overrides)
        plan = load_fittings(opts.fittings) if opts.fittings else None
        with output_folder(job.out, "replay"):
            replay(job.bag, opts.reference, job.out, cfg, prior_path=opts.prior, camera=opts.camera,
                   progress=False, drift=opts.drift, case=opts.case, amend=amend_with(plan))
    except HullscanError as err:
        error = str(err)
    result = _result(job, started, time.monotonic() - t0, error)
    if result.kind != "failed":
        write_done(job, result)  # last: a survey interrupted before this line is redone on a rerun
    return result


def _result(job: SurveyJob, started: float, wall_s: float, error: str | None) -> SurveyResult:
    """The summary row, read back from the findings.json replay wrote (the record people keep;
    a partial one when it failed), or from the error alone where this run wrote none."""
    doc = _read_findings(Path(job.out) / "findings.json", started)
    verdict = _section(doc, "verdict")
    coverage = _section(doc, "coverage")
    findings = doc.get("findings")
    if error is None:
        kind, text = str(verdict.get("kind", "failed")), str(verdict.get("text", "inspection failed"))
        code = verdict.get("exit_code")
        exit_code = code if isinstance(code, int) else 1
    else:
        kind, text, exit_code = "failed", f"inspection failed: {error}", 1
    return SurveyResult(
        name=job.name, bag=job.bag, out=job.out, kind=kind, verdict=text, exit_code=exit_code,
        n_findings=len(findings) if isinstance(findings, list) else None,
        cleared_fraction=_number(coverage.get("cleared_fraction")), seen_fraction=_number(coverage.get("seen_fraction")),
        wall_s=round(wall_s, 3), error=error if error is not None or kind != "failed" else text,
        worker=f"{socket.gethostname()}:{os.getpid()}")


def _read_findings(path: Path, started: float) -> dict[str, object]:
    """findings.json if this run wrote it (an older one, left where the folder could not be
    taken over, is not this run's result)."""
    try:
        if path.stat().st_mtime < started - 1.0:
            return {}
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _section(doc: dict[str, object], key: str) -> dict[str, object]:
    v = doc.get(key)
    return v if isinstance(v, dict) else {}


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
