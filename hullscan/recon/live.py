"""A live mapping session: everything the mapper node does between messages in and messages out.

:class:`MappingSession` holds the reconstructor, the sensor mountings (:class:`MountTable`), the
pings held for a mounting, the vehicle path, the checkpoint state and the end-of-survey
bookkeeping. It never touches ROS: the node (:mod:`hullscan.ros.mapper`) turns messages into
core samples, calls the session, and turns what it returns (:class:`MapView`, :class:`FinalMap`,
:class:`HealthCheck`) into messages and diagnostics. Warnings and stats go to a
:class:`Reporter` (the node itself, or a :class:`SessionLog` in tests and tools).

Checkpoints: a snapshot is taken on the thread that feeds the session, written by a background
thread, one at a time (incremental with the real reconstructor: :mod:`hullscan.recon.checkpoint`),
with the path, the mountings and the message counts in a side file. A checkpoint is restored
only into the survey it belongs to, decided when the first data arrives (issue 17).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from hullscan.core.display import cell_hashes
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError, MessageError
from hullscan.model import (
    HullCloud,
    ImagingPing,
    NavSample,
    PointsPing,
    ProfilingPing,
    Trajectory,
    TransformStamped,
)
from hullscan.recon.checkpoint import (
    SurveyIdentity,
    delta_path,
    read_identity,
    restore_decision,
    write_identity,
)
from hullscan.recon.config import ReconConfig
from hullscan.recon.display import display_cloud
from hullscan.recon.mounts import MountTable, mount_from_params, mounts_from_json, mounts_json
from hullscan.settings import TopicsConfig

Ping = ProfilingPing | PointsPing | ImagingPing
PathEntry = tuple[int, NDArray[np.float64], NDArray[np.float64]]  # stamp, position, xyzw orientation
T = TypeVar("T")
MAX_HELD_PINGS = 400  # pings held per session while their sonar frame has no mounting


class Reporter(Protocol):
    """Where a session's warnings and numbers go (a :class:`hullscan.ros.common.HullscanNode` is one)."""

    stats: dict[str, object]
    drops: DropLog

    def warn(self, where: str, reason: str, detail: str = "", n: int = 1) -> None: ...


class SessionLog:
    """A :class:`Reporter` without a node: warnings counted in ``drops``, the last ones kept."""

    def __init__(self) -> None:
        self.stats: dict[str, object] = {}
        self.drops = DropLog()
        self.warnings: list[tuple[str, str, str]] = []

    def warn(self, where: str, reason: str, detail: str = "", n: int = 1) -> None:
        self.drops.add(where, reason, n, detail)
        self.warnings.append((where, reason, detail))


class MapResult(Protocol):
    """What a session needs of a reconstructor's final result (``ReconResult`` or a stand-in's)."""

    @property
    def cloud(self) -> HullCloud: ...
    @property
    def trajectory(self) -> Trajectory | None: ...


class DriftTarget(Protocol):
    """Where the survey's end finds the reference to correct drift against
    (``hullscan.compare.live.DriftReference``): ``placed()`` it in the navigation frame or None,
    raising HullscanError when it cannot be read; ``name`` says which. ``between_passes``: there is no
    reference (the comparator compares the hull with its mirror): the passes are aligned to each other."""

    between_passes: bool

    @property
    def name(self) -> str: ...
    def placed(self) -> Any: ...


class MapBuilder(Protocol):
    """What a session needs of a reconstructor (``hullscan.recon.Reconstructor`` or a stand-in).

    Optional, used when present: ``remount(edge)``, ``packed_cloud(...)``, ``last_extract_s``,
    ``checkpoint_incremental(path)``, ``checkpoint_snapshot()`` and ``restored``."""

    drift_reference: Any  # aligned to in finish() when drift is corrected (recon.drift)
    drift_between_passes: bool  # ... or, with none, the survey's passes to each other (mirror mode)

    def add(self, item: Any) -> None: ...
    def cloud(self) -> HullCloud: ...
    def finish(self) -> MapResult: ...
    def checkpoint(self, path: str | Path) -> None: ...
    def restore(self, path: str | Path) -> None: ...


