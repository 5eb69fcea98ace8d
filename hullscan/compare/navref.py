"""The drift-correction reference: a reference surface placed in the navigation frame.

Reconstruction aligns its submaps to it (:func:`hullscan.recon.drift.correct_drift` takes any
:class:`hullscan.recon.drift.SurfaceReference`); it is built here, downstream, because placing it
uses the comparison's registration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.align import (
    fix_along,
    proud_at,
    register_prior,
    robust_icp,
    settle_along,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.loading import load_prior, load_reference
from hullscan.compare.prior import REGISTERED_SIGMA
from hullscan.compare.reference import mesh_reference, scan_reference
from hullscan.errors import HullscanError
from hullscan.model import HullCloud, Transform
from hullscan.recon.config import DriftConfig
from hullscan.recon.drift import SurveyReturns


@dataclass(frozen=True, eq=False)
class NavReference:
    """A reference surface (hullscan.compare Reference, in its own frame) placed in the
    navigation frame by the prior ``hull_to_nav`` (nav <- hull).

    ``sigma`` (a :class:`hullscan.compare.prior.PriorSigma`) is the prior's uncertainty: the
    placement is then searched (:meth:`registered`) before the submaps are aligned to it. None
    means the placement is already registered.
    """

    reference: Any
    hull_to_nav: Transform
    name: str
    sigma: Any = None
    compare_config: Any = None
    # How well the registration fixed the survey along the ship (1 sigma, m): None until
    # :meth:`registered`, or when the placement came already registered.
    along_sd_m: float | None = None
    # How far the survey's plating reads proud of the reference everywhere alike (m;
    # hullscan.compare.align.surface_offset), measured by :meth:`registered`: the submaps are
    # aligned to the reference moved out by it, so that no submap trades it for a shift along a taper.
    surface_offset_m: float = 0.0

    def registered(self, survey: SurveyReturns, early: float = 0.25) -> tuple[NavReference, Any]:
        """This reference placed by a multi-hypothesis registration of the (uncorrected) survey's
        returns (nav frame, in time order) from the prior; returns it and the :class:`Registration`.

        The whole survey fixes the heading and the position as well as its geometry allows, but a
        drifting survey fits only as a compromise; the submaps are aligned from the start, where
        dead reckoning has not drifted yet, so the placement is then refined on the first
        ``early`` share of the survey (directions that part does not constrain keep the whole
        survey's value)."""
        cfg = self.compare_config or CompareConfig()
        dense = survey.dense(0.25)
        reg = register_prior(dense, self.reference, self.hull_to_nav.inverse(), self.sigma, cfg, metric=False)
        t, _ = settle_along(dense, self.reference, reg.best.transform.as_matrix(), self.sigma, cfg,
                            ambiguity=False)
        first = survey.dense(cfg.alignment.voxel_m, head=max(1, int(early * len(survey))))
        if len(first) > 20000:
            first = first[np.sort(np.random.default_rng(cfg.seed).choice(len(first), 20000, replace=False))]
        if len(first) >= 200:
            # In radians, as the registration above: a side seen alone fixes depth barely above the
            # threshold in metres, and one of turbid_water's priors went 0.38 m deep; the position
            # along the ship is the comparison's to settle (stop 47).
            t, _, _ = robust_icp(first, self.reference, t, (1.0, 0.5, *cfg.alignment.icp_schedule_m), cfg.alignment.tukey_k_m,
                                 cfg.alignment.icp_max_iter, upright=True, offset=cfg.alignment.surface_offset,
                                 metric=False)
        proud = proud_at(first, self.reference, t, cfg) if len(first) >= 200 else 0.0
        if self.sigma is not None:
            # Where the plating leaves the position along the ship open, the relief seen may fix it.
            t, reg = fix_along(survey.dense(cfg.alignment.voxel_m), self.reference, t, reg, self.sigma, cfg, proud)
            if reg.relief is not None:
                # Seen before drift correction, whose lanes may lie decimetres apart along the ship, the
                # relief places the survey to the comparison's check of the corrected cloud
                # (REGISTERED_SIGMA), which measures it again there: held to its own 0.1 m, the
                # corrected cloud of partial_coverage stayed 0.34-0.45 m off along the ship.
                reach = max(reg.relief.sigma_m, REGISTERED_SIGMA.along_m)
                reg = replace(reg, along_range_m=(-reach, reach))
        along_sd = reg.along_sd_m(cfg.alignment.registration.along_settle_step_m)
        return replace(self, hull_to_nav=Transform.from_matrix(t).inverse(), sigma=None, along_sd_m=along_sd,
                       surface_offset_m=proud), reg

    def closest(self, p: NDArray[np.float64], dist: float
                ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """:data:`Closest` for :func:`align_submap`: closest reference surface points (nav frame),
        moved out along their normals by :attr:`surface_offset_m`."""
        rot = self.hull_to_nav.rot.as_matrix()
        tr = self.hull_to_nav.translation
        ph = (p - tr) @ rot
        c, n, _ = self.reference.closest(ph)
        c = c + self.surface_offset_m * n
        ok = np.linalg.norm(ph - c, axis=1) < dist
        return c[ok] @ rot.T + tr, n[ok] @ rot.T, ok

    def along(self) -> tuple[NDArray[np.float64], float | None] | None:
        """The ship's along axis (the reference's hull x) in the navigation frame and the
        registration's along-ship sigma; None for a reference outside the hull frame."""
        if not getattr(self.reference, "hull_frame", False):
            return None
        return np.asarray(self.hull_to_nav.rot.apply([1.0, 0.0, 0.0]), np.float64), self.along_sd_m

    def cost(self, p: NDArray[np.float64], c: float) -> float:
        """Mean truncated squared point-to-plane distance to the reference (as :func:`overlap_cost`)."""
        q, n, ok = self.closest(p, c)
        r = np.full(len(p), c)
        r[ok] = np.minimum(np.abs(((p[ok] - q) * n).sum(1)), c)
        return float(np.mean(r**2))


def nav_reference(obj: Any, prior: Transform | None, source: str, sigma: Any = None,
                  compare_config: Any = None) -> NavReference:
    """A loaded reference (``HullMesh`` or earlier ``HullCloud``) placed in the navigation frame.

    A design mesh is in the hull frame and needs the prior ``hull_to_nav``; an earlier hullscan
    cloud is taken to be in this survey's navigation frame unless ``prior`` says otherwise.
    Raises HullscanError naming ``source``.
    """
    name = Path(source).name
    if isinstance(obj, HullCloud):
        return NavReference(scan_reference(obj, name=name), prior or Transform(), name,
                            sigma if prior is not None else None, compare_config)
    if prior is None:
        raise HullscanError(f"{source}: a design mesh is in the hull frame; drift correction against "
                            "it needs the navigation prior (--prior FILE, recon.drift.hull_to_nav; see docs/prior.md)")
    return NavReference(mesh_reference(obj), prior, name, sigma, compare_config)


def load_drift_reference(cfg: DriftConfig) -> NavReference | None:
    """The reference file of ``cfg`` in the navigation frame (None without one); see
    :func:`nav_reference`. Raises HullscanError naming the file."""
    if cfg.reference is None:
        return None
    ref = load_reference(cfg.reference, cfg.reference_units)
    prior = load_prior(cfg.hull_to_nav)
    if prior is None:
        return nav_reference(ref, None, cfg.reference)
    # The prior is read in the reference file's own frame, and searched over its uncertainty.
    return nav_reference(ref, prior.hull_to_nav(getattr(ref, "ref_from_hull", None)), cfg.reference,
                         sigma=prior.search)
