"""The drift smoother (hullscan/recon/smoothing.py): against a dense numpy solution of the same least
squares, outlier fits, and a lane whose middle the reference cannot place along the track."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hullscan.recon.config import DriftConfig
from hullscan.recon.drift import (
    ReturnsInMemory,
    _align_to_reference,
    _smooth_to_reference,
)
from hullscan.recon.smoothing import (
    SmootherModel,
    SubmapFit,
    along_posterior,
    correction_matrix,
    smooth_corrections,
)
from tests.hullscan.recon.synth import PlacedSurface

F = NDArray[np.float64]
SIGMA = 0.02


def _lane(n: int = 21, length: float = 100.0) -> tuple[F, F]:
    """Submap centres along a straight lane (x) and the distance travelled at each."""
    d = np.linspace(0.0, length, n)
    return np.column_stack([d, np.zeros(n), np.zeros(n)]), d


def _fits(true_x: F, centres: F, travelled: F, constrained: list[F], rng: np.random.Generator) -> list[SubmapFit]:
    out = []
    for c, d, x, diag in zip(centres, travelled, true_x, constrained, strict=True):
        info = np.diag(diag) / SIGMA**2
        z = x + rng.normal(0, SIGMA / 4, 4) * (diag > 0)
        out.append(SubmapFit(c, float(d), z, info))
    return out


def _dense_reference(fits: list[SubmapFit], m: SmootherModel) -> F:
    """The same weighted least squares written out row by row and solved with numpy's lstsq."""
    j, r = _dense_rows(fits, m)
    return np.linalg.lstsq(j, r, rcond=None)[0].reshape(len(fits), 4)


def _dense_rows(fits: list[SubmapFit], m: SmootherModel) -> tuple[F, F]:
    """The smoother's whitened residual rows (R, 4N) and right-hand side (R,), one by one."""
    n = len(fits)
    rows, rhs = [], []

    def row(coef: dict[int, F], value: F, sigma: float) -> None:
        for j in range(len(value)):
            r = np.zeros(4 * n)
            for k, c in coef.items():
                r[4 * k:4 * k + 4] = c[j]
            rows.append(r / sigma)
            rhs.append(value[j] / sigma)

    for k in range(n):
        row({k: np.diag([1.0, 0, 0, 0])[:1]}, np.zeros(1), m.prior_rad)
        row({k: np.eye(4)[1:3]}, np.zeros(2), m.prior_m)
        row({k: np.eye(4)[3:]}, np.zeros(1), m.prior_vertical_m)
    steps = []
    for k in range(n - 1):
        dist = max(fits[k + 1].travelled - fits[k].travelled, 1.0)
        lever = fits[k + 1].centre - fits[k].centre
        a = np.zeros((3, 4))
        a[:, 0] = [-lever[1], lever[0], 0.0]
        a[:, 1:] = np.eye(3)
        b = np.zeros((3, 4))
        b[:, 1:] = -np.eye(3)
        steps.append((a, b, dist))
        row({k: a, k + 1: b}, np.zeros(3), m.drift_rate * dist)
        row({k: np.array([[1.0, 0, 0, 0]]), k + 1: np.array([[-1.0, 0, 0, 0]])}, np.zeros(1), m.yaw_rate * dist)
    for k in range(1, n - 1):
        (a0, b0, d0), (a1, b1, d1) = steps[k - 1], steps[k]
        rho = np.exp(-d1 / m.correlation_m)
        row({k - 1: -rho * a0 / d0, k: a1 / d1 - rho * b0 / d0, k + 1: b1 / d1}, np.zeros(3),
            m.drift_rate * np.sqrt(1 - rho**2))
    for k, f in enumerate(fits):
        ev, vec = np.linalg.eigh(f.info)
        for lam, v in zip(ev, vec.T, strict=True):
            if lam > 0:
                row({k: v[None, :]}, np.array([v @ f.z]), 1 / np.sqrt(lam))
    return np.array(rows), np.array(rhs)


