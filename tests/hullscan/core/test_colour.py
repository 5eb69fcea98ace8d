"""The one deviation colour map."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.colour import DEVIATION_SPAN_M, NOT_JUDGED_GREY, deviation_colours


def test_recess_blue_protrusion_red_level_white_unjudged_grey() -> None:
    d = np.array([-1.0, -DEVIATION_SPAN_M / 2, 0.0, DEVIATION_SPAN_M / 2, 1.0, np.nan, np.inf])
    rgb = deviation_colours(d)
    assert rgb.dtype == np.uint8 and rgb.shape == (7, 3)
    assert rgb[0].tolist() == [0, 0, 255]          # saturated recess
    assert rgb[2].tolist() == [255, 255, 255]      # on the reference
    assert rgb[4].tolist() == [255, 0, 0]          # saturated protrusion
    assert rgb[1].tolist() == [127, 127, 255] and rgb[3].tolist() == [255, 127, 127]
    grey = int(NOT_JUDGED_GREY * 255)
    assert rgb[5].tolist() == rgb[6].tolist() == [grey] * 3


def test_span_scales_the_map() -> None:
    assert deviation_colours(np.array([0.1]), span=0.1)[0].tolist() == [255, 0, 0]
    assert deviation_colours(np.array([0.1]), span=0.4)[0].tolist() == [255, 191, 191]
    with pytest.raises(ValueError, match="span"):
        deviation_colours(np.zeros(1), span=0.0)
