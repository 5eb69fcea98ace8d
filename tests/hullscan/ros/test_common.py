"""hullscan.ros.common: the player waits for listeners that DDS discovery matches one by one."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hullscan.ros import common


class _Publisher:
    """A publisher whose subscribers are matched at the given seconds after ``t0``."""

    def __init__(self, t0: float, matched_at: list[float]) -> None:
        self.t0, self.matched_at = t0, matched_at

    def get_subscription_count(self) -> int:
        return sum(1 for t in self.matched_at if time.monotonic() - self.t0 >= t)


def _sleep_spin(_node: Any, seconds: float, until: Any = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until is not None and until()):
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _no_rclpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "spin_for", _sleep_spin)


def test_a_listener_matched_just_after_the_first_is_waited_for() -> None:
    t0 = time.monotonic()
    odom = _Publisher(t0, [0.0, 0.3])  # the mapper at once, the camera node 0.3 s later
    image = _Publisher(t0, [0.4])
    common.wait_for_listeners(None, [odom], [odom, image], wait_s=10.0, wait_for=1, settle_s=0.5)
    assert odom.get_subscription_count() == 2 and image.get_subscription_count() == 1
    assert 0.85 <= time.monotonic() - t0 < 2.0  # the last match at 0.4 s, then 0.5 s quiet


def test_the_wait_is_bounded() -> None:
    t0 = time.monotonic()
    odom = _Publisher(t0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])  # new listeners keep coming
    common.wait_for_listeners(None, [odom], [odom], wait_s=0.7, wait_for=1, settle_s=0.5)
    assert time.monotonic() - t0 < 0.9
    t0 = time.monotonic()
    common.wait_for_listeners(None, [_Publisher(t0, [])], [], wait_s=0.3, wait_for=1)  # nobody: play after wait_s
    assert 0.3 <= time.monotonic() - t0 < 0.5
