"""The live viewers' bounded hull cloud (the thinning itself: :mod:`hullscan.core.display`)."""

from __future__ import annotations

from hullscan.core.display import display_indices
from hullscan.model import HullCloud


def display_cloud(cloud: HullCloud, max_points: int, cell_m: float) -> HullCloud:
    """``cloud`` itself when it has at most ``max_points`` points, else its :func:`display_indices` subset."""
    if len(cloud) <= max_points:
        return cloud
    i = display_indices(cloud.points, max_points, cell_m)
    return cloud.subset(i)
