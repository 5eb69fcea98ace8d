"""Segments -> findings: marine-growth layers peeled, fragments merged, weakly seeded blobs dropped.

Shared by every reference kind (:mod:`hullscan.compare.kinds`); what differs between them (edge
joins for a design mesh, the seed support asked in mirror mode) comes in as arguments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hullscan.compare.analysis import (
    Cells,
    joined_across_unseen,
    joined_off_reference,
    measure,
    peel_layer,
    segment,
)
from hullscan.compare.config import CompareConfig
from hullscan.diagnostics import DropLog


def is_growth_layer(m: dict[str, Any], config: CompareConfig) -> bool:
    """A broad, thin, flat protrusion: marine growth thicker than the baseline clip.

    A compartment is compact (its height is a fair share of its width); a growth layer covers
    square metres at a few cm mean height with isolated lumps.
    """
    # A layer's thickness is measured over the surface it covers (nearest-point heights).
    fp = float(m.get("layer_footprint", m["footprint"]))
    if fp < config.detection.growth_min_footprint_m2:
        return False
    return (float(m.get("layer_volume", m["volume"])) / fp < config.detection.growth_max_mean_height_m
            and float(m.get("layer_max_height", m["max_height"])) / np.sqrt(fp) < config.detection.growth_max_slenderness)


def carries_layer(m: dict[str, Any], config: CompareConfig) -> bool:
    """A broad protrusion that is mostly a thin layer with something standing on it.

    Half its cells or more are under the growth layer's mean height (nearest-point heights): a
    growth layer, or a thin appendage (skeg, rudder) that grazing sonar returns thicken by a few
    cm all over, with a compact object on it. A compartment, however large, is mostly object
    (median cell height tens of cm). Reported as a whole, the layer would swallow the object
    (its centroid metres off, its volume several times too large).
    """
    fp = float(m.get("layer_footprint", m["footprint"]))
    return (fp >= config.detection.growth_min_footprint_m2
            and float(m.get("layer_median_height", np.inf)) < config.detection.growth_max_mean_height_m)


def _merges_into(seg: tuple[str, Any, dict[str, Any]], big: tuple[str, Any, dict[str, Any]],
                 config: CompareConfig, cells: Cells | None = None, edge_joins: bool = False) -> str | None:
    """Why ``seg`` belongs to the larger ``big`` ("beside", "inside", "edge", or "unseen": the two
    face each other across a band the survey did not see), or None where it does not."""
    m, b = seg[2], big[2]
    if not (seg[0] == big[0] or big[0] == "protrusion"):
        return None
    def near(g: float) -> bool:
        return bool(np.all(m["bbox_min"] < b["bbox_max"] + g) and np.all(m["bbox_max"] > b["bbox_min"] - g))

    # A smaller protrusion beside a larger one, with the cells to look between them.
    joinable = cells is not None and seg[0] == big[0] == "protrusion" and m["volume"] < b["volume"]
    if not near(config.detection.merge_gap_m):
        # Farther apart only across a band the survey did not see (below).
        across = (joinable and cells is not None and near(config.detection.unseen_join_m)
                  and joined_across_unseen(cells, seg[1], big[1], config.detection.unseen_join_m))
        return "unseen" if across else None
    small = m["volume"] < 0.1 * b["volume"] or (m["volume"] <= config.detection.merge_max_volume_m3
                                                 and m["volume"] < b["volume"])
    if small:
        return "beside"
    if seg[0] == big[0] == "protrusion" and m["volume"] < b["volume"] and _inside_box(m, b) >= 0.9:
        # Or a smaller protrusion inside the larger one's bounding box: one object that peeling a
        # growth layer off it, or a shadow across it, cut in two (a 3 m3 box on heavy growth came
        # out as 1.9 and 0.2 m3 findings).
        return "inside"
    if not joinable or cells is None:
        return None
    # A smaller protrusion the cloud joins to this one across the reference's edge (a corner of
    # a design mesh, where the cells have no surface under them) is the same object; so is one
    # facing it across a band the survey did not see (an object astride a gap between lanes).
    if edge_joins and joined_off_reference(cells, seg[1], big[1]):
        return "edge"
    return "unseen" if joined_across_unseen(cells, seg[1], big[1], config.detection.unseen_join_m) else None


def _inside_box(m: dict[str, Any], b: dict[str, Any]) -> float:
    """Share of ``m``'s bounding box that lies inside ``b``'s (per axis, multiplied)."""
    lo, hi = np.asarray(m["bbox_min"], float), np.asarray(m["bbox_max"], float)
    inter = np.minimum(hi, b["bbox_max"]) - np.maximum(lo, b["bbox_min"])
    size = hi - lo
    # An axis along which m is flat counts as inside where it lies within b's extent.
    frac = np.where(size < 1e-3, (inter >= -1e-3).astype(float), np.clip(inter, 0.0, None) / np.maximum(size, 1e-3))
    return float(np.prod(np.minimum(frac, 1.0)))


Seg = tuple[str, Any, dict[str, Any]]


def resolve_segments(segs: list[Seg], cells: Cells, config: CompareConfig, drops: DropLog,
                     edge_joins: bool = False, seed_support: bool = True, min_seed_points: int | None = None
                     ) -> list[Seg]:
    """Segments -> findings: growth layers peeled, fragments merged, weakly seeded blobs dropped.

    Largest first. ``edge_joins``: cells off the reference join a fragment to its neighbour
    (design meshes only: there they mean beyond the reference's edge); a band not seen at all
    joins two that face each other across it, against any reference. ``seed_support``: drop
    what ``min_seed_points`` (default ``config.min_seed_points``) calls weakly seeded. Mirror
    mode asks less (the plane fit's residual and the worse side's noise cap the z-score: a real
    11 cm limpet there keeps one seed cell of 6 returns) but still some: a seed of one or two
    far-range returns is no more an object than so few returns make a surface seen
    (``coverage_min_points``).
    """
    need = config.detection.min_seed_points if min_seed_points is None else min_seed_points
    order: list[Seg] = []
    pending = sorted(segs, key=lambda s: -s[2]["volume"])
    while pending:
        seg = pending.pop(0)
        m = seg[2]
        if m.get("contradicted"):
            # Its every seed stands over plating that another view saw under it (analysis.contradicted):
            # two layers over the same feet, a lane placed off, not an object hiding the plating.
            drops.add("findings", "contradicted_by_plating", 1,
                      f"{m['volume']:.4f} m3, {m['max_height']:.3f} m high: another view saw plating within "
                      f"{config.detection.contradiction_radius_m} m of its feet")
            continue
        if m.get("feature_moved"):
            # Its every seed is the reference's own feature (an anode's top, a bilge keel's end)
            # seen a little off along the shell (analysis.explained_by_reference).
            drops.add("findings", "reference_feature_moved", 1,
                      f"{m['volume']:.4f} m3, {m['max_height']:.3f} m high: the reference has surface of its "
                      f"height within {config.detection.feature_shift_m} m along the shell, or along the ship "
                      "within the survey's stated placement uncertainty there (at most "
                      f"{config.detection.feature_shift_along_max_m} m)")
            continue
        growth = seg[0] == "protrusion" and is_growth_layer(m, config)
        if growth or (seg[0] == "protrusion" and not m.get("peeled") and carries_layer(m, config)):
            # Broad, thin and flat: a marine-growth layer thicker than the baseline clip (or a
            # thin appendage thickened by grazing sonar returns), not a box. What stands clearly
            # proud of the layer itself is still a finding. The same for a broad layer that is
            # mostly thin with an object on it: the layer goes, the object is segmented anew.
            lfp = float(m["layer_footprint"] if "layer_footprint" in m else m["footprint"])
            lvol = float(m["layer_volume"] if "layer_volume" in m else m["volume"])
            drops.add("findings", "growth_layer" if growth else "layer_under_object", 1,
                      f"{lfp:.2f} m2, mean height {lvol / lfp:.3f} m, "
                      f"median {m.get('layer_median_height', float('nan')):.3f} m")
            for sub in segment(peel_layer(cells, seg[1], config), config, ("protrusion",)):
                if is_growth_layer(sub[2], config):
                    continue
                sub[2]["peeled"] = True  # peeled once: its own layer is gone
                pending.append(sub)
            pending.sort(key=lambda s: -s[2]["volume"])
            continue
        # Edge and shadow artefacts (small recesses at the rim of a protrusion included) and
        # fragments cut off by grating bars or shadows belong to the larger finding beside them.
        why = ((k, _merges_into(seg, order[k], config, cells, edge_joins)) for k in range(len(order)))
        big, reason = next(((k, r) for k, r in why if r is not None), (None, None))
        if big is not None:
            drops.add("findings", "merged_into_neighbour", 1, f"{m['volume']:.4f} m3 beside a larger one"
                      + (" across a band not seen" if reason == "unseen" else ""))
            kind, idx, held = order[big]
            if seg[0] == kind:  # same sign: the fragment is part of it (volume, footprint)
                idx = np.union1d(idx, seg[1])
                # Parts seen on both sides of a band not seen: the object is in the band too.
                bridge = config.detection.unseen_join_m if reason == "unseen" else float(held.get("bridge_m", 0.0))
                merged = measure(cells, idx, 1.0 if kind == "protrusion" else -1.0, bridge_m=bridge)
                merged["seed_points"] = order[big][2].get("seed_points", 0) + m.get("seed_points", 0)
                order[big] = (kind, idx, merged)
            continue
        facing = float(m.get("facing", float("nan")))
        if seg[0] == "protrusion" and facing < config.detection.min_facing_share:
            # Returns spilled past a thin plate's edge by the beam's footprint continue the plate,
            # edge-on to the end face they are measured from: no top, no flank seen face-on.
            drops.add("findings", "seen_edge_on", 1,
                      f"{m['volume']:.4f} m3, {facing:.0%} of its returns face along the reference's normal")
            continue
        beam = float(m.get("range", float("nan"))) * np.radians(config.uncertainty.beam_width_deg)
        if seg[0] == "protrusion" and np.sqrt(m["footprint"]) < config.detection.min_beam_footprints * beam:
            # Narrower than the beam's footprint where it was seen: the sonar cannot resolve it, and
            # returns smeared over an edge (a bilge keel seen from 15 m) read as a bump of that size.
            drops.add("findings", "narrower_than_beam", 1,
                      f"{m['volume']:.4f} m3, {np.sqrt(m['footprint']):.2f} m across, seen from {m['range']:.1f} m where "
                      f"the {config.uncertainty.beam_width_deg:g} deg beam is {beam:.2f} m wide")
            continue
        if seed_support and m.get("seed_points", need) < need:
            # Seeds holding only a few returns (single far-range returns at a swath edge or a
            # sea-chest wall) and no finding beside it to belong to: not evidence of an object.
            drops.add("findings", "weak_seed_support", 1,
                      f"{m['volume']:.4f} m3, seeds hold {m.get('seed_points', 0)} returns (need {need})")
            continue
        order.append(seg)
    return order
