"""Hull comparator node: the hull map and a reference in; deviation, findings and coverage out.

Inspects the full-resolution map (``/hullscan/cloud_full``) every ``inspect_period_s``, and the final map
(``/hullscan/cloud_final``) at once, against ``reference`` (a mesh or cloud file, or ``mirror``). Latched,
in the navigation frame: ``/hullscan/deviation_cloud``, ``/hullscan/findings`` (MarkerArray), ``/hullscan/findings_json``,
``/hullscan/unseen``, ``/hullscan/reference``, ``/hullscan/placement`` (String JSON: where the reference is
placed; the mapper corrects drift against it). ``~/save_report``: findings.json, report.html, deviation.ply.

``draft`` (m above the keel, from the draft marks; 0 = unknown: the waterline is guessed) places a mesh
reference's waterline, ``trim`` (aft minus forward draft, m) tilts it; ``prior`` a navigation-prior file
(as ``hullscan replay --prior``: a transform, or quay notes placed at the survey's first fix from
``/hullscan/path``; ``hull_to_nav_file`` its older name); ``fittings`` the anode plan (as ``--fittings``);
``length`` a model-scale mesh's length overall. Planning: :mod:`hullscan.ros.planning`.

Health: a failed inspection (the map cannot be aligned with the reference, e.g. another ship's) is an
ERROR on ``/diagnostics`` with the reason, and a red banner (``ns=hullscan_status``) replaces the findings
until one succeeds again; no hull map yet is a warning. Over the findings, an amber banner while they
rest on the recorded navigation (drift not yet corrected), a green one on the corrected final map.
Between a map in and the messages out: :class:`hullscan.compare.live.LiveComparator`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from nav_msgs.msg import Path as PathMsg
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from hullscan.compare import live
from hullscan.compare.earlier import load_earlier_dives
from hullscan.compare.fittings import check_plan, load_fittings
from hullscan.errors import ConfigError
from hullscan.model import Transform
from hullscan.report.run import save_live_report
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, STEADY, HullscanNode, guarded, run_node
from hullscan.ros.planning import Planning


class ComparatorNode(HullscanNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_comparator", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "reference": "mirror", **live.READ_AS, "prior": "", "hull_to_nav": [0.0], "hull_to_nav_file": "", "fittings": "",
            "inspect_period_s": 2.0, "report_dir": "reports", "max_mesh_faces": 60000, "no_cloud_warning_s": 5.0,
            "plan": "", "lane_standoff_m": 3.0, "lane_min_depth_m": 1.0, "lane_speed_mps": 0.8, "after": "",
        }.items()}
        if float(p["draft"]) < 0:
            raise ConfigError(f"hullscan_comparator parameter draft is {p['draft']}: expected metres above the keel (0 = unknown)")
        self.p = p
        # How it was read, in every findings document: the camera node reads the same hull in the same frame.
        self.reference_spec = live.reference_spec(str(p["reference"]), p)
        reference = live.read_reference(self.reference_spec)
        # What the node runs with, on /diagnostics: a dropped override shows at a glance.
        self.stats.update(reference=str(p["reference"]), draft=float(p["draft"]), trim=float(p["trim"]), prior=str(p["prior"] or p["hull_to_nav_file"]))
        # Quay notes wait for the survey's first fix (the mapper's path); any other prior is used as given.
        hull_to_nav, sigma, quay = live.node_prior(p["hull_to_nav"], str(p["prior"] or p["hull_to_nav_file"]), reference, self.config.compare)
        if (plan := load_fittings(str(p["fittings"])) if p["fittings"] else None) is not None:
            check_plan(plan, self.config.compare, str(p["reference"]) == "mirror")
        # A re-dive: the first dive's coverage.ply, so that what is shown left is what neither cleared.
        earlier = load_earlier_dives(str(p["after"]), "hullscan_comparator parameter after:") if p["after"] else None
        self.live = live.LiveComparator(reference, self.config.compare, hull_to_nav, sigma, plan, earlier, quay)
        if quay is not None:
            self.path_sub = self.create_subscription(PathMsg, "/hullscan/path", self.on_path, LATCHED)
        self.latest: PointCloud2 | None = None
        self.inspected_stamp: tuple[int, int] | None = None
        self.started = time.monotonic()
        self.stats.update(inspections=0, findings=0)
        self.create_subscription(PointCloud2, "/hullscan/cloud_full", self.on_cloud, LATCHED)
        self.last: tuple[live.LiveResult, int] | None = None  # the last inspection published, and its map's stamp
        self.create_subscription(String, "/hullscan/final_map", self.on_final_map, LATCHED)  # before the final map, when both wait
        self.create_subscription(PointCloud2, "/hullscan/cloud_final", self.on_final, LATCHED)
        self.dev_pub = self.create_publisher(PointCloud2, "/hullscan/deviation_cloud", LATCHED)
        self.find_pub = self.create_publisher(MarkerArray, "/hullscan/findings", LATCHED)
        self.json_pub = self.create_publisher(String, "/hullscan/findings_json", LATCHED)
        self.place_pub = self.create_publisher(String, "/hullscan/placement", LATCHED)  # the mapper's, at the end
        self.publish_placement()
        self.unseen_pub = self.create_publisher(MarkerArray, "/hullscan/unseen", LATCHED)
        self.ref_pub = self.create_publisher(Marker, "/hullscan/reference", LATCHED)
        self.create_service(Trigger, "~/save_report", self.srv_save)
        self.planning = Planning(self, self.live, p)
        self.create_timer(float(p["inspect_period_s"]), self.tick, clock=STEADY)
        self.ref_sent = False

    def on_cloud(self, msg: PointCloud2) -> None:
        self.latest = msg

    @guarded("/hullscan/path")
    def on_path(self, msg: PathMsg) -> None:
        if msg.poses:  # its first pose is the survey's first fix (kept however long the path grows)
            at = msg.poses[0].pose.position
            if self.live.first_fix(np.array([at.x, at.y, at.z])):
                self.get_logger().info(f"quay notes placed at the survey's first fix ({at.x:.1f}, {at.y:.1f}, {at.z:.1f})")
                self.destroy_subscription(self.path_sub)
                self.publish_placement()

    def publish_placement(self) -> None:
        if data := self.live.placement_update(self.reference_spec):
            self.place_pub.publish(String(data=data))

    @guarded("/hullscan/final_map")
    def on_final_map(self, msg: String) -> None:
        if self.live.final_map(msg.data) and self.last is not None:
            self.publish(*self.last)  # the final map was inspected first: its banner said "not corrected"

    @guarded("/hullscan/cloud_final")
    def on_final(self, msg: PointCloud2) -> None:
        self.run_inspection(msg, final=True)

    @guarded("inspection")
    def tick(self) -> None:
        if self.latest is None:
            if time.monotonic() - self.started > self.p["no_cloud_warning_s"]:
                # Waiting for the first map (before the survey starts) is a warning, not a failure.
                self.warn("/hullscan/cloud", "no_cloud",
                          f"no hull map for {time.monotonic() - self.started:.0f} s: is the mapper running?")
            return
        self.run_inspection(self.latest, final=False)

    def run_inspection(self, msg: PointCloud2, final: bool) -> None:
        key = (messages.NS * msg.header.stamp.sec + msg.header.stamp.nanosec, int(msg.width))
        if not final and self.inspected_stamp is not None and (key == self.inspected_stamp or (self.live.inspected_final and key[0] <= self.inspected_stamp[0])):
            return  # not again; after the final map only a map with later pings (a periodic copy stays the final's)
        self.inspected_stamp = key
        cloud, _ = messages.hull_cloud_from_msg(msg)
        wait = self.live.wait_reason(cloud, final)
        if wait:
            self.warn("/hullscan/cloud", "small_cloud", wait)
            return
        res = self.live.inspect(cloud, final)
        self.stats["inspect_s"] = round(res.inspect_s, 3)
        self.publish_placement()
        if not res.ok:
            self.stats["failed_inspections"] = int(self.stats.get("failed_inspections", 0)) + 1  # type: ignore[call-overload]
            self.publish_failure(res, key[0])
            return
        self.stats["inspections"] = int(self.stats["inspections"]) + 1  # type: ignore[call-overload]
        self.publish(res, key[0])
        self.recover("inspection")

    def publish_failure(self, res: live.LiveResult, stamp_ns: int) -> None:
        """A failed inspection, visibly: ERROR on /diagnostics, the map uncompared (grey), a red banner for the findings,
        the reason in findings_json; an earlier inspection's findings (another map's) withdrawn."""
        self.fail("inspection", res.error)
        self.stats["findings"] = 0
        cloud = res.cloud
        self.dev_pub.publish(messages.hull_cloud(cloud, stamp_ns, np.full(len(cloud), np.nan, np.float32)))
        top = messages.banner_position(cloud.points)
        self.find_pub.publish(messages.failure_markers(f"INSPECTION FAILED: {res.error}", top, cloud.frame_id, stamp_ns))
        self.json_pub.publish(String(data=messages.findings_json((), self.live.hull_to_nav or Transform(), final=res.final,
                                 stamp_ns=stamp_ns, cloud_points=len(cloud), status="failed", error=res.error)))

    def publish(self, res: live.LiveResult, stamp_ns: int) -> None:
        frame, h2n = res.cloud.frame_id, res.hull_to_nav
        self.stats["findings"] = len(res.findings)
        if res.deviation is not None:
            self.dev_pub.publish(messages.hull_cloud(res.cloud, stamp_ns, np.asarray(res.deviation, np.float32)))
        self.last, banner = (res, stamp_ns), self.live.banner()  # which navigation the findings rest on, over them
        self.find_pub.publish(messages.finding_markers(res.findings, h2n, frame, stamp_ns, banner.text, banner.corrected,
                                                       messages.banner_position(res.cloud.points)))
        extra = {"final": res.final, "stamp_ns": stamp_ns, "cloud_points": len(res.cloud), "status": res.status,
                 "coverage": res.coverage, "reference": self.reference_spec, "navigation": banner.text, "drift_corrected": banner.corrected}
        self.json_pub.publish(String(data=messages.findings_json(res.findings, h2n, **extra)))
        if res.coverage is not None:
            self.unseen_pub.publish(messages.unseen_markers(res.unseen_nav, res.cell_m, frame, stamp_ns,
                                                            res.uncertain_nav, res.uneven_nav))
        if (ins := res.inspection) is not None and res.view is not None and ins.reference is not None:
            self.planning.publish_gaps(ins.reference, res.view, h2n, frame, stamp_ns)
        if not self.ref_sent and hasattr(ref := self.live.reference, "faces"):
            self.ref_pub.publish(messages.mesh_marker(ref.vertices, ref.faces, h2n, frame, int(self.p["max_mesh_faces"])))
            self.ref_sent = True

    def srv_save(self, req: Any, res: Any) -> Any:
        if self.live.inspection is None:
            res.success, res.message = False, "no inspection yet (no hull map received)"
            return res
        try:
            out = save_live_report(self.live.inspection, Path(self.p["report_dir"]) /
                                   time.strftime("report_%Y%m%d_%H%M%S"), str(self.p["reference"]), self.config.compare,
                                   self.live.report_note())
        except Exception as err:
            self.warn("save_report", "report_failed", f"{type(err).__name__}: {err}")
            res.success, res.message = False, str(err)
            return res
        res.success, res.message = True, str(out)
        return res


def main(argv: list[str] | None = None) -> int:
    return run_node(ComparatorNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
