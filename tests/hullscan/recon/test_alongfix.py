"""An along-ship measurement from reference relief (hullscan/recon/alongfix.py): a submap shifted
along a parallel midbody is put back by the anode it saw; plain plating and a row of identical
anodes give no measurement."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hullscan.recon.alongfix import AlongFixParams, Closest, measure_along, relief_features
from hullscan.recon.drift import tree_closest

F = NDArray[np.float64]
X = np.array([1.0, 0.0, 0.0])


def _plating(anodes: list[float], spacing: float = 0.02, half: float = 6.0) -> tuple[F, F]:
    """A flat shell z = 0 over x, y in [-half, half] with anodes (0.8 x 0.25 x 0.08 m) centred at
    ``anodes`` (x) on y = 0: dense surface samples and their outward normals (+z on the tops)."""
    g = np.arange(-half, half, spacing)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    p = np.column_stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)])
    n = np.tile([0.0, 0.0, 1.0], (len(p), 1))
    for a in anodes:
        on = (np.abs(p[:, 0] - a) <= 0.4) & (np.abs(p[:, 1]) <= 0.125)
        p[on, 2] = 0.08
        # the end faces, which ICP's point-to-plane sees: a few rows of samples
        for end, sx in ((a - 0.4, -1.0), (a + 0.4, 1.0)):
            ys = np.arange(-0.125, 0.125, spacing)
            zs = np.arange(0.0, 0.08, spacing)
            yv, zv = np.meshgrid(ys, zs)
            face = np.column_stack([np.full(yv.size, end), yv.ravel(), zv.ravel()])
            p = np.vstack([p, face])
            n = np.vstack([n, np.tile([sx, 0.0, 0.0], (len(face), 1))])
    return p, n


def _seen(anodes: list[float], shift: float, rng: np.random.Generator, noise: float = 0.01) -> F:
    """What a lane saw of that shell, 2 cm noise along the normal, displaced ``shift`` along x."""
    p, _ = _plating(anodes, spacing=0.05, half=4.5)
    p = p[p[:, 2] >= 0.0]
    return p + rng.normal(0, noise, p.shape) * [0.3, 0.3, 1.0] + shift * X


def test_an_anode_puts_a_shifted_submap_back_along_the_ship() -> None:
    rng = np.random.default_rng(1)
    ref, nrm = _plating([0.5])
    closest = tree_closest(ref, nrm)
    sharp = AlongFixParams(min_sigma_m=0.01)
    for shift in (-0.6, -0.25, 0.0, 0.33, 0.7):
        fix = measure_along(_seen([0.5], shift, rng), X, closest, sharp)
        assert fix is not None
        assert abs(fix.shift_m + shift) <= 0.03, (shift, fix)
        assert abs(fix.shift_m + shift) <= 2 * fix.sigma_m
        assert fix.sigma_m <= 0.05  # the valley itself is narrow
        assert fix.on_share > 0.9
        # stated: never under the floor (a submap is rigid only to its own drift)
        assert measure_along(_seen([0.5], shift, rng), X, closest).sigma_m == AlongFixParams().min_sigma_m


def test_plain_plating_fixes_nothing_along_the_ship() -> None:
    rng = np.random.default_rng(2)
    ref, nrm = _plating([])
    assert measure_along(_seen([], 0.3, rng), X, tree_closest(ref, nrm)) is None


def test_a_taper_is_left_to_icp() -> None:
    # A shell sloping 10 % along the ship: every point's distance changes as it slides, which a 1-D
    # slide cannot tell from an offset off the normal; ICP's joint information already holds it.
    rng = np.random.default_rng(5)
    ref, _ = _plating([])
    slope = np.array([0.0, 0.0, 0.1])
    ref = ref + ref[:, :1] * slope
    nrm = np.tile(np.array([-0.1, 0.0, 1.0]) / np.hypot(0.1, 1.0), (len(ref), 1))
    seen = _seen([], 0.0, rng)
    seen = seen + seen[:, :1] * slope + 0.3 * X
    assert measure_along(seen, X, tree_closest(ref, nrm)) is None


def test_a_row_of_anodes_closer_than_the_search_is_ambiguous() -> None:
    # Anodes every 1.2 m: a shift of 1.2 m fits as well as none within the 1 m search.
    rng = np.random.default_rng(3)
    row = [-3.6, -2.4, -1.2, 0.0, 1.2, 2.4, 3.6]
    ref, nrm = _plating(row)
    fix = measure_along(_seen(row, 0.5, rng), X, tree_closest(ref, nrm))
    assert fix is None


def test_a_fix_places_its_submap_and_its_neighbours_along_the_lane() -> None:
    # A lane of 11 submaps on a parallel midbody: the fits fix across and vertical only. One submap
    # saw an anode that says the lane lies 0.3 m further along; the smoother carries it to the rest
    # (drift is slow) and the posterior is tightest there.
    from hullscan.recon.drift import _with_along
    from hullscan.recon.smoothing import (
        SmootherModel,
        SubmapFit,
        along_posterior,
        smooth_corrections,
    )

    n = 11
    centres = np.column_stack([np.linspace(0, 100, n), np.zeros(n), np.zeros(n)])
    info = np.diag([0.0, 0.0, 1.0, 1.0]) / 0.02**2
    fits = [SubmapFit(c, float(c[0]), np.zeros(4), info) for c in centres]
    model = SmootherModel()
    before = along_posterior(fits, np.ones(n), model, X).sd()
    fix = measure_along(*_fixture_shift(0.3))
    assert fix is not None
    fits[5] = _with_along(fits[5], np.zeros(4), X, fix)
    solved = smooth_corrections(fits, model)
    assert abs(solved.x[5, 1] - fix.shift_m) < 0.01
    assert np.all(np.abs(solved.x[:, 1] - fix.shift_m) < 0.02)  # no fit says otherwise: the lane moves whole
    after = along_posterior(fits, solved.weights, model, X).sd()
    assert after[5] <= fix.sigma_m + 1e-6 < before[5]
    assert np.argmin(after) == 5


def _fixture_shift(shift: float) -> tuple[F, F, Closest]:
    """A submap seen ``shift`` short of where the reference's anode puts it: points, axis, closest."""
    ref, nrm = _plating([0.5])
    return _seen([0.5], -shift, np.random.default_rng(4)), X, tree_closest(ref, nrm)


