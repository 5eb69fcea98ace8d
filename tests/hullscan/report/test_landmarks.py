"""Landmarks: named regions of the reference with their status; a finding described from the nearest."""

from __future__ import annotations

from hullscan.report.landmarks import Landmark, nearest_landmark, relative_position

CHEST = Landmark("port sea chest", "sea_chest", "port", (16.0, 4.5, -3.0), (18.0, 5.0, -1.5), 3.0, 0.2, 0.9)
STBD = Landmark("starboard sea chest", "sea_chest", "starboard", (20.0, -1.0, -3.0), (21.0, -0.7, -1.5), 1.0, 1, 1)


def test_diver_description() -> None:
    d, text = relative_position((20.1, 4.8, -2.1), CHEST)
    assert text == "2.1 m forward of the port sea chest, 0.6 m below its top edge" and d > 2.0
    assert relative_position((15.0, 4.8, -1.0), CHEST)[1] == "1.0 m aft of the port sea chest, 0.5 m above its top edge"
    assert relative_position((17.0, 4.8, -2.0), CHEST) == (0.0, "on the port sea chest (0.5 m below its top edge)")


def test_nearest_is_on_the_findings_side() -> None:
    # Closer to the starboard chest in a straight line through the hull, but a diver on the port side
    # swims to the port one.
    p = (20.5, 0.7, -2.0)
    assert relative_position(p, STBD)[0] < relative_position(p, CHEST)[0]
    lm, _, text = nearest_landmark(p, [CHEST, STBD])
    assert lm is CHEST and "port sea chest" in text
    lm, _, text = nearest_landmark((20.5, -4.6, -2.0), [CHEST])  # none on its side: the other one, said so
    assert lm is CHEST and text.endswith("(on the other side of the hull)")
    assert nearest_landmark((0.0, 0.0, 0.0), []) is None


def test_status() -> None:
    assert CHEST.status == "seen, not cleared" and STBD.status == "cleared"
    assert Landmark("rudder", "rudder", "centreline", (0, 0, 0), (1, 1, 1), 1.0, 0.0, 0.1).status == "not seen"
