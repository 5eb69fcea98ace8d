"""Outputs (findings.json, report.html, deviation.ply), the compare command, and bad input."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from hullscan.cli import main
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import attempt_inspection, inspect
from hullscan.compare.synthetic import SynthHullMesh, make_hull
from hullscan.errors import AlignmentError, HullscanError
from hullscan.model import HullCloud
from hullscan.report.outputs import SCHEMA_VERSION, write_outputs
from tests.tools import missing_tool

from .conftest import HULL_TO_NAV


class Cards(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("data-finding-id"):
            self.ids.append(a["data-finding-id"])


CASE_NUMBER = "NL-ZOLL-2026-0417"
CASE_YAML = f"""\
case_number: {CASE_NUMBER}
vessel_name: MV Synthetic Trader
imo_number: 9074729
flag: Liberia
port: Rotterdam
berth: Maasvlakte 2, berth 7
operator: J. de Vries
agency: Douane Rotterdam, underwater team
survey_start: 2026-12-02T06:10:00Z
vehicle: BlueROV2 Heavy SN 2231
sensor_serials: {{sonar: Oculus M750d 12345, dvl: A50 778}}
"""


@pytest.fixture(scope="module")
def written(hull, scan, tmp_path_factory):
    out = tmp_path_factory.mktemp("inspection")
    ins = inspect(scan.cloud, hull, CompareConfig(scoring={"frame_spacing_m": 0.6}), hull_to_nav=HULL_TO_NAV)
    src = out / "input.bin"
    src.write_bytes(b"cloud bytes")
    case = out / "case.yaml"
    case.write_text(CASE_YAML)
    write_outputs(ins, out, {"cloud": src, "reference": None, "case": case})
    return ins, out


def test_findings_json_schema(written):
    from hullscan.report.schema import validate_findings

    ins, out = written
    doc = json.loads((out / "findings.json").read_text())
    validate_findings(doc)
    assert doc["schema_version"] == SCHEMA_VERSION == "2.12" and doc["status"] == "complete"
    assert doc["fittings"] is None and doc["summary"]["n_explained_by_fittings"] == 0  # no --fittings
    # What the figures were computed with: the numerical packages change them (stop 45).
    assert doc["software"]["packages"]["numpy"] == np.__version__ and doc["software"]["python"]
    assert doc["alignment"]["surface_offset_m"] is None  # not fitted: compare.alignment.surface_offset is off
    assert doc["inputs"][0]["sha256"] == "0ba5b1c4d4d5c0b53ac8b7f4e1e38d5e4d2fd41f0bc5da6a50aee4bf6e0f3ec6" or \
        len(doc["inputs"][0]["sha256"]) == 64
    assert len(doc["findings"]) == len(ins.findings) == 3
    for f in doc["findings"]:
        for key in ("id", "kind", "centroid", "volume_m3", "max_height_m", "footprint_m2", "region",
                    "confidence", "confidence_class", "risk", "nearest_landmark"):
            assert key in f
    cov = doc["coverage"]
    assert 0.9 < cov["cleared_fraction"] <= 1.0
    # Honest names: the wetted area is the whole surface, the cleared area the part cleared.
    assert cov["cleared_area_m2"] <= cov["seen_area_m2"] <= cov["wetted_area_m2"]
    assert cov["cleared_area_m2"] + cov["not_inspected_area_m2"] == pytest.approx(cov["wetted_area_m2"], abs=0.05)
    assert doc["alignment_residual_m"] < 0.05 and doc["config"]["detection"]["min_height_m"] == 0.05
    assert (out / "config.yaml").exists()
    assert doc["verdict"] == {"kind": "found", "text": "compartments found (3)", "exit_code": 3,
                              "cleared_fraction": cov["cleared_fraction"], "clear_height_m": 0.1}
    assert doc["case"]["case_number"] == CASE_NUMBER and doc["case"]["imo_number"] == "9074729"
    assert doc["case"]["survey_times_from"] == "case file"
    assert doc["software"]["version"] and doc["method"]["confidence_classes"]["high"] == 0.7
    assert {i["role"] for i in doc["inputs"] if i["sha256"]} == {"cloud", "case"}  # the case file is evidence too


def test_findings_schema_rejects_old_and_bad_documents(written):
    from hullscan.report.schema import SchemaError, validate_findings

    _, out = written
    doc = json.loads((out / "findings.json").read_text())
    old = dict(doc, coverage=dict(doc["coverage"], fraction=0.5))  # a 1.x key
    with pytest.raises(SchemaError, match="coverage"):
        validate_findings(old)
    bad = json.loads(json.dumps(doc))
    bad["findings"][0]["confidence"] = 1.5
    with pytest.raises(SchemaError, match=r"findings/0/confidence"):
        validate_findings(bad)


def test_schema_command(written, capsys):
    _, out = written
    assert main(["schema", "findings"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["schema_version"]["pattern"].startswith("^2")
    assert main(["schema", "findings", "--check", str(out / "findings.json")]) == 0
    assert "valid" in capsys.readouterr().out


def test_deviation_ply(written):
    import open3d as o3d

    ins, out = written
    pc = o3d.io.read_point_cloud(str(out / "deviation.ply"))
    assert len(pc.points) == len(ins.points) and pc.has_colors()
    header = (out / "deviation.ply").read_bytes()[:600].split(b"end_header")[0].decode()
    # CloudCompare offers a PLY property as a scalar field only when it is named scalar_*.
    assert "property float scalar_deviation" in header


@pytest.mark.parametrize(("name", "field"), [("deviation.ply", "deviation"), ("coverage.ply", "status")])
def test_outputs_in_cloudcompare(written, tmp_path, name, field):
    """CloudCompare's command line opens the PLY and offers its scalar field (exported to ASCII)."""
    exe = shutil.which("CloudCompare") or shutil.which("cloudcompare")
    if exe is None:
        missing_tool("CloudCompare", "Debian: apt-get install cloudcompare")
    _, out = written
    res = subprocess.run([exe, "-SILENT", "-AUTO_SAVE", "OFF", "-O", str(out / name), "-C_EXPORT_FMT",
                          "ASC", "-ADD_HEADER", "-SAVE_CLOUDS", "FILE", str(tmp_path / "cc.asc")],
                         capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr[-1000:]
    head, *rows = (tmp_path / "cc.asc").read_text().splitlines()
    assert field in head.lower() and len(rows) > 100


def test_sidecars_and_exports(written):
    import csv

    ins, out = written
    doc = json.loads((out / "findings.json").read_text())
    for name in ("report.html", "report.pdf"):
        digest, fname = (out / f"{name}.sha256").read_text().split()
        assert fname == name and digest == doc["report_sha256"][name]
        assert digest == __import__("hashlib").sha256((out / name).read_bytes()).hexdigest()
    gj = json.loads((out / "findings.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and [f["id"] for f in gj["features"]] == [f.id for f in ins.findings]
    f0 = gj["features"][0]
    assert f0["geometry"]["coordinates"] == pytest.approx(list(ins.findings[0].centroid), abs=1e-3)
    assert f0["properties"]["case_number"] == CASE_NUMBER
    rows = list(csv.DictReader((out / "findings.csv").open()))
    assert [r["id"] for r in rows] == [f.id for f in ins.findings] and rows[0]["imo_number"] == "9074729"


def test_report_has_every_card(written):
    ins, out = written
    html = (out / "report.html").read_text()
    p = Cards()
    p.feed(html)
    assert p.ids == [f.id for f in ins.findings]
    # Opens offline: no fetched resource (the SVG namespace URIs are names, not fetches).
    assert not re.search(r"(src|href)=['\"]https?://", html)
    assert "ship-drawing" in html and "view3d" in html and CASE_NUMBER in html
    assert html.index("id='verdict'") < html.index("ship-drawing") < html.index("data-finding-id")
    for f in ins.findings:  # each card: a local height map with its scale bar, the sonar returns across it
        card = html[html.index(f"id='finding-{f.id}'"):].split("</section>")[0]
        assert f"id='local-map-{f.id}'" in card and " m</text>" in card
        section = card[card.index(f"id='section-{f.id}'"):].split("</svg>")[0]
        assert section.count("<circle") > 20


def test_ship_drawing_numbers_the_frames_when_the_spacing_is_known(written):
    """The fixture's comparison has compare.scoring.frame_spacing_m 0.6: the drawing's top axis
    counts frames (it read a flat config key that does not exist and never did, until stop 27)."""
    from dataclasses import replace

    from hullscan.report.drawing import ship_drawing

    ins, out = written
    doc = json.loads((out / "findings.json").read_text())
    drawing = ship_drawing(ins, doc, [])
    assert ">frame<" in drawing
    plain = ship_drawing(replace(ins, config=CompareConfig()), doc, [])
    assert ">frame<" not in plain


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


# Run in the browser after the report's own scripts: for every finding marker of the ship drawing, is the
# centre of its ring, as laid out at this window width, inside the hull outline of its view?
_PROBE = """<script>
window.addEventListener('load', function(){
  const out = {};
  for (const g of document.querySelectorAll('#ship-drawing g[id^="finding-marker-"]')) {
    const view = g.closest('g[id^="view-"]');
    const path = view && view.querySelector('g[id^="hull-outline-"] path');
    const r = g.getBoundingClientRect();
    let inside = false;
    if (path) {
      const p = new DOMPoint(r.x + r.width / 2, r.y + r.height / 2).matrixTransform(path.getScreenCTM().inverse());
      inside = path.isPointInFill(p);
    }
    out[g.id.slice('finding-marker-'.length)] = {view: view && view.id, inside: inside, w: r.width};
  }
  const svg = document.querySelector('#ship-drawing svg');
  document.body.setAttribute('data-markers', JSON.stringify(out));
  document.body.setAttribute('data-drawing-width', svg ? svg.getBoundingClientRect().width : -1);
});
</script></body>"""


@pytest.mark.parametrize("width", [640, 1400])
def test_report_in_headless_chromium(written, width, tmp_path):
    exe = _chromium()
    if exe is None:
        missing_tool("headless Chromium", "Debian: apt-get install chromium")
    ins, out = written
    probe = out / f"report_probe_{width}.html"
    probe.write_text((out / "report.html").read_text().replace("</body>", _PROBE, 1))
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000",
            f"--window-size={width},2400"]
    res = subprocess.run([*base, "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    shot = tmp_path / f"report_{width}.png"
    subprocess.run([*base, f"--screenshot={shot}", (out / "report.html").resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
    p = Cards()
    p.feed(dom)
    assert p.ids == [f.id for f in ins.findings]  # every finding's card
    assert 'data-view3d="ready"' in dom  # the 3D view script ran without errors
    assert re.search(r'id="verdict"[^>]*>compartments found \(3\)<', dom)
    assert CASE_NUMBER in dom
    assert 'id="waterline-port"' in dom and 'id="waterline-starboard"' in dom
    markers = json.loads(html_lib.unescape(re.search(r'data-markers="([^"]*)"', dom).group(1)))
    assert set(markers) == {f.id for f in ins.findings}
    for fid, m in markers.items():
        f = next(f for f in ins.findings if f.id == fid)
        assert m["view"] == f"view-{f.side}" and m["inside"], (fid, m)
    # The drawing fits the window (no horizontal scrolling of the ship at 640 px).
    assert 0 < float(re.search(r'data-drawing-width="([0-9.]+)"', dom).group(1)) <= width


def test_report_pdf(written, tmp_path):
    """report.pdf: A4, page numbers, the case in the header, and page 1 carries the verdict and the
    ship drawing (its text read back, its raster checked for the finding rings)."""
    pdfium = pytest.importorskip("pypdfium2")
    ins, out = written
    pdf = pdfium.PdfDocument(str(out / "report.pdf"))
    n = len(pdf)
    assert n >= 3
    w, h = pdf[0].get_size()
    assert (round(w), round(h)) == (595, 842)  # A4 in points
    pages = [pdf[i].get_textpage().get_text_range() for i in range(n)]
    first = " ".join(pages[0].split())
    assert f"page 1 / {n}" in first and f"page 1 of {n}" in first and f"case {CASE_NUMBER}" in first
    assert "compartments found (3)" in first
    assert "PORT SIDE" in first and "STARBOARD SIDE" in first and "BOTTOM" in first and "waterline" in first
    assert all(f"page {i + 1} / {n}" in " ".join(t.split()) for i, t in enumerate(pages))
    assert "Appendix A" in " ".join(pages[-1].split()) or any("Appendix A" in t for t in pages[2:])
    # Page 1 rasterised: the red finding rings are drawn (one ring has a few hundred such pixels at 100 dpi).
    img = np.asarray(pdf[0].render(scale=100 / 72).to_pil().convert("RGB")).astype(int)
    red = (img[:, :, 0] > 180) & (img[:, :, 1] < 80) & (img[:, :, 2] < 80)
    assert red.sum() > 100 * len(ins.findings)
    # The card of every finding is in the PDF.
    assert all(any(f"{f.id}: " in t for t in pages) for f in ins.findings)


# ------------------------------------------------------------------ bad input


def test_reference_in_millimetres(hull, scan):
    mm = SynthHullMesh(hull.vertices * 1000.0, hull.faces, hull.face_region, name="hull_mm")
    with pytest.raises(AlignmentError, match="millimetres"):
        inspect(scan.cloud, mm, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    partial = attempt_inspection(scan.cloud, mm, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert partial.status == "partial" and partial.findings == ()
    assert isinstance(partial.failure, AlignmentError) and "millimetres" in str(partial.failure)


def test_different_ship_fails_alignment(scan, tmp_path):
    other = make_hull(length=19.0, beam=4.0, draft=3.5, fullness=2.0, n_x=61, n_s=41, name="other ship")
    partial = attempt_inspection(scan.cloud, other, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert isinstance(partial.failure, AlignmentError) and "does not fit" in str(partial.failure)
    assert partial.findings == () and partial.alignment is not None
    write_outputs(partial, tmp_path)
    doc = json.loads((tmp_path / "findings.json").read_text())
    assert doc["status"] == "partial" and doc["error"]["type"] == "AlignmentFailed" and doc["findings"] == []
    assert "Partial report" in (tmp_path / "report.html").read_text()


def test_sister_ship_of_the_same_form_fails_alignment(scan):
    # Same length, draft and form, 1 m more beam: with the old 60 % inlier floor it "fitted" (67 %)
    # and produced findings that were the difference between the two ships.
    sister = make_hull(length=20.0, beam=7.0, draft=2.5, n_x=81, n_s=49, name="sister ship")
    partial = attempt_inspection(scan.cloud, sister, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert isinstance(partial.failure, AlignmentError) and "does not fit" in str(partial.failure)
    assert partial.status == "partial" and partial.findings == ()


@pytest.mark.parametrize("n", [0, 30])
def test_empty_or_tiny_cloud(hull, n, tmp_path):
    cloud = HullCloud.from_points(np.random.default_rng(0).normal(size=(n, 3)))
    with pytest.raises(HullscanError, match="usable points"):
        inspect(cloud, hull, CompareConfig())
    partial = attempt_inspection(cloud, hull, CompareConfig())
    assert partial.failure is not None and "usable points" in str(partial.failure)
    write_outputs(partial, tmp_path)
    assert json.loads((tmp_path / "findings.json").read_text())["status"] == "partial"


def test_mesh_with_holes_gives_partial_report(hull, scan):
    # Cut a hole in the design mesh where the survey went (and break the manifold).
    cen = hull.vertices[hull.faces].mean(axis=1)
    keep = ~((np.abs(cen[:, 0] - 5.0) < 1.5) & (cen[:, 1] > 0))
    holed = SynthHullMesh(hull.vertices, np.vstack([hull.faces[keep], hull.faces[:3]]),
                          np.concatenate([hull.face_region[keep], hull.face_region[:3]]), name="holed")
    ins = inspect(scan.cloud, holed, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert ins.status == "partial" and "holes" in ins.error
    assert any("not watertight" in n for n in ins.notes)


# ------------------------------------------------------------------ command line


def test_compare_command(hull, scan, tmp_path, capsys):
    from .conftest import write_compare_inputs

    _, _, prior = write_compare_inputs(hull, scan, tmp_path)
    out = tmp_path / "out"
    rc = main(["-q", "compare", str(tmp_path / "cloud.ply"), "--reference", str(tmp_path / "hull.ply"),
               "--hull-to-nav", str(prior), "--out", str(out), "--no-progress", "--frame-spacing", "0.6"])
    assert rc == 3  # compartments found
    assert capsys.readouterr().out.strip().splitlines()[-1] == "verdict: compartments found (3)"
    doc = json.loads((out / "findings.json").read_text())
    assert len(doc["findings"]) == 3 and (out / "report.html").exists() and (out / "config.yaml").exists()
    assert {i["role"] for i in doc["inputs"] if i["sha256"]} == {"cloud", "reference", "prior"}
    # A missing reference: clear error, exit 1, and still a partial report.
    rc = main(["-q", "compare", str(tmp_path / "cloud.ply"), "--reference", str(tmp_path / "nope.stl"),
               "--out", str(tmp_path / "bad"), "--no-progress"])
    assert rc == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("verdict: inspection failed: ") and "nope.stl" in last
    assert json.loads((tmp_path / "bad" / "findings.json").read_text())["status"] == "partial"


def test_compare_help():
    with pytest.raises(SystemExit) as info:
        main(["compare", "--help"])
    assert info.value.code == 0


def _unused(p: Path) -> None:  # keep Path import used for type hints in helpers
    del p


def test_passes_reach_the_record_the_csv_and_the_report(hull, scan, tmp_path):
    """A cloud that says when each point was seen: every finding states its passes in findings.json
    (schema-valid), the CSV and the report's evidence line; without times, null and no words."""
    from dataclasses import replace

    from hullscan.report.schema import validate_findings

    lane_t = (scan.cloud.points @ HULL_TO_NAV.rot.as_matrix())[:, 0] / 1.2  # one lane along the ship
    lane_t -= lane_t.min()
    # The survey began at 06:10:00 UTC; the lane passes each box a few seconds later.
    timed = replace(scan.cloud, seen_first_s=lane_t, seen_last_s=lane_t, seen_t0_ns=1796191800 * 10**9)
    for name, cloud, words in (("timed", timed, "from one pass only (06:10:"), ("plain", scan.cloud, None)):
        ins = inspect(cloud, hull, CompareConfig(), hull_to_nav=HULL_TO_NAV)
        write_outputs(ins, tmp_path / name, {"cloud": None, "reference": None})
        doc = json.loads((tmp_path / name / "findings.json").read_text())
        validate_findings(doc)
        assert doc["findings"] and all(f["passes"] == (1 if words else None) for f in doc["findings"])
        assert all(len(f["passes_at_utc"]) == (1 if words else 0) for f in doc["findings"])
        assert all(t.startswith("2026-12-02T06:10:") for f in doc["findings"] for t in f["passes_at_utc"])
        rows = (tmp_path / name / "findings.csv").read_text().splitlines()
        assert {"passes", "passes_at_utc"} <= set(rows[0].split(","))
        report = (tmp_path / name / "report.html").read_text()
        evidence = re.findall(r"sonar cloud points([^<]*?), \d+ camera frames", report)
        assert len(evidence) == len(doc["findings"])
        assert all(e.startswith(f" {words}") if words else e == "" for e in evidence), evidence


def test_coverage_ply(written):
    """coverage.ply: the reference's samples in the file's frame with what the inspection left at
    each (what a re-dive plan reads), the clear height and sample area in its header."""
    from hullscan.compare.analysis import STATUS_CLEARED, STATUS_NOT_SEEN
    from hullscan.ply import read_ply

    ins, out = written
    ply = read_ply(out / "coverage.ply", "coverage.ply")
    v = ply.elements["vertex"]
    cov = ins.coverage
    assert len(v) == len(cov.samples)
    assert np.allclose(np.column_stack([v["x"], v["y"], v["z"]]), ins.to_user(cov.samples), atol=1e-4)
    status = v["scalar_status"]
    assert ((status == STATUS_CLEARED) == cov.seen).all()
    assert ((status == STATUS_NOT_SEEN) == ~cov.seen_any).all()
    assert float(ply.comment("clear_height_m")) == cov.clear_height
    assert float(ply.comment("sample_area_m2")) == pytest.approx(cov.sample_area, rel=1e-5)
    assert json.loads((out / "findings.json").read_text())["outputs"]["coverage_ply"] == "coverage.ply"
    doc = json.loads((out / "findings.json").read_text())
    assert doc["coverage"]["not_inspected_area_m2"] > 0
    assert "id='re-dive'" in (out / "report.html").read_text()  # the report says how to plan the next dive
