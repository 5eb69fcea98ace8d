"""The local baseline's shift along the ship: the relative deviation where the plating faces fore or aft.

The local baseline (:func:`hullscan.compare.analysis.make_cells`) takes out an offset along the
reference's normal, which is what smooth navigation error and a growth layer do to plating that
faces sideways or down. It cannot take out a placement off *along the ship*: that moves a surface
by ``s * n_x`` along its normal, which changes sign across a thruster tunnel (its forward wall
reads proud, its after wall sunk) and grows with how squarely a face looks fore or aft (a tunnel's
walls, a transom, a bulbous bow, a propeller hub's faces). A survey placed 9 cm forward of the
truth, well inside its stated 2 sigma of 0.2 m, read a thruster tunnel's forward wall 5-10 cm proud
over half a square metre: a "compartment" on both sides of the ship (fine_container_ship, stop 47).

So around each 0.5 m block the shift along the ship that best explains what the baseline left on
the plating facing fore or aft is fitted (an L1 fit: a compartment is outvoted by the plating
around it), kept within how far the survey states its placement uncertain there, and taken out
with the offset. Where nothing faces fore or aft there is nothing to fit and nothing changes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.analysis import Cells
from hullscan.compare.config import CompareConfig
from hullscan.core.grid import group_keys, voxel_keys
from hullscan.core.robust import group_weighted_median

F64 = NDArray[np.float64]

# Plating that faces fore or aft at least this much (|n_x|, the sine of its slope to the ship's axis)
# carries the fit: below it a shift of decimetres moves the surface by millimetres.
FACING_ALONG = 0.3
# Least weight (sum of |n_x|) of such plating around a block for a fit: a few hundred square
# centimetres of 5 cm cells, so that a lone cell on a tunnel's lip does not set a block's shift.
LEAST_WEIGHT = 20.0
BLOCK_M = 0.5


def with_local_shift(cells: Cells, config: CompareConfig) -> Cells:
    """``cells`` with the local shift along the ship taken out of their residual (and so of their
    z-score): the baseline becomes the offset plus ``s * n_x``, ``s`` fitted per 0.5 m block within
    ``detection.baseline_radius_m`` and kept within the survey's stated along-ship uncertainty there
    (:attr:`Cells.along_reach`, 2 sigma, up to ``detection.feature_shift_along_max_m``). Unchanged
    when off (``detection.local_shift``), where the survey states no along-ship uncertainty or the
    cells carry no uncertainty to judge against;
    recesses behind a grating (a sea chest) are neither fitted nor moved."""
    if (not config.detection.local_shift or cells.along_reach is None or cells.uncertainty is None
            or not len(cells.points)):
        return cells
    left = cells.smooth - cells.baseline
    if cells.in_recess is not None:
        # A sea chest behind its grating is measured through the bars, its walls a box's faces fore
        # and aft: a pack against one would be a large share of what faces along the ship there.
        left = np.where(cells.in_recess, np.nan, left)
    shift = local_shift(cells.points, cells.normal[:, 0], left, config)
    if cells.in_recess is not None:
        shift = np.where(cells.in_recess, 0.0, shift)
    moved = np.flatnonzero(shift)
    if not len(moved):
        return cells
    # The stated uncertainty is looked up only where something moves (a tree over every cell is not cheap).
    reach = np.minimum(cells.along_reach(cells.points[moved]), config.detection.feature_shift_along_max_m)
    baseline = cells.baseline.copy()
    baseline[moved] += np.clip(shift[moved], -reach, reach) * cells.normal[moved, 0]
    residual = cells.smooth - baseline
    with np.errstate(invalid="ignore", divide="ignore"):
        z = residual / cells.uncertainty
    return replace(cells, baseline=baseline, residual=residual, zscore=z)


def local_shift(points: F64, n_along: F64, left: F64, config: CompareConfig) -> F64:
    """Per cell (M,): the shift along the ship (m, positive forward: the cloud sits aft of the
    reference by it) that best explains ``left`` (M,; the smoothed deviation less the offset
    baseline, NaN where not judged) on the plating within ``detection.baseline_radius_m`` whose
    reference normal's along-ship component ``n_along`` (M,) is at least :data:`FACING_ALONG`; 0
    where too little such plating is. Two weighted medians, as the baseline's two medians: of
    ``left / n_along`` over each 0.5 m block's cells (weights ``|n_along|``: the L1 fit of
    ``left = s * n_along``), then of the blocks' over those within the radius (weights: the
    blocks' total)."""
    m = len(points)
    _, binv, _ = group_keys(voxel_keys(points, BLOCK_M))
    nb = int(binv.max()) + 1 if m else 0
    use = np.isfinite(left) & (np.abs(n_along) >= FACING_ALONG)
    if not use.any():
        return np.zeros(m)
    w = np.abs(n_along[use])
    q = group_weighted_median(binv[use], left[use] / n_along[use], w, nb)
    wb = np.bincount(binv[use], weights=w, minlength=nb)
    cnt = np.bincount(binv, minlength=nb).astype(float)
    cen = np.stack([np.bincount(binv, weights=points[:, i], minlength=nb) for i in range(3)], 1) / cnt[:, None]
    # Each block's neighbours among the blocks that face along the ship (on most hulls a few
    # percent of them: the tree holds those alone).
    facing = np.flatnonzero(wb > 0)
    nbrs = cKDTree(cen[facing]).query_ball_point(cen, r=config.detection.baseline_radius_m, workers=-1,
                                                 return_sorted=False)
    owner = np.repeat(np.arange(nb), [len(x) for x in nbrs])
    if not len(owner):
        return np.zeros(m)
    members = facing[np.concatenate([np.asarray(x, np.int64) for x in nbrs])]
    s = group_weighted_median(owner, q[members], wb[members], nb)
    enough = np.bincount(owner, weights=wb[members], minlength=nb) >= LEAST_WEIGHT
    s = np.where(enough & np.isfinite(s), s, 0.0)
    return np.asarray(s[binv], np.float64)
