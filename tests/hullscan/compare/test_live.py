"""The live comparator without ROS: the prior searched once, then the registration refined; a
failed inspection withdraws its findings and searches from the prior again; reference and prior
loading as the node's parameters give them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hullscan.compare import live
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import MIN_CLOUD_POINTS
from hullscan.compare.inspect import inspect as real_inspect
from hullscan.compare.live import LiveComparator, hull_to_nav_from, load_reference
from hullscan.compare.prior import DEFAULT_SIGMA, REGISTERED_SIGMA
from hullscan.errors import ConfigError, HullscanError
from hullscan.model import HullCloud, Transform
from hullscan.report.run import save_live_report

from .conftest import BOXES, HULL_TO_NAV

PRIOR = Transform.from_euler(0.0, 0.0, 0.6 + 0.01, (120.15, -40.1, 0.35))  # navigation is a little off
WRONG = Transform.from_euler(0.0, 0.0, 0.6 + 0.5, (124.0, -37.0, 0.3 + 2.5))  # metres and 30 degrees off


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The placement and uncertainty each inspection started from."""
    seen: list[dict[str, Any]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_inspect(*args, **kwargs)

    monkeypatch.setattr(live, "inspect", spy)
    return seen


def test_prior_searched_once_then_the_registration_refined(hull: Any, scan: Any, calls: list[dict[str, Any]],
                                                            tmp_path: Path) -> None:
    lc = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA)
    first = lc.inspect(scan.cloud)
    assert first.ok and first.error == "" and first.status == "complete" and len(first.findings) == len(BOXES)
    assert calls[0]["hull_to_nav"] is PRIOR and calls[0]["sigma"] is DEFAULT_SIGMA
    assert lc.registered is not None
    np.testing.assert_allclose(first.hull_to_nav.translation, HULL_TO_NAV.translation, atol=0.05)
    assert first.deviation is not None and len(first.deviation) == len(scan.cloud)
    assert first.coverage is not None and 0.9 < first.coverage <= 1.0
    assert first.unseen_nav.shape[1] == 3 and first.cell_m > 0
    registered = lc.registered
    # The registration kept is the mapper's drift reference from now on (/hullscan/placement).
    placement = lc.placement(live.reference_spec("hull.stl", {}))
    assert placement is not None and placement["prior"]["sigma"] == DEFAULT_SIGMA.as_dict()
    np.testing.assert_allclose(placement["registered"]["hull_to_nav"]["translation"], registered.translation)
    second = lc.inspect(scan.cloud, final=True)
    assert calls[1]["hull_to_nav"] is registered
    assert calls[1]["sigma"] is REGISTERED_SIGMA and second.final and len(second.findings) == len(BOXES)
    out = save_live_report(lc.inspection, tmp_path / "report", "hull.stl", lc.config)
    doc = json.loads((out / "findings.json").read_text())
    assert len(doc["findings"]) == len(BOXES)
    # A live report says what it rests on, once however often it is saved.
    from hullscan.report.run import LIVE_NOTE

    save_live_report(lc.inspection, tmp_path / "again", "hull.stl", lc.config)
    again = json.loads((tmp_path / "again" / "findings.json").read_text())
    assert doc["notes"].count(LIVE_NOTE) == 1 and again["notes"].count(LIVE_NOTE) == 1
    assert "not corrected against the reference" in (out / "report.html").read_text()
    # Saved after the survey's end, of the final map whose drift the mapper corrected: that note
    # replaces the first (/hullscan/final_map's drift summary); one the mapper could not correct says why.
    from hullscan.compare.live import live_note

    drift = {"corrected": True, "against": "/quay/ship.design.ply", "submaps": 12, "aligned": 11,
             "largest_correction_m": 0.21}
    save_live_report(lc.inspection, tmp_path / "end", "hull.stl", lc.config, live_note(True, drift))
    notes = [n for n in json.loads((tmp_path / "end" / "findings.json").read_text())["notes"]
             if n.startswith("live inspection")]
    assert len(notes) == 1 and "corrected at the survey's end against ship.design.ply" in notes[0], notes
    assert "11 of 12 submaps" in notes[0] and LIVE_NOTE not in notes
    assert live_note(False, drift) == LIVE_NOTE  # before the end the map is the recorded one
    why = live_note(True, {"corrected": False, "why": "the map was restored from a checkpoint"})
    assert why.startswith(LIVE_NOTE) and "restored from a checkpoint" in why
    # Mirror mode: corrected between the survey's own passes, as replay corrects it in mirror mode.
    mirror = {**drift, "against": live.BETWEEN_PASSES}
    assert "corrected at the survey's end between the survey's own passes (mirror mode; 11 of 12" in live_note(True, mirror)
    # The final map before the mapper's summary came: not said either way.
    assert live.live_banner(True, None) == live.Banner(live.FINAL_AWAITING, False)
    assert live.live_banner(False, None).text.startswith("RECORDED NAVIGATION")
    assert live.live_banner(True, mirror) == live.Banner(
        "final map: navigation drift corrected between its own passes (mirror mode) (11 of 12 submaps)", True)


