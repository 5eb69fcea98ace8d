"""A model-scale mesh: read at the ship's stated length, or at 100 m with every output saying it is a guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.errors import MeshError
from hullscan.hull import load_mesh


def test_a_model_is_scaled_to_the_stated_length_and_otherwise_flagged(shared_hulls: Path) -> None:
    wigley = shared_hulls / "wigley.stl.gz"  # a 1 m model
    guessed = load_mesh(wigley, draft=5.0)
    assert guessed.scale_guess.startswith("model-scale mesh (1 file units long) read as a 100 m ship, a guess")
    stated = load_mesh(wigley, draft=5.0, length=80.0)
    assert stated.scale_guess == "" and stated.length == pytest.approx(0.8 * guessed.length, rel=1e-6)
    assert stated.with_regions(stated.face_region).scale_guess == ""
    assert load_mesh(shared_hulls / "dtmb5415.stl.gz", draft=6.0).scale_guess == ""  # full scale, metres


@pytest.mark.parametrize(("kwargs", "expect"), [
    ({"length": -5.0}, "length must be > 0 m"),
    ({"length": 80.0, "units": "m"}, "a length scales a model-scale mesh; units m already give the scale"),
])
def test_a_length_that_cannot_apply_is_refused_by_name(shared_hulls: Path, kwargs: dict, expect: str) -> None:
    with pytest.raises(MeshError, match=expect):
        load_mesh(shared_hulls / "wigley.stl.gz", **kwargs)


def test_the_comparison_says_the_scale_is_a_guess() -> None:
    from hullscan.compare.config import CompareConfig
    from hullscan.compare.inspect import _open_inspection
    from hullscan.compare.kinds import ReferenceDescription

    ins = _open_inspection(ReferenceDescription("mesh", "wigley", scale_guess="model-scale mesh read as a 100 m ship"),
                           100, CompareConfig(), None, None)
    assert any(n.startswith("model-scale mesh read as a 100 m ship; positions, sizes and volumes scale") for n in ins.notes)
