"""Live gaps: while the survey runs, the parts of the hull not yet cleared, ranked by risk, and the
next lane that would clear the worst of them, so that the pilot can close gaps before the ship leaves.

The gaps come from the comparator's own coverage (a sample is cleared when a compartment of the
clearing height would have been found there), grouped by hull region, side and stretch along the
ship. The lane is geometric: a side lane over the worst gap at its mid-depth and the standoff, or a
bottom lane under it, moved out of the propeller's no-go zone. It is not a coverage prediction (that
is :func:`hullscan.plan.planner.make_plan`'s job, which takes seconds, too long for every inspection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.analysis import Coverage
from hullscan.compare.reference import Reference
from hullscan.plan.lanes import Lane, NoGo, Vehicle, side_lane
from hullscan.plan.planner import propeller_nogo

F64 = NDArray[np.float64]
# Gaps are grouped in stretches of this length along the ship (adjacent stretches of a region merge).
STRETCH_M = 5.0
# Smaller gaps are not worth a lane of their own (they are still counted in the coverage).
MIN_GAP_M2 = 1.0
# A sample whose outward normal points down more steeply than this is on the bottom.
BOTTOM_NZ = -0.7
# The lane runs this far past the gap's ends to settle on it.
RUN_IN_M = 3.0


@dataclass(frozen=True)
class Gap:
    """A stretch of one hull region on one side, not cleared: hull-frame extent, areas and risk."""

    region: str
    side: str  # port / starboard / bottom
    x_range: tuple[float, float]
    z_range: tuple[float, float]
    centre: tuple[float, float, float]
    not_seen_m2: float
    uncertain_m2: float  # seen, but too uncertain to clear
    risk_weight: float
    # of the uncertain, where the surface around it is uneven (growth, plate edges): another lane
    # alone may not clear it (Coverage.random_share)
    uneven_m2: float = 0.0

    @property
    def area_m2(self) -> float:
        return self.not_seen_m2 + self.uncertain_m2

    @property
    def score(self) -> float:
        return self.risk_weight * self.area_m2

    @property
    def lane_score(self) -> float:
        """The score of what a lane over it can clear: all of it but its uneven surface."""
        return self.risk_weight * max(self.area_m2 - self.uneven_m2, 0.0)

    def label(self) -> str:
        uneven = (f" ({self.uneven_m2:.0f} m² of it uneven surface: a lane alone may not clear it)"
                  if self.uneven_m2 >= 0.5 else "")
        return (f"{self.region.replace('_', ' ')} ({self.side}), {self.x_range[0]:.0f}-{self.x_range[1]:.0f} m from "
                f"the stern: {self.area_m2:.0f} m² not cleared{uneven}")


@dataclass(frozen=True, eq=False)
class Gaps:
    """The gaps ranked by risk-weighted area, highest first, and the next suggested lane over the gap a
    pass can clear most of (hull frame; None when nothing is left that a pass would clear, or the
    reference has no surface to fly along)."""

    gaps: tuple[Gap, ...]
    next_lane: Lane | None
    cleared_fraction: float


def _sides(samples: F64, normals: F64) -> NDArray[np.str_]:
    side = np.where(samples[:, 1] >= 0.0, "port", "starboard")
    return np.where(normals[:, 2] < BOTTOM_NZ, "bottom", side)


def find_gaps(samples: F64, normals: F64, regions: NDArray[np.str_], seen: NDArray[np.bool_],
              cleared: NDArray[np.bool_], sample_area: float, weights: dict[str, float],
              stretch_m: float = STRETCH_M, min_area_m2: float = MIN_GAP_M2,
              uneven: NDArray[np.bool_] | None = None) -> list[Gap]:
    """Uncleared samples (N, hull frame) grouped by region, side and stretch along the ship; adjacent
    stretches of one region and side merge. Ranked by risk weight times area, highest first.
    ``uneven`` (N,): samples seen but too uncertain for the surface around them (counted apart)."""
    todo = ~np.asarray(cleared, bool)
    uneven = np.zeros(len(todo), bool) if uneven is None else np.asarray(uneven, bool) & todo & np.asarray(seen, bool)
    if not todo.any():
        return []
    sides = _sides(samples, normals)
    stretch = np.floor(samples[:, 0] / stretch_m).astype(np.int64)
    gaps: list[Gap] = []
    for region in np.unique(regions[todo]):
        for side in np.unique(sides[todo & (regions == region)]):
            m = todo & (regions == region) & (sides == side)
            bins = np.unique(stretch[m])
            # Runs of adjacent stretches: one gap each.
            for run in np.split(bins, np.flatnonzero(np.diff(bins) > 1) + 1):
                g = m & (stretch >= run[0]) & (stretch <= run[-1])
                area = float(g.sum() * sample_area)
                if area < min_area_m2:
                    continue
                p = samples[g]
                gaps.append(Gap(str(region), str(side), (float(p[:, 0].min()), float(p[:, 0].max())),
                                (float(p[:, 2].min()), float(p[:, 2].max())),
                                (float(p[:, 0].mean()), float(p[:, 1].mean()), float(p[:, 2].mean())),
                                float((g & ~seen).sum() * sample_area), float((g & seen).sum() * sample_area),
                                float(weights.get(str(region), weights.get("unknown", 0.6))),
                                float((g & uneven).sum() * sample_area)))
    gaps.sort(key=lambda gp: (-gp.score, gp.x_range[0]))
    return gaps


def lane_over(gap: Gap, scene: Any, beam: float, draft: float, vehicle: Vehicle, nogo: NoGo | None) -> Lane:
    """A lane that flies over ``gap`` (hull frame): along its side at its mid-depth (not shallower
    than the vehicle may go), or under the keel for the bottom, moved out of the no-go zone."""
    x0, x1 = gap.x_range[0] - RUN_IN_M, gap.x_range[1] + RUN_IN_M
    if gap.side == "bottom":
        z = -(draft + vehicle.standoff_m)
        wp = np.array([[x0, gap.centre[1], z], [x1, gap.centre[1], z]])
    else:
        z = min(0.5 * (gap.z_range[0] + gap.z_range[1]), -max(vehicle.min_depth_m, 0.0))
        wp = side_lane(scene, beam, x0, x1, z, gap.side, vehicle)
    notes: tuple[str, ...] = ()
    if nogo is not None:
        wp, moved = nogo.push_out(wp)
        if moved:
            notes = (f"moved out round the propeller (no-go radius {nogo.radius_m:.1f} m)",)
    return Lane(f"next: {gap.label()}", "gap", gap.side, gap.region, wp, vehicle.speed_mps, vehicle.standoff_m,
                gap.risk_weight, notes)


class LiveGaps:
    """The gaps of each live inspection against one reference; what does not change between
    inspections (the samples' regions and sides, the no-go zone) is worked out once."""

    def __init__(self, reference: Reference, weights: dict[str, float], vehicle: Vehicle) -> None:
        self.reference, self.weights, self.vehicle = reference, weights, vehicle
        self.regions = np.asarray(reference.regions_at(reference.samples))
        mesh = reference.mesh
        # Lanes need a surface to fly along: a mesh reference (an earlier scan or a mirror has none).
        self.flyable = mesh is not None and reference._scene is not None and hasattr(mesh, "region_mask")
        self.nogo = propeller_nogo(mesh, vehicle) if self.flyable else None

    def __call__(self, coverage: Coverage) -> Gaps:
        ref = self.reference
        cleared = np.asarray(coverage.seen, bool)
        seen = np.asarray(coverage.seen_any if coverage.seen_any is not None else cleared, bool)
        gaps = find_gaps(ref.samples, ref.sample_normals, self.regions, seen, cleared, ref.sample_area, self.weights,
                         uneven=coverage.not_by_a_pass)
        # The lane goes where a pass can clear most: an uneven surface's gap it may not.
        worth = [g for g in gaps if g.lane_score > 0.0]
        lane = None
        if worth and self.flyable:
            best = max(worth, key=lambda g: g.lane_score)
            lane = lane_over(best, ref._scene, float(ref.mesh.beam), float(ref.mesh.draft), self.vehicle, self.nogo)
        return Gaps(tuple(gaps), lane, float(cleared.mean()) if len(cleared) else 0.0)