def test_smoother_matches_a_dense_least_squares_and_bridges_an_unconstrained_middle() -> None:
    rng = np.random.default_rng(3)
    centres, travelled = _lane()
    # Linear drift along the track (0.8 % of distance) and a little sideways.
    true_x = np.column_stack([np.zeros(21), 0.008 * travelled, 0.002 * travelled, np.zeros(21)])
    # The ends fix everything (bow and stern); the middle only sideways and depth (flat bottom).
    full, middle = np.ones(4), np.array([0.0, 0.0, 1.0, 1.0])
    constrained = [full if k < 2 or k > 18 else middle for k in range(21)]
    fits = _fits(true_x, centres, travelled, constrained, rng)
    model = SmootherModel(iterations=1)
    got = smooth_corrections(fits, model).x
    np.testing.assert_allclose(got, _dense_reference(fits, model), atol=1e-6)
    # Along the track the middle is interpolated from the ends: within 5 cm where carrying the
    # last end's correction forward would be up to 0.65 m off.
    assert np.abs(got[:, 1] - true_x[:, 1]).max() < 0.05
    assert np.abs(true_x[2:19, 1] - true_x[1, 1]).max() > 0.6


def test_the_along_posterior_matches_a_dense_inverse_with_the_mean_shift_measured() -> None:
    rng = np.random.default_rng(6)
    centres, travelled = _lane()
    true_x = np.column_stack([np.zeros(21), 0.008 * travelled, np.zeros(21), np.zeros(21)])
    full, middle = np.ones(4), np.array([0.0, 0.0, 1.0, 1.0])
    fits = _fits(true_x, centres, travelled, [full if k < 2 or k > 18 else middle for k in range(21)], rng)
    model = SmootherModel(iterations=1)
    u = np.array([1.0, 0.0, 0.0])
    post = along_posterior(fits, np.ones(21), model, u)
    rows, _ = _dense_rows(fits, model)
    e = np.zeros((84, 21))
    for k in range(21):
        e[4 * k + 1:4 * k + 4, k] = u
    mean = e.sum(axis=1)[None, :] / 21
    for s in (None, 0.05, 3.0):
        a = rows.T @ rows
        if s is not None:
            # The registration measures the mean shift; the weak prior's hold on it (21 submaps at
            # prior_m each) comes out, as the registration it stands for is now in.
            a = a + mean.T @ mean / s**2 - 21 / model.prior_m**2 * (mean.T @ mean)
        cov = np.linalg.inv(a)
        np.testing.assert_allclose(post.sd(s), np.sqrt(np.einsum("ij,ik,kj->j", e, cov, e)), rtol=1e-6)
    # Fixed at both ends, the flat middle rests on dead reckoning: least certain half-way.
    sd = post.sd()
    assert sd[10] > 3 * sd[0] and sd[10] > 3 * sd[20] and int(np.argmax(sd)) in range(8, 13)


def test_a_survey_nothing_places_along_is_held_by_the_registration_not_the_weak_prior() -> None:
    rng = np.random.default_rng(7)
    centres, travelled = _lane()
    middle = np.array([0.0, 0.0, 1.0, 1.0])
    fits = _fits(np.zeros((21, 4)), centres, travelled, [middle] * 21, rng)
    post = along_posterior(fits, np.ones(21), SmootherModel(), np.array([1.0, 0.0, 0.0]))
    assert post.sd().min() > 1.0  # the weak prior's 10 m per submap: metres
    held = post.sd(0.05)
    # The mean shift to 5 cm; the lane's ends drift from it by up to the drift model's 1 %/m.
    assert held.min() < 0.1 and held.max() < 0.1 + 0.01 * 100


