"""The sonar uncertainty model (issue 15): each term against a brute-force reference, the survey's
own scale, contradiction by plating seen, and the note a cloud without viewing geometry gets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hullscan.compare.analysis import contradicted, make_cells, segment
from hullscan.compare.config import CompareConfig, UncertaintyConfig
from hullscan.compare.inspect import inspect
from hullscan.compare.reference import mesh_reference
from hullscan.compare.segments import resolve_segments
from hullscan.compare.uncertainty import (
    bias_gain,
    calibrated_scale,
    calibrated_scales,
    leading_edge_bias,
    point_sigma,
)
from hullscan.diagnostics import DropLog

from .conftest import HULL_TO_NAV
from .test_resolve import box, cells_of, plate

SONAR = CompareConfig(uncertainty={"model": "sonar"})

# The estimated model as it was the default up to stop 37 (docs/method.md, Uncertainty).
STOP37 = {"random": "point", "systematic": "alignment", "self_calibrate": False}


def _first_arrival_bias(theta_deg: float, r: float, width_deg: float, n: int = 400) -> float:
    """Brute force: rays filling the beam's -3 dB cone meet a plane that the axis meets at ``r``
    and incidence ``theta``; the nearest one is the first arrival, placed along the axis."""
    th, half = np.radians(theta_deg), np.radians(width_deg) / 2
    normal = np.array([-np.sin(th), 0.0, -np.cos(th)])  # faces the sonar at the origin; axis is +z
    a = np.sqrt(np.linspace(0, 1, n))[:, None] * half  # fills the disc of directions
    phi = np.linspace(0, 2 * np.pi, n)[None, :]
    d = np.stack([np.sin(a) * np.cos(phi), np.sin(a) * np.sin(phi), np.cos(a) * np.ones_like(phi)], -1).reshape(-1, 3)
    plane_d = r * np.cos(th)  # distance of the plane from the sonar
    t = plane_d / -(d @ normal)
    return float((r - t.min()) * np.cos(th))


@pytest.mark.parametrize("theta", [0.0, 0.3, 20.0, 45.0, 70.0, 80.0])
@pytest.mark.parametrize("width", [1.0, 12.0])
def test_leading_edge_bias_is_the_nearest_point_of_the_beam(theta: float, width: float) -> None:
    got = float(leading_edge_bias(np.array([theta]), np.array([6.0]), width)[0])
    ref = _first_arrival_bias(theta, 6.0, width)
    assert got == pytest.approx(ref, rel=0.02, abs=2e-5)


def test_point_sigma_terms_follow_the_incidence() -> None:
    cfg = UncertaintyConfig(range_sigma_m=0.01, range_sigma_per_m=0.0, beam_width_deg=1.0)
    head_on = point_sigma(np.array([0.0]), np.array([3.0]), cfg)[0]
    assert head_on == pytest.approx(0.01, rel=1e-3)  # range noise only, all of it along the normal
    inc = np.array([0.0, 30.0, 60.0, 80.0])
    s3, s9 = point_sigma(inc, np.full(4, 3.0), cfg), point_sigma(inc, np.full(4, 9.0), cfg)
    assert np.all(s9[1:] > s3[1:])  # the footprint and the leading edge grow with range
    assert s9[-1] > 3 * s9[0]  # a grazing return fixes the height far worse than a head-on one


def test_calibrated_scale_reads_the_survey_spread_robustly() -> None:
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.005, 0.03, 20000)
    residual = 2.0 * sigma * rng.normal(size=sigma.size)
    residual[:600] += 0.3  # 3 % compartments
    cfg = UncertaintyConfig()
    assert calibrated_scale(residual, sigma, np.ones(sigma.size, bool), cfg) == pytest.approx(2.0, rel=0.06)
    # An over-cautious model is scaled down as far as the survey's scatter shows (0.6 of it here) ...
    assert calibrated_scale(0.3 * residual, sigma, np.ones(sigma.size, bool), cfg) == pytest.approx(0.6, rel=0.06)
    # ... but no further than the least scale, and with limits from 1 never down.
    assert calibrated_scale(0.01 * residual, sigma, np.ones(sigma.size, bool), cfg) == cfg.scale_limits[0]
    up_only = UncertaintyConfig(scale_limits=(1.0, 10.0))
    assert calibrated_scale(0.3 * residual, sigma, np.ones(sigma.size, bool), up_only) == 1.0
    assert calibrated_scale(residual, sigma, np.ones(sigma.size, bool), UncertaintyConfig(self_calibrate=False)) == 1.0


def test_sonar_cells_weigh_head_on_returns_over_grazing_ones(hull) -> None:
    """Two views of the same bottom plating: head-on at 3 m on it, grazing at 9 m 2 cm proud (a
    leading-edge layer, within the same cells). The cells follow the head-on view; the clean
    plating's z-scores are not overconfident."""
    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(1)
    n = 4000
    xy = np.stack([rng.uniform(6, 12, n), rng.uniform(-1.0, 1.0, n)], 1)
    bottom = ref.signed_distance(np.c_[xy, np.full(n, -2.0)])[1][:, 2]  # the reference's z below each point
    near = np.c_[xy, bottom + rng.normal(0, 0.01, n)]
    far = np.c_[xy, bottom - 0.02 + rng.normal(0, 0.01, n)]  # outward is -z on the bottom
    pts = np.vstack([near, far])
    inc = np.r_[np.full(n, 5.0), np.full(n, 80.0)]
    rng_m = np.r_[np.full(n, 3.0), np.full(n, 9.0)]
    sig, conf = np.full(2 * n, 0.05), np.ones(2 * n)
    cells = make_cells(pts, sig, conf, ref, SONAR, 0.02, geometry=(inc, rng_m))
    ok = cells.judged
    assert cells.uncertainty_model == "sonar" and cells.align_residual == 0.0
    z = cells.zscore[ok & np.isfinite(cells.zscore)]
    assert 0.3 < float(np.std(z)) < 1.3
    # The same cloud without geometry: the estimated model, the plain mean.
    est = make_cells(pts, sig, conf, ref, SONAR, 0.02)
    assert est.uncertainty_model == "estimated"
    plain, weighted = float(np.nanmedian(est.d[est.judged])), float(np.nanmedian(cells.d[ok]))
    assert plain > 0.007 and abs(weighted) < 0.6 * plain  # cells wholly of grazing returns stay


