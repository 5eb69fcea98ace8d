"""Camera evidence node: camera images in, keyframes kept, the best image of each finding out.

A frame becomes a keyframe when ``keyframe_period_s`` of data time has passed since the
last one (the newest ``max_keyframes`` are kept). For each finding on
``/hullscan/findings_json`` the finding's centroid and box corners are projected into every
keyframe through the vehicle pose at the frame's stamp (odometry), the camera mounting
(``/tf_static``, ``/hullscan/mounts`` or the ``camera_frames``/``camera_mounts`` parameters)
and the ``CameraInfo`` intrinsics -- the same scoring as ``hullscan replay``
(:func:`hullscan.compare.camera.best_frames`: share of the box in view, centred, near),
with the line of sight checked against the reference hull the comparator's findings documents name,
read with the comparator's draft, trim and length (``reference``: '' = that hull, the default; a path
read with those settings; ``none`` = no check).
The best frame of each finding goes out on ``/hullscan/evidence/image`` (latched, one per
finding) and the index on ``/hullscan/evidence`` (JSON: finding id -> stamp, pixel box,
visible fraction, candidates).

Keyframes, odometry, intrinsics and mountings are :class:`hullscan.compare.keyframes.KeyframeKeeper`'s,
checkpointed to ``checkpoint_dir``/camera (when set) as they come, and restored on a restart of the
same survey (``resume``: auto, resume or fresh, as the mapper's), so a node killed late in a survey
still answers the final findings with frames.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from hullscan.bag import convert
from hullscan.compare.camera import CameraSet, best_frames, findings_from_document
from hullscan.compare.keyframes import KeyframeKeeper, KeyframeSettings
from hullscan.compare.live import OcclusionReference
from hullscan.errors import HullscanError, MessageError
from hullscan.model import Trajectory, Transform
from hullscan.ros import common, messages
from hullscan.ros.common import LATCHED, HullscanNode, guarded, run_node, sensor_qos

# One latched image per finding, so a late viewer still gets all of them.
EVIDENCE_QOS = QoSProfile(depth=64, reliability=QoSReliabilityPolicy.RELIABLE,
                          durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
# A finding whose centroid moved further than this between inspections is taken for another one.
SAME_FINDING_M = 0.5


class CameraNode(HullscanNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_camera", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "keyframe_period_s": 1.0, "max_keyframes": 600, "reference": "", "camera_frames": [""],
            "camera_mounts": [0.0], "checkpoint_dir": "", "resume": "auto", "survey_id": "", "allow_missing_msgs": False,
            "reliable_inputs": False, "input_depth": 200,
        }.items()}
        t = self.config.topics
        self.keep = KeyframeKeeper(KeyframeSettings.from_parameters(p), t.nav_frame, self, self.get_logger().info,
                                   max_nav_gap_s=self.config.recon.max_nav_gap_s)
        # The line-of-sight check's hull, read as the comparator read its own (its findings documents say how).
        self.occlusion = OcclusionReference(str(p["reference"]), self.config.compare)
        self.best: dict[str, dict[str, Any]] = {}
        self.where: dict[str, list[float]] = {}  # each finding id's last centroid: ids are reassigned between inspections
        self.stats.update(findings_with_image=0, keyframes_without_pose=0)
        for i, frame in enumerate(f for f in p["camera_frames"] if f):
            try:
                self.keep.add_mounts([messages.mount_from_params(t.base_frame, frame, p["camera_mounts"][6 * i:6 * i + 6])])
            except MessageError as err:
                self.warn("parameters", "bad_mounting", str(err))
        reliable = bool(p["reliable_inputs"])  # a bag replay: best-effort images (fragmented on DDS) may be dropped
        qos = sensor_qos(50, reliable)
        if t.camera_image:
            self.create_subscription(Image, t.camera_image, lambda m: self.on_image(m, False), qos)
        if t.camera_compressed:
            self.create_subscription(CompressedImage, t.camera_compressed, lambda m: self.on_image(m, True), qos)
        self.create_subscription(CameraInfo, t.camera_info, self.on_info, qos)
        # Odometry comes at the navigation rate: while an inspection is answered (seconds, on a busy
        # machine) a shallow queue overflows, and the frames in the gap have no pose.
        self.create_subscription(Odometry, t.odom, self.on_odom, sensor_qos(int(p["input_depth"]), reliable))
        self.create_subscription(String, "/hullscan/mounts", self.on_mounts, LATCHED)
        missing: list[str] = []  # never silent: refuse, or (allow_missing_msgs) run on /hullscan/mounts and parameters
        common.optional_subscription(self, "tf2_msgs.msg", "TFMessage", t.tf_static, self.on_tf_static, LATCHED, missing,
                                     f"tf2_msgs ({t.tf_static} not subscribed: camera mountings only from "
                                     "/hullscan/mounts and camera_frames/camera_mounts)")
        common.refuse_missing_msgs(self, missing, bool(p["allow_missing_msgs"]), "ros-$ROS_DISTRO-tf2-msgs")
        self.create_subscription(String, "/hullscan/findings_json", self.on_findings, LATCHED)
        self.key_pub = self.create_publisher(Image, "/hullscan/keyframes", 10)
        self.img_pub = self.create_publisher(Image, "/hullscan/evidence/image", EVIDENCE_QOS)
        self.json_pub = self.create_publisher(String, "/hullscan/evidence", LATCHED)

    # -- inputs
    @guarded("odometry")
    def on_odom(self, msg: Odometry) -> None:
        try:
            nav = convert.odom_from_msg(msg, self.config.topics.odom)
        except MessageError as err:
            self.warn(self.config.topics.odom, "malformed_message", str(err))
            return
        self.keep.add_nav(nav, self.config.topics.odom)

    @guarded("/hullscan/mounts")
    def on_mounts(self, msg: String) -> None:
        self.keep.add_mounts(messages.mounts_from_json(msg.data))

    @guarded("/tf_static")
    def on_tf_static(self, msg: Any) -> None:
        self.keep.add_mounts(convert.tf_from_msg(msg, "/tf_static", static=True))

    @guarded("camera_info")
    def on_info(self, msg: CameraInfo) -> None:
        try:
            model = convert.camera_info_from_msg(msg, self.config.topics.camera_info)
        except MessageError as err:
            self.warn(self.config.topics.camera_info, "malformed_message", str(err))
            return
        self.keep.add_model(model)

    @guarded("camera")
    def on_image(self, msg: Any, compressed: bool) -> None:
        topic = self.config.topics.camera_compressed if compressed else self.config.topics.camera_image
        try:
            frame = (convert.compressed_from_msg if compressed else convert.image_from_msg)(msg, topic)
        except MessageError as err:
            self.warn(topic, "malformed_message", str(err))
            return
        # A CompressedImage is checkpointed as it came (no second JPEG generation).
        if self.keep.offer_frame(frame, (lambda: bytes(msg.data)) if compressed else None):
            self.key_pub.publish(messages.image(frame))

    # -- evidence
    def _extrinsics(self) -> dict[str, Transform]:
        out = {}
        for fid in {f.frame_id for f in self.keep.keyframes}:
            try:
                out[fid] = self.keep.tf.lookup(self.config.topics.base_frame, fid)
            except HullscanError as err:
                self.warn(fid, "no_transform", f"camera mounting unknown ({err}); its frames give no evidence")
        return out

    @guarded("/hullscan/findings_json")
    def on_findings(self, msg: String) -> None:
        doc = json.loads(msg.data)
        if isinstance(doc.get("stamp_ns"), int):  # the findings are this survey's data too (restore decision)
            self.keep.first_data(doc["stamp_ns"], self.config.topics.nav_frame, derived=True)
        try:
            self._answer(doc)
        finally:
            if doc.get("final"):  # answered or not, the survey is over: its keyframes never go into the next
                self.keep.finish()

    def _forget_moved(self, rows: list[dict[str, Any]]) -> None:
        """An id whose finding moved is another finding now: its old image is not this one's evidence."""
        for r in rows:
            c, old = r.get("centroid"), self.where.get(r["id"])
            if c is not None and old is not None and sum((a - b) ** 2 for a, b in zip(c, old, strict=True)) > SAME_FINDING_M ** 2:
                self.best.pop(r["id"], None)
            if c is not None:
                self.where[r["id"]] = [float(v) for v in c]

    def _answer(self, doc: dict[str, Any]) -> None:
        keep = self.keep
        if not doc.get("findings"):
            return
        if not keep.keyframes or len(keep.nav) < 2:
            self.warn("evidence", "no_keyframes", "findings but no camera keyframes or odometry yet")
            return
        missing = {f.frame_id for f in keep.keyframes} - set(keep.models)
        if missing:
            self.warn("evidence", "no_camera_info", f"no CameraInfo for {sorted(missing)}")
        traj = Trajectory.from_samples(keep.nav, self.config.recon.max_nav_gap_s)
        findings, hull_to_nav = findings_from_document(doc)
        self._forget_moved(doc["findings"])
        cams = CameraSet(list(keep.keyframes), keep.models, traj, self._extrinsics(), self.config.topics.camera_image)
        # Never silent: a keyframe in an odometry gap (counted as it came, odometry_gap) gives no evidence.
        self.stats["keyframes_without_pose"] = int((~traj.interpolate(np.array([f.stamp_ns for f in cams.frames]))[3]).sum())
        try:
            reference = self.occlusion.for_document(doc)
        except HullscanError as err:
            self.warn("reference", "reference_unreadable", f"{err}; no occlusion check")
            reference = None
        for fid, best in best_frames(findings, hull_to_nav, cams, self.config.compare, reference).items():
            ev, frame = best.evidence, best.frame
            row = {"stamp_ns": ev.stamp_ns, "frame_id": frame.frame_id, "box": list(ev.box),
                   "visible_fraction": ev.visible_fraction, "candidates": best.candidates}
            if self.best.get(fid, {}).get("stamp_ns") != ev.stamp_ns:
                self.img_pub.publish(messages.image(frame))
            self.best[fid] = row  # findings seen before keep their image when keyframes age out
        self.stats["findings_with_image"] = sum(1 for r in doc["findings"] if r["id"] in self.best)
        out = {"final": bool(doc.get("final")), "stamp_ns": doc.get("stamp_ns"),
               "evidence": {r["id"]: self.best.get(r["id"]) for r in doc["findings"]}}
        self.json_pub.publish(String(data=json.dumps(out)))


def main(argv: list[str] | None = None) -> int:
    return run_node(CameraNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
