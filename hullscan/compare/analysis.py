"""Deviation from the reference, segmentation into findings, and coverage.

The cloud is first averaged into small surface cells (``analysis_cell`` voxels), which evens out
the point density and the sonar noise. Per cell: signed distance to the reference (outward
positive), a median over neighbours (barnacle-scale roughness goes), minus a clipped local
baseline (a marine-growth layer or a few cm of as-built deviation goes). What remains and stands
clear of its uncertainty is segmented into connected protrusions and recesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.special import ndtri

from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import Reference
from hullscan.compare.uncertainty import (
    bias_gain,
    calibrated_scale,
    calibrated_scales,
    leading_edge_bias,
    point_sigma,
)
from hullscan.core.distance import any_near_plane
from hullscan.core.grid import group_keys, voxel_keys, voxel_knn
from hullscan.core.robust import neighbour_nanmedian
from hullscan.core.visits import pass_starts
from hullscan.model import Finding

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

ANALYSIS_CELL_M = 0.05


@dataclass(frozen=True, eq=False)
class Calibration:
    """The self-calibration's inputs per cell (M,): the model's uncertainty before its scale
    (m), the cells' mean incidence (deg; None without viewing geometry) and whether each lies
    beside the reference's relief (None where that is off)."""

    raw: F64
    incidence: F64 | None = None
    relief: NDArray[np.bool_] | None = None


@dataclass(frozen=True, eq=False)
class Cells:
    """Cloud averaged into surface cells, in the reference frame."""

    points: F64  # (M, 3) mean position
    count: I64  # points per cell
    sigma: F64  # mean 1-sigma of the points (m)
    confidence: F64
    of_point: I64  # (N,) cell of each cloud point
    d: F64  # signed distance of the mean position (m), NaN where off the reference
    base: F64  # closest reference point
    normal: F64  # outward reference normal there
    ref_id: I64
    smooth: F64  # neighbourhood median of d
    baseline: F64  # clipped local baseline
    residual: F64  # smooth - baseline: what findings are made of
    zscore: F64
    judged: NDArray[np.bool_]  # has a reference under it and is not excluded (mirror centre band)
    in_recess: NDArray[np.bool_] | None = None  # reference there is a recess (sea chest) behind a grating
    reference: Reference | None = None  # for heights along a finding's mean normal
    align_residual: float = 0.0  # alignment RMS residual in the z-score's uncertainty (m)
    uncertainty: F64 | None = None  # the z-score's denominator (m): residual / zscore
    # "sonar": from each point's incidence and range (hullscan.compare.uncertainty); "estimated": from
    # the cloud's own sigma and the systematic term. Either scaled by the survey's own scatter
    # (uncertainty_scale: the overall factor; the estimated model's incidence bands may differ).
    uncertainty_model: str = "estimated"
    uncertainty_scale: float = 1.0
    # (M, 3) the cloud's own unit surface normal per cell, in the cloud's frame: ``cloud_rotation``
    # (3, 3) turns it into the reference frame (only the few cells of a deviation are ever turned,
    # not 5 M points); None without normals.
    cloud_normal: F64 | None = None
    cloud_rotation: F64 | None = None
    # The share of the leading-edge model taken out of ``d`` (uncertainty.leading_edge: correct;
    # 0 where not, or where the survey did not show it).
    leading_edge_gain: float = 0.0
    # How far along the ship the survey's placement is stated uncertain (2 sigma, m) at each of K
    # points (K, 3) in the reference frame (hullscan.compare.alongship): a reference feature may
    # have moved that far (explained_by_reference); None where the survey states nothing.
    along_reach: Callable[[F64], F64] | None = None
    # (M,) the mean range (m) of each cell's returns, where the cloud kept ranges: how wide the
    # sonar's beam was where it saw the cell (segments.resolve_segments' beam test).
    range_m: F64 | None = None
    # (M,) the share of each cell's variance that is random (few returns: more of them would lower it),
    # the rest systematic (what the surface around it shows: growth, plate edges, lanes placed apart);
    # None where the model keeps no such split. Why a place is too uncertain to clear (coverage).
    random_share: F64 | None = None
    # What the self-calibration read the scale from, to read it again away from what was found
    # (:func:`recalibrated`); None where the cells were not self-calibrated.
    calibration: Calibration | None = None


def group_quantile(groups: I64, values: F64, n_groups: int, q: float) -> F64:
    """The ``q`` quantile (0..1, linear between order statistics) of ``values`` per group id (NaN
    for empty groups)."""
    order = np.lexsort((values, groups))
    g = groups[order]
    v = values[order]
    starts = np.searchsorted(g, np.arange(n_groups), side="left")
    ends = np.searchsorted(g, np.arange(n_groups), side="right")
    out = np.full(n_groups, np.nan)
    has = ends > starts
    pos = starts[has] + q * (ends[has] - starts[has] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, ends[has] - 1)
    out[has] = v[lo] + (pos - lo) * (v[hi] - v[lo])
    return out


def group_median(groups: I64, values: F64, n_groups: int) -> F64:
    """Median of ``values`` per group id (NaN for empty groups)."""
    return group_quantile(groups, values, n_groups, 0.5)


# The estimated model's least cell sigma (m): a cloud's own sigma comes from its plane fits, which
# do not see what the voxel grid and the reference's meshing add.
ESTIMATED_LEAST_SIGMA_M = 0.01


def make_cells(points: F64, sigma: F64, confidence: F64, reference: Reference, config: CompareConfig,
               align_residual: float, exclude: Callable[[F64], NDArray[np.bool_]] | None = None,
               geometry: tuple[F64, F64] | None = None, normals: NDArray[np.floating[Any]] | None = None,
               normals_rotation: F64 | None = None) -> Cells:
    """Average points into cells, measure their deviation and prepare it for segmentation.

    ``geometry``: each point's incidence (deg) and range (m), where the cloud has them. Under the
    sonar model the cell is then the inverse-variance mean of its points and its uncertainty the
    model's (:mod:`hullscan.compare.uncertainty`); under the estimated one (or without geometry) the
    cloud's own ``sigma`` (or the configured fallback) with the systematic term, self-calibrated per
    incidence band where the geometry is there; without geometry coverage is estimated. ``normals`` (N, 3): the
    cloud's surface normals, averaged per cell (``cloud_normal``); ``normals_rotation`` (3, 3)
    turns them into the reference frame (identity when None)."""
    cell = ANALYSIS_CELL_M
    keys = voxel_keys(points, cell)
    first, inv, count = group_keys(keys)
    m = len(count)

    def mean(values: F64) -> F64:
        return np.bincount(inv, weights=values, minlength=m) / count

    sonar = geometry is not None and config.uncertainty.model == "sonar"
    if sonar and geometry is not None:
        # Head-on returns at short range outweigh grazing ones from a far lane in the same cell.
        w = 1.0 / np.maximum(point_sigma(geometry[0], geometry[1], config.uncertainty), 1e-4) ** 2
        wsum = np.bincount(inv, weights=w, minlength=m)
        cp = np.stack([np.bincount(inv, weights=points[:, i] * w, minlength=m) / wsum for i in range(3)], axis=1)
    else:
        cp = np.stack([mean(points[:, i]) for i in range(3)], axis=1)
    csig = mean(sigma)
    cconf = mean(confidence)
    d, base, normal, ids, over = reference.signed_distance(cp)
    judged = over & (np.abs(d) <= config.detection.max_deviation_m)
    if exclude is not None:
        judged &= ~exclude(cp)
    d = np.where(judged, d, np.nan)
    # First arrivals stand proud of the plating by more the more grazing the return: taken out.
    d, gain = (d, 0.0) if sonar else _without_leading_edge(d, judged, geometry, mean, config)
    # Neighbourhood median: roughness (barnacles, noise) below ~smooth_radius disappears.
    # The cells within the radius (9 at 8 cm: a 5 cm cell's 3 x 3), as cKDTree(cp).query, without the tree.
    nb = voxel_knn(cp, keys[first], cell, max(9, int(np.pi * (config.detection.smooth_radius_m / cell) ** 2)),
                   config.detection.smooth_radius_m)
    smooth, _ = neighbour_nanmedian(d, nb)
    smooth = np.where(np.isfinite(d), smooth, np.nan)
    # Local baseline on 0.5 m blocks: medians of medians within baseline_radius, clipped.
    _, binv, _ = group_keys(voxel_keys(cp, 0.5))
    nb_blocks = int(binv.max()) + 1 if len(binv) else 0
    fin = np.isfinite(smooth)
    bmed = group_median(binv[fin], smooth[fin], nb_blocks)
    bcen = np.zeros((nb_blocks, 3))
    bcnt = np.bincount(binv, minlength=nb_blocks).astype(float)
    for i in range(3):
        bcen[:, i] = np.bincount(binv, weights=cp[:, i], minlength=nb_blocks) / np.maximum(bcnt, 1)
    nbrs = cKDTree(bcen).query_ball_point(bcen, r=config.detection.baseline_radius_m, workers=-1, return_sorted=False)
    owner, members = _flatten(nbrs)  # each block's neighbour blocks, flat: the baseline and the systematic term
    vals = bmed[members]
    fin = np.isfinite(vals)
    bbase = np.nan_to_num(group_median(owner[fin], vals[fin], nb_blocks), nan=0.0)
    baseline = np.clip(bbase[binv], -config.detection.baseline_clip_m, config.detection.baseline_clip_m)
    residual = smooth - baseline
    if sonar:
        # The model's uncertainty of each cell's mean, then of the neighbourhood median taken of it
        # (1.25 sigma / sqrt(n) for a median of n); the survey's scatter sets the scale. The
        # alignment's residual is not added: the relative deviation cancels it.
        model = _judged_height_sigma(np.sqrt(1.0 / wsum), nb, np.isfinite(d), config.uncertainty.floor_m)
        unc0 = np.hypot(model, _local_systematic(cp, residual, bmed, bbase, binv, owner, members, config))
        random_var = model**2
        scale = calibrated_scale(residual, unc0, np.isfinite(residual), config.uncertainty)
        unc = scale * unc0
        align_residual, how, calib = 0.0, "sonar", Calibration(unc0)
    else:
        how = "estimated"
        sig = np.maximum(np.where(csig > 0, csig, config.uncertainty.fallback_sigma_m), ESTIMATED_LEAST_SIGMA_M)
        if config.uncertainty.random == "mean":
            sig = _judged_height_sigma(sig / np.sqrt(count), nb, np.isfinite(d), config.uncertainty.floor_m)
        # The alignment's residual is one figure for the whole hull (growth on one plate, a lane
        # placed off at one turn); with ``systematic: local`` each cell carries what its own
        # surroundings show instead, where the relative deviation has cancelled the rest.
        is_local = config.uncertainty.systematic == "local"
        align_residual = 0.0 if is_local else align_residual
        # The metre-scale spread of the residuals holds their random part too: with the random
        # term the mean's, only what exceeds it is systematic (counted once, not twice).
        unc0 = np.hypot(sig, _local_systematic(cp, residual, bmed, bbase, binv, owner, members, config,
                                               config.detection.baseline_clip_m,
                                               sig if config.uncertainty.random == "mean" else None)
                        if is_local else align_residual)
        random_var = sig**2
        # The terms above are each an upper bound (a voxel point's plane fit is better than the
        # single-return sigma it reports; the metre-scale spread holds some random error again):
        # the survey's own plating scatter sets the scale, as in the sonar model, so that a z-score
        # means what it says and min_zscore can be read as a tail probability.
        # Beside the reference's own relief the returns scatter by another law: calibrated apart.
        calib = Calibration(unc0, None if geometry is None else np.bincount(inv, weights=geometry[0], minlength=m) / count,
                            _beside_relief(normal, binv, bcen, (owner, members), config))
        scales, scale = calibrated_scales(residual, unc0, np.isfinite(residual), config.uncertainty, calib.incidence,
                                          relief=calib.relief)
        unc = scales * unc0
    with np.errstate(invalid="ignore"):
        z = residual / unc
    cn = None if normals is None or len(normals) != len(points) else _cell_normals(normals, inv, m)
    return Cells(cp, count, csig, cconf, inv, d, base, normal, ids, smooth, baseline, residual, z, judged,
                 reference.in_recess(ids), reference, float(align_residual), unc, how, float(scale), cn,
                 normals_rotation, gain, range_m=None if geometry is None else mean(geometry[1]),
                 random_share=_share_of(random_var, unc0**2), calibration=calib)


