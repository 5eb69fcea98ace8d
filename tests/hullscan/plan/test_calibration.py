from __future__ import annotations

import numpy as np
import pytest

from hullscan.plan.calibration import (
    ALIGNMENT_RESIDUAL,
    CLOUD_SIGMA,
    AlignmentResidualModel,
    CloudSigmaModel,
)


def test_cloud_sigma_follows_the_plane_fits_formula() -> None:
    """sqrt((range + footprint + navigation variance) / hits in the window + gain x normal variance
    + lane scatter²), hits = returns per m² x window area; no returns: inf."""
    m = CloudSigmaModel(window_m2=0.02, navigation_m=0.01, normal_gain=2.0, lane_scatter_m=0.003)
    rho = np.array([500.0, 0.0])
    got = m.sigma(rho, np.full(2, 1e-4), np.full(2, 4e-4), np.full(2, 0.5e-4))
    assert got[0] == pytest.approx(np.sqrt((1e-4 + 4e-4 + 1e-4) / 10.0 + 2.0 * 0.5e-4 + 0.003**2))
    assert got[1] == np.inf


def test_denser_returns_give_a_smaller_sigma_down_to_the_normal_scatter() -> None:
    rho = np.array([100.0, 1000.0, 1e9])
    s = CLOUD_SIGMA.sigma(rho, np.full(3, 1.7e-4), np.full(3, 4e-4), np.full(3, 1e-4))
    assert s[0] > s[1] > s[2]
    assert s[2] == pytest.approx(np.sqrt(CLOUD_SIGMA.normal_gain * 1e-4 + CLOUD_SIGMA.lane_scatter_m**2), rel=1e-3)


def test_the_fitted_constants_are_physical() -> None:
    """A plane window of a few cm² to a few hundred, centimetre-scale terms: a fit gone wrong shows here."""
    assert 0.001 <= CLOUD_SIGMA.window_m2 <= 0.05
    assert 0.0 <= CLOUD_SIGMA.navigation_m <= 0.05 and 0.0 <= CLOUD_SIGMA.lane_scatter_m <= 0.02
    assert 0.2 <= CLOUD_SIGMA.normal_gain <= 5.0
    assert 0.3 <= ALIGNMENT_RESIDUAL.bias_gain <= 3.0 and 0.0 <= ALIGNMENT_RESIDUAL.floor_m <= 0.02


def test_alignment_residual_grows_with_the_bias_spread_not_its_mean() -> None:
    """A bias the same everywhere is taken out by the placement; one that changes over the hull is not."""
    m = AlignmentResidualModel(bias_gain=1.2, floor_m=0.004)
    assert m.residual(np.full(100, 0.03)) == pytest.approx(0.004)
    b = np.r_[np.full(50, 0.01), np.full(50, 0.03)]  # spread 1 cm
    assert m.residual(b) == pytest.approx(np.hypot(0.012, 0.004))
    assert m.residual(np.zeros(0)) == pytest.approx(0.004)
