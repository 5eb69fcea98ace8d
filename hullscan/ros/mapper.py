"""Sonar mapper node: sonar pings and navigation in, the incremental hull map out.

Subscribes (sensor-data QoS) to the configured LaserScan / PointCloud2 (and, where
``marine_acoustic_msgs`` is installed, ProjectedSonarImage) topics and the odometry;
sensor mountings come from the parameters ``sensor_frames`` / ``sensor_mounts`` (x y z
roll pitch yaw per frame), from ``/hullscan/mounts`` (the bag player) or ``/tf_static``
where ``tf2_msgs`` is installed. Publishes (PointCloud2, latched) a display cloud on
``/hullscan/cloud`` at ``cloud_rate_hz`` (the map itself up to ``display_max_points`` points,
a deterministic spatial thinning of it beyond: :func:`hullscan.recon.display.display_indices`), the
full-resolution map on ``/hullscan/cloud_full`` every ``full_cloud_period_s`` (with the real
reconstructor both are packed straight from its surface cache: :meth:`Reconstructor.packed_cloud`),
and ``/hullscan/path`` (at most ``path_max_poses`` poses: :class:`PathThinner`). Checkpoints the
map every ``checkpoint_period_s`` of data (a snapshot taken in the ping callback, written by a
background thread, one at a time; incremental with the real reconstructor: the voxels changed
since the previous checkpoint appended to a delta log beside the base, see
:mod:`hullscan.recon.checkpoint`) and restores it on start.
``/hullscan/survey_end`` (or ``~/finish``) runs the final drift-corrected reconstruction and
publishes it, full resolution, on ``/hullscan/cloud_final`` (and ``/hullscan/cloud_full``).
"""

from __future__ import annotations

import array
import copy
import importlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from sensor_msgs.msg import LaserScan, PointCloud2
from std_msgs.msg import String
from std_srvs.srv import Trigger

from hullscan.bag import convert
from hullscan.errors import MessageError
from hullscan.model import TransformStamped
from hullscan.recon.checkpoint import (
    SurveyIdentity,
    delta_path,
    read_identity,
    restore_decision,
    write_identity,
)
from hullscan.recon.display import cell_hashes, display_cloud
from hullscan.recon.mounts import MountTable
from hullscan.ros import messages
from hullscan.ros.common import LATCHED, STEADY, HullscanNode, guarded, run_node, sensor_qos


