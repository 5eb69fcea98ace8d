"""High-risk landmarks of the hull (sea chests, rudder, propeller, thruster tunnels, bilge keels) with
their inspection status, and where a finding lies relative to the nearest one.

Hull-search doctrine clears these first: smugglers use them because they hide a package. They come from
the reference mesh's named regions (a scan or mirror reference has none), in the reference frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

F64 = NDArray[np.float64]
LANDMARK_REGIONS: tuple[str, ...] = ("sea_chest", "rudder", "propeller", "thruster_tunnel", "bilge_keel")
# Samples of one region further apart than this belong to two landmarks (two sea chests on one side).
_SPLIT_GAP_M = 1.5
# A landmark within this of the centreline is drawn on both side profiles (rudder, propeller).
CENTRELINE_BAND_M = 0.6

SampleStatus = Literal["cleared", "seen, not cleared", "not seen"]
STATUS_CODES: dict[int, SampleStatus] = {2: "cleared", 1: "seen, not cleared", 0: "not seen"}


@dataclass(frozen=True)
class Landmark:
    """One named hull feature: its reference-frame box and how much of it was cleared / seen."""

    name: str  # "port sea chest"
    region: str
    side: str  # port / starboard / centreline
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    area_m2: float
    cleared_fraction: float
    seen_fraction: float

    @property
    def status(self) -> SampleStatus:
        if self.cleared_fraction >= 0.5:
            return "cleared"
        return "seen, not cleared" if self.seen_fraction >= 0.5 else "not seen"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "region": self.region, "side": self.side,
                "bbox_min": [round(v, 3) for v in self.bbox_min], "bbox_max": [round(v, 3) for v in self.bbox_max],
                "area_m2": round(self.area_m2, 2), "status": self.status,
                "cleared_fraction": round(self.cleared_fraction, 4), "seen_fraction": round(self.seen_fraction, 4)}


def sample_status(cov: Any) -> NDArray[np.int8]:
    """Per coverage sample: 2 cleared, 1 seen but not cleared, 0 not seen."""
    seen_any = cov.seen if cov.seen_any is None else cov.seen_any
    return np.where(cov.seen, 2, np.where(seen_any, 1, 0)).astype(np.int8)


def sample_regions(ins: Any) -> NDArray[np.str_] | None:
    """Region name per coverage sample, from the reference's named faces; None when it has none."""
    ref, cov = ins.reference, ins.coverage
    if ref is None or cov is None or not len(cov.samples) or getattr(ref, "_face_region", None) is None:
        return None
    try:
        return np.asarray(ref.regions_at(cov.samples))
    except Exception:  # a reference without a surface query cannot name regions: no landmarks then
        return None


def _side(y: float) -> str:
    if abs(y) < CENTRELINE_BAND_M:
        return "centreline"
    return "port" if y > 0 else "starboard"


def find_landmarks(ins: Any) -> list[Landmark]:
    """The high-risk landmarks of the reference with their status, sorted stern to bow."""
    regions = sample_regions(ins)
    cov = ins.coverage
    if regions is None or cov is None:
        return []
    status = sample_status(cov)
    out: list[Landmark] = []
    for region in LANDMARK_REGIONS:
        idx = np.flatnonzero(regions == region)
        if len(idx) < 3:
            continue
        pts = cov.samples[idx]
        pairs = cKDTree(pts).sparse_distance_matrix(cKDTree(pts), _SPLIT_GAP_M, output_type="coo_matrix")
        n, label = connected_components(pairs, directed=False)
        for k in range(n):
            m = label == k
            if m.sum() < 3:
                continue
            p, st = pts[m], status[idx[m]]
            side = _side(float(np.median(p[:, 1])))
            words = region.replace("_", " ")
            name = words if side == "centreline" else f"{side} {words}"
            out.append(Landmark(name, region, side, tuple(float(v) for v in p.min(axis=0)),  # type: ignore[arg-type]
                                tuple(float(v) for v in p.max(axis=0)),  # type: ignore[arg-type]
                                float(m.sum() * cov.sample_area), float((st == 2).mean()), float((st >= 1).mean())))
    # Same name twice (two port sea chests): number them stern to bow.
    out.sort(key=lambda lm: lm.bbox_min[0])
    counts: dict[str, int] = {}
    for lm in out:
        counts[lm.name] = counts.get(lm.name, 0) + 1
    seen: dict[str, int] = {}
    named = []
    for lm in out:
        if counts[lm.name] > 1:
            seen[lm.name] = seen.get(lm.name, 0) + 1
            lm = Landmark(f"{lm.name} {seen[lm.name]} (from aft)", lm.region, lm.side, lm.bbox_min, lm.bbox_max,
                          lm.area_m2, lm.cleared_fraction, lm.seen_fraction)
        named.append(lm)
    return named


def relative_position(point: tuple[float, float, float], lm: Landmark) -> tuple[float, str]:
    """(distance to the landmark's box, m; a diver's description such as '2.1 m forward of the port sea
    chest, 0.6 m below its top edge'). x is towards the bow and z up, as in the hull frame."""
    p = np.asarray(point, float)
    lo, hi = np.asarray(lm.bbox_min), np.asarray(lm.bbox_max)
    dist = float(np.linalg.norm(np.maximum(0.0, np.maximum(lo - p, p - hi))))
    if p[0] > hi[0]:
        along = f"{p[0] - hi[0]:.1f} m forward of the {lm.name}"
    elif p[0] < lo[0]:
        along = f"{lo[0] - p[0]:.1f} m aft of the {lm.name}"
    else:
        along = f"within the length of the {lm.name}"
    dz = float(hi[2] - p[2])
    vertical = f"{dz:.1f} m below its top edge" if dz >= 0 else f"{-dz:.1f} m above its top edge"
    if dist == 0.0:
        return 0.0, f"on the {lm.name} ({vertical})"
    return dist, f"{along}, {vertical}"


def nearest_landmark(point: tuple[float, float, float], landmarks: list[Landmark]) -> tuple[Landmark, float, str] | None:
    """The nearest landmark a diver on the finding's side can swim to: those on the same side (or on the
    centreline) first; one on the other side only when there is none."""
    side = _side(point[1])
    same = [lm for lm in landmarks if lm.side in (side, "centreline") or side == "centreline"]
    best: tuple[Landmark, float, str] | None = None
    for lm in same or landmarks:
        d, text = relative_position(point, lm)
        if best is None or d < best[1]:
            best = (lm, d, text if same else f"{text} (on the other side of the hull)")
    return best
