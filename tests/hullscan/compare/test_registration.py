"""Registration from an operator's prior: capture range, ambiguity along a parallel midbody,
priors beyond the range, a flipped reference and half hulls."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.compare.align import (
    AlignmentFailed,
    _parabola_offset,
    align,
    check_upright,
    settle_along,
)
from hullscan.compare.config import CompareConfig
from hullscan.compare.prior import DEFAULT_SIGMA, perturbed
from hullscan.compare.reference import mesh_reference
from hullscan.compare.synthetic import make_hull, make_scan
from hullscan.errors import AlignmentError
from hullscan.model import Transform

from .conftest import HULL_TO_NAV

CORNERS = [(5.0, 2.0, 10.0), (-5.0, -2.0, -10.0), (5.0, -2.0, -10.0), (-5.0, 2.0, 10.0), (0.0, 0.0, 0.0)]


def _error(fit: Transform, truth: Transform, at: np.ndarray) -> tuple[float, float]:
    """Placement error of a fit (reference <- nav) against the truth (nav <- hull) at ``at`` (hull)."""
    d = fit @ truth  # identity when the fit is right
    return float(np.linalg.norm(d.apply(at) - at)), float(np.rad2deg(np.linalg.norm(d.rot.as_rotvec())))


@pytest.fixture(scope="module")
def ref(hull):
    return mesh_reference(hull, icp_spacing=0.1)


@pytest.mark.parametrize("along, across, heading", CORNERS)
def test_converges_from_every_corner_of_the_capture_range(ref, scan, along, across, heading) -> None:
    pts = np.asarray(scan.cloud.points, float)
    pivot = HULL_TO_NAV.inverse().apply(pts.mean(axis=0))
    prior = perturbed(HULL_TO_NAV, pivot, along, across, heading)
    a = align(pts, ref, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)
    err_m, err_deg = _error(a.transform, HULL_TO_NAV, pivot)
    assert err_m < 0.05 and err_deg < 0.1, (err_m, err_deg)
    assert a.registration is not None and not a.registration.along_ambiguous


def test_prior_beyond_the_capture_range_says_how_far_off(ref, scan) -> None:
    pts = np.asarray(scan.cloud.points, float)
    pivot = HULL_TO_NAV.inverse().apply(pts.mean(axis=0))
    far = perturbed(HULL_TO_NAV, pivot, 0.0, 0.0, 60.0)
    with pytest.raises(AlignmentFailed, match="outside the capture range") as err:
        align(pts, ref, CompareConfig(), prior=far.inverse(), sigma=DEFAULT_SIGMA)
    msg = str(err.value)
    assert "deg in heading from the prior" in msg and "Check the ship heading" in msg
    assert "units" not in msg


@pytest.fixture(scope="module")
def midbody():
    """A long parallel midbody's reference, and the port side and bilge of a scan of its middle
    (cloud frame, hull frame): nothing there fixes the position along the ship."""
    long = make_hull(length=60.0, beam=8.0, draft=3.0, n_x=121, n_s=33, fullness=16.0, sea_chest=False)
    s = make_scan(long, (), spacing=0.08, hull_to_nav=HULL_TO_NAV, seed=4)
    hull_pts = HULL_TO_NAV.inverse().apply(np.asarray(s.cloud.points, float))
    keep = (np.abs(hull_pts[:, 0] - 30.0) < 9.0) & (hull_pts[:, 1] > 1.0)
    return mesh_reference(long, icp_spacing=0.1), np.asarray(s.cloud.points, float)[keep], hull_pts[keep]


def test_parallel_midbody_seen_from_one_side_is_reported_ambiguous(midbody) -> None:
    r, pts, hull_pts = midbody
    pivot = hull_pts.mean(axis=0)
    prior = perturbed(HULL_TO_NAV, pivot, 3.0, 0.5, 2.0)
    a = align(pts, r, CompareConfig(), prior=prior.inverse(), sigma=DEFAULT_SIGMA)
    reg = a.registration
    assert reg is not None and reg.along_ambiguous
    assert a.ambiguity_note is not None and "ambiguous" in a.ambiguity_note
    # The truth lies inside the reported range: the fit slid by the prior's error or less.
    d = (a.transform @ HULL_TO_NAV).apply(pivot) - pivot
    lo, hi = reg.along_range_m
    assert lo - 0.5 <= -d[0] <= hi + 0.5, (d, reg.along_range_m)


def test_upright_check_refuses_a_fit_that_turns_the_hull_over(ref) -> None:
    check_upright(np.eye(4), ref)
    flipped = Transform.from_euler(np.pi, 0.0, 0.0).as_matrix()
    with pytest.raises(AlignmentError, match="--up"):
        check_upright(flipped, ref)


def test_settling_along_the_ship_reaches_a_minimum_beyond_its_near_window(ref, scan) -> None:
    # The coarse fit sees half-metre voxels and can stop metres from the fine minimum: the settle
    # scans the prior's whole along-ship range, not only +/- along_settle_m about the fit.
    pts = np.asarray(scan.cloud.points, float)
    truth = HULL_TO_NAV.inverse().as_matrix()  # reference <- cloud
    off = truth.copy()
    off[0, 3] += 3.0
    cfg = CompareConfig()
    assert cfg.alignment.registration.along_settle_m < 3.0
    t, (lo, hi) = settle_along(pts, ref, off, DEFAULT_SIGMA, cfg)
    assert abs(t[0, 3] - truth[0, 3]) < 0.05, t[0, 3] - truth[0, 3]
    assert hi - lo < 1.0


def test_parabola_places_the_minimum_between_scan_steps() -> None:
    step, vertex = 0.1, 0.037
    left, mid, right = ((x - vertex) ** 2 + 1.0 for x in (-step, 0.0, step))
    assert _parabola_offset(left, mid, right, step) == pytest.approx(vertex)
    assert _parabola_offset(1.0, 1.0, 1.0, step) == 0.0  # flat: stay
    assert _parabola_offset(1.0, 2.0, 1.0, step) == 0.0  # a maximum: stay


def test_settling_a_registered_prior_stays_within_its_range(midbody) -> None:
    # A prior that is already a registration (drift correction's, +/- 0.5 m along) is refined
    # where it is: along a parallel midbody the cost is flat, and walking it off further would
    # end in "prior outside the capture range".
    from hullscan.compare.prior import PriorSigma

    r, pts, _ = midbody
    start = HULL_TO_NAV.inverse().as_matrix()
    start[0, 3] += 1.2  # looks as good as the truth here
    registered = PriorSigma(along_m=0.5, across_m=0.3, vertical_m=0.2, heading_deg=1.0)
    t, _ = settle_along(pts, r, start, registered, CompareConfig())
    assert abs(t[0, 3] - start[0, 3]) <= 0.75 + 0.05 + 1e-9
