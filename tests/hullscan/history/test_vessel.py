"""``replay``/``compare --vessel`` on a small simulated survey: the first visit is recorded and its
cloud kept as the clean scan; a second visit with a new protrusion marks it "new since" and the
box that was there "present since"; a missing clean scan is said and the visit still recorded;
``hullscan history`` lists them."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hullscan.cli import main
from hullscan.cloud_io import load_cloud, save_cloud
from hullscan.model import Transform

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "sim" / "scenarios" / "box_on_side.yaml"  # 30 s, one lane: the shortest with a parasite
IMO = "9074729"


def _bump(src: Path, dst: Path, hull_to_nav: Transform, x_hull: float) -> None:
    """The cloud with a 0.9 m patch of the side pushed 0.3 m out at ``x_hull`` (a new compartment)."""
    cloud = load_cloud(src)
    p = hull_to_nav.inverse().apply(cloud.points)
    band = p[np.abs(p[:, 0] - x_hull) < 0.1]
    seed = band[np.argmin(np.abs(band[:, 2] + 2.4))]
    near = np.linalg.norm(p - seed, axis=1) < 0.45
    normal = np.linalg.svd(p[near] - p[near].mean(0))[2][2]
    p[near] += 0.3 * (normal if normal[1] * seed[1] > 0 else -normal)  # outward, away from the centreline
    save_cloud(replace(cloud, points=hull_to_nav.apply(p).astype(cloud.points.dtype)), dst)


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("vessel")
    bag = d / "bag"
    assert main(["-q", "simulate", "--scenario", str(SCENARIO), "--out", str(bag)]) == 0
    truth = json.loads((d / "bag.truth" / "truth.json").read_text())["hull_to_nav"]
    prior = d / "prior.json"  # the truth's placement as an explicit prior, as the CLI tests do
    prior.write_text(json.dumps(truth))
    cfg = d / "config.yaml"
    cfg.write_text("report: {pdf: false}\n")  # the PDF is not what this tests
    ref = d / "bag.design.ply"
    db = d / "h.db"
    common = ["--reference", str(ref), "--prior", str(prior), "--config", str(cfg), "--no-progress", "--db", str(db)]
    rc = main(["replay", str(bag), *common, "--no-camera", "--out", str(d / "v1"), "--vessel", f"IMO {IMO}",
               "--vessel-name", "MV Box", "--port", "Rotterdam", "--operator", "J. Smit", "--cleared"])
    assert rc == 3  # the box is found; the operator clears it (a known fitting), so the cloud is kept
    _bump(d / "v1" / "cloud.ply", d / "v2.ply", Transform(np.array(truth["rotation"]), np.array(truth["translation"])),
          34.0)
    assert main(["compare", str(d / "v2.ply"), *common, "--out", str(d / "v2"), "--vessel", IMO,
                 "--port", "Antwerp"]) == 3
    return {"dir": d, "db": db, "ref": ref, "prior": prior, "cfg": cfg}


def _doc(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((path / "findings.json").read_text())  # type: ignore[no-any-return]


def test_the_first_visit_has_no_history_to_compare_with(visits: dict[str, Path]) -> None:
    doc = _doc(visits["dir"] / "v1")
    assert doc["schema_version"] == "2.12"
    assert doc["history"]["status"] == "none" and doc["history"]["imo"] == IMO
    assert all(f["history"] is None for f in doc["findings"])


def test_the_second_visit_marks_new_and_present_since_the_first(visits: dict[str, Path]) -> None:
    doc = _doc(visits["dir"] / "v2")
    h = doc["history"]
    assert h["status"] == "compared" and h["n_new"] == 1 and h["n_present"] == 1 and h["earlier_inspection"] == 1
    date = h["earlier_date"]
    by_x = sorted(doc["findings"], key=lambda f: f["distance_from_stern_m"])
    bump, box = by_x[0], by_x[-1]
    assert abs(bump["distance_from_stern_m"] - 34.0) < 1.0 and abs(box["distance_from_stern_m"] - 40.0) < 1.5
    assert bump["history"] == {"status": "new", "since": date, "text": f"new since {date}"}
    assert box["history"] == {"status": "present", "since": date, "text": f"present since {date}"}
    html = (visits["dir"] / "v2" / "report.html").read_text()
    assert f"new since {date}" in html and f"present since {date}" in html
    assert f"Compared with the cleared scan of {date} (inspection #1): 1 finding new since {date}" in html
    assert "data-history='new'" in html and "data-history='present'" in html
    # The exports for case-management systems carry it too.
    rows = {r["id"]: r for r in csv.DictReader((visits["dir"] / "v2" / "findings.csv").open())}
    assert (rows[bump["id"]]["history"], rows[bump["id"]]["history_since"]) == ("new", date)
    assert rows[box["id"]]["history"] == "present"
    features = json.loads((visits["dir"] / "v2" / "findings.geojson").read_text())["features"]
    assert {f["id"]: f["properties"]["history"] for f in features} == {bump["id"]: "new", box["id"]: "present"}


def test_history_lists_the_visits(visits: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", IMO, "--db", str(visits["db"])]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"vessel IMO {IMO}  MV Box") and "bag.design.ply" in lines[0]
    assert lines[1].split()[:3] == ["#", "date", "(UTC)"]
    assert "Rotterdam" in lines[2] and "J. Smit" in lines[2] and "kept" in lines[2]
    assert "Antwerp" in lines[3] and "1 new, 1 present (vs #1)" in lines[3]
    assert lines[-1] == "2 inspections"
    assert main(["history", IMO, "--db", str(visits["db"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first, second = data["vessel"]["inspections"]
    assert first["cleared"] and first["clean_cloud"]["on_disk"] and first["command"] == "replay"
    assert first["input_hashes"]["bag"] and first["input_hashes"]["reference"]
    assert second["compared_with"] == first["id"] and second["history_status"] == "compared"
    assert sorted(f["history"] for f in second["findings"]) == ["new", "present"]
    assert not second["cleared"] and second["clean_cloud"] is None


def test_a_missing_clean_scan_is_named_and_the_visit_still_recorded(visits: dict[str, Path], tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "h.db"
    shutil.copy(visits["db"], db)  # this test's own history: the module's stays intact
    gone = tmp_path / "moved-away.ply"
    with sqlite3.connect(db) as c:
        c.execute("UPDATE clean_clouds SET path = ?", (str(gone),))
    caplog.set_level(logging.WARNING)
    rc = main(["compare", str(visits["dir"] / "v1" / "cloud.ply"), "--reference", str(visits["ref"]), "--prior",
               str(visits["prior"]), "--config", str(visits["cfg"]), "--no-progress", "--db", str(db),
               "--out", str(tmp_path / "v3"), "--vessel", IMO])
    assert rc == 3
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "history" in r.getMessage()]
    assert warned and str(gone) in warned[0] and "missing from disk" in warned[0]
    doc = _doc(tmp_path / "v3")
    assert doc["history"]["status"] == "skipped" and str(gone) in doc["history"]["summary"]
    assert any("Not compared with the vessel's history" in n and str(gone) in n for n in doc["notes"])
    assert all(f["history"] is None for f in doc["findings"])
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT id, history_status, compared_with_id FROM inspections ORDER BY id").fetchall()
    assert rows[-1] == (3, "skipped", 1)
