"""A damaged bag makes every command's output partial, with the time spans lost."""

from __future__ import annotations

import json
from pathlib import Path

from hullscan.bag import BagWriter
from hullscan.cli import main
from tests.faults.helpers import storage_file
from tests.hullscan.recon.synth import survey as cylinder_survey


def _cut_survey(tmp_path: Path) -> Path:
    """A cylinder survey whose storage file is cut at 70 % (a recording that stopped)."""
    bag = tmp_path / "bag"
    with BagWriter(bag) as w:
        for it in cylinder_survey(n_pings=300, beams=64, lanes=(0.0,)).items:
            w.write(it)
    f = storage_file(bag)
    f.write_bytes(f.read_bytes()[: int(f.stat().st_size * 0.7)])
    return bag


def test_reconstruct_and_compare_say_partial(tmp_path: Path) -> None:
    bag = _cut_survey(tmp_path)
    out = tmp_path / "rec"
    assert main(["reconstruct", str(bag), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["lost_spans"]
    assert any(d["reason"] == "missing_vs_index" and d["count"] > 0 for d in summary["drops"])
    side = json.loads((out / "cloud.json").read_text())
    assert side["status"] == "partial"
    cmp_out = tmp_path / "cmp"
    main(["compare", str(out / "cloud.ply"), "--mirror", "--out", str(cmp_out), "--no-progress"])
    doc = json.loads((cmp_out / "findings.json").read_text())
    assert doc["status"] == "partial" and doc["lost_spans"]
    assert any(d["reason"] == "missing_vs_index" for d in doc["drops"])
    assert "Partial report" in (cmp_out / "report.html").read_text()


def test_replay_carries_the_bag_damage_into_findings(tmp_path: Path) -> None:
    bag = _cut_survey(tmp_path)
    out = tmp_path / "replay"
    main(["replay", str(bag), "--mirror", "--out", str(out), "--no-progress", "--no-camera"])
    doc = json.loads((out / "findings.json").read_text())
    assert doc["status"] == "partial" and doc["lost_spans"]
    lost = [d for d in doc["drops"] if d["reason"] == "missing_vs_index"]
    assert lost and all(d.get("spans_s") for d in lost)
