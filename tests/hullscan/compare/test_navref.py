"""The drift-correction reference: a registered placement measures the survey's surface offset, and
submaps are aligned to the reference moved out by it."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.compare.config import CompareConfig
from hullscan.compare.navref import NavReference
from hullscan.compare.prior import DEFAULT_SIGMA, perturbed
from hullscan.compare.reference import mesh_reference
from hullscan.compare.synthetic import make_scan

from .conftest import HULL_TO_NAV


class _Survey:
    """A survey's returns (nav frame) as :class:`hullscan.recon.drift.SurveyReturns` gives them to
    the registration: the same points at every voxel size and head share (enough for it)."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = points

    def __len__(self) -> int:
        return 10

    def dense(self, size: float, head: int | None = None) -> np.ndarray:
        return self.points


def test_registration_measures_the_offset_and_the_submaps_meet_the_reference_moved_out_by_it(hull) -> None:
    s = make_scan(hull, (), spacing=0.06, hull_to_nav=HULL_TO_NAV, seed=8)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    ref = mesh_reference(hull, icp_spacing=0.05)
    _, _, n, _, _ = ref.signed_distance(hull_pts)  # outward
    survey = _Survey(HULL_TO_NAV.apply(hull_pts + 0.02 * n))  # 2 cm proud everywhere
    prior = perturbed(HULL_TO_NAV, hull_pts.mean(axis=0), 0.4, 0.2, 1.0)
    on = CompareConfig(alignment={"surface_offset": True})  # off by default since stop 47
    placed, _ = NavReference(ref, prior, "hull", DEFAULT_SIGMA, on).registered(survey)
    assert placed.surface_offset_m == pytest.approx(0.02, abs=0.004)
    # The submaps' target: the reference's closest points, moved out by the offset.
    q, nq, ok = placed.closest(survey.points[:500], 0.3)
    assert ok.mean() > 0.95
    r = np.einsum("ij,ij->i", survey.points[:500][ok] - q, nq)
    assert abs(float(np.median(r))) < 0.004
    off, _ = NavReference(ref, prior, "hull", DEFAULT_SIGMA, CompareConfig()).registered(survey)
    assert off.surface_offset_m == 0.0
