"""Helpers for simulator tests: returns in the hull frame from a simulated bag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hullscan_sim.figure import survey_returns_hull

__all__ = ["returns_hull", "scenario_dict"]


def returns_hull(bag: Path) -> np.ndarray:
    return survey_returns_hull(bag, max_pings=10**9)


def scenario_dict(**over: object) -> dict[str, object]:
    """A small, quiet scenario (short parametric hull section, multibeam only)."""
    base: dict[str, object] = {
        "name": "t",
        "seed": 3,
        "hull": {"parametric": {"length_m": 50, "beam_m": 10, "draft_m": 4, "anodes": 2, "resolution_m": 0.3}},
        "survey": {"sides": ["port"], "bottom_lanes": 1, "bottom_lane_spacing_m": 4, "x_range_m": [18, 30],
                   "speed_mps": 1.0},
        "sensors": {"multibeam": {"rate_hz": 20, "beams": 256}},
    }
    base.update(over)
    return base