def test_live_not_inspected_surface_is_split_by_whether_another_pass_would_clear_it(hull: Any) -> None:
    """Seen but not cleared: plating undulating 5 cm over 1.5 m (uneven, another pass alone may not
    clear it) comes out in ``uneven_nav``; plating seen only by 10 cm-sigma returns (a closer pass
    would help) in ``uncertain_nav``; the two apart, and not seen in neither."""
    from hullscan.compare.synthetic import make_scan

    s = make_scan(hull, (), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=5)
    p_hull = HULL_TO_NAV.inverse().apply(s.cloud.points)
    wavy = (np.abs(p_hull[:, 0] - 11.0) < 3.0) & (p_hull[:, 1] > 0) & (np.abs(p_hull[:, 2] + 1.2) < 1.0)
    p_hull[wavy, 1] += 0.05 * np.sin(2 * np.pi * p_hull[wavy, 0] / 1.5) * np.sin(2 * np.pi * p_hull[wavy, 2] / 1.5)
    noisy = (np.abs(p_hull[:, 0] - 4.0) < 1.0) & (p_hull[:, 1] > 0) & (np.abs(p_hull[:, 2] + 1.0) < 0.75)
    cloud = replace(s.cloud, points=HULL_TO_NAV.apply(p_hull).astype(s.cloud.points.dtype),
                    sigma=np.where(noisy, 0.1, s.cloud.sigma).astype(np.float32))
    res = LiveComparator(hull, CompareConfig(detection={"rough_smooth_radius_m": 0.0}), PRIOR, DEFAULT_SIGMA).inspect(cloud)
    assert res.ok and len(res.uneven_nav) and len(res.uncertain_nav)
    to_hull = HULL_TO_NAV.inverse()
    uneven_x, uncertain_x = to_hull.apply(res.uneven_nav)[:, 0], to_hull.apply(res.uncertain_nav)[:, 0]
    near = np.abs(uneven_x - 11.0) < 3.5
    # the rest of it lies at the hull's ends, beside the reference's own relief: another pass does not
    # change that either (Coverage.not_by_a_pass)
    assert near.mean() > 0.8 and ((uneven_x[~near] < 1.0) | (uneven_x[~near] > 19.0)).all()
    assert np.mean(np.abs(uncertain_x - 4.0) < 1.5) > 0.5


def test_failed_inspection_withdraws_findings_and_searches_the_prior_again(hull: Any, scan: Any,
                                                                           calls: list[dict[str, Any]]) -> None:
    lc = LiveComparator(hull, CompareConfig(alignment={"global_registration": False}), WRONG, DEFAULT_SIGMA)
    registered = Transform(WRONG.rotation, WRONG.translation)
    lc.registered = registered  # as if an earlier inspection had registered the map (there)
    lc.inspection = object()  # type: ignore[assignment]
    res = lc.inspect(scan.cloud)
    assert not res.ok and res.status == "failed"
    assert res.error.startswith("AlignmentFailed: navigation prior is outside the capture range")
    assert res.findings == () and res.deviation is not None and np.isnan(res.deviation).all()
    assert res.hull_to_nav is WRONG and lc.registered is None and lc.inspection is None
    # The registration was tried, then the prior searched at once (in the same inspection).
    assert calls[0]["hull_to_nav"] is registered and calls[0]["sigma"] is REGISTERED_SIGMA
    assert calls[1]["hull_to_nav"] is WRONG and calls[1]["sigma"] is DEFAULT_SIGMA
    lc.inspect(scan.cloud)
    assert calls[2]["hull_to_nav"] is WRONG and calls[2]["sigma"] is DEFAULT_SIGMA
    with pytest.raises(HullscanError, match="no inspection yet"):
        save_live_report(lc.inspection, "unused", "hull.stl", lc.config)


