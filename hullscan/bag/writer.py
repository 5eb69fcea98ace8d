"""Writing rosbag2 bags (MCAP or sqlite3) from core types.

Usage::

    with BagWriter(out_dir, storage="mcap") as bag:
        bag.write(nav_sample)          # -> /nav/odom
        bag.write(ping)                # -> /sonar/scan
        bag.write_tf(edges, static=True)

Message definitions are embedded (MCAP schemas, sqlite3 ``message_definitions``),
so ``marine_acoustic_msgs`` decodes on any machine.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin, Writer

from hullscan.bag import convert, msgdefs
from hullscan.errors import BagError
from hullscan.model import (
    CameraFrame,
    CameraModel,
    ImagingPing,
    MultibeamDetections,
    NavSample,
    PointsPing,
    ProfilingPing,
    TransformStamped,
)
from hullscan.settings import TopicsConfig

_INF = QosTime(0x7FFFFFFF, 0xFFFFFFFF)
_LATCHED = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL,
               _INF, _INF, QosLiveliness.AUTOMATIC, _INF, False)


class BagWriter:
    """Context manager writing a new rosbag2 bag at ``path`` (which must not exist)."""

    def __init__(self, path: str | Path, storage: str = "mcap", topics: TopicsConfig | None = None,
                 *, sonar_image_dtype: int = 8, sonar_image_bigendian: bool = False) -> None:
        self.path = Path(path)
        if storage not in ("mcap", "sqlite3"):
            raise BagError(f"{self.path}: storage must be 'mcap' or 'sqlite3', got {storage!r}")
        self.storage = storage
        self.topics = topics or TopicsConfig()
        self.sonar_image_dtype = sonar_image_dtype
        self.sonar_image_bigendian = sonar_image_bigendian
        self._writer: Writer | None = None
        self._conns: dict[str, Any] = {}
        self.count = 0

    def __enter__(self) -> BagWriter:
        plugin = StoragePlugin.MCAP if self.storage == "mcap" else StoragePlugin.SQLITE3
        try:
            self._writer = Writer(self.path, version=9, storage_plugin=plugin)
            self._writer.open()
        except Exception as err:
            raise BagError(f"{self.path}: cannot create bag: {err}") from err
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _conn(self, topic: str, msgtype: str, latched: bool = False) -> Any:
        if self._writer is None:
            raise BagError(f"{self.path}: writer is not open (use it as a context manager)")
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._writer.add_connection(
                topic, msgtype, typestore=msgdefs.typestore(),
                offered_qos_profiles=[_LATCHED] if latched else [],
            )
            self._conns[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagError(f"{self.path}: topic {topic} already has type {conn.msgtype}, not {msgtype}")
        return conn

    def write_msg(self, topic: str, msgtype: str, msg: Any, log_time_ns: int, latched: bool = False) -> None:
        """Write one rosbags message object as it is (also used to write malformed test data)."""
        conn = self._conn(topic, msgtype, latched)
        assert self._writer is not None
        self._writer.write(conn, log_time_ns, msgdefs.typestore().serialize_cdr(msg, msgtype))
        self.count += 1

    def write(self, item: Any, topic: str | None = None, log_time_ns: int | None = None) -> None:
        """Write a core sample on its contract topic (or ``topic``), stamped at its own time."""
        t = self.topics
        if isinstance(item, ProfilingPing):
            self.write_msg(topic or t.scan, msgdefs.LASERSCAN, convert.scan_to_msg(item),
                           log_time_ns or item.stamp_ns)
        elif isinstance(item, PointsPing):
            self.write_msg(topic or t.points, msgdefs.POINTCLOUD2, convert.points_to_msg(item),
                           log_time_ns or item.stamp_ns)
        elif isinstance(item, ImagingPing):
            msg = convert.sonar_image_to_msg(item, self.sonar_image_dtype, self.sonar_image_bigendian)
            self.write_msg(topic or t.image, msgdefs.SONAR_IMAGE, msg, log_time_ns or item.stamp_ns)
        elif isinstance(item, MultibeamDetections):
            self.write_msg(topic or t.detections, msgdefs.SONAR_DETECTIONS, convert.detections_to_msg(item),
                           log_time_ns or item.stamp_ns)
        elif isinstance(item, NavSample):
            self.write_msg(topic or t.odom, msgdefs.ODOMETRY, convert.odom_to_msg(item),
                           log_time_ns or item.stamp_ns)
        elif isinstance(item, TransformStamped):
            self.write_tf([item], static=item.static, topic=topic, log_time_ns=log_time_ns)
        elif isinstance(item, CameraFrame):
            if item.compressed:
                self.write_msg(topic or t.camera_compressed, msgdefs.COMPRESSED_IMAGE,
                               convert.compressed_to_msg(item), log_time_ns or item.stamp_ns)
            else:
                self.write_msg(topic or t.camera_image, msgdefs.IMAGE, convert.image_to_msg(item),
                               log_time_ns or item.stamp_ns)
        elif isinstance(item, CameraModel):
            self.write_msg(topic or t.camera_info, msgdefs.CAMERA_INFO, convert.camera_info_to_msg(item),
                           log_time_ns or item.stamp_ns)
        else:
            raise BagError(f"{self.path}: cannot write {type(item).__name__} (not a hullscan sample type)")

    def write_tf(self, edges: list[TransformStamped], static: bool, topic: str | None = None,
                 log_time_ns: int | None = None) -> None:
        """Write several TF edges as one ``tf2_msgs/TFMessage``."""
        if not edges:
            return
        name = topic or (self.topics.tf_static if static else self.topics.tf)
        stamp = log_time_ns if log_time_ns is not None else max(e.stamp_ns for e in edges)
        self.write_msg(name, msgdefs.TFMESSAGE, convert.tf_to_msg(edges), stamp, latched=static)
