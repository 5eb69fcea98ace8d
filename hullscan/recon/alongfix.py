"""A submap's position along the ship from the reference relief it saw (anodes, a taper's edge).

Point-to-plane ICP sees along-ship position only through surface whose normal has a component
along the ship: on a parallel midbody that is an anode's two end faces, 0.02 m^2 against the 60 m^2
of plating a 10 m submap holds, below any eigenvalue threshold that keeps ICP stable. Yet the
anode's top face says as much: shifted along the ship by the wrong amount, the 8 cm-proud top of
the seen anode lies over bare plating of the reference and the plating beside it over the
reference's anode. Point-to-plane linearisation cannot see that (the top's normal is across the
ship); the distance itself can. So each submap, at its solved correction, is slid along the ship
through a range of shifts and the robust distance of its points to the reference evaluated at
each (a 1-D profile): a clear, single minimum is a measurement of the submap's along-ship position,
added to the smoother with the width of the minimum as its uncertainty; a flat or many-minimum
profile (plain plating, a row of identical features) is no measurement.

Only points whose distance changes with the shift carry the measurement; they are found on a
coarse profile first, so plain plating costs one coarse pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Closest = Callable[[F64, float], tuple[F64, F64, NDArray[np.bool_]]]


@dataclass(frozen=True)
class AlongFix:
    """A submap's along-ship shift measured from the reference relief: ``shift_m`` to add along
    the ship's axis to its solved correction, its 1 sigma ``sigma_m``, the points that carried it
    and the profile's depth (robust cost units: roughly points moved on or off the relief)."""

    shift_m: float
    sigma_m: float
    n_points: int
    depth: float
    on_share: float = 1.0


@dataclass(frozen=True)
class AlongFixParams:
    """How the profile is searched and judged: the half range and step of the shifts (m), the step
    the points that see relief are picked at (m), the robust scale of a point's distance (m), the
    distance beyond which a point is an outlier (m), the points kept for the fine profile, the least
    depth (in points' worth of robust cost) and the floor of the stated uncertainty (m: a submap is
    itself rigid only to the drift over its length, 1 % of 10 m), the largest share of the submap's
    points that may see the relief (more: a taper or a curved end, not local relief), and the least
    share of the relief points that the best shift must lay on the reference."""

    half_range_m: float = 1.0
    step_m: float = 0.02
    select_step_m: float = 0.2
    scale_m: float = 0.03
    outlier_m: float = 0.3
    max_points: int = 4000
    min_depth: float = 20.0
    min_sigma_m: float = 0.1
    max_relief_fraction: float = 0.1
    min_on_share: float = 0.8


def _robust(d: F64, scale: float) -> F64:
    """Geman-McClure: about d^2 / scale^2 near the surface, 1 far from it."""
    r = (d / scale) ** 2
    return np.asarray(r / (1.0 + r), np.float64)


def _raw_costs(points: F64, axis: F64, shifts: F64, closest: Closest, p: AlongFixParams) -> F64:
    """Robust cost (S, N) of every point at every shift along ``axis``, nothing else moved."""
    moved = (points[None, :, :] + shifts[:, None, None] * axis[None, None, :]).reshape(-1, 3)
    q, nrm, ok = closest(moved, p.outlier_m)
    rho = np.ones(len(moved))
    rho[ok] = _robust(((moved[ok] - q) * nrm).sum(1), p.scale_m)
    return rho.reshape(len(shifts), len(points))


def _profile(points: F64, axis: F64, shifts: F64, closest: Closest, p: AlongFixParams) -> F64:
    """Robust cost (S,) of ``points`` at each shift along ``axis``, the submap free to move across
    the axis at each (a robust point-to-plane step): a taper seen with a few centimetres of offset
    off its normal would otherwise read as a shift along the ship of that offset over the taper's
    slope; only what no sideways or vertical move can take up is along-ship information."""
    basis = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]
    out = np.empty(len(shifts))
    for k, s in enumerate(shifts):
        moved = points + s * axis
        q, nrm, ok = closest(moved, p.outlier_m)
        r = ((moved[ok] - q) * nrm).sum(1)
        a = nrm @ basis
        delta = np.zeros(2)
        for _ in range(3):
            d = r + a @ delta
            w = 1.0 / (1.0 + (d / p.scale_m) ** 2) ** 2
            h = (a * w[:, None]).T @ a + 1e-9 * np.eye(2)
            delta = delta - np.linalg.solve(h, (a * w[:, None]).T @ d)
        out[k] = float(_robust(r + a @ delta, p.scale_m).sum() + (len(points) - int(ok.sum())))
    return out


def _run_around(mask: NDArray[np.bool_], i: int) -> tuple[int, int]:
    """The first and last index of the run of True in ``mask`` that holds ``i``."""
    lo, hi = i, i
    while lo > 0 and mask[lo - 1]:
        lo -= 1
    while hi < len(mask) - 1 and mask[hi + 1]:
        hi += 1
    return lo, hi


