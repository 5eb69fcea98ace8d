"""Predicted coverage of planned lanes: the planned pings ray cast against the reference, the cells
the returns would make given the uncertainty the comparator's configured model would give them, and
the comparator's clearance rule (:func:`hullscan.compare.analysis.clearing_cells`) applied.

- **Estimated model** (the comparator's default): a cell's uncertainty is the cloud's own sigma (at
  least 1 cm), taken as that of the height the detector judges (``random: mean``: a cell's mean of
  its points, the median of about nine cells) or as a single return's (``random: point``), with the
  local systematic allowance (``systematic: local``, ``systematic_m``) or the survey's alignment
  residual (``systematic: alignment``) added, and scaled by the self-calibration scale surveys get
  (``self_calibrate``). The cloud's sigma, the residual and the scale are predicted from the planned
  returns with constants fitted on plan checks of other hulls (:mod:`hullscan.plan.calibration`); the
  residual can be given instead (``alignment_m``).
- **Sonar model** (a trial): each return's incidence and range turned into its height uncertainty
  (:func:`hullscan.compare.uncertainty.point_sigma`). What geometry alone cannot say is stated as a
  planning allowance: the survey's systematic error (lane offsets from drifting navigation, the terms
  ``make_cells`` reads from the cloud's own scatter) is ``systematic_m``, added to the model's term like
  the comparator adds its measured ones (``systematic: local`` in the estimated model uses it too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.analysis import (
    ANALYSIS_CELL_M,
    ESTIMATED_LEAST_SIGMA_M,
    Cells,
    clearing_cells,
    relief_hides,
    shell_normals,
)
from hullscan.compare.config import CompareConfig, UncertaintyConfig
from hullscan.compare.reference import Reference
from hullscan.compare.uncertainty import FWHM_PER_SIGMA, leading_edge_bias, point_sigma
from hullscan.plan import SYSTEMATIC_ALLOWANCE_M
from hullscan.plan.calibration import CALIBRATION, PlanCalibration
from hullscan.plan.sonar import SonarProfile

F64 = NDArray[np.float64]
# The sea surface in the hull frame: sound does not cross it (the simulator stops rays at 2 cm).
SEA_SURFACE_Z = 0.0
# A cell's neighbourhood median (smooth_radius 8 cm over 5 cm cells) takes about this many cells.
NEIGHBOUR_CELLS = 9
# The median of n values is 1.2533 / sqrt(n) as certain as one (make_cells uses the same factor).
MEDIAN_EFFICIENCY = 1.2533
# Samples whose normals differ by more than 60 degrees are on other faces (a thin plate's far side,
# a recess wall next to the plating): the comparator judges them by the same nearby cells.
OTHER_FACE_COS = 0.5


def judged_height_sigma(sigma: F64, density: F64, voxel_m: float, floor_m: float) -> F64:
    """The uncertainty (m) of the height make_cells judges where points of ``sigma`` (m) lie at
    ``density`` returns per m²: a 5 cm cell averages the voxel map's points in it (one per occupied
    voxel), and the neighbourhood median takes about nine such cells (fewer where cells are missing),
    with ``floor_m``. Shapes (N,)."""
    cell = ANALYSIS_CELL_M
    points_per_cell = (cell / voxel_m) ** 2 * (1.0 - np.exp(-density * voxel_m**2))
    p_cell = 1.0 - np.exp(-density * cell**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cell_sigma = sigma / np.sqrt(np.maximum(points_per_cell, 1.0))
    n_nb = np.clip(NEIGHBOUR_CELLS * p_cell, 1.0, NEIGHBOUR_CELLS)
    return np.asarray(np.hypot(MEDIAN_EFFICIENCY * cell_sigma / np.sqrt(n_nb), floor_m), np.float64)


@dataclass(frozen=True)
class Accumulation:
    """What a set of pings leaves on the reference samples: returns per sample (``returns``, real
    returns, not cast rays), the sum of their inverse variances (``inv_var``, 1/m²), and the sums over
    them of the georeferencing terms that set the cloud's own sigma (m²): the range noise
    (``range_var``), the beam footprint across the beam (``footprint_var``) and the range noise along
    the surface normal (``normal_var``); and the sum of their leading-edge biases (``bias``, m: how far
    proud of the plating a first arrival lies, :func:`hullscan.compare.uncertainty.leading_edge_bias`)."""

    returns: F64
    inv_var: F64
    range_var: F64
    footprint_var: F64
    normal_var: F64
    bias: F64

    def __add__(self, other: Accumulation) -> Accumulation:
        return Accumulation(self.returns + other.returns, self.inv_var + other.inv_var,
                            self.range_var + other.range_var, self.footprint_var + other.footprint_var,
                            self.normal_var + other.normal_var, self.bias + other.bias)

    @staticmethod
    def zeros(n: int) -> Accumulation:
        return Accumulation(*(np.zeros(n) for _ in range(6)))


def beam_directions(profile: SonarProfile, n_beams: int) -> F64:
    """Unit beam directions (R, 3) in the vehicle frame (x forward, y left, z up), mounted as the
    simulator mounts its heads: the look direction ``tilt_deg`` up from the left, the fan across the
    hull (profiler) or along it (imaging)."""
    t = np.radians(profile.tilt_deg)
    look = np.array([0.0, np.cos(t), np.sin(t)])
    fan_axis = np.array([0.0, -np.sin(t), np.cos(t)]) if profile.fan == "across" else np.array([1.0, 0.0, 0.0])
    half = np.radians(profile.swath_deg) / 2.0
    a = np.linspace(-half, half, n_beams)
    return np.asarray(np.cos(a)[:, None] * look + np.sin(a)[:, None] * fan_axis)


def ping_poses(waypoints: F64, spacing: float) -> tuple[F64, F64]:
    """Positions (P, 3) every ``spacing`` metres along a polyline and the yaw (P,) of the heading."""
    seg = np.diff(waypoints, axis=0)
    seg_len = np.linalg.norm(seg, axis=1)
    s_nodes = np.concatenate([[0.0], np.cumsum(seg_len)])
    if s_nodes[-1] <= 0:
        return np.zeros((0, 3)), np.zeros(0)
    s = np.arange(0.5 * spacing, s_nodes[-1], spacing)
    pos = np.stack([np.interp(s, s_nodes, waypoints[:, i]) for i in range(3)], axis=1)
    k = np.clip(np.searchsorted(s_nodes, s, side="right") - 1, 0, len(seg) - 1)
    yaw = np.arctan2(seg[k, 1], seg[k, 0])
    return pos, yaw


class Predictor:
    """Ray casts lanes against a reference and judges the samples' clearance like the comparator.

    ``ping_spacing_m`` and ``max_beams`` thin the cast (each cast ray stands for the real returns it
    replaces, so densities are the real ones): planning must stay within a minute."""

    def __init__(self, reference: Reference, profile: SonarProfile, config: CompareConfig, *,
                 speed_mps: float, voxel_m: float = 0.02, systematic_m: float = SYSTEMATIC_ALLOWANCE_M,
                 ping_spacing_m: float = 0.15, max_beams: int = 128, alignment_m: float | None = None,
                 calibration: PlanCalibration = CALIBRATION) -> None:
        self.reference = reference
        self.alignment_m = alignment_m
        self.cloud_sigma = calibration.cloud_sigma
        self.alignment_model = calibration.alignment
        self.expected_scale = calibration.scale
        self.profile = profile
        self.config = config
        self.voxel_m = voxel_m
        self.systematic_m = systematic_m
        self.ping_spacing_m = ping_spacing_m
        self.speed_mps = speed_mps
        self.n_beams = min(profile.beams, max_beams)
        self.dirs = beam_directions(profile, self.n_beams)
        # The profile's own noise and beam, the comparator's other uncertainty settings.
        self.uncertainty: UncertaintyConfig = config.uncertainty.model_copy(update={
            "range_sigma_m": profile.range_sigma_m, "range_sigma_per_m": profile.range_sigma_per_m,
            "beam_width_deg": min(profile.beam_width_deg, 45.0)})
        self.samples = reference.samples
        self.tree = cKDTree(self.samples) if len(self.samples) else None
        self._pairs: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
        self._relief: dict[float, NDArray[np.bool_]] = {}
        self._shell = np.zeros((0, 3))
        # On a thin plate (bilge keels, blades) the comparator clears nothing, whatever the survey.
        self.thin = reference.thin_samples(config.coverage.thin_plate_m)
        self.rays_cast = 0

    def describe(self) -> str:
        """The model the prediction uses, in words (plan.json's ``predicted.model``)."""
        if self.uncertainty.model == "sonar":
            return ("compare.uncertainty sonar model (point_sigma) and the comparator's clearing rule, with a "
                    f"systematic allowance of {self.systematic_m:g} m for the survey's lane offsets")
        c = self.cloud_sigma
        a = self.alignment_model
        extra = (f"the local systematic allowance of {self.systematic_m:g} m" if self.uncertainty.systematic == "local"
                 else f"the survey's alignment residual, given as {self.alignment_m:g} m" if self.alignment_m is not None
                 else f"the survey's alignment residual predicted from the spread of the returns' leading-edge bias "
                      f"(x {a.bias_gain:.3f}, with a floor of {a.floor_m:.4f} m)")
        return ("compare.uncertainty estimated model (the comparator's default) and its clearing rule: the cloud's own "
                f"sigma as the reconstruction would set it from the planned returns (plane window {c.window_m2:g} m², "
                f"navigation {c.navigation_m:.4f} m, normal gain {c.normal_gain:.3f}, lane scatter {c.lane_scatter_m:.4f} m; "
                f"hullscan/plan/calibration.py), at least {ESTIMATED_LEAST_SIGMA_M:g} m, with {extra}"
                + (", taken as the judged height's (random: mean: a cell's mean of its points, the median of about "
                   "nine cells)" if self.uncertainty.random == "mean" else "")
                + (f", scaled x {self.expected_scale:g} (the self-calibration scale the plan checks got: the survey's "
                   "own scatter sets it)" if self.uncertainty.self_calibrate else ""))

    def returns_per_ray(self, speed_mps: float) -> float:
        real_spacing = speed_mps / self.profile.ping_rate_hz
        return (self.ping_spacing_m / real_spacing) * (self.profile.beams / self.n_beams)

    def cast(self, waypoints: F64, speed_mps: float | None = None) -> Accumulation:
        """The returns a lane flown along ``waypoints`` (hull frame) leaves on each sample."""
        n = len(self.samples)
        acc = Accumulation.zeros(n)
        pos, yaw = ping_poses(np.asarray(waypoints, float), self.ping_spacing_m)
        if not len(pos) or self.tree is None or self.reference._scene is None:
            return acc
        import open3d.core as o3c

        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.zeros((len(yaw), 3, 3))
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1.0
        d = np.einsum("pij,rj->pri", rot, self.dirs).reshape(-1, 3)
        o = np.repeat(pos, len(self.dirs), axis=0)
        rays = np.concatenate([o, d], axis=1).astype(np.float32)
        ans = self.reference._scene.cast_rays(o3c.Tensor(rays))  # type: ignore[call-overload]
        self.rays_cast += len(rays)
        t = ans["t_hit"].numpy().astype(np.float64)
        nrm = ans["primitive_normals"].numpy().astype(np.float64)
        ok = np.isfinite(t) & (t >= self.profile.range_min_m) & (t <= self.profile.range_max_m)
        hit = o[ok] + d[ok] * t[ok, None]
        cosi = np.abs(np.einsum("ij,ij->i", nrm[ok], d[ok]))
        inc = np.degrees(np.arccos(np.clip(cosi, 0.0, 1.0)))
        keep = (hit[:, 2] < SEA_SURFACE_Z) & (inc <= self.profile.max_incidence_deg)
        hit, inc, rng, dk, cosi = hit[keep], inc[keep], t[ok][keep], d[ok][keep], cosi[keep]
        if not len(hit):
            return acc
        # A return belongs to the nearest sample on the face it met: on a thin plate (a rudder, a
        # bilge keel) the samples of the far face are as near, but face away from the sonar.
        dist, nbr = self.tree.query(hit, k=8, distance_upper_bound=self.config.coverage.coverage_cell_m)
        fin = np.isfinite(dist)
        nbr_c = np.where(fin, nbr, 0)
        facing = fin & (np.einsum("nkj,nj->nk", self.reference.sample_normals[nbr_c], dk) < 0)
        on = facing.any(axis=1)
        idx = nbr_c[np.arange(len(hit)), np.argmax(facing, axis=1)][on]
        r = rng[on]
        sig = point_sigma(inc[on], r, self.uncertainty)
        w = self.returns_per_ray(self.speed_mps if speed_mps is None else speed_mps)
        # The terms georeferencing gives each return (hullscan.core.georef): range noise, and the
        # footprint across the beam (the -3 dB width as a Gaussian sigma).
        range_sigma = self.profile.range_sigma_m + self.profile.range_sigma_per_m * r
        footprint = r * np.radians(self.profile.beam_width_deg) / FWHM_PER_SIGMA

        def total(weights: F64) -> F64:
            return np.bincount(idx, weights=w * weights, minlength=n).astype(np.float64)

        return Accumulation(np.bincount(idx, minlength=n).astype(np.float64) * w, total(1.0 / np.maximum(sig, 1e-4) ** 2),
                            total(range_sigma**2), total(footprint**2), total((range_sigma * cosi[on]) ** 2),
                            total(leading_edge_bias(inc[on], r, self.uncertainty.beam_width_deg)))

    def cell_uncertainty(self, acc: Accumulation) -> tuple[NDArray[np.bool_], F64]:
        """(seen, uncertainty): whether enough cells would lie near each sample to judge it (the
        comparator's coverage_min_points within coverage_radius_m), and the uncertainty of the cells
        there, as ``make_cells`` forms it from the points' model sigmas."""
        cov = self.config.coverage
        density = acc.returns / max(self.reference.sample_area, 1e-9)  # returns per m²
        cell = ANALYSIS_CELL_M
        # A cell exists where a return falls in it; the cloud has a point per occupied voxel.
        p_cell = 1.0 - np.exp(-density * cell**2)
        cells_near = np.pi * cov.coverage_radius_m**2 / cell**2 * p_cell
        seen = cells_near >= cov.coverage_min_points
        unc = self._sonar_model(acc, density, p_cell) if self.uncertainty.model == "sonar" \
            else self._estimated_model(acc, density, self.alignment_residual(acc, seen))
        # Unseen samples get a huge but finite uncertainty (inf overflows in the rule's product).
        return seen, np.where(seen & np.isfinite(unc), unc, 1e6)

    def _sonar_model(self, acc: Accumulation, density: F64, p_cell: F64) -> F64:
        """make_cells' sonar model: each cell the inverse-variance mean of its points' model sigmas,
        then the neighbourhood median of about nine cells, with the systematic allowance."""
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.sqrt(acc.returns / acc.inv_var)  # a return's sigma (inverse-variance mean)
        model = judged_height_sigma(sigma, density, self.voxel_m, 0.0)
        scale = max(self.uncertainty.scale_limits[0], 1.0)
        return np.asarray(scale * np.sqrt(model**2 + self.systematic_m**2 + self.uncertainty.floor_m**2), np.float64)

    def alignment_residual(self, acc: Accumulation, seen: NDArray[np.bool_]) -> float:
        """The survey's alignment residual (m) the estimated model will add: as given, or predicted
        from the leading-edge bias of the returns at the ``seen`` samples (:mod:`hullscan.plan.calibration`)."""
        if self.alignment_m is not None:
            return self.alignment_m
        has = seen & (acc.returns > 0)
        return self.alignment_model.residual(acc.bias[has] / acc.returns[has])

    def _estimated_model(self, acc: Accumulation, density: F64, alignment_m: float) -> F64:
        """make_cells' estimated model (the comparator's default): the cloud's own sigma, as the
        reconstruction would set it from these returns (:mod:`hullscan.plan.calibration`), at least
        1 cm, taken as a single return's (``random: point``) or as that of the height the detector
        judges (``random: mean``: each cell's mean of its points, then the median of about nine
        cells), with the local systematic allowance (``systematic: local``) or the alignment's
        residual (``systematic: alignment``) added; self-calibrated by the scale the plan checks got."""
        with np.errstate(divide="ignore", invalid="ignore"):
            def mean(total: F64) -> F64:
                return np.asarray(np.where(acc.returns > 0, total / acc.returns, 0.0), np.float64)

            sigma = self.cloud_sigma.sigma(density, mean(acc.range_var), mean(acc.footprint_var), mean(acc.normal_var))
        systematic = self.systematic_m if self.uncertainty.systematic == "local" else alignment_m
        sigma = np.maximum(sigma, ESTIMATED_LEAST_SIGMA_M)
        if self.uncertainty.random == "mean":
            sigma = judged_height_sigma(sigma, density, self.voxel_m, self.uncertainty.floor_m)
        unc = np.hypot(sigma, systematic)
        if self.uncertainty.self_calibrate:
            lo, hi = self.uncertainty.scale_limits
            unc = unc * float(np.clip(self.expected_scale, lo, hi))
        return np.asarray(unc, np.float64)

    def clearance(self, acc: Accumulation, heights: tuple[float, ...]) -> tuple[NDArray[np.bool_], dict[float, NDArray[np.bool_]]]:
        """(seen, {height: cleared}) per sample, by the comparator's :func:`clearing_cells` and its
        neighbourhood rule (:func:`hullscan.compare.analysis.clearance`): a sample is judged by the
        cells within ``coverage_radius_m`` of it, whichever face they lie on, and is cleared when most
        of them clear. Without the other faces, samples on the far face of a thin plate (bilge keels)
        and on recess walls next to a seen rim (sea chests) were predicted uncleared that a survey
        clears."""
        seen, unc = self.cell_uncertainty(acc)
        cells = _pseudo_cells(self.samples, seen, unc)
        direct = {h: clearing_cells(cells, self.config, h)[1] & seen for h in heights}
        i, j = self._neighbours()
        keep = seen[j]
        i, j = i[keep], j[keep]
        n = np.bincount(i, minlength=len(seen))
        pooled = n >= 1
        return pooled, {h: pooled & (2 * np.bincount(i, weights=direct[h][j], minlength=len(seen)) >= n)
                        & ~self.relief(h) & ~self.thin for h in heights}

    def relief(self, height: float) -> NDArray[np.bool_]:
        """Samples beside relief of the reference's own that a compartment ``height`` tall reads as
        (:func:`hullscan.compare.analysis.relief_hides`): the comparator clears them for no survey.
        A property of the reference alone, so made once per height."""
        if height not in self._relief:
            normals = self.reference.sample_normals
            if not self._relief:
                self._shell = shell_normals(self.samples, normals)
            self._relief[height] = relief_hides(self.reference, self.samples, normals, self._shell, height, self.config)
        return self._relief[height]

    def _neighbours(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Every (sample, sample within coverage_radius_m) pair, itself included; made once."""
        if self._pairs is None:
            if self.tree is None:
                self._pairs = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            else:
                # scipy lists each sample with itself (distance 0) among the pairs. Only other faces
                # count: along one face, the cell density at the sample already says how many cells
                # lie near it (cell_uncertainty), and counting its neighbours again over-predicts.
                m = self.tree.sparse_distance_matrix(self.tree, self.config.coverage.coverage_radius_m,
                                                     output_type="ndarray")
                i, j = m["i"].astype(np.int64), m["j"].astype(np.int64)
                nrm = self.reference.sample_normals
                other_face = np.einsum("ij,ij->i", nrm[i], nrm[j]) < OTHER_FACE_COS
                keep = (i == j) | other_face
                self._pairs = (i[keep], j[keep])
        return self._pairs


def _pseudo_cells(points: F64, seen: NDArray[np.bool_], unc: F64) -> Cells:
    """Cells standing for what the planned survey would leave at each sample: judged where seen,
    confident, with the predicted uncertainty (the rest of the fields are not read by the rule)."""
    n = len(points)
    z = np.zeros(n)
    zi = np.zeros(n, np.int64)
    return Cells(points=points, count=np.ones(n, np.int64), sigma=z, confidence=np.ones(n), of_point=zi, d=z,
                 base=points, normal=np.zeros((n, 3)), ref_id=zi, smooth=z, baseline=z, residual=z, zscore=z,
                 judged=np.asarray(seen, bool), uncertainty=np.asarray(unc, float), uncertainty_model="sonar")


def fractions(mask: NDArray[np.bool_]) -> float:
    return float(mask.mean()) if len(mask) else 0.0


