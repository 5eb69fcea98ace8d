"""Listen to hullscan's outputs and print one JSON line per event (tests, benchmarks, field checks)::

    python -m hullscan.ros.probe --duration 30 --until-final
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


class _Listener:
    """Prints each output as a JSON line; ``done`` once the awaited output came."""

    def __init__(self, until_final: bool, until_topic: str) -> None:
        self.until_final, self.until_topic = until_final, until_topic
        self.done = False
        self.latest: dict[str, Any] = {}

    @staticmethod
    def emit(row: dict[str, Any]) -> None:
        row["wall"] = round(time.monotonic(), 3)
        print(json.dumps(row), flush=True)

    def on_diag(self, msg: Any) -> None:
        for s in msg.status:
            self.emit({"topic": "/diagnostics", "name": s.name, "level": int.from_bytes(s.level, "little"),
                       "message": s.message, "values": {kv.key: kv.value for kv in s.values}})

    def on_cloud(self, topic: str) -> Any:
        def cb(msg: Any) -> None:
            self.latest[topic] = msg
            self.done = self.done or topic == self.until_topic
            self.emit({"topic": topic, "points": msg.width * msg.height,
                       "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec})
        return cb

    def on_json(self, msg: Any) -> None:
        data = json.loads(msg.data)
        self.emit({"topic": "/hullscan/findings_json", **data})
        self.done = self.done or (self.until_final and bool(data.get("final")))

    def on_evidence(self, msg: Any) -> None:
        self.emit({"topic": "/hullscan/evidence", **json.loads(msg.data)})

    def on_final_map(self, msg: Any) -> None:
        self.emit({"topic": "/hullscan/final_map", **json.loads(msg.data)})

    def on_markers(self, msg: Any) -> None:
        from hullscan.ros.messages import STATUS_NS

        self.latest["/hullscan/findings"] = msg
        self.emit({"topic": "/hullscan/findings", "markers": len(msg.markers),
                   "findings": sum(m.type == m.CUBE and m.action == m.ADD for m in msg.markers),
                   "status": [m.text for m in msg.markers if m.ns == STATUS_NS and m.action == m.ADD]})


    def on_lane(self, msg: Any) -> None:
        self.emit({"topic": "/hullscan/next_lane", "poses": len(msg.poses), "frame": msg.header.frame_id})


def probe(duration_s: float, until_final: bool, save_dir: str | None, linger_s: float = 0.0,
          until_topic: str = "") -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Path
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from hullscan.ros.common import LATCHED

    ears = _Listener(until_final, until_topic)
    with rclpy.init():
        node = rclpy.create_node("hullscan_probe")
        node.create_subscription(DiagnosticArray, "/diagnostics", ears.on_diag, 50)
        for topic in ("/hullscan/cloud", "/hullscan/cloud_final", "/hullscan/deviation_cloud"):
            node.create_subscription(PointCloud2, topic, ears.on_cloud(topic), LATCHED)
        node.create_subscription(String, "/hullscan/findings_json", ears.on_json, LATCHED)
        node.create_subscription(MarkerArray, "/hullscan/findings", ears.on_markers, LATCHED)
        node.create_subscription(String, "/hullscan/evidence", ears.on_evidence, LATCHED)
        node.create_subscription(String, "/hullscan/final_map", ears.on_final_map, LATCHED)
        node.create_subscription(Path, "/hullscan/next_lane", ears.on_lane, LATCHED)
        end = time.monotonic() + duration_s
        while time.monotonic() < end and not ears.done:
            rclpy.spin_once(node, timeout_sec=0.1)
        end = time.monotonic() + (linger_s if ears.done else 0.0)  # late outputs (camera evidence)
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        if save_dir:
            from hullscan.ros.view import render_operator_view

            cloud = ears.latest.get("/hullscan/deviation_cloud") or ears.latest.get("/hullscan/cloud")
            if cloud is not None:
                render_operator_view(cloud, ears.latest.get("/hullscan/findings"), f"{save_dir}/operator_view.png")
        node.destroy_node()
    return 0 if (ears.done or not (until_final or until_topic)) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--until-final", action="store_true", help="stop at the first final findings message")
    ap.add_argument("--until", default="", help="stop at the first cloud on this topic (e.g. /hullscan/cloud_final)")
    ap.add_argument("--linger", type=float, default=0.0, help="keep listening this long after the final findings")
    ap.add_argument("--save-view", help="folder: render operator_view.png from the last messages")
    a = ap.parse_args(argv)
    return probe(a.duration, a.until_final, a.save_view, a.linger, a.until)


if __name__ == "__main__":
    sys.exit(main())
