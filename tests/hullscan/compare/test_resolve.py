"""From segments to findings: seed support, layers under objects, fragments joined across an edge.

Hand-made surface cells on a flat plate (z = 0, normal +z; cells kept on the plate, heights in
the deviation only): each test sets the heights and point counts that matter and runs the real
segmentation and resolution on them.
"""

from __future__ import annotations

import numpy as np

from hullscan.compare.analysis import ANALYSIS_CELL_M, Cells, joined_off_reference, segment
from hullscan.compare.config import CompareConfig
from hullscan.compare.segments import carries_layer, resolve_segments
from hullscan.diagnostics import DropLog

G = ANALYSIS_CELL_M
SIGMA = 0.02


def plate(nx: int, ny: int, count: int = 4) -> dict[str, np.ndarray]:
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    pts = np.stack([(i.ravel() + 0.5) * G, (j.ravel() + 0.5) * G, np.zeros(i.size)], axis=1)
    return {"points": pts, "height": np.zeros(len(pts)), "count": np.full(len(pts), count, np.int64),
            "judged": np.ones(len(pts), bool)}


def cells_of(p: dict[str, np.ndarray], cloud_normal: np.ndarray | None = None) -> Cells:
    n = len(p["points"])
    h = np.where(p["judged"], p["height"], np.nan)
    normal = np.tile([0.0, 0.0, 1.0], (n, 1))
    base = p["points"].copy()
    pts = base.copy()
    sig = np.full(n, SIGMA)
    return Cells(pts, p["count"], sig, np.ones(n), np.arange(n), h, base, normal, np.zeros(n, np.int64),
                 h.copy(), np.zeros(n), h.copy(), h / SIGMA, p["judged"].copy(), cloud_normal=cloud_normal)


