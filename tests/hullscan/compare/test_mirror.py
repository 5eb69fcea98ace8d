"""Mirror mode: one-sided deviations are found; what has no mirrored counterpart is not inspected."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import inspect
from hullscan.compare.mirror import NOT_COMPARABLE
from hullscan.compare.reference import mesh_reference
from hullscan.compare.synthetic import Box, make_scan
from hullscan.model import HullCloud, Transform

from .conftest import HULL_TO_NAV

PRIOR = Transform.from_euler(0.0, 0.0, 0.6 + 0.01, (120.15, -40.1, 0.35))
# Fins on both sides of the bottom (like bilge keels): long, thin, standing 0.3 m proud.
KEELS = (Box(10.0, 0, 0, (5.0, 0.06, 0.3), y=2.0, name="port fin"),
         Box(10.0, 0, 0, (5.0, 0.06, 0.3), y=-2.0, name="starboard fin"))


def test_box_on_one_side_of_a_symmetric_hull_is_found(hull):
    box = Box(12.0, 1, -1.4, (0.5, 0.4, 0.2), name="port side, 0.04 m3")
    s = make_scan(hull, (box,), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=11)
    ins = inspect(s.cloud, "mirror", CompareConfig(), hull_to_nav=PRIOR)
    assert len(ins.findings) == 1, [f.centroid for f in ins.findings]
    f = ins.findings[0]
    assert f.kind == "protrusion"
    assert np.linalg.norm(np.array(f.centroid) - s.box_centroids[0]) < 0.25
    assert abs(f.volume_m3 - s.box_volumes[0]) / s.box_volumes[0] < 0.35
    # Its reflection on the clean side is judged clean, not a finding.
    assert ins.status_at(s.box_centroids[0] * [1, -1, 1]) == "clear"
    # Mirror mode's uncertainty is its own, not self-calibrated, judged at its own seed threshold
    # (mirror_min_zscore, not detection.min_zscore): raise that one and the box is not seeded.
    assert ins.cells is not None and ins.cells.uncertainty_scale == 1.0
    assert len(inspect(s.cloud, "mirror", CompareConfig(detection={"min_zscore": 50.0}), hull_to_nav=PRIOR).findings) == 1
    assert not inspect(s.cloud, "mirror", CompareConfig(mirror={"mirror_min_zscore": 50.0}), hull_to_nav=PRIOR).findings


@pytest.fixture(scope="module")
def grazed(hull):
    """Fins on both sides; the starboard one seen only at grazing incidence: a few weak returns."""
    s = make_scan(hull, KEELS, spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=12)
    c = s.cloud
    p = HULL_TO_NAV.inverse().apply(np.asarray(c.points))
    d, _, _, _, _ = mesh_reference(hull).signed_distance(p)
    fin = (d > 0.03) & (p[:, 1] < 0) & (np.abs(p[:, 0] - 10.0) < 3.0)
    rng = np.random.default_rng(0)
    keep = ~fin | (rng.random(len(p)) < 0.03)
    conf = np.where(fin, 0.2, c.confidence).astype(np.float32)
    sigma = np.where(fin, 0.1, c.sigma).astype(np.float32)
    cloud = HullCloud(c.points, c.normals, conf, c.hits, sigma, c.frame_id).subset(keep)
    return cloud, s.box_centroids[0]


def test_appendage_seen_well_on_one_side_only_is_not_inspected(grazed):
    cloud, port_fin = grazed
    ins = inspect(cloud, "mirror", CompareConfig(), hull_to_nav=PRIOR)
    assert ins.findings == (), [(f.centroid, f.volume_m3) for f in ins.findings]
    assert ins.drops.total("no_mirrored_counterpart") > 0
    # The well-seen port fin has no comparable counterpart: not inspected, never clean.
    assert ins.status_at(port_fin, margin=0.1) == "not_inspected"
    p = ins.points
    assert NOT_COMPARABLE in {patch.get("reason") for patch in ins.coverage.patches}
    # Plating seen on both sides away from the fins is judged.
    clear = p[(np.abs(p[:, 0] - 4.0) < 0.3) & (np.abs(p[:, 1] - 1.5) < 0.1)]
    assert ins.status_at(np.median(clear, axis=0)) == "clear"


def test_deviation_on_a_structure_that_disagrees_with_its_reflection_is_not_comparable():
    """A deviation is a finding only where its surroundings agree with their reflection."""
    from hullscan.compare.mirror import context_filter

    g = np.stack(np.meshgrid(np.arange(0, 3, 0.05), np.arange(0, 3, 0.05)), -1).reshape(-1, 2)
    pts = np.column_stack([g, np.zeros(len(g))])
    rng = np.random.default_rng(0)
    finding = np.flatnonzero(np.linalg.norm(g - 1.5, axis=1) < 0.2)
    cfg = CompareConfig()
    residual = rng.normal(0, 0.01, len(g))
    residual[finding] = 0.2
    judged = np.ones(len(g), bool)
    # Symmetric surroundings: kept.
    assert context_filter(pts, residual, judged, [finding], cfg)[0] == [0]
    # Surroundings that do not match their reflection (a propeller's blades): dropped.
    wild = residual.copy()
    ring = np.linalg.norm(g - 1.5, axis=1) < 1.0
    wild[ring] = rng.normal(0, 0.15, ring.sum())
    wild[finding] = 0.2
    kept, dropped = context_filter(pts, wild, judged, [finding], cfg)
    assert kept == [] and dropped[0][0] == 0
    # Surroundings mostly not comparable (no mirrored counterpart): dropped too.
    blind = judged.copy()
    blind[ring] = False
    blind[finding] = True
    assert context_filter(pts, residual, blind, [finding], cfg)[0] == []


def _bottom_with_tall_box(sparse_starboard: bool, h: float = 1.0, spacing: float = 0.05
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat bottom (z = 0, normals down) on both sides of the centreline and a 2 x 1.5 x ``h`` m
    box hanging under the port side (y > 0); the starboard plating optionally seen with a quarter
    of the returns. Returns (points, normals, the box's face ``h`` below the plating)."""
    g = np.arange(-4.0, 4.0, spacing)
    x, y = np.meshgrid(g, g, indexing="ij")
    plate = np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])
    lo, hi = np.array([-1.0, 1.0, -h]), np.array([1.0, 2.5, 0.0])
    plate = plate[~np.all((plate[:, :2] > lo[:2]) & (plate[:, :2] < hi[:2]), axis=1)]
    if sparse_starboard:
        ij = np.round(plate[:, :2] / spacing).astype(np.int64)
        plate = plate[(plate[:, 1] > 0) | np.all(ij % 2 == 0, axis=1)]
    parts, normals = [plate], [np.tile([0.0, 0.0, -1.0], (len(plate), 1))]
    for axis in range(3):
        for sgn in (-1, 1):
            if axis == 2 and sgn > 0:
                continue  # against the plating
            o1, o2 = (k for k in range(3) if k != axis)
            a, b = np.meshgrid(np.arange(lo[o1], hi[o1] + 1e-9, spacing), np.arange(lo[o2], hi[o2] + 1e-9, spacing))
            q = np.zeros((a.size, 3))
            q[:, o1], q[:, o2] = a.ravel(), b.ravel()
            q[:, axis] = hi[axis] if sgn > 0 else lo[axis]
            n = np.zeros((a.size, 3))
            n[:, axis] = sgn
            parts.append(q)
            normals.append(n)
    pts = np.vstack(parts) + np.random.default_rng(0).normal(0.0, 0.005, (sum(len(p) for p in parts), 3))
    face = np.vstack(parts[1:])
    return pts, np.vstack(normals), face[face[:, 2] < -h + 0.01]


