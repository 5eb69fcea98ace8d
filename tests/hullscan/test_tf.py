from __future__ import annotations

import numpy as np
import pytest

from hullscan.errors import TransformError
from hullscan.model import Transform, TransformStamped
from hullscan.tf import TfTree


def test_chain_static_and_dynamic() -> None:
    tree = TfTree()
    tree.add(TransformStamped(0, "base_link", "sonar", Transform.from_euler(0, 0, 0, (1, 0, 0)), static=True))
    tree.add(TransformStamped(0, "odom", "base_link", Transform.from_euler(0, 0, 0, (0, 0, 0))))
    tree.add(TransformStamped(10**9, "odom", "base_link", Transform.from_euler(0, 0, 0, (2, 0, 0))))
    t = tree.lookup("odom", "sonar", 5 * 10**8)
    np.testing.assert_allclose(t.apply(np.zeros(3)), [2.0, 0, 0])
    # Inverse direction.
    np.testing.assert_allclose(tree.lookup("sonar", "odom", 5 * 10**8).apply(np.zeros(3)), [-2.0, 0, 0])


def test_missing_transform_names_frames() -> None:
    tree = TfTree()
    tree.add(TransformStamped(0, "base_link", "camera", Transform(), static=True))
    with pytest.raises(TransformError, match="no transform from 'sonar' to 'base_link'"):
        tree.lookup("base_link", "sonar")
    assert not tree.can_transform("base_link", "sonar")
