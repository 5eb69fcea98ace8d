"""Hull comparator node: the hull map and a reference in; deviation, findings and coverage out.

Inspects the latest full-resolution map, ``/hullscan/cloud_full`` (the mapper publishes it
every ``full_cloud_period_s``; ``/hullscan/cloud`` is a bounded display cloud), every
``inspect_period_s`` (and the final map from ``/hullscan/cloud_final`` at once) against ``reference`` (a mesh or cloud file, or
``mirror``). Latched outputs: ``/hullscan/deviation_cloud`` (PointCloud2 with deviation),
``/hullscan/findings`` (MarkerArray), ``/hullscan/findings_json`` (String),
``/hullscan/unseen`` (MarkerArray), ``/hullscan/reference`` (Marker mesh), all in the
navigation frame. ``~/save_report`` writes findings.json, report.html and deviation.ply.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from hullscan.model import HullCloud, Transform
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, STEADY, HullscanNode, guarded, run_node


def load_reference(spec: str) -> Any:
    """A mesh (STL/OBJ/PLY) or a cloud file (an earlier clean scan), or the string ``mirror``."""
    if spec in ("", "mirror"):
        return "mirror"
    from hullscan.compare.loading import load_reference as load

    return load(spec)


def hull_to_nav_from(values: list[float], file: str) -> Transform | None:
    """The navigation prior (nav <- hull): ``hull_to_nav_file`` (JSON, the simulator's truth.json
    works; as ``hullscan replay --hull-to-nav``) or ``hull_to_nav`` (x y z qx qy qz qw)."""
    if file:
        from hullscan.compare.loading import load_prior

        prior = load_prior(file)
        return None if prior is None else prior.hull_to_nav(None)
    h = list(values)
    return Transform(np.array(h[3:7]), np.array(h[:3])) if len(h) == 7 else None


def _compare_fn(name: str) -> Any:
    """``hullscan.compare.<name>`` (the package may not re-export it yet: then its module's)."""
    import importlib
    import types

    import hullscan.compare as compare

    fn = getattr(compare, name, None)
    if fn is None or isinstance(fn, types.ModuleType):
        for mod in ("inspect", "report", "outputs", "io"):
            try:
                fn = getattr(importlib.import_module(f"hullscan.compare.{mod}"), name, None)
            except ImportError:
                continue
            if callable(fn):
                break
    if not callable(fn):
        raise ImportError(f"hullscan.compare.{name} is not available")
    return fn


class ComparatorNode(HullscanNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_comparator", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "reference": "mirror", "hull_to_nav": [0.0], "hull_to_nav_file": "", "inspect_period_s": 2.0, "report_dir": "reports",
            "max_mesh_faces": 60000, "no_cloud_warning_s": 5.0,
        }.items()}
        self.p = p
        self.reference = load_reference(p["reference"])
        # Import the comparison code now: the first inspection does not pay for it, and a node
        # runs the code that was there when it started (as a replay started beside it does).
        self.inspect_fn = _compare_fn("inspect")
        self.hull_to_nav = hull_to_nav_from(p["hull_to_nav"], str(p["hull_to_nav_file"]))
        self.latest: PointCloud2 | None = None
        self.inspected_stamp: tuple[int, int] | None = None
        self.inspection: Any = None
        self.cloud: HullCloud | None = None
        self.started = time.monotonic()
        self.stats.update(inspections=0, findings=0)
        self.create_subscription(PointCloud2, "/hullscan/cloud_full", self.on_cloud, LATCHED)
        self.create_subscription(PointCloud2, "/hullscan/cloud_final", self.on_final, LATCHED)
        self.dev_pub = self.create_publisher(PointCloud2, "/hullscan/deviation_cloud", LATCHED)
        self.find_pub = self.create_publisher(MarkerArray, "/hullscan/findings", LATCHED)
        self.json_pub = self.create_publisher(String, "/hullscan/findings_json", LATCHED)
        self.unseen_pub = self.create_publisher(MarkerArray, "/hullscan/unseen", LATCHED)
        self.ref_pub = self.create_publisher(Marker, "/hullscan/reference", LATCHED)
        self.create_service(Trigger, "~/save_report", self.srv_save)
        self.create_timer(float(p["inspect_period_s"]), self.tick, clock=STEADY)
        self.ref_sent = False

    def on_cloud(self, msg: PointCloud2) -> None:
        self.latest = msg

    @guarded("/hullscan/cloud_final")
    def on_final(self, msg: PointCloud2) -> None:
        self.run_inspection(msg, final=True)

    @guarded("inspection")
    def tick(self) -> None:
        if self.latest is None:
            if time.monotonic() - self.started > self.p["no_cloud_warning_s"]:
                self.warn("/hullscan/cloud", "no_cloud",
                          f"no hull map for {time.monotonic() - self.started:.0f} s: is the mapper running?")
            return
        self.run_inspection(self.latest, final=False)

    def run_inspection(self, msg: PointCloud2, final: bool) -> None:
        key = (messages.NS * msg.header.stamp.sec + msg.header.stamp.nanosec, int(msg.width))
        if key == self.inspected_stamp and not final:
            return
        self.inspected_stamp = key
        cloud, _ = messages.hull_cloud_from_msg(msg)
        if len(cloud) == 0:
            self.warn("/hullscan/cloud", "empty_cloud", "hull map has no points yet")
            return
        t0 = time.perf_counter()
        ins = self.inspect_fn(cloud, self.reference, self.config.compare, hull_to_nav=self.hull_to_nav)
        self.stats["inspect_s"] = round(time.perf_counter() - t0, 3)
        self.stats["inspections"] = int(self.stats["inspections"]) + 1  # type: ignore[call-overload]
        self.inspection, self.cloud = ins, cloud
        self.publish(ins, cloud, key[0], final)

    def publish(self, ins: Any, cloud: HullCloud, stamp_ns: int, final: bool) -> None:
        frame = cloud.frame_id
        c2r = getattr(ins, "cloud_to_ref", None)
        h2n = c2r.inverse() if c2r is not None else (self.hull_to_nav or Transform())
        findings = tuple(ins.findings)
        self.stats["findings"] = len(findings)
        dev = getattr(ins, "deviation", None)
        if dev is not None and len(dev) == len(cloud):
            self.dev_pub.publish(messages.hull_cloud(cloud, stamp_ns, np.asarray(dev, np.float32)))
        self.find_pub.publish(messages.finding_markers(findings, h2n, frame, stamp_ns))
        cov = getattr(ins, "coverage", None)
        seen = getattr(cov, "seen", None)
        extra = {"final": final, "stamp_ns": stamp_ns, "cloud_points": len(cloud),
                 "status": getattr(ins, "status", ""),
                 "coverage": float(np.mean(seen)) if seen is not None and len(seen) else None}
        self.json_pub.publish(String(data=messages.findings_json(findings, h2n, **extra)))
        if seen is not None and len(seen):
            samples = np.asarray(getattr(cov, "samples", np.zeros((0, 3)))).reshape(-1, 3)
            seen = np.asarray(seen, bool)
            seen_any = np.asarray(getattr(cov, "seen_any", None) if getattr(cov, "seen_any", None) is not None
                                  else seen, bool)
            cell = float(np.sqrt(getattr(cov, "sample_area", 0.0625)))
            self.unseen_pub.publish(messages.unseen_markers(h2n.apply(samples[~seen_any]), cell, frame, stamp_ns,
                                                            h2n.apply(samples[seen_any & ~seen])))
        if not self.ref_sent and hasattr(self.reference, "faces"):
            self.ref_pub.publish(messages.mesh_marker(self.reference.vertices, self.reference.faces, h2n, frame,
                                                      int(self.p["max_mesh_faces"])))
            self.ref_sent = True

    def srv_save(self, req: Any, res: Any) -> Any:
        if self.inspection is None:
            res.success, res.message = False, "no inspection yet (no hull map received)"
            return res
        out = Path(self.p["report_dir"]) / time.strftime("report_%Y%m%d_%H%M%S")
        out.mkdir(parents=True, exist_ok=True)
        try:
            _compare_fn("write_outputs")(self.inspection, out, {"source": "live", "reference": self.p["reference"]},
                          self.config.compare)
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