def _beside_relief(normal: F64, binv: I64, bcen: F64, pairs: tuple[I64, I64], config: CompareConfig,
                   radius_m: float = 0.75) -> NDArray[np.bool_] | None:
    """Per cell (``normal`` (M, 3): the reference's normal at each; ``binv`` (M,): its 0.5 m block;
    ``bcen`` (B, 3) the blocks' centres), whether it lies within ``radius_m`` of a block where the
    reference's surface turns by more than ``config.uncertainty.calibrate_relief_apart_deg`` (within
    the block, or to a block within ``radius_m``): a sea chest's walls and rim, a rudder, a propeller,
    an anode; a bilge's turn (a metre or more of radius) does not. The reference's geometry only.
    ``pairs``: the local baseline's (owner, member) block pairs within ``detection.baseline_radius_m``,
    reused where they reach ``radius_m``. None where that is off."""
    turn_deg = config.uncertainty.calibrate_relief_apart_deg
    if turn_deg <= 0:
        return None
    nb_blocks = len(bcen)
    if not nb_blocks:
        return np.zeros(len(binv), bool)
    ok = np.all(np.isfinite(normal), axis=1)
    acc = np.zeros((nb_blocks, 3))
    for i in range(3):
        acc[:, i] = np.bincount(binv[ok], weights=normal[ok, i], minlength=nb_blocks)
    n = np.bincount(binv[ok], minlength=nb_blocks).astype(float)
    length = np.linalg.norm(acc, axis=1)
    mean = acc / np.maximum(length, 1e-12)[:, None]
    cos_turn = float(np.cos(np.radians(turn_deg)))
    # Within the block: the normals' mean is shorter the more they turn (1 - cos of a spread).
    out = (n > 0) & (length < n * (0.5 * (1.0 + cos_turn)))
    if config.detection.baseline_radius_m >= radius_m:
        owner, member = pairs
    else:
        owner, member = _flatten(cKDTree(bcen).query_ball_point(bcen, r=radius_m, workers=-1, return_sorted=False))
    near = np.einsum("ij,ij->i", d := bcen[owner] - bcen[member], d) <= radius_m**2
    owner, member = owner[near], member[near]
    keep = (n[owner] > 0) & (n[member] > 0)
    turned = np.einsum("ij,ij->i", mean[owner[keep]], mean[member[keep]]) < cos_turn
    out[owner[keep][turned]] = True
    # Beside it: a block's mean normal dilutes a wall with the floor it shares the block with.
    beside = np.zeros(nb_blocks, bool)
    beside[owner[out[member]]] = True
    return np.asarray((beside | out)[binv], bool)


def _share_of(part: F64, whole: F64) -> F64:
    """``part / whole`` (M,) within [0, 1]; 1 where ``whole`` is 0 (nothing but the random term)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.clip(np.nan_to_num(part / whole, nan=1.0, posinf=1.0), 0.0, 1.0), np.float64)


def _without_leading_edge(d: F64, judged: NDArray[np.bool_], geometry: tuple[F64, F64] | None,
                          mean: Callable[[F64], F64], config: CompareConfig) -> tuple[F64, float]:
    """(deviation, gain): the cells' deviation ``d`` (M,) less their leading-edge bias, and the share of
    the model taken out (:func:`hullscan.compare.uncertainty.bias_gain`; 0: nothing was).

    A first arrival stands proud of the plating by a share of the beam's footprint that grows with
    the incidence (:func:`hullscan.compare.uncertainty.leading_edge_bias`). The relative deviation
    cancels it where the incidence changes slowly; where it jumps (a lane's edge seen at grazing
    beside the next lane's head-on returns, a tunnel's mouth) it steps the deviation by centimetres.
    ``geometry``: each point's incidence and range; ``mean``: a per-point array's mean per cell."""
    if geometry is None or config.uncertainty.leading_edge != "correct":
        return d, 0.0
    bias = mean(leading_edge_bias(geometry[0], geometry[1], config.uncertainty.beam_width_deg))
    gain = bias_gain(d, bias, judged, config.detection.baseline_clip_m)
    return np.asarray(d - gain * bias, np.float64), gain


def _judged_height_sigma(cell_sigma: F64, nb: I64, judged: NDArray[np.bool_], floor: float) -> F64:
    """The uncertainty (m) of the height the detector judges in each cell: the median over its
    smoothing neighbours ``nb`` (M, k; those ``judged``, M,) of their means, each of ``cell_sigma``
    (M,): 1.25 sigma / sqrt(n) for a median of n, with ``floor``."""
    med, n_nb = neighbour_nanmedian(np.where(judged, cell_sigma, np.nan), nb)
    return np.asarray(np.hypot(1.2533 * med / np.sqrt(np.maximum(n_nb, 1)), floor), np.float64)


def _local_systematic(cp: F64, residual: F64, bmed: F64, bbase: F64, binv: I64, owner: I64, members: I64,
                      config: CompareConfig, plating_m: float | None = None, noise: F64 | None = None) -> F64:
    """Per cell, the systematic error the local baseline leaves (m, 1 sigma): what it does not
    follow at half a metre (a lane's offset from its neighbour, a plate's own shape), the robust
    spread of the 0.5 m blocks' medians around it within the baseline's radius; and at the scale
    of metres (a pass placed decimetres off by drifting navigation), the spread of the cells'
    residuals over 1 m blocks within a few metres (:func:`_wide_spread`). ``plating_m``: blocks and
    cells standing farther than this off the baseline are left out (an object, not an offset): a
    1.2 m box covers a third of the 0.5 m blocks within 1.5 m and would otherwise hide itself."""
    nb_blocks = len(bmed)
    vals = np.abs(bmed - bbase)[members]  # (owner, members): each 0.5 m block and those within the baseline's radius
    fin = np.isfinite(vals) if plating_m is None else np.isfinite(vals) & (vals <= plating_m)
    q = config.uncertainty.systematic_quantile
    sys_m = np.nan_to_num(group_quantile(owner[fin], vals[fin], nb_blocks, q), nan=0.0)[binv] / ndtri(0.5 + q / 2)
    if plating_m is not None:
        residual = np.where(np.abs(residual) <= plating_m, residual, np.nan)
    wide = _wide_spread(cp, residual, config)
    if noise is not None:
        # ``noise`` (M,): each cell's random error, which the residuals' spread also holds.
        wide = np.sqrt(np.maximum(wide**2 - noise**2, 0.0))
    return np.asarray(np.hypot(sys_m, wide), np.float64)


def _cell_normals(normals: NDArray[np.floating[Any]], inv: I64, m: int) -> F64:
    """Mean unit normal (M, 3) of each cell's points: normals face the sensor, so the mean points
    the way the cell's surface does."""
    sums = np.stack([np.bincount(inv, weights=normals[:, i], minlength=m) for i in range(3)], axis=1)
    return np.asarray(sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12), np.float64)


def _wide_spread(cp: F64, residual: F64, config: CompareConfig, block: float = 1.0) -> F64:
    """Per cell: the median over 1 m blocks within ``uncertainty.wide_radius_m`` of each block's
    ``systematic_quantile`` of the cells' absolute residuals, as a Gaussian sigma (0 where off)."""
    radius = config.uncertainty.wide_radius_m
    if radius <= 0 or not len(cp):
        return np.zeros(len(cp))
    q = config.uncertainty.systematic_quantile
    _, binv, _ = group_keys(voxel_keys(cp, block))
    nb = int(binv.max()) + 1
    fin = np.isfinite(residual)
    bq = group_quantile(binv[fin], np.abs(residual[fin]), nb, q)
    cnt = np.bincount(binv, minlength=nb).astype(float)
    cen = np.stack([np.bincount(binv, weights=cp[:, i], minlength=nb) for i in range(3)], 1) / np.maximum(cnt, 1)[:, None]
    nbrs = cKDTree(cen).query_ball_point(cen, r=radius, workers=-1, return_sorted=False)
    owner = np.repeat(np.arange(nb), [len(x) for x in nbrs])
    vals = bq[np.concatenate([np.asarray(x, np.int64) for x in nbrs])]
    ok = np.isfinite(vals)
    wide = np.nan_to_num(group_median(owner[ok], vals[ok], nb), nan=0.0)
    return np.asarray(wide[binv] / ndtri(0.5 + q / 2), np.float64)


RECESS_LINK_M = 0.25


def components(points: F64, radius: float, bridge: NDArray[np.bool_] | None = None,
               bridge_radius: float = RECESS_LINK_M, reach: F64 | None = None) -> tuple[int, I64]:
    """Connected components of points closer than ``radius`` (``bridge`` points: ``bridge_radius``).
    ``reach`` (N,): each point's own link radius where the sampling is sparse (>= ``radius``); two
    points then join within the smaller of their two reaches."""
    if len(points) == 0:
        return 0, np.zeros(0, np.int64)
    tree = cKDTree(points)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    wide = np.zeros(0, np.int64) if reach is None else np.flatnonzero(reach > radius)
    if reach is not None and len(wide):
        # Only the sparse points search wider; a pair joins if each lies within the other's reach.
        near = tree.query_ball_point(points[wide], r=reach[wide], workers=-1, return_sorted=False)
        owner, member = _flatten(near)
        a, b = wide[owner], member
        ok = np.linalg.norm(points[a] - points[b], axis=1) <= np.minimum(reach[a], reach[b])
        pairs = np.concatenate([pairs.reshape(-1, 2), np.stack([a[ok], b[ok]], axis=1)])
    if bridge is not None and bridge.sum() > 1:
        # Behind a grating the bars' shadows cut what lies there into strips: one object.
        bi = np.flatnonzero(bridge)
        bp = cKDTree(points[bi]).query_pairs(bridge_radius, output_type="ndarray")
        if len(bp):
            pairs = np.concatenate([pairs.reshape(-1, 2), bi[bp]])
    n = len(points)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    k, labels = connected_components(g, directed=False)
    return int(k), labels.astype(np.int64)


