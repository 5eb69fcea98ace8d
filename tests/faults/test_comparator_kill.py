"""kill -9 of the live comparator (issue 17): a restarted comparator takes the latched hull map and
reports the same findings again, and the time without an inspection is measured.

The mapper's kill -9 is in tests/faults/test_live_mapper_faults.py and bench/restart_loss.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hullscan.ros.helpers import REPO, demo_map, node_cmd, spawn, stop

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _map_and_prior(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The demo coaster's hull map, its design mesh, and an exact prior (the registration is not
    what is tested here)."""
    cloud, truth = demo_map(tmp_path)
    doc = json.loads((truth / "truth.json").read_text())
    prior = tmp_path / "prior.json"
    prior.write_text(json.dumps({**doc["hull_to_nav"], "sigma": {"along_m": 0, "across_m": 0, "vertical_m": 0,
                                                                 "heading_deg": 0}}))
    return cloud, truth.with_name("bag.design.ply"), prior


class _Findings:
    """The probe's findings documents as they come, with their arrival time."""

    def __init__(self, probe: subprocess.Popen[str]) -> None:
        self.rows: list[tuple[float, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, args=(probe,), daemon=True)
        self._thread.start()

    def _read(self, probe: subprocess.Popen[str]) -> None:
        assert probe.stdout is not None
        for line in iter(probe.stdout.readline, ""):
            if line.startswith("{") and '"/hullscan/findings_json"' in line:
                self.rows.append((time.monotonic(), json.loads(line)))

    def wait_complete(self, after: float, timeout: float) -> tuple[float, dict[str, Any]] | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, row in self.rows:
                if t > after and row.get("status") == "complete":
                    return t, row
            time.sleep(0.2)
        return None


def test_comparator_killed_and_restarted_reports_the_same_findings(tmp_path: Path,
                                                                   ros_domain_env: dict[str, str]) -> None:
    cloud, reference, prior = _map_and_prior(tmp_path)
    env = ros_domain_env
    period = 3.0
    comparator_cmd = node_cmd("comparator", reference=reference, prior=prior, draft=4.0, inspect_period_s=period)
    probe = spawn([sys.executable, "-m", "hullscan.ros.probe", "--duration", "400"], env, stream=True)
    publisher = spawn([sys.executable, str(REPO / "tests/hullscan/ros/publish_cloud.py"), str(cloud), "400"], env,
                      stream=True)
    comparator = spawn(comparator_cmd, env)
    restarted: subprocess.Popen[str] | None = None
    findings = _Findings(probe)
    try:
        first = findings.wait_complete(0.0, 180)
        assert first is not None, "no inspection before the kill"
        # Killed at a random moment of its inspection cycle (seeded: the test repeats).
        time.sleep(random.Random(17).uniform(0.0, period))
        t_kill = time.monotonic()
        os.kill(comparator.pid, signal.SIGKILL)
        comparator.wait(timeout=10)
        restarted = spawn(comparator_cmd, env)
        again = findings.wait_complete(t_kill, 180)
    finally:
        procs = [p for p in (comparator, restarted, probe, publisher) if p is not None]
        outs = stop(*procs)
    assert comparator.returncode == -signal.SIGKILL
    assert again is not None, f"no inspection after the restart: {outs[1][1][-3000:] if restarted else ''}"
    loss_s = again[0] - t_kill
    ids = sorted(f["region"] for f in first[1]["findings"])
    assert ids and sorted(f["region"] for f in again[1]["findings"]) == ids
    # The restart costs its start (imports, reference, DDS discovery) and one inspection; no
    # inspection is lost for good, and the gap is reported by the test for docs/faults.md.
    print(f"comparator kill -9: {loss_s:.1f} s without an inspection (first one after the restart)")
    assert loss_s <= 120, loss_s
