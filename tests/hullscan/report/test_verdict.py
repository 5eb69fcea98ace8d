"""The verdict and its exit status: found, nothing found (clean only above the floor), failed."""

from __future__ import annotations

import pytest

from hullscan.report.config import ReportConfig
from hullscan.report.verdict import (
    EXIT_CLEAN,
    EXIT_FAILED,
    EXIT_FOUND,
    EXIT_NOT_ENOUGH_CLEARED,
    verdict_for,
)


def test_findings_are_found_and_exit_3() -> None:
    v = verdict_for("complete", None, 2, 0.003, 0.1)
    assert (v.kind, v.text, v.exit_code) == ("found", "compartments found (2)", EXIT_FOUND)


@pytest.mark.parametrize(("cleared", "code", "text"), [
    (0.0, EXIT_NOT_ENOUGH_CLEARED,
     "nothing found in the cleared 0.0 % (for 10 cm compartments); 100.0 % not inspected"),
    (0.6, EXIT_NOT_ENOUGH_CLEARED,
     "nothing found in the cleared 60.0 % (for 10 cm compartments); 40.0 % not inspected"),
    (0.97, EXIT_CLEAN, "nothing found in the cleared 97.0 % (for 10 cm compartments); 3.0 % not inspected"),
    # 99.96 % cleared must not print as "100.0 %", nor the rest as "0.0 %" not inspected.
    (0.9996, EXIT_CLEAN, "nothing found in the cleared 99.9 % (for 10 cm compartments); 0.0 % not inspected"),
])
def test_nothing_found_says_how_much_was_cleared(cleared: float, code: int, text: str) -> None:
    v = verdict_for("complete", None, 0, cleared, 0.1)
    assert v.kind == "nothing_found" and v.exit_code == code and v.text == text
    assert "no findings" not in v.text.lower()


def test_floor_is_configurable() -> None:
    assert verdict_for("complete", None, 0, 0.6, 0.1, ReportConfig(clear_floor=0.5)).exit_code == EXIT_CLEAN


def test_partial_or_uncovered_run_fails() -> None:
    v = verdict_for("partial", "reference does not fit the cloud", 0, None, None)
    assert v.kind == "failed" and v.exit_code == EXIT_FAILED
    assert v.text == "inspection failed: reference does not fit the cloud"
    v = verdict_for("partial", "holes in the mesh", 1, 0.5, 0.1)
    assert v.exit_code == EXIT_FAILED and "1 possible compartments" in v.text
    v = verdict_for("complete", None, 0, None, None)
    assert v.exit_code == EXIT_FAILED and "coverage was not computed" in v.text