def box(p: dict[str, np.ndarray], x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    x, y = p["points"][:, 0], p["points"][:, 1]
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def resolve(cells: Cells, config: CompareConfig, seed_support: bool = True) -> tuple[list, DropLog]:
    drops = DropLog()
    segs = segment(cells, config, ("protrusion",))
    return resolve_segments(segs, cells, config, drops, edge_joins=True, seed_support=seed_support), drops


def test_blob_seeded_by_a_few_lone_returns_is_dropped_but_a_supported_one_is_kept():
    cfg = CompareConfig()
    p = plate(20, 20)
    p["height"][box(p, 0.3, 0.6, 0.3, 0.6)] = 0.035  # a skirt above the grow height, below min_height
    lone = np.flatnonzero(box(p, 0.4, 0.65, 0.45, 0.5))  # a row of 5 cells standing 20 cm proud
    assert len(lone) == 5
    p["height"][lone] = 0.2
    p["count"][lone] = 1  # one far-range return each (swath edge)
    segs = segment(cells_of(p), cfg, ("protrusion",))
    assert len(segs) == 1 and segs[0][2]["seed_points"] == 5
    order, drops = resolve(cells_of(p), cfg)
    assert order == []
    assert drops.total("weak_seed_support") == 1
    assert len(resolve(cells_of(p), cfg, seed_support=False)[0]) == 1  # mirror mode keeps it
    p["count"][lone] = 4  # the same deviation seen by 20 returns: an object
    order, _ = resolve(cells_of(p), cfg)
    assert len(order) == 1


def test_object_on_a_broad_thin_layer_is_reported_alone():
    cfg = CompareConfig()
    p = plate(60, 60)
    p["height"][box(p, 0.5, 2.5, 0.5, 2.5)] = 0.06  # 4 m2 of layer 6 cm thick (thickened appendage)
    obj = box(p, 0.6, 1.0, 0.6, 1.0)  # 0.4 x 0.4 x 0.3 m object near the layer's corner
    p["height"][obj] = 0.3
    cells = cells_of(p)
    whole = max(segment(cells, cfg, ("protrusion",)), key=lambda s: s[2]["volume"])
    assert whole[2]["footprint"] > 3.0 and carries_layer(whole[2], cfg)
    order, drops = resolve(cells, cfg)
    assert len(order) == 1
    m = order[0][2]
    assert m["footprint"] < 0.3
    assert np.linalg.norm(m["centroid"][:2] - [0.8, 0.8]) < 0.1
    assert drops.total("layer_under_object") == 1


def test_a_real_compartment_is_not_taken_for_a_layer():
    cfg = CompareConfig()
    p = plate(40, 40)
    p["height"][box(p, 0.2, 1.8, 0.2, 1.8)] = 0.3  # 2.6 m2, 30 cm tall: mostly object
    whole = max(segment(cells_of(p), cfg, ("protrusion",)), key=lambda s: s[2]["volume"])
    assert not carries_layer(whole[2], cfg)
    order, _ = resolve(cells_of(p), cfg)
    assert len(order) == 1 and order[0][2]["footprint"] > 2.4


def test_fragment_joined_across_the_reference_edge_is_merged():
    cfg = CompareConfig()
    p = plate(40, 12)
    p["height"][box(p, 0.2, 0.9, 0.1, 0.5)] = 0.3  # the part measured against one face
    p["height"][box(p, 1.1, 1.4, 0.1, 0.5)] = 0.3  # the part measured against the other (0.036 m3)
    gap = box(p, 0.9, 1.1, 0.0, 0.6)
    p["judged"][gap] = False  # between them: no reference surface under the cloud (the corner)
    cells = cells_of(p)
    segs = segment(cells, cfg, ("protrusion",))
    assert len(segs) == 2
    a, b = sorted(segs, key=lambda s: s[2]["volume"])
    assert a[2]["volume"] > cfg.detection.merge_max_volume_m3 and a[2]["volume"] > 0.1 * b[2]["volume"]
    assert joined_off_reference(cells, a[1], b[1])
    order, _ = resolve(cells, cfg)
    assert len(order) == 1
    # Without the off-reference cells between them (plating seen there, at zero height) they
    # are two objects.
    p["judged"][gap] = True
    cells = cells_of(p)
    a, b = sorted(segment(cells, cfg, ("protrusion",)), key=lambda s: s[2]["volume"])
    assert not joined_off_reference(cells, a[1], b[1])
    order, _ = resolve(cells, cfg)
    assert len(order) == 2


def test_a_part_cut_off_inside_a_larger_finding_is_merged_into_it():
    # A box whose middle was cut off from its U-shaped rim (by peeling a growth layer, or a shadow
    # line across it) is one object, even when the cut-off part holds over a tenth of the volume.
    cfg = CompareConfig()
    p = plate(40, 30)
    p["height"][box(p, 0.2, 1.6, 0.2, 1.6)] = 0.5  # the rim, open along y = 1.6
    inner = box(p, 0.6, 1.2, 0.6, 1.6)
    p["height"][inner] = 0.0
    p["height"][box(p, 0.7, 1.1, 0.7, 1.6)] = 0.5  # the middle, apart from the rim by one cell of plating
    cells = cells_of(p)
    a, b = sorted(segment(cells, cfg, ("protrusion",)), key=lambda s: s[2]["volume"])
    assert a[2]["volume"] > 0.1 * b[2]["volume"] and a[2]["volume"] > cfg.detection.merge_max_volume_m3
    order, _ = resolve(cells, cfg)
    assert len(order) == 1
    # The same part beside the rim, outside its box, stays a finding of its own.
    p = plate(60, 30)
    p["height"][box(p, 0.2, 1.6, 0.2, 1.6)] = 0.5
    p["height"][box(p, 0.6, 1.2, 0.6, 1.6)] = 0.0
    p["height"][box(p, 2.0, 2.4, 0.7, 1.6)] = 0.5
    order, _ = resolve(cells_of(p), cfg)
    assert len(order) == 2


def test_returns_spilled_past_a_plate_edge_are_dropped_but_an_object_seen_face_on_or_by_its_walls_is_kept():
    """A deviation whose own surface stands edge-on to the reference's normal everywhere (returns
    spilled past a thin plate's end face continue the plate) has no top: it is dropped. An object
    with a top facing along the normal is kept, and so is one whose walls face sideways around a
    top (a quarter of its returns face along the normal)."""
    cfg = CompareConfig()
    p = plate(30, 30)
    obj = box(p, 0.5, 0.9, 0.5, 0.9)
    p["height"][obj] = 0.2
    up, side = np.tile([0.0, 0.0, 1.0], (900, 1)), np.tile([1.0, 0.0, 0.0], (900, 1))
    order, drops = resolve(cells_of(p, up), cfg)
    assert len(order) == 1 and order[0][2]["facing"] == 1.0
    order, drops = resolve(cells_of(p, side), cfg)
    assert order == [] and drops.counts[("findings", "seen_edge_on")] == 1
    # Walls seen densely around a top seen sparsely: still an object.
    walls = side.copy()
    top = box(p, 0.6, 0.8, 0.6, 0.8)
    walls[top] = up[top]
    p["count"][obj & ~top] = 8
    order, _ = resolve(cells_of(p, walls), cfg)
    assert len(order) == 1 and 0.05 < order[0][2]["facing"] < 0.3
    # Normals in the cloud's frame, turned into the reference's by the fit's rotation: the same
    # sideways normals are a top once the cloud's x is the reference's z.
    turned = Cells(**{**cells_of(p, side).__dict__, "cloud_rotation": np.array([[0.0, 0, -1], [0, 1, 0], [1, 0, 0]])})
    order, _ = resolve(turned, cfg)
    assert len(order) == 1 and order[0][2]["facing"] == 1.0
    # Without the cloud's normals (a plain PLY) the rule is off.
    order, _ = resolve(cells_of(p, None), cfg)
    assert len(order) == 1


def test_returns_on_one_face_of_a_thin_plate_do_not_clear_the_other_face():
    """A bilge keel 2 cm thick seen only from below: its underside's cells lie within the coverage
    radius of the samples on its top face, but were measured from a face looking the other way."""
    from hullscan.compare.analysis import clearance

    cfg = CompareConfig()
    p = plate(20, 20, count=20)
    cells = cells_of(p)  # the underside: reference normal +z at every cell, deviation 0
    cells = Cells(**{**cells.__dict__, "uncertainty": np.full(len(cells.points), 0.005)})
    under = np.column_stack([p["points"][:, :2], np.full(len(p["points"]), -0.01)])[::7]
    top = under + np.array([0.0, 0.0, -0.02])
    down = np.tile([0.0, 0.0, -1.0], (len(top), 1))
    seen_top, _ = clearance(cells, cfg, top, at_normals=down)
    assert not seen_top.any()
    seen_under, cleared = clearance(cells, cfg, under, at_normals=-down)
    assert seen_under.all() and cleared(0.1).all()
    # Without the normals (as before), the other face was called seen.
    assert clearance(cells, cfg, top)[0].all()
