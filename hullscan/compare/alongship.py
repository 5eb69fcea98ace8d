"""How well the survey is placed along the ship, stretch by stretch, and what that means for each
finding's "metres from the stern" and frame number.

Drift correction (:mod:`hullscan.recon.smoothing`) places every submap of the survey; where the
surveyed plating fixes no position along the ship (a parallel midbody, a flat bottom), dead
reckoning carries it from the nearest stretch that does, and the smoother's posterior says by how
much it may be off (:class:`hullscan.recon.drift.AlongShipUncertainty`). The whole-survey
registration's tie range (``alignment.registration.along_range_m``) cannot show this: a survey can
be placed within centimetres at its lane ends and drift by decimetres along a flat bottom lane
between them. An investigator acting on a finding needs the figure where the finding is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hullscan.model import Finding, Transform
from hullscan.recon.drift import AlongShipUncertainty

if TYPE_CHECKING:
    from hullscan.compare.align import Alignment

F64 = NDArray[np.float64]

# 2 sigma along the ship beyond which the outputs say in words that a stretch rests on dead
# reckoning: a tenth of a metre is a sixth of a typical frame spacing (0.6 m).
NOTE_FROM_M = 0.1


@dataclass(frozen=True)
class AlongShipPlacement:
    """The along-ship uncertainty in the reference's hull frame: each submap's centre (N, 3)
    (internal hull frame, x = metres from the stern), its 2-sigma uncertainty along the ship
    (N,) (m), the drift rate per metre the figures rest on, and each submap's middle stamp (N,)
    (ns, navigation clock). ``layer_two_sd_m``: on a fouled hull, how far a growth layer could have
    moved the whole survey along a taper (:class:`hullscan.compare.align.LayerTrade`, a bound taken
    as 2 sigma; a bias the drift model does not hold), added to every submap's."""

    centres: F64
    two_sd_m: F64
    drift_rate: float
    stamps_ns: F64
    layer_two_sd_m: float = 0.0
    # per submap: placed along the ship by reference relief it saw (hullscan.recon.alongfix)
    relief_fixed: tuple[bool, ...] = ()

    @property
    def total_two_sd_m(self) -> F64:
        """2 sigma per submap (N,) with the growth layer's."""
        return np.asarray(np.hypot(self.two_sd_m, self.layer_two_sd_m), np.float64)

    @classmethod
    def from_survey(cls, along: AlongShipUncertainty, cloud_to_ref: Transform,
                    placement_sd_m: float | None = None) -> AlongShipPlacement:
        """``along`` (corrected navigation frame) placed by ``cloud_to_ref`` (reference <- cloud);
        ``placement_sd_m``: how well that placement fixes the whole survey along the ship (the
        comparison's registration of the corrected cloud), else the drift stage's figure."""
        fixed = () if along.relief_fixed is None else tuple(bool(v) for v in along.relief_fixed)
        return cls(cloud_to_ref.apply(np.asarray(along.centres, np.float64)), 2.0 * along.sd_m(placement_sd_m),
                   float(along.drift_rate), np.asarray(along.stamps_ns, np.float64), relief_fixed=fixed)

    def at(self, point: F64, radius_m: float) -> float:
        """2 sigma along the ship (m) at ``point`` (3,) (hull frame): the largest of the submaps whose
        centre lies within ``radius_m`` (several lanes may have seen it; the least well placed one
        bounds where its returns sit), else the nearest submap's."""
        d = np.linalg.norm(self.centres - np.asarray(point, np.float64), axis=1)
        near = d <= radius_m
        total = self.total_two_sd_m
        return float(total[near].max() if near.any() else total[int(np.argmin(d))])

    def at_many(self, points: F64, radius_m: float) -> F64:
        """:meth:`at` for each of ``points`` (K, 3): 2 sigma along the ship (K,) (m)."""
        from scipy.spatial import cKDTree

        points = np.asarray(points, np.float64).reshape(-1, 3)
        total = self.total_two_sd_m
        if not len(points) or not len(total):
            return np.zeros(len(points))
        tree = cKDTree(self.centres)
        out = np.full(len(points), -np.inf)
        pairs = cKDTree(points).sparse_distance_matrix(tree, radius_m, output_type="ndarray")
        np.maximum.at(out, pairs["i"].astype(np.int64), total[pairs["j"].astype(np.int64)])
        # Beyond every submap's radius: the nearest one's.
        far = ~np.isfinite(out)
        if far.any():
            out[far] = total[tree.query(points[far])[1]]
        return np.asarray(out, np.float64)

    def stretches(self, from_m: float = NOTE_FROM_M) -> list[tuple[float, float, float]]:
        """Runs of consecutive submaps (in travel order) at or above ``from_m`` (2 sigma): their
        extent along the ship (from, to; m from the stern) and their largest 2 sigma."""
        out: list[tuple[float, float, float]] = []
        above = self.two_sd_m >= from_m
        k = 0
        while k < len(above):
            if not above[k]:
                k += 1
                continue
            j = k
            while j + 1 < len(above) and above[j + 1]:
                j += 1
            x = self.centres[k:j + 1, 0]
            out.append((float(x.min()), float(x.max()), float(self.two_sd_m[k:j + 1].max())))
            k = j + 1
        return out

    def note(self) -> str | None:
        """One sentence for the report where any stretch rests on dead reckoning, else None."""
        runs = self.stretches()
        if not runs:
            return None
        where = "; ".join(f"{a:.1f}-{b:.1f} m from the stern (up to +/-{s:.2f} m)" for a, b, s in runs[:6])
        more = f" and {len(runs) - 6} more stretches" if len(runs) > 6 else ""
        return (f"position along the ship rests on dead reckoning where the surveyed plating does not fix it: "
                f"{where}{more} (2 sigma, at the drift model's {100 * self.drift_rate:.1f} % of distance "
                "travelled); metres from the stern and frame numbers of findings there are uncertain by as much")

    def as_dict(self) -> dict[str, Any]:
        return {"description": "2-sigma uncertainty of positions along the ship (metres from the stern), per "
                               "submap of the survey, from drift correction's posterior (docs/method.md)",
                "drift_rate_per_m": self.drift_rate,
                "max_two_sd_m": round(float(self.two_sd_m.max()), 3) if len(self.two_sd_m) else 0.0,
                "submap_from_stern_m": [round(float(v), 2) for v in self.centres[:, 0]],
                "submap_two_sd_m": [round(float(v), 3) for v in self.two_sd_m],
                "growth_layer_two_sd_m": round(self.layer_two_sd_m, 3),
                "submap_fixed_by_relief": list(self.relief_fixed),
                "stretches": [{"from_stern_m": [round(a, 2), round(b, 2)], "two_sd_m": round(s, 3)}
                              for a, b, s in self.stretches()],
                "note": self.note()}


