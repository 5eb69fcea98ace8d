"""Listen to hullscan's outputs and print one JSON line per event (tests, benchmarks, field checks)::

    python -m hullscan.ros.probe --duration 30 --until-final
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def probe(duration_s: float, until_final: bool, save_dir: str | None, linger_s: float = 0.0,
          until_topic: str = "") -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from hullscan.ros.common import LATCHED
    from hullscan.ros.messages import STATUS_NS

    done = False
    latest: dict[str, Any] = {}

    def emit(row: dict[str, Any]) -> None:
        row["wall"] = round(time.monotonic(), 3)
        print(json.dumps(row), flush=True)

    def on_diag(msg: DiagnosticArray) -> None:
        for s in msg.status:
            emit({"topic": "/diagnostics", "name": s.name, "level": int.from_bytes(s.level, "little"),
                  "message": s.message, "values": {kv.key: kv.value for kv in s.values}})

    def on_cloud(topic: str) -> Any:
        def cb(msg: PointCloud2) -> None:
            nonlocal done
            latest[topic] = msg
            done = done or topic == until_topic
            emit({"topic": topic, "points": msg.width * msg.height,
                  "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec})
        return cb

    def on_json(msg: String) -> None:
        nonlocal done
        data = json.loads(msg.data)
        emit({"topic": "/hullscan/findings_json", **data})
        if until_final and data.get("final"):
            done = True

    def on_evidence(msg: String) -> None:
        emit({"topic": "/hullscan/evidence", **json.loads(msg.data)})

    def on_markers(msg: MarkerArray) -> None:
        latest["/hullscan/findings"] = msg
        emit({"topic": "/hullscan/findings", "markers": len(msg.markers),
              "findings": sum(m.type == m.CUBE and m.action == m.ADD for m in msg.markers),
              "status": [m.text for m in msg.markers if m.ns == STATUS_NS and m.action == m.ADD]})

    with rclpy.init():
        node = rclpy.create_node("hullscan_probe")
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
        for topic in ("/hullscan/cloud", "/hullscan/cloud_final", "/hullscan/deviation_cloud"):
            node.create_subscription(PointCloud2, topic, on_cloud(topic), LATCHED)
        node.create_subscription(String, "/hullscan/findings_json", on_json, LATCHED)
        node.create_subscription(MarkerArray, "/hullscan/findings", on_markers, LATCHED)
        node.create_subscription(String, "/hullscan/evidence", on_evidence, LATCHED)
        end = time.monotonic() + duration_s
        while time.monotonic() < end and not done:
            rclpy.spin_once(node, timeout_sec=0.1)
        end = time.monotonic() + (linger_s if done else 0.0)  # late outputs (camera evidence)
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        if save_dir:
            from hullscan.ros.view import render_operator_view

            cloud = latest.get("/hullscan/deviation_cloud") or latest.get("/hullscan/cloud")
            if cloud is not None:
                render_operator_view(cloud, latest.get("/hullscan/findings"), f"{save_dir}/operator_view.png")
        node.destroy_node()
    return 0 if (done or not (until_final or until_topic)) else 1


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
