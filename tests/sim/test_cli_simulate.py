"""``hullscan simulate`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.cli import main


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    assert "--scenario" in out and "examples:" in out and "BAG_DIR.truth" in out


def test_simulate_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "demo"
    assert main(["simulate", "--scenario", "demo", "--out", str(bag), "--duration", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["parasites"] == ["box_side", "pack_chest"]
    assert (tmp_path / "demo.truth" / "truth.json").exists()
    assert main(["info", str(bag), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]["roles"]
    assert plan["scan"]["topic"] == "/sonar/scan" and plan["odom"]["topic"] == "/nav/odom"
    assert plan["camera_image"]["topic"] == "/camera/image_raw"
    assert main(["simulate", "--scenario", "demo", "--out", str(bag), "--duration", "1"]) == 1  # exists


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--list"]) == 0
    assert "demo" in capsys.readouterr().out


def test_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    bag = tmp_path / "demo"
    png = tmp_path / "fig.png"
    assert main(["-q", "simulate", "--scenario", "demo", "--out", str(bag), "--duration", "4", "--json",
                 "--figure", str(png)]) == 0
    assert png.stat().st_size > 10_000