def test_an_ambiguous_registration_is_not_narrowed_by_the_weak_prior() -> None:
    # A flat bottom under a parallel midbody: no submap places the survey along the ship, and the
    # registration found it fits as well over +/- 15 m. The weak prior (10 m on each of 21 submaps)
    # must not turn that into +/- 2 m: it is the registered placement again, not a measurement.
    rng = np.random.default_rng(8)
    centres, travelled = _lane()
    fits = _fits(np.zeros((21, 4)), centres, travelled, [np.array([0.0, 0.0, 1.0, 1.0])] * 21, rng)
    post = along_posterior(fits, np.ones(21), SmootherModel(), np.array([1.0, 0.0, 0.0]))
    held_by_prior = 1.0 / np.sqrt(1.0 / 15.0**2 + 21 / SmootherModel().prior_m**2)
    assert held_by_prior < 2.5
    assert post.sd(15.0).min() >= 15.0 - 1e-6
    # Only the mean's hold comes out: a survey whose fits place it is stated as before, to a hair.
    full = [np.ones(4)] * 21
    placed = along_posterior(_fits(np.zeros((21, 4)), centres, travelled, full, rng), np.ones(21), SmootherModel(),
                             np.array([1.0, 0.0, 0.0]))
    old = placed.var - placed.cross**2 / (0.1**2 + placed.mean_var)
    np.testing.assert_allclose(placed.sd(0.1), np.sqrt(old), rtol=1e-3)


def test_a_fit_caught_in_a_neighbouring_minimum_is_outvoted() -> None:
    rng = np.random.default_rng(4)
    centres, travelled = _lane()
    true_x = np.column_stack([np.zeros(21), 0.005 * travelled, np.zeros(21), np.zeros(21)])
    fits = _fits(true_x, centres, travelled, [np.ones(4)] * 21, rng)
    bad = fits[10]
    fits[10] = SubmapFit(bad.centre, bad.travelled, bad.z + np.array([0.0, 1.5, 0.0, 0.0]), bad.info)
    out = smooth_corrections(fits, SmootherModel())
    assert out.weights[10] < 0.05
    assert np.all(np.delete(out.weights, 10) > 0.5)
    # Cauchy weights keep a little pull (the weight falls as 1/d^2, the pull as 1/d): 1.5 m off
    # moves the solution by a few cm; without the weights it would move by decimetres.
    assert np.abs(out.x[:, 1] - true_x[:, 1]).max() < 0.05
    plain = smooth_corrections(fits, SmootherModel(iterations=1))
    assert np.abs(plain.x[:, 1] - true_x[:, 1]).max() > 0.2


def test_correction_matrix_turns_about_the_centre() -> None:
    centre = np.array([10.0, -3.0, 2.0])
    t = correction_matrix(centre, np.array([np.deg2rad(5.0), 0.1, 0.2, -0.3]))
    np.testing.assert_allclose(t[:3, :3] @ centre + t[:3, 3], centre + np.array([0.1, 0.2, -0.3]), atol=1e-12)


# --------------------------------------------------------------------------- through the drift stage


def _height(x: F, y: F) -> F:
    """A surface that fixes depth and the sideways position everywhere (a ridge across y) and the
    position along x only at its ends (bumps in the first and last 15 m, flat between)."""
    ends = (x < 15) | (x > 85)
    return 0.3 * np.sin(1.5 * y) + np.where(ends, 0.25 * np.sin(0.9 * x) * np.cos(0.5 * y), 0.0)


