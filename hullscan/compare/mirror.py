"""Mirror mode: which parts of a hull cloud can be judged against their own reflection.

With no reference mesh, a point on one side of the hull is compared with the cloud of the other
side, reflected about the centreline plane. That comparison is only meaningful where the
*mirrored counterpart* was observed as well as the point itself:

* The counterpart surface must have been seen where the point's shell lies on the other side:
  marching from the point along the local shell normal (a plane through coarse cells around it)
  towards its reflection, an observed other-side surface must be reached within twice the
  point's distance. A surface hidden behind an appendage on the other side (the bottom plating
  in the shadow of a bilge keel) otherwise takes the appendage seen there as its reference, and
  the well-seen plating looks like a protrusion.
* Weak returns (below the coverage confidence) met on the way mean something stands there on the
  other side too, only seen poorly (an appendage at grazing incidence): not comparable, and
  neither is the rest of that proud structure down to its root.
* The counterpart must have been seen about as well: a side covered by its own survey lane
  compared with the other side seen only at grazing incidence from a bottom lane (few,
  low-confidence, biased returns) shows survey bias, not hull. Counterparts with fewer good
  returns than ``mirror_min_density_ratio`` of the point's own neighbourhood are not comparable.
* Where the counterpart is a distinctly poorer measurement (its 1-sigma over 1.5 times the
  point's own), the comparison's tolerance is that side's uncertainty.
* The shell normal under a point is that of the side without the deviation: for a point standing
  proud of its reflection the other side's shell (reflected), for one below it its own. An
  object a good share of a coarse cell tall (a 1 m box) is a large part of the coarse cells
  around it on its own side: their plane tilts towards its walls or is no plane at all, and
  marching along it from the object's face misses the shell under it.
* Structures that are not mirror-symmetric at all (a propeller; a one-sided sea chest or thruster
  opening; a rudder or skeg seen from one side) do not agree with their reflection even around a
  deviation: a deviation whose surroundings (``mirror_context_radius_m``) are mostly not
  comparable or do not agree with the other side is not a finding but an area mirror mode cannot
  judge. The centreline band (``mirror_centre_band_m``) is never judged.

Everything found not comparable is reported as *not inspected (no mirrored counterpart)*, never
as clean.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.analysis import LOW, RELIEF, THIN, UNCERTAIN, Cells, Coverage, coverage
from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import Reference
from hullscan.core.grid import group_keys, voxel_down, voxel_keys
from hullscan.core.robust import tukey as _tukey

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_M = np.array([1.0, -1.0, 1.0])
# The centreline's offset and heading are fitted only where sideways-facing surfaces (|n_y| above
# this) were matched on both sides with at least this share of the fit's weight
# (see centreline_constrained) ...
_SIDE_NY = 0.7
MIN_SIDE_SHARE = 0.2
# ... or where both sides show about as much sideways-facing surface (both surveyed alike: from
# bottom lanes only, or from a lane each), this smaller-to-larger ratio at least.
MIN_SIDE_BALANCE = 0.5


def sideways_balance(points: F64, normals: F64, voxel: float, band: float) -> float:
    """How evenly sideways-facing surfaces (|n_y| > ``_SIDE_NY``, beyond the centre ``band``) were
    seen on the two sides: the smaller side's share of the larger one (0.0 to 1.0), counting
    ``voxel`` cells so that denser passes do not count more. A side surveyed from its own lane
    shows its side plating; a side seen from bottom lanes only, its bilge at most."""
    side = np.abs(normals[:, 1]) > _SIDE_NY
    counts = [len(voxel_down(points[side & sel], voxel)) if (side & sel).any() else 0
              for sel in (points[:, 1] > band, points[:, 1] < -band)]
    return min(counts) / max(max(counts), 1)


def centreline_constrained(src: F64, reference: Reference, t: F64, radius: float, k: float, balance: float) -> bool:
    """Whether the cloud constrains the sideways position and heading of the centreline plane,
    given the fit ``t`` of ``src`` onto its own reflection (``reference``).

    Offset and heading come from surfaces facing sideways, matched where the reflection was
    observed (over its surface, not beyond its edge). In a one-sided survey (one side from its
    own lane, whose grazing returns also land on its bilge and the bottom beside it; the other
    side seen from a bottom lane only) the side plating has no counterpart and only the two
    bilges are left, two different measurements: their survey bias (0.1-0.2 m proud on one side
    against 0.07 m on the other on a fouled hull) moves the plane by half of it. They count as
    constrained with at least ``MIN_SIDE_SHARE`` of the weight (within ``radius``, Tukey ``k``)
    on sideways-facing surfaces matched on both sides, or where both sides show about as much
    of them (``balance``, :func:`sideways_balance`, at least ``MIN_SIDE_BALANCE``: both surveyed
    alike, from bottom lanes only or from a lane each).
    """
    if balance >= MIN_SIDE_BALANCE:
        return True
    p = src @ t[:3, :3].T + t[:3, 3]
    r, _, n, _, over = reference.signed_distance(p)
    w = _tukey(r, k) * (np.abs(r) < radius) * over
    if w.sum() <= 0:
        return False
    side = np.abs(n[:, 1]) > _SIDE_NY
    share = 2.0 * min(float(w[side & (p[:, 1] > 0)].sum()), float(w[side & (p[:, 1] < 0)].sum())) / float(w.sum())
    return share >= MIN_SIDE_SHARE


@dataclass(eq=False)
class MirrorSupport:
    """The cloud (in the mirror frame, centreline plane y = 0) as evidence for mirror comparisons."""

    config: CompareConfig
    own: cKDTree  # well-observed cloud points
    other: cKDTree  # the same points reflected: the other side, as the reference sees it
    other_all: cKDTree  # every point reflected, weak returns included
    other_sigma: F64
    shell_cells: cKDTree  # centres of coarse cells ...
    shell_normals: F64  # ... and the shell's normal there (zero where it is not a surface)
    other_shell_cells: cKDTree  # the same cells reflected: the other side's shell

    @classmethod
    def build(cls, points: F64, normals: F64, sigma: F64, confidence: F64, config: CompareConfig
              ) -> MirrorSupport:
        good = np.asarray(confidence, float) >= config.coverage.coverage_min_confidence
        p = points[good]
        # Shell normal: mean point normal over coarse cells (a barnacle or noise barely tilts it; an
        # object as tall as a cell does, see shell_normal).
        _, inv, _ = group_keys(voxel_keys(points, config.mirror.mirror_shell_cell_m))
        m = int(inv.max()) + 1 if len(inv) else 0
        cnt = np.maximum(np.bincount(inv, minlength=m), 1).astype(float)
        cen = np.stack([np.bincount(inv, weights=points[:, i], minlength=m) / cnt for i in range(3)], axis=1)
        mean_n = np.stack([np.bincount(inv, weights=normals[:, i], minlength=m) / cnt for i in range(3)], axis=1)
        # The shell's normal is the plane through the cell centres around (two cells' radius):
        # a box, a plate or a shadowed strip is a small part of it, and every cell counts once
        # however densely it was seen. Oriented like the point normals around.
        tree = cKDTree(cen)
        sn = np.zeros_like(cen)
        for i, nb in enumerate(tree.query_ball_point(cen, 2.0 * config.mirror.mirror_shell_cell_m, workers=-1)):
            if len(nb) < 3:
                continue
            x = cen[nb] - cen[nb].mean(axis=0)
            w, v = np.linalg.eigh(x.T @ x)
            if w[1] < 4.0 * w[0]:  # not a surface at this scale (an edge, a blade, a line of cells)
                continue
            nv = v[:, 0]
            o = mean_n[nb].sum(axis=0)
            sn[i] = nv if nv @ o >= 0 else -nv
        return cls(config, cKDTree(p), cKDTree(p * _M), cKDTree(points * _M), np.asarray(sigma, float)[good],
                   tree, sn, cKDTree(cen * _M))

    def shell_normal(self, q: F64, fallback: F64, proud: NDArray[np.bool_] | None = None) -> F64:
        """Shell normal of the coarse cell nearest each point (``fallback`` where it is weak).

        For ``proud`` points (standing proud of their reflection) the other side's shell, reflected:
        that side shows the shell without the object, whose own walls and face make up much of the
        coarse cells around a tall object on its side. Where the other side has no surface plane
        within reach, the point's own side's.
        """
        _, idx = self.shell_cells.query(q, k=1, workers=-1)
        out = self.shell_normals[np.asarray(idx, dtype=np.int64)]
        if proud is not None and proud.any():
            sel = np.flatnonzero(proud)
            reach = self.config.detection.max_deviation_m + self.config.mirror.mirror_shell_cell_m
            dist, j = self.other_shell_cells.query(q[sel], k=1, distance_upper_bound=reach, workers=-1)
            near = np.isfinite(dist)
            on = self.shell_normals[np.minimum(np.asarray(j, dtype=np.int64), len(self.shell_normals) - 1)] * _M
            good = near & (np.linalg.norm(on, axis=1) > 0.5)
            out[sel[good]] = on[good]
        weak = np.linalg.norm(out, axis=1) < 0.5
        out[weak] = fallback[weak]  # no shell plane there: the reference's normal
        return out

    def comparable(self, q: F64, d: F64, ref_normals: F64) -> tuple[NDArray[np.bool_], F64]:
        """Whether each point (signed distance ``d`` to the reflection, NaN where none) has a
        mirrored counterpart observed about as well as itself, and that counterpart's 1-sigma (m)."""
        cfg = self.config
        n = len(q)
        ok = np.zeros(n, bool)
        sig = np.full(n, np.nan)
        fin = np.flatnonzero(np.isfinite(d))
        if not len(fin):
            return ok, sig
        qs = q[fin]
        nrm = self.shell_normal(qs, ref_normals[fin], d[fin] > 0)
        r = cfg.mirror.mirror_counterpart_radius_m
        # Where this point's shell lies on the other side: march from the point along its shell
        # normal towards the reflection (inwards for a protrusion) to the first observed other-side
        # surface. On a curved hull the nearest-point distance is shorter than the height along the
        # normal, so the march goes up to twice that distance.
        a = np.abs(d[fin])
        step = -np.sign(d[fin])[:, None] * nrm
        foot = qs.copy()
        found = np.zeros(len(qs), bool)
        blocked = np.zeros(len(qs), bool)  # weak returns on the other side where this one stands proud
        t = 0.0
        dt = 0.75 * r
        t_max = 2.0 * a + r
        while True:
            act = np.flatnonzero(~found & (t <= t_max))
            if not len(act):
                break
            probe = qs[act] + t * step[act]
            dist, j = self.other.query(probe, k=1, distance_upper_bound=r, workers=-1)
            hit = np.isfinite(dist)
            # The foot is the other side's observed surface itself: the march's first probe within
            # reach of it is up to a step short of it, where only the fringe of that side's returns
            # would be counted (a tall object's counterpart would look barely seen).
            foot[act[hit]] = self.other.data[np.asarray(j, dtype=np.int64)[hit]]
            found[act[hit]] = True
            # Before the observed surface: returns too weak to count as seen mean something stands
            # there on the other side too, seen poorly (an appendage at grazing incidence). A box on
            # one side has open water there.
            miss = act[~hit]
            if len(miss):
                weak = np.asarray(self.other_all.query_ball_point(probe[~hit], r, return_length=True, workers=-1))
                blocked[miss[weak >= 2]] = True
            t += dt
        if blocked.any():
            # The whole proud part of such a structure, down to its root (where the other side's
            # plating lies within reach and the march stops at once).
            proud = np.flatnonzero(d[fin] > 0)
            if len(proud):
                near = cKDTree(qs[blocked]).query(qs[proud], k=1, distance_upper_bound=2 * r, workers=-1)[0]
                blocked[proud[np.isfinite(near)]] = True
        n_other = np.zeros(len(qs), np.int64)
        if found.any():
            n_other[found] = self.other.query_ball_point(foot[found], r, return_length=True, workers=-1)
        n_own = np.asarray(self.own.query_ball_point(qs, r, return_length=True, workers=-1))
        # The other side seen about as well as this point's own neighbourhood.
        ok[fin] = found & ~blocked & (n_other >= np.maximum(cfg.coverage.coverage_min_points, cfg.mirror.mirror_min_density_ratio * n_own))
        k = 8
        dist, idx = self.other.query(foot, k=k, distance_upper_bound=r, workers=-1)
        valid = np.isfinite(dist)
        s = np.where(valid, self.other_sigma[np.minimum(idx, len(self.other_sigma) - 1)], np.nan)
        with np.errstate(invalid="ignore"), np.errstate(all="ignore"):
            cnt = valid.sum(axis=1)
            sig[fin] = np.where(cnt > 0, np.nansum(s, axis=1) / np.maximum(cnt, 1), np.nan)
        return ok, sig


    def height_along_shell(self, q: F64) -> tuple[F64, F64, NDArray[np.bool_]]:
        """For points standing proud of the reflection with no reflected sample under them (a tall
        object: the nearest reflected samples lie beside it), the distance along the shell normal
        to the first observed other-side surface, that normal, and whether one was met within
        ``max_deviation_m``."""
        nrm = self.shell_normal(q, np.zeros_like(q), np.ones(len(q), bool))
        usable = np.linalg.norm(nrm, axis=1) > 0.5
        t_hit = np.full(len(q), np.nan)
        r = self.config.mirror.mirror_counterpart_radius_m
        dt = 0.75 * r
        t = r
        while t <= self.config.detection.max_deviation_m:
            act = np.flatnonzero(usable & np.isnan(t_hit))
            if not len(act):
                break
            dist, _ = self.other.query(q[act] - t * nrm[act], k=1, distance_upper_bound=0.5 * dt + 0.01, workers=-1)
            hit = np.isfinite(dist)
            t_hit[act[hit]] = t
            t += dt
        return t_hit, nrm, np.isfinite(t_hit)


