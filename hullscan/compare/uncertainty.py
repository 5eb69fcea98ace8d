"""How well a sonar return fixes the hull's height along its normal, from the physics of the beam.

A return at range ``r`` that meets the plating at incidence ``theta`` (between the beam and the
surface normal) is off the surface along the normal by three terms (docs/method.md, "Uncertainty"):

1. **Range noise** along the beam, ``sigma_r = range_sigma_m + range_sigma_per_m * r``; its share
   along the normal is ``sigma_r * cos(theta)``: at grazing incidence range noise moves a return
   *along* the plating, not off it.
2. **Beam footprint.** The echo comes from somewhere inside the beam's cone, an angular spread of
   ``beam_width / 2.355`` (the Gaussian sigma of a -3 dB width) across the beam, ``r`` times that
   in metres; its share along the normal is ``sin(theta)``: negligible head-on, all of it at
   grazing incidence.
3. **Leading-edge bias.** The detector takes the first arrival, which comes from the part of the
   footprint nearest to the sonar. On a plane met at ``theta`` by a cone of half-width ``a``
   (half the -3 dB width) the nearest point lies at ``r * cos(theta) / cos(theta - a)`` (at
   ``r * cos(theta)`` once the cone holds the normal): the return is short by ``dr`` along the
   beam, which puts it ``dr * cos(theta)`` proud of the plating. It is systematic, so it does not
   average away; it is kept as an uncertainty rather than subtracted, since how far the detector's
   threshold sits up the echo's leading edge is not known.

Navigation error is absent on purpose: it is low-frequency (metres along the track), so the
comparator's relative deviation (a cell against its surroundings) cancels it.

A cell's height is the inverse-variance mean of its points, so a patch seen head-on at 3 m
outweighs the same patch seen at grazing incidence from the next lane; its uncertainty is that
of the mean. Points in a cell share plane fits and passes, so they are not independent: the
survey's own scatter sets the model's scale (:func:`calibrated_scale`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.config import UncertaintyConfig

F64 = NDArray[np.float64]

# A -3 dB beam width is 2.355 Gaussian sigmas (2 sqrt(2 ln 2)).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
# Near 90 degrees every term of the model grows without bound; no return is that grazing.
MAX_INCIDENCE_DEG = 85.0
# The robust spread of a standard normal: 1.4826 x the median absolute deviation.
MAD_TO_SIGMA = 1.4826


def leading_edge_bias(incidence_deg: F64, range_m: F64, beam_width_deg: float) -> F64:
    """How far (m) a first-arrival return stands proud of the plating, along its normal.

    ``incidence_deg`` and ``range_m``: (N,); ``beam_width_deg``: the -3 dB width."""
    th = np.radians(np.clip(incidence_deg, 0.0, MAX_INCIDENCE_DEG))
    a = np.radians(beam_width_deg) / 2.0
    nearest = np.where(th > a, np.cos(th) / np.cos(th - a), np.cos(th))
    return np.asarray(range_m * (1.0 - nearest) * np.cos(th), np.float64)


def point_sigma(incidence_deg: F64, range_m: F64, config: UncertaintyConfig) -> F64:
    """1-sigma (m) of each return's height along the surface normal: range noise and footprint
    projected by the incidence, and the leading-edge bias (module docstring). Shapes (N,)."""
    th = np.radians(np.clip(incidence_deg, 0.0, MAX_INCIDENCE_DEG))
    r = np.maximum(np.asarray(range_m, np.float64), 0.0)
    sigma_r = config.range_sigma_m + config.range_sigma_per_m * r
    footprint = r * np.radians(config.beam_width_deg) / FWHM_PER_SIGMA
    bias = leading_edge_bias(incidence_deg, r, config.beam_width_deg)
    return np.asarray(np.sqrt((sigma_r * np.cos(th)) ** 2 + (footprint * np.sin(th)) ** 2 + bias**2), np.float64)


def calibrated_scale(residual: F64, sigma: F64, judged: NDArray[np.bool_], config: UncertaintyConfig,
                     min_cells: int = 200) -> float:
    """The factor that makes the model's z-scores ``residual / sigma`` of the judged cells spread
    as N(0, 1) (robustly: a compartment covers a small share of a hull), within
    ``config.scale_limits``; 1 where self-calibration is off or too few cells are judged."""
    if not config.self_calibrate:
        return 1.0
    ok = judged & np.isfinite(residual) & np.isfinite(sigma) & (sigma > 0)
    if int(ok.sum()) < min_cells:
        return 1.0
    z = residual[ok] / sigma[ok]
    spread = MAD_TO_SIGMA * float(np.median(np.abs(z - np.median(z))))
    lo, hi = config.scale_limits
    return float(np.clip(spread, lo, hi))


# Incidence bands (deg) self-calibrated apart: head-on, oblique, grazing.
INCIDENCE_BANDS_DEG = (30.0, 60.0)


def calibrated_scales(residual: F64, sigma: F64, judged: NDArray[np.bool_], config: UncertaintyConfig,
                      incidence: F64 | None = None, min_cells: int = 200,
                      relief: NDArray[np.bool_] | None = None) -> tuple[F64, float]:
    """Per cell, the factor that makes the z-scores spread as N(0, 1) (:func:`calibrated_scale`),
    and the overall one. With ``incidence`` (deg per cell) and ``config.calibrate_by_incidence``,
    each band of :data:`INCIDENCE_BANDS_DEG` holding ``min_cells`` judged cells gets its own: a model
    whose terms do not follow the incidence (the estimated one) is put right by the survey's scatter
    in each band; other cells get the overall factor. With ``relief`` (M,; cells beside the reference's
    own relief) each band's relief and plain cells get their own where each holds ``min_cells``.
    Shapes (M,)."""
    overall = calibrated_scale(residual, sigma, judged, config, min_cells)
    out = np.full(len(residual), overall)
    if incidence is None or not config.self_calibrate or not config.calibrate_by_incidence:
        return out, overall
    band = np.where(np.isfinite(incidence), np.digitize(incidence, INCIDENCE_BANDS_DEG), -1)
    for b in range(len(INCIDENCE_BANDS_DEG) + 1):
        inb = band == b
        ok = judged & inb & np.isfinite(residual) & np.isfinite(sigma) & (sigma > 0)
        if int(ok.sum()) >= min_cells:
            out[inb] = calibrated_scale(residual, sigma, ok, config, min_cells)
        if relief is not None and min(int((ok & relief).sum()), int((ok & ~relief).sum())) >= min_cells:
            for part in (relief, ~relief):
                out[inb & part] = calibrated_scale(residual, sigma, ok & part, config, min_cells)
    return out, overall



def bias_gain(deviation: F64, bias: F64, judged: NDArray[np.bool_], limit_m: float, max_gain: float = 1.5,
              min_cells: int = 200, bins: int = 10, least_spread_m: float = 0.005) -> float:
    """How much of the leading-edge model (:func:`leading_edge_bias`) the survey's returns show: the
    slope of the cells' ``deviation`` (M,) (m, from the reference) on their mean modelled ``bias``
    (M,) (m) over the ``judged`` cells of plating (``|deviation| <= limit_m``), robustly (the
    median deviation of each of ``bins`` equal-count bins of the bias, then a weighted line through
    them: a compartment covers a small share of every bin), within [0, ``max_gain``].

    Where the detector's threshold sits up the echo's leading edge is not known, so the model's
    size is not either; the plating seen at every incidence is. 0 where too few cells are judged or
    the survey hardly spans the model (every return at one incidence and range: nothing to tell the
    bias from a placement offset)."""
    ok = judged & np.isfinite(deviation) & np.isfinite(bias) & (np.abs(np.nan_to_num(deviation)) <= limit_m)
    if int(ok.sum()) < max(min_cells, 2 * bins):
        return 0.0
    b, d = bias[ok], deviation[ok]
    order = np.argsort(b, kind="stable")
    parts = np.array_split(order, bins)
    bm = np.array([np.median(b[i]) for i in parts])
    dm = np.array([np.median(d[i]) for i in parts])
    if bm[-1] - bm[0] < least_spread_m:
        return 0.0
    w = np.array([len(i) for i in parts], np.float64)
    bc = bm - np.average(bm, weights=w)
    slope = float(np.sum(w * bc * (dm - np.average(dm, weights=w))) / np.sum(w * bc * bc))
    return float(np.clip(slope, 0.0, max_gain))
