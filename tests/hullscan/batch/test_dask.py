"""hullscan batch on a real Dask cluster on loopback: a ``dask scheduler`` and two ``dask worker``
processes started here, as an operator would. The findings equal the serial batch's byte for
byte, and a worker killed (SIGKILL) while it replays a survey costs a retry, not the survey."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hullscan.batch.helpers import CLI, REPO, Surveys, cli_env, findings_of, replaying_pid
from tests.tools import missing_tool

pytestmark = pytest.mark.slow
DASK = Path(sys.executable).with_name("dask")
SURVEYS = ("port_a", "port_b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """The workers first, then the scheduler (workers left without one wait to reconnect)."""
    for group in (procs[1:], procs[:1]):
        for p in group:
            if p.poll() is None:
                p.terminate()
        for p in group:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers on loopback; their address. Each worker is
    started with this checkout on its PYTHONPATH (it imports hullscan.batch.task to run a survey)."""
    if not DASK.is_file():
        missing_tool(f"the dask command beside {sys.executable}", "pip install -e '.[dev]'")
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**cli_env(), "NUMBA_NUM_THREADS": "1"}
    logs = tmp_path_factory.mktemp("dask-logs")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                      stderr=(logs / "scheduler.log").open("wb")))
        for i in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=REPO,
                                          stdout=subprocess.DEVNULL, stderr=(logs / f"worker{i}.log").open("wb")))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        _stop(procs)


def _batch(surveys: Surveys, address: str, out: Path) -> list[str]:
    return [*CLI, "batch", *map(str, surveys.bags), *surveys.options(), "--dask", address, "--out", str(out)]


def test_dask_findings_equal_serial_byte_for_byte(surveys: Surveys, serial_batch: Path, scheduler: str,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "dask"
    done = subprocess.run(_batch(surveys, scheduler, out), cwd=REPO, env=cli_env(), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 3, done.stderr[-3000:]  # compartments found
    for name in SURVEYS:
        assert findings_of(out / name) == findings_of(serial_batch / name)
    assert "2 with compartments found, 0 nothing found, 0 failed" in done.stdout


def test_a_worker_killed_mid_survey_is_retried(surveys: Surveys, serial_batch: Path, scheduler: str,
                                               tmp_path: Path) -> None:
    out = tmp_path / "killed"
    batch = subprocess.Popen(_batch(surveys, scheduler, out), cwd=REPO, env=cli_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        deadline = time.monotonic() + 60
        while killed is None and time.monotonic() < deadline and batch.poll() is None:
            killed = replaying_pid(out / SURVEYS[0])
            time.sleep(0.02)
        assert killed is not None, "the first survey never started on a worker"
        os.kill(killed, signal.SIGKILL)  # the dask worker process itself, in the middle of the replay
        _stdout, stderr = batch.communicate(timeout=180)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 3, stderr[-3000:]
    for name in SURVEYS:
        assert findings_of(out / name) == findings_of(serial_batch / name)
    # The survey was finished by another worker process than the one killed.
    assert replaying_pid(out / SURVEYS[0]) != killed
    summary = (out / "summary.csv").read_text()
    assert summary.count(",done,") == 2 and "failed" not in summary
