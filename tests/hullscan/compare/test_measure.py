"""Heights along a finding's normal (ray casts on the design mesh)."""

from __future__ import annotations

import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.compare.kinds import build_reference


def test_distance_along_matches_offset_and_grows_when_tilted(hull):
    ref = build_reference(hull, CompareConfig())
    q = np.array([[10.0, 0.5, -5.0], [8.0, 3.5, -1.2]])
    c, n, _ = ref.closest(q)
    p = c + 0.3 * n
    t = ref.distance_along(p, n[0])
    assert abs(t[0] - 0.3) < 0.01
    tilt = n[0] + np.array([0.3, 0.0, 0.0])
    assert ref.distance_along(p[:1], tilt / np.linalg.norm(tilt))[0] > 0.3
    # Looking away from the surface there is nothing to hit.
    assert np.isnan(ref.distance_along(c[:1] + 0.3 * n[:1], -n[0])[0])


def _keel_under_plate():
    """A plate (bottom at z = 0) with a narrow keel under it (0.3 m wide, bottom at z = -0.5)."""
    import trimesh

    from hullscan.compare.synthetic import SynthHullMesh

    slab = trimesh.creation.box(extents=[4.0, 4.0, 0.4])
    slab.apply_translation([0.0, 0.0, 0.2])
    keel = trimesh.creation.box(extents=[3.0, 0.3, 0.5])
    keel.apply_translation([0.0, 0.0, -0.25])
    v = np.vstack([slab.vertices, keel.vertices])
    f = np.vstack([slab.faces, keel.faces + len(slab.vertices)])
    return SynthHullMesh(v, f.astype(np.int32), np.zeros(len(f), np.int16), name="keel")


def test_object_under_a_keel_wider_than_it_stands_below_the_keel():
    """Rays from the object's flanks pass beside the keel and meet the plate far above: they
    measure nothing of the object, so they must not lift its centroid into the keel."""
    from hullscan.compare.analysis import make_cells, segment

    cfg = CompareConfig()
    ref = build_reference(_keel_under_plate(), cfg)
    s = 0.02
    g = np.arange(-1.5, 1.5, s)
    pts = []
    for y0 in (-0.15, 0.15):  # keel sides
        xx, zz = np.meshgrid(g, np.arange(-0.5, 0.0, s))
        pts.append(np.stack([xx.ravel(), np.full(xx.size, y0), zz.ravel()], axis=1))
    xx, yy = np.meshgrid(g, np.arange(-0.15, 0.15, s))
    keel_bottom = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, -0.5)], axis=1)
    pts.append(keel_bottom[np.abs(keel_bottom[:, 0]) > 0.5])
    xx, yy = np.meshgrid(np.arange(-2.0, 2.0, s), np.arange(-2.0, 2.0, s))
    plate = np.stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)], axis=1)
    pts.append(plate[np.abs(plate[:, 1]) > 0.15])
    # A half cylinder (radius 0.25 m, 1 m long) hanging under the keel's bottom, its ends closed.
    r = 0.25
    th, xx = np.meshgrid(np.linspace(np.pi, 2 * np.pi, 60), np.arange(-0.5, 0.5, s))
    pts.append(np.stack([xx.ravel(), r * np.cos(th.ravel()), -0.5 + r * np.sin(th.ravel())], axis=1))
    for x0 in (-0.5, 0.5):
        yy, zz = np.meshgrid(np.arange(-r, r, s), np.arange(-0.5 - r, -0.5, s))
        inside = yy**2 + (zz + 0.5) ** 2 < r**2
        pts.append(np.stack([np.full(inside.sum(), x0), yy[inside], zz[inside]], axis=1))
    p = np.vstack(pts)
    p = p[ref.signed_distance(p)[0] > -0.01]  # nothing inside the keel
    n = len(p)
    cells = make_cells(p, np.full(n, 0.01), np.ones(n), ref, cfg, 0.01)
    segs = segment(cells, cfg, ("protrusion",))
    m = max(segs, key=lambda q: q[2]["volume"])[2]
    truth = np.array([0.0, 0.0, -0.5 - 4 * r / (3 * np.pi)])  # centroid of the half cylinder
    assert m["centroid"][2] < -0.55
    assert np.linalg.norm(m["centroid"] - truth) < 0.1
    assert abs(m["volume"] / (np.pi * r**2 / 2) - 1) < 0.35
