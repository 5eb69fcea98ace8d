"""Where the surveys run: in this process, on a local process pool, or on Dask distributed.

Every engine runs :func:`hullscan.batch.task.run_survey` once per survey and hands each result to
``done`` as it arrives (the summary is rewritten as surveys finish, so a batch stopped half-way
still has one). A survey whose task dies (its worker process killed, out of memory) is retried;
when it keeps dying it becomes a failed row, and the other surveys go on.

Per-tile tasks for a single large survey need the tiled reconstruction of issue 19 part 1, which
does not exist yet: today a survey is one task, and the largest survey sets a worker's memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hullscan.batch.jobs import SurveyJob, SurveyResult
from hullscan.batch.task import limit_threads, run_survey
from hullscan.errors import BatchError

if TYPE_CHECKING:
    from distributed import Client

Done = Callable[[SurveyResult], None]

# Seconds to wait for a Dask scheduler: an address that answers nothing fails the batch at once
# instead of after distributed's default of 30 s.
DASK_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Engine:
    """How to run a batch. ``kind``: serial, pool or dask. ``workers``: pool processes (pool) or
    local Dask workers (``dask`` with ``address`` None, from ``--dask local:N``). ``retries``: how
    many more times a survey whose task raised or whose worker died is tried."""

    kind: str
    workers: int = 1
    address: str | None = None
    retries: int = 2
    connect_timeout_s: float = DASK_CONNECT_TIMEOUT_S

    def describe(self) -> str:
        if self.kind == "dask":
            return f"Dask {self.address}" if self.address else f"Dask local cluster, {self.workers} workers"
        return "serial" if self.kind == "serial" else f"local process pool, {self.workers} workers"


def parse_engine(workers: int | None, dask: str | None, retries: int = 2,
                 connect_timeout_s: float = DASK_CONNECT_TIMEOUT_S) -> Engine:
    """``--workers N`` / ``--dask ADDRESS|local:N`` as an Engine (``--workers 1``: in this process)."""
    if dask is not None:
        if dask.startswith("local:") or dask == "local":
            count = dask.partition(":")[2] or str(workers or 2)
            if not count.isdigit() or int(count) < 1:
                raise BatchError(f"--dask {dask}: expected local:N with N workers >= 1, or a scheduler address "
                                 "such as tcp://scheduler:8786")
            return Engine("dask", int(count), None, retries, connect_timeout_s)
        if "://" not in dask and ":" not in dask:
            raise BatchError(f"--dask {dask}: expected a scheduler address such as tcp://scheduler:8786, or local:N")
        return Engine("dask", workers or 0, dask, retries, connect_timeout_s)
    n = 2 if workers is None else workers
    if n < 1:
        raise BatchError(f"--workers {n}: expected 1 or more")
    return Engine("serial" if n == 1 else "pool", n, None, retries)


Runner = Callable[[Sequence[SurveyJob], Done], None]


@contextlib.contextmanager
def open_engine(engine: Engine) -> Iterator[Runner]:
    """The engine made ready (a Dask cluster connected or started) before anything is written, so
    an unreachable scheduler fails the batch at once; yields ``run(jobs, done)``, which calls
    ``done`` with each survey's result as it comes."""
    if engine.kind == "serial":
        yield lambda jobs, done: _run_serial(jobs, engine, done)
    elif engine.kind == "pool":
        yield lambda jobs, done: _run_pool(jobs, engine, done)
    elif engine.kind == "dask":
        client = connect_dask(engine)
        try:
            yield lambda jobs, done: _run_dask(client, jobs, engine, done)
        finally:
            _close(client)
    else:
        raise BatchError(f"unknown batch engine {engine.kind!r}")


def _crashed(job: SurveyJob, err: BaseException, tries: int | None, wall_s: float) -> SurveyResult:
    """The row of a survey whose task did not return: an unexpected error, or its worker died.
    ``tries``: None where the error says itself how often it was tried (Dask's KilledWorker)."""
    what = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    what = " ".join(what.split())  # one line in the summary, whatever the exception's text
    line = what if tries is None else f"{what} (after {tries} {'try' if tries == 1 else 'tries'})"
    return SurveyResult(name=job.name, bag=job.bag, out=job.out, kind="failed", verdict=f"inspection failed: {line}",
                        exit_code=1, wall_s=round(wall_s, 3), error=line)