class MapperNode(HullscanNode):
    # One ping per kernel call: steady latency live (the batch default, 256, comes in bursts).
    # The fused map does not depend on where blocks are cut, so replay parity holds.
    node_config_defaults: ClassVar[dict[str, Any]] = {"recon.chunk_pings": 1}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("hullscan_mapper", **kwargs)
        p: dict[str, Any] = {k: self.declare_parameter(k, v).value for k, v in {
            "cloud_rate_hz": 1.0, "display_max_points": 400_000, "full_cloud_period_s": 10.0,
            "checkpoint_dir": "", "checkpoint_period_s": 5.0, "beamwidth_deg": 1.0,
            "sensor_frames": [""], "sensor_mounts": [0.0], "reliable_inputs": False, "input_depth": 200,
            "reconstructor": "hullscan.recon:Reconstructor", "end_timeout_s": 5.0, "path_max_poses": 1000,
            "resume": "auto", "survey_id": "",
        }.items()}
        # Health (see _check_health) and what to do when a message package is missing.
        p.update({k: self.declare_parameter(k, v).value for k, v in {
            "input_timeout_s": 5.0, "allow_missing_msgs": False}.items()})
        self.p = p
        t = self.config.topics
        module, _, cls = str(p["reconstructor"]).partition(":")
        self.recon_cls = getattr(importlib.import_module(module), cls)
        warmup = getattr(importlib.import_module(self.recon_cls.__module__), "warmup", None)
        if callable(warmup):
            # Compile/load the kernels now, not on the first ping (a ~1 s stall would back up the queues).
            self.stats["warmup_s"] = round(float(warmup()), 3)
        cell_hashes(np.zeros((1, 3)), 1.0)  # the display thinning's kernel, likewise
        self.mount_edges: dict[str, TransformStamped] = {}
        self.mount_table = MountTable()  # /tf_static wins over parameters (hullscan.recon.mounts)
        self.recon = self.recon_cls(self.config.recon, t)
        self.mounted: set[str] = {t.base_frame}
        self.pending: list[Any] = []
        self.path: list[tuple[int, Any, Any]] = []
        self.path_view = PathThinner(int(p["path_max_poses"]))
        self.last_stamp: dict[str, int] = {}
        self.period: dict[str, list[int]] = {}
        self.latest_ns = 0
        self.dirty = False       # the display cloud is behind the map
        self.full_dirty = False  # the full-resolution cloud is behind the map
        self.full_t = -1e9       # monotonic time of the last full-resolution cloud
        self.ckpt_thread: threading.Thread | None = None
        self.ckpt_done: dict[str, Any] | None = None  # the writer's result, folded into stats by this thread
        self.ckpt = Path(p["checkpoint_dir"]) / "mapper.ckpt" if p["checkpoint_dir"] else None
        self.ckpt_ns = 0
        self.restored_ns: int | None = None
        self.restored_upto: int | None = None  # data up to here is in the restored map already
        # A checkpoint is restored only into the survey it belongs to (issue 17): decided when the
        # first data arrives (recon.checkpoint.restore_decision), never blindly at start.
        self.restore_pending = bool(self.ckpt and self.ckpt.exists())
        self.survey_first_ns: int | None = None
        self.received: dict[str, int] = {t.scan: 0, t.points: 0, t.image: 0, t.odom: 0}
        self.end_expected: dict[str, int] = {}
        self.end_since: float | None = None
        self.stats.update(pings=0, nav=0, cloud_points=0, checkpoints=0)
        self.ping_wall: float | None = None        # monotonic time of the last ping, of the first one,
        self.first_ping_wall: float | None = None  # and of the last odometry (health checks)
        self.nav_wall: float | None = None
        self.finished = False
        frames = [f for f in p["sensor_frames"] if f]
        for i, frame in enumerate(frames):
            try:
                self._mount(messages.mount_from_params(t.base_frame, frame, p["sensor_mounts"][6 * i:6 * i + 6]),
                            "parameters")
            except MessageError as err:
                self.warn("parameters", "bad_mounting", str(err))
        qos = sensor_qos(int(p["input_depth"]), bool(p["reliable_inputs"]))
        if t.scan:
            self.create_subscription(LaserScan, t.scan, lambda m: self.on_ping(m, t.scan, "scan"), qos)
        if t.points:
            self.create_subscription(PointCloud2, t.points, lambda m: self.on_ping(m, t.points, "points"), qos)
        missing: list[str] = []  # message packages this Python environment lacks, with what they cost
        if t.image:
            try:
                from marine_acoustic_msgs.msg import ProjectedSonarImage

                self.create_subscription(ProjectedSonarImage, t.image, lambda m: self.on_ping(m, t.image, "image"), qos)
            except ImportError:
                missing.append(f"marine_acoustic_msgs (imaging sonar {t.image} not subscribed)")
        self.create_subscription(Odometry, t.odom, self.on_odom, qos)
        self.create_subscription(String, "/hullscan/mounts", self.on_mounts, LATCHED)
        self.create_subscription(String, "/hullscan/survey_end", self.on_end, LATCHED)
        try:
            from tf2_msgs.msg import TFMessage

            self.create_subscription(TFMessage, t.tf_static, self.on_tf_static, LATCHED)
        except ImportError:
            missing.append(f"tf2_msgs ({t.tf_static} not subscribed: mountings only from sensor_frames/"
                           "sensor_mounts and /hullscan/mounts)")
        self._missing_msgs(missing)
        self.cloud_pub = self.create_publisher(PointCloud2, "/hullscan/cloud", LATCHED)
        self.full_pub = self.create_publisher(PointCloud2, "/hullscan/cloud_full", LATCHED)
        self.final_pub = self.create_publisher(PointCloud2, "/hullscan/cloud_final", LATCHED)
        self.path_pub = self.create_publisher(PathMsg, "/hullscan/path", LATCHED)
        self.create_service(Trigger, "~/reset_map", self.srv_reset)
        self.create_service(Trigger, "~/save_map", self.srv_save)
        self.create_service(Trigger, "~/finish", lambda req, res: self._finish(res))
        self.create_timer(1.0 / max(float(p["cloud_rate_hz"]), 0.1), self.publish_cloud, clock=STEADY)
        self.create_timer(1.0, self._check_health, clock=STEADY)

    def _missing_msgs(self, missing: list[str]) -> None:
        """A message package missing from the Python environment (the pip wheels have neither
        tf2_msgs nor marine_acoustic_msgs) silently blinds the mapper to a topic: refuse to start,
        unless ``allow_missing_msgs`` (``--allow-missing``) says to go on without; then it stays a
        warning on /diagnostics for as long as the node runs."""
        if not missing:
            return
        what = "; ".join(missing)
        if not self.p["allow_missing_msgs"]:
            from hullscan.errors import HullscanError

            raise HullscanError(
                f"hullscan_mapper: message packages missing in this Python environment: {what}. Install them "
                "(ROS 2: apt install ros-$ROS_DISTRO-tf2-msgs ros-$ROS_DISTRO-marine-acoustic-msgs), set the topic "
                "to '' (topics.image), or start with allow_missing_msgs:=true (hullscan live --allow-missing, "
                "launch argument allow_missing:=true) to run without them")
        self.get_logger().warning(f"running without {what} (allow_missing_msgs)")
        self.stats["missing_msgs"] = what
        self.degraded.append(f"missing message packages: {what}")

    def _check_health(self) -> None:
        """Faults of the mapping function (1 Hz): no mounting for a sonar frame (pings held), no
        navigation while pings arrive, sonar input gone stale. Each clears once it works again."""
        now, limit = time.monotonic(), float(self.p["input_timeout_s"])
        if self.pending:
            frames = sorted({str(x.frame_id) for x in self.pending})
            self.fail("mounting", f"no mounting for sonar frame(s) {', '.join(frames)}: {len(self.pending)} pings "
                                  "held (set sensor_frames/sensor_mounts or publish /tf_static)")
        else:
            self.recover("mounting")
        odom = self.config.topics.odom
        if self.ping_wall is not None and now - self.ping_wall < limit:
            last_nav = self.nav_wall if self.nav_wall is not None else self.first_ping_wall
            if last_nav is not None and now - last_nav > limit:
                self.fail("navigation", f"no odometry on {odom} for {now - last_nav:.0f} s while pings arrive: "
                                        "pings cannot be placed")
            elif self.nav_wall is not None:
                self.recover("navigation")
        if self.ping_wall is not None and self.end_since is None and not self.finished and now - self.ping_wall > limit:
            self.fail("sonar", f"no ping for {now - self.ping_wall:.0f} s (stale input; the survey has not ended)")
        elif self.ping_wall is not None and now - self.ping_wall <= limit:
            self.recover("sonar")
        if self.finished:
            self.recover("sonar")
            self.recover("navigation")

    # -- inputs
    def _mount(self, edge: TransformStamped, source: str = "tf_static") -> None:
        verdict = self.mount_table.offer(edge, source)
        self.stats["mount_sources"] = ", ".join(f"{f}: {s}" for f, s in sorted(self.mount_table.sources.items()))
        if verdict == "kept":
            return  # a lower-priority source (parameters) never replaces /tf_static
        if verdict == "replaced":
            self.warn(edge.child_frame, "mount_replaced", f"the {source} mounting replaces the configured one "
                      f"(pings placed with the old one so far: {self.stats.get('pings', 0)})")
            self.recon.remount(edge) if hasattr(self.recon, "remount") else self.recon.add(edge)
        elif source == "parameters":
            self.warn(edge.child_frame, "mount_from_parameters", "mounting taken from sensor_frames/sensor_mounts "
                      "until /tf_static gives one")
        self.mount_edges[edge.child_frame] = edge
        if edge.child_frame not in self.mounted:
            self.recon.add(edge)
            self.mounted.add(edge.child_frame)
        pending, self.pending = self.pending, []
        for item in pending:
            self._add_ping(item)

    def _readd_mounts(self) -> None:
        """The mountings in use, given to a new reconstructor (their sources unchanged)."""
        for edge in list(self.mount_edges.values()):
            if edge.child_frame not in self.mounted:
                self.recon.add(edge)
                self.mounted.add(edge.child_frame)

    @guarded("/hullscan/mounts")
    def on_mounts(self, msg: String) -> None:
        for e in messages.mounts_from_json(msg.data):
            self._mount(e, "player")

    @guarded("/tf_static")
    def on_tf_static(self, msg: Any) -> None:
        for e in convert.tf_from_msg(msg, "/tf_static", static=True):
            self._mount(e)

    @guarded("odometry")
    def on_odom(self, msg: Odometry) -> None:
        try:
            nav = convert.odom_from_msg(msg, self.config.topics.odom)
        except MessageError as err:
            self.warn(self.config.topics.odom, "malformed_message", str(err))
            return
        self._first_data(nav.stamp_ns, nav.frame_id)
        self.recon.add(nav)
        self.nav_wall = time.monotonic()
        self.received[self.config.topics.odom] = self.received.get(self.config.topics.odom, 0) + 1
        self._maybe_finish()
        self.stats["nav"] = int(self.stats["nav"]) + 1  # type: ignore[call-overload]
        if not self.path or nav.stamp_ns - self.path[-1][0] > 200_000_000:
            self.path.append((nav.stamp_ns, nav.position, nav.orientation))

    @guarded("sonar")
    def on_ping(self, msg: Any, topic: str, kind: str) -> None:
        self.received[topic] = self.received.get(topic, 0) + 1
        self.ping_wall = time.monotonic()
        if self.first_ping_wall is None:
            self.first_ping_wall = self.ping_wall
        try:
            self._on_ping(msg, topic, kind)
        finally:
            self._maybe_finish()

    def _on_ping(self, msg: Any, topic: str, kind: str) -> None:
        try:
            if kind == "scan":
                ping: Any = convert.scan_from_msg(msg, topic, float(np.deg2rad(self.p["beamwidth_deg"])))
                nan = int(np.isnan(ping.ranges).sum())
                if nan:
                    self.warn(topic, "nan_range", f"{nan} of {ping.n_beams} ranges NaN/inf", n=nan)
            elif kind == "points":
                ping = convert.points_from_msg(msg, topic)
            else:
                ping = convert.sonar_image_from_msg(msg, topic, float(np.deg2rad(12.0)))
        except (MessageError, ValueError) as err:
            self.warn(topic, "malformed_message", str(err))
            return
        if kind == "scan" and ping.n_beams == 0:
            self.warn(topic, "empty_ping", "LaserScan with no ranges")
            return
        self._first_data(ping.stamp_ns, self.config.topics.nav_frame)
        self._count_gap(topic, ping.stamp_ns)
        if ping.frame_id.lstrip("/") not in self.mounted:
            # Held (up to 400) until a mounting arrives; counted either way so it shows on /diagnostics.
            self.warn(ping.frame_id, "no_transform",
                      f"no mounting for sonar frame '{ping.frame_id}' (set sensor_frames/sensor_mounts or publish "
                      "/tf_static); pings held until one arrives, the oldest dropped beyond 400")
            if len(self.pending) >= 400:
                self.pending.pop(0)
            self.pending.append(ping)
            return
        self._add_ping(ping)

    def _first_data(self, stamp_ns: int, nav_frame: str) -> None:
        """On the first message: restore the checkpoint if it is this survey's (or asked to)."""
        if self.survey_first_ns is None:
            self.survey_first_ns = stamp_ns
        if not self.restore_pending:
            return
        self.restore_pending = False
        assert self.ckpt is not None
        ok, why = restore_decision(read_identity(self.ckpt), str(self.p["resume"]), first_ns=stamp_ns,
                                   nav_frame=nav_frame, survey_id=str(self.p["survey_id"]))
        self.stats["checkpoint_decision"] = why
        if not ok:
            self.warn(str(self.ckpt), "checkpoint_not_restored", why)
            return
        ident = read_identity(self.ckpt)
        if ident is not None:
            self.survey_first_ns = min(ident.first_ns, stamp_ns)
        self._restore()

    def _add_ping(self, ping: Any) -> None:
        if self.restored_upto is not None and ping.stamp_ns <= self.restored_upto:
            # Replayed data the restored map already holds: fusing it again would count it twice.
            self.warn("restore", "already_in_checkpoint", f"ping at {ping.stamp_ns * 1e-9:.3f} s is older than "
                      f"the restored map ({self.restored_upto * 1e-9:.3f} s); skipped")
            return
        if self.restored_ns is not None:
            # Data between the checkpoint and the first ping after the restart is lost.
            gap_ns = ping.stamp_ns - self.restored_ns
            self.stats["restore_gap_s"] = round(gap_ns * 1e-9, 3)
            if gap_ns > 0:
                self.warn("restore", "restore_gap", f"{gap_ns * 1e-9:.3f} s of data between the checkpoint and the "
                          "restart is lost")
                self.drops.add_span(("restore", "restore_gap"), (self.restored_ns, ping.stamp_ns))
            self.restored_ns = None
        self.recon.add(ping)
        self.dirty = self.full_dirty = True
        self.stats["pings"] = int(self.stats["pings"]) + 1  # type: ignore[call-overload]
        self.latest_ns = max(self.latest_ns, ping.stamp_ns)
        if self.ckpt and self.latest_ns - self.ckpt_ns >= self.p["checkpoint_period_s"] * 1e9:
            self._checkpoint()

    def _count_gap(self, topic: str, stamp_ns: int) -> None:
        """Pings missing from a regular stream (dropped in transport or by a slow node)."""
        prev = self.last_stamp.get(topic)
        self.last_stamp[topic] = stamp_ns
        if prev is None or stamp_ns <= prev:
            return
        dts = self.period.setdefault(topic, [])
        dt = stamp_ns - prev
        if len(dts) < 20:
            dts.append(dt)
            return
        period = float(np.median(dts))
        if dt > 1.5 * period:
            n = round(dt / period) - 1
            self.warn(topic, "missed_pings", f"{n} pings missing before t={stamp_ns * 1e-9:.3f} s", n=n)

    # -- map state
    def _checkpoint(self, wait: bool = False) -> None:
        """Snapshot the map now (this thread) and write it in the background.

        With a reconstructor offering ``checkpoint_incremental`` (the real one), the snapshot is
        the voxels changed since the previous checkpoint, appended to a delta log beside the base
        file (a whole-map base the first time; the log is folded into a new base by the writer
        now and then); otherwise a copy of the whole map (:func:`checkpoint_writer`), written
        beside and renamed over the file. One write at a time: while one is in flight the next is
        put off to the first ping after it ends (``ckpt_ns`` only moves when a snapshot is taken).
        ``wait`` writes synchronously.
        """
        assert self.ckpt is not None
        self._collect_checkpoint()
        if self.ckpt_thread is not None:
            if not wait:
                return
            self.ckpt_thread.join()
            self._collect_checkpoint()
        t0 = time.perf_counter()
        write = _file_writer(self.recon, self.ckpt)
        # Messages received so far, so a restart compares the player's counts with everything received,
        # not with what arrived since the restart (it reported 819 missing pings for about 119 lost).
        side = {"latest_ns": self.latest_ns, **self._path_arrays(), "mounted": np.array(sorted(self.mounted)),
                "mounts": np.array(messages.mounts_json(self.mount_edges.values())),
                "received": np.array(json.dumps(self.received))}
        self.ckpt_ns = self.latest_ns
        self.stats["checkpoint_snapshot_s"] = round(time.perf_counter() - t0, 4)
        ckpt = self.ckpt
        stamp_ns = self.latest_ns
        ident = SurveyIdentity(str(self.p["survey_id"]), self.config.topics.nav_frame,
                               self.survey_first_ns if self.survey_first_ns is not None else stamp_ns, stamp_ns)

        def run() -> None:
            t = time.perf_counter()
            try:
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                info = write()
                write_identity(ckpt, ident)
                side_path = ckpt.with_suffix(".path.npz")
                side_tmp = side_path.with_name("tmp." + side_path.name)
                np.savez(side_tmp, **side)
                os.replace(side_tmp, side_path)
                self.ckpt_done = {"stamp_ns": stamp_ns, "write_s": time.perf_counter() - t, "info": info}
            except Exception as err:  # reported by the node's thread
                self.ckpt_done = {"error": f"{type(err).__name__}: {err}"}

        self.ckpt_thread = threading.Thread(target=run, name="hullscan_checkpoint", daemon=True)
        self.ckpt_thread.start()
        if wait:
            self.ckpt_thread.join()
            self._collect_checkpoint()

    def _collect_checkpoint(self) -> None:
        """Fold a finished background write into the stats (on the node's own thread)."""
        if self.ckpt_thread is None or self.ckpt_thread.is_alive():
            return
        self.ckpt_thread.join()
        self.ckpt_thread = None
        done, self.ckpt_done = self.ckpt_done or {"error": "writer ended without a result"}, None
        if "error" in done:
            self.warn(str(self.ckpt), "checkpoint_failed", done["error"])
            return
        self.stats["checkpoints"] = int(self.stats["checkpoints"]) + 1  # type: ignore[call-overload]
        self.stats["checkpoint_stamp_s"] = round(done["stamp_ns"] * 1e-9, 3)
        self.stats["checkpoint_write_s"] = round(done["write_s"], 3)
        info = done.get("info") or {}
        self.stats["checkpoint_kind"] = str(info.get("kind", "full"))
        for k in ("bytes", "voxels", "log_bytes"):
            if k in info:
                self.stats[f"checkpoint_{k}"] = int(info[k])
        if "compacted" in info:
            self.stats["checkpoint_compactions"] = int(self.stats.get("checkpoint_compactions", 0)) + 1  # type: ignore[call-overload]

    def _restore(self) -> None:
        if not self.ckpt or not self.ckpt.exists():
            return
        try:
            self.recon.restore(self.ckpt)
            side = np.load(self.ckpt.with_suffix(".path.npz"))
            self.latest_ns = self.ckpt_ns = int(side["latest_ns"])
            # The reconstructor's checkpoint holds no mountings: the ones known at the checkpoint
            # are given to it again (side["mounted"], names only, is not taken back: it made
            # every ping after a restart a no_transform drop). Others arrive as before.
            if "mounts" in side.files:
                for edge in messages.mounts_from_json(str(side["mounts"])):
                    if edge.child_frame not in self.mount_edges:
                        self._mount(edge, "checkpoint")
            if "received" in side.files:
                for topic, n in json.loads(str(side["received"])).items():
                    self.received[topic] = self.received.get(topic, 0) + int(n)
            self.path = list(zip(side["t"].tolist(), side["p"], side["q"], strict=True))
            self.path_view.clear()
        except Exception as err:
            self.warn(str(self.ckpt), "checkpoint_unreadable", f"{type(err).__name__}: {err}; starting empty")
            self.recon = self.recon_cls(self.config.recon, self.config.topics)
            self.mounted = {self.config.topics.base_frame}
            self._readd_mounts()
            return
        self.dirty = self.full_dirty = True
        self.restored_ns = self.restored_upto = self.latest_ns
        got = getattr(self.recon, "restored", None) or {}
        how = f" (base + {got['deltas']} delta records)" if "deltas" in got else ""
        if "deltas" in got:
            self.stats["restored_deltas"] = int(got["deltas"])
        self.stats["restored_stamp_s"] = round(self.latest_ns * 1e-9, 3)
        self.warn(str(self.ckpt), "restored_checkpoint",
                  f"map restored up to t={self.latest_ns * 1e-9:.3f} s{how}; pings between then and now are lost")

    def _path_arrays(self) -> dict[str, Any]:
        return {"t": np.array([s[0] for s in self.path], np.int64),
                "p": np.array([s[1] for s in self.path]).reshape(-1, 3),
                "q": np.array([s[2] for s in self.path]).reshape(-1, 4)}

    # -- outputs
    @guarded("cloud")
    def publish_cloud(self) -> None:
        if self.path:
            self.path_pub.publish(self.path_view.message(self.path, self.config.topics.nav_frame))
        self._maybe_finish()
        if self.ckpt:
            self._collect_checkpoint()
        full_due = self.full_dirty and time.monotonic() - self.full_t >= float(self.p["full_cloud_period_s"])
        if not (self.dirty or full_due):
            return
        # The surface is re-extracted only where voxels changed since the last call (SurfaceCache).
        # The display cloud is bounded (display_max_points). A reconstructor offering packed_cloud()
        # (the real one) packs the message rows of only the points shown straight from its surface
        # cache (each point's display cell hash is kept with it); others give the whole cloud to
        # thin here. The O(map points) full cloud goes out every full_cloud_period_s only. Each
        # stage's time is on /diagnostics.
        cap = int(self.p["display_max_points"])
        packed = getattr(self.recon, "packed_cloud", None)
        frame = self.config.topics.nav_frame
        cloud: Any = None
        t0 = time.perf_counter()
        if callable(packed):
            data, rows, n_map = packed(cap, self.config.recon.voxel_size, byte_array)
            whole = n_map <= cap  # then the display cloud is the whole cloud
            t2 = time.perf_counter()
            last = getattr(getattr(self.recon, "_surface", None), "last", None) or {}
            t1 = t0 + float(last.get("find_s", 0.0)) + float(last.get("extract_s", 0.0))
            msg = messages.hull_cloud_packed(data, rows, self.latest_ns, frame)
        else:
            cloud = self.recon.cloud()
            t1 = time.perf_counter()
            shown = display_cloud(cloud, cap, self.config.recon.voxel_size)
            t2 = time.perf_counter()
            n_map, whole, rows = len(cloud), shown is cloud, len(shown)
            msg = messages.hull_cloud(shown, self.latest_ns)
        t3 = time.perf_counter()
        self.cloud_pub.publish(msg)
        t4 = time.perf_counter()
        self.dirty = False
        self.stats["cloud_points"] = n_map
        self.stats["display_points"] = rows
        self.stats["cloud_extract_s"] = round(t1 - t0, 4)
        self.stats["cloud_decimate_s"] = round(t2 - t1, 4)  # thinning, or selecting and packing the shown rows
        self.stats["cloud_message_s"] = round(t3 - t2, 4)
        self.stats["cloud_publish_s"] = round(t4 - t3, 4)
        if full_due:
            t5 = time.perf_counter()
            if whole:
                full = msg
            elif callable(packed):
                data, rows_full, _ = packed(None, None, byte_array)  # nothing left to re-extract
                full = messages.hull_cloud_packed(data, rows_full, self.latest_ns, frame)
            else:
                full = messages.hull_cloud(cloud, self.latest_ns)
            t6 = time.perf_counter()
            self.full_pub.publish(full)
            self.full_t = time.monotonic()
            self.full_dirty = False
            self.stats["full_cloud_points"] = n_map
            self.stats["full_cloud_gather_s"] = round(t6 - t5, 4)  # gathering/packing and the message
            self.stats["full_cloud_s"] = round(time.perf_counter() - t5, 4)  # the same and publishing

    @guarded("/hullscan/survey_end")
    def on_end(self, msg: String) -> None:
        # The end message can overtake pings still queued on other topics: finish once the
        # player's counts have arrived, or when the stream has been quiet for end_timeout_s.
        import json

        published = json.loads(msg.data).get("published", {})
        self.end_expected = {t: n for t, n in published.items() if t in self.received}
        self.end_since = time.monotonic()
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.end_since is None:
            return
        got_all = all(self.received.get(t, 0) >= n for t, n in self.end_expected.items())
        if got_all or time.monotonic() - self.end_since > self.p["end_timeout_s"]:
            if not got_all:
                missing = {t: n - self.received.get(t, 0) for t, n in self.end_expected.items()}
                self.warn("survey_end", "pings_missing_at_end", f"finishing without {missing}")
            self.end_since = None
            self._finish(Trigger.Response())

    def _finish(self, res: Any) -> Any:
        try:
            result = self.recon.finish()
        except Exception as err:
            self.warn("finish", "reconstruction_failed", f"{type(err).__name__}: {err}")
            res.success, res.message = False, str(err)
            return res
        tr = result.trajectory
        self.path_pub.publish(messages.path(tr.stamps_ns[::10], tr.positions[::10], tr.orientations[::10],
                                            tr.frame_id))
        msg = messages.hull_cloud(result.cloud, self.latest_ns)
        shown = display_cloud(result.cloud, int(self.p["display_max_points"]), self.config.recon.voxel_size)
        self.cloud_pub.publish(msg if shown is result.cloud else messages.hull_cloud(shown, self.latest_ns))
        self.full_pub.publish(msg)
        self.full_t = time.monotonic()
        self.dirty = self.full_dirty = False
        self.final_pub.publish(msg)
        self.finished = True
        self.stats["final_points"] = len(result.cloud)
        if self.ckpt is not None and self.ckpt.exists():
            # This survey is over: its checkpoint must not be restored into the next one.
            if self.ckpt_thread is not None:
                self.ckpt_thread.join()
                self._collect_checkpoint()
            write_identity(self.ckpt, SurveyIdentity(
                str(self.p["survey_id"]), self.config.topics.nav_frame,
                self.survey_first_ns if self.survey_first_ns is not None else self.latest_ns, self.latest_ns, True))
        res.success, res.message = True, f"final map: {len(result.cloud)} points"
        return res

    def srv_reset(self, req: Any, res: Any) -> Any:
        if self.ckpt_thread is not None:
            self.ckpt_thread.join()  # or it would write the old map back after the unlink
            self._collect_checkpoint()
        self.recon = self.recon_cls(self.config.recon, self.config.topics)
        self.mounted = {self.config.topics.base_frame}
        self._readd_mounts()
        self.path, self.latest_ns, self.ckpt_ns, self.dirty, self.full_dirty = [], 0, 0, True, True
        self.finished = False
        self.path_view.clear()
        self.last_stamp.clear()
        if self.ckpt:
            self.ckpt.unlink(missing_ok=True)
            delta_path(self.ckpt).unlink(missing_ok=True)
        res.success, res.message = True, "map reset"
        return res

    def srv_save(self, req: Any, res: Any) -> Any:
        from hullscan.cloud_io import save_cloud

        out = Path(self.p["checkpoint_dir"] or ".") / f"map_{self.latest_ns}.ply"
        save_cloud(self.recon.cloud(), out, {"stamp_ns": self.latest_ns})
        res.success, res.message = True, str(out)
        return res


