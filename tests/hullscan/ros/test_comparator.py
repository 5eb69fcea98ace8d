"""The comparator node in this process (no launch): the banner over the findings says which
navigation they rest on, and a final map whose drift summary came after its inspection is shown
again as corrected."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from hullscan.compare import live
from hullscan.model import Transform
from tests.hullscan.ros.test_view import _finding, _wall

pytestmark = pytest.mark.ros


def _banners(rclpy: Any, node: Any, act: Any, want: int, timeout_s: float = 15.0) -> list[tuple[str, float]]:
    """Run ``act``, then spin until ``want`` MarkerArrays came on /hullscan/findings: each one's
    banner (text, red channel) or ('', 0) where it has none."""
    from visualization_msgs.msg import MarkerArray

    from hullscan.ros.common import LATCHED
    from hullscan.ros.messages import STATUS_NS

    got: list[Any] = []
    ears = rclpy.create_node("banner_ears")
    ears.create_subscription(MarkerArray, "/hullscan/findings", got.append, LATCHED)
    act()
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and len(got) < want:
        rclpy.spin_once(ears, timeout_sec=0.1)
        rclpy.spin_once(node, timeout_sec=0.0)
    ears.destroy_node()
    out = []
    for msg in got:
        b = [(m.text, m.color.r) for m in msg.markers if m.ns == STATUS_NS and m.action == m.ADD]
        out.append(b[0] if b else ("", 0.0))
    return out


def test_findings_carry_the_navigation_they_rest_on(rclpy_ctx: Any) -> None:
    from std_msgs.msg import String

    from hullscan.ros.comparator import ComparatorNode

    node = ComparatorNode()
    try:
        cloud = _wall(500, seed=2)
        during = live.LiveResult(cloud, False, Transform.identity(), 0.1, findings=(_finding("F001", 5.0),))
        final = live.LiveResult(cloud, True, Transform.identity(), 0.1, findings=(_finding("F001", 5.0),))
        # During the survey: amber, the positions are the recorded navigation's.
        (text, red), = _banners(rclpy_ctx, node, lambda: node.publish(during, 1), 1)
        assert text.startswith("RECORDED NAVIGATION: drift not corrected yet") and red == 1.0
        # The final map inspected before the mapper's summary of its end came: neither corrected nor
        # not (the map may well be corrected; the summary says), amber ...
        node.live.inspected_final = True
        (text, red), = _banners(rclpy_ctx, node, lambda: node.publish(final, 2), 1)
        assert text == live.FINAL_AWAITING and red == 1.0, text
        # ... and once it comes, the same findings again under a green banner.
        drift = {"corrected": True, "against": "/quay/ship.design.ply", "submaps": 12, "aligned": 11}
        shown = _banners(rclpy_ctx, node, lambda: node.on_final_map(String(data=json.dumps({"drift": drift}))), 1)
        assert shown[-1][0] == "final map: navigation drift corrected against ship.design.ply (11 of 12 submaps)"
        assert shown[-1][1] < 1.0  # not amber
        # A map the mapper could not correct says why, and stays amber.
        node.live.final_map(json.dumps({"drift": {"corrected": False, "why": "restored from a checkpoint"}}))
        assert node.live.banner() == live.Banner("FINAL MAP ON RECORDED NAVIGATION: drift not corrected: restored "
                                                 "from a checkpoint; replay the bag for the record", False)
    finally:
        node.destroy_node()


def test_a_summary_before_the_final_inspection_republishes_nothing(rclpy_ctx: Any) -> None:
    from std_msgs.msg import String

    from hullscan.ros.comparator import ComparatorNode

    node = ComparatorNode()
    try:
        published: list[Any] = []
        node.publish = lambda *a: published.append(a)  # type: ignore[method-assign]
        node.on_final_map(String(data=json.dumps({"drift": {"corrected": True, "against": "a.ply"}})))
        assert published == [] and node.live.map_drift == {"corrected": True, "against": "a.ply"}
    finally:
        node.destroy_node()


def test_after_the_final_map_only_a_map_with_later_pings_is_inspected(rclpy_ctx: Any) -> None:
    """The mapper's periodic full map after its end is the final map again: inspecting it as a map
    of the survey in progress would replace the final findings (and say they are not final)."""
    from hullscan.ros import messages
    from hullscan.ros.comparator import ComparatorNode

    node = ComparatorNode()
    try:
        finals: list[bool] = []

        def inspect(cloud: Any, final: bool = False) -> live.LiveResult:
            finals.append(final)
            node.live.inspected_final = final
            return live.LiveResult(cloud, final, Transform.identity(), 0.1)

        node.live.inspect = inspect  # type: ignore[method-assign]
        node.live.wait_reason = lambda cloud, final: ""  # type: ignore[method-assign]
        node.publish_failure = lambda *a: None  # type: ignore[method-assign]
        during = messages.hull_cloud(_wall(500, seed=2), 4_000_000_000)
        node.run_inspection(during, final=False)
        node.run_inspection(during, final=False)  # the same map: once
        end = messages.hull_cloud(_wall(600, seed=3), 5_000_000_000)
        node.run_inspection(end, final=True)
        node.run_inspection(messages.hull_cloud(_wall(590, seed=3), 5_000_000_000), final=False)  # its copy
        node.run_inspection(messages.hull_cloud(_wall(700, seed=4), 6_000_000_000), final=False)  # pings after the end
        assert finals == [False, True, False]
    finally:
        node.destroy_node()


def test_mirror_mode_tells_the_mapper_to_correct_between_passes(rclpy_ctx: Any) -> None:
    """No reference to place: the comparator says it compares the hull with its mirror on
    /hullscan/placement, and the mapper's end of survey then aligns the passes to each other."""
    from std_msgs.msg import String

    from hullscan.ros.common import LATCHED
    from hullscan.ros.comparator import ComparatorNode
    from hullscan.ros.mapper import MapperNode

    got: list[Any] = []
    ears = rclpy_ctx.create_node("placement_ears")
    ears.create_subscription(String, "/hullscan/placement", got.append, LATCHED)
    from rclpy.parameter import Parameter

    node = ComparatorNode()
    mapper = MapperNode(parameter_overrides=[Parameter("allow_missing_msgs", value=True)])
    try:
        end = time.monotonic() + 15.0
        while time.monotonic() < end and not got:
            rclpy_ctx.spin_once(ears, timeout_sec=0.1)
        assert got, "no placement published"
        doc = json.loads(got[-1].data)
        assert doc["mirror"] and doc["reference"]["path"] == "mirror", doc
        assert not mapper.drift_to.between_passes
        mapper.on_placement(got[-1])
        assert mapper.drift_to.between_passes and mapper.drift_to.name == live.BETWEEN_PASSES
    finally:
        mapper.destroy_node()
        node.destroy_node()
        ears.destroy_node()