def test_a_small_map_is_waited_for_except_the_final_one() -> None:
    lc = LiveComparator("mirror", CompareConfig())
    small = HullCloud.from_points(np.zeros((MIN_CLOUD_POINTS - 1, 3)))
    assert f"{MIN_CLOUD_POINTS - 1} points so far" in lc.wait_reason(small, final=False)
    assert lc.wait_reason(small, final=True) == ""
    assert lc.wait_reason(HullCloud.from_points(np.zeros((MIN_CLOUD_POINTS, 3))), final=False) == ""


def test_prior_from_values_or_file(tmp_path: Path) -> None:
    tf, sigma = hull_to_nav_from([1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0], "")
    assert tf is not None and sigma is DEFAULT_SIGMA
    np.testing.assert_allclose(tf.translation, [1.0, 2.0, 3.0])
    assert hull_to_nav_from([0.0], "") == (None, None)
    f = tmp_path / "prior.json"
    f.write_text(json.dumps({"translation": [5.0, 6.0, 0.0], "rotation": [0, 0, 0, 1],
                             "sigma": {"along_m": 1.0, "across_m": 0.5, "vertical_m": 0.2, "heading_deg": 3.0}}))
    tf, sigma = hull_to_nav_from([1.0] * 7, str(f))  # the file wins over the values
    assert tf is not None and sigma is not None and sigma.along_m == 1.0
    np.testing.assert_allclose(tf.translation, [5.0, 6.0, 0.0])
    quay = tmp_path / "quay.json"
    quay.write_text(json.dumps({"ship_heading_deg": 90.0, "start": {"x_from_stern_m": 5.0, "side": "port",
                                                                    "depth_m": 2.0, "standoff_m": 1.0}}))
    with pytest.raises(ConfigError, match="quay prior"):
        hull_to_nav_from([0.0], str(quay))


def _quay_mesh() -> Any:
    from hullscan.compare.synthetic import make_hull
    from hullscan.hull import HullMesh

    s = make_hull(length=40.0, beam=8.0, draft=3.0, n_x=41, n_s=25)
    return HullMesh(s.vertices, s.faces, s.face_region, "synth", "synth", 40.0, 8.0, 3.0)