def survey_placement(along: AlongShipUncertainty, cloud_to_ref: Transform, alignment: Alignment | None,
                     settle_step_m: float) -> AlongShipPlacement:
    """The drift stage's along-ship uncertainty ``along`` placed by ``cloud_to_ref`` in the
    reference's frame. The comparison's registration of the corrected cloud (``alignment``) fixes
    the whole survey along the ship, to its settle's step ``settle_step_m``; before it, the drift
    stage's did. On a fouled hull a growth layer as thick as its relief could have moved the whole
    survey along a taper (a bound, taken as 2 sigma; a bias the drift model does not hold)."""
    reg = None if alignment is None else alignment.registration
    common = None if reg is None else reg.along_sd_m(settle_step_m)
    placement = AlongShipPlacement.from_survey(along, cloud_to_ref, common)
    layer = None if alignment is None else alignment.layer
    return placement if layer is None else replace(placement, layer_two_sd_m=abs(layer.along_m))


def place_findings(findings: tuple[Finding, ...], placement: AlongShipPlacement, radius_m: float
                   ) -> tuple[Finding, ...]:
    """Each finding with its along-ship uncertainty (``along_uncertainty_m``, 2 sigma) where it lies."""
    return tuple(replace(f, along_uncertainty_m=round(placement.at(np.asarray(f.centroid), radius_m), 3))
                 for f in findings)