class MirrorReference(Reference):
    """The reflected cloud as a reference, with the distance of tall objects measured along the
    shell normal (set ``support`` once the cloud's frame is known)."""

    support: MirrorSupport | None = None

    @classmethod
    def of(cls, ref: Reference) -> MirrorReference:
        return cls(**{f.name: getattr(ref, f.name) for f in fields(ref)})

    def signed_distance(self, points: F64, within: float | None = None
                        ) -> tuple[F64, F64, F64, NDArray[np.int64], NDArray[np.bool_]]:
        d, c, n, ids, over = super().signed_distance(points, within)
        if self.support is None or over.all():
            return d, c, n, ids, over
        far = np.flatnonzero(~over)
        t, nrm, ok = self.support.height_along_shell(points[far])
        sel = far[ok]
        d, c, n, over = d.copy(), c.copy(), n.copy(), over.copy()
        d[sel] = t[ok]
        n[sel] = nrm[ok]
        c[sel] = points[sel] - t[ok, None] * nrm[ok]
        over[sel] = True
        return d, c, n, ids, over


def context_agrees(cells_points: F64, residual: F64, judged: NDArray[np.bool_], finding: I64,
                   others: NDArray[np.bool_], config: CompareConfig, tree: cKDTree | None = None
                   ) -> tuple[bool, float, float]:
    """Whether the surroundings of a finding agree with their reflection (a symmetric region).

    Returns (agrees, share of the surroundings that could be judged, share of those within
    ``min_height_m`` of their reflection). Cells of other deviating segments are left out.
    """
    tree = tree or cKDTree(cells_points)
    r = config.mirror.mirror_context_radius_m
    lists = tree.query_ball_point(cells_points[finding], r, workers=-1)
    near = np.unique(np.concatenate([np.zeros(0, np.int64), *(np.asarray(x, np.int64) for x in lists)]))
    ring = np.setdiff1d(near, finding)
    ring = ring[~others[ring]]
    if not len(ring):
        return False, 0.0, 0.0
    jr = judged[ring]
    share_judged = float(jr.mean())
    if jr.sum() < config.detection.min_points:
        return False, share_judged, 0.0
    agree = float(np.mean(np.abs(residual[ring[jr]]) < config.detection.min_height_m))
    ok = share_judged >= config.mirror.mirror_context_min_judged and agree >= config.mirror.mirror_context_min_agreement
    return ok, share_judged, agree