def test_quay_notes_wait_for_the_first_fix_then_place_the_prior_as_replay_does(tmp_path: Path) -> None:
    """Live, the quay notes (ship heading, where the vehicle went in) are placed at the survey's first
    fix once the mapper's path gives it, exactly as hullscan replay places them at the bag's."""
    from hullscan.compare.prior import load_prior

    mesh, cfg = _quay_mesh(), CompareConfig()
    notes = tmp_path / "quay.yaml"
    notes.write_text("prior:\n  ship_heading_deg: 45\n  start: {x_from_stern_m: 12, side: starboard, depth_m: 1.5, "
                     "standoff_m: 3}\n")
    tf, sigma, quay = live.node_prior([0.0], str(notes), mesh, cfg)
    assert tf is None and sigma is None and quay is not None and quay.form == "quay"
    lc = LiveComparator(mesh, cfg, tf, sigma, quay=quay)
    assert not lc.config.alignment.global_registration  # a prior is coming: no global search live
    cloud = HullCloud.from_points(np.zeros((MIN_CLOUD_POINTS, 3)))
    assert "first navigation fix" in lc.wait_reason(cloud, final=True)
    spec = live.reference_spec("ship.stl", {})
    assert lc.placement(spec) is None  # nothing for the mapper to correct drift against yet
    fix = np.array([500.0, 200.0, -1.5])
    assert lc.first_fix(fix) and not lc.first_fix(fix + 10.0)  # once: a later pose is not the start
    # Placed: the mapper's drift reference is the prior, with its uncertainty, until a registration.
    placement = lc.placement(spec)
    assert placement is not None and placement["registered"] is None and placement["reference"] == spec
    assert placement["prior"]["sigma"] == lc.sigma.as_dict()  # type: ignore[union-attr]
    np.testing.assert_allclose(placement["prior"]["hull_to_nav"]["translation"], lc.hull_to_nav.translation)  # type: ignore[union-attr]
    assert lc.wait_reason(cloud, final=False) == ""
    loaded = load_prior(str(notes))
    assert loaded is not None
    replayed = loaded.resolve(mesh, fix, None)
    assert lc.hull_to_nav is not None and lc.sigma == replayed.search
    np.testing.assert_allclose(lc.hull_to_nav.as_matrix(), replayed.hull_to_nav(mesh.ref_from_hull).as_matrix(), atol=1e-9)
    # A transform prior is used as given, with no wait.
    assert live.node_prior([1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0], "", mesh, cfg)[2] is None


def test_quay_notes_that_cannot_be_placed_stop_the_node_at_start(tmp_path: Path) -> None:
    notes = tmp_path / "quay.yaml"
    notes.write_text("prior:\n  ship_heading_deg: 45\n  start: {frame: 20, side: port, depth_m: 1.5}\n")
    with pytest.raises(HullscanError, match="frame spacing"):
        live.node_prior([0.0], str(notes), _quay_mesh(), CompareConfig())
    with pytest.raises(ConfigError, match="design mesh"):
        live.node_prior([0.0], str(notes), "mirror", CompareConfig())


def test_reference_spec() -> None:
    assert load_reference("") == "mirror" and load_reference("mirror", 3.0) == "mirror"
    with pytest.raises(ConfigError, match="above the keel"):
        load_reference("mirror", -1.0)
    with pytest.raises(HullscanError, match="not found"):
        load_reference("/no/such/hull.stl")
    with pytest.raises(ConfigError, match="length overall"):
        load_reference("mirror", 3.0, 0.0, -80.0)


def test_a_model_scale_reference_takes_the_node_s_length(shared_hulls: Path) -> None:
    wigley = str(shared_hulls / "wigley.stl.gz")
    assert load_reference(wigley, 5.0, 0.0, 80.0).length == pytest.approx(0.8 * load_reference(wigley, 5.0).length)


def test_live_prior_misfit_is_not_searched_globally(hull: Any) -> None:
    # Live, a prior that does not fit must reach the operator as an ERROR within an inspection period,
    # not after a minute of global search; without a prior, global registration is the only way.
    assert LiveComparator(hull, CompareConfig(), WRONG, DEFAULT_SIGMA).config.alignment.global_registration is False
    assert LiveComparator(hull, CompareConfig()).config.alignment.global_registration is True


def test_a_registration_that_no_longer_fits_is_searched_again_at_once(hull: Any, scan: Any,
                                                                      calls: list[dict[str, Any]]) -> None:
    # A registration made on the survey's first few hundred points can be off along the ship; the
    # grown map must still be inspected from the prior, not fail (seen in the inspect launch test).
    lc = LiveComparator(hull, CompareConfig(alignment={"global_registration": False}), HULL_TO_NAV, DEFAULT_SIGMA)
    stale = Transform(WRONG.rotation, WRONG.translation)
    lc.registered = stale
    res = lc.inspect(scan.cloud)
    assert res.ok and len(res.findings) == len(BOXES)
    assert calls[0]["hull_to_nav"] is stale and calls[1]["hull_to_nav"] is HULL_TO_NAV
    assert lc.registered is not None and lc.registered is not stale