def reconstructor_factory(spec: str, config: ReconConfig, topics: TopicsConfig
                          ) -> tuple[Callable[[], MapBuilder], float | None]:
    """``module:Class`` as a factory of new reconstructors, and the seconds its module's ``warmup()``
    took (kernels compiled now, the display thinning's too, not on the first ping: a ~1 s stall would back up the queues)."""
    module, _, name = spec.partition(":")
    cls = getattr(importlib.import_module(module), name)
    warmup = getattr(importlib.import_module(cls.__module__), "warmup", None)
    warm_s = float(warmup()) if callable(warmup) else None
    cell_hashes(np.zeros((1, 3)), 1.0)  # the display thinning's kernel, likewise
    return (lambda: cls(config, topics)), warm_s


@dataclass(frozen=True)
class MapperSettings:
    """The mapper node's parameters the session acts on (names as the parameters')."""

    checkpoint_dir: str = ""
    checkpoint_period_s: float = 5.0
    end_timeout_s: float = 5.0
    path_max_poses: int = 1000
    display_max_points: int = 400_000
    full_cloud_period_s: float = 10.0
    input_timeout_s: float = 5.0
    resume: str = "auto"
    survey_id: str = ""

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> MapperSettings:
        """Each setting from the parameter of its name, as the setting's type."""
        return cls(**{k: type(v)(params[k]) for k, v in cls().__dict__.items()})


@dataclass(frozen=True)
class MapView:
    """The map to publish: message rows packed by the reconstructor (``data``, ``rows`` of
    :data:`hullscan.core.display.ROW_FIELDS`) or a ``cloud``; ``whole``: nothing was thinned."""

    rows: int
    map_points: int
    data: Any = None
    cloud: HullCloud | None = None
    full: HullCloud | None = None  # the whole map, when ``cloud`` is its thinned display
    extract_s: float = 0.0
    thin_s: float = 0.0  # thinning, or selecting and packing the shown rows
    stamp_ns: int = 0  # the message's stamp (packed rows' first_seen/last_seen are relative to it)

    @property
    def whole(self) -> bool:
        return self.rows == self.map_points if self.data is not None else self.full is None


