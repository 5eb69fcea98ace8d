"""The comparator's planning outputs on the ROS graph: the dive plan's route and waypoints on
request (placed by the registration), and the live gaps with the next suggested lane."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from hullscan.compare.analysis import Coverage
from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import mesh_reference
from hullscan.errors import ConfigError
from hullscan.model import Transform
from hullscan.plan.lanes import Vehicle
from hullscan.plan.outputs import plan_document
from hullscan.plan.planner import PlanRequest, make_plan
from hullscan.plan.sonar import MULTIBEAM
from tests.hullscan.plan.hulls import barge

pytestmark = pytest.mark.ros
PARAMS = {"plan": "", "draft": 3.0, "lane_speed_mps": 0.8, "lane_standoff_m": 3.0, "lane_min_depth_m": 1.0}


def _receive(rclpy: Any, node: Any, topics: dict[str, Any], act: Any, timeout_s: float = 15.0) -> dict[str, Any]:
    """Subscribe (latched) to ``topics``, run ``act``, spin until each topic brought a message."""
    from hullscan.ros.common import LATCHED

    got: dict[str, Any] = {}
    ears = rclpy.create_node("planning_ears")
    for topic, kind in topics.items():
        ears.create_subscription(kind, topic, lambda m, t=topic: got.__setitem__(t, m), LATCHED)
    act()
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and len(got) < len(topics):
        rclpy.spin_once(ears, timeout_sec=0.1)
        rclpy.spin_once(node, timeout_sec=0.0)
    ears.destroy_node()
    assert set(got) == set(topics), f"no message on {set(topics) - set(got)}"
    return got


def test_plan_on_request_placed_by_the_registration(tmp_path: Path, rclpy_ctx: Any) -> None:
    from nav_msgs.msg import Path as PathMsg
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from hullscan.ros.common import HullscanNode
    from hullscan.ros.planning import Planning

    plan = make_plan(barge(), MULTIBEAM, PlanRequest(0.1, 20 * 60, Vehicle()), CompareConfig())
    (tmp_path / "plan.json").write_text(json.dumps(plan_document(plan, reference_path="barge", draft_m=3.0)))
    node = HullscanNode("planning_test")
    try:
        live = SimpleNamespace(registered=None, hull_to_nav=None)
        planning = Planning(node, live, {**PARAMS, "plan": str(tmp_path / "plan.json")})  # type: ignore[arg-type]
        # Not placed yet: refused with the reason.
        res = planning.srv_plan(Trigger.Request(), Trigger.Response())
        assert not res.success and "not placed" in res.message
        live.registered = Transform.from_euler(0, 0, 30, (50.0, -20.0, 0.0))
        got = _receive(rclpy_ctx, node, {"/hullscan/plan/path": PathMsg, "/hullscan/plan/waypoints": String},
                       lambda: planning.srv_plan(Trigger.Request(), Trigger.Response()))
        poses = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z]
                          for p in got["/hullscan/plan/path"].poses])
        assert np.allclose(poses, live.registered.apply(plan.route[:, :3]), atol=2e-3)  # plan.json keeps mm
        assert got["/hullscan/plan/path"].header.frame_id == "odom"
        rows = json.loads(got["/hullscan/plan/waypoints"].data)["waypoints"]
        assert len(rows) == sum(len(ln.waypoints) for ln in plan.lanes)
        # A plan made for another draft is refused by name.
        with pytest.raises(ConfigError, match="draft of 3 m"):
            Planning(node, live, {**PARAMS, "plan": str(tmp_path / "plan.json"), "draft": 4.0})  # type: ignore[arg-type]
    finally:
        node.destroy_node()


def test_gaps_and_next_lane_after_an_inspection(rclpy_ctx: Any) -> None:
    from nav_msgs.msg import Path as PathMsg
    from visualization_msgs.msg import MarkerArray

    from hullscan.ros.common import HullscanNode
    from hullscan.ros.planning import Planning

    cfg = CompareConfig().coverage
    ref = mesh_reference(barge(), coverage_cell=cfg.coverage_cell_m, coverage_max_z=cfg.coverage_max_z_m)
    cleared = np.asarray(ref.regions_at(ref.samples)) != "sea_chest"
    cov = Coverage(ref.samples, cleared, ref.sample_area, (), cleared.copy())
    h2n = Transform.from_euler(0, 0, 90, (10.0, 0.0, 0.0))
    node = HullscanNode("gaps_test")
    try:
        planning = Planning(node, SimpleNamespace(registered=None, hull_to_nav=None), PARAMS)  # type: ignore[arg-type]
        got = _receive(rclpy_ctx, node, {"/hullscan/gaps": MarkerArray, "/hullscan/next_lane": PathMsg},
                       lambda: planning.publish_gaps(ref, cov, h2n, "odom", 1_000))
        lane = planning.gaps(cov).next_lane  # type: ignore[misc]
        assert lane is not None
        poses = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z]
                          for p in got["/hullscan/next_lane"].poses])
        assert np.allclose(poses, h2n.apply(lane.waypoints), atol=1e-6)
        texts = [m.text for m in got["/hullscan/gaps"].markers if m.text]
        assert texts and texts[0].startswith("gap 1: sea chest (port)"), texts
        assert node.stats["next_lane"].startswith("next: sea chest")
    finally:
        node.destroy_node()
