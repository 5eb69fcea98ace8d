"""The one deviation colour map of every output (report, deviation PLY, operator view).

Blue (recess) through white to red (protrusion), saturated at ``span`` m either way; grey where
the deviation was not judged (NaN). One span for all outputs, so a colour means the same height
in the report, in CloudCompare and on the operator's screen.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

DEVIATION_SPAN_M = 0.2  # saturation of the colour map either way (m)
NOT_JUDGED_GREY = 0.55


def deviation_colours(d: NDArray[np.floating], span: float = DEVIATION_SPAN_M) -> NDArray[np.uint8]:
    """RGB (N, 3) uint8 for deviations ``d`` (N,) m: blue (recess) - white - red (protrusion),
    grey where not finite."""
    if not span > 0:
        raise ValueError(f"deviation_colours: span must be > 0 m, got {span}")
    d = np.asarray(d, dtype=np.float64)
    t = np.clip(np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0) / span, -1.0, 1.0)
    rgb = np.empty((len(d), 3))
    rgb[:, 0] = np.where(t > 0, 1.0, 1.0 + t)
    rgb[:, 1] = 1.0 - np.abs(t)
    rgb[:, 2] = np.where(t < 0, 1.0, 1.0 - t)
    rgb[~np.isfinite(d)] = NOT_JUDGED_GREY
    return (rgb * 255).astype(np.uint8)
