"""DropLog: routine filtering at INFO with one summary line, everything else a WARNING."""

from __future__ import annotations

import logging

import pytest

from hullscan.diagnostics import DropLog


def test_routine_filtering_is_info_and_summed_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    d = DropLog()
    with caplog.at_level(logging.INFO, logger="hullscan"):
        d.add("/sonar/scan", "nan_range", 146, "ping at 1.0 s")
        d.add("/sonar/scan", "nan_range", 10)
        d.add("sonar:sonar", "spike_along", 7)
        d.add("sonar:sonar", "grazing_angle", 3)
        d.add("/sonar/scan", "malformed_message", 1, "intensities has 5 values")
    levels = {r.getMessage().split(":")[-1].split("(")[0].strip(): r.levelno for r in caplog.records}
    assert levels["nan range"] == levels["spike along"] == levels["grazing angle"] == logging.INFO
    assert levels["malformed message"] == logging.WARNING
    assert len(caplog.records) == 4  # once per (where, reason), not per event
    assert d.routine_summary() == "filtered as routine: nan range x156, spike along x7, grazing angle x3"
    assert DropLog().routine_summary() == "filtered as routine: nothing"
