"""The static checks the architecture relies on, in the suite so CI runs them: ruff over the
repository (with its complexity limits) and strict mypy on the numerical core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import missing_tool

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if found is None:
        missing_tool(name, "pip install -e '.[dev]'")
    return found


def test_ruff_clean() -> None:
    done = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_core_is_strictly_typed() -> None:
    done = subprocess.run([_tool("mypy"), "--strict", "hullscan/core"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:]
