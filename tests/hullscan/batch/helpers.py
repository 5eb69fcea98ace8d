"""Helpers for the batch tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "hullscan"]


@dataclass(frozen=True)
class Surveys:
    bags: tuple[Path, Path]
    junk: Path
    reference: Path
    prior: Path
    config: Path

    def options(self) -> list[str]:
        """The replay options every batch test shares."""
        return ["--reference", str(self.reference), "--prior", str(self.prior), "--config", str(self.config),
                "--no-camera", "--no-progress"]


def findings_of(folder: Path) -> str:
    """The findings list of a replay's findings.json, as JSON text (no times in it)."""
    return json.dumps(json.loads((folder / "findings.json").read_text())["findings"], sort_keys=True)


def cli_env() -> dict[str, str]:
    """The environment for processes started by a test: this checkout first on the path (a Dask
    worker imports hullscan.batch.task from it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def replaying_pid(folder: Path) -> int | None:
    """The pid of the process replaying into ``folder`` (replay's lock file names it)."""
    with contextlib.suppress(OSError):
        m = re.match(r"pid (\d+) \(replay\)", (folder / ".hullscan.lock").read_text())
        if m:
            return int(m.group(1))
    return None
