"""Hull comparator node: the hull map and a reference in; deviation, findings and coverage out.

Inspects the latest full-resolution map, ``/hullscan/cloud_full`` (the mapper publishes it
every ``full_cloud_period_s``; ``/hullscan/cloud`` is a bounded display cloud), every
``inspect_period_s`` (and the final map from ``/hullscan/cloud_final`` at once) against ``reference`` (a mesh or cloud file, or
``mirror``). Latched outputs: ``/hullscan/deviation_cloud`` (PointCloud2 with deviation),
``/hullscan/findings`` (MarkerArray), ``/hullscan/findings_json`` (String),
``/hullscan/unseen`` (MarkerArray), ``/hullscan/reference`` (Marker mesh), all in the
navigation frame. ``~/save_report`` writes findings.json, report.html and deviation.ply.

``draft`` (m above the keel, read from the draft marks; 0 = unknown, the waterline is then
guessed) places a mesh reference's waterline; ``prior`` names a navigation-prior file (JSON, as
``hullscan replay --prior``; empty = none; ``hull_to_nav_file`` is its older name).

Health: an inspection that fails (the map cannot be aligned with the reference, e.g. a reference
of another ship) is an ERROR on ``/diagnostics`` with the reason, published at once, and a red
banner (``ns=hullscan_status``) on ``/hullscan/findings`` replaces the findings, until an
inspection succeeds again. No hull map yet (before the survey) is a warning.
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

from hullscan.compare.prior import REGISTERED_SIGMA
from hullscan.errors import ConfigError, HullscanError
from hullscan.model import HullCloud, Transform
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, STEADY, HullscanNode, guarded, run_node


def load_reference(spec: str, draft: float = 0.0) -> Any:
    """A mesh (STL/OBJ/PLY) or a cloud file (an earlier clean scan), or the string ``mirror``;
    ``draft`` > 0 is the ship's draft (m) for a mesh's waterline."""
    if spec in ("", "mirror"):
        return "mirror"
    from hullscan.compare.loading import load_reference as load

    return load(spec, draft=draft if draft > 0 else None)


def hull_to_nav_from(values: list[float], file: str, reference: Any = None) -> tuple[Transform | None, Any]:
    """The navigation prior (nav <- the reference's internal hull frame) and the uncertainty the
    registration searches: ``prior`` (a file as ``hullscan replay --prior``, read in the reference
    file's own frame, with its sigma or the default) or ``hull_to_nav`` (x y z qx qy qz qw, the
    reference file's frame, default sigma)."""
    from hullscan.compare.prior import DEFAULT_SIGMA, load_prior

    ref_from_hull = getattr(reference, "ref_from_hull", None)
    if file:
        prior = load_prior(file)
        if prior is None:
            return None, None
        if prior.form == "quay":
            raise ConfigError(f"{file}: a quay prior is resolved against the survey's first fix by hullscan replay; "
                              "live, give the comparator a {translation, rotation} prior")
        return prior.hull_to_nav(ref_from_hull), prior.search
    h = list(values)
    if len(h) != 7:
        return None, None
    tf = Transform(np.array(h[3:7]), np.array(h[:3]))
    return (tf if ref_from_hull is None else tf @ ref_from_hull), DEFAULT_SIGMA


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
            "reference": "mirror", "draft": 0.0, "prior": "", "hull_to_nav": [0.0], "hull_to_nav_file": "",
            "inspect_period_s": 2.0, "report_dir": "reports", "max_mesh_faces": 60000, "no_cloud_warning_s": 5.0,
        }.items()}
        self.p = p
        if float(p["draft"]) < 0:
            from hullscan.errors import ConfigError

            raise ConfigError(f"hullscan_comparator parameter draft is {p['draft']}: expected metres above the keel "
                              "(0 = unknown)")
        self.reference = load_reference(str(p["reference"]), float(p["draft"]))
        # What the node runs with, on /diagnostics: a dropped override shows at a glance.
        self.stats.update(reference=str(p["reference"]), draft=float(p["draft"]),
                          prior=str(p["prior"] or p["hull_to_nav_file"]))
        # Import the comparison code now: the first inspection does not pay for it, and a node
        # runs the code that was there when it started (as a replay started beside it does).
        self.inspect_fn = _compare_fn("inspect")
        self.hull_to_nav, self.sigma = hull_to_nav_from(p["hull_to_nav"], str(p["prior"] or p["hull_to_nav_file"]),
                                                        self.reference)
        # The prior is searched over its uncertainty once; later inspections of the growing map
        # start from the last registration and only check and refine it.
        self.registered: Transform | None = None
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
                # Waiting for the first map (before the survey starts) is a warning, not a failure.
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
        try:
            if self.registered is not None:
                ins = self.inspect_fn(cloud, self.reference, self.config.compare, hull_to_nav=self.registered,
                                      sigma=REGISTERED_SIGMA if self.sigma is not None else None)
            else:
                ins = self.inspect_fn(cloud, self.reference, self.config.compare, hull_to_nav=self.hull_to_nav,
                                      sigma=self.sigma if self.hull_to_nav is not None else None)
        except HullscanError as err:
            self.registered = None  # search from the prior again next time
            self.stats["inspect_s"] = round(time.perf_counter() - t0, 3)
            self.stats["failed_inspections"] = int(self.stats.get("failed_inspections", 0)) + 1  # type: ignore[call-overload]
            self.publish_failure(f"{type(err).__name__}: {err}", cloud, key[0], final)
            return
        self.stats["inspect_s"] = round(time.perf_counter() - t0, 3)
        self.stats["inspections"] = int(self.stats["inspections"]) + 1  # type: ignore[call-overload]
        self.inspection, self.cloud = ins, cloud
        if self.hull_to_nav is not None and getattr(ins, "cloud_to_ref", None) is not None:
            self.registered = ins.cloud_to_ref.inverse()
        self.publish(ins, cloud, key[0], final)
        self.recover("inspection")

    def publish_failure(self, reason: str, cloud: HullCloud, stamp_ns: int, final: bool) -> None:
        """A failed inspection, visibly: ERROR on /diagnostics, the map uncompared (grey), no findings
        but a red banner over the map, and the reason in findings_json. An earlier inspection's
        findings are withdrawn: they belong to a map that is no longer the current one."""
        self.fail("inspection", reason)
        self.inspection = None
        self.stats["findings"] = 0
        frame = cloud.frame_id
        self.dev_pub.publish(messages.hull_cloud(cloud, stamp_ns, np.full(len(cloud), np.nan, np.float32)))
        pts = np.asarray(cloud.points, np.float64)
        top = pts.mean(axis=0) + np.array([0.0, 0.0, np.ptp(pts[:, 2]) / 2 + 1.0]) if len(pts) else np.zeros(3)
        self.find_pub.publish(messages.failure_markers(f"INSPECTION FAILED: {reason}", top, frame, stamp_ns))
        self.json_pub.publish(String(data=messages.findings_json((), self.hull_to_nav or Transform(), final=final,
                                                                 stamp_ns=stamp_ns, cloud_points=len(cloud),
                                                                 status="failed", error=reason)))

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