@pytest.mark.parametrize("model", ["estimated", "sonar"])
def test_deviation_over_plating_seen_is_contradicted_and_an_object_is_not(model: str) -> None:
    """Whichever model judged the heights (stop 31: the estimated one too): a second view's layer
    over plating seen is contradicted, an object hiding the plating under it is not."""
    config = CompareConfig(uncertainty={"model": model})
    p = plate(40, 40)
    layer = box(p, 0.2, 0.8, 0.2, 0.8)  # a second view 8 cm off over the same feet
    obj = box(p, 1.2, 1.6, 1.2, 1.6)  # an object hiding the plating under it
    p["height"][obj] = 0.15
    cells = cells_of(p)
    extra = cells_of({k: v[layer] for k, v in p.items()})
    both = replace(cells, points=np.vstack([cells.points, extra.points + np.array([0, 0, 0.08])]),
                   count=np.r_[cells.count, extra.count], sigma=np.r_[cells.sigma, extra.sigma],
                   confidence=np.r_[cells.confidence, extra.confidence], of_point=np.arange(int(layer.sum()) + len(p["points"])),
                   d=np.r_[cells.d, np.full(layer.sum(), 0.08)], base=np.vstack([cells.base, extra.base]),
                   normal=np.vstack([cells.normal, extra.normal]), ref_id=np.r_[cells.ref_id, extra.ref_id],
                   smooth=np.r_[cells.smooth, np.full(layer.sum(), 0.08)], baseline=np.r_[cells.baseline, extra.baseline],
                   residual=np.r_[cells.residual, np.full(layer.sum(), 0.08)],
                   zscore=np.r_[cells.zscore, np.full(layer.sum(), 10.0)], judged=np.r_[cells.judged, extra.judged],
                   uncertainty=np.full(len(p["points"]) + layer.sum(), 0.008), uncertainty_model=model)
    against = contradicted(both, config)
    assert against[len(p["points"]):].all()  # the whole offset layer
    centre = obj & (np.abs(p["points"][:, 0] - 1.4) < 0.1) & (np.abs(p["points"][:, 1] - 1.4) < 0.1)
    assert not against[:len(p["points"])][centre].any()  # the object's top, away from its edge
    segs = segment(both, config, ("protrusion",))
    assert sorted(bool(m["contradicted"]) for _, _, m in segs) == [False, True]  # the object, and the layer
    drops = DropLog()
    kept = resolve_segments(segs, both, config, drops)
    assert [k for k, _, _ in kept] == ["protrusion"]  # the object alone is a finding ...
    assert drops.total("contradicted_by_plating") == 1  # ... and the layer is counted, not lost unsaid
    off = CompareConfig(uncertainty={"model": model}, detection={"contradiction_radius_m": 0.0,
                                                                   "contradiction_around_m": 0.0})
    segs = segment(both, off, ("protrusion",))
    assert len(segs) == 2 and not any(m["contradicted"] for _, _, m in segs)  # without the rule, two findings


