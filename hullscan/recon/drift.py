"""Navigation drift correction by submap alignment.

The survey is cut into submaps of ``submap_length_m`` of travel. Each submap, in time
order, is aligned with robust point-to-plane ICP (open3d, Tukey kernel) to the
already-corrected submaps it overlaps (in practice the neighbouring lanes), starting
from the previous submap's correction because drift is continuous. The corrections,
rigid transforms of the nav frame anchored at each submap's mid time, are interpolated
in time (linear + SLERP) and applied to every navigation sample; the caller re-fuses.

The first submap is the anchor: drift before any overlap cannot be observed without a
reference, so the result is self-consistent (no double surfaces) and the remaining
absolute error is the drift of the anchor submap.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.recon.pipeline import NavBuffer, slerp

if TYPE_CHECKING:
    from hullscan.recon.pipeline import Reconstructor, _Block

log = logging.getLogger("hullscan.recon.drift")


def align_translation(src: NDArray[np.float64], tgt: NDArray[np.float64], tgt_normals: NDArray[np.float64],
                      t0: NDArray[np.float64], max_dist: float, voxel: float, tukey_k: float,
                      axes: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], int, float]:
    """Robust point-to-plane ICP for a translation only, coarse to fine.

    Navigation drift is a position drift (attitude from the INS does not drift), and
    translation-only alignment stays well posed on hull shapes that let a rigid
    transform slide (a flat bottom, a cylindrical midbody): directions without
    constraint are left out of each step and keep the prior ``t0``. ``axes`` (3,) of 0/1
    keeps the axes with 0 at the prior (depth from a pressure sensor does not drift).
    Returns the translation, the number of inliers at the finest scale and their RMS residual.
    """
    mask = np.ones(3) if axes is None else np.asarray(axes, np.float64)
    from scipy.spatial import cKDTree

    tree = cKDTree(tgt)
    t = np.asarray(t0, np.float64).copy()
    n_in, rms = 0, np.inf
    dist = max_dist
    while True:
        c = max(dist, tukey_k)
        for _ in range(15):
            d, j = tree.query(src + t, distance_upper_bound=dist)
            ok = np.isfinite(d)
            if ok.sum() < 10:
                return t, 0, np.inf
            q, n = tgt[j[ok]], tgt_normals[j[ok]]
            r = ((src[ok] + t - q) * n).sum(1)
            n = n * mask
            w = np.where(np.abs(r) < c, (1 - (r / c) ** 2) ** 2, 0.0)
            wn = n * w[:, None]
            # Degeneracy-aware step: move only along well-constrained directions (the
            # remapping of Zhang et al. 2016), so a sliding direction keeps the prior.
            ev, vec = np.linalg.eigh(wn.T @ n)
            g = vec.T @ (wn.T @ r)
            good = ev > 0.05 * max(ev.max(), 1e-12)
            step = -vec[:, good] @ (g[good] / ev[good])
            t += step
            if np.linalg.norm(step) < 1e-4:
                break
        n_in = int((w > 0).sum())
        rms = float(np.sqrt(np.average(r**2, weights=w))) if w.sum() > 0 else np.inf
        if dist <= 3 * voxel:
            return t, n_in, rms
        dist = max(dist / 4, 3 * voxel)


def overlap_cost(src: NDArray[np.float64], tree: Any, tgt_normals: NDArray[np.float64],
                 t: NDArray[np.float64], c: float) -> float:
    """Overlap consistency of ``src + t`` with a target: mean truncated squared point-to-plane
    distance (points without a neighbour within ``c`` cost ``c^2``). Lower is better."""
    d, j = tree.query(src + t, distance_upper_bound=c)
    ok = np.isfinite(d)
    r = np.full(len(src), c)
    jj = j[ok]
    r[ok] = np.minimum(np.abs(((src[ok] + t - tree.data[jj]) * tgt_normals[jj]).sum(1)), c)
    return float(np.mean(r**2))


def _submap_ids(nav: NavBuffer, stamps: NDArray[np.int64], length: float) -> NDArray[np.int64]:
    t, a = nav.arrays()
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(a[:, :3], axis=0), axis=1))])
    d = np.interp(stamps.astype(np.float64), t.astype(np.float64), travelled)
    return (d // length).astype(np.int64)


def correct_drift(rec: Reconstructor, blocks: list[_Block]) -> tuple[NavBuffer | None, dict[str, float]]:
    """Corrected navigation (None when nothing could be aligned) and alignment statistics."""
    import open3d as o3d

    cfg = rec.config.drift
    nav = rec.nav
    if len(nav) < 2:
        return None, {"drift_submaps": 0}
    # 1. Georeference every kept return once, labelled by submap.
    pts_l, sub_l, time_l = [], [], []
    for blk in blocks:
        pts, ray, _, _ = rec.georef_block(blk, nav)
        ids = _submap_ids(nav, blk.stamps + rec._offset_ns, cfg.submap_length_m)
        pts_l.append(pts)
        sub_l.append(ids[ray])
        time_l.append(blk.stamps[ray])
    if not pts_l:
        return None, {"drift_submaps": 0}
    pts = np.concatenate(pts_l)
    sub = np.concatenate(sub_l)
    stamps = np.concatenate(time_l)
    order = np.unique(sub)

    def cloud(p: NDArray[np.float64]) -> Any:
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p)).voxel_down_sample(cfg.icp_voxel)
        pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=4 * cfg.icp_voxel, max_nn=30))
        return np.asarray(pc.points).copy(), np.asarray(pc.normals).copy()

    anchors_t: list[float] = []
    anchors_T: list[NDArray[np.float64]] = []
    done: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]] = []
    current = np.zeros(3)
    axes = np.array([1.0, 1.0, 0.0 if cfg.fix_depth else 1.0])
    aligned = skipped = rejected = 0
    residuals = []
    for k, sid in enumerate(order):
        m = sub == sid
        sp, _ = cloud(pts[m])
        mid_t = float(np.median(stamps[m]))
        if k > 0 and len(sp) >= cfg.min_overlap_points:
            # Target: corrected submaps whose boxes overlap this one's (grown by the search distance).
            lo = sp.min(0) + current - cfg.max_correspondence_m
            hi = sp.max(0) + current + cfg.max_correspondence_m
            tp_l, tn_l = [], []
            for p_, n_, blo, bhi in done:
                if np.all(bhi >= lo) and np.all(blo <= hi):
                    inside = np.all((p_ >= lo) & (p_ <= hi), axis=1)
                    tp_l.append(p_[inside])
                    tn_l.append(n_[inside])
            if sum(len(x) for x in tp_l) >= cfg.min_overlap_points:
                tp, tn = np.concatenate(tp_l), np.concatenate(tn_l)
                t_new, n_in, rms = align_translation(sp, tp, tn, current, cfg.max_correspondence_m,
                                                     cfg.icp_voxel, cfg.tukey_k, axes)
                # Accept only a correction that measurably improves the overlap consistency
                # (noise alone makes ICP wander by a few cm on smooth hull plating).
                from scipy.spatial import cKDTree

                tree = cKDTree(tp)
                c = 3 * cfg.icp_voxel
                before = overlap_cost(sp, tree, tn, current, c)
                after = overlap_cost(sp, tree, tn, t_new, c)
                # Drift is slow: a larger jump than the drift rate allows over one submap is ICP
                # sliding along featureless plating, not drift.
                jump = float(np.linalg.norm(t_new - current))
                if (n_in >= cfg.min_overlap_points and after < (1.0 - cfg.min_improvement) * before
                        and jump <= cfg.max_drift_rate * cfg.submap_length_m):
                    current = t_new
                    aligned += 1
                    residuals.append(rms)
                else:
                    skipped += 1
                    rejected += int(n_in >= cfg.min_overlap_points)
            else:
                skipped += 1
        anchors_t.append(mid_t)
        t4 = np.eye(4)
        t4[:3, 3] = current
        anchors_T.append(t4)
        p_new = sp + current
        p_new, n_new = cloud(p_new)
        done.append((p_new, n_new, p_new.min(0), p_new.max(0)))
    # 2. Interpolate the corrections in time and apply them to the navigation.
    t, a = nav.arrays()
    at = np.array(anchors_t)
    T = np.array(anchors_T)
    idx = np.clip(np.searchsorted(at, t, side="right") - 1, 0, len(at) - 1)
    idx1 = np.clip(idx + 1, 0, len(at) - 1)
    span = at[idx1] - at[idx]
    w = np.where(span > 0, np.clip((t - at[idx]) / np.where(span > 0, span, 1), 0, 1), 0.0)
    q0 = Rotation.from_matrix(T[idx, :3, :3]).as_quat()
    q1 = Rotation.from_matrix(T[idx1, :3, :3]).as_quat()
    rc = Rotation.from_quat(slerp(q0, q1, w))
    tc = T[idx, :3, 3] * (1 - w)[:, None] + T[idx1, :3, 3] * w[:, None]
    new = a.copy()
    new[:, :3] = rc.apply(a[:, :3]) + tc
    new[:, 3:7] = (rc * Rotation.from_quat(a[:, 3:7])).as_quat()
    out = NavBuffer(rec.config.max_nav_gap_s, rec.config.max_speed_mps)
    out.load(t.copy(), new)
    out.frame_id = nav.frame_id
    info = {"drift_submaps": float(len(order)), "drift_aligned": float(aligned), "drift_skipped": float(skipped),
            "drift_rejected": float(rejected),
            "drift_max_correction_m": float(np.abs(T[:, :3, 3]).max()) if len(T) else 0.0,
            "drift_icp_rms_m": float(np.mean(residuals)) if residuals else 0.0}
    log.debug("drift corrections: %s", np.round(T[:, :3, 3], 3).tolist())
    log.info("drift: %d submaps, %d aligned, %d skipped, largest correction %.3f m",
             len(order), aligned, skipped, info["drift_max_correction_m"])
    return out, info
