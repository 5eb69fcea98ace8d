"""Detection, location, size, false alarms, references, coverage on synthetic hulls."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hullscan.compare.analysis import (
    FEW_RETURNS,
    LOW,
    UNCERTAIN,
    UNEVEN,
    group_median,
    uncertain_reason,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import inspect
from hullscan.compare.synthetic import Box, make_scan
from hullscan.model import Transform

from .conftest import BOXES, HULL_TO_NAV

PRIOR = Transform.from_euler(0.0, 0.0, 0.6 + 0.01, (120.15, -40.1, 0.35))  # navigation is a little off


def match(findings, centroids, tol=0.35):
    out = []
    for c in centroids:
        d = [np.linalg.norm(np.array(f.centroid) - c) for f in findings]
        out.append(int(np.argmin(d)) if d and min(d) < tol else None)
    return out


def check_boxes(ins, scan, vol_tol=0.35):
    m = match(ins.findings, scan.box_centroids)
    assert None not in m, f"missed a box: {m}, findings {[f.centroid for f in ins.findings]}"
    assert len(ins.findings) == len(BOXES), [f.centroid for f in ins.findings]
    for i, j in enumerate(m):
        f = ins.findings[j]
        assert f.kind == "protrusion"
        assert np.linalg.norm(np.array(f.centroid) - scan.box_centroids[i]) < 0.25
        if scan.box_volumes[i] >= 0.05:
            assert abs(f.volume_m3 - scan.box_volumes[i]) / scan.box_volumes[i] < vol_tol
        assert abs(f.max_height_m - BOXES[i].size[2]) < 0.06
    return m


def test_mesh_reference_with_prior_finds_every_box(hull, scan):
    ins = inspect(scan.cloud, hull, CompareConfig(scoring={"frame_spacing_m": 0.6}), hull_to_nav=PRIOR)
    m = check_boxes(ins, scan)
    assert ins.alignment.residual_m < 0.03
    assert ins.coverage.fraction > 0.97
    side = ins.findings[m[0]]
    assert side.side == "port" and side.frame_number == round(side.centroid[0] / 0.6)
    assert ins.findings[m[2]].side == "bottom" and ins.findings[m[1]].side == "starboard"
    assert 0 < side.confidence <= 1 and 0 < side.risk <= 1


def test_the_scale_is_read_again_away_from_the_findings(hull, scan):
    """With boxes found, the inspection's cells carry the scale read again from the plating away from
    them (``uncertainty.calibrate_away_m``); the same boxes are found either way."""
    on = inspect(scan.cloud, hull, CompareConfig(), hull_to_nav=PRIOR)
    off = inspect(scan.cloud, hull, CompareConfig(uncertainty={"calibrate_away_m": 0.0}), hull_to_nav=PRIOR)
    check_boxes(on, scan)
    check_boxes(off, scan)
    assert on.cells.uncertainty_scale != off.cells.uncertainty_scale
    # The outputs' note gives the scale the findings were judged with, and how it was read.
    note = next(n for n in on.notes if "scaled by the survey's own plating scatter" in n)
    assert f"x {on.cells.uncertainty_scale:.2f} overall" in note and "farther than 2 m from the findings" in note
    assert not any("from the findings" in n for n in off.notes)


def test_with_a_stated_along_ship_uncertainty_every_box_is_still_found(hull, scan):
    # As replay inspects a survey after drift correction: the detector lets reference features and
    # the local baseline move along the ship as far as the survey's placement is stated uncertain.
    from hullscan.recon.drift import AlongShipUncertainty

    centre = np.asarray(scan.cloud.points, float).mean(axis=0)
    ins = inspect(scan.cloud, hull, CompareConfig(), hull_to_nav=PRIOR, along=AlongShipUncertainty.uniform(centre, 0.4))
    check_boxes(ins, scan)
    assert ins.cells.along_reach is not None
    np.testing.assert_allclose(ins.cells.along_reach(ins.cells.points[:5]), 0.4, atol=0.06)


def test_global_registration_without_prior(hull, scan):
    ins = inspect(scan.cloud, hull, CompareConfig())
    check_boxes(ins, scan)


def test_prior_metres_off_falls_back_to_global_registration(hull, scan):
    # A wrong truth file: heading 30 degrees and the origin metres off; ICP from it cannot recover.
    off = Transform.from_euler(0.0, 0.0, 0.6 + 0.5, (124.0, -37.0, 0.3 + 2.5))
    ins = inspect(scan.cloud, hull, CompareConfig(), hull_to_nav=off)
    assert ins.alignment.method != "navigation prior"
    assert any(c["method"] == "navigation prior" for c in ins.alignment.candidates)
    check_boxes(ins, scan)
    with pytest.raises(Exception, match="does not fit"):
        inspect(scan.cloud, hull, CompareConfig(alignment={"global_registration": False}), hull_to_nav=off)


def test_clean_hull_with_heavy_growth_and_as_built_offset_has_no_findings(hull):
    # Heavy barnacles and a 3 cm as-built/growth layer over the whole hull.
    s = make_scan(hull, (), spacing=0.05, growth=1.0, hull_to_nav=HULL_TO_NAV, seed=5)
    shifted = s.cloud.transformed(Transform.identity(), "odom")
    ins = inspect(shifted, hull, CompareConfig(), hull_to_nav=PRIOR)
    assert ins.findings == (), [(f.centroid, f.volume_m3) for f in ins.findings]
    # A rough hull says how far a growth layer under the surface the sonar saw moves the placement.
    rough = ins.alignment.surface_texture_m
    assert rough is not None
    noted = inspect(shifted, hull, CompareConfig(alignment={"rough_surface_m": 0.9 * rough}), hull_to_nav=PRIOR)
    assert any("surface is rough" in n and "in depth" in n and "along the ship" in n for n in noted.notes), noted.notes
    assert noted.alignment.layer is not None and noted.alignment.layer.thickness_m > 0.02
    # ... judges its deviation through the wider median (barnacles average out) and says so; still nothing found.
    assert any("median within 15 cm" in n for n in noted.notes), noted.notes
    assert noted.findings == ()
    smooth = inspect(shifted, hull, CompareConfig(alignment={"rough_surface_m": 1.1 * rough}), hull_to_nav=PRIOR)
    assert not any("surface is rough" in n or "median within" in n for n in smooth.notes)
    assert np.nanmedian(noted.cells.uncertainty) < 0.9 * np.nanmedian(smooth.cells.uncertainty)


def test_anode_in_reference_is_not_flagged(hull):
    # An anode-sized block on the as-built hull that the reference also has: cloud and mesh agree.
    import trimesh

    from hullscan.compare.synthetic import SynthHullMesh

    anode = trimesh.creation.box((0.5, 0.2, 0.06))
    anode.apply_translation((6.0, 0.0, -2.5 - 0.03 + 0.001))
    v = np.vstack([hull.vertices, anode.vertices])
    f = np.vstack([hull.faces, anode.faces + len(hull.vertices)])
    fr = np.concatenate([hull.face_region, np.full(len(anode.faces), 10, np.int16)])
    ref = SynthHullMesh(v, f.astype(np.int32), fr, name="with anode")
    s = make_scan(hull, (Box(6.0, 0, 0, (0.5, 0.2, 0.06), y=0.0),), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=3)
    ins = inspect(s.cloud, ref, CompareConfig(), hull_to_nav=PRIOR)
    assert ins.findings == ()


def test_scan_reference(hull, scan, clean_scan):
    ref = clean_scan.cloud.transformed(HULL_TO_NAV.inverse(), "hull")
    ins = inspect(scan.cloud, ref, CompareConfig(), hull_to_nav=PRIOR)
    check_boxes(ins, scan, vol_tol=0.45)


def test_a_shorter_earlier_scan_is_judged_where_the_two_overlap(hull, scan, clean_scan):
    """Today's survey ran further along the ship than the earlier one (11 of 20 m): not another
    ship (the length check is for design meshes), and the fit is judged on the overlap."""
    ref = clean_scan.cloud.transformed(HULL_TO_NAV.inverse(), "hull")
    ref = ref.subset((ref.points[:, 0] > 5.0) & (ref.points[:, 0] < 16.0))
    ins = inspect(scan.cloud, ref, CompareConfig(), hull_to_nav=PRIOR)
    assert ins.alignment.inlier_fraction > 0.9
    check_boxes(ins, scan, vol_tol=0.45)


def test_mirror_mode_finds_boxes(scan):
    ins = inspect(scan.cloud, "mirror", CompareConfig(), hull_to_nav=PRIOR)
    m = match(ins.findings, scan.box_centroids, tol=0.4)
    assert None not in m
    assert all(f.kind == "protrusion" for f in ins.findings)
    assert len(ins.findings) == len(BOXES)


def test_unseen_patch_is_not_inspected_not_clear(hull):
    hidden = Box(15.0, 1, -1.0, (0.5, 0.5, 0.2))

    def keep(p):  # the survey missed a 2 m x 1.5 m patch on the port side around the box
        return ~((np.abs(p[:, 0] - 15.0) < 1.0) & (p[:, 1] > 0) & (np.abs(p[:, 2] + 1.0) < 0.75))

    s = make_scan(hull, (hidden,), spacing=0.05, hull_to_nav=HULL_TO_NAV, keep=keep, seed=4)
    ins = inspect(s.cloud, hull, CompareConfig(), hull_to_nav=PRIOR)
    assert ins.findings == ()
    assert ins.coverage.fraction < 0.995
    big = ins.coverage.patches[0]
    assert abs(big["centroid"][0] - 15.0) < 0.5 and big["side"] == "port" and big["area_m2"] > 1.0
    assert ins.status_at(s.box_centroids[0]) == "not_inspected"
    assert ins.status_at(np.array([5.0, 2.0, -1.5]) * [1, 1, 1]) in ("clear", "not_inspected")


def test_patch_seen_too_uncertain_to_clear_is_not_inspected(hull):
    # A 12 cm box the detector finds where the scan is good; where the same surface was seen only
    # by uncertain returns (far range, drifting navigation: 10 cm per point) it cannot stand
    # min_zscore sigmas proud: the patch must come out as not inspected, for that reason, never as clear.
    box = Box(15.0, 1, -1.0, (0.6, 0.5, 0.12))
    s = make_scan(hull, (box,), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=5)
    # This unfused synthetic cloud's point noise reads as a rough hull's texture (2.5 cm), whose wider
    # median (28 cells) would average the patch's 10 cm sigma down until the box stood out: the rule
    # under test is the 8 cm median's, as on a smooth hull.
    cfg = CompareConfig(detection={"rough_smooth_radius_m": 0.0})
    good = inspect(s.cloud, hull, cfg, hull_to_nav=PRIOR)
    assert None not in match(good.findings, s.box_centroids)
    p_hull = HULL_TO_NAV.inverse().apply(s.cloud.points)
    patch = (np.abs(p_hull[:, 0] - 15.0) < 1.0) & (p_hull[:, 1] > 0) & (np.abs(p_hull[:, 2] + 1.0) < 0.75)
    poor = replace(s.cloud, sigma=np.where(patch, 0.1, s.cloud.sigma).astype(np.float32))
    ins = inspect(poor, hull, cfg, hull_to_nav=PRIOR)
    assert match(ins.findings, s.box_centroids) == [None]
    assert ins.status_at(s.box_centroids[0]) == "not_inspected"
    # Judged by the compartment's own height: a 0.3 m one would have stood out there, a 0.12 m one not.
    assert ins.status_at(s.box_centroids[0], height=0.12) == "not_inspected"
    assert ins.status_at(s.box_centroids[0], height=0.3) == "clear"
    assert ins.reason_not_inspected(s.box_centroids[0], height=0.12) == f"{UNCERTAIN} 0.12 m"
    assert ins.reason_not_inspected(np.array([15.0, -40.0, -1.0])) == "not seen"  # nowhere near the hull
    cov = ins.coverage
    assert cov.seen_fraction > cov.fraction
    where = [p for p in cov.patches if abs(p["centroid"][0] - 15.0) < 0.6 and p["side"] == "port"]
    assert where and where[0]["reason"].startswith(UNCERTAIN) and where[0]["area_m2"] > 1.0
    # Why, and what to do: its cells' uncertainty is their returns' (10 cm each), not the surface's.
    assert where[0]["reason"] == uncertain_reason(0.1, 1.0) and FEW_RETURNS in where[0]["reason"]
    assert ins.reason_not_inspected(s.box_centroids[0]) == where[0]["reason"]
    doc = cov.as_dict()
    assert doc["clear_height_m"] == 0.10
    # 5 x about 3.5 cm stays under 0.8 x 0.3 m: the patch is cleared for compartments of 0.3 m.
    by_height = doc["cleared_fraction_by_height"]
    assert by_height["0.1"] == round(cov.fraction, 4) < by_height["0.3"] == round(cov.seen_fraction, 4)
    # Without the clearance test (clear_height_m 0, any good return clears) the missed box sits
    # in "clear" surface: the false "clean" the test exists to prevent.
    blind = inspect(poor, hull, cfg.model_copy(update={"coverage": cfg.coverage.model_copy(update={"clear_height_m": 0.0})}),
                    hull_to_nav=PRIOR)
    assert blind.status_at(s.box_centroids[0]) == "clear"
    assert blind.coverage.fraction == blind.coverage.seen_fraction
    # A compartment whose top the detector may read at or under the protrusion floor (0.8 x 0.05 m
    # <= 0.04 m) is cleared nowhere, however well the surface was seen: it would be found by chance.
    side = good.coverage.samples[np.argmin(np.linalg.norm(good.coverage.samples - [8.0, 3.0, -1.0], axis=1))]
    assert good.status_at(side, height=0.1) == "clear"
    assert good.status_at(side, height=0.05) == "not_inspected"
    # With the floor at 3.5 cm the worst reading (4 cm) stands above it: cleared there.
    lower = inspect(s.cloud, hull, CompareConfig(detection={"min_protrusion_height_m": 0.035, "rough_smooth_radius_m": 0.0}),
                    hull_to_nav=PRIOR)
    assert lower.status_at(side, height=0.05) == "clear"


def test_uneven_plating_too_uncertain_to_clear_says_so_and_not_few_returns(hull):
    # Plating that undulates 5 cm over a metre and a half (growth patches' edges, plates' own shape) is
    # seen by plenty of good returns, yet its local baseline is uncertain by centimetres: a 10 cm
    # compartment there cannot stand min_zscore sigmas proud. Not inspected, and why: the surface,
    # which another pass alone does not change (not "fly closer").
    s = make_scan(hull, (), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=5)
    p_hull = HULL_TO_NAV.inverse().apply(s.cloud.points)
    wavy = (np.abs(p_hull[:, 0] - 11.0) < 3.0) & (p_hull[:, 1] > 0) & (np.abs(p_hull[:, 2] + 1.2) < 1.0)
    p_hull[wavy, 1] += 0.05 * np.sin(2 * np.pi * p_hull[wavy, 0] / 1.5) * np.sin(2 * np.pi * p_hull[wavy, 2] / 1.5)
    ins = inspect(replace(s.cloud, points=HULL_TO_NAV.apply(p_hull).astype(s.cloud.points.dtype)), hull,
                  CompareConfig(detection={"rough_smooth_radius_m": 0.0}), hull_to_nav=PRIOR)
    assert ins.findings == ()
    where = [p for p in ins.coverage.patches if p["reason"].startswith(UNCERTAIN) and abs(p["centroid"][0] - 11.0) < 2.0]
    assert where and sum(p["area_m2"] for p in where) > 4.0
    assert all(UNEVEN in p["reason"] for p in where), [p["reason"] for p in where]
    assert uncertain_reason(0.1) == f"{UNCERTAIN} 0.1 m"  # where the cells keep no split: no why


def test_a_compartment_in_plating_that_reads_low_is_not_cleared_and_says_why(hull):
    # A 1 x 0.8 m dent 4.5 cm deep (too shallow for a recess finding) reads 4.5 cm below the plating
    # around it: a 10 cm compartment in it would read 3.5 cm at most, under the seed floor. Not
    # inspected, for that reason (not "too uncertain": it was seen well); a 0.2 m one would stand out.
    s = make_scan(hull, (), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=5)
    p_hull = HULL_TO_NAV.inverse().apply(s.cloud.points)
    dent = (np.abs(p_hull[:, 0] - 8.0) < 0.5) & (p_hull[:, 1] > 0) & (np.abs(p_hull[:, 2] + 1.0) < 0.4)
    p_hull[dent, 1] -= 0.045
    ins = inspect(replace(s.cloud, points=HULL_TO_NAV.apply(p_hull).astype(s.cloud.points.dtype)), hull,
                  CompareConfig(), hull_to_nav=PRIOR)
    assert ins.findings == ()
    centre = np.array([8.0, float(p_hull[dent, 1].mean()) + 0.045, -1.0])
    assert ins.status_at(centre) == "not_inspected" and ins.status_at(centre, height=0.2) == "clear"
    assert ins.reason_not_inspected(centre).startswith(LOW)
    assert any(p["reason"].startswith(LOW) and abs(p["centroid"][0] - 8.0) < 0.5 for p in ins.coverage.patches)


def test_a_bilge_keel_seen_all_over_is_not_cleared_and_says_why(hull):
    """A keel 4 cm thick and 0.4 m deep under the hull, scanned densely on every face: its faces are
    seen but not inspected (a compartment on one is not told from the keel), with that reason; the
    bottom beside it is cleared. With the rule off the keel's face reads as cleared (stop 61)."""
    import trimesh

    from hullscan.compare.analysis import THIN
    from hullscan.compare.synthetic import SynthHullMesh
    from hullscan.hull.mesh import REGION_INDEX

    zb = float(hull.vertices[:, 2].min())
    fin = trimesh.creation.box(extents=[8.0, 0.04, 0.4])
    fin.apply_translation([10.0, 0.0, zb - 0.19])
    fv, ff = trimesh.remesh.subdivide_to_size(fin.vertices, fin.faces, max_edge=0.2)
    keeled = SynthHullMesh(np.vstack([hull.vertices, fv]), np.vstack([hull.faces, np.asarray(ff) + len(hull.vertices)]
                                                                      ).astype(np.int32),
                           np.concatenate([hull.face_region, np.full(len(ff), REGION_INDEX["bilge_keel"], np.int16)]),
                           length=hull.length, beam=hull.beam, draft=hull.draft)
    s = make_scan(keeled, (), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=5)
    face, beside = np.array([10.0, 0.02, zb - 0.2]), np.array([10.0, 1.5, zb + 0.01])
    ins = inspect(s.cloud, keeled, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert ins.findings == ()
    assert ins.status_at(face) == "not_inspected" and ins.reason_not_inspected(face).startswith(THIN)
    assert ins.status_at(beside) == "clear"
    assert any(p["reason"].startswith(THIN) and p["region"] == "bilge_keel" for p in ins.coverage.patches)
    off = inspect(s.cloud, keeled, CompareConfig(coverage={"thin_plate_m": 0.0}), hull_to_nav=HULL_TO_NAV)
    assert off.status_at(face) == "clear"


def test_group_median_matches_numpy():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 50, 3000)
    v = rng.normal(size=3000)
    got = group_median(g, v, 52)
    for k in range(52):
        sel = v[g == k]
        if len(sel):
            assert got[k] == pytest.approx(np.median(sel))
        else:
            assert np.isnan(got[k])