def joined_off_reference(cells: Cells, a: I64, b: I64, margin: float = 0.3) -> bool:
    """Whether cell sets ``a`` and ``b`` are connected through cloud cells off the reference's edge.

    An object on a corner of the reference (a box on the side plating overhanging the transom)
    is measured against two faces, and the cells in the corner's wedge have no reference surface
    under them: the segmentation cuts it in two there although the cloud is continuous.
    """
    if not len(a) or not len(b):
        return False
    pa, pb = cells.points[a], cells.points[b]
    lo = np.minimum(pa.min(axis=0), pb.min(axis=0)) - margin
    hi = np.maximum(pa.max(axis=0), pb.max(axis=0)) + margin
    off = np.flatnonzero(np.isnan(cells.d) & np.all((cells.points >= lo) & (cells.points <= hi), axis=1))
    idx = np.concatenate([a, b, off])
    _, labels = components(cells.points[idx], 1.8 * ANALYSIS_CELL_M)
    return bool(np.isin(labels[:len(a)], labels[len(a):len(a) + len(b)]).any())


def joined_across_unseen(cells: Cells, a: I64, b: I64, max_gap_m: float, max_blocked: float = 0.25) -> bool:
    """Whether cell sets ``a`` and ``b`` face each other across a band the survey did not see: the
    lines from ``a``'s feet on the reference to ``b``'s nearest (those at most ``max_gap_m`` long)
    cross no other cell's foot (plating or anything else seen), but for ``max_blocked`` of them (an
    end of the object, where plating beyond it was seen).

    An object astride a gap between two lanes is seen as its two ends (the scenario library's
    fouled_feeder: a 0.6 m high box as 0.084 and 0.016 m3 findings 0.4 m apart, nothing seen
    between). Plating seen between two protrusions keeps them apart."""
    fa, fb = cells.base[a], cells.base[b]
    fa, fb = fa[np.isfinite(fa).all(axis=1)], fb[np.isfinite(fb).all(axis=1)]
    if not len(fa) or not len(fb):
        return False
    dist, j = cKDTree(fb).query(fa, distance_upper_bound=max_gap_m)
    pairs = np.flatnonzero(np.isfinite(dist))
    if not len(pairs):
        return False
    pairs = pairs[np.linspace(0, len(pairs) - 1, min(len(pairs), 64)).astype(np.int64)]
    p0, p1 = fa[pairs], fb[j[pairs]]
    t = np.arange(1, int(np.ceil(max_gap_m / (ANALYSIS_CELL_M / 2)))) * (ANALYSIS_CELL_M / 2)  # along each line (m)
    length = np.linalg.norm(p1 - p0, axis=1)
    # The middle of each line only: beside an object's own feet lies the plating it stands on.
    inside = (t[None, :] > 2 * ANALYSIS_CELL_M) & (t[None, :] < length[:, None] - 2 * ANALYSIS_CELL_M)
    samples = p0[:, None, :] + (p1 - p0)[:, None, :] * (t[None, :] / np.maximum(length, 1e-9)[:, None])[..., None]
    pts = samples[inside]
    if not len(pts):
        return True  # adjacent: nothing between them
    lo, hi = pts.min(axis=0) - 2 * ANALYSIS_CELL_M, pts.max(axis=0) + 2 * ANALYSIS_CELL_M
    near = np.flatnonzero(np.all((cells.base >= lo) & (cells.base <= hi), axis=1))
    near = np.setdiff1d(near, np.concatenate([a, b]))
    if not len(near):
        return True
    d, _ = cKDTree(cells.base[near]).query(pts, distance_upper_bound=1.5 * ANALYSIS_CELL_M)
    seen = np.zeros(inside.shape, bool)
    seen[inside] = np.isfinite(d)
    return bool(seen.any(axis=1).mean() <= max_blocked)


@dataclass(frozen=True, eq=False)
class Segment:
    kind: str
    cells: I64  # indices into Cells
    height_map: F64  # local deviation raster (NaN = not seen), metres, for the report
    map_extent: tuple[float, float, float, float]  # u0, u1, v0, v1 in metres
    base_points: F64


def _tangent_basis(n: F64) -> tuple[F64, F64]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = helper - n * (helper @ n)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def _height_raster(foot: F64, h: F64, nbar: F64, close_iter: int, pad: int = 1
                   ) -> tuple[F64, NDArray[np.bool_], F64]:
    """Heights ``h`` standing on ``foot`` rasterised on the tangent plane of ``nbar``: (raster, filled, lo);
    ``pad`` empty cells around (a closing of more iterations than that erodes at the raster's edge)."""
    g = ANALYSIS_CELL_M
    e1, e2 = _tangent_basis(nbar)
    c0 = foot.mean(axis=0)
    uv = np.stack([(foot - c0) @ e1, (foot - c0) @ e2], axis=1)
    lo = uv.min(axis=0) - pad * g
    ij = np.floor((uv - lo) / g).astype(np.int64)
    shape = tuple(int(s) + 1 + pad for s in ij.max(axis=0) + 1)
    # Mean height per tangent-plane cell: rim cells hold the side walls (0..h) and are half inside.
    hsum = np.zeros(shape)
    hcnt = np.zeros(shape)
    np.add.at(hsum, (ij[:, 0], ij[:, 1]), h)
    np.add.at(hcnt, (ij[:, 0], ij[:, 1]), 1.0)
    occ = hcnt > 0
    raster = np.where(occ, hsum / np.maximum(hcnt, 1.0), -1.0)
    filled = ndimage.binary_fill_holes(ndimage.binary_closing(occ, iterations=close_iter)) | occ
    if (~occ & filled).any():
        _, (ii, jj) = ndimage.distance_transform_edt(~occ, return_indices=True)
        raster = np.where(filled & ~occ, raster[ii, jj], raster)
    return np.where(filled, np.maximum(raster, 0.0), np.nan), filled, lo + c0 @ np.stack([e1, e2], axis=1)


def _overhang(cells: Cells, idx: I64, nbar: F64, max_steps: int = 40) -> tuple[I64, F64]:
    """Unjudged cells (off the reference's edge) connected to ``idx`` that stand 2.5 cm..1.5 m
    above the reference along ``-nbar`` (at most twice their nearest-point distance): their
    indices and those distances."""
    assert cells.reference is not None
    off = np.flatnonzero(np.isnan(cells.d))
    if not len(off):
        return np.zeros(0, np.int64), np.zeros(0)
    near = cKDTree(cells.points[off]).query_ball_point(cells.points[idx], r=1.8 * ANALYSIS_CELL_M)
    cand = np.unique(np.concatenate([np.asarray(n, np.int64) for n in near])) if len(near) else np.zeros(0, np.int64)
    if not len(cand):
        return np.zeros(0, np.int64), np.zeros(0)
    t_off = np.full(len(off), np.nan)
    tree = cKDTree(cells.points[off])
    taken = np.zeros(len(off), bool)
    tried = np.zeros(len(off), bool)
    front = cand
    for _ in range(max_steps):
        front = front[~tried[front]]
        if not len(front):
            break
        tried[front] = True
        q = cells.points[off[front]]
        t = cells.reference.distance_along(q, nbar)
        dn = cells.reference.signed_distance(q)[0]
        # Outside the reference and not a ray grazing past thin structure (over twice the
        # nearest-point distance, as in measure).
        good = np.isfinite(t) & (t > 0.025) & (t < 1.5) & (dn > 0) & (t <= 2 * dn)
        t_off[front[good]] = t[good]
        front = front[good]
        taken[front] = True
        if not len(front):
            break
        nxt = tree.query_ball_point(cells.points[off[front]], r=1.8 * ANALYSIS_CELL_M)
        front = np.unique(np.concatenate([np.asarray(n, np.int64) for n in nxt]))
    return off[taken], t_off[taken]


def measure(cells: Cells, idx: I64, sign: float, bridge_m: float = 0.0) -> dict[str, Any]:
    """Footprint, volume, height and centroid of one connected deviation.

    ``layer_*``: the same from nearest-point heights over the reference surface (a layer's own
    thickness, for telling growth layers from objects). ``bridge_m``: the deviation was seen on
    both sides of a band the survey did not see, up to this wide (:func:`joined_across_unseen`):
    the band is filled from the heights seen on either side of it, and ``bridged_volume`` says how
    much of ``volume`` that is (a box astride a gap between lanes is there in the gap too; measured
    as seen, fouled_feeder's box had 42 % of its volume).
    """
    g = ANALYSIS_CELL_M
    facing = _facing_share(cells, idx)
    # Grating bars shadow strips of what lies behind them: close those gaps before filling holes.
    recess = cells.in_recess is not None and float(cells.in_recess[idx].mean()) >= 0.5
    close_iter = int(np.ceil(RECESS_LINK_M / g / 2)) if recess else 1
    h0 = np.clip(sign * cells.residual[idx], 0.0, None)
    base = cells.base[idx]
    nbar = cells.normal[idx].mean(axis=0)
    nbar /= max(float(np.linalg.norm(nbar)), 1e-9)
    layer, layer_filled, _ = _height_raster(base, h0, nbar, close_iter)
    h, foot = h0, base
    if sign > 0 and not recess and cells.reference is not None:
        # Where the reference under a finding is not flat (an object in the corner of a bilge
        # keel or a skeg) the nearest-point distance is shorter than the object is thick: there
        # the height is taken along the mean normal and stands on the footprint seen along it.
        # The smoothed height is scaled by that ratio. Cells where it is under 10 % longer, or no
        # face is hit, keep the nearest-point measure; so do cells whose ray is over twice their
        # nearest-point distance: it went past the reference's edge (a torpedo's flank under a
        # skeg: the ray misses the skeg and meets the hull a metre up) and measures nothing of
        # the object (as in _overhang).
        pts = cells.points[idx]
        t = cells.reference.distance_along(pts, nbar)
        ok = np.isfinite(t) & (h0 > 0)
        ratio = np.where(ok, t, 0.0) / np.maximum(np.nan_to_num(cells.d[idx]), 0.02)
        ok &= (ratio > 1.1) & (ratio <= 2.0)
        h = np.where(ok, h0 * ratio, h0)
        foot = np.where(ok[:, None], pts - np.where(ok, t, 0.0)[:, None] * nbar, base)
        # What overhangs the edge of the reference (a box past the transom) has no nearest
        # surface under it and is not judged; along the finding's normal it still stands on
        # the hull: those cells, connected to the finding, join it with their height along nbar.
        ext, te = _overhang(cells, idx, nbar)
        if len(ext):
            base = np.vstack([base, cells.points[ext] - te[:, None] * nbar])
            foot = np.vstack([foot, base[len(idx):]])
            h = np.concatenate([h, te - cells.baseline[ext]])
            idx = np.concatenate([idx, ext])
    raster, filled, lo = _height_raster(foot, h, nbar, close_iter)
    bridged = 0.0
    if bridge_m > 0:
        # A closing of k iterations joins parts up to 2k cells apart.
        k = max(close_iter, int(np.ceil(bridge_m / g / 2)))
        seen_volume = float(np.nansum(raster) * g * g)
        raster, filled, lo = _height_raster(foot, h, nbar, k, pad=k + 1)
        bridged = max(0.0, float(np.nansum(raster) * g * g) - seen_volume)
    footprint = float(filled.sum() * g * g)
    volume = float(np.nansum(raster) * g * g)
    # Centroid over the filled height raster (volume-weighted), not over the cells: sonar sees
    # the walls facing it far more densely than the others, which would pull a cell average.
    e1, e2 = _tangent_basis(nbar)
    hr = np.nan_to_num(raster)
    if hr.sum() > 0:
        ii, jj = np.meshgrid(np.arange(hr.shape[0]), np.arange(hr.shape[1]), indexing="ij")
        cu = float((hr * (lo[0] + (ii + 0.5) * g)).sum() / hr.sum())
        cv = float((hr * (lo[1] + (jj + 0.5) * g)).sum() / hr.sum())
    else:
        cu, cv = float(np.mean(foot @ e1)), float(np.mean(foot @ e2))
    w = np.maximum(h, 1e-6)
    level = float(((foot @ nbar) * w).sum() / w.sum())  # the reference surface under it, along nbar
    hh = raster[np.isfinite(raster)]
    mid = float((hh**2).sum() / 2 / max(hh.sum(), 1e-9))
    centroid = cu * e1 + cv * e2 + (level + sign * mid) * nbar
    allp = np.vstack([cells.points[idx], base])
    lo = lo - foot.mean(axis=0) @ np.stack([e1, e2], axis=1)  # report map relative to its centre
    extent = (float(lo[0]), float(lo[0] + raster.shape[0] * g), float(lo[1]), float(lo[1] + raster.shape[1] * g))
    return {
        "footprint": footprint, "volume": volume, "max_height": float(h.max()), "centroid": centroid,
        "bbox_min": allp.min(axis=0), "bbox_max": allp.max(axis=0), "normal": nbar, "raster": raster,
        "extent": extent, "layer_footprint": float(layer_filled.sum() * g * g),
        "layer_volume": float(np.nansum(layer) * g * g), "layer_max_height": float(h0.max()),
        "layer_median_height": float(np.median(h0)),
        "facing": facing, "bridged_volume": bridged, "bridge_m": bridge_m,
        "range": float(np.median(cells.range_m[idx])) if cells.range_m is not None and len(idx) else float("nan"),
    }


