"""Drift corrections of all submaps solved together (a linear smoother over the survey).

Aligning each submap to the reference on its own, and carrying the last correction where a submap
cannot be aligned, leaves the drift of every unconstrained stretch to grow unchecked: the flat
bottom does not fix a lane's position along the ship, so the carried correction is off by the
drift of a whole lane (0.8 % of 100 m) by its end, and a heading fitted on one 10 m submap (a
lever of a few metres) turns the next lane by its error. Navigation drift is slow, though, and
the lane ends (bow, stern, bilges) do fix those directions. So every submap's fit is kept as a
measurement with its information (what the surface constrains, and how well), and the
corrections of all submaps are solved together under a drift model:

- a submap's correction is a heading change ``theta`` about its centre ``m`` and a shift ``c`` of
  that centre: ``p -> Rz(theta) (p - m) + m + c``;
- between consecutive submaps the correction field changes by no more than credible drift: the
  two corrections, evaluated at the later centre, differ by N(0, (rate x distance)^2) per axis,
  and the headings by N(0, (yaw rate x distance)^2) (a heading bias is slow);
- DVL drift is a correlated velocity error, so the drift per metre is correlated over
  ``correlation_m`` of travel (an Ornstein-Uhlenbeck velocity): a stretch no fit constrains is
  bridged between the fits on either side as a steady drift would have moved it, and beyond the
  last fit a trend dies out instead of running on;
- each fit pulls its submap towards what it measured with its information matrix; fits that
  disagree with the rest (an ICP caught in a neighbouring minimum) are down-weighted (iteratively
  reweighted least squares, Cauchy weights on the Mahalanobis distance);
- a weak prior holds every correction near zero (the registered placement), so a direction no
  submap constrains stays where registration put it instead of floating; vertically it is firmer
  (``prior_vertical_m``): depth comes from a pressure sensor, which does not drift.

Small heading changes are linearised (``theta`` of a degree moves a point 50 m away by under a
centimetre more than its linear term). The system is block-tridiagonal, 4 unknowns per submap,
and solved sparse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import block_diag, coo_matrix, csc_matrix
from scipy.sparse.linalg import splu, spsolve

F = NDArray[np.float64]


@dataclass(frozen=True)
class SubmapFit:
    """One submap's alignment as a measurement of its correction.

    ``centre`` (3,) the submap's centre in the uncorrected navigation frame; ``travelled`` the
    distance the vehicle had travelled at its middle (m); ``z`` (4,) the measured correction
    (heading rad, centre shift m); ``info`` (4, 4) its information matrix (zeros: no measurement).
    """

    centre: F
    travelled: float
    z: F
    info: F


@dataclass(frozen=True)
class SmootherModel:
    """The drift model: position drift per metre travelled (1 sigma, per axis), the distance over
    which that rate stays correlated (m), heading drift in rad per metre, the weak prior on every
    correction (m and rad), and the Cauchy scale of the outlier weights (in sigmas)."""

    drift_rate: float = 0.01
    correlation_m: float = 40.0
    yaw_rate: float = float(np.deg2rad(0.002))
    prior_m: float = 10.0
    prior_rad: float = float(np.deg2rad(5.0))
    # Depth comes from a pressure sensor, which does not drift, and registration placed the survey
    # vertically: a vertical correction no fit fixes (a single side lane: the wall's slight tilt
    # ties its vertical to its well-fixed across) stays near zero instead of riding that tie.
    prior_vertical_m: float = 0.2
    outlier_scale: float = 3.0
    iterations: int = 6


@dataclass(frozen=True)
class Smoothed:
    """The solved corrections (N, 4) (heading rad, centre shift m) and each fit's final weight (N,)
    (1 for an agreeing fit, towards 0 for an outlier, 0 where there was no fit)."""

    x: F
    weights: F


def _cross_z(d: F) -> F:
    """d(Rz(theta) d)/d theta at 0: ez x d, (3,)."""
    return np.array([-d[1], d[0], 0.0])


def smooth_corrections(fits: list[SubmapFit], model: SmootherModel) -> Smoothed:
    """The corrections of all ``fits`` (in travel order) solved together; see the module docstring."""
    n = len(fits)
    if n == 0:
        return Smoothed(np.zeros((0, 4)), np.zeros(0))
    weights = np.array([1.0 if np.any(f.info) else 0.0 for f in fits])
    base, rhs_base = _structure(fits, model)
    x = np.zeros((n, 4))
    for _ in range(max(1, model.iterations)):
        info = block_diag([w * f.info for w, f in zip(weights, fits, strict=True)], format="csc")
        b = rhs_base + np.concatenate([w * f.info @ f.z for w, f in zip(weights, fits, strict=True)])
        x_new = np.asarray(spsolve(csc_matrix(base + info), b)).reshape(n, 4)
        new_w = _cauchy_weights(fits, x_new, model.outlier_scale)
        done = np.allclose(x_new, x, atol=1e-5) and np.allclose(new_w, weights, atol=1e-3)
        x, weights = x_new, new_w
        if done:
            break
    return Smoothed(x, weights)


def _structure(fits: list[SubmapFit], model: SmootherModel) -> tuple[csc_matrix, F]:
    """Normal equations of the drift model and the weak prior: sparse (4N, 4N), banded."""
    n = len(fits)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[F] = []

    def add(first: int, j: F, sigma: float) -> None:
        """Residual rows ``j`` (r, 4 m) over the states from ``first`` on, with noise ``sigma``."""
        idx = np.arange(4 * first, 4 * first + j.shape[1])
        blk = j.T @ j / sigma**2
        rows.append(np.repeat(idx, len(idx)))
        cols.append(np.tile(idx, len(idx)))
        vals.append(blk.ravel())

    for k in range(n):
        add(k, np.diag([1 / model.prior_rad, 1 / model.prior_m, 1 / model.prior_m, 1 / model.prior_vertical_m]), 1.0)
    steps = [_step(fits[k], fits[k + 1]) for k in range(n - 1)]
    for k, (j, dist) in enumerate(steps):
        # Position: the two corrections at the later centre differ by drift at a credible rate.
        add(k, j, model.drift_rate * dist)
        # Heading: theta_k - theta_{k+1} ~ N(0, (yaw rate dist)^2).
        add(k, np.array([[1.0, 0, 0, 0, -1.0, 0, 0, 0]]), model.yaw_rate * dist)
    for k in range(1, n - 1):
        # The drift velocity (the step per metre) is correlated over ``correlation_m`` of travel
        # (DVL drift is a velocity error): v_k - rho v_{k-1} ~ N(0, rate^2 (1 - rho^2)). Between
        # well-placed lane ends the correction is then interpolated rather than shrunk, and past
        # the last fit a trend dies out over the correlation distance instead of running on.
        (j0, d0), (j1, d1) = steps[k - 1], steps[k]
        rho = float(np.exp(-d1 / model.correlation_m))
        j = np.zeros((3, 12))
        j[:, 4:12] += j1 / d1
        j[:, 0:8] -= rho * j0 / d0
        add(k - 1, j, model.drift_rate * np.sqrt(max(1.0 - rho * rho, 1e-6)))
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(4 * n, 4 * n))
    return a.tocsc(), np.zeros(4 * n)


def _step(f0: SubmapFit, f1: SubmapFit) -> tuple[F, float]:
    """The change of the correction field from one submap to the next, evaluated at the later
    centre, as rows (3, 8) over both states: ``c0 + theta0 ez x (m1 - m0) - c1``; and the
    distance travelled between them (at least 1 m)."""
    j = np.zeros((3, 8))
    j[:, 0] = _cross_z(f1.centre - f0.centre)
    j[:, 1:4] = np.eye(3)
    j[:, 5:8] = -np.eye(3)
    return j, max(abs(f1.travelled - f0.travelled), 1.0)


def _cauchy_weights(fits: list[SubmapFit], x: F, scale: float) -> F:
    """Cauchy weights of the fits on their Mahalanobis distance from the solution, per degree of
    freedom the fit constrains: 1 within ``scale`` sigmas, falling as 1 / d^2 beyond."""
    w = np.zeros(len(fits))
    for k, f in enumerate(fits):
        if not np.any(f.info):
            continue
        e = x[k] - f.z
        dof = max(1, int(np.linalg.matrix_rank(f.info, tol=1e-9 * max(float(np.abs(f.info).max()), 1e-30))))
        d2 = float(e @ f.info @ e) / dof
        w[k] = 1.0 / (1.0 + d2 / scale**2)
    return w


def correction_matrix(centre: F, x: F) -> F:
    """The 4x4 nav-frame transform of a correction ``x`` (heading, centre shift) about ``centre``:
    ``p -> Rz(theta) (p - m) + m + c``."""
    c, s = np.cos(x[0]), np.sin(x[0])
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    t = np.eye(4)
    t[:3, :3] = rz
    t[:3, 3] = centre + x[1:4] - rz @ centre
    return t


@dataclass(frozen=True)
class AlongPosterior:
    """The smoother's posterior along one direction, per submap, before a measurement of the whole
    survey's mean shift along it is added (:func:`along_posterior`): ``var`` (N,) each submap's
    variance (m^2), ``cross`` (N,) its covariance with the mean shift, ``mean_var`` the mean
    shift's variance. Kept apart so that the registration that measures the mean shift can be
    the final one, made after drift correction."""

    var: F
    cross: F
    mean_var: float
    # What the weak prior alone says of the mean shift (m^-2: N submaps held to prior_m each).
    mean_hold: float = 0.0

    def sd(self, common_sigma_m: float | None = None) -> F:
        """1 sigma (m) per submap (N,), with the mean shift measured to ``common_sigma_m`` (m) when
        given: the rank-one update (A + c j j')^-1 = A^-1 - c A^-1 j j' A^-1 / (1 + c j' A^-1 j).

        The weak prior holds each submap near the registered placement, N times over (``prior_m``
        each, so the mean to prior_m / sqrt(N)). That keeps the solve well posed, but it is the
        registration again, not a measurement: with the registration's own figure ``s`` added, the
        prior's hold on the mean comes out, c = 1 / s^2 - ``mean_hold`` (what is left stays positive
        definite: the prior alone bounds j' A^-1 j by 1 / ``mean_hold``). Kept in, a tanker's flat
        bottom, ambiguous along the ship by 30 m, was stated to +/- 5.7 m (stop 50)."""
        var = self.var
        if common_sigma_m is not None:
            c = 1.0 / common_sigma_m**2 - self.mean_hold
            var = var - c * self.cross**2 / (1.0 + c * self.mean_var)
        return np.asarray(np.sqrt(np.maximum(var, 0.0)), np.float64)


def along_posterior(fits: list[SubmapFit], weights: F, model: SmootherModel, direction: F) -> AlongPosterior:
    """How well the solved corrections place every submap's centre along ``direction`` (3,).

    The normal matrix is the solve's: the drift model, the weak prior, and each fit's information
    times its final weight. Where no fit constrains the direction, the drift model carries it
    from the fits before and after, and the uncertainty grows with the distance travelled. A
    survey that no submap places along ``direction`` is held there only by the weak prior
    (metres), until the whole survey's registration is added as a measurement of the mean shift
    (:meth:`AlongPosterior.sd`); that measurement couples every submap, so it is kept as a rank-one
    term and the solves stay sparse (N solves of one LU)."""
    n = len(fits)
    if n == 0:
        return AlongPosterior(np.zeros(0), np.zeros(0), 0.0)
    base, _ = _structure(fits, model)
    info = block_diag([w * f.info for w, f in zip(weights, fits, strict=True)], format="csc")
    lu = splu(csc_matrix(base + info))
    u = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    # e[:, k]: the direction in submap k's shift, so var_k = e_k' A^-1 e_k; j: the mean shift.
    e = np.zeros((4 * n, n))
    for k in range(n):
        e[4 * k + 1: 4 * k + 4, k] = u
    x = lu.solve(e)
    j = e.sum(axis=1) / n
    # The weak prior's hold on each submap's shift along u (horizontal: prior_m; vertical:
    # prior_vertical_m), N of them on the mean shift: 1 / (u' P^-1 u), so that the prior alone bounds
    # j' A^-1 j by 1 / (N hold) exactly and the update in AlongPosterior.sd stays positive definite.
    hold = float(1.0 / ((u[0] ** 2 + u[1] ** 2) * model.prior_m**2 + u[2] ** 2 * model.prior_vertical_m**2))
    return AlongPosterior(np.einsum("ij,ij->j", e, x), x.T @ j, float(j @ lu.solve(j)), n * hold)