def test_pack_in_sea_chest_is_a_protrusion_of_its_height():
    """A recess box with a grating: separately oriented parts, and a pack on the recess floor
    measured from the floor (not from the back of the bars) as a protrusion."""
    import trimesh

    from hullscan.compare.reference import REGIONS, mesh_reference

    class Mesh:
        pass

    # Shell: a plate at y=0 (then moved to y=3) facing +y with a 1 x 1 m hole; recess floor 0.5 m deep; bars at the opening.
    parts, regions = [], []
    for x0, x1, z0, z1 in ((-3, -0.5, -3, 3), (0.5, 3, -3, 3), (-0.5, 0.5, -3, -0.5), (-0.5, 0.5, 0.5, 3)):
        pv = np.array([[x0, 0.0, z0], [x1, 0.0, z0], [x1, 0.0, z1], [x0, 0.0, z1]], float)
        parts.append(trimesh.Trimesh(pv, np.array([[0, 1, 2], [0, 2, 3]]), process=False))  # single-sided skin
        regions.append(REGIONS.index("side"))
    v = np.array([[x, y, z] for y in (0.0, -0.5) for x in (-0.5, 0.5) for z in (-0.5, 0.5)])
    quads = [(4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    f = np.array([t for q in quads for t in ((q[0], q[2], q[1]), (q[0], q[3], q[2]))])  # wound inward on purpose
    parts.append(trimesh.Trimesh(v, f, process=False))
    regions.append(REGIONS.index("sea_chest"))
    for xb in np.arange(-0.375, 0.4, 0.15):
        bar = trimesh.creation.box(extents=[0.03, 0.06, 1.0])
        bar.apply_translation([xb, -0.02, 0.0])
        parts.append(bar)
        regions.append(REGIONS.index("sea_chest"))
    mesh = Mesh()
    mesh.vertices = np.vstack([p.vertices for p in parts]) + np.array([0.0, 3.0, 0.0])  # port side, 3 m out
    offs = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    mesh.faces = np.vstack([p.faces + o for p, o in zip(parts, offs, strict=True)])
    mesh.face_region = np.concatenate([np.full(len(p.faces), r, np.int16) for p, r in zip(parts, regions, strict=True)])
    mesh.name = "chest"
    ref = mesh_reference(mesh)
    # Top of a 0.25 m pack on the floor, between and behind bars; the floor; a bar's face; open shell.
    q = np.array([[0.0, -0.25, 0.0], [-0.15, -0.25, 0.1], [0.0, -0.499, 0.2], [0.075, 0.011, 0.0], [2.0, 0.01, 0.0]])
    q[:, 1] += 3.0
    d, _, n, _, over = ref.signed_distance(q)
    np.testing.assert_allclose(d, [0.25, 0.25, 0.001, 0.001, 0.01], atol=0.003)
    assert over.all() and n[0, 1] > 0.99


def test_flat_pack_5cm_proud_is_found_and_a_4cm_dent_is_not(hull):
    # A pack strapped flat to the plating, 5 cm proud, reads about 4-5 cm at its top after the
    # median and the local baseline: the protrusion floor (min_protrusion_height_m, 4 cm) finds it.
    # An as-built dent 4 cm deep (a recess, as heavy_growth's) stays under the recess floor (min_height_m, 5 cm).
    pack = Box(15.0, 1, -1.0, (0.9, 0.65, 0.05))
    s = make_scan(hull, (pack,), spacing=0.04, noise=0.005, hull_to_nav=HULL_TO_NAV, seed=11)
    found = inspect(s.cloud, hull, CompareConfig(), hull_to_nav=PRIOR)
    assert match(found.findings, s.box_centroids) != [None]
    assert not inspect(s.cloud, hull, CompareConfig(detection={"min_protrusion_height_m": 0.07}),
                       hull_to_nav=PRIOR).findings
    flat = make_scan(hull, (), spacing=0.04, noise=0.005, hull_to_nav=HULL_TO_NAV, seed=12)
    p_hull = HULL_TO_NAV.inverse().apply(flat.cloud.points)
    dent = (np.hypot(p_hull[:, 0] - 8.0, p_hull[:, 2] + 1.2) < 0.45) & (p_hull[:, 1] > 0)
    p_hull[dent, 1] -= 0.04  # pushed in 4 cm on the port side (normal +y there)
    dented = replace(flat.cloud, points=HULL_TO_NAV.apply(p_hull))
    assert not [f for f in inspect(dented, hull, CompareConfig(), hull_to_nav=PRIOR).findings if f.kind == "recess"]
    # The same dent with the recess floor at 3 cm is flagged: the floor is what spares it.
    low = inspect(dented, hull, CompareConfig(detection={"min_height_m": 0.03}), hull_to_nav=PRIOR)
    assert [f for f in low.findings if f.kind == "recess"]


def test_a_finding_two_passes_saw_is_surer_than_one_seen_once(hull, scan):
    """Evidence across passes: the same cloud, once as one lane saw it (each point's time follows its
    position along the lane) and once with a second lane, 100 s later, having seen half the points
    around the port box; without times the finding says nothing about passes."""
    cloud = scan.cloud
    lane_t = (cloud.points @ HULL_TO_NAV.rot.as_matrix())[:, 0] / 1.2  # along the ship at 1.2 m/s
    box = HULL_TO_NAV.apply(np.asarray(scan.box_centroids[0]))
    near = np.linalg.norm(cloud.points - box, axis=1) < 0.8
    again = near & (np.arange(len(cloud)) % 2 == 0)
    once = replace(cloud, seen_first_s=lane_t, seen_last_s=lane_t)
    twice = replace(cloud, seen_first_s=lane_t, seen_last_s=np.where(again, lane_t + 100.0, lane_t))
    got = {}
    for name, c in (("none", cloud), ("once", once), ("twice", twice)):
        ins = inspect(c, hull, CompareConfig(), hull_to_nav=PRIOR)
        got[name] = ins.findings[match(ins.findings, scan.box_centroids[:1])[0]]
    assert got["none"].passes is None and got["once"].passes == 1 and got["twice"].passes == 2
    assert got["once"].confidence == got["none"].confidence < 1.0
    assert got["twice"].confidence == pytest.approx(1 - 0.5 * (1 - got["once"].confidence), abs=1e-3)
    # The other boxes were seen once in both clouds.
    assert all(f.passes == 1 for f in inspect(twice, hull, CompareConfig(), hull_to_nav=PRIOR).findings
               if np.linalg.norm(np.array(f.centroid) - scan.box_centroids[0]) > 1.0)