def _facing_share(cells: Cells, idx: I64) -> float:
    """Share of a deviation's returns in cells whose own surface faces along the reference's
    normal there (within 60 deg): an object has a top or a flank seen face-on; returns spilled past
    a thin plate's edge continue the plate, edge-on to the end face they are measured from. NaN
    without the cloud's normals."""
    if cells.cloud_normal is None or not len(idx):
        return float("nan")
    own = cells.cloud_normal[idx] if cells.cloud_rotation is None else cells.cloud_normal[idx] @ cells.cloud_rotation.T
    dots = np.abs(np.einsum("ij,ij->i", own, cells.normal[idx]))
    n = cells.count[idx].astype(np.float64)
    return float(n[dots >= 0.5].sum() / max(n.sum(), 1.0))


def recalibrated(cells: Cells, found: list[I64], config: CompareConfig) -> Cells:
    """``cells`` with the survey's scale read again from the plating away from what was found.

    The self-calibration reads the scale from every judged cell of an incidence band, robustly. But
    around a finding the cells are not plating: its flanks (seen at grazing incidence, where a band
    holds few cells), the baseline it disturbs within ``detection.baseline_radius_m``, the growth
    around a sea chest's pack. Where they are a large share of a band they widen its scale and every
    z-score of the band reads low (clean plating's spread 0.88 on a hull with growth at its bow). So
    the scale is read once more from the judged cells farther than ``uncertainty.calibrate_away_m``
    from every cell of a finding (``found``: each finding's cells), and the z-scores follow. The
    caller segments once more with them. Unchanged (the same object: no second segmentation) where
    that is off, nothing was found, the cells were not self-calibrated or the scale read again is
    the same (every band too thin away from the findings keeps the overall one)."""
    radius = config.uncertainty.calibrate_away_m
    cal = cells.calibration
    if radius <= 0 or not found or cal is None or not config.uncertainty.self_calibrate:
        return cells
    # Only the cells the scale is read from are asked how near a finding they lie.
    plating = cells.judged & np.isfinite(cells.residual)
    judged = np.flatnonzero(plating)
    plating[judged] = np.isinf(cKDTree(cells.points[np.concatenate(found)]).query(
        cells.points[judged], k=1, distance_upper_bound=radius, workers=-1)[0])
    scales, scale = calibrated_scales(cells.residual, cal.raw, plating, config.uncertainty, cal.incidence,
                                      relief=cal.relief)
    unc = scales * cal.raw
    if cells.uncertainty is not None and np.array_equal(unc, cells.uncertainty, equal_nan=True):
        return cells
    with np.errstate(invalid="ignore", divide="ignore"):
        z = cells.residual / unc
    return replace(cells, uncertainty=unc, zscore=z, uncertainty_scale=scale)


def contradicted(cells: Cells, config: CompareConfig, around: bool = True) -> NDArray[np.bool_]:
    """Deviating cells over a place where other cells saw plating.

    Two views of one place that disagree (a lane placed a few centimetres off its neighbour, a
    pass whose navigation drifted, grazing returns beside head-on ones) give two layers over the
    same reference footprint: one at the plating, one off it. A compartment hides the plating
    under it, so the plating seen there is the evidence that the other layer is not one. Cells
    standing more than ``grow_height_m`` off the plating whose foot lies within
    ``contradiction_radius_m`` of the foot of a judged cell within ``grow_height_m`` of the
    plating are contradicted; the walls of a real object are not (their plating is hidden).
    ``around``: also those with plating seen all around their foot within ``contradiction_around_m``
    (a sparse view of the plating); every top cell of an object narrower than twice that radius
    has plating all around it, so this part takes such objects too."""
    out = np.zeros(len(cells.residual), bool)
    r = np.abs(np.nan_to_num(cells.residual, nan=0.0))
    flat = np.flatnonzero(cells.judged & np.isfinite(cells.residual) & (r <= config.detection.grow_height_m))
    off = np.flatnonzero(cells.judged & (r > config.detection.grow_height_m))
    radius = config.detection.contradiction_radius_m
    if radius <= 0 or not len(off) or not len(flat):
        return out
    tree = cKDTree(cells.base[flat])
    near = tree.query(cells.base[off], k=1, distance_upper_bound=radius)[0]
    out[off] = np.isfinite(near)
    # Plating all around the foot within a wider radius (a sparse view of the plating): beside a
    # real object's edge the plating lies on one side, outside its footprint.
    around_m = config.detection.contradiction_around_m if around else 0.0
    rest = off[~out[off]]
    if around_m <= 0 or not len(rest):
        return out
    groups = tree.query_ball_point(cells.base[rest], r=around_m, workers=-1, return_sorted=False)
    n = np.fromiter((len(g) for g in groups), np.int64, len(groups))
    has = np.flatnonzero(n >= 4)
    if not len(has):
        return out
    owner = np.repeat(np.arange(len(has)), n[has])
    members = flat[np.concatenate([np.asarray(groups[i], np.int64) for i in has])]
    offset = cells.base[members] - cells.base[rest[has]][owner]
    mean = np.stack([np.bincount(owner, weights=offset[:, k], minlength=len(has)) for k in range(3)], 1) / n[has, None]
    out[rest[has]] = np.linalg.norm(mean, axis=1) < 0.35 * around_m
    return out


SHELL_RADIUS_M = 0.75
SHELL_MIN_AGREEMENT = 0.5  # least length of the mean unit normal around a foot for a shell to be there
FACING_COS = np.cos(np.radians(45.0))


def explained_by_reference(cells: Cells, candidates: NDArray[np.bool_], config: CompareConfig) -> NDArray[np.bool_]:
    """The ``candidates`` (a mask over the cells) that the reference's own surface explains if
    moved a little along the shell.

    Navigation places each lane only to some centimetres along the ship (a flat side fixes no
    position along it), and the beam's footprint carries a feature's top a few centimetres past
    its end. So where the reference has a feature of its own (an anode 8 cm proud, a bilge keel's
    end, a propeller boss) the survey shows the feature's top beside the reference's: a stripe as
    high as the feature and as wide as the misplacement. A cell is explained when the reference
    has surface at the cell's own height (within ``grow_height_m`` along the shell's normal) no
    farther than ``feature_shift_m`` (plus the reference samples' spacing) along the shell. The
    shell's normal is the mean of the reference's normals within ``SHELL_RADIUS_M`` of the cell's
    foot: a feature's faces cancel out in it, and the plating around them is left. A compartment
    stands higher than the features beside it, or away from them; where the cloud has normals,
    the cell must also face the way that reference surface does (within 45 deg), so an object
    among tall features (a box on a propeller hub between its blades) is not explained by their
    flanks. Recesses behind a grating (measured through the bars) are not judged this way.
    Boolean mask over the cells."""
    out = np.zeros(len(cells.d), bool)
    ref = cells.reference
    keep = candidates & np.isfinite(cells.d)
    if cells.in_recess is not None:
        keep &= ~cells.in_recess
    idx = np.flatnonzero(keep)
    if config.detection.feature_shift_m <= 0 or ref is None or not len(idx) or not len(ref.icp_points):
        return out
    own = None
    if cells.cloud_normal is not None:
        # The same surface, moved: the cell faces the way the reference surface there does (the
        # top of a box on a propeller hub is beside a blade's face of its height, not parallel to it).
        own = cells.cloud_normal[idx] if cells.cloud_rotation is None else cells.cloud_normal[idx] @ cells.cloud_rotation.T
    reach = None if cells.along_reach is None else cells.along_reach(cells.points[idx])
    out[idx] = _explained_at(ref, cells.points[idx], cells.base[idx], own, config, reach)
    return out


def _explained_at(ref: Reference, p: F64, feet: F64, own: F64 | None, config: CompareConfig,
                  reach: F64 | None = None) -> NDArray[np.bool_]:
    """:func:`explained_by_reference` for points ``p`` (K, 3) whose feet on the reference are ``feet``
    (K, 3), facing ``own`` (K, 3; None: any way); ``reach`` (K,): how far along the ship (m) the
    survey's placement is stated uncertain there (:func:`along_ship_shift`). Boolean (K,)."""
    out = np.zeros(len(p), bool)
    # Where the reference's normals around the foot disagree (a propeller's hub among its blades,
    # a rudder's edge) there is no shell to move along: not judged.
    shell = reference_shell(ref, feet)
    plated = np.flatnonzero(np.linalg.norm(shell, axis=1) > 0)
    if not len(plated):
        return out
    shell = shell[plated]
    # Reference surface within the shift along the shell and the tolerance across it; along the
    # ship, within what the survey's placement there is stated uncertain by.
    tol, rho = config.detection.grow_height_m, config.detection.feature_shift_m + ref.spacing
    shift = along_ship_shift(None if reach is None else reach[plated], rho, config)
    owner, members = _shifted_neighbours(ref, p[plated], shift, rho, tol)
    if not len(owner):
        return out
    q = ref.icp_points[members] - p[plated][owner]
    up = np.einsum("ij,ij->i", q, shell[owner])
    flat = q - up[:, None] * shell[owner]  # the move along the shell
    hit = (np.abs(up) <= tol) & _within_shift(flat, shell[owner], None if shift is None else shift[owner], rho)
    if own is not None:
        hit &= np.abs(np.einsum("ij,ij->i", own[plated][owner], ref.icp_normals[members])) >= FACING_COS
    out[plated] = np.bincount(owner[hit], minlength=len(plated)) > 0
    return out


def along_ship_shift(reach: F64 | None, rho: float, config: CompareConfig) -> F64 | None:
    """How far (m) along the ship a reference feature may have moved at each point: the survey's
    stated along-ship uncertainty ``reach`` (K,; 2 sigma) where it exceeds the shift along the shell
    ``rho``, up to ``detection.feature_shift_along_max_m``; 0 elsewhere (the shift along the shell
    alone); None where nothing is stated anywhere."""
    cap = config.detection.feature_shift_along_max_m
    if reach is None or cap <= rho:
        return None
    r = np.nan_to_num(np.asarray(reach, np.float64), nan=0.0)
    out = np.where(r > rho, np.minimum(r, cap), 0.0)
    return np.asarray(out, np.float64) if out.any() else None


