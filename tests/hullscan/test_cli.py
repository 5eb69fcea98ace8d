from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hullscan.bag import BagWriter
from hullscan.cli import main
from tests.hullscan.bag.samples import contract_samples


def test_help_lists_commands_with_examples(capsys: object) -> None:
    out = subprocess.run([sys.executable, "-m", "hullscan", "--help"], capture_output=True, text=True, check=True)
    assert "info" in out.stdout and "examples:" in out.stdout


def test_info_finds_topics(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with BagWriter(tmp_path / "bag") as bag:
        for x in contract_samples(2):
            bag.write(x)
    assert main(["info", str(tmp_path / "bag"), "--json", "--read"]) == 0
    data = json.loads(capsys.readouterr().out)
    roles = data["plan"]["roles"]
    assert roles["scan"]["topic"] == "/sonar/scan"
    assert roles["odom"]["topic"] == "/nav/odom"
    assert roles["camera_image"]["topic"] == "/camera/image_raw"
    assert data["problems"] == []


def test_info_bad_bag_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "hullscan", "info", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "no such bag" in out.stderr and "missing" in out.stderr


def test_info_shows_recording_span_and_says_not_decoded(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with BagWriter(tmp_path / "bag") as bag:
        for x in contract_samples(2):
            bag.write(x)
    assert main(["info", str(tmp_path / "bag")]) == 0
    out = capsys.readouterr().out
    assert "recording: " in out and "duration " in out
    assert "problems: not decoded" in out and "nothing dropped" not in out
    assert main(["info", str(tmp_path / "bag"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decoded"] is False and data["problems"] is None
    assert data["recording"]["duration_s"] >= 0 and data["recording"]["start"] <= data["recording"]["end"]
