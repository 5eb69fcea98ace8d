"""The parametric hull: block coefficient, regions, size limits, sea chests, the Wigley mesh."""

from __future__ import annotations

import numpy as np
import pytest
from hullscan_sim.hullform import _fit_lines, build_parametric, wigley_trimesh
from hullscan_sim.scenario import ParametricHullSpec

from hullscan.hull import REGIONS


@pytest.mark.parametrize(("cb", "midbody"), [(0.6, 0.1), (0.72, 0.35), (0.82, 0.5)])
def test_block_coefficient_matches(cb: float, midbody: float) -> None:
    spec = ParametricHullSpec(block_coefficient=cb, parallel_midbody=midbody)
    assert _fit_lines(spec).block_coefficient() == pytest.approx(cb, abs=0.005)


def test_unreachable_block_coefficient_is_an_error() -> None:
    from hullscan.errors import ConfigError

    with pytest.raises(ConfigError, match=r"hull\.parametric\.block_coefficient: 0\.5 cannot be reached"):
        _fit_lines(ParametricHullSpec(block_coefficient=0.5, parallel_midbody=0.6))


def test_every_region_present_and_mesh_modest() -> None:
    b = build_parametric(ParametricHullSpec())
    assert set(b.mesh.regions_present()) == set(REGIONS)
    assert b.mesh.n_faces < 300_000
    big = build_parametric(ParametricHullSpec(length_m=300, beam_m=45, draft_m=15, resolution_m=0.05, anodes=0))
    assert big.mesh.n_faces < 300_000
    assert b.mesh.length == 80 and b.mesh.draft == 5


def test_midbody_section_matches_analytic() -> None:
    spec = ParametricHullSpec(sea_chests=[], bilge_keels=False, anodes=0)
    b = build_parametric(spec)
    lines = _fit_lines(spec)
    import open3d as o3d

    zs = np.linspace(-4.5, -0.5, 9)
    rays = np.array([[40.0, 20.0, z, 0, -1, 0] for z in zs], np.float32)
    t = b.mesh.raycasting_scene().cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    expect = np.array([lines.half_breadth(40.0, z) for z in zs])
    np.testing.assert_allclose(20.0 - t, expect, atol=0.01)


def test_sea_chest_is_a_recess_behind_bars() -> None:
    b = build_parametric(ParametricHullSpec())
    chest = b.sea_chests[0]
    scene = b.mesh.raycasting_scene()
    import open3d as o3d

    # rays from outside straight at the chest: some hit the bars at the shell, the rest the recess floor
    zs = np.linspace(chest.center[2] - 0.4, chest.center[2] + 0.4, 9)
    xs = np.linspace(chest.center[0] - 0.7, chest.center[0] + 0.7, 57)
    o = np.array([[x, chest.center[1] + 3.0, z] for x in xs for z in zs], np.float32)
    d = np.tile(np.array([0, -1.0, 0], np.float32), (len(o), 1))
    t = scene.cast_rays(o3d.core.Tensor(np.concatenate([o, d], 1)))["t_hit"].numpy()
    depth = t - 3.0
    assert np.mean(depth > chest.recess - 0.05) > 0.5
    assert np.mean(depth < 0.1) > 0.05


def test_wigley_mesh_matches_formula() -> None:
    m = wigley_trimesh(length=60, beam=6, draft=3.75)
    v = np.asarray(m.vertices)
    under = v[:, 2] < -0.01
    x, y, z = v[under].T
    expect = 3.0 * (1 - (2 * x / 60) ** 2) * (1 - (z / 3.75) ** 2)
    np.testing.assert_allclose(np.abs(y), np.maximum(expect, 1e-3), atol=1e-9)