def _shifted_neighbours(ref: Reference, q0: F64, shift: F64 | None, rho: float, tol: float) -> tuple[I64, I64]:
    """(owner, member) pairs of the points ``q0`` (K, 3) and the reference samples within ``rho``
    along the shell and ``tol`` across it, and (``shift``, K) within ``shift`` along the ship:
    balls of the same radius strung along the ship's axis every ``rho`` (a ball as long as the
    shift would hold hundreds of times the samples). Pairs may repeat."""
    tree = ref.icp_tree()
    r = float(np.hypot(rho, tol))
    owners, members = [], []
    steps = 0 if shift is None else int(np.ceil(float(shift.max()) / rho))
    for k in range(-steps, steps + 1):
        # A ball at k steps is asked only for the points whose shift reaches past the one before.
        # (Not half a step past: within the shift the ball before holds the same surface, but
        # relief_hides' first screen, which judges height along other normals than the full test,
        # then let through one place in ten thousand that the full test would not have cleared.)
        at = np.flatnonzero(np.ones(len(q0), bool) if k == 0 or shift is None else shift > (abs(k) - 1) * rho)
        if not len(at):
            continue
        o, m = ball_pairs(tree, q0[at] + np.array([k * rho, 0.0, 0.0]), r)
        owners.append(at[o])
        members.append(m)
    if not owners:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(owners), np.concatenate(members)


def _within_shift(flat: F64, shell: F64, shift: F64 | None, rho: float) -> NDArray[np.bool_]:
    """Moves ``flat`` (P, 3) along a shell of normal ``shell`` (P, 3) that lie within ``rho``, or
    (``shift``, P) within ``shift`` along the ship and ``rho`` across it. Where the shell faces
    along the ship (a transom, a bow's flare) it has no along-ship direction to move in: ``rho``."""
    inside = np.linalg.norm(flat, axis=1) <= rho
    if shift is None:
        return inside
    axis = np.array([1.0, 0.0, 0.0]) - shell[:, :1] * shell  # the ship's axis in the shell's plane
    length = np.linalg.norm(axis, axis=1)
    axis = axis / np.maximum(length, 1e-12)[:, None]
    a = np.einsum("ij,ij->i", flat, axis)
    across = np.sqrt(np.maximum(np.einsum("ij,ij->i", flat, flat) - a * a, 0.0))
    return np.asarray(inside | ((shift > 0) & (length >= 0.5) & (np.abs(a) <= shift) & (across <= rho)), np.bool_)


def reference_shell(ref: Reference, feet: F64) -> F64:
    """:func:`shell_normals` at ``feet`` (K, 3) from the reference's own area-uniform samples."""
    near = ref.icp_tree().query_ball_point(feet, r=SHELL_RADIUS_M, workers=-1, return_sorted=False)
    owner, members = _flatten(near)
    return _agreeing_mean(owner, ref.icp_normals[members], len(feet))


def _agreeing_mean(owner: I64, normals: F64, n: int) -> F64:
    """Per owner, the unit mean of its ``normals``; zero where they disagree (mean shorter than
    :data:`SHELL_MIN_AGREEMENT`)."""
    shell = np.stack([np.bincount(owner, weights=normals[:, k], minlength=n) for k in range(3)], 1)
    norm = np.linalg.norm(shell, axis=1)
    plated = norm >= SHELL_MIN_AGREEMENT * np.maximum(np.bincount(owner, minlength=n), 1)
    return np.asarray(np.where(plated[:, None], shell / np.maximum(norm, 1e-12)[:, None], 0.0), np.float64)


def shell_normals(at: F64, normals: F64) -> F64:
    """The shell's normal (N, 3) at each of the reference places ``at`` (N, 3), from their own
    ``normals`` (N, 3) within :data:`SHELL_RADIUS_M` (area-uniform samples, as
    :func:`explained_by_reference` takes it from the reference's): the way the plating around
    faces, a feature's faces cancelling out; zero where they disagree (no shell to move along)."""
    # Every 4th place of a hull's worth is as area-uniform and a quarter of the pairs (about 11 within
    # the radius at 0.2 m spacing, not 44): the mean's direction and agreement hardly move.
    step = 4 if len(at) > 4000 else 1
    near = cKDTree(at[::step]).query_ball_point(at, r=SHELL_RADIUS_M, workers=-1, return_sorted=False)
    owner, members = _flatten(near)
    return _agreeing_mean(owner, normals[::step][members], len(at))


def relief_hides(ref: Reference | None, at: F64, normals: F64, shell: F64, height: float, config: CompareConfig,
                 along_reach: F64 | None = None) -> NDArray[np.bool_]:
    """Places ``at`` (N, 3) on the reference, its normals there ``normals`` (N, 3) and the shell's
    (:func:`shell_normals`), where a compartment ``height`` tall would read as the reference's own
    relief moved along the shell (:func:`explained_by_reference`, which the detector drops): its top,
    ``height`` out along the normal and facing along it, has reference surface at its height within
    ``feature_shift_m`` along the shell. Beside an anode's top, at a skeg's or a bilge keel's edge
    (where the shell turns between two faces), such a place cannot be cleared for that height,
    however well it was seen (bench/clearance.py at stop 40: a 10 cm cap on a skeg's flank, in
    surface the coverage called cleared, was dropped as the skeg moved). ``along_reach`` (N,): the
    survey's stated along-ship uncertainty at ``at`` (:attr:`Cells.along_reach`), the farther reach
    along the ship the detector allows. Boolean (N,)."""
    out = np.zeros(len(at), bool)
    if ref is None or height <= 0 or config.detection.feature_shift_m <= 0 or not len(at) or not len(ref.icp_points):
        return out
    top = at + height * normals
    # Most places are plating with nothing at the top's height near: only those with reference
    # surface within the tolerance of it (along the shell) are judged in full.
    tol, rho = config.detection.grow_height_m, config.detection.feature_shift_m + ref.spacing
    reach = along_reach
    owner, members = _shifted_neighbours(ref, top, along_ship_shift(reach, rho, config), rho, tol)
    if not len(owner):
        return out
    maybe = np.flatnonzero(any_near_plane(ref.icp_points, owner, members, top, shell, tol)
                           & (np.linalg.norm(shell, axis=1) > 0))
    if len(maybe):
        out[maybe] = _explained_at(ref, top[maybe], at[maybe], normals[maybe], config,
                                   None if reach is None else reach[maybe])
    return out


def thin_plate(ref: Reference | None, at: F64, normals: F64, thickness: float) -> NDArray[np.bool_]:
    """Places ``at`` (N, 3) on the reference, facing ``normals`` (N, 3), on a plate of it thinner
    than ``thickness`` (m) (:meth:`Reference.thin_at`): a bilge keel, a propeller blade. A
    compartment on one face of such a plate is not told from the plate: its top stands over returns
    of the other face a few centimetres from its feet (contradicted_by_plating), it is narrower than
    the beam seen from most places, or its top is the plate's own edge moved (bench/keel_caps.py:
    keel-sized caps on keel faces that coverage cleared without this were found 7 of 12 at stop 61
    and 10 of 12 at stop 62, 3 of 12 where only the face's own returns were lifted; on propeller
    blades 0 of 2). So such places are not cleared, however well seen. Boolean (N,)."""
    if ref is None or not len(ref.icp_points):
        return np.zeros(len(at), bool)
    return ref.thin_at(at, normals, thickness)


def ball_pairs(tree: cKDTree, points: F64, r: float) -> tuple[I64, I64]:
    """(owner, member) pairs of ``points`` (K, 3) and the samples of ``tree`` within ``r`` of each
    (as ``tree.query_ball_point(points, r)``, flattened). Through a tree of the points and one
    sparse distance matrix: no Python list per point (a coverage's hundred thousand places, each
    with tens of reference samples, took three times as long as lists)."""
    if not len(points):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = cKDTree(points).sparse_distance_matrix(tree, r, output_type="ndarray")
    return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)


def _flatten(groups: Any) -> tuple[I64, I64]:
    """(owner, member) pairs of a cKDTree ball query's lists."""
    counts = np.fromiter((len(g) for g in groups), np.int64, len(groups))
    if not counts.sum():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.repeat(np.arange(len(groups)), counts), np.concatenate([np.asarray(g, np.int64) for g in groups])


def segment(cells: Cells, config: CompareConfig, kinds: tuple[str, ...] = ("protrusion", "recess")
            ) -> list[tuple[str, I64, dict[str, Any]]]:
    """Connected deviations that pass the height, z-score, size and volume thresholds."""
    out = []
    # A deviation over plating that another view saw under it is not a compartment (contradicted()),
    # whichever model judged its height: a compartment hides the plating under it. Plating seen all
    # around it (the sonar trial's further test) is not enough: a 15 cm pack has plating all round.
    against = contradicted(cells, config, around=cells.uncertainty_model == "sonar")
    for kind in kinds:
        sign = 1.0 if kind == "protrusion" else -1.0
        r = sign * np.nan_to_num(cells.residual, nan=0.0)
        z = sign * np.nan_to_num(cells.zscore, nan=0.0)
        floor = least_seed_height(config, kind)
        grow = np.flatnonzero((r > config.detection.grow_height_m) & cells.judged)
        strong = (r > floor) & (z > config.detection.min_zscore)
        raw = strong & ~against
        # A reference feature seen by a lane placed a little off is not a compartment.
        seed = raw & ~explained_by_reference(cells, raw, config)
        bridge = None if cells.in_recess is None else cells.in_recess[grow]
        # Sparse sampling widens the link between seed cells only: a third of a noisy lane end's single
        # returns stand above the grow height and would percolate at that reach; seeds there are rare.
        reach = np.full(len(grow), 1.8 * ANALYSIS_CELL_M)
        reach[strong[grow]] = link_reach(cells, grow[strong[grow]])
        k, labels = components(cells.points[grow], 1.8 * ANALYSIS_CELL_M, bridge, reach=reach)
        for lab in range(k):
            idx = grow[labels == lab]
            if not strong[idx].any() or int(cells.count[idx].sum()) < config.detection.min_points:
                continue
            m = measure(cells, idx, sign)
            if m["footprint"] < config.detection.min_footprint_m2 or m["volume"] < config.detection.min_volume_m3:
                continue
            if m["max_height"] < floor:
                continue
            # The evidence of a finding is in its seed cells (the 2.5 cm skirt grown around them is
            # mostly ordinary plating): the caller merges a segment whose seeds hold fewer than
            # min_seed_points returns into a neighbour, or drops it (a few far-range returns at a
            # swath edge or a sea-chest wall, each alone in its cell, are not an object).
            m["seed_points"] = int(cells.count[idx[seed[idx]]].sum())
            # Every seed over plating another view saw, or explained by the reference's own feature
            # moved a little: the caller drops and counts it (contradicted_by_plating,
            # reference_feature_moved), so that nothing is left out unsaid.
            m["contradicted"] = not raw[idx].any()
            m["feature_moved"] = bool(raw[idx].any()) and not seed[idx].any()
            out.append((kind, idx, m))
    return out