class PathThinner:
    """``/hullscan/path`` for a survey of any length: every k-th pose of the path (k a power of two,
    doubled whenever more than ``max_poses`` would be kept) and the newest one, built incrementally
    (a 1 h survey holds ~18 000 poses; building and serialising all of them every second took
    over a second)."""

    def __init__(self, max_poses: int) -> None:
        self.max_poses = max(int(max_poses), 2)
        self.clear()

    def clear(self) -> None:
        self.k, self.seen = 1, 0
        self.kept_i: list[int] = []  # path entries 0, k, 2k, ...
        self.kept: list[Any] = []    # their PoseStamped (None until built)

    def indices(self, n: int) -> list[int]:
        """Indices of a path of ``n`` entries that :meth:`message` shows (advances the state)."""
        for i in range(self.seen, n):
            if i % self.k == 0:
                self.kept_i.append(i)
                self.kept.append(None)
        self.seen = n
        while len(self.kept_i) > self.max_poses:
            self.k *= 2
            self.kept_i, self.kept = self.kept_i[::2], self.kept[::2]
        return self.kept_i + ([n - 1] if n and self.kept_i[-1] != n - 1 else [])

    def message(self, path: list[tuple[int, Any, Any]], frame_id: str) -> PathMsg:
        idx = self.indices(len(path))
        for j, i in enumerate(self.kept_i):
            if self.kept[j] is None:
                self.kept[j] = messages.pose_stamped(*path[i], frame_id)
        msg = PathMsg(header=messages.header(int(path[-1][0]), frame_id))
        msg.poses = self.kept + [messages.pose_stamped(*path[i], frame_id) for i in idx[len(self.kept_i):]]
        return msg