def _shell(x0: float, x1: float, anode_x: float, spacing: float) -> tuple[F, F]:
    """A flat shell z = 0 over x in [x0, x1], y in [-3, 3], with one anode's top (0.8 x 0.25 m,
    8 cm proud) at ``anode_x``: samples and normals."""
    gx, gy = np.meshgrid(np.arange(x0, x1, spacing), np.arange(-3, 3, spacing), indexing="ij")
    p = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    p[(np.abs(p[:, 0] - anode_x) <= 0.4) & (np.abs(p[:, 1]) <= 0.125), 2] = 0.08
    return p, np.tile([0.0, 0.0, 1.0], (len(p), 1))


def test_the_drift_stage_places_a_midbody_lane_by_the_anode_it_passed() -> None:
    # A 60 m lane along a flat shell that fixes nothing along the ship but for one anode at 31 m;
    # dead reckoning has the lane 0.3 m further aft than it was. The smoother alone keeps the
    # registered placement (nothing says otherwise); with the relief measurement the lane is put
    # back, and the posterior says where it was measured.
    from hullscan.recon.config import DriftConfig
    from hullscan.recon.drift import ReturnsInMemory, _smooth_to_reference
    from tests.hullscan.recon.synth import PlacedSurface

    ref = PlacedSurface(*_shell(-5.0, 65.0, 31.0, 0.05))
    rng = np.random.default_rng(6)
    true, _ = _shell(0.0, 60.0, 31.0, 0.07)
    true = true[np.argsort(true[:, 0], kind="stable")] + rng.normal(0, 0.005, true.shape)
    nav = true - 0.3 * X
    travelled = true[:, 0].copy()
    stamps = (travelled * 1e9).astype(np.int64)
    survey = ReturnsInMemory(nav, (travelled // 10.0).astype(np.int64), stamps, travelled)

    def along_error(on: bool) -> tuple[float, object]:
        cfg = DriftConfig(enabled=True, submap_length_m=10.0, min_overlap_points=100, along_features=on)
        _, anchors, info, _, along = _smooth_to_reference(cfg, ref, survey)
        shifts = [float(t[0, 3]) for t in anchors]  # no heading change: the shift along x
        return float(np.max(np.abs(np.array(shifts) - 0.3))), (info, along)

    off, _ = along_error(False)
    on, (info, along) = along_error(True)
    assert off > 0.25
    assert on < 0.1
    assert info["drift_along_fixed"] == 1
    assert along is not None and along.relief_fixed is not None and along.relief_fixed.sum() == 1
    k = int(np.argmax(along.relief_fixed))
    assert abs(along.centres[k, 0] + 0.3 - 31.0) < 6.0  # the submap that passed the anode
    sd = along.sd_m()
    assert np.argmin(sd) == k and along.relief_sd_m() == sd[k]


def test_pieces_of_relief_are_counted_apart_and_one_protrusion_is_one() -> None:
    # Two anodes 4 m apart along the plating, seen in place: two pieces hold the survey there. One
    # anode: one. An anode-sized pack laid over the reference's only anode (the survey slid to put
    # it there) is one piece too: a wide search takes a position only where two agree.
    rng = np.random.default_rng(7)
    ref, nrm = _plating([-2.0, 2.0])
    closest = tree_closest(ref, nrm)
    assert relief_features(_seen([-2.0, 2.0], 0.0, rng), X, closest, 0.0) == 2
    one, one_n = _plating([2.0], spacing=0.04, half=10.0)  # wide enough that nothing slides off its edge
    assert relief_features(_seen([-2.0, 2.0], 0.0, rng), X, tree_closest(one, one_n), 0.0) == 1
    # The pack at x = -2 in the survey, slid 4 m onto the reference's anode at +2: one piece.
    assert relief_features(_seen([-2.0], 0.0, rng), X, tree_closest(one, one_n), 4.0) == 1
    assert relief_features(_seen([], 0.0, rng), X, closest, 0.0) == 0