@pytest.mark.parametrize("sparse_starboard", [False, True])
def test_tall_box_face_is_judged_against_the_other_sides_plating(sparse_starboard):
    """A box 1 m tall is most of the coarse shell cells around it on its own side: their plane
    tilts towards its walls or is no plane at all. Its face is measured along the other side's
    shell (which shows the plating without it) down to that plating, and is comparable where
    that plating was seen about as well as the face (counted on the plating itself, not on the
    fringe the march first reaches)."""
    from hullscan.compare.mirror import MirrorSupport

    pts, nrm, face = _bottom_with_tall_box(sparse_starboard)
    cfg = CompareConfig()
    s = MirrorSupport.build(pts, nrm, np.full(len(pts), 0.01), np.full(len(pts), 0.9), cfg)
    down = np.tile([0.0, 0.0, -1.0], (len(face), 1))
    ok, sigma = s.comparable(face, np.full(len(face), 1.0), down)
    assert ok.mean() > 0.95, ok.mean()
    assert np.all(np.isfinite(sigma[ok]))
    if not sparse_starboard:
        t, n, hit = s.height_along_shell(face)
        assert hit.mean() > 0.95, hit.mean()
        assert np.all(np.abs(t[hit] - 1.0) < 0.1)
        assert np.allclose(n[hit], [0.0, 0.0, -1.0], atol=0.05)


