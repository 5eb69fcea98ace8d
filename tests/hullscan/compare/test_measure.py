"""Heights along a finding's normal (ray casts on the design mesh)."""

from __future__ import annotations

import numpy as np

from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import build_reference


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