def _run_serial(jobs: Sequence[SurveyJob], engine: Engine, done: Done) -> None:
    for job in jobs:
        t0 = time.monotonic()
        for attempt in range(1, engine.retries + 2):
            try:
                result = run_survey(job)
            except Exception as err:  # one survey's crash is its row in the summary; the batch goes on
                if attempt <= engine.retries:
                    continue
                result = _crashed(job, err, attempt, time.monotonic() - t0)
            done(result)  # outside the try: a summary that cannot be written is not the survey's fault
            break


def _run_pool(jobs: Sequence[SurveyJob], engine: Engine, done: Done) -> None:
    """A process pool; a worker that dies breaks the whole pool (concurrent.futures), so the
    surveys it left unfinished go into a new pool, each at most ``retries`` more times."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # spawn: a fresh interpreter per worker; forking a parent that may hold threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // engine.workers)
    # The job carries it too: numba's count is also set per task, after the worker's imports.
    jobs = [replace(job, threads=threads) for job in jobs]
    tries = {job.name: 0 for job in jobs}
    started = {job.name: time.monotonic() for job in jobs}
    todo = list(jobs)
    while todo:
        again: list[SurveyJob] = []
        with ProcessPoolExecutor(max_workers=min(engine.workers, len(todo)), mp_context=ctx,
                                 initializer=limit_threads, initargs=(threads,)) as pool:
            running: dict[Future[SurveyResult], SurveyJob] = {}
            for job in todo:
                tries[job.name] += 1
                running[pool.submit(run_survey, job)] = job
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = running.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as err:  # as in _run_serial; BrokenProcessPool: a worker died
                        if tries[job.name] <= engine.retries:
                            again.append(job)
                            continue
                        cause = BatchError(f"worker process died ({err})") if isinstance(err, BrokenProcessPool) else err
                        result = _crashed(job, cause, tries[job.name], time.monotonic() - started[job.name])
                    done(result)
        todo = again


def connect_dask(engine: Engine) -> Client:
    """A ``distributed.Client`` on the scheduler (or a local cluster); one line when it cannot be had."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise BatchError(f"--dask needs the 'distributed' package ({err}); pip install 'dask[distributed]'") from err
    # The client's own connection chatter is not the user's business; a worker's errors come back
    # with its task.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if engine.address is None:
        # Dask's nanny already starts workers with one OpenMP thread; numba is told the same.
        cluster = LocalCluster(n_workers=engine.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.WARNING, env={"NUMBA_NUM_THREADS": "1"})
        return Client(cluster)
    try:
        return Client(engine.address, timeout=engine.connect_timeout_s)
    except (OSError, TimeoutError, ValueError) as err:
        raise BatchError(f"Dask scheduler {engine.address} cannot be reached within {engine.connect_timeout_s:g} s "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no answer'}); start "
                         "it with 'dask scheduler' or check the address") from err


def _run_dask(client: Client, jobs: Sequence[SurveyJob], engine: Engine, done: Done) -> None:
    """One task per survey. ``retries``: Dask reruns a task that raised; a task whose worker died
    is rescheduled by the scheduler itself, up to its ``allowed-failures`` (then KilledWorker)."""
    from distributed import as_completed

    t0 = time.monotonic()
    futures = {}
    for job in jobs:
        # A key of its own per run: a survey submitted again is run again, not served from a result
        # the scheduler still holds for another client.
        fut = client.submit(run_survey, job, key=f"hullscan-survey-{job.name}-{uuid.uuid4().hex[:8]}",
                            retries=engine.retries, pure=False)
        futures[fut] = job
    for fut in as_completed(futures):
        job = futures[fut]
        try:
            result = fut.result()
        except Exception as err:  # KilledWorker, or the task's own error after its retries
            killed = type(err).__name__ == "KilledWorker"  # its text names the workers that died
            result = _crashed(job, err, None if killed else engine.retries + 1, time.monotonic() - t0)
        done(result)


def _close(client: Client) -> None:
    cluster = client.cluster  # the local one this batch started, or None on a remote scheduler
    client.close()
    if cluster is not None:
        cluster.close()
