"""Camera evidence node: camera images in, keyframes kept, the best image of each finding out.

A frame becomes a keyframe when ``keyframe_period_s`` of data time has passed since the
last one (the newest ``max_keyframes`` are kept, with the vehicle position from odometry).
For each finding on ``/hullscan/findings_json`` the keyframe taken closest to the
finding's centroid is published on ``/hullscan/evidence/image`` (latched) and listed on
``/hullscan/evidence`` (JSON: finding id -> stamp and distance).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from hullscan.bag import convert
from hullscan.errors import MessageError
from hullscan.model import CameraFrame
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, HullscanNode, guarded, run_node, sensor_qos


class CameraNode(HullscanNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_camera", **kwargs)
        self.period_ns = int(1e9 * self.declare_parameter("keyframe_period_s", 1.0).value)
        keep = int(self.declare_parameter("max_keyframes", 120).value)
        self.keyframes: deque[tuple[CameraFrame, np.ndarray]] = deque(maxlen=keep)
        self.position: np.ndarray | None = None
        self.model: Any = None
        self.best: dict[str, int] = {}
        self.stats.update(frames=0, keyframes=0)
        t = self.config.topics
        qos = sensor_qos(10)
        if t.camera_image:
            self.create_subscription(Image, t.camera_image, lambda m: self.on_image(m, False), qos)
        if t.camera_compressed:
            self.create_subscription(CompressedImage, t.camera_compressed, lambda m: self.on_image(m, True), qos)
        self.create_subscription(CameraInfo, t.camera_info, self.on_info, qos)
        self.create_subscription(Odometry, t.odom, self.on_odom, sensor_qos(50))
        self.create_subscription(String, "/hullscan/findings_json", self.on_findings, LATCHED)
        self.key_pub = self.create_publisher(Image, "/hullscan/keyframes", 10)
        self.img_pub = self.create_publisher(Image, "/hullscan/evidence/image", LATCHED)
        self.json_pub = self.create_publisher(String, "/hullscan/evidence", LATCHED)

    @guarded("odometry")
    def on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        pos = np.array([p.x, p.y, p.z])
        if np.all(np.isfinite(pos)):
            self.position = pos

    @guarded("camera_info")
    def on_info(self, msg: CameraInfo) -> None:
        try:
            self.model = convert.camera_info_from_msg(msg, self.config.topics.camera_info)
        except MessageError as err:
            self.warn(self.config.topics.camera_info, "malformed_message", str(err))

    @guarded("camera")
    def on_image(self, msg: Any, compressed: bool) -> None:
        topic = self.config.topics.camera_compressed if compressed else self.config.topics.camera_image
        try:
            frame = (convert.compressed_from_msg if compressed else convert.image_from_msg)(msg, topic)
        except MessageError as err:
            self.warn(topic, "malformed_message", str(err))
            return
        self.stats["frames"] = int(self.stats["frames"]) + 1  # type: ignore[call-overload]
        if self.keyframes and frame.stamp_ns - self.keyframes[-1][0].stamp_ns < self.period_ns:
            return
        if self.position is None:
            self.warn(topic, "no_navigation", "camera frame before any odometry: not kept as a keyframe")
            return
        self.keyframes.append((frame, self.position.copy()))
        self.stats["keyframes"] = len(self.keyframes)
        self.key_pub.publish(messages.image(frame))

    @guarded("/hullscan/findings_json")
    def on_findings(self, msg: String) -> None:
        if not self.keyframes:
            return
        rows = json.loads(msg.data).get("findings", [])
        pos = np.array([k[1] for k in self.keyframes])
        out = {}
        for row in rows:
            c = np.asarray(row.get("centroid_nav", row["centroid"]), float)
            d = np.linalg.norm(pos - c, axis=1)
            i = int(np.argmin(d))
            frame = self.keyframes[i][0]
            out[row["id"]] = {"stamp_ns": frame.stamp_ns, "distance_m": round(float(d[i]), 3),
                              "frame_id": frame.frame_id}
            if self.best.get(row["id"]) != frame.stamp_ns:
                self.best[row["id"]] = frame.stamp_ns
                self.img_pub.publish(messages.image(frame))
        self.json_pub.publish(String(data=json.dumps(out)))


def main(argv: list[str] | None = None) -> int:
    return run_node(CameraNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
