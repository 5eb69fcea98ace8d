"""The survey's position along the ship from the reference relief it saw, where the plating left
the registration ambiguous (stop 52).

Along a parallel midbody the whole survey's fit cost is flat to a few per cent over metres: the
anodes it passed (0.2 m^2 of relief against hundreds of m^2 of plating) lie below the registration's
tie, and the fit stayed where the prior put it, up to 7 m off on the held-out bulker, reading the
reference's own anodes as findings (stop 51); a library scenario written for this (side_anodes_midbody)
was placed one anode spacing (12.9 m) off and stated +/- 0.2 m. Slid along the ship within the
prior's range (:func:`hullscan.recon.alongfix.measure_along`), the points on relief give one clear
minimum. It is taken only where two separate pieces of the survey's own relief agree on it
(:func:`hullscan.recon.alongfix.relief_features`: one protrusion the size of an anode, a pack among
them, could lie over a reference anode at the wrong shift) and the minimum is the only deep one in the
range (a row repeating within it is no position).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hullscan.recon.alongfix import AlongFixParams, measure_along, relief_features

if TYPE_CHECKING:
    from hullscan.compare.reference import Reference

log = logging.getLogger("hullscan.compare")

F64 = NDArray[np.float64]

# Points times shifts the relief is looked for in (the survey's 0.1 m voxels, at most this many at
# every 0.4 m of the range): an anode's top holds about 20 voxels, and a random 40,000 of a survey
# whose bottom lanes hold most of it kept 23 points on the held-out bulker's side anodes, a valley
# 16 points deep where 20 are needed.
RELIEF_QUERIES = 2_000_000
# The relief is searched over this many times the prior's along-ship sigma either way (the
# registration stays near the prior where the plating ties), and at least this far (m): a valley is
# measured against shifts that take an anode (0.8 m long) off its reference wholly. Searched +/- 0.6 m
# about the drift stage's placement, the held-out bulker's corrected cloud gave none.
RELIEF_RANGE = 1.2
RELIEF_MIN_M = 1.5
# Separate pieces of the survey's relief that must agree on the position.
MIN_PIECES = 2
# The least 1 sigma (m) a fix is stated to: how far such fixes land from the truth, not the width of
# their valley. The library's 15 relief-fixed runs (stop 52, runs/p52f; stated to the valley, a floor
# of 0.1 m) lay 0.01-0.30 m off, RMS 0.11 m, with a heavy tail: partial_coverage's third prior 0.30 m
# off, 3 sigma at that RMS, outside the +/- 0.2 m it stated at 2 sigma (so was the held-out bulker's
# third, 0.20 m). Lanes drift-corrected a few cm apart along the ship smear the valley. Twice the RMS
# holds the tail within 2 sigma: conservative, as a position in frame numbers should be. The settle
# after the fix still keeps to the valley's width (on flat plating a wider window takes noise).
STATED_SIGMA_MIN_M = 0.2


@dataclass(frozen=True)
class ReliefFix:
    """Where the plating left the position along the ship ambiguous, the reference relief the survey
    saw (an anode row, a sea chest's edges) fixed it: the shift taken along hull x (m), its valley's
    own 1 sigma (m; the window the fit is settled in after it), the separate pieces of relief that
    agree on it, and the range of shifts over which the plating alone fitted as well (m)."""

    shift_m: float
    valley_sigma_m: float
    features: int
    plating_range_m: tuple[float, float]

    @property
    def sigma_m(self) -> float:
        """The 1 sigma (m) the placement along the ship is stated to: the valley's, at least
        :data:`STATED_SIGMA_MIN_M` (twice the RMS error of such fixes on the library)."""
        return max(self.valley_sigma_m, STATED_SIGMA_MIN_M)

    def note(self) -> str:
        lo, hi = self.plating_range_m
        return (f"position along the ship fixed by {self.features} pieces of reference relief seen in the survey "
                f"(anodes, edges; moved {self.shift_m:+.2f} m, +/-{2 * self.sigma_m:.2f} m at 2 sigma): the plating "
                f"alone fits as well over {lo:+.1f}/{hi:+.1f} m")

    def as_dict(self) -> dict[str, Any]:
        return {"shift_m": round(self.shift_m, 3), "sigma_m": round(self.sigma_m, 3),
                "valley_sigma_m": round(self.valley_sigma_m, 3), "features": self.features,
                "plating_range_m": [round(v, 2) for v in self.plating_range_m], "note": self.note()}


def measure_relief(points: F64, reference: Reference, t: F64, sigma_along_m: float, plating_range_m: tuple[float, float],
                   seed: int, offset_m: float = 0.0) -> ReliefFix | None:
    """Where the reference relief ``points`` (N, 3, cloud frame, 0.1 m voxels) saw places them along
    the ship (hull x), ``t`` (reference <- cloud, 4x4) being a placement the plating alone fits as
    well over ``plating_range_m``: searched over 1.2 x ``sigma_along_m`` (the prior's, at least
    :data:`RELIEF_MIN_M`) either way; None where no single valley two pieces agree on is found.
    ``offset_m``: the cloud's uniform offset from the reference (the reference is moved out by it, as
    the fit does; :func:`hullscan.compare.align.surface_offset`)."""
    # The points that see relief are picked every 0.4 m (half an anode's length: every point that
    # passes over one lands on it at least once), half the queries of the submaps' 0.2 m.
    params = AlongFixParams(half_range_m=max(RELIEF_RANGE * float(sigma_along_m), RELIEF_MIN_M), select_step_m=0.4)
    most = int(RELIEF_QUERIES / (2.0 * params.half_range_m / params.select_step_m + 1.0))
    if len(points) > most:
        points = points[np.sort(np.random.default_rng(seed).choice(len(points), most, replace=False))]
    placed = points @ t[:3, :3].T + t[:3, 3]

    def closest(p: F64, dist: float) -> tuple[F64, F64, NDArray[np.bool_]]:
        c, n, _ = reference.closest(p, within=dist + abs(offset_m))
        c = c + offset_m * n
        ok = np.isfinite(c).all(axis=1) & (np.linalg.norm(p - c, axis=1) < dist)
        return c[ok], n[ok], ok

    axis = np.array([1.0, 0.0, 0.0])
    fix = measure_along(placed, axis, closest, params, np.random.default_rng(seed))
    pieces = 0 if fix is None else relief_features(placed, axis, closest, fix.shift_m, params)
    lo, hi = plating_range_m
    log.info("position along the ship ambiguous by %+.1f/%+.1f m: reference relief %s (%d pieces agree)", lo, hi,
             "gives no single position" if fix is None else f"moves it {fix.shift_m:+.2f} m (1 sigma {fix.sigma_m:.2f} m)",
             pieces)
    if fix is None or pieces < MIN_PIECES:
        return None
    return ReliefFix(fix.shift_m, fix.sigma_m, pieces, plating_range_m)
