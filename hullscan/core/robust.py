"""Robust weights for iteratively reweighted fits (ICP, plane fits)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def tukey(r: F64, k: float) -> F64:
    """Tukey's biweight of residuals ``r`` (any shape) with cut-off ``k``: 1 at 0, 0 from ``|r| >= k``
    (a compartment tens of cm off the surface gets no weight in a fit)."""
    u = np.clip(np.abs(r) / k, 0.0, 1.0)
    return (1 - u**2) ** 2
