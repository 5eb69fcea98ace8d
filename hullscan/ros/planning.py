"""The comparator node's planning outputs (issue 20), kept apart so that the node stays an adapter;
the work is :mod:`hullscan.plan`.

``plan`` names a ``plan.json`` from ``hullscan plan`` (same reference and draft); ``~/publish_plan``
then publishes its route as ``/hullscan/plan/path`` (nav_msgs/Path) and the lanes' waypoints as JSON
on ``/hullscan/plan/waypoints``, placed by the latest registration (or the prior). Live gaps: each
inspection publishes the worst not-yet-cleared areas as markers on ``/hullscan/gaps`` and the lane
that would clear the worst of them on ``/hullscan/next_lane`` (nav_msgs/Path, empty when nothing is
left); ``lane_standoff_m``, ``lane_min_depth_m`` and ``lane_speed_mps`` describe the vehicle
(:mod:`hullscan.plan.gaps`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from nav_msgs.msg import Path as PathMsg
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from hullscan.compare.live import LiveComparator
from hullscan.errors import ConfigError
from hullscan.model import Transform
from hullscan.plan.gaps import LiveGaps
from hullscan.plan.lanes import Vehicle
from hullscan.plan.outputs import read_plan
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, HullscanNode


class Planning:
    """Publishers and the ``~/publish_plan`` service on ``node``; ``params`` are the node's."""

    def __init__(self, node: HullscanNode, live: LiveComparator, params: dict[str, Any]) -> None:
        self.node, self.live = node, live
        self.route = read_plan(Path(params["plan"])) if params["plan"] else None
        draft = float(params["draft"])
        if self.route is not None and draft and abs(self.route.draft_m - draft) > 0.005:
            raise ConfigError(f"hullscan_comparator parameter plan: {params['plan']} was made for a draft of "
                              f"{self.route.draft_m:g} m, the node's draft is {draft:g} m (plan again)")
        self.vehicle = Vehicle(speed_mps=float(params["lane_speed_mps"]), standoff_m=float(params["lane_standoff_m"]),
                               min_depth_m=float(params["lane_min_depth_m"]))
        self.gaps: LiveGaps | None = None
        self.gaps_pub = node.create_publisher(MarkerArray, "/hullscan/gaps", LATCHED)
        self.lane_pub = node.create_publisher(PathMsg, "/hullscan/next_lane", LATCHED)
        self.plan_pub = node.create_publisher(PathMsg, "/hullscan/plan/path", LATCHED)
        self.waypoints_pub = node.create_publisher(String, "/hullscan/plan/waypoints", LATCHED)
        node.create_service(Trigger, "~/publish_plan", self.srv_plan)

    def publish_gaps(self, reference: Any, coverage: Any, h2n: Transform, frame: str, stamp_ns: int) -> None:
        """What is not cleared yet, worst first, and the lane that would clear the worst of it."""
        if self.gaps is None or self.gaps.reference is not reference:
            self.gaps = LiveGaps(reference, self.node.config.compare.scoring.region_weights, self.vehicle)
        gaps = self.gaps(coverage)
        lane = h2n.apply(gaps.next_lane.waypoints) if gaps.next_lane is not None else np.zeros((0, 3))
        self.gaps_pub.publish(messages.gap_markers(gaps.gaps, h2n, frame, stamp_ns, lane))
        self.lane_pub.publish(messages.lane_path(lane, frame, stamp_ns))
        self.node.stats.update(gaps=len(gaps.gaps), next_lane=gaps.next_lane.name if gaps.next_lane else "none")

    def srv_plan(self, req: Any, res: Any) -> Any:
        """Publish the plan's route and waypoints, placed in the navigation frame by the latest
        registration (the prior before the first inspection)."""
        h2n = self.live.registered or self.live.hull_to_nav
        if self.route is None or h2n is None:
            res.success = False
            res.message = ("no plan: set the parameter plan to a plan.json from 'hullscan plan'" if self.route is None
                           else "the ship is not placed yet: give a prior, or wait for the first inspection")
            return res
        frame, now = self.node.config.topics.nav_frame, self.node.get_clock().now().nanoseconds
        self.plan_pub.publish(messages.lane_path(h2n.apply(self.route.route), frame, now))
        rows = self.route.waypoint_list(h2n)
        self.waypoints_pub.publish(String(data=json.dumps({"plan": self.route.source, "frame": frame,
                                                           "waypoints": rows})))
        res.success, res.message = True, f"{len(self.route.lane_names)} lanes, {len(rows)} waypoints"
        return res