def _one_side_survey(hull, bias: float) -> HullCloud:
    """The port side from its own lane and the bottom from bottom lanes: the starboard side only
    up its bilge. The port bilge and the bottom beside it also hold the side lane's grazing
    returns, ``bias`` m proud of the plating; the starboard bilge, seen from the bottom lane
    alone, has none."""
    s = make_scan(hull, (), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=13,
                  keep=lambda p: (p[:, 1] > 0) | (p[:, 2] < -1.9))
    c = s.cloud
    back = HULL_TO_NAV.inverse()
    p = back.apply(np.asarray(c.points))
    n = np.asarray(c.normals, float) @ back.rot.as_matrix().T
    grazed = (p[:, 1] > 1.5) & (p[:, 2] < -1.5)
    p[grazed] += bias * n[grazed]
    return HullCloud(HULL_TO_NAV.apply(p), c.normals, c.confidence, c.hits, c.sigma, c.frame_id)


def test_centreline_of_a_one_side_survey_is_not_moved_by_the_bilges(hull):
    """Only the bilges face sideways on both sides of a one-side survey: their different survey
    biases would move the centreline plane (0.15 m on heavy_growth). Offset and heading come from
    the navigation prior there (reported as degenerate); roll is still fitted."""
    from hullscan.compare.kinds import mirror_frame
    from hullscan.compare.reference import cloud_normals

    cloud = _one_side_survey(hull, 0.08)
    frame, _, fit, _ = mirror_frame(np.asarray(cloud.points), cloud_normals(cloud), CompareConfig(), HULL_TO_NAV)
    on_centre = np.array([[x, 0.0, z] for x in (5.0, 10.0, 15.0) for z in (-2.4, -1.0)])
    y = (frame @ HULL_TO_NAV).apply(on_centre)[:, 1]
    assert np.all(np.abs(y) < 0.02), y
    assert set(fit.degenerate) == {"y", "yaw"}


def test_centreline_is_fitted_where_both_sides_were_surveyed(hull, clean_scan):
    """With both sides seen, the plane corrects a prior that is off in offset and heading."""
    from hullscan.compare.kinds import mirror_frame
    from hullscan.compare.reference import cloud_normals

    cloud = clean_scan.cloud
    frame, _, fit, _ = mirror_frame(np.asarray(cloud.points), cloud_normals(cloud), CompareConfig(), PRIOR)
    on_centre = np.array([[x, 0.0, -1.5] for x in (5.0, 10.0, 15.0)])
    y = (frame @ HULL_TO_NAV).apply(on_centre)[:, 1]
    assert np.all(np.abs(y) < 0.02), y
    assert fit.degenerate == ()


