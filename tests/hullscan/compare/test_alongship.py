"""Each finding's along-ship uncertainty from drift correction's posterior (hullscan/compare/alongship.py)."""

from __future__ import annotations

import numpy as np

from hullscan.compare.alongship import AlongShipPlacement, place_findings
from hullscan.model import Finding, Transform
from hullscan.recon.drift import AlongShipUncertainty
from hullscan.recon.smoothing import AlongPosterior


def _placement() -> AlongShipPlacement:
    # A side lane fixed along the ship (x 10-40 m) and a flat bottom lane back (x 40-10 m) that
    # dead reckoning carries further from the fixed stretch with every submap.
    x = np.concatenate([np.arange(10.0, 41.0, 10.0), np.arange(40.0, 9.0, -10.0)])
    z = np.concatenate([np.full(4, -2.0), np.full(4, -6.0)])
    centres = np.column_stack([x, np.full(8, 5.0), z])
    two_sd = np.array([0.04, 0.03, 0.03, 0.05, 0.08, 0.16, 0.24, 0.32])
    return AlongShipPlacement(centres, two_sd, 0.01, np.arange(8, dtype=np.float64))


def test_stretches_and_the_note_name_where_the_survey_rests_on_dead_reckoning() -> None:
    p = _placement()
    assert p.stretches() == [(10.0, 30.0, 0.32)]
    note = p.note()
    assert note is not None and "10.0-30.0 m from the stern (up to +/-0.32 m)" in note and "1.0 %" in note
    d = p.as_dict()
    assert d["max_two_sd_m"] == 0.32 and d["stretches"] == [{"from_stern_m": [10.0, 30.0], "two_sd_m": 0.32}]
    well = AlongShipPlacement(p.centres, np.full(8, 0.04), 0.01, p.stamps_ns)
    assert well.stretches() == [] and well.note() is None


def test_a_finding_takes_the_least_well_placed_submap_near_it() -> None:
    p = _placement()
    # Near x = 20 m both lanes passed within the radius: the bottom lane's 0.24 m bounds it.
    assert p.at(np.array([20.0, 5.0, -4.0]), radius_m=5.0) == 0.24
    # Far from every submap centre: the nearest one's.
    assert p.at(np.array([41.0, 5.0, -1.0]), radius_m=0.5) == 0.05
    f = Finding("F001", "protrusion", (20.0, 5.0, -4.0), 0.05, 0.2, 0.3, (19.8, 4.8, -4.2), (20.2, 5.2, -3.8),
                "side", "starboard", 20.0, 4.0, 0.9, 0.5, 100)
    (g,) = place_findings((f,), p, 5.0)
    assert g.along_uncertainty_m == 0.24 and f.along_uncertainty_m is None


def test_every_place_takes_what_a_finding_there_would() -> None:
    """at_many (the detector's reach along the ship at each cell) is at() place by place."""
    p = _placement()
    rng = np.random.default_rng(4)
    at = np.column_stack([rng.uniform(0.0, 50.0, 40), rng.uniform(0.0, 10.0, 40), rng.uniform(-8.0, 0.0, 40)])
    expect = [p.at(q, radius_m=5.0) for q in at]
    np.testing.assert_array_equal(p.at_many(at, 5.0), expect)
    assert len(set(expect)) > 2 and p.at_many(np.zeros((0, 3)), 5.0).shape == (0,)


def test_the_survey_placement_carries_the_navigation_frame_into_the_hull_frame() -> None:
    post = AlongPosterior(np.array([0.04, 0.09]), np.array([0.01, 0.01]), 0.02)
    along = AlongShipUncertainty(np.array([1.0, 2.0]), np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]),
                                 np.array([1.0, 0.0, 0.0]), post, 0.1, 0.01)
    # Navigation frame: the ship lies 100 m east, its bow to the west.
    nav_to_hull = Transform.from_euler(0.0, 0.0, np.pi, (100.0, 0.0, 0.0))
    p = AlongShipPlacement.from_survey(along, nav_to_hull)
    np.testing.assert_allclose(p.centres[:, 0], [100.0, 90.0], atol=1e-9)
    # The registration's figure, if given, replaces the drift stage's for the mean shift.
    np.testing.assert_allclose(p.two_sd_m, 2 * post.sd(0.1))
    assert np.all(AlongShipPlacement.from_survey(along, nav_to_hull, 0.01).two_sd_m < p.two_sd_m)


def test_the_report_says_when_a_frame_number_is_uncertain() -> None:
    from types import SimpleNamespace

    from hullscan.compare.config import CompareConfig
    from hullscan.report.html import _frames_uncertain

    ins = SimpleNamespace(config=CompareConfig(scoring={"frame_spacing_m": 0.6}))
    assert _frames_uncertain({"along_uncertainty_m": 0.2}, ins) == ""  # under half a frame
    assert _frames_uncertain({"along_uncertainty_m": 0.5}, ins) == " (uncertain by \u00b11 frame)"
    assert _frames_uncertain({"along_uncertainty_m": 1.3}, ins) == " (uncertain by \u00b12 frames)"
    assert _frames_uncertain({"along_uncertainty_m": None}, ins) == ""
    assert _frames_uncertain({"along_uncertainty_m": 1.3}, SimpleNamespace(config=CompareConfig())) == ""