def _registrations_edited(monkeypatch: pytest.MonkeyPatch, edit: Callable[[int, Any], Any]) -> list[dict[str, Any]]:
    """The live comparator's inspections made for real, each registration then replaced by
    ``edit(k, registration)`` (k: the call's number, from 1); returns each call's keyword arguments."""
    seen: list[dict[str, Any]] = []

    def edited(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        ins = real_inspect(*args, **kwargs)
        ins.alignment = replace(ins.alignment, registration=edit(len(seen), ins.alignment.registration))
        return ins

    monkeypatch.setattr(live, "inspect", edited)
    return seen


def test_a_registration_ambiguous_along_the_ship_is_not_refined_from(hull: Any, scan: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The first inspections of a survey see a few hundred points, often of a parallel midbody: their
    # registration is reported ambiguous along the ship, and the next inspection searches the prior
    # again instead of refining a placement that may be metres off.
    seen = _registrations_edited(monkeypatch, lambda k, reg: replace(reg, along_range_m=(-3.0, 2.5)))
    lc = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA)
    assert lc.inspect(scan.cloud).ok and lc.registered is None
    assert lc.inspect(scan.cloud).ok
    assert [c["hull_to_nav"] for c in seen] == [PRIOR, PRIOR] and seen[1]["sigma"] is DEFAULT_SIGMA


def test_a_position_fixed_by_relief_is_refined_within_it(hull: Any, scan: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the anodes the map passed fixed the position along the ship (compare/relief.py), the
    # next inspection refines it within that fix, not the plating's wider range.
    from hullscan.compare.relief import ReliefFix

    fix = ReliefFix(1.2, 0.1, 2, (-3.0, 2.5))
    seen = _registrations_edited(monkeypatch, lambda k, reg: replace(reg, along_range_m=(-0.2, 0.2), relief=fix)
                                 if k == 1 else reg)
    lc = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA)
    assert lc.inspect(scan.cloud).ok and lc.registered is not None
    assert lc.inspect(scan.cloud).ok
    assert seen[1]["hull_to_nav"] is not PRIOR
    # Stated to what such fixes are right to (0.2 m), settled within the valley's own 0.1 m.
    assert seen[1]["sigma"].along_fixed_m == 0.2 and seen[1]["sigma"].along_m == 0.1


def test_the_ship_s_declared_fittings_mark_the_live_findings(hull: Any, scan: Any, tmp_path: Path) -> None:
    """As the node's ``fittings`` parameter: the plan declares the port box at its size; every live
    inspection marks it, its RViz label names it, and the saved report's verdict leaves it out."""
    from hullscan.compare.fittings import load_fittings

    plan_file = tmp_path / "anodes.yaml"
    plan_file.write_text("fittings: [{id: B1, kind: box, x_from_stern_m: 8.0, side: port, above_keel_m: 1.3, "
                         "size_m: [0.6, 0.5, 0.2]}]\n")
    lc = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA, load_fittings(plan_file))
    res = lc.inspect(scan.cloud, final=True)
    assert res.ok and len(res.findings) == len(BOXES)
    marked = [f for f in res.findings if f.fitting is not None]
    assert len(marked) == 1 and marked[0].fitting.explained and marked[0].fitting.id == "B1"
    assert marked[0].side == "port" and abs(marked[0].distance_from_stern_m - 8.0) < 0.3
    out = save_live_report(lc.inspection, tmp_path / "report", "hull.stl", lc.config)
    doc = json.loads((out / "findings.json").read_text())
    assert doc["fittings"]["n_findings_explained"] == 1
    assert doc["verdict"]["text"].startswith(f"compartments found ({len(BOXES) - 1}); 1 more matches")


