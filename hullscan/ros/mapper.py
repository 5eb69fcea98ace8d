"""Sonar mapper node: sonar pings and navigation in, the incremental hull map out.

Subscribes (sensor-data QoS, ``input_depth`` / odometry ``nav_input_depth`` deep: docs/faults.md) to
LaserScan / PointCloud2 / ProjectedSonarImage / SonarDetections and odometry; mountings from ``sensor_frames`` / ``sensor_mounts`` (x y z roll pitch yaw per frame),
``/hullscan/mounts`` (the bag player) or ``/tf_static``. Publishes (latched) ``/hullscan/cloud`` at
``cloud_rate_hz`` (at most ``display_max_points`` points), the full map ``/hullscan/cloud_full`` every
``full_cloud_period_s``, ``/hullscan/path``, and at the end (``/hullscan/survey_end`` or ``~/finish``)
``/hullscan/cloud_final``, its drift corrected against the reference where the comparator placed it
(``/hullscan/placement``; what that did: ``/hullscan/final_map``). The rest is :class:`hullscan.recon.live.MappingSession`.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

import numpy as np
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from sensor_msgs.msg import LaserScan, PointCloud2
from std_msgs.msg import String
from std_srvs.srv import Trigger

from hullscan.bag import convert
from hullscan.compare.live import DriftReference
from hullscan.errors import MessageError
from hullscan.model import DEFAULT_BEAMWIDTH_DEG
from hullscan.recon import live
from hullscan.ros import common, messages
from hullscan.ros.common import LATCHED, STEADY, HullscanNode, guarded, run_node


class MapperNode(HullscanNode):
    # One ping per kernel call (steady latency; the map does not depend on where blocks are cut); the returns kept to correct drift at the end.
    node_config_defaults: ClassVar[dict[str, Any]] = {"recon.chunk_pings": 1, "recon.drift.enabled": True, "recon.drift.require_reference": True}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_mapper", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "cloud_rate_hz": 1.0, "display_max_points": 400_000, "full_cloud_period_s": 10.0, "checkpoint_dir": "",
            "checkpoint_period_s": 5.0, "beamwidth_deg": DEFAULT_BEAMWIDTH_DEG, "sensor_frames": [""], "sensor_mounts": [0.0],
            "reliable_inputs": False, "input_depth": 1000, "nav_input_depth": 3000, "reconstructor": "hullscan.recon:Reconstructor",
            "end_timeout_s": 5.0, "path_max_poses": 1000, "resume": "auto", "survey_id": "", "input_timeout_s": 5.0, "allow_missing_msgs": False,
        }.items()}
        self.p, t = p, self.config.topics
        new_recon, warm_s = live.reconstructor_factory(str(p["reconstructor"]), self.config.recon, t)
        self.stats.update({"warmup_s": round(warm_s, 3)} if warm_s is not None else {})
        self.drift_to = DriftReference(self.config.compare)
        self.session = live.MappingSession(new_recon, t, self.config.recon.voxel_size, live.MapperSettings.from_parameters(p),
                                           self, self.drift_to if self.config.recon.drift.enabled else None)
        self.session.mount_parameters(p["sensor_frames"], p["sensor_mounts"])
        qos = common.sensor_qos(int(p["input_depth"]), bool(p["reliable_inputs"]))
        if t.scan:
            self.create_subscription(LaserScan, t.scan, lambda m: self.on_ping(m, t.scan, "scan"), qos)
        if t.points:
            self.create_subscription(PointCloud2, t.points, lambda m: self.on_ping(m, t.points, "points"), qos)
        missing: list[str] = []  # message packages this Python environment lacks, with what they cost
        if t.image:
            common.optional_subscription(self, "marine_acoustic_msgs.msg", "ProjectedSonarImage", t.image, lambda m: self.on_ping(
                m, t.image, "image"), qos, missing, f"marine_acoustic_msgs (imaging sonar {t.image} not subscribed)")
        if t.detections:  # a multibeam's own detections
            common.optional_subscription(self, "marine_acoustic_msgs.msg", "SonarDetections", t.detections, lambda m: self.on_ping(
                m, t.detections, "detections"), qos, missing, f"marine_acoustic_msgs ({t.detections} not subscribed)")
        self.create_subscription(Odometry, t.odom, self.on_odom, common.sensor_qos(int(p["nav_input_depth"]), bool(p["reliable_inputs"])))
        self.create_subscription(String, "/hullscan/mounts", self.on_mounts, LATCHED)
        self.create_subscription(String, "/hullscan/survey_end", self.on_end, LATCHED)
        self.create_subscription(String, "/hullscan/placement", self.on_placement, LATCHED)
        common.optional_subscription(self, "tf2_msgs.msg", "TFMessage", t.tf_static, self.on_tf_static, LATCHED, missing,
                                     f"tf2_msgs ({t.tf_static} not subscribed: mountings only from sensor_frames/sensor_mounts and /hullscan/mounts)")
        common.refuse_missing_msgs(self, missing, bool(p["allow_missing_msgs"]), "ros-$ROS_DISTRO-tf2-msgs "
                                   "ros-$ROS_DISTRO-marine-acoustic-msgs", "set the topic to '' (topics.image, topics.detections), ")
        self.cloud_pub = self.create_publisher(PointCloud2, "/hullscan/cloud", LATCHED)
        self.full_pub = self.create_publisher(PointCloud2, "/hullscan/cloud_full", LATCHED)
        self.final_pub = self.create_publisher(PointCloud2, "/hullscan/cloud_final", LATCHED)
        self.path_pub = self.create_publisher(PathMsg, "/hullscan/path", LATCHED)
        self.info_pub = self.create_publisher(String, "/hullscan/final_map", LATCHED)
        self.create_service(Trigger, "~/reset_map", lambda req, res: _done(res, self.session.reset()))
        self.create_service(Trigger, "~/save_map", lambda req, res: _done(res, self.session.save_map()))
        self.create_service(Trigger, "~/finish", lambda req, res: self._finish(res))
        self.create_timer(1.0 / max(float(p["cloud_rate_hz"]), 0.1), self.publish_cloud, clock=STEADY)
        self.create_timer(1.0, self._check_health, clock=STEADY)

    def _check_health(self) -> None:
        check = self.session.health()
        for function in sorted({*check.failing, *check.working}):
            self.fail(function, check.failing[function]) if function in check.failing else self.recover(function)

    # -- inputs
    @guarded("/hullscan/mounts")
    def on_mounts(self, msg: String) -> None:
        for e in messages.mounts_from_json(msg.data):
            self.session.offer_mount(e, "player")

    @guarded("/tf_static")
    def on_tf_static(self, msg: Any) -> None:
        for e in convert.tf_from_msg(msg, "/tf_static", static=True):
            self.session.offer_mount(e)

    @guarded("odometry")
    def on_odom(self, msg: Odometry) -> None:
        try:
            nav = convert.odom_from_msg(msg, self.config.topics.odom)
        except MessageError as err:
            self.warn(self.config.topics.odom, "malformed_message", str(err))
            return
        self.session.add_nav(nav)
        self._maybe_finish()

    @guarded("/hullscan/placement")
    def on_placement(self, msg: String) -> None:
        self.drift_to.offer(json.loads(msg.data))

    @guarded("sonar")
    def on_ping(self, msg: Any, topic: str, kind: str) -> None:
        self.session.ping_arrived(topic)
        try:
            ping = convert.ping_from_msg(msg, topic, kind, float(np.deg2rad(self.p["beamwidth_deg"])))
        except (MessageError, ValueError) as err:
            self.warn(topic, "malformed_message", str(err))
            ping = None
        try:
            if ping is not None:
                self.session.add_ping(ping, topic)
        finally:
            self._maybe_finish()

    # -- outputs
    def _cloud_msg(self, view: live.MapView) -> PointCloud2:
        if view.data is not None:
            return messages.hull_cloud_packed(view.data, view.rows, view.stamp_ns, self.config.topics.nav_frame)
        assert view.cloud is not None
        return messages.hull_cloud(view.cloud, view.stamp_ns)

    @guarded("cloud")
    def publish_cloud(self) -> None:
        s, frame = self.session, self.config.topics.nav_frame
        if s.path:
            msg = PathMsg(header=messages.header(int(s.path[-1][0]), frame))
            msg.poses = s.path_poses(lambda e: messages.pose_stamped(*e, frame))
            self.path_pub.publish(msg)
        self._maybe_finish()
        s.collect_checkpoint()
        due, full_due = s.display_due()
        if not due:
            return
        # Each stage's time is on /diagnostics; the O(map points) full cloud goes out now and then only.
        view = s.display_view(messages.byte_array)
        t2 = time.perf_counter()
        msg, t3 = self._cloud_msg(view), time.perf_counter()
        self.cloud_pub.publish(msg)
        self.stats.update(cloud_message_s=round(t3 - t2, 4), cloud_publish_s=round(time.perf_counter() - t3, 4))
        if full_due:
            t5 = time.perf_counter()
            whole = s.full_view(view, messages.byte_array)
            full, t6 = (msg if whole is view else self._cloud_msg(whole)), time.perf_counter()
            self.full_pub.publish(full)
            # Gathering/packing and the message; the same and publishing.
            self.stats.update(full_cloud_gather_s=round(t6 - t5, 4), full_cloud_s=round(time.perf_counter() - t5, 4))

    @guarded("/hullscan/survey_end")
    def on_end(self, msg: String) -> None:
        # It can overtake pings queued on other topics: finish once the player's counts arrived, or end_timeout_s of quiet.
        self.session.end_survey(json.loads(msg.data).get("published", {}))
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.session.finish_due():
            self._finish(Trigger.Response())

    def _finish(self, res: Any) -> Any:
        try:
            final = self.session.finish()
        except Exception as err:
            self.warn("finish", "reconstruction_failed", f"{type(err).__name__}: {err}")
            res.success, res.message = False, str(err)
            return res
        if (tr := final.trajectory) is not None:
            self.path_pub.publish(messages.path(tr.stamps_ns[::10].tolist(), tr.positions[::10], tr.orientations[::10], tr.frame_id))
        self.info_pub.publish(String(data=json.dumps(final.summary())))
        msg = messages.hull_cloud(final.cloud, final.stamp_ns)
        self.cloud_pub.publish(msg if final.display is final.cloud else messages.hull_cloud(final.display, final.stamp_ns))
        self.full_pub.publish(msg)
        self.final_pub.publish(msg)
        res.success, res.message = True, f"final map: {len(final.cloud)} points"
        return res



def _done(res: Any, message: object) -> Any:
    res.success, res.message = True, str(message)
    return res


def main(argv: list[str] | None = None) -> int:
    return run_node(MapperNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
