"""The ship's declared fittings (--fittings): the plan file, placing it, and what it explains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hullscan.cli import main
from hullscan.compare.config import CompareConfig
from hullscan.compare.fittings import FittingsError, explain, load_fittings, unexplained
from hullscan.model import Finding
from hullscan.report.verdict import verdict_for

from .conftest import write_compare_inputs

PLAN = """\
# the ship's anode plan
tolerance_m: 0.4
frame_spacing_m: 0.6
fittings:
  - {id: A1, kind: anode, frame: 10, side: port, above_keel_m: 1.0}
  - {id: A2, x_from_stern_m: 12.5, side: starboard, off_centre_m: 2.0, size_m: [0.6, 0.2, 0.06]}
  - {id: T1, kind: transducer, at: [5.0, 0.0, -2.5], size_m: [0.4, 0.4, 0.05]}
"""


def finding(fid: str, at: tuple[float, float, float], volume_m3: float, height_m: float,
            along_m: float | None = None) -> Finding:
    return Finding(fid, "protrusion", at, volume_m3, height_m, volume_m3 / height_m, at, at, "side", "port",
                   at[0], -at[2], 0.9, 0.5, 100, along_uncertainty_m=along_m)


def test_a_plan_file_reads_back_as_written(tmp_path):
    p = tmp_path / "anodes.yaml"
    p.write_text(PLAN)
    plan = load_fittings(p)
    assert plan.tolerance_m == 0.4 and plan.frame_spacing_m == 0.6 and plan.source == str(p)
    assert plan.sha256 == __import__("hashlib").sha256(PLAN.encode()).hexdigest()
    a1, a2, t1 = plan.fittings
    assert (a1.id, a1.kind, a1.frame, a1.side, a1.above_keel_m, a1.size_m) == ("A1", "anode", 10, "port", 1.0,
                                                                               (0.8, 0.25, 0.08))
    assert a2.kind == "anode" and a2.x_from_stern_m == 12.5 and a2.off_centre_m == 2.0
    assert t1.at == (5.0, 0.0, -2.5) and t1.volume_m3 == pytest.approx(0.008)
    # A bare list is a plan too, and JSON is YAML.
    p.write_text(json.dumps([{"id": "A9", "at": [1, 2, 3]}]))
    assert load_fittings(p).fittings[0].at == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(("text", "expect"), [
    ("fittings: []", "fittings"),
    ("fittings: [{id: A1, side: port, above_keel_m: 1}]", "fitting A1"),
    ("fittings: [{id: A1, frame: 3, above_keel_m: 1}]", "side: expected port or starboard"),
    ("fittings: [{id: A1, frame: 3, side: port}]", "above_keel_m"),
    ("fittings: [{id: A1, frame: 3, side: left, above_keel_m: 1}]", "fittings.0.side"),
    ("fittings: [{id: A1, at: [1, 2]}]", "fittings.0.at"),
    ("fittings: [{id: A1, at: [1, 2, 3], size_m: [0.8, 0, 0.1]}]", "size_m"),
    ("fittings: [{id: A1, at: [1, 2, 3], colour: red}]", "fittings.0.colour"),
    ("fittings: [{id: A1, at: [1, 2, 3]}, {id: A1, at: [4, 5, 6]}]", "A1 repeated"),
    ("fittings: {id: A1", "not valid YAML"),
    ("42", "expected a mapping"),
    (b"fittings: \xff\xfe", "not UTF-8"),
])
def test_a_bad_plan_is_one_line_naming_the_file_and_the_field(tmp_path, text, expect):
    p = tmp_path / "plan.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(FittingsError) as info:
        load_fittings(p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and expect in msg and "\n" not in msg.strip()


def test_a_missing_plan_is_named(tmp_path):
    with pytest.raises(FittingsError, match=r"nope\.yaml: cannot read"):
        load_fittings(tmp_path / "nope.yaml")


def _plan(tmp_path, text):
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    return load_fittings(p)


def test_an_anode_sized_finding_where_the_plan_puts_one_is_explained(tmp_path):
    plan = _plan(tmp_path, "fittings: [{id: A5, at: [10, 3, -1]}]")
    centres = np.array([[10.0, 3.0, -1.0]])
    fs = (finding("F001", (10.3, 3.05, -1.0), 0.017, 0.09), finding("F002", (14.0, 3.0, -1.0), 0.017, 0.09))
    out, explains, beside = explain(fs, plan, centres, CompareConfig())
    assert out[0].fitting is not None and out[0].fitting.explained and out[0].fitting.id == "A5"
    assert "matches declared anode A5" in out[0].fitting.text
    assert out[1].fitting is None  # 4 m away: not that anode
    assert explains == {"A5": ["F001"]} and beside == 0 and unexplained(out) == 1


def test_a_pack_beside_an_anode_is_larger_than_it_and_stays_a_finding(tmp_path):
    plan = _plan(tmp_path, "fittings: [{id: A5, at: [10, 3, -1]}]")
    centres = np.array([[10.0, 3.0, -1.0]])
    cfg = CompareConfig()
    # 16 L anode and a 10 L pack strapped to it, read as one 26 L finding: more than 1.5 x 16 L.
    out, _, beside = explain((finding("F001", (10.1, 3.0, -1.0), 0.026, 0.09),), plan, centres, cfg)
    assert not out[0].fitting.explained and beside == 1 and unexplained(out) == 1
    assert "26 L against 16 L declared" in out[0].fitting.text
    # A pack on top of it: anode-sized footprint, 14 cm high.
    out, _, _ = explain((finding("F001", (10.1, 3.0, -1.0), 0.016, 0.14),), plan, centres, cfg)
    assert not out[0].fitting.explained and "14 cm high against 8 cm declared" in out[0].fitting.text
    # A pack read apart from the anode beside it, smaller than the anode and listed first: the anode
    # explains the finding nearer to where the plan puts it, whatever the order or sizes.
    two = (finding("F001", (10.6, 3.0, -1.0), 0.009, 0.10), finding("F002", (10.05, 3.0, -1.0), 0.016, 0.08))
    out, explains, beside = explain(two, plan, centres, cfg)
    assert explains == {"A5": ["F002"]} and beside == 1 and unexplained(out) == 1
    assert not out[0].fitting.explained and "that anode is F002, nearer to where the plan puts it" in out[0].fitting.text


def test_the_survey_s_stated_along_ship_uncertainty_widens_the_reach_along_the_ship_only(tmp_path):
    plan = _plan(tmp_path, "fittings: [{id: A5, at: [10, 3, -1]}]")
    centres = np.array([[10.0, 3.0, -1.0]])
    cfg = CompareConfig()  # reach: tolerance 0.5 + half the anode's 0.8 m
    far_along = finding("F001", (11.5, 3.0, -1.0), 0.016, 0.08)
    assert explain((far_along,), plan, centres, cfg)[0][0].fitting is None
    stated = finding("F001", (11.5, 3.0, -1.0), 0.016, 0.08, along_m=0.8)
    assert explain((stated,), plan, centres, cfg)[0][0].fitting.explained
    across = finding("F001", (10.0, 4.5, -1.0), 0.016, 0.08, along_m=0.8)
    assert explain((across,), plan, centres, cfg)[0][0].fitting is None


def test_unplaced_fittings_explain_nothing(tmp_path):
    plan = _plan(tmp_path, "fittings: [{id: A5, at: [10, 3, -1]}]")
    out, explains, _ = explain((finding("F001", (10.0, 3.0, -1.0), 0.016, 0.08),), plan,
                               np.full((1, 3), np.nan), CompareConfig())
    assert out[0].fitting is None and explains == {"A5": []}


def test_the_verdict_counts_only_findings_no_fitting_explains():
    v = verdict_for("complete", None, 2, 0.9, 0.1, n_fittings=3)
    assert v.kind == "found" and v.exit_code == 3
    assert v.text == "compartments found (2); 3 more match declared fittings"
    v = verdict_for("complete", None, 0, 0.97, 0.1, n_fittings=1)
    assert v.kind == "nothing_found" and v.exit_code == 0
    assert v.text.endswith("; 1 finding matches a declared fitting (check their images)")
    assert verdict_for("complete", None, 0, 0.97, 0.1).text.endswith("not inspected")


def test_compare_with_a_plan_marks_the_box_it_declares(hull, scan, tmp_path, capsys, caplog):
    """End to end: the synthetic survey's three boxes, one of them declared (ship terms: x from the
    stern, side, height above the keel) at its size: two compartments, the declared one marked."""
    from hullscan.report.schema import validate_findings

    cloud, reference, prior = write_compare_inputs(hull, scan, tmp_path)
    # conftest's port box: 8 m from the stern, 1.2 m deep on a 2.5 m draft (1.3 m above the keel).
    plan = tmp_path / "anodes.yaml"
    plan.write_text("fittings:\n"
                    "  - {id: B1, kind: box, x_from_stern_m: 8.2, side: port, above_keel_m: 1.3, size_m: [0.6, 0.5, 0.2]}\n"
                    "  - {id: A9, x_from_stern_m: 60, side: port, above_keel_m: 1.0}\n")
    out = tmp_path / "out"
    rc = main(["-q", "compare", str(cloud), "--reference", str(reference),
               "--hull-to-nav", str(prior), "--out", str(out), "--no-progress", "--fittings", str(plan)])
    assert rc == 3
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "verdict: compartments found (2); 1 more matches a declared fitting"
    doc = json.loads((out / "findings.json").read_text())
    validate_findings(doc)
    marked = [f for f in doc["findings"] if f["fitting"] is not None]
    assert len(marked) == 1 and marked[0]["fitting"]["explained"] and marked[0]["side"] == "port"
    assert abs(marked[0]["distance_from_stern_m"] - 8.0) < 0.3
    fit = doc["fittings"]
    assert fit["n_declared"] == 2 and fit["n_placed"] == 1 and fit["n_findings_explained"] == 1
    assert fit["sha256"] == __import__("hashlib").sha256(plan.read_bytes()).hexdigest()  # the plan as evidence
    assert fit["declared"][0]["explains"] == [marked[0]["id"]] and fit["declared"][1]["position"] is None
    assert doc["summary"]["n_explained_by_fittings"] == 1 and doc["summary"]["n_findings"] == 3
    assert any("A9" in n and "not on the surveyed reference" in n for n in doc["notes"])
    assert "declared fitting" in (out / "report.html").read_text()
    # A bad plan stops the run before any work, in one line naming it.
    plan.write_text("fittings: [{id: A1, frame: 3, side: port, above_keel_m: 1}]")
    rc = main(["-q", "compare", str(cloud), "--reference", str(reference),
               "--out", str(tmp_path / "out2"), "--no-progress", "--fittings", str(plan)])
    assert rc == 1 and not (tmp_path / "out2").exists()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "anodes.yaml: fitting A1: frame needs the frame spacing" in errors[0]
