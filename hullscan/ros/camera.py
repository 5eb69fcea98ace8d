"""Camera evidence node: camera images in, keyframes kept, the best image of each finding out.

A frame becomes a keyframe when ``keyframe_period_s`` of data time has passed since the
last one (the newest ``max_keyframes`` are kept). For each finding on
``/hullscan/findings_json`` the finding's centroid and box corners are projected into every
keyframe through the vehicle pose at the frame's stamp (odometry), the camera mounting
(``/tf_static``, ``/hullscan/mounts`` or the ``camera_frames``/``camera_mounts`` parameters)
and the ``CameraInfo`` intrinsics -- the same scoring as ``hullscan replay``
(:func:`hullscan.compare.camera.camera_evidence`: share of the box in view, centred, near),
with the line of sight checked against the reference hull when ``reference`` names a mesh.
The best frame of each finding goes out on ``/hullscan/evidence/image`` (latched, one per
finding) and the index on ``/hullscan/evidence`` (JSON: finding id -> stamp, pixel box,
visible fraction, candidates).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import fields
from types import SimpleNamespace
from typing import Any

from nav_msgs.msg import Odometry
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from hullscan.bag import convert
from hullscan.errors import HullscanError, MessageError
from hullscan.model import (
    CameraEvidence,
    CameraFrame,
    CameraModel,
    Finding,
    NavSample,
    Trajectory,
    Transform,
    TransformStamped,
)
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, HullscanNode, guarded, run_node, sensor_qos
from hullscan.tf import TfTree

# One latched image per finding, so a late viewer still gets all of them.
EVIDENCE_QOS = QoSProfile(depth=64, reliability=QoSReliabilityPolicy.RELIABLE,
                          durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def finding_from_row(row: dict[str, Any]) -> Finding:
    """A :class:`Finding` back from its JSON row (``/hullscan/findings_json``)."""
    names = {f.name for f in fields(Finding)} - {"camera"}
    kw: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in row.items() if k in names}
    try:
        return Finding(**kw)
    except (TypeError, ValueError) as err:
        raise MessageError(f"/hullscan/findings_json: bad finding row {row.get('id')!r} ({err})") from err


def best_evidence(doc: dict[str, Any], frames: list[CameraFrame], models: dict[str, CameraModel],
                  trajectory: Trajectory, extrinsics: dict[str, Transform], config: Any, topic: str,
                  reference: Any = None) -> dict[str, tuple[CameraEvidence, CameraFrame, int]]:
    """For each finding of a findings JSON document: its best frame, the evidence (pixel box,
    visible fraction) and how many frames saw it. Findings no frame saw are left out."""
    from hullscan.compare.camera import CameraSet, camera_evidence

    h = doc.get("hull_to_nav") or {}
    hull_to_nav = Transform(h.get("rotation", [0, 0, 0, 1]), h.get("translation", [0, 0, 0]))
    findings = tuple(finding_from_row(r) for r in doc.get("findings", []))
    ins = SimpleNamespace(findings=findings, cloud_to_ref=hull_to_nav.inverse(), reference=reference)
    cams = CameraSet(frames, models, trajectory, extrinsics, topic)
    evidence, _ = camera_evidence(ins, cams, config)
    by_stamp = {f.stamp_ns: f for f in frames}
    return {fid: (ev[0], by_stamp[ev[0].stamp_ns], len(ev)) for fid, ev in evidence.items() if ev}


class CameraNode(HullscanNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_camera", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "keyframe_period_s": 1.0, "max_keyframes": 600, "reference": "",
            "camera_frames": [""], "camera_mounts": [0.0],
        }.items()}
        self.period_ns = int(1e9 * float(p["keyframe_period_s"]))
        self.keyframes: deque[CameraFrame] = deque(maxlen=int(p["max_keyframes"]))
        self.nav: list[NavSample] = []
        self.models: dict[str, CameraModel] = {}
        self.tf = TfTree()
        self.reference = self._load_reference(str(p["reference"]))
        self.best: dict[str, dict[str, Any]] = {}
        self.stats.update(frames=0, keyframes=0, findings_with_image=0)
        t = self.config.topics
        for i, frame in enumerate(f for f in p["camera_frames"] if f):
            try:
                self.tf.add(messages.mount_from_params(t.base_frame, frame, p["camera_mounts"][6 * i:6 * i + 6]))
            except MessageError as err:
                self.warn("parameters", "bad_mounting", str(err))
        qos = sensor_qos(50)
        if t.camera_image:
            self.create_subscription(Image, t.camera_image, lambda m: self.on_image(m, False), qos)
        if t.camera_compressed:
            self.create_subscription(CompressedImage, t.camera_compressed, lambda m: self.on_image(m, True), qos)
        self.create_subscription(CameraInfo, t.camera_info, self.on_info, qos)
        self.create_subscription(Odometry, t.odom, self.on_odom, sensor_qos(200))
        self.create_subscription(String, "/hullscan/mounts", self.on_mounts, LATCHED)
        try:
            from tf2_msgs.msg import TFMessage

            self.create_subscription(TFMessage, t.tf_static, self.on_tf_static, LATCHED)
        except ImportError as err:
            # Never silent: refuse, or (allow_missing_msgs) run on /hullscan/mounts and the parameters.
            what = f"tf2_msgs ({t.tf_static} not subscribed: camera mountings only from /hullscan/mounts and " \
                   "camera_frames/camera_mounts)"
            if not self.declare_parameter("allow_missing_msgs", False).value:
                raise HullscanError(f"hullscan_camera: message package missing in this Python environment: {what}. "
                                    "Install it (ROS 2: apt install ros-$ROS_DISTRO-tf2-msgs) or start with "
                                    "allow_missing_msgs:=true (hullscan live --allow-missing, launch argument "
                                    "allow_missing:=true)") from err
            self.get_logger().warning(f"running without {what} (allow_missing_msgs)")
            self.stats["missing_msgs"] = what
            self.degraded.append(f"missing message package: {what}")
        self.create_subscription(String, "/hullscan/findings_json", self.on_findings, LATCHED)
        self.key_pub = self.create_publisher(Image, "/hullscan/keyframes", 10)
        self.img_pub = self.create_publisher(Image, "/hullscan/evidence/image", EVIDENCE_QOS)
        self.json_pub = self.create_publisher(String, "/hullscan/evidence", LATCHED)

    def _load_reference(self, spec: str) -> Any:
        """The reference as the comparator builds it, for the line-of-sight check (optional)."""
        if spec in ("", "mirror"):
            return None
        try:
            from hullscan.compare.inspect import build_reference
            from hullscan.compare.loading import load_reference

            return build_reference(load_reference(spec), self.config.compare)
        except HullscanError as err:
            self.warn("reference", "reference_unreadable", f"{err}; no occlusion check")
            return None

    # -- inputs
    @guarded("odometry")
    def on_odom(self, msg: Odometry) -> None:
        try:
            nav = convert.odom_from_msg(msg, self.config.topics.odom)
        except MessageError as err:
            self.warn(self.config.topics.odom, "malformed_message", str(err))
            return
        if self.nav and nav.stamp_ns <= self.nav[-1].stamp_ns:
            self.warn(self.config.topics.odom, "nav_backwards", "odometry out of order: sample ignored")
            return
        self.nav.append(nav)

    def _mount(self, edges: list[TransformStamped]) -> None:
        for e in edges:
            self.tf.add(e)

    @guarded("/hullscan/mounts")
    def on_mounts(self, msg: String) -> None:
        self._mount(messages.mounts_from_json(msg.data))

    @guarded("/tf_static")
    def on_tf_static(self, msg: Any) -> None:
        self._mount(convert.tf_from_msg(msg, "/tf_static", static=True))

    @guarded("camera_info")
    def on_info(self, msg: CameraInfo) -> None:
        try:
            model = convert.camera_info_from_msg(msg, self.config.topics.camera_info)
        except MessageError as err:
            self.warn(self.config.topics.camera_info, "malformed_message", str(err))
            return
        self.models[model.frame_id] = model

    @guarded("camera")
    def on_image(self, msg: Any, compressed: bool) -> None:
        topic = self.config.topics.camera_compressed if compressed else self.config.topics.camera_image
        try:
            frame = (convert.compressed_from_msg if compressed else convert.image_from_msg)(msg, topic)
        except MessageError as err:
            self.warn(topic, "malformed_message", str(err))
            return
        self.stats["frames"] = int(self.stats["frames"]) + 1  # type: ignore[call-overload]
        if self.keyframes and frame.stamp_ns - self.keyframes[-1].stamp_ns < self.period_ns:
            return
        self.keyframes.append(frame)
        self.stats["keyframes"] = len(self.keyframes)
        self.key_pub.publish(messages.image(frame))

    # -- evidence
    def _extrinsics(self) -> dict[str, Transform]:
        out = {}
        for fid in {f.frame_id for f in self.keyframes}:
            try:
                out[fid] = self.tf.lookup(self.config.topics.base_frame, fid)
            except HullscanError as err:
                self.warn(fid, "no_transform", f"camera mounting unknown ({err}); its frames give no evidence")
        return out

    @guarded("/hullscan/findings_json")
    def on_findings(self, msg: String) -> None:
        doc = json.loads(msg.data)
        if not doc.get("findings"):
            return
        if not self.keyframes or len(self.nav) < 2:
            self.warn("evidence", "no_keyframes", "findings but no camera keyframes or odometry yet")
            return
        missing = {f.frame_id for f in self.keyframes} - set(self.models)
        if missing:
            self.warn("evidence", "no_camera_info", f"no CameraInfo for {sorted(missing)}")
        traj = Trajectory.from_samples(self.nav, self.config.recon.max_nav_gap_s)
        best = best_evidence(doc, list(self.keyframes), self.models, traj, self._extrinsics(), self.config.compare,
                             self.config.topics.camera_image, self.reference)
        for fid, (ev, frame, n) in best.items():
            row = {"stamp_ns": ev.stamp_ns, "frame_id": frame.frame_id, "box": list(ev.box),
                   "visible_fraction": ev.visible_fraction, "candidates": n}
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