def measure_along(points: F64, axis: F64, closest: Closest, params: AlongFixParams | None = None,
                  rng: np.random.Generator | None = None) -> AlongFix | None:
    """The along-ship shift (along unit ``axis`` (3,)) that best lays ``points`` (N, 3, corrected
    submap in the reference's placement) on the reference, or None where the profile fixes none.

    1. The points whose robust distance changes as the submap slides (every 0.2 m over the
       range, nothing else moved): on plain plating none do; on a taper most do (none taken).
    2. The profile over those points and some plating around them, free across the axis at each
       shift: every 0.1 m over the range, then every ``step_m`` about its lowest. Its minimum must
       lie inside the range, be deep enough, and be the only deep one (a second valley half as
       deep, apart from it, is an ambiguity: no measurement). The shift is the middle of the
       valley's floor (within a tenth of the depth of its lowest point).
    3. The uncertainty is the half width of the minimum where the cost is within a tenth of the
       depth, over two, at least ``min_sigma_m``.
    4. At the best shift most of the relief points (``min_on_share``) must lie on the reference.
    """
    p = params or AlongFixParams()
    u = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    if len(points) < 10:
        return None
    rng = rng or np.random.default_rng(0)
    # 1. Points that see relief.
    k = round(p.half_range_m / p.step_m)
    fine = np.asarray(np.arange(-k, k + 1) * p.step_m, np.float64)
    c0 = _raw_costs(points, u, fine[::max(1, round(p.select_step_m / p.step_m))], closest, p)
    keep = np.flatnonzero(c0.max(axis=0) - c0.min(axis=0) > 0.5)
    if len(keep) < p.min_depth or len(keep) > p.max_relief_fraction * len(points):
        # Nothing, or a taper or a curved end: surface that ICP's own information already holds,
        # jointly with the other directions, and where a 1-D slide reads any offset off the
        # normal as a shift along the ship.
        return None
    if len(keep) > p.max_points:
        keep = np.sort(rng.choice(keep, p.max_points, replace=False))
    # The plating around holds the submap across the axis while it slides.
    rest = np.setdiff1d(np.arange(len(points)), keep)
    if len(rest) > p.max_points // 2:
        rest = np.sort(rng.choice(rest, p.max_points // 2, replace=False))
    pts = points[np.concatenate([keep, rest])]
    # 2. The profile: coarse over the range, then fine around its minimum.
    coarse = fine[::5]
    prof_c = _profile(pts, u, coarse, closest, p)
    j = int(np.argmin(prof_c))
    lo_i, hi_i = max(0, 5 * j - 10), min(len(fine) - 1, 5 * j + 10)
    prof = np.full(len(fine), np.inf)
    prof[::5] = prof_c
    prof[lo_i:hi_i + 1] = _profile(pts, u, fine[lo_i:hi_i + 1], closest, p)
    prof = np.interp(fine, fine[np.isfinite(prof)], prof[np.isfinite(prof)])
    i = int(np.argmin(prof))
    depth = float(np.median(prof) - prof[i])
    if depth < p.min_depth or i in (0, len(fine) - 1):
        return None
    lo, hi = _run_around(prof <= prof[i] + 0.1 * depth, i)
    width = (hi - lo + 1) * p.step_m
    # The middle of the valley's floor, not its lowest sample: points a voxel apart leave the floor
    # flat over a voxel or two, and the lowest sample on it is decided by noise (the drift stage's
    # fix of a lane past two anodes stopped 8 cm along from the truth at the floor's edge).
    mid = 0.5 * (fine[lo] + fine[hi])
    # A second valley half as deep, apart from this one (the cost rose above half the depth in
    # between): the relief repeats within the range, or the submap fits two ways.
    low = prof <= prof[i] + 0.5 * depth
    a, b = _run_around(low, i)
    low[a:b + 1] = False
    if np.any(low):
        return None
    # 4. How much of the relief the best shift lays on the reference: a seen anode lies on the
    # reference's; a compartment or growth slid onto reference relief leaves much of itself off it.
    at = _raw_costs(points[keep], u, np.array([mid]), closest, p)[0]
    share = float(np.mean(at < 0.5))
    if share < p.min_on_share:
        return None
    sigma = max(p.min_sigma_m, 0.5 * width / 2.0)
    return AlongFix(float(mid), float(sigma), len(keep), depth, share)


def relief_features(points: F64, axis: F64, closest: Closest, shift_m: float, params: AlongFixParams | None = None,
                    *, slide_m: float = 1.0, gap_m: float = 0.5, min_points: int = 10) -> int:
    """How many separate pieces of relief hold ``points`` (N, 3) at ``shift_m`` along unit ``axis``:
    groups (points within ``gap_m`` of each other) of at least ``min_points`` points that lie on the
    reference there and stand proud of it slid ``slide_m`` either way (the survey's own relief). A measurement over a range wider than the
    spacing of anode-sized relief could rest on one protrusion laid over a reference anode, a pack
    among them; two pieces that agree cannot be one pack."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    p = params or AlongFixParams()
    u = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    on = _raw_costs(points, u, np.array([shift_m]), closest, p)[0] < 0.5
    # Slid either way, a point of the survey's own relief stands proud of the reference (plating
    # beside it slid onto the reference's relief would lie under it: not the survey's relief).
    proud = np.zeros(len(points), bool)
    for s in (shift_m - slide_m, shift_m + slide_m):
        moved = points + s * u
        q, nrm, ok = closest(moved, p.outlier_m)
        d = np.full(len(points), -np.inf)  # nothing within reach (past the reference's edge): no evidence
        d[ok] = ((moved[ok] - q) * nrm).sum(1)
        proud |= d > p.scale_m * 1.5
    held = points[on & proud]
    if len(held) < min_points:
        return 0
    pairs = cKDTree(held).query_pairs(gap_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(held), len(held)))
    _, label = connected_components(graph, directed=False)
    return int(np.sum(np.bincount(label) >= min_points))
