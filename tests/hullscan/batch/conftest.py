"""Small surveys for the batch tests, simulated once per session, and their serial batch.

Two short sections of the demo coaster's port side (36 s and 26 s of survey, every 4th ping: a
few seconds of replay each, both passing the box on the side), and a bag that is not one. (At 30 s
the first section ended as it reached the box: on newer numpy/scipy/open3d its few returns faced
the box's edge, and the box was dropped as seen edge on; 34-38 s find it, stop 45.) The
replays get the simulator's exact placement as an explicit --prior, as the other end-to-end
tests do: what is tested here is the batch, not the registration. No PDF: the slowest output,
and the same for every engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.cli import main
from tests.hullscan.batch.helpers import Surveys


@pytest.fixture(scope="session")
def surveys(tmp_path_factory: pytest.TempPathFactory) -> Surveys:
    d = tmp_path_factory.mktemp("batch-surveys")
    bags = (d / "port_a", d / "port_b")
    for bag, seconds in zip(bags, ("36", "26"), strict=True):
        assert main(["-q", "simulate", "--scenario", "demo", "--out", str(bag), "--duration", seconds,
                     "--decimate", "4"]) == 0
    truth = bags[0].with_name("port_a.truth")
    doc = json.loads((truth / "truth.json").read_text())
    prior = d / "prior.json"
    prior.write_text(json.dumps({**doc["hull_to_nav"], "sigma": {"along_m": 0, "across_m": 0, "vertical_m": 0,
                                                                 "heading_deg": 0}}))
    config = d / "batch.yaml"
    config.write_text("report: {pdf: false}\n")
    junk = d / "not_a_bag"
    junk.mkdir()
    (junk / "survey.mcap").write_bytes(b"this is not an MCAP file\n")
    return Surveys(bags, junk, bags[0].with_name("port_a.design.ply"), prior, config)


@pytest.fixture(scope="session")
def serial_batch(surveys: Surveys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two surveys and the junk bag, one after another in this process (--workers 1)."""
    out = tmp_path_factory.mktemp("batch-serial") / "out"
    code = main(["-q", "batch", *map(str, surveys.bags), str(surveys.junk), *surveys.options(), "--workers", "1",
                 "--out", str(out)])
    assert code == 1  # the junk bag failed; its row says so
    return out
