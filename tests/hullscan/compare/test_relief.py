"""A registration fixed along the ship by the reference relief the survey saw, where the plating
leaves it ambiguous (hullscan/compare/relief.py, stop 52): a lane past two anodes on a flat shell,
placed metres off by a prior, is put back; one anode-sized protrusion is not enough."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.align import Hypothesis, Registration, fix_along
from hullscan.compare.config import CompareConfig
from hullscan.compare.prior import DEFAULT_SIGMA
from hullscan.compare.relief import STATED_SIGMA_MIN_M
from hullscan.model import Transform

F = NDArray[np.float64]


def _shell(anodes: list[float], x0: float, x1: float, spacing: float) -> F:
    """A flat shell z = 0 over x in [x0, x1], y in [-2, 2], with anode tops (0.8 x 0.25 m, 8 cm
    proud) centred at ``anodes`` (x) on y = 0."""
    gx, gy = np.meshgrid(np.arange(x0, x1, spacing), np.arange(-2.0, 2.0, spacing), indexing="ij")
    p = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    for a in anodes:
        p[(np.abs(p[:, 0] - a) <= 0.4) & (np.abs(p[:, 1]) <= 0.125), 2] = 0.08
    return p


class _Plate:
    """A reference in the hull frame (the ``closest`` of :class:`hullscan.compare.reference.Reference`):
    the shell's samples, normals +z (the tops' sides are short)."""

    hull_frame = True

    def __init__(self, anodes: list[float]) -> None:
        self.p = _shell(anodes, -20.0, 40.0, 0.05)
        self.tree = cKDTree(self.p)

    def closest(self, points: F, within: float | None = None) -> tuple[F, F, NDArray[np.int64]]:
        _, i = self.tree.query(points)
        n = np.tile([0.0, 0.0, 1.0], (len(points), 1))
        foot = points - np.einsum("ij,ij->i", points - self.p[i], n)[:, None] * n
        return foot, n, np.asarray(i, np.int64)


def _ambiguous() -> Registration:
    hyp = Hypothesis(Transform(), "prior", 1.0, 0.01, 1e-4, 0.0, 0.0, 0.0, 0.0)
    return Registration(hyp, (hyp,), (), (-10.0, 10.0), {})


def test_a_lane_past_two_anodes_is_put_back_along_the_ship() -> None:
    # The lane (x 0..20) passed anodes at 5 and 15 m; the prior placed it 3.6 m further forward.
    rng = np.random.default_rng(3)
    seen = _shell([5.0, 15.0], 0.0, 20.0, 0.1)
    seen[:, 2] += rng.normal(0.0, 0.005, len(seen))
    nav = seen + np.array([3.6, 0.0, 0.0])  # nav = hull here, the survey off by the prior's error
    t, reg = fix_along(nav, _Plate([5.0, 15.0]), np.eye(4), _ambiguous(), DEFAULT_SIGMA, CompareConfig())
    assert abs(t[0, 3] + 3.6) < 0.05, t[0, 3]
    assert reg.relief is not None and reg.relief.features == 2 and not reg.along_ambiguous
    assert reg.along_range_m == (-reg.relief.sigma_m, reg.relief.sigma_m)
    # Stated to what such fixes are right to, not to the valley's centimetres.
    assert reg.relief.sigma_m == STATED_SIGMA_MIN_M > reg.relief.valley_sigma_m
    assert "+/-0.40 m at 2 sigma" in reg.relief.note()
    assert reg.as_dict()["relief"]["plating_range_m"] == [-10.0, 10.0]
    assert "fixed by 2 pieces of reference relief" in (reg.ambiguity_note() or "")


def test_one_protrusion_over_a_reference_anode_does_not_move_the_survey() -> None:
    # The lane saw no anode but a pack of an anode's size at 6 m; the reference's one anode within
    # the prior's range lies at 9 m. Laid over it the pack would vanish: one piece is not a position.
    seen = _shell([6.0], 0.0, 20.0, 0.1)
    t, reg = fix_along(seen, _Plate([9.0]), np.eye(4), _ambiguous(), DEFAULT_SIGMA, CompareConfig())
    assert np.array_equal(t, np.eye(4)) and reg.relief is None and reg.along_ambiguous