def test_cloud_without_viewing_geometry_says_coverage_is_estimated(hull, clean_scan) -> None:
    ins = inspect(clean_scan.cloud, hull, SONAR, hull_to_nav=HULL_TO_NAV)
    assert any(n.startswith("coverage estimated: the cloud has no viewing geometry") for n in ins.notes)
    n = len(clean_scan.cloud)
    viewed = replace(clean_scan.cloud, incidence_deg=np.full(n, 20.0), range_m=np.full(n, 3.0))
    ins = inspect(viewed, hull, SONAR, hull_to_nav=HULL_TO_NAV)
    assert any(n.startswith("uncertainty: sonar model") for n in ins.notes)
    assert not ins.findings


def _bottom_strip(ref, x_range: tuple[float, float], half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """A grid of (x, y) every 2 cm over the bottom (N, 2), and the bottom plating's z under each (N,)."""
    x, y = np.meshgrid(np.arange(*x_range, 0.02), np.arange(-half_width, half_width, 0.02), indexing="ij")
    xy = np.c_[x.ravel(), y.ravel()]
    return xy, ref.signed_distance(np.c_[xy, np.full(len(xy), -2.0)])[1][:, 2]


def test_local_systematic_term_follows_its_surroundings_and_a_big_box_does_not_hide_itself(hull) -> None:
    """``systematic: local`` (trial): a strip of bottom plating seen well (1 cm noise), 2.6 x 1.6 m, with
    a 1.2 x 1.0 m box 30 cm tall on it. The alignment's residual (here 4 cm, as a survey with growth
    elsewhere gives) no longer sits on every cell: the plating's cells carry about their own scatter.
    The box is a third of the 0.5 m blocks seen within the baseline's radius (box_on_side's one lane
    sees no more); blocks standing beyond baseline_clip_m are an object, not an offset, so it does
    not inflate the term around itself (without that it hid itself, z about 1)."""
    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(3)
    xy, bottom = _bottom_strip(ref, (7.7, 10.3), 0.8)
    on_box = (np.abs(xy[:, 0] - 9.0) < 0.6) & (np.abs(xy[:, 1]) < 0.5)
    pts = np.c_[xy, bottom - np.where(on_box, 0.3, 0.0) + rng.normal(0, 0.01, len(xy))]  # outward is -z
    sig, conf = np.full(len(pts), 0.015), np.ones(len(pts))
    glob = make_cells(pts, sig, conf, ref, CompareConfig(uncertainty=STOP37), 0.04)
    local_cfg = CompareConfig(uncertainty={**STOP37, "systematic": "local"})
    local = make_cells(pts, sig, conf, ref, local_cfg, 0.04)
    assert local.align_residual == 0.0 and glob.align_residual == 0.04
    plating = local.judged & (np.abs(np.nan_to_num(local.residual)) < 0.02)
    assert np.nanmedian(glob.uncertainty[plating]) > 0.04
    assert np.nanmedian(local.uncertainty[plating]) < 0.02
    top = local.judged & (np.nan_to_num(local.residual) > 0.2)
    assert top.sum() > 100 and np.nanmedian(local.zscore[top]) > 5  # the box stands out of its surroundings
    assert [k for k, _, _ in segment(local, local_cfg, ("protrusion",))] == ["protrusion"]
    # The default (random: mean, self-calibrated) judges it the same way.
    default = make_cells(pts, sig, conf, ref, CompareConfig(), 0.04)
    assert [k for k, _, _ in segment(default, CompareConfig(), ("protrusion",))] == ["protrusion"]


def test_random_mean_with_local_systematic_spreads_clean_plating_as_n01(hull) -> None:
    """``random: mean`` with ``systematic: local`` (the default since stop 38): clean bottom plating seen
    with 1 cm of noise per point, points 2 cm apart. The single-point sigma (stop 37's default) spreads
    the z-scores of clean plating about twice too narrow. The uncertainty of the judged height (a median
    over about nine cells of their points' mean) alone understates it here: 5 cm cells split a noisy
    column of points between them, and their means keep part of the noise. The metre-scale spread of the
    residuals around each cell (less what the random term already holds, counted once) measures what is
    left; together, uncalibrated, they spread the plating's z-scores as N(0, 1), and self-calibration
    (the default) leaves them there."""
    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(5)
    xy, bottom = _bottom_strip(ref, (6.0, 12.0), 1.2)
    pts = np.c_[xy, bottom + rng.normal(0, 0.01, len(xy))]
    sig, conf = np.full(len(pts), 0.01), np.ones(len(pts))

    def robust_z(cfg: CompareConfig) -> float:
        c = make_cells(pts, sig, conf, ref, cfg, 0.0)
        z = c.zscore[c.judged & np.isfinite(c.zscore)]
        assert len(z) > 1000
        return float(1.4826 * np.median(np.abs(z - np.median(z))))

    assert robust_z(CompareConfig(uncertainty=STOP37)) < 0.6
    assert robust_z(CompareConfig(uncertainty={**STOP37, "random": "mean", "floor_m": 0.0})) > 1.5
    assert 0.85 < robust_z(CompareConfig(uncertainty={**STOP37, "random": "mean", "floor_m": 0.0, "systematic": "local"})) < 1.2
    assert 0.95 < robust_z(CompareConfig(uncertainty={"floor_m": 0.0})) < 1.05
    # Calibrated, even stop 37's model spreads them as N(0, 1): the scale is the survey's.
    assert 0.95 < robust_z(CompareConfig(uncertainty={**STOP37, "self_calibrate": True})) < 1.05


def test_calibrated_scales_put_each_incidence_band_right_on_its_own() -> None:
    """A model that does not follow the incidence (the estimated one): grazing cells scatter three
    times as much as it says, head-on ones half. Each band with enough cells gets its own scale; a
    band too thin to read, and cells without an incidence, get the overall one; off, all get it."""
    rng = np.random.default_rng(7)
    n = 9000
    inc = np.r_[rng.uniform(0, 30, 4000), rng.uniform(30, 60, 4000), rng.uniform(60, 85, n - 8000)]
    sigma = np.full(n, 0.01)
    spread = np.where(inc < 30, 0.5, np.where(inc < 60, 1.0, 3.0))
    residual = sigma * spread * rng.normal(size=n)
    judged = np.ones(n, bool)
    cfg = UncertaintyConfig()
    scales, overall = calibrated_scales(residual, sigma, judged, cfg, inc)
    assert scales[inc < 30] == pytest.approx(0.5, rel=0.06) and scales[(inc >= 30) & (inc < 60)] == pytest.approx(1.0, rel=0.06)
    assert overall == pytest.approx(calibrated_scale(residual, sigma, judged, cfg))
    # 1000 grazing cells: enough (200) for a band of their own.
    assert scales[inc >= 60] == pytest.approx(3.0, rel=0.1)
    thin = np.where(inc >= 60, np.nan, inc)  # no incidence for the grazing ones
    scales_thin, _ = calibrated_scales(residual, sigma, judged, cfg, thin)
    assert np.all(scales_thin[inc >= 60] == overall)
    few, _ = calibrated_scales(residual, sigma, judged, cfg, inc, min_cells=1500)
    assert np.all(few[inc >= 60] == overall) and few[inc < 30] == pytest.approx(0.5, rel=0.06)
    off, _ = calibrated_scales(residual, sigma, judged, UncertaintyConfig(calibrate_by_incidence=False), inc)
    assert np.all(off == overall)


def test_cells_beside_the_reference_s_relief_are_calibrated_apart_within_their_band() -> None:
    """Within one band, cells beside the reference's relief (a sea chest's walls, a rudder) scatter
    twice what the model says, the plain plating as it says. Together, the band's scale (about 1.2)
    leaves the plating's z-scores at 0.8 of N(0, 1) and the relief's at 1.6; apart, each gets its
    own. A class under min_cells, or no relief at all, leaves the band's scale."""
    rng = np.random.default_rng(11)
    n = 6000
    inc = rng.uniform(60, 85, n)
    relief = np.arange(n) < 1500
    sigma = np.full(n, 0.01)
    residual = sigma * np.where(relief, 2.0, 1.0) * rng.normal(size=n)
    judged = np.ones(n, bool)
    cfg = UncertaintyConfig()

    def robust(z: np.ndarray) -> float:
        return float(1.4826 * np.median(np.abs(z - np.median(z))))

    together, _ = calibrated_scales(residual, sigma, judged, cfg, inc)
    assert robust((residual / (sigma * together))[~relief]) < 0.9
    apart, _ = calibrated_scales(residual, sigma, judged, cfg, inc, relief=relief)
    assert apart[~relief] == pytest.approx(1.0, rel=0.06) and apart[relief] == pytest.approx(2.0, rel=0.08)
    assert robust((residual / (sigma * apart))[~relief]) == pytest.approx(1.0, abs=0.05)
    few, _ = calibrated_scales(residual, sigma, judged, cfg, inc, min_cells=2000, relief=relief)
    assert np.array_equal(few, calibrated_scales(residual, sigma, judged, cfg, inc, min_cells=2000)[0])
    none, _ = calibrated_scales(residual, sigma, judged, cfg, inc, relief=np.zeros(n, bool))
    assert np.array_equal(none, together)


def test_default_model_spreads_each_incidence_band_of_clean_plating_as_n01(hull) -> None:
    """Clean bottom plating in 30 cm strips, every other one seen head-on with 1 cm of noise per point,
    the others at grazing incidence with 3 cm (a far lane's returns between a near lane's): the default
    model, calibrated per incidence band, spreads both kinds' z-scores as N(0, 1); calibrated as one
    (the local systematic term mixes the strips at its half-metre scale), the grazing strips spread
    wider than the head-on ones."""
    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(11)
    xy, bottom = _bottom_strip(ref, (6.0, 12.0), 1.2)
    grazing = (np.floor(xy[:, 0] / 0.3).astype(int) % 2) == 1
    noise = np.where(grazing, 0.03, 0.01)
    pts = np.c_[xy, bottom + noise * rng.normal(size=len(xy))]
    sig, conf = np.full(len(pts), 0.01), np.ones(len(pts))
    inc = np.where(grazing, 75.0, 10.0)
    geometry = (inc, np.full(len(pts), 3.0))

    def robust(c, sel) -> float:
        z = c.zscore[sel & c.judged & np.isfinite(c.zscore)]
        assert len(z) > 500
        return float(1.4826 * np.median(np.abs(z - np.median(z))))

    banded = make_cells(pts, sig, conf, ref, CompareConfig(), 0.0, geometry=geometry)
    # Cells well inside their strip (the 8 cm median mixes its edges).
    pos = np.mod(banded.points[:, 0], 0.6)
    far = (pos > 0.4) & (pos < 0.5)
    near = (pos > 0.1) & (pos < 0.2)
    assert 0.85 < robust(banded, far) < 1.15 and 0.85 < robust(banded, near) < 1.15
    one = make_cells(pts, sig, conf, ref, CompareConfig(uncertainty={"calibrate_by_incidence": False}), 0.0, geometry=geometry)
    assert robust(one, far) > 1.3 * robust(one, near)
    # Relief calibrated apart: flat bottom plating has none beside it, so nothing changes.
    relief = make_cells(pts, sig, conf, ref, CompareConfig(uncertainty={"calibrate_relief_apart_deg": 45.0}), 0.0,
                        geometry=geometry)
    np.testing.assert_array_equal(relief.zscore, banded.zscore)


def test_bias_gain_reads_the_share_of_the_model_the_plating_shows() -> None:
    """Cells whose deviation holds 0.4 x their modelled leading-edge bias, a placement offset and
    noise, and a compartment's cells standing 10 cm off: the slope is read robustly, clipped, and 0
    where the survey hardly spans the model (one incidence and range: bias and offset look alike)."""
    rng = np.random.default_rng(5)
    n = 20000
    b = leading_edge_bias(rng.uniform(0, 80, n), rng.uniform(2, 6, n), 1.0)
    d = 0.012 + 0.4 * b + rng.normal(0, 0.008, n)
    d[:800] += 0.10  # a compartment: 4 % of the cells
    judged = np.ones(n, bool)
    assert bias_gain(d, b, judged, 0.06) == pytest.approx(0.4, abs=0.05)
    assert bias_gain(0.012 + 3.0 * b, b, judged, 1.0) == 1.5  # clipped
    assert bias_gain(0.012 - 0.5 * b, b, judged, 0.06) == 0.0
    one = np.full(n, float(leading_edge_bias(np.array([40.0]), np.array([3.0]), 1.0)[0]))
    assert bias_gain(d, one, judged, 0.06) == 0.0
    assert bias_gain(d[:100], b[:100], judged[:100], 0.06) == 0.0  # too few cells


@pytest.mark.parametrize("leading_edge", ["correct", "off"])
def test_a_strip_seen_at_grazing_beside_head_on_plating_does_not_stand_proud(hull, leading_edge: str) -> None:
    """Bottom plating seen as a swath (incidence from 0 to 70 deg across it, 3 m range), every return
    proud by half the first-arrival model (the sim's footprint rays give about that; a real sonar's
    share depends on its detector), and a 0.4 m strip amid the head-on returns seen only at 75 deg
    from 6 m (the far lane's outer beams): corrected, the strip stands under 3 mm off its surroundings; left in,
    it stands over 1 cm proud, the step clean_hull's lane end made into a 4 L phantom."""
    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(17)
    xy, bottom = _bottom_strip(ref, (6.0, 12.0), 1.5)
    inc = np.interp(xy[:, 1], (-1.5, 1.5), (0.0, 70.0))
    strip = np.abs(xy[:, 1] + 0.9) < 0.2
    inc[strip] = 75.0
    rng_m = np.where(strip, 6.0, 3.0)
    proud = 0.5 * leading_edge_bias(inc, rng_m, 1.0)
    pts = np.c_[xy, bottom - proud + rng.normal(0, 0.004, len(xy))]  # outward is -z
    cfg = CompareConfig(uncertainty={"leading_edge": leading_edge})
    c = make_cells(pts, np.full(len(pts), 0.01), np.ones(len(pts)), ref, cfg, 0.0, geometry=(inc, rng_m))
    inner = np.abs(c.points[:, 1] + 0.9) < 0.12
    step = float(np.nanmedian(c.residual[inner]))
    if leading_edge == "correct":
        assert c.leading_edge_gain == pytest.approx(0.5, abs=0.1)
        assert abs(step) < 0.003, step
    else:
        assert c.leading_edge_gain == 0.0 and step > 0.01, step


def test_a_wider_median_on_a_rough_hull_clears_more_and_still_reads_a_cap(hull) -> None:
    """Barnacles (4 cm cells, 0-8.7 cm high, as heavy_growth's) on bottom plating with a 10 cm cap of
    0.9 x 0.65 m: the 8 cm median leaves about half the barnacles' relief as uncertainty, so a 10 cm
    compartment clears little of it; the 15 cm median (compare.detection.rough_smooth_radius_m) halves
    that and the cap's top still reads within the clearing margin (0.8 x its height)."""
    from hullscan.compare.analysis import clearing_cells

    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(11)
    xy, bottom = _bottom_strip(ref, (6.0, 12.0), 1.2)
    cell = np.floor(xy / 0.04).astype(np.int64)
    cell -= cell.min(axis=0)
    barnacle = rng.random(tuple(cell.max(axis=0) + 1))[cell[:, 0], cell[:, 1]]  # one height per 4 cm cell
    growth = 0.025 * np.sqrt(3) * 2 * barnacle
    u, v = (xy[:, 0] - 9.0) / 0.45, xy[:, 1] / 0.325
    cap = 0.10 * np.clip(1 - u**2 - v**2, 0, None)
    pts = np.c_[xy, bottom - growth - cap + rng.normal(0, 0.005, len(xy))]  # outward is -z
    sig, conf = np.full(len(pts), 0.01), np.ones(len(pts))
    out = {}
    for radius in (0.08, 0.15):
        cfg = CompareConfig(detection={"smooth_radius_m": radius})
        c = make_cells(pts, sig, conf, ref, cfg, 0.0)
        far = c.judged & (np.abs(c.points[:, 0] - 9.0) > 1.0)  # plating well away from the cap
        top = c.judged & (np.hypot((c.points[:, 0] - 9.0) / 0.45, c.points[:, 1] / 0.325) < 0.3)
        out[radius] = (float(np.median(c.uncertainty[far])), float(clearing_cells(c, cfg, 0.1)[1][far].mean()),
                       float(np.median(c.residual[top])))
    assert out[0.15][0] < 0.7 * out[0.08][0]
    assert out[0.08][1] < 0.2 and out[0.15][1] > 0.8
    assert out[0.15][2] > 0.08 and out[0.08][2] > 0.08


def test_scale_read_again_away_from_a_finding_spreads_the_plating_as_n01(hull) -> None:
    """Bottom plating seen with 1 cm of noise, a 0.6 m box 20 cm tall on it, and the plating within
    1.6 m of the box rough (3 cm: growth around a pack, a baseline the box disturbs) over about half
    the strip. Calibrated over every judged cell the rough half widens the scale and the clean
    plating's z-scores spread narrower than N(0, 1); read again away from the box's cells (the
    default, ``calibrate_away_m``) they spread as N(0, 1), and the box is still the one finding.
    Off, or with nothing found, the cells are returned as they are."""
    from hullscan.compare.analysis import recalibrated
    from hullscan.compare.inspect import _segmented
    from hullscan.compare.kinds import Candidates

    ref = mesh_reference(hull, icp_spacing=0.5)
    rng = np.random.default_rng(17)
    xy, bottom = _bottom_strip(ref, (6.0, 12.0), 1.2)
    to_box = np.hypot(xy[:, 0] - 9.0, xy[:, 1])
    on_box = (np.abs(xy[:, 0] - 9.0) < 0.3) & (np.abs(xy[:, 1]) < 0.3)
    noise = np.where(to_box < 1.6, 0.03, 0.01)
    pts = np.c_[xy, bottom - np.where(on_box, 0.2, 0.0) + noise * rng.normal(size=len(xy))]  # outward is -z
    sig, conf = np.full(len(pts), 0.01), np.ones(len(pts))
    cfg = CompareConfig()
    cells = make_cells(pts, sig, conf, ref, cfg, 0.0)
    found = [idx for kind, idx, _ in segment(cells, cfg, ("protrusion",)) if kind == "protrusion"]
    assert len(found) >= 1

    def robust(c) -> float:
        clean = c.judged & np.isfinite(c.zscore) & (np.hypot(c.points[:, 0] - 9.0, c.points[:, 1]) > 2.0)
        z = c.zscore[clean]
        assert len(z) > 1000
        return float(1.4826 * np.median(np.abs(z - np.median(z))))

    assert robust(cells) < 0.85
    again = recalibrated(cells, found, cfg)
    assert 0.9 < robust(again) < 1.1
    assert again.uncertainty_scale < cells.uncertainty_scale
    segs = segment(again, cfg, ("protrusion",))
    top = [idx for _, idx, _ in segs if np.nanmax(again.residual[idx]) > 0.15]
    assert len(top) == 1
    off = CompareConfig(uncertainty={"calibrate_away_m": 0.0})
    assert recalibrated(cells, found, off) is cells
    assert recalibrated(cells, [], cfg) is cells

    # The inspection segments once more with the new scale; only the last segmentation's drops count.
    class Source:
        calls = 0

        def candidates(self, c, framing, config, drops):
            self.calls += 1
            drops.add("findings", "contradicted_by_plating", 1)
            return Candidates(kept=tuple(("protrusion", idx, {}) for idx in found))

    for config, calls in ((cfg, 2), (off, 1)):
        source, drops = Source(), DropLog()
        got, _ = _segmented(cells, source, None, config, drops)
        assert source.calls == calls and drops.total() == 1
        assert (got is cells) == (calls == 1)