@dataclass(frozen=True)
class FinalMap:
    """The survey's final (drift-corrected) map, its display thinning and the vehicle's trajectory."""

    cloud: HullCloud
    display: HullCloud  # ``cloud`` itself when within display_max_points
    trajectory: Trajectory | None  # None without navigation
    stamp_ns: int
    # Whether the navigation drift was corrected, against what, and how much (or why not): drift_summary.
    drift: dict[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What ``/hullscan/final_map`` says of it."""
        return {"stamp_ns": self.stamp_ns, "points": len(self.cloud), "drift": self.drift}


def drift_summary(result: Any, against: str) -> dict[str, object]:
    """What the final map's drift correction did, from a reconstructor's result (its ``stats`` and
    ``drops``, where it has them): ``corrected``, ``against`` (the reference's name, ``""``), the
    submaps aligned and the largest correction, or ``why`` not, and the ``seconds`` it took."""
    stats: dict[str, float] = getattr(result, "stats", {}) or {}
    seconds = round(float((getattr(result, "timings_s", {}) or {}).get("drift", 0.0)), 1)
    if stats.get("drift_submaps", 0) and stats.get("drift_aligned", 0):
        return {"corrected": True, "against": against, "submaps": int(stats["drift_submaps"]),
                "aligned": int(stats["drift_aligned"]), "seconds": seconds,
                "largest_correction_m": round(float(stats.get("drift_max_correction_m", 0.0)), 3)}
    drops = getattr(result, "drops", None)
    why = [drops.examples.get(k, k[1]) for k in drops.counts if k[0] == "drift"] if drops is not None else []
    return {"corrected": False, "against": against, "seconds": seconds,
            "why": "; ".join(why) or ("no submap could be aligned" if stats.get("drift_submaps") else "off")}


@dataclass(frozen=True)
class HealthCheck:
    """Functions failing now (with why) and functions seen working; others are unchanged."""

    failing: dict[str, str] = field(default_factory=dict)
    working: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CheckpointDone:
    """What a background checkpoint write did (``error`` set when it failed)."""

    stamp_ns: int = 0
    write_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class PathThinner(Generic[T]):
    """The path shown for a survey of any length: every k-th pose (k a power of two, doubled
    whenever more than ``max_poses`` would be kept) and the newest one, built incrementally (a
    1 h survey holds ~18 000 poses; building and serialising all of them every second took over
    a second). ``T`` is whatever a pose becomes (a message); kept ones are built once."""

    def __init__(self, max_poses: int) -> None:
        self.max_poses = max(int(max_poses), 2)
        self.clear()

    def clear(self) -> None:
        self.k, self.seen = 1, 0
        self.kept_i: list[int] = []       # path entries 0, k, 2k, ...
        self.kept: list[T | None] = []    # what they became (None until built)

    def indices(self, n: int) -> list[int]:
        """Indices of a path of ``n`` entries that :meth:`poses` shows (advances the state)."""
        for i in range(self.seen, n):
            if i % self.k == 0:
                self.kept_i.append(i)
                self.kept.append(None)
        self.seen = n
        while len(self.kept_i) > self.max_poses:
            self.k *= 2
            self.kept_i, self.kept = self.kept_i[::2], self.kept[::2]
        return self.kept_i + ([n - 1] if n and self.kept_i[-1] != n - 1 else [])

    def poses(self, n: int, build: Callable[[int], T]) -> list[T]:
        """The shown poses of a path of ``n`` entries, ``build(i)`` making entry ``i``'s."""
        idx = self.indices(n)
        out: list[T] = []
        for j, i in enumerate(self.kept_i):
            got = self.kept[j]
            if got is None:
                got = self.kept[j] = build(i)
            out.append(got)
        return out + [build(i) for i in idx[len(self.kept_i):]]


class _Writer:
    """The checkpoint write in flight (one at a time) and its result, read on the session's thread."""

    def __init__(self, run: Callable[[], CheckpointDone]) -> None:
        self.done: CheckpointDone | None = None
        self.thread = threading.Thread(target=self._run, args=(run,), name="hullscan_checkpoint", daemon=True)
        self.thread.start()

    def _run(self, run: Callable[[], CheckpointDone]) -> None:
        try:
            self.done = run()
        except Exception as err:  # reported by the session's thread
            self.done = CheckpointDone(error=f"{type(err).__name__}: {err}")


class MappingSession:
    """One live survey being mapped (see the module docstring). Not thread-safe: one thread feeds
    it; only the checkpoint writes run on their own thread, on snapshots."""

    def __init__(self, new_recon: Callable[[], MapBuilder], topics: TopicsConfig, voxel_size: float,
                 settings: MapperSettings, report: Reporter, drift_to: DriftTarget | None = None) -> None:
        self.new_recon, self.topics, self.voxel_size = new_recon, topics, float(voxel_size)
        self.drift_to = drift_to  # the reference to correct drift against at the end (recon.drift)
        self.settings, self.report = settings, report
        self.recon = new_recon()
        self.mount_table = MountTable()  # /tf_static wins over parameters (hullscan.recon.mounts)
        self.mount_edges: dict[str, TransformStamped] = {}
        self.mounted: set[str] = {topics.base_frame}
        self.pending: list[Ping] = []
        self.path: list[PathEntry] = []
        self.path_view: PathThinner[object] = PathThinner(settings.path_max_poses)  # what is shown of it
        self.last_stamp: dict[str, int] = {}
        self.period: dict[str, list[int]] = {}
        self.latest_ns = 0
        self.dirty = False       # the display cloud is behind the map
        self.full_dirty = False  # the full-resolution cloud is behind the map
        self.full_t = -1e9       # monotonic time of the last full-resolution cloud
        self.ckpt = Path(settings.checkpoint_dir) / "mapper.ckpt" if settings.checkpoint_dir else None
        self.ckpt_ns = 0
        self.writer: _Writer | None = None
        self.restored_ns: int | None = None
        self.restored_upto: int | None = None  # data up to here is in the restored map already
        # A checkpoint is restored only into the survey it belongs to (issue 17): decided when the
        # first data arrives (restore_decision), never blindly at start.
        self.restore_pending = bool(self.ckpt and self.ckpt.exists())
        self.survey_first_ns: int | None = None
        self.received: dict[str, int] = {topics.scan: 0, topics.points: 0, topics.image: 0, topics.detections: 0,
                                         topics.odom: 0}
        self.end_expected: dict[str, int] = {}
        self.end_since: float | None = None
        self.ping_wall: float | None = None        # monotonic time of the last ping, of the first one,
        self.first_ping_wall: float | None = None  # and of the last odometry (health checks)
        self.nav_wall: float | None = None
        self.finished = False
        report.stats.update(pings=0, nav=0, cloud_points=0, checkpoints=0)

    @property
    def stats(self) -> dict[str, object]:
        return self.report.stats

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = int(self.stats.get(key, 0)) + n  # type: ignore[call-overload]

    # -- mountings
    def offer_mount(self, edge: TransformStamped, source: str = "tf_static") -> None:
        """A sensor mounting from ``source`` (hullscan.recon.mounts.PRIORITY); held pings of its
        frame are placed once it is in use."""
        verdict = self.mount_table.offer(edge, source)
        self.stats["mount_sources"] = ", ".join(f"{f}: {s}" for f, s in sorted(self.mount_table.sources.items()))
        if verdict == "kept":
            return  # a lower-priority source (parameters) never replaces /tf_static
        if verdict == "replaced":
            self.report.warn(edge.child_frame, "mount_replaced", f"the {source} mounting replaces the configured "
                             f"one (pings placed with the old one so far: {self.stats.get('pings', 0)})")
            remount = getattr(self.recon, "remount", None)
            remount(edge) if callable(remount) else self.recon.add(edge)
        elif source == "parameters":
            self.report.warn(edge.child_frame, "mount_from_parameters", "mounting taken from sensor_frames/"
                             "sensor_mounts until /tf_static gives one")
        self.mount_edges[edge.child_frame] = edge
        if edge.child_frame not in self.mounted:
            self.recon.add(edge)
            self.mounted.add(edge.child_frame)
        pending, self.pending = self.pending, []
        for ping in pending:
            self._fuse(ping)

    def mount_parameters(self, frames: Sequence[str], values: Sequence[float]) -> None:
        """The ``sensor_frames`` / ``sensor_mounts`` parameters (x y z roll pitch yaw per frame), a
        fallback until /tf_static gives a mounting; an unusable one is a warning."""
        for i, frame in enumerate(f for f in frames if f):
            try:
                edge = mount_from_params(self.topics.base_frame, frame, list(values[6 * i:6 * i + 6]))
            except MessageError as err:
                self.report.warn("parameters", "bad_mounting", str(err))
                continue
            self.offer_mount(edge, "parameters")

    def _readd_mounts(self) -> None:
        """The mountings in use, given to a new reconstructor (their sources unchanged)."""
        self.mounted = {self.topics.base_frame}
        for edge in list(self.mount_edges.values()):
            if edge.child_frame not in self.mounted:
                self.recon.add(edge)
                self.mounted.add(edge.child_frame)

    # -- inputs
    def ping_arrived(self, topic: str, now: float | None = None) -> None:
        """A message on a sonar topic, parsed or not (the end-of-survey counts and the health checks)."""
        self.received[topic] = self.received.get(topic, 0) + 1
        self.ping_wall = time.monotonic() if now is None else now
        if self.first_ping_wall is None:
            self.first_ping_wall = self.ping_wall

    def add_ping(self, ping: Ping, topic: str) -> None:
        """A parsed ping (after :meth:`ping_arrived`): fused, or held until its frame has a mounting.
        NaN ranges of a LaserScan are counted here; one without beams is dropped."""
        if isinstance(ping, ProfilingPing):
            nan = int(np.isnan(ping.ranges).sum())
            if nan:
                self.report.warn(topic, "nan_range", f"{nan} of {ping.n_beams} ranges NaN/inf", n=nan)
            if ping.n_beams == 0:
                self.report.warn(topic, "empty_ping", "LaserScan with no ranges")
                return
        self._first_data(ping.stamp_ns, self.topics.nav_frame)
        self._count_gap(topic, ping.stamp_ns)
        if ping.frame_id.lstrip("/") not in self.mounted:
            # Held until a mounting arrives; counted either way so it shows on /diagnostics.
            self.report.warn(ping.frame_id, "no_transform",
                             f"no mounting for sonar frame '{ping.frame_id}' (set sensor_frames/sensor_mounts or "
                             f"publish /tf_static); pings held until one arrives, the oldest dropped beyond "
                             f"{MAX_HELD_PINGS}")
            if len(self.pending) >= MAX_HELD_PINGS:
                self.pending.pop(0)
            self.pending.append(ping)
            return
        self._fuse(ping)

    def add_nav(self, nav: NavSample, now: float | None = None) -> None:
        self._first_data(nav.stamp_ns, nav.frame_id)
        self.recon.add(nav)
        self.nav_wall = time.monotonic() if now is None else now
        self.received[self.topics.odom] = self.received.get(self.topics.odom, 0) + 1
        self._count("nav")
        if not self.path or nav.stamp_ns - self.path[-1][0] > 200_000_000:
            self.path.append((nav.stamp_ns, nav.position, nav.orientation))

    def _first_data(self, stamp_ns: int, nav_frame: str) -> None:
        """On the first message: restore the checkpoint if it is this survey's (or asked to)."""
        if self.survey_first_ns is None:
            self.survey_first_ns = stamp_ns
        if not self.restore_pending or self.ckpt is None:
            return
        self.restore_pending = False
        ident = read_identity(self.ckpt)
        ok, why = restore_decision(ident, self.settings.resume, first_ns=stamp_ns, nav_frame=nav_frame,
                                   survey_id=self.settings.survey_id)
        self.stats["checkpoint_decision"] = why
        if not ok:
            self.report.warn(str(self.ckpt), "checkpoint_not_restored", why)
            return
        if ident is not None:
            self.survey_first_ns = min(ident.first_ns, stamp_ns)
        self.restore()

    def _fuse(self, ping: Ping) -> None:
        if self.restored_upto is not None and ping.stamp_ns <= self.restored_upto:
            # Replayed data the restored map already holds: fusing it again would count it twice.
            self.report.warn("restore", "already_in_checkpoint", f"ping at {ping.stamp_ns * 1e-9:.3f} s is older "
                             f"than the restored map ({self.restored_upto * 1e-9:.3f} s); skipped")
            return
        if self.restored_ns is not None:
            # Data between the checkpoint and the first ping after the restart is lost.
            gap_ns = ping.stamp_ns - self.restored_ns
            self.stats["restore_gap_s"] = round(gap_ns * 1e-9, 3)
            if gap_ns > 0:
                self.report.warn("restore", "restore_gap", f"{gap_ns * 1e-9:.3f} s of data between the checkpoint "
                                 "and the restart is lost")
                self.report.drops.add_span(("restore", "restore_gap"), (self.restored_ns, ping.stamp_ns))
            self.restored_ns = None
        self.recon.add(ping)
        self.dirty = self.full_dirty = True
        self._count("pings")
        self.latest_ns = max(self.latest_ns, ping.stamp_ns)
        if self.ckpt and self.latest_ns - self.ckpt_ns >= self.settings.checkpoint_period_s * 1e9:
            self.checkpoint()

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
            self.report.warn(topic, "missed_pings", f"{n} pings missing before t={stamp_ns * 1e-9:.3f} s", n=n)

    # -- health
    def health(self, now: float | None = None) -> HealthCheck:
        """Faults of the mapping function: no mounting for a sonar frame (pings held), no navigation
        while pings arrive, sonar input gone stale. Each clears once it works again."""
        now = time.monotonic() if now is None else now
        limit = self.settings.input_timeout_s
        failing: dict[str, str] = {}
        working: set[str] = set()
        if self.pending:
            frames = sorted({str(x.frame_id) for x in self.pending})
            failing["mounting"] = (f"no mounting for sonar frame(s) {', '.join(frames)}: {len(self.pending)} pings "
                                   "held (set sensor_frames/sensor_mounts or publish /tf_static)")
        else:
            working.add("mounting")
        pinging = self.ping_wall is not None and now - self.ping_wall < limit
        if pinging:
            last_nav = self.nav_wall if self.nav_wall is not None else self.first_ping_wall
            if last_nav is not None and now - last_nav > limit:
                failing["navigation"] = (f"no odometry on {self.topics.odom} for {now - last_nav:.0f} s while pings "
                                         "arrive: pings cannot be placed")
            elif self.nav_wall is not None:
                working.add("navigation")
        if self.ping_wall is not None and self.end_since is None and not self.finished and now - self.ping_wall > limit:
            failing["sonar"] = f"no ping for {now - self.ping_wall:.0f} s (stale input; the survey has not ended)"
        elif self.ping_wall is not None and now - self.ping_wall <= limit:
            working.add("sonar")
        if self.finished:
            for f in ("sonar", "navigation"):
                failing.pop(f, None)
                working.add(f)
        return HealthCheck(failing, frozenset(working))

    # -- end of survey
    def end_survey(self, published: dict[str, int], now: float | None = None) -> None:
        """The player's end message: its counts per topic. It can overtake pings still queued on
        other topics: :meth:`finish_due` waits for the counts, or ``end_timeout_s`` of quiet."""
        self.end_expected = {t: int(n) for t, n in published.items() if t in self.received}
        self.end_since = time.monotonic() if now is None else now

    def finish_due(self, now: float | None = None) -> bool:
        """Whether the survey's end has come (then call :meth:`finish`; asked once per end message)."""
        if self.end_since is None:
            return False
        now = time.monotonic() if now is None else now
        got_all = all(self.received.get(t, 0) >= n for t, n in self.end_expected.items())
        if not (got_all or now - self.end_since > self.settings.end_timeout_s):
            return False
        if not got_all:
            missing = {t: n - self.received.get(t, 0) for t, n in self.end_expected.items()}
            self.report.warn("survey_end", "pings_missing_at_end", f"finishing without {missing}")
        self.end_since = None
        return True

    def finish(self, now: float | None = None, drift_reference: Any = None, against: str = "") -> FinalMap:
        """The final reconstruction; marks the checkpoint's survey finished (never restored into
        the next one unless asked to). Raises what the reconstructor raises. ``drift_reference``: a
        reference surface placed in the navigation frame (``against`` names it) for a reconstructor
        that corrects drift (recon.drift) to align the survey to."""
        if drift_reference is None and self.drift_to is not None:
            try:
                drift_reference, against = self.drift_to.placed(), self.drift_to.name
            except HullscanError as err:  # finished as recorded; the reconstructor counts that
                self.report.warn("finish", "drift_reference_unreadable", str(err))
            # Mirror mode: no reference to place; the passes are aligned to each other, as replay does.
            self.recon.drift_between_passes = drift_reference is None and self.drift_to.between_passes
        if drift_reference is not None:
            self.recon.drift_reference = drift_reference
        result = self.recon.finish()
        cloud = result.cloud
        self.full_t = time.monotonic() if now is None else now
        self.dirty = self.full_dirty = False
        self.finished = True
        self.stats["final_points"] = len(cloud)
        if self.ckpt is not None and self.ckpt.exists():
            self.wait_checkpoint()
            write_identity(self.ckpt, self._identity(self.latest_ns, finished=True))
        drift = drift_summary(result, against)
        self.stats.update({f"drift_{k}": v for k, v in drift.items()})
        return FinalMap(cloud, display_cloud(cloud, self.settings.display_max_points, self.voxel_size),
                        result.trajectory, self.latest_ns, drift)

    def reset(self) -> str:
        """An empty map (the mountings kept); the checkpoint files are removed. Says so."""
        self.wait_checkpoint()  # or it would write the old map back after the unlink
        self.recon = self.new_recon()
        self._readd_mounts()
        self.path, self.latest_ns, self.ckpt_ns, self.dirty, self.full_dirty = [], 0, 0, True, True
        self.finished = False
        self.path_view.clear()
        self.last_stamp.clear()
        if self.ckpt:
            self.ckpt.unlink(missing_ok=True)
            delta_path(self.ckpt).unlink(missing_ok=True)
        return "map reset"

    def save_map(self) -> Path:
        """The current map as a PLY file beside the checkpoints (or here)."""
        from hullscan.cloud_io import save_cloud

        out = Path(self.settings.checkpoint_dir or ".") / f"map_{self.latest_ns}.ply"
        save_cloud(self.recon.cloud(), out, {"stamp_ns": self.latest_ns})
        return out

    # -- display
    def display_due(self, now: float | None = None) -> tuple[bool, bool]:
        """(the display cloud is behind the map, the full cloud is behind and ``full_cloud_period_s`` old)."""
        now = time.monotonic() if now is None else now
        full = self.full_dirty and now - self.full_t >= self.settings.full_cloud_period_s
        return self.dirty or full, full

    def display_view(self, alloc: Callable[[int], Any] | None = None) -> MapView:
        """The display map, bounded by ``display_max_points`` (a deterministic spatial thinning:
        :func:`hullscan.recon.display.display_cloud`). A reconstructor offering ``packed_cloud``
        (the real one) packs the rows of only the points shown straight from its surface cache into
        ``alloc(nbytes)``; others give the whole cloud to thin here."""
        cap = self.settings.display_max_points
        stamp = self.latest_ns  # the view's stamp: pings may arrive (on another thread) before it is sent
        packed = getattr(self.recon, "packed_cloud", None)
        t0 = time.perf_counter()
        if callable(packed):
            data, rows, n_map = packed(cap, self.voxel_size, alloc, stamp)
            t2 = time.perf_counter()
            extract = float(getattr(self.recon, "last_extract_s", 0.0))
            view = MapView(int(rows), int(n_map), data=data, extract_s=extract, thin_s=t2 - t0 - extract,
                           stamp_ns=stamp)
        else:
            cloud = self.recon.cloud()
            t1 = time.perf_counter()
            shown = display_cloud(cloud, cap, self.voxel_size)
            view = MapView(len(shown), len(cloud), cloud=shown, full=None if shown is cloud else cloud,
                           extract_s=t1 - t0, thin_s=time.perf_counter() - t1, stamp_ns=stamp)
        self.dirty = False
        self.stats["cloud_points"] = view.map_points
        self.stats["display_points"] = view.rows
        self.stats["cloud_extract_s"] = round(view.extract_s, 4)
        self.stats["cloud_decimate_s"] = round(view.thin_s, 4)
        return view

    def full_view(self, shown: MapView, alloc: Callable[[int], Any] | None = None) -> MapView:
        """The full-resolution map as of ``shown`` (itself when nothing was thinned)."""
        if shown.whole:
            view = shown
        elif shown.data is not None:
            packed = getattr(self.recon, "packed_cloud", None)
            assert callable(packed)
            data, rows, n_map = packed(None, None, alloc, shown.stamp_ns)  # nothing left to re-extract
            view = MapView(int(rows), int(n_map), data=data, stamp_ns=shown.stamp_ns)
        else:
            assert shown.full is not None
            view = MapView(len(shown.full), len(shown.full), cloud=shown.full, stamp_ns=shown.stamp_ns)
        self.full_dirty = False
        self.full_t = time.monotonic()
        self.stats["full_cloud_points"] = shown.map_points
        return view

    def path_poses(self, build: Callable[[PathEntry], object]) -> list[object]:
        """The path shown (:class:`PathThinner`), ``build`` making a pose of an entry (once per kept one)."""
        return self.path_view.poses(len(self.path), lambda i: build(self.path[i]))

    # -- checkpoints
    def _identity(self, stamp_ns: int, finished: bool = False) -> SurveyIdentity:
        first = self.survey_first_ns if self.survey_first_ns is not None else stamp_ns
        return SurveyIdentity(self.settings.survey_id, self.topics.nav_frame, first, stamp_ns, finished)

    def checkpoint(self, wait: bool = False) -> None:
        """Snapshot the map now (this thread) and write it in the background.

        With a reconstructor offering ``checkpoint_incremental`` (the real one), the snapshot is
        the voxels changed since the previous checkpoint, appended to a delta log beside the base
        file; otherwise a copy of the whole map (:func:`checkpoint_writer`), written beside and
        renamed over the file. One write at a time: while one is in flight the next is put off to
        the first ping after it ends (``ckpt_ns`` only moves when a snapshot is taken). ``wait``
        writes synchronously.
        """
        if self.ckpt is None:
            return
        self.collect_checkpoint()
        if self.writer is not None:
            if not wait:
                return
            self.wait_checkpoint()
        t0 = time.perf_counter()
        write = file_writer(self.recon, self.ckpt)
        # Messages received so far, so a restart compares the player's counts with everything received,
        # not with what arrived since the restart (it reported 819 missing pings for about 119 lost).
        side: dict[str, Any] = {"latest_ns": self.latest_ns, **self._path_arrays(), "mounted": np.array(sorted(self.mounted)),
                "mounts": np.array(mounts_json(self.mount_edges.values())),
                "received": np.array(json.dumps(self.received))}
        self.ckpt_ns = stamp_ns = self.latest_ns
        self.stats["checkpoint_snapshot_s"] = round(time.perf_counter() - t0, 4)
        ckpt, ident = self.ckpt, self._identity(stamp_ns)

        def run() -> CheckpointDone:
            t = time.perf_counter()
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            info = write()
            write_identity(ckpt, ident)
            side_path = ckpt.with_suffix(".path.npz")
            side_tmp = side_path.with_name("tmp." + side_path.name)
            np.savez(side_tmp, **side)
            os.replace(side_tmp, side_path)
            return CheckpointDone(stamp_ns, time.perf_counter() - t, info)

        self.writer = _Writer(run)
        if wait:
            self.wait_checkpoint()

    def wait_checkpoint(self) -> None:
        """Let a write in flight end, and fold its result into the stats."""
        if self.writer is not None:
            self.writer.thread.join()
        self.collect_checkpoint()

    def collect_checkpoint(self) -> CheckpointDone | None:
        """Fold a finished background write into the stats (on the session's thread); what it did."""
        w = self.writer
        if w is None or w.thread.is_alive():
            return None
        w.thread.join()
        self.writer = None
        done = w.done or CheckpointDone(error="writer ended without a result")
        if done.error:
            self.report.warn(str(self.ckpt), "checkpoint_failed", done.error)
            return done
        self._count("checkpoints")
        self.stats["checkpoint_stamp_s"] = round(done.stamp_ns * 1e-9, 3)
        self.stats["checkpoint_write_s"] = round(done.write_s, 3)
        self.stats["checkpoint_kind"] = str(done.info.get("kind", "full"))
        for k in ("bytes", "voxels", "log_bytes"):
            if k in done.info:
                self.stats[f"checkpoint_{k}"] = int(done.info[k])
        if "compacted" in done.info:
            self._count("checkpoint_compactions")
        return done

    def restore(self) -> bool:
        """Load the checkpoint into this session (map, path, mountings, counts); False, with a
        warning, when it cannot be read (then the session starts empty)."""
        if not self.ckpt or not self.ckpt.exists():
            return False
        try:
            self.recon.restore(self.ckpt)
            side = np.load(self.ckpt.with_suffix(".path.npz"))
            self.latest_ns = self.ckpt_ns = int(side["latest_ns"])
            # The reconstructor's checkpoint holds no mountings: the ones known at the checkpoint
            # are given to it again (side["mounted"], names only, is not taken back: it made
            # every ping after a restart a no_transform drop). Others arrive as before.
            if "mounts" in side.files:
                for edge in mounts_from_json(str(side["mounts"])):
                    if edge.child_frame not in self.mount_edges:
                        self.offer_mount(edge, "checkpoint")
            if "received" in side.files:
                for topic, n in json.loads(str(side["received"])).items():
                    self.received[topic] = self.received.get(topic, 0) + int(n)
            self.path = list(zip(side["t"].tolist(), side["p"], side["q"], strict=True))
            self.path_view.clear()
        except Exception as err:
            self.report.warn(str(self.ckpt), "checkpoint_unreadable", f"{type(err).__name__}: {err}; starting empty")
            self.recon = self.new_recon()
            self._readd_mounts()
            return False
        self.dirty = self.full_dirty = True
        self.restored_ns = self.restored_upto = self.latest_ns
        got: dict[str, int] = getattr(self.recon, "restored", None) or {}
        how = f" (base + {got['deltas']} delta records)" if "deltas" in got else ""
        if "deltas" in got:
            self.stats["restored_deltas"] = int(got["deltas"])
        self.stats["restored_stamp_s"] = round(self.latest_ns * 1e-9, 3)
        self.report.warn(str(self.ckpt), "restored_checkpoint",
                         f"map restored up to t={self.latest_ns * 1e-9:.3f} s{how}; pings between then and now are lost")
        return True

    def _path_arrays(self) -> dict[str, NDArray[Any]]:
        return {"t": np.array([s[0] for s in self.path], np.int64),
                "p": np.array([s[1] for s in self.path]).reshape(-1, 3),
                "q": np.array([s[2] for s in self.path]).reshape(-1, 4)}


def file_writer(recon: MapBuilder, ckpt: Path) -> Callable[[], dict[str, Any]]:
    """Snapshot now; the returned function writes the checkpoint file ``ckpt`` (from any thread)
    and says what it wrote (``kind``, ``bytes``...)."""
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


def checkpoint_writer(recon: MapBuilder) -> Callable[[Path], None]:
    """What ``recon.checkpoint(path)`` would write now, as a function that writes it later (from
    another thread, while ``recon`` goes on changing): the reconstructor's own
    ``checkpoint_snapshot()`` (:meth:`hullscan.recon.Reconstructor.checkpoint_snapshot`), else a
    deep copy's ``checkpoint``."""
    own = getattr(recon, "checkpoint_snapshot", None)
    if callable(own):
        return own()
    return copy.deepcopy(recon).checkpoint


__all__ = ["CheckpointDone", "DriftTarget", "FinalMap", "HealthCheck", "MapBuilder", "MapResult", "MapView", "MapperSettings", "MappingSession",
           "PathThinner", "Reporter", "SessionLog", "checkpoint_writer", "drift_summary", "file_writer",
           "reconstructor_factory"]