def context_filter(cells_points: F64, residual: F64, judged: NDArray[np.bool_], seg_cells: list[I64],
                   config: CompareConfig) -> tuple[list[int], list[tuple[int, float, float]]]:
    """Split candidate findings (their cell indices) into kept ones and ones on structures that do
    not agree with their reflection around them; returns (kept, [(index, judged share, agreement)])."""
    others = np.zeros(len(cells_points), bool)
    for idx in seg_cells:
        others[idx] = True
    tree = cKDTree(cells_points)
    kept: list[int] = []
    dropped: list[tuple[int, float, float]] = []
    for i, idx in enumerate(seg_cells):
        ok, share, agree = context_agrees(cells_points, residual, judged, idx, others, config, tree)
        if ok:
            kept.append(i)
        else:
            dropped.append((i, share, agree))
    return kept, dropped


NOT_COMPARABLE = "no mirrored counterpart (not comparable in mirror mode)"


def mirror_coverage(cells: Cells, reference: Any, config: CompareConfig, segs: list[tuple[str, I64, Any]],
                    rejected: list[I64]) -> Coverage:
    """Coverage in mirror mode: what was seen on both sides. Areas whose deviations were found not
    comparable count as unseen; each unseen patch says whether it was seen on its own side only
    (``reason``: no mirrored counterpart) or not at all."""
    # Surface to inspect: what was seen on either side (the reflection alone has no samples where
    # the other side was missed, so a shadowed strip would otherwise count as clear).
    pts = reference.samples
    if len(pts):
        both = np.vstack([pts, pts * _M])
        bn = np.vstack([reference.sample_normals, reference.sample_normals * _M])
        _, first = np.unique(np.floor(both / config.coverage.coverage_cell_m).astype(np.int64), axis=0, return_index=True)
        reference = replace(reference, samples=both[first], sample_normals=bn[first])
    judged = cells.judged.copy()
    bad = np.zeros(len(judged), bool)
    if rejected:
        # The deviation and the surroundings that did not agree with their reflection.
        tree = cKDTree(cells.points)
        for idx in rejected:
            for near in tree.query_ball_point(cells.points[idx], config.mirror.mirror_context_radius_m, workers=-1):
                bad[near] = True
            bad[idx] = True
    judged &= ~bad
    # A surface seen on its own side but not comparable is not cleared by judged cells beside it
    # (within the coverage radius): the judged set is eroded by that radius along such areas.
    own_good = cells.confidence >= config.coverage.coverage_min_confidence
    nc = own_good & ~judged
    if nc.any() and judged.any():
        jd = np.flatnonzero(judged)
        n_nc = np.asarray(cKDTree(cells.points[nc]).query_ball_point(
            cells.points[jd], config.coverage.coverage_radius_m, return_length=True, workers=-1))
        judged[jd[n_nc >= config.coverage.coverage_min_points]] = False
    kept = [s[1] for s in segs if not bad[s[1]].any()]
    cov = coverage(replace(cells, judged=judged), reference, config, kept, mirror=True)
    if not cov.patches:
        return cov
    own = (cells.confidence >= config.coverage.coverage_min_confidence) & np.isfinite(cells.points[:, 0])
    tree = cKDTree(cells.points[own]) if own.any() else None
    patches = []
    for p in cov.patches:
        q = dict(p)
        if str(p.get("reason", "")).startswith((UNCERTAIN, RELIEF, LOW, THIN)):
            patches.append(q)  # comparable, but too uncertain to clear (or beside relief, reading low, thin)
            continue
        seen_own = False
        if tree is not None:
            box = (np.all(cov.samples >= np.asarray(p["bbox_min"]) - 1e-6, axis=1)
                   & np.all(cov.samples <= np.asarray(p["bbox_max"]) + 1e-6, axis=1) & ~cov.seen)
            if box.any():
                n = np.asarray(tree.query_ball_point(cov.samples[box], config.coverage.coverage_radius_m,
                                                     return_length=True, workers=-1))
                seen_own = bool(np.mean(n >= config.coverage.coverage_min_points) >= 0.5)
        q["reason"] = NOT_COMPARABLE if seen_own else "not seen"
        patches.append(q)
    return replace(cov, patches=tuple(patches))