# Sparse sampling: grown cells join within this many times the distance to their 4th nearest judged
# cell (a random scatter of density rho has it at about 1.13 / sqrt(rho); 1.5 spacings percolate), up to
# SPARSE_REACH_MAX_M.
SPARSE_REACH_PER_D4 = 1.33
SPARSE_REACH_MAX_M = 0.2


def link_reach(cells: Cells, idx: I64) -> F64:
    """Per cell of ``idx``: how far (m) it joins its grown neighbours. Where the returns sample the
    plating densely, 1.8 cells; where sparsely (far range, oblique incidence, single returns: one
    point every 8 cm), :data:`SPARSE_REACH_PER_D4` times the distance to its 4th nearest judged cell,
    up to :data:`SPARSE_REACH_MAX_M`: at 1.8 cells a compartment there falls apart into fragments
    of a few returns each, which the seed-support test then drops (bench/clearance.py at stop 40:
    two 10 cm caps in cleared surface at 6.5 and 8.2 m range, 150-250 returns per m², missed)."""
    base = 1.8 * ANALYSIS_CELL_M
    out = np.full(len(idx), base)
    if not len(idx):
        return out
    # Only the judged cells in the 0.5 m blocks at and around the seeds: no tree over the whole hull.
    # (One voxel_keys call over the cells and the seeds moved by a block each way: one key frame.)
    shifts = 0.5 * np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 3)
    m = len(cells.points)
    keys = voxel_keys(np.vstack([cells.points, (cells.points[idx][:, None, :] + shifts[None]).reshape(-1, 3)]), 0.5)
    pool = np.flatnonzero(cells.judged & np.isin(keys[:m], keys[m:]))
    if len(pool) < 5:
        return out
    d4 = cKDTree(cells.points[pool]).query(cells.points[idx], k=5, distance_upper_bound=SPARSE_REACH_MAX_M)[0][:, 4]
    return np.asarray(np.clip(SPARSE_REACH_PER_D4 * np.nan_to_num(d4, posinf=0.0), base, SPARSE_REACH_MAX_M), np.float64)


def least_seed_height(config: CompareConfig, kind: str = "protrusion") -> float:
    """The least height (m) a seed cell of a ``kind`` finding must stand off the plating: protrusions
    ``min_protrusion_height_m`` (a flat pack reads a centimetre under its height), recesses
    ``min_height_m`` (as-built dents are a few centimetres deep)."""
    d = config.detection
    if kind == "protrusion" and d.min_protrusion_height_m is not None:
        return float(d.min_protrusion_height_m)
    return float(d.min_height_m)