def test_a_redive_shows_what_neither_dive_cleared(hull: Any, scan: Any) -> None:
    """The second dive maps only the port side; the first dive's coverage.ply cleared the starboard
    side but for a patch held back (uneven). Live, the starboard side shows cleared, the held-back
    patch goes with what another pass alone may not clear, and the inspection's own coverage (its
    report's evidence) is left as it was."""
    from hullscan.compare.earlier import EarlierCoverage

    port = HULL_TO_NAV.inverse().apply(scan.cloud.points)[:, 1] > 0.05
    cloud = scan.cloud.subset(port)
    alone = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA).inspect(cloud)
    assert alone.ok and alone.coverage is not None and alone.inspection is not None
    cov = alone.inspection.coverage
    s = alone.inspection.to_user(cov.samples)
    starboard = cov.samples[:, 1] < -0.05
    patch = starboard & (np.abs(cov.samples[:, 0] - 10.0) < 1.0) & (cov.samples[:, 2] > -1.5)
    status = np.where(starboard, np.where(patch, 2, 3), 0).astype(np.uint8)
    first = EarlierCoverage("first/coverage.ply", s, status, 0.1, cov.sample_area)
    res = LiveComparator(hull, CompareConfig(), PRIOR, DEFAULT_SIGMA, earlier=first).inspect(cloud)
    assert res.ok and res.view is not None and res.coverage is not None
    assert res.view.seen[starboard & ~patch].all() and not res.view.seen[patch].any()
    assert res.coverage > alone.coverage + 0.3
    to_hull = res.hull_to_nav.inverse()  # where the live view placed the hull
    assert not (to_hull.apply(res.unseen_nav)[:, 1] < -0.05).any()  # nothing on the starboard side unseen
    held = to_hull.apply(res.uneven_nav)
    from scipy.spatial import cKDTree

    assert (cKDTree(held).query(cov.samples[patch])[0] < 1e-6).all()  # every held-back sample among them
    assert res.inspection is not None and (res.inspection.coverage.seen == cov.seen).all()


def test_the_camera_reads_the_comparator_s_hull_in_the_comparator_s_frame(tmp_path: Path) -> None:
    """The draft sets the hull frame's waterline, which the comparator's hull_to_nav places: the camera
    node's line-of-sight hull is read with the draft (trim, length) the findings document carries, from
    the path it names unless the node names its own; read again only when those change."""
    from hullscan.compare.synthetic import make_hull
    from hullscan.hull import HullMesh, save_mesh

    s = make_hull(length=20.0, beam=6.0, draft=2.5, n_x=41, n_s=25)
    path = tmp_path / "hull.ply"
    save_mesh(HullMesh(s.vertices, s.faces, s.face_region, "synth", "synth", 20.0, 6.0, 2.5), path)
    cfg = CompareConfig()
    occ = live.OcclusionReference("", cfg)
    doc = {"findings": [], "reference": live.reference_spec(str(path), {"draft": 2.0})}
    ref = occ.for_document(doc)
    comparator = load_reference(str(path), 2.0)
    assert ref is not None and np.isclose(ref.mesh.vertices[:, 2].min(), comparator.vertices[:, 2].min())
    assert occ.for_document(doc) is ref  # not read again
    deeper = occ.for_document({**doc, "reference": live.reference_spec(str(path), {"draft": 2.4})})
    assert deeper is not None and deeper is not ref
    assert np.isclose(deeper.mesh.vertices[:, 2].min(), ref.mesh.vertices[:, 2].min() - 0.4)
    # The comparator's parameters as they were given (its node's names), every one of them carried.
    spec = live.reference_spec("h.ply", {"draft": 3, "up": "+z", "units": "mm", "prior": "quay.yaml"})
    assert spec == {"path": "h.ply", "draft": 3.0, "trim": 0.0, "length": 0.0, "units": "mm", "up": "+z", "bow": "auto"}
    flipped = occ.for_document({**doc, "reference": live.reference_spec(str(path), {"draft": 2.0, "up": "-z"})})
    assert flipped is not None and not np.isclose(flipped.mesh.vertices[:, 2].mean(), ref.mesh.vertices[:, 2].mean())
    assert live.OcclusionReference("none", cfg).for_document(doc) is None
    assert live.OcclusionReference("", cfg).for_document({"findings": []}) is None  # no reference named
    bad = live.OcclusionReference(str(tmp_path / "missing.ply"), cfg)
    with pytest.raises(HullscanError, match=r"missing\.ply"):
        bad.for_document(doc)
    assert bad.for_document(doc) is None  # said once; the check stays off for that file