class _FrozenMap:
    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state(self) -> dict[str, Any]:
        return self._state


class _FrozenNav:
    def __init__(self, nav: Any) -> None:
        t, a = nav.arrays() if len(nav) else (np.zeros(0, np.int64), np.zeros((0, 13)))
        self._t, self._a = t.copy(), a.copy()

    def __len__(self) -> int:
        return int(self._t.shape[0])

    def arrays(self) -> tuple[Any, Any]:
        return self._t, self._a


def byte_array(n: int) -> array.array[int]:
    """A zeroed byte array: message data rclpy takes without a copy."""
    return array.array("B", b"\0") * n


def _file_writer(recon: Any, ckpt: Path) -> Callable[[], dict[str, Any]]:
    """Snapshot now; the returned function writes the checkpoint file ``ckpt`` (from any thread)."""
    own = getattr(recon, "checkpoint_incremental", None)
    if callable(own):
        return own(ckpt)
    write = checkpoint_writer(recon)

    def run() -> dict[str, Any]:
        tmp = ckpt.with_name(ckpt.name + ".tmp")
        write(tmp)
        os.replace(tmp, ckpt)
        return {"kind": "full", "bytes": ckpt.stat().st_size}

    return run


def checkpoint_writer(recon: Any) -> Callable[[Path], None]:
    """What ``recon.checkpoint(path)`` would write now, as a function that writes it later (from
    another thread, while ``recon`` goes on changing).

    A reconstructor may offer this itself (``checkpoint_snapshot()``). For the
    :class:`hullscan.recon.Reconstructor` layout (``map.state()`` copies the voxel arrays,
    ``nav.arrays()``), pending pings are fused now and a frozen stand-in holding copies of the map
    state, navigation, stats and drops is handed to the class's own ``checkpoint`` (so the file
    format stays the reconstructor's). Anything else is deep-copied.
    """
    own = getattr(recon, "checkpoint_snapshot", None)
    if callable(own):
        return own()
    process = getattr(recon, "_process", None)
    if callable(process) and hasattr(getattr(recon, "map", None), "state") and hasattr(recon, "nav"):
        process(final=False, force=True)  # what checkpoint() does first, on this thread
        frozen = copy.copy(recon)
        frozen.map = _FrozenMap(recon.map.state())  # state() copies
        frozen.nav = _FrozenNav(recon.nav)
        frozen.stats = dict(recon.stats)
        frozen.drops = copy.deepcopy(recon.drops)
        frozen._process = lambda **_: None  # nothing left to fuse; never touch the live queues
        return frozen.checkpoint
    return copy.deepcopy(recon).checkpoint


def main(argv: list[str] | None = None) -> int:
    return run_node(MapperNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