def peel_layer(cells: Cells, idx: I64, config: CompareConfig, block: float = 0.5) -> Cells:
    """Cells of one broad deviation with its own layer (local median height) taken off.

    Everything outside ``idx`` is left unjudged. A box standing on a growth layer or on a
    grazing-thickened appendage keeps what stands proud of the layer around it.
    """
    r = cells.residual[idx]
    pts = cells.points[idx]
    _, binv, _ = group_keys(voxel_keys(pts, block))
    nb = int(binv.max()) + 1
    # The layer from the region's lower cells only: an object standing on it (up to
    # layer_object_share of the region) would otherwise raise the layer under itself by its own
    # height, and come off with it (a 10 cm cap grown into the growth patch around it, 11 % of the
    # region's cells, bench/clearance.py on heavy_growth).
    low = r <= np.quantile(r, 1.0 - config.detection.layer_object_share)
    bmed = group_median(binv[low], r[low], nb)
    bsum = np.stack([np.bincount(binv, weights=pts[:, i], minlength=nb) for i in range(3)], axis=1)
    bcen = bsum / np.bincount(binv, minlength=nb)[:, None]
    near = cKDTree(bcen).query_ball_point(bcen, r=config.detection.baseline_radius_m * 2 / 3, workers=-1)
    # Blocks that are all object take the layer of the blocks around them (where none is around:
    # their own median, as before).
    layer = np.array([np.median(v) if len(v := bmed[nbrs][np.isfinite(bmed[nbrs])]) else np.nan for nbrs in near])
    if np.isnan(layer).any():
        whole = group_median(binv, r, nb)
        layer = np.where(np.isnan(layer), np.array([np.median(whole[nbrs]) for nbrs in near]), layer)
    new_r = np.full(len(cells.residual), np.nan)
    new_r[idx] = r - np.maximum(layer[binv], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unc = np.where(np.abs(cells.zscore[idx]) > 1e-9, r / cells.zscore[idx], np.inf)
    # Height above the layer around it is a local difference: an alignment error shifts the
    # object and the layer within a metre of it alike, so only the measurement noise is left.
    unc = np.sqrt(np.maximum(unc**2 - cells.align_residual**2, 0.01**2))
    new_z = np.full(len(cells.residual), np.nan)
    new_z[idx] = new_r[idx] / unc
    judged = np.zeros(len(cells.residual), bool)
    judged[idx] = cells.judged[idx]
    return replace(cells, residual=new_r, zscore=new_z, judged=judged)


def side_of(centroid: F64, normal: F64) -> str:
    if normal[2] < -0.7:
        return "bottom"
    return "port" if centroid[1] >= 0 else "starboard"


def make_finding(fid: str, kind: str, idx: I64, m: dict[str, Any], cells: Cells, reference: Reference,
                 config: CompareConfig, passes: int | None = None, passes_at_utc: tuple[str, ...] = ()) -> Finding:
    """The finding of the cells ``idx`` (measured as ``m``). ``passes``: how many separate passes
    saw it (:func:`finding_passes`; None: not known), and when each first saw it (``passes_at_utc``)."""
    c = m["centroid"]
    regions = reference.regions_at(cells.base[idx], cells.ref_id[idx], cells.normal[idx])
    names, counts = np.unique(regions, return_counts=True)
    region = str(names[np.argmax(counts)])
    # A compartment in a sea chest or on the rudder is what matters: any substantial share counts.
    for special in ("sea_chest", "rudder", "thruster_tunnel"):
        if special in names and counts[list(names).index(special)] >= 0.25 * len(regions):
            region = special
            break
    sign = 1.0 if kind == "protrusion" else -1.0
    zmax = float(np.nanmax(sign * cells.zscore[idx]))
    n_points = int(cells.count[idx].sum())
    s1 = 1 - np.exp(-max(zmax, 0.0) / (2 * max(config.detection.min_zscore, 1.0)))
    s2 = min(1.0, n_points / (3 * config.detection.min_points))
    s3 = float(np.clip(np.average(cells.confidence[idx], weights=cells.count[idx]), 0, 1))
    conf = float(np.clip(s1 * np.sqrt(s2) * (0.5 + 0.5 * s3), 0.0, 1.0))
    if passes is not None and passes >= 2:
        # Seen standing proud by two passes (a pass that saw plating there instead would have
        # contradicted it): one view's chance of a phantom (a grazing lane end, a multipath ghost)
        # is not repeated by another at another time and angle. Half the doubt is taken away.
        conf = 1.0 - 0.5 * (1.0 - conf)
    size = min(1.0, np.sqrt(m["volume"] / 0.1))
    weight = config.scoring.region_weights.get(region, config.scoring.region_weights.get("unknown", 0.6))
    risk = float(np.clip(weight * (0.4 + 0.6 * size) * (0.5 + 0.5 * conf) * (1.0 if kind == "protrusion" else 0.7),
                         0.0, 1.0))
    frame = None
    if config.scoring.frame_spacing_m:
        frame = round((float(c[0]) - config.scoring.frame_zero_x_m) / config.scoring.frame_spacing_m)
    return Finding(
        id=fid, kind=kind,  # type: ignore[arg-type]
        centroid=(float(c[0]), float(c[1]), float(c[2])),
        volume_m3=round(m["volume"], 5), max_height_m=round(m["max_height"], 4),
        footprint_m2=round(m["footprint"], 4),
        bbox_min=tuple(float(v) for v in m["bbox_min"]),  # type: ignore[arg-type]
        bbox_max=tuple(float(v) for v in m["bbox_max"]),  # type: ignore[arg-type]
        region=region, side=side_of(c, m["normal"]),  # type: ignore[arg-type]
        distance_from_stern_m=round(float(c[0]), 3), depth_m=round(float(-c[2]), 3),
        confidence=round(conf, 3), risk=round(risk, 3), n_points=n_points, frame_number=frame, passes=passes,
        passes_at_utc=passes_at_utc, volume_across_unseen_m3=round(float(m.get("bridged_volume", 0.0)), 5),
    )


def finding_passes(cells: Cells, idx: I64, first_s: NDArray[np.floating] | None,
                   last_s: NDArray[np.floating] | None, gap_s: float, min_points: int) -> NDArray[np.float64] | None:
    """When each separate pass that saw the cells ``idx`` first saw them (s since the times' origin,
    ascending): the cloud points in them (``cells.of_point``), their first and last times (``first_s``,
    ``last_s``: (N,) per cloud point, s) grouped by gaps over ``gap_s``, a group counting where
    ``min_points`` of the points were seen in it (:func:`hullscan.core.visits.pass_starts`). None when
    the cloud kept no times."""
    if first_s is None or last_s is None or len(first_s) != len(cells.of_point):
        return None
    mine = np.zeros(len(cells.points), bool)
    mine[idx] = True
    inside = mine[cells.of_point]  # a gather over the cloud (np.isin sorts it: 4x the time at 5 M points)
    starts = pass_starts(np.asarray(first_s)[inside], np.asarray(last_s)[inside], gap_s, min_points)
    return starts if len(starts) else None


# ---------------------------------------------------------------------- coverage


UNCERTAIN = "seen, too uncertain to clear"


# Why: the cells there are uncertain mostly for their returns (too few, too noisy: far, grazing), or
# mostly for what the surface around them shows. A closer, slower or crossing pass helps the first;
# the second it may not.
FEW_RETURNS = "its returns are too few or too noisy: fly it closer, slower or from another lane"
UNEVEN = "the surface around it is uneven (growth, plate edges, lanes placed apart): another pass alone may not clear it"
# Over this share of a place's variance random, its returns are what keeps it from clearing (the plain
# majority, not fitted).
FEW_RETURNS_MIN_SHARE = 0.5
# What an inspection left at each reference sample (Coverage.status, coverage.ply's scalar_status).
STATUS_NOT_SEEN, STATUS_ANOTHER_PASS, STATUS_NOT_BY_A_PASS, STATUS_CLEARED = 0, 1, 2, 3
STATUS_TEXT = {STATUS_NOT_SEEN: "not seen",
               STATUS_ANOTHER_PASS: "seen, too uncertain to clear: another, closer or slower pass would clear it",
               STATUS_NOT_BY_A_PASS: "seen, too uncertain to clear: uneven surface, relief beside it, a thin "
                                     "appendage or plating reading low: another pass alone may not clear it",
               STATUS_CLEARED: "cleared"}


def uncertain_reason(height: float, random_share: float | None = None) -> str:
    """The reason given for surface seen, but too uncertain to clear a compartment ``height`` high;
    with the share of its cells' variance that is random (``Cells.random_share``, 0-1), why: too few
    or too noisy returns (over half) or an uneven surface (the rest), and what a dive team can do."""
    base = f"{UNCERTAIN} {height:g} m"
    if random_share is None or not np.isfinite(random_share):
        return base
    return f"{base}: {FEW_RETURNS if random_share > FEW_RETURNS_MIN_SHARE else UNEVEN}"


RELIEF = "seen, beside the reference's own relief"


def relief_reason(height: float) -> str:
    """The reason given for surface seen well enough, where a compartment ``height`` high would read as
    relief of the reference's own moved along the shell (:func:`relief_hides`)."""
    return f"{RELIEF} (an anode's top, a keel's or skeg's edge): a {height:g} m compartment there reads as it moved"


THIN = "seen, on a thin appendage"


def thin_reason(height: float) -> str:
    """The reason given for surface seen on a plate of the reference thinner than ``thin_plate_m``
    (:func:`thin_plate`), where a compartment ``height`` high is not told from the plate."""
    return (f"{THIN} (a bilge keel, a propeller blade): a {height:g} m compartment on one face is not told from "
            "the plate's other face")


LOW = "seen, the plating reads below its surroundings"


def low_reason(height: float) -> str:
    """The reason given for surface seen well enough, where the plating reads so far below its
    surroundings that a compartment ``height`` high would read too low to find (:func:`clearing_cells`)."""
    return (f"{LOW} (a bare patch amid growth, a dent): a {height:g} m compartment there would read too low to be "
            "found")


def reason_kind(reason: str) -> str:
    """A patch's ``reason`` as the kind it is: one of the reason constants (``FEW_RETURNS`` and
    ``UNEVEN`` before the bare ``UNCERTAIN`` they extend), or the reason itself ("not seen", mirror
    mode's own)."""
    return next((k for k in (FEW_RETURNS, UNEVEN, RELIEF, LOW, THIN, UNCERTAIN) if k in reason), reason)


def area_by_kind(patches: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, float]:
    """The area (m²) of ``patches`` per :func:`reason_kind`."""
    area: dict[str, float] = {}
    for p in patches:
        kind = reason_kind(str(p.get("reason", "not seen")))
        area[kind] = area.get(kind, 0.0) + float(p.get("area_m2", 0.0))
    return area


def not_inspected_why(patches: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[tuple[str, float]]:
    """The area (m²) of not-inspected ``patches`` by why, largest first, each as what a dive team can
    do about it: never seen (fly there), seen with returns too few or too noisy (a closer, slower or
    crossing pass clears it), over an uneven surface (a pass alone may not), beside the design's own
    relief, on a thin appendage or over plating that reads low (a diver's or the camera's look); zero
    areas left out."""
    labels = {"not seen": "not seen (no lane saw it)",
              FEW_RETURNS: "seen with too few or too noisy returns (a closer, slower or crossing pass would clear it)",
              UNEVEN: "seen over uneven surface (another pass alone may not clear it)",
              RELIEF: "beside the design's own relief (a diver's or the camera's look)",
              LOW: "over plating that reads below its surroundings (a diver's or the camera's look)",
              THIN: "on a thin appendage: a bilge keel, a propeller blade (a diver's or the camera's look)",
              UNCERTAIN: "seen, too uncertain to clear"}
    area = area_by_kind(patches)
    return sorted(((labels.get(k, k), v) for k, v in area.items() if v > 0), key=lambda kv: -kv[1])


def coverage_summary(cov: dict[str, Any]) -> str:
    """One line from ``Coverage.as_dict()``: 'cleared 0.3 % for 0.1 m compartments (0.2 m: 10 %,
    0.3 m: 16 %), seen 24 %' (the report, the [compare] line and the demo print it)."""
    h = cov.get("clear_height_m") or 0.0
    # findings.json 2.0 names it cleared_fraction; Coverage.as_dict() still says fraction.
    cleared = cov["cleared_fraction"] if "cleared_fraction" in cov else cov["fraction"]
    if not h:
        return f"cleared {100 * cleared:.1f} %"
    others = ", ".join(f"{k} m: {100 * v:.0f} %" for k, v in (cov.get("cleared_fraction_by_height") or {}).items()
                       if float(k) != h)
    return (f"cleared {100 * cleared:.1f} % for {h:g} m compartments" + (f" ({others})" if others else "")
            + f", seen {100 * cov.get('seen_fraction', cleared):.0f} %")


def unseen_reason(patches: list[dict[str, Any]] | tuple[dict[str, Any], ...], point: Any, margin: float = 0.3) -> str:
    """Why a point was not inspected: the ``reason`` of the unseen coverage patch around it (the
    nearest bounding box within ``margin``; of boxes containing it, the smallest: a broad "not
    seen" patch can wrap around a smaller patch of another reason)."""
    p = np.asarray(point, float)
    best, best_key = "not seen", (np.inf, np.inf)
    for patch in patches:
        lo, hi = np.asarray(patch["bbox_min"], float), np.asarray(patch["bbox_max"], float)
        gap = float(np.linalg.norm(np.maximum(0.0, np.maximum(lo - p, p - hi))))
        if gap > margin:
            continue
        key = (gap, float(np.prod(np.maximum(hi - lo, 1e-3))))
        if key < best_key:
            best, best_key = str(patch.get("reason", "not seen")), key
    return best




@dataclass(frozen=True, eq=False)
class Coverage:
    """Which reference samples were seen well enough to clear them.

    ``seen``: cleared, i.e. observed by cells on which a compartment ``clear_height`` high would
    have been found (:func:`clearing_cells`), or under a reported finding; ``seen_any``: observed
    at all (good cells nearby, whatever their uncertainty). Samples seen but not cleared are not
    inspected, with their own reason.
    """

    samples: F64
    seen: NDArray[np.bool_]
    sample_area: float
    patches: tuple[dict[str, Any], ...]
    seen_any: NDArray[np.bool_] | None = None
    clear_height: float = 0.0
    cleared_by_height: dict[float, float] = field(default_factory=dict)  # clear height (m) -> fraction
    under: NDArray[np.bool_] | None = None  # samples under a reported finding (cleared through it)
    normals: F64 | None = None  # the reference's outward normal at each sample
    # per sample, the mean Cells.random_share of the good cells around it (NaN where none): over 0.5,
    # what keeps it from clearing is its returns (another pass helps), else the surface around it
    random_share: F64 | None = None
    # per sample, seen but held back by a thin plate of the reference's (a bilge keel), or seen and
    # clear enough but held back by the reference's own relief beside it or by plating that reads
    # low: another pass alone does not change any of them (None: not computed)
    held: NDArray[np.bool_] | None = None

    @property
    def uneven(self) -> NDArray[np.bool_]:
        """Samples seen but not cleared for the surface around them, not for their returns: another
        pass alone may not clear them (none where the cells kept no split)."""
        if self.random_share is None or len(self.random_share) != len(self.seen):
            return np.zeros(len(self.seen), bool)
        seen_any = self.seen if self.seen_any is None else self.seen_any
        return np.asarray(seen_any & ~self.seen & (np.nan_to_num(self.random_share, nan=1.0) <= FEW_RETURNS_MIN_SHARE),
                          np.bool_)

    @property
    def not_by_a_pass(self) -> NDArray[np.bool_]:
        """Samples seen but not cleared for what another pass does not change: the surface around them
        (:attr:`uneven`), the reference's relief beside them or plating that reads low (``held``)."""
        held = self.held if self.held is not None and len(self.held) == len(self.seen) else np.zeros(len(self.seen), bool)
        seen_any = self.seen if self.seen_any is None else self.seen_any
        return np.asarray(self.uneven | (held & seen_any & ~self.seen), np.bool_)

    def status(self) -> NDArray[np.uint8]:
        """Per sample, what an inspection left there (``coverage.ply``, and what a re-dive plan
        reads): :data:`STATUS_NOT_SEEN`, :data:`STATUS_ANOTHER_PASS` (seen too uncertainly for its
        returns: another, closer or slower pass would clear it), :data:`STATUS_NOT_BY_A_PASS` (seen
        too uncertainly for the surface around it, the reference's relief beside it, on a thin
        appendage or plating that reads low: another pass alone may not clear it) or :data:`STATUS_CLEARED`."""
        seen_any = self.seen if self.seen_any is None else self.seen_any
        out = np.full(len(self.seen), STATUS_NOT_SEEN, np.uint8)
        out[seen_any] = STATUS_ANOTHER_PASS
        out[self.not_by_a_pass] = STATUS_NOT_BY_A_PASS
        out[self.seen] = STATUS_CLEARED
        return out

    @property
    def fraction(self) -> float:
        return float(self.seen.mean()) if len(self.seen) else 0.0

    @property
    def seen_fraction(self) -> float:
        s = self.seen if self.seen_any is None else self.seen_any
        return float(s.mean()) if len(s) else 0.0

    @property
    def area_m2(self) -> float:
        return float(len(self.seen) * self.sample_area)

    def as_dict(self, max_patches: int = 200) -> dict[str, Any]:
        return {
            "fraction": round(self.fraction, 4),
            "seen_fraction": round(self.seen_fraction, 4),
            "clear_height_m": self.clear_height,
            "cleared_fraction_by_height": {f"{h:g}": round(f, 4) for h, f in self.cleared_by_height.items()},
            "inspected_area_m2": round(self.area_m2, 2),
            "seen_area_m2": round(float(self.seen.sum() * self.sample_area), 2),
            "unseen_area_m2": round(float((~self.seen).sum() * self.sample_area), 2),
            "n_unseen_patches": len(self.patches),
            "unseen_patches": list(self.patches[:max_patches]),
        }


def clearing_cells(cells: Cells, config: CompareConfig, height: float | None = None, low: bool = True
                   ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(good, clearing): cells judged and confident enough to count as seen; of those, the ones on
    which a compartment ``height`` (default ``clear_height_m``) high would pass the detector's seed
    test with room to spare: min_zscore x the z-score's uncertainty <= clear_margin x height (the
    detector reads a rounded compartment's top low; bench/clearance.py measures how low), less what
    the plating there reads below its surroundings (``low``; False: as if it read level with them)."""
    h = config.coverage.clear_height_m if height is None else height
    good = cells.judged & (cells.confidence >= config.coverage.coverage_min_confidence)
    if h <= 0 or cells.uncertainty is None:
        return good, good
    if config.coverage.clear_margin * h <= least_seed_height(config) + 1e-9:  # 0.8 x 0.05 is 0.04 + 1e-17
        # The detector may read such a compartment's top at or under the least height it seeds on:
        # it would be found by chance, however well seen. A compartment read exactly at the floor is
        # a coin toss (bench/clearance.py --height 0.05, seeds from 4 cm: 176 of 185 caps found where
        # a "<" here cleared, 9 read at 4.0-4.5 cm or beside the reference's own relief); clearing
        # is a promise, so it needs the worst reading strictly above the floor.
        return good, np.zeros(len(good), bool)
    unc = np.nan_to_num(cells.uncertainty, nan=np.inf)
    zscore, margin = _clear_factors(config)
    # A compartment reads its height plus what the plating under it reads against its surroundings:
    # in a bare patch amid thick growth the local baseline stands on the growth, and a 10 cm cap
    # there read 4.5 cm (bench/clearance.py, heavy_growth). Its top must still seed.
    top = margin * h + (np.minimum(np.nan_to_num(cells.residual, nan=0.0), 0.0) if low else 0.0)
    return good, good & (zscore * unc <= top) & (top > least_seed_height(config) + 1e-9)


def _clear_factors(config: CompareConfig) -> tuple[float, float]:
    """The clearing rule's two factors: min_zscore x uncertainty <= clear_margin x height."""
    return max(config.detection.min_zscore, 1.0), config.coverage.clear_margin


def least_clearable_height(config: CompareConfig, uncertainty: float) -> float:
    """The least compartment height (m) a cell of this uncertainty (m) clears (:func:`clearing_cells`):
    by the seed's z-score, and above the height whose top the detector may read at its floor."""
    zscore, margin = _clear_factors(config)
    return max(zscore * uncertainty / margin, (least_seed_height(config) + 1e-6) / margin)


def _patch_share(share: F64 | None, idx: I64) -> float | None:
    """A too-uncertain patch's random share (its places ``idx``): why it is (few returns, or an uneven
    surface); None where no place of it has one."""
    if share is None or not np.isfinite(share[idx]).any():
        return None
    return float(np.nanmean(share[idx]))


def _mean_over_pairs(values: F64, i: I64, j: I64, n: I64) -> F64:
    """Per place (len(n),): the mean of ``values`` over its cells ``j`` (pairs ``i``, ``j``; ``n`` per
    place), NaN where it has none."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.bincount(i, weights=values[j], minlength=len(n)) / n, np.float64)


def _cleared_by_rule(cells: Cells, config: CompareConfig, seen: NDArray[np.bool_], n_good: list[I64],
                     pairs: list[tuple[I64, I64]], height: float, low: bool = True) -> NDArray[np.bool_]:
    """:func:`clearance`'s places cleared for ``height`` by the clearing rule alone: seen, and most of
    the good cells around each (``pairs``, ``n_good`` of them per place and view) clearing cells."""
    out = seen.copy()
    if height > 0 and cells.uncertainty is not None:
        clears = clearing_cells(cells, config, height, low)[1]
        for n, (i, j) in zip(n_good, pairs, strict=True):
            out &= 2 * np.bincount(i, weights=clears[j], minlength=len(seen)) >= n
    return out


def _facing_pairs(cells: Cells, tree: cKDTree | None, gi: I64, at: F64, normals: F64 | None, radius: float
                  ) -> tuple[I64, I64]:
    """Every (place of ``at``, good cell ``gi[k]`` of ``tree``) pair within ``radius``; with the
    places' ``normals``, only cells measured from a surface facing the same way (within 60 deg)."""
    if tree is None or not len(at):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = cKDTree(at).sparse_distance_matrix(tree, radius, output_type="ndarray")
    i, j = m["i"].astype(np.int64), gi[m["j"]]
    if normals is not None:
        same = np.einsum("ij,ij->i", normals[i], cells.normal[j]) >= 0.5
        i, j = i[same], j[same]
    return i, j


REPORT_CLEAR_HEIGHTS_M = (0.1, 0.2, 0.3)


def clearance(cells: Cells, config: CompareConfig, at: F64, mirror: bool = False, local: bool = False,
              at_normals: F64 | None = None, on_thin: NDArray[np.bool_] | None = None
              ) -> tuple[NDArray[np.bool_], Callable[..., NDArray[np.bool_]], F64 | None]:
    """(seen, cleared, random_share) at reference points ``at`` (N, 3): seen where >= coverage_min_points good cells
    lie within coverage_radius_m (in mirror mode around the reflection too, outside the centre band);
    ``cleared(height, relief=True)``: seen, and most of those cells (so that a few good returns among
    poor ones do not speak for the place) are clearing cells for ``height``, and (``relief``, where
    ``at_normals`` are given) the place is not on a thin plate (:func:`thin_plate`; ``on_thin``: that
    mask, already made, for ``at``) and no relief of the reference's own hides such a compartment
    (:func:`relief_hides`). ``local``: ``at`` is a few points, so
    only the cells around them are searched. ``at_normals`` (N, 3): the reference's normals there;
    a cell then counts only where it was measured from a surface facing the same way (within 60 deg):
    returns from one face of a thin plate (a bilge keel's underside) do not clear the other face, a
    few centimetres away and never seen. ``random_share`` (N,): the mean ``Cells.random_share`` of the
    good cells around each place (NaN where none; None where the cells keep none): why a place
    seen is too uncertain to clear."""
    places = [at]
    facing = [at_normals]
    if mirror:
        places.append(at * np.array([1.0, -1.0, 1.0]))
        facing.append(None if at_normals is None else at_normals * np.array([1.0, -1.0, 1.0]))
    centre = np.abs(at[:, 1]) >= config.mirror.mirror_centre_band_m if mirror else np.ones(len(at), bool)
    good, _ = clearing_cells(cells, config)
    if local and len(at):
        allp = np.vstack(places)
        lo, hi = allp.min(axis=0) - config.coverage.coverage_radius_m, allp.max(axis=0) + config.coverage.coverage_radius_m
        good &= np.all((cells.points >= lo) & (cells.points <= hi), axis=1)

    # Every (place, good cell) pair within the radius, once: each clear height then only counts.
    gi = np.flatnonzero(good)
    tree = cKDTree(cells.points[gi]) if len(gi) else None
    pairs = [_facing_pairs(cells, tree, gi, p, pn, config.coverage.coverage_radius_m)
             for p, pn in zip(places, facing, strict=True)]
    n_good = [np.bincount(i, minlength=len(at)) for i, _ in pairs]
    share = None if cells.random_share is None else _mean_over_pairs(cells.random_share, *pairs[0], n_good[0])
    seen = centre.copy()
    for n in n_good:
        seen &= n >= config.coverage.coverage_min_points

    thin = on_thin if on_thin is not None or at_normals is None else thin_plate(
        cells.reference, at, at_normals, config.coverage.thin_plate_m)
    shell: list[F64] = []  # the shell's normals at ``at``, once asked for
    reach: list[F64 | None] = []  # the survey's stated along-ship uncertainty at ``at``, once asked for
    by_rule: dict[tuple[float, bool], NDArray[np.bool_]] = {}  # per height (and low), cleared before the relief test

    def cleared(height: float, relief: bool = True, low: bool = True) -> NDArray[np.bool_]:
        if (height, low) not in by_rule:
            by_rule[height, low] = _cleared_by_rule(cells, config, seen, n_good, pairs, height, low)
        out = by_rule[height, low].copy()
        if relief and thin is not None:
            # On a plate thinner than thin_plate_m the detector does not tell a compartment from the
            # plate (its other face's returns lie under it): not cleared, for any height.
            out &= ~thin
        if relief and at_normals is not None and height > 0 and cells.uncertainty is not None and out.any():
            # Beside the reference's own relief of that height the detector takes such a
            # compartment for the relief moved: not cleared, however well seen.
            if not shell:  # a few places (local): the reference's own samples around them
                shell.append(reference_shell(cells.reference, at) if local and cells.reference is not None
                             else shell_normals(at, at_normals))
            if not reach:
                reach.append(None if cells.along_reach is None else cells.along_reach(at))
            idx = np.flatnonzero(out)
            near = reach[0]
            out[idx] &= ~relief_hides(cells.reference, at[idx], at_normals[idx], shell[0][idx], height, config,
                                      None if near is None else near[idx])
        return out

    return seen, cleared, share


def coverage(cells: Cells, reference: Reference, config: CompareConfig, finding_cells: list[I64],
             mirror: bool = False) -> Coverage:
    """Seen and cleared reference samples (docs/method.md, Coverage) and the patches not cleared.

    ``finding_cells``: cell indices of each reported finding; the surface under one is cleared.
    """
    samples = reference.samples
    # On a plate thinner than thin_plate_m: a property of the reference alone, made once per reference.
    on_thin = reference.thin_samples(config.coverage.thin_plate_m)
    if reference.hull_frame and len(samples):
        keep = samples[:, 2] < config.coverage.coverage_max_z_m
        samples = samples[keep]
        normals = reference.sample_normals[keep]
        on_thin = on_thin[keep]
    else:
        normals = reference.sample_normals
    if not len(samples):
        return Coverage(samples, np.zeros(0, bool), reference.sample_area, (), np.zeros(0, bool),
                        config.coverage.clear_height_m)
    under = np.zeros(len(samples), bool)  # under a finding the surface was seen (through it)
    for idx in finding_cells:
        near = cKDTree(cells.base[idx]).query(samples, k=1, distance_upper_bound=config.coverage.coverage_radius_m)[0]
        under |= np.isfinite(near)
    seen_any, cleared_at, share = clearance(cells, config, samples, mirror, at_normals=normals, on_thin=on_thin)

    def cleared(height: float) -> NDArray[np.bool_]:
        return cleared_at(height) | under

    seen = cleared(config.coverage.clear_height_m)
    seen_any |= seen
    # Seen and clear enough, but beside relief of the reference's own that such a compartment reads as;
    # or over plating that reads so far below its surroundings that such a compartment would read too low.
    # On a thin plate (a bilge keel, a blade) seen at all: no pass clears it, a diver's look does.
    by_thin = seen_any & ~seen & on_thin
    by_relief = ~seen & ~by_thin & (cleared_at(config.coverage.clear_height_m, relief=False) | under)
    # (Without the relief test: a place failing both reads low, and the relief test is the costly one.)
    by_low = ~seen & ~by_thin & ~by_relief & (cleared_at(config.coverage.clear_height_m, relief=False, low=False)
                                             | under)
    by_height = {h: float(cleared(h).mean()) for h in sorted({*REPORT_CLEAR_HEIGHTS_M, config.coverage.clear_height_m})
                 if h > 0 and h != config.coverage.clear_height_m}
    by_height[config.coverage.clear_height_m] = float(seen.mean())
    patches: list[dict[str, Any]] = []
    spacing = float(np.sqrt(reference.sample_area))
    # Patches never seen, and patches seen only too uncertainly to clear (each with its reason).
    uncertain = np.flatnonzero(seen_any & ~seen & ~by_thin & ~by_relief & ~by_low)
    for unseen, reason in ((np.flatnonzero(~seen_any), "not seen"),
                           (uncertain, UNCERTAIN),
                           (np.flatnonzero(by_thin), thin_reason(config.coverage.clear_height_m)),
                           (np.flatnonzero(by_relief), relief_reason(config.coverage.clear_height_m)),
                           (np.flatnonzero(by_low), low_reason(config.coverage.clear_height_m))):
        k, labels = components(samples[unseen], 1.6 * spacing)
        if not k:
            continue
        regions = reference.regions_at(samples[unseen], normals=normals[unseen])
        for lab in range(k):
            sel = labels == lab
            area = float(sel.sum() * reference.sample_area)
            if area < config.coverage.min_unseen_patch_m2:
                continue
            p = samples[unseen[sel]]
            c = p.mean(axis=0)
            names, counts = np.unique(regions[sel], return_counts=True)
            patches.append({
                "id": "",
                "area_m2": round(area, 3),
                "centroid": [round(float(v), 3) for v in c],
                "bbox_min": [round(float(v), 3) for v in p.min(axis=0)],
                "bbox_max": [round(float(v), 3) for v in p.max(axis=0)],
                "region": str(names[np.argmax(counts)]),
                "side": side_of(c, normals[unseen[sel]].mean(axis=0)),
                "distance_from_stern_m": round(float(c[0]), 2),
                "depth_m": round(float(-c[2]), 2),
                "reason": reason if reason != UNCERTAIN else uncertain_reason(
                    config.coverage.clear_height_m, _patch_share(share, unseen[sel])),
            })
    if patches:
        patches.sort(key=lambda p: -p["area_m2"])
        for i, p in enumerate(patches):
            p["id"] = f"U{i + 1:03d}"
    return Coverage(samples, seen, reference.sample_area, tuple(patches), seen_any, config.coverage.clear_height_m,
                    dict(sorted(by_height.items())), under, normals, share, by_thin | by_relief | by_low)