def _normals(x: F, y: F) -> F:
    e = 1e-4
    gx = (_height(x + e, y) - _height(x - e, y)) / (2 * e)
    gy = (_height(x, y + e) - _height(x, y - e)) / (2 * e)
    n = np.column_stack([-gx, -gy, np.ones_like(x)])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def test_the_drift_stage_places_a_lane_the_flat_middle_cannot_place_along() -> None:
    rng = np.random.default_rng(5)
    gx, gy = np.meshgrid(np.arange(-5, 105, 0.1), np.arange(-3, 3, 0.1), indexing="ij")
    ref = PlacedSurface(np.column_stack([gx.ravel(), gy.ravel(), _height(gx.ravel(), gy.ravel())]),
                   _normals(gx.ravel(), gy.ravel()))
    x, y = rng.uniform(0, 100, 30000), rng.uniform(-2, 2, 30000)
    order = np.argsort(x)
    x, y = x[order], y[order]
    true = np.column_stack([x, y, _height(x, y) + rng.normal(0, 0.005, len(x))])
    # Dead reckoning drifts along the track by 1 % of distance: 1 m by the end of the lane.
    nav = true + np.column_stack([0.01 * x, np.zeros_like(x), np.zeros_like(x)])
    travelled = x.copy()
    stamps = (x * 2e9).astype(np.int64)
    cfg = DriftConfig(enabled=True, submap_length_m=10.0, icp_voxel=0.1, min_overlap_points=100)
    sub = (travelled // cfg.submap_length_m).astype(np.int64)

    def worst(anchors: list[F]) -> float:
        err = 0.0
        for k, t in enumerate(anchors):
            m = sub == k
            fixed = nav[m] @ t[:3, :3].T + t[:3, 3]
            err = max(err, float(np.abs(fixed[:, 0] - true[m, 0]).max()))
        return err

    survey = ReturnsInMemory(nav, sub, stamps, travelled)
    _, smoothed, info, _, along = _smooth_to_reference(cfg, ref, survey)
    _, carried, _, _ = _align_to_reference(cfg, ref, survey)
    # Carried over the flat middle, the last correction leaves the lane up to 0.69 m off before the
    # far end fixes it again; solved together, the middle is bridged from both ends. The ends fix
    # the position along the lane only weakly (bumps in 15 m of 100), so the drift prior (1 % of
    # distance, 1 sigma) pulls them in a little: 0.2 m is left at worst.
    assert worst(carried) > 0.5
    assert worst(smoothed) < 0.25
    assert info["drift_aligned"] >= 8
    # The stated along-track uncertainty: larger over the flat middle than at the bumpy ends, and
    # the truth inside 2 sigma at every submap.
    assert along is not None
    sd = along.sd_m()
    assert sd[4:6].min() > max(sd[0], sd[-1])
    for k, t in enumerate(smoothed):
        fixed = nav[sub == k] @ t[:3, :3].T + t[:3, 3]
        assert abs(float(np.mean(fixed[:, 0] - true[sub == k, 0]))) <= 2 * sd[k]


def test_a_vertical_no_fit_fixes_stays_where_registration_put_it() -> None:
    """A single side lane: each fit fixes across (y) and along a little, but its vertical only
    through the wall's slight tilt, which ties it to across. With depth from a pressure sensor the
    correction keeps the registered vertical instead of riding that tie (the weak 10 m prior alone
    let turbid_water's survey sink 5.5 cm)."""
    n = 5
    tilt = np.array([0.0, 0.995, 0.0998])  # the wall's normal, 5.7 deg off vertical
    fits = []
    for k in range(n):
        info = np.zeros((4, 4))
        info[1, 1] = 600.0  # along, from the lane's ends
        info[2:, 2:] = 2000.0 * np.outer(tilt[1:], tilt[1:]) + np.diag([0.0, 0.1])
        z = np.array([0.0, 0.0, 0.01, -0.033])  # across 1 cm off, and a vertical the fit barely holds
        fits.append(SubmapFit(centre=np.array([20.0 + 5 * k, 6.0, -1.5]), travelled=5.0 * k, z=z, info=info))
    x = smooth_corrections(fits, SmootherModel()).x
    assert np.all(np.abs(x[:, 3]) < 0.005)
    loose = smooth_corrections(fits, SmootherModel(prior_vertical_m=10.0)).x
    assert np.all(np.abs(loose[:, 3]) > 0.02)  # as it was


def test_taking_the_weak_prior_off_the_mean_stays_finite_for_a_tilted_axis_and_a_huge_range() -> None:
    # The ship's axis a little out of the horizontal (trim), no fit placing the survey along it, and a
    # registration that says nothing (1 km): the update must stay positive definite, not go negative.
    rng = np.random.default_rng(9)
    centres, travelled = _lane()
    fits = _fits(np.zeros((21, 4)), centres, travelled, [np.array([0.0, 0.0, 1.0, 1.0])] * 21, rng)
    u = np.array([1.0, 0.0, 0.02]) / np.hypot(1.0, 0.02)
    post = along_posterior(fits, np.ones(21), SmootherModel(), u)
    sd = post.sd(1000.0)
    # (a hold taken as u' P u, 0.42 here against the 0.21 the prior bounds, sent these to 0)
    assert np.all(np.isfinite(sd)) and sd.min() > 900.0