def test_mirror_run_that_judges_little_never_reads_clean(hull, tmp_path, capsys):
    """Port side surveyed, starboard only amidships: mirror mode judges only where both sides were seen.
    The report and the CLI say how little was cleared and exit 4, never 'No findings', never 0 (issue 16)."""
    import json

    from hullscan.cli import main
    from hullscan.cloud_io import save_cloud

    s = make_scan(hull, (), spacing=0.05, growth=0.0, hull_to_nav=HULL_TO_NAV, seed=5)
    hp = HULL_TO_NAV.inverse().apply(s.cloud.points)
    port = HullCloud.from_points(s.cloud.points[(hp[:, 1] > 0.3) | ((hp[:, 0] > 7.0) & (hp[:, 0] < 12.0))])
    save_cloud(port, tmp_path / "port.ply")
    prior = tmp_path / "prior.json"
    prior.write_text(json.dumps({"hull_to_nav": {"translation": PRIOR.translation.tolist(),
                                                 "rotation": PRIOR.rotation.tolist()}}))
    rc = main(["-q", "compare", str(tmp_path / "port.ply"), "--mirror", "--hull-to-nav", str(prior),
               "--out", str(tmp_path / "out"), "--no-progress"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    report = (tmp_path / "out" / "report.html").read_text()
    assert "No findings" not in report
    assert doc["status"] == "complete" and not doc["findings"], last
    assert rc == 4 and doc["verdict"]["exit_code"] == 4 and doc["coverage"]["cleared_fraction"] < 0.95
    assert last.startswith("verdict: nothing found in the cleared ") and "not inspected" in last
    assert doc["verdict"]["text"] in report


def test_a_one_side_survey_with_a_prior_known_to_metres_is_refused_not_judged(hull):
    """Where the cloud does not fix the centreline, the prior stands in for it: exactly known (a
    surveyed berth, sigma zero) it does; known to metres and degrees (quay notes) the reflection would
    be that far off, and every difference a false alarm, so mirror mode refuses and says why."""
    from hullscan.compare.prior import PriorSigma
    from hullscan.errors import HullscanError

    cloud = _one_side_survey(hull, 0.0)
    exact = inspect(cloud, "mirror", CompareConfig(), hull_to_nav=HULL_TO_NAV)
    assert exact.status == "complete" and exact.alignment is not None
    assert set(exact.alignment.degenerate) == {"y", "yaw"}
    with pytest.raises(HullscanError, match=r"does not fix the centreline plane.*2 m across and 10 deg"):
        inspect(cloud, "mirror", CompareConfig(), hull_to_nav=HULL_TO_NAV, sigma=PriorSigma(5.0, 2.0, 0.5, 10.0))
    with pytest.raises(HullscanError, match="no navigation prior"):
        inspect(cloud, "mirror", CompareConfig())
    # A prior known to a few centimetres and hundredths of a degree is taken.
    close = inspect(cloud, "mirror", CompareConfig(), hull_to_nav=HULL_TO_NAV, sigma=PriorSigma(0.5, 0.03, 0.03, 0.05))
    assert close.status == "complete"


def _starboard_drifted(hull, metres: float, width_m: float):
    """A port-side box on a both-sides scan whose starboard lane drifted outboard by up to ``metres``,
    a bump ``width_m`` long (1 sigma) centred 8 m from the stern: (the scan, the drifted cloud)."""
    box = Box(12.0, 1, -1.4, (0.5, 0.4, 0.2), name="port side, 0.04 m3")
    s = make_scan(hull, (box,), spacing=0.05, hull_to_nav=HULL_TO_NAV, seed=11)
    c = s.cloud
    p = HULL_TO_NAV.inverse().apply(np.asarray(c.points))
    stbd = p[:, 1] < -0.5
    p[stbd, 1] -= metres * np.exp(-(((p[stbd, 0] - 8.0) / width_m) ** 2))
    return s, HullCloud(HULL_TO_NAV.apply(p), c.normals, c.confidence, c.hits, c.sigma, c.frame_id)


def test_a_side_drifted_off_its_reflection_is_brought_back_and_its_box_still_found(hull):
    """The starboard lane drifted up to 25 cm outboard over a few metres and back (a rigid plane cannot
    take that up): against its reflection the port side stands proud there. Drift correction between
    passes moves each side half way (blocks fitted to the reflection, a compartment has no pull), and
    the box is still found."""
    s, drifted = _starboard_drifted(hull, 0.25, 2.5)

    ins = inspect(drifted, "mirror", CompareConfig(), hull_to_nav=PRIOR)
    assert len(ins.local_corrections) == 2 and ins.local_corrections[1].max_shift_m > 0.03
    assert len(ins.findings) == 1, [(f.centroid, f.volume_m3) for f in ins.findings]
    assert np.linalg.norm(np.array(ins.findings[0].centroid) - s.box_centroids[0]) < 0.25
    # Without it (block size 0: no correction) the drifted stretch is a false protrusion of a cubic metre.
    off = CompareConfig().model_copy(update={"alignment": CompareConfig().alignment.model_copy(
        update={"local_block_m": 0.0})})
    stale = inspect(drifted, "mirror", off, hull_to_nav=PRIOR)
    assert not stale.local_corrections
    assert any(f.volume_m3 > 0.5 and abs(f.centroid[0] - 8.0) < 1.0 for f in stale.findings)
    assert stale.alignment is not None and ins.alignment is not None
    assert ins.alignment.inlier_fraction > stale.alignment.inlier_fraction + 0.05


def test_sides_further_apart_than_drift_correction_reaches_are_not_inspected_not_a_finding(hull):
    """The starboard lane drifted up to a metre outboard over half the hull: beyond what the block
    correction may shift, a 20 m² stretch stands off its reflection. No compartment is wider than a
    correction block, so it is not comparable (not inspected, said why), never a finding and never clean."""
    s, drifted = _starboard_drifted(hull, 1.0, 5.0)

    ins = inspect(drifted, "mirror", CompareConfig(), hull_to_nav=PRIOR)
    assert not [f for f in ins.findings if f.footprint_m2 > 16.0], [(f.centroid, f.footprint_m2) for f in ins.findings]
    assert any(d["reason"] == "mirror_passes_apart" for d in ins.drops.as_dict())
    assert any("disagree there by more than drift correction reaches" in n for n in ins.notes)
    assert ins.status_at(np.array([8.0, -3.0, -1.0])) == "not_inspected"
    assert ins.status_at(s.box_centroids[0]) != "clear"
