"""Core types to rclpy messages, and the hullscan output messages back to arrays.

The reverse direction for the input contract is :mod:`hullscan.bag.convert`, whose
``*_from_msg`` functions read rclpy messages as they are. Output messages (hull
cloud, findings, reference mesh) are built here so every node, the player and the
operator view agree on fields, frames and colours.
"""

from __future__ import annotations

import array
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion, Vector3
from nav_msgs.msg import Odometry, Path
from numpy.typing import NDArray
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from hullscan.errors import MessageError
from hullscan.model import (
    CameraFrame,
    CameraModel,
    Finding,
    HullCloud,
    NavSample,
    PointsPing,
    ProfilingPing,
    Transform,
)
from hullscan.recon.mounts import mount_from_params as mount_from_params
from hullscan.recon.mounts import mounts_from_json as mounts_from_json
from hullscan.recon.mounts import mounts_json as mounts_json

NS = 1_000_000_000


def stamp(stamp_ns: int) -> Time:
    return Time(sec=int(stamp_ns // NS), nanosec=int(stamp_ns % NS))


def header(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=stamp(stamp_ns), frame_id=frame_id)


def _f32(values: NDArray[Any]) -> array.array[float]:
    # array.array is rclpy's fast path for float32[] fields.
    return array.array("f", np.ascontiguousarray(values, np.float32).tobytes())


# --------------------------------------------------------------------------- inputs (player)


def laserscan(ping: ProfilingPing) -> LaserScan:
    n = ping.n_beams
    msg = LaserScan()
    msg.header = header(ping.stamp_ns, ping.frame_id)
    msg.angle_min = float(ping.angles[0]) if n else 0.0
    msg.angle_max = float(ping.angles[-1]) if n else 0.0
    msg.angle_increment = float(ping.angles[1] - ping.angles[0]) if n > 1 else 0.0
    msg.range_min = float(ping.range_min)
    msg.range_max = float(ping.range_max)
    msg.ranges = _f32(ping.ranges)
    msg.intensities = _f32(ping.intensities)
    return msg


def _cloud_msg(stamp_ns: int, frame_id: str, columns: dict[str, NDArray[Any]]) -> PointCloud2:
    """A dense, little-endian PointCloud2 with one float32 (or int32) field per column."""
    n = len(next(iter(columns.values()))) if columns else 0
    dt = np.dtype([(k, "<i4" if v.dtype.kind in "iu" else "<f4") for k, v in columns.items()])
    rec = np.empty(n, dtype=dt)
    for k, v in columns.items():
        rec[k] = v
    fields = [PointField(name=k, offset=int(dt.fields[k][1]) if dt.fields else 0, datatype=5 if dt[k].kind == "i" else 7, count=1)
              for k in columns]
    msg = PointCloud2(header=header(stamp_ns, frame_id), height=1, width=n, fields=fields,
                      is_bigendian=False, point_step=dt.itemsize, row_step=dt.itemsize * n, is_dense=True)
    msg.data = rec.tobytes()
    return msg


def pointcloud(ping: PointsPing) -> PointCloud2:
    p = ping.points
    return _cloud_msg(ping.stamp_ns, ping.frame_id,
                      {"x": p[:, 0], "y": p[:, 1], "z": p[:, 2], "intensity": ping.intensities})


def _pose(position: Sequence[float] | NDArray[Any], orientation: Sequence[float] | NDArray[Any]) -> Pose:
    return Pose(position=Point(x=float(position[0]), y=float(position[1]), z=float(position[2])),
                orientation=Quaternion(x=float(orientation[0]), y=float(orientation[1]),
                                       z=float(orientation[2]), w=float(orientation[3])))


def odometry(nav: NavSample) -> Odometry:
    msg = Odometry()
    msg.header = header(nav.stamp_ns, nav.frame_id)
    msg.child_frame_id = nav.child_frame
    msg.pose.pose = _pose(nav.position, nav.orientation)
    cov = np.zeros(36)
    cov[[0, 7, 14]] = nav.position_sigma**2
    cov[[21, 28, 35]] = nav.orientation_sigma**2
    msg.pose.covariance = cov.tolist()
    v = nav.velocity
    msg.twist.twist.linear = Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))
    return msg


def image(frame: CameraFrame) -> Image:
    img = np.ascontiguousarray(frame.image)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else 3
    msg = Image(header=header(frame.stamp_ns, frame.frame_id), height=h, width=w,
                encoding="mono8" if ch == 1 else "rgb8", is_bigendian=0, step=w * ch)
    msg.data = img.tobytes()
    return msg


def compressed_image(frame: CameraFrame) -> CompressedImage:
    import io

    from PIL import Image as PILImage

    buf = io.BytesIO()
    kind = "png" if frame.format == "png" else "jpeg"
    PILImage.fromarray(np.asarray(frame.image)).save(buf, format=kind.upper())
    msg = CompressedImage(header=header(frame.stamp_ns, frame.frame_id), format=kind)
    msg.data = buf.getvalue()
    return msg


def camera_info(model: CameraModel) -> CameraInfo:
    msg = CameraInfo(header=header(model.stamp_ns, model.frame_id), width=model.width, height=model.height,
                     distortion_model=model.distortion_model)
    msg.k = np.asarray(model.k, np.float64).ravel().tolist()
    msg.d = np.asarray(model.d, np.float64).tolist()
    return msg


def clock(stamp_ns: int) -> Clock:
    return Clock(clock=stamp(stamp_ns))


# The mounting list and parameter helpers are ROS-free: hullscan.recon.mounts (re-exported here).


# --------------------------------------------------------------------------- outputs


def hull_cloud(cloud: HullCloud, stamp_ns: int, deviation: NDArray[Any] | None = None) -> PointCloud2:
    """The hull map: xyz, normals, confidence, hits, sigma and deviation (NaN where unknown); where
    the cloud keeps when each point was seen, first_seen and last_seen as well (s relative to
    ``stamp_ns``: :data:`hullscan.core.display.TIME_FIELDS`)."""
    from hullscan.core.display import ages

    n = len(cloud)
    dev = np.full(n, np.nan, np.float32) if deviation is None else np.asarray(deviation, np.float32)
    p, nr = cloud.points, cloud.normals
    columns: dict[str, NDArray[Any]] = {
        "x": p[:, 0], "y": p[:, 1], "z": p[:, 2],
        "normal_x": nr[:, 0], "normal_y": nr[:, 1], "normal_z": nr[:, 2],
        "deviation": dev, "confidence": cloud.confidence, "hits": cloud.hits, "sigma": cloud.sigma,
    }
    if cloud.has_times and cloud.seen_t0_ns is not None:
        assert cloud.seen_first_s is not None and cloud.seen_last_s is not None
        offset = (cloud.seen_t0_ns - stamp_ns) * 1e-9
        columns.update(first_seen=ages(cloud.seen_first_s, offset), last_seen=ages(cloud.seen_last_s, offset))
    return _cloud_msg(stamp_ns, cloud.frame_id, columns)


def byte_array(n: int) -> array.array[int]:
    """A zeroed byte array: message data rclpy takes without a copy."""
    return array.array("B", b"\0") * n


def hull_cloud_packed(data: Any, rows: int, stamp_ns: int, frame_id: str) -> PointCloud2:
    """The :func:`hull_cloud` message around rows already packed in that layout
    (:data:`hullscan.core.display.ROW_FIELDS`, and :data:`~hullscan.core.display.TIME_FIELDS` when the
    rows are 48 bytes, their ages relative to ``stamp_ns``; ``data`` an ``array.array('B')`` is taken
    as is)."""
    from hullscan.core.display import ROW_BYTES, ROW_FIELDS, TIME_FIELDS, TIMED_ROW_BYTES

    step = len(data) // rows if rows else ROW_BYTES
    if step not in (ROW_BYTES, TIMED_ROW_BYTES) or len(data) != rows * step:
        raise MessageError(f"hull cloud: {len(data)} bytes for {rows} rows of {ROW_BYTES} or {TIMED_ROW_BYTES}")
    names = ROW_FIELDS + (TIME_FIELDS if step == TIMED_ROW_BYTES else ())
    fields = [PointField(name=k, offset=4 * i, datatype=5 if k == "hits" else 7, count=1)
              for i, k in enumerate(names)]
    msg = PointCloud2(header=header(stamp_ns, frame_id), height=1, width=rows, fields=fields,
                      is_bigendian=False, point_step=step, row_step=step * rows, is_dense=True)
    msg.data = data
    return msg


def cloud_fields(msg: Any) -> dict[str, NDArray[Any]]:
    """Every field of a PointCloud2 as an array (checked against the data length)."""
    n = int(msg.width) * int(msg.height)
    step = int(msg.point_step)
    codes = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
    end = ">" if msg.is_bigendian else "<"
    bad = [f.name for f in msg.fields if f.datatype not in codes]
    if bad:
        raise MessageError(f"PointCloud2 fields {bad} have unknown datatypes")
    data = bytes(msg.data)
    if len(data) < n * step:
        raise MessageError(f"PointCloud2.data has {len(data)} bytes, expected width*height*point_step = {n * step}")
    dt = np.dtype({"names": [f.name for f in msg.fields], "formats": [end + codes[f.datatype] for f in msg.fields],
                   "offsets": [int(f.offset) for f in msg.fields], "itemsize": step})
    rec = np.frombuffer(data, dtype=dt, count=n)
    return {name: np.array(rec[name]) for name in dt.names or ()}


def hull_cloud_from_msg(msg: Any) -> tuple[HullCloud, NDArray[np.float32]]:
    """A hull map message back to a :class:`HullCloud` and its deviation (NaN where unknown)."""
    f = cloud_fields(msg)
    missing = [k for k in ("x", "y", "z") if k not in f]
    if missing:
        raise MessageError(f"hull cloud lacks fields {missing}")
    n = len(f["x"])
    pts = np.stack([f["x"], f["y"], f["z"]], axis=1).astype(np.float64)
    nrm = (np.stack([f["normal_x"], f["normal_y"], f["normal_z"]], axis=1) if "normal_x" in f
           else np.zeros((n, 3), np.float32))
    ok = np.all(np.isfinite(pts), axis=1)
    first = last = t0 = None
    if "first_seen" in f and "last_seen" in f and np.isfinite(f["first_seen"][ok]).any():
        # Ages relative to the stamp back to seconds since the earliest first sight (float32 keeps
        # a millisecond over an hour from there).
        stamp = NS * int(msg.header.stamp.sec) + int(msg.header.stamp.nanosec)
        earliest = float(np.nanmin(f["first_seen"][ok]))
        t0 = stamp + round(earliest * 1e9)
        first = (f["first_seen"][ok].astype(np.float64) - earliest).astype(np.float32)
        last = (f["last_seen"][ok].astype(np.float64) - earliest).astype(np.float32)
    cloud = HullCloud(pts[ok], nrm[ok], f.get("confidence", np.ones(n, np.float32))[ok],
                      f.get("hits", np.ones(n, np.int32))[ok], f.get("sigma", np.zeros(n, np.float32))[ok],
                      msg.header.frame_id or "odom", seen_first_s=first, seen_last_s=last, seen_t0_ns=t0)
    dev = f.get("deviation", np.full(n, np.nan, np.float32))[ok].astype(np.float32)
    return cloud, dev


def pose_stamped(stamp_ns: int, position: Sequence[float] | NDArray[Any],
                 orientation: Sequence[float] | NDArray[Any], frame_id: str) -> PoseStamped:
    return PoseStamped(header=header(int(stamp_ns), frame_id), pose=_pose(position, orientation))


def path(stamps_ns: Sequence[int], positions: NDArray[Any], orientations: NDArray[Any], frame_id: str) -> Path:
    msg = Path(header=header(int(stamps_ns[-1]) if len(stamps_ns) else 0, frame_id))
    msg.poses = [pose_stamped(t, p, q, frame_id) for t, p, q in zip(stamps_ns, positions, orientations, strict=True)]
    return msg


def risk_colour(risk: float, alpha: float = 0.6) -> ColorRGBA:
    """Green (0) -> yellow (0.5) -> red (1)."""
    r = float(np.clip(risk, 0.0, 1.0))
    return ColorRGBA(r=min(1.0, 2 * r), g=min(1.0, 2 * (1 - r)), b=0.0, a=alpha)


def finding_label(f: Finding) -> str:
    size = np.subtract(f.bbox_max, f.bbox_min)
    # The passes only where the map said when it saw what (a map restored from a checkpoint written without them does not).
    seen = "" if f.passes is None else f", {f.passes} pass{'es' if f.passes != 1 else ''}"
    fit = f"declared {f.fitting.kind} {f.fitting.id}: " if f.fitting is not None and f.fitting.explained else ""
    return (f"{fit}{f.id} {f.kind} {size[0]:.2f}x{size[1]:.2f}x{size[2]:.2f} m\n"
            f"{f.region} ({f.side}) {f.volume_m3 * 1000:.0f} L risk {f.risk:.2f}{seen}")


def finding_markers(findings: Sequence[Finding], hull_to_nav: Transform, frame_id: str,
                    stamp_ns: int, banner: str = "", corrected: bool = False,
                    at: Sequence[float] | NDArray[Any] | None = None) -> MarkerArray:
    """Findings as boxes (oriented with the hull) and labels, in the navigation frame; ``banner``: a
    line over them (``ns=hullscan_status``, at ``at``) saying which navigation they rest on, amber
    unless ``corrected`` (the map's drift corrected). No banner: an earlier one goes away."""
    out = MarkerArray()
    out.markers.append(Marker(header=header(stamp_ns, frame_id), ns="findings", action=Marker.DELETEALL))
    q = hull_to_nav.rotation
    for i, f in enumerate(findings):
        lo, hi = np.asarray(f.bbox_min), np.asarray(f.bbox_max)
        centre = hull_to_nav.apply((lo + hi) / 2)
        size = np.maximum(hi - lo, 0.02)
        box = Marker(header=header(stamp_ns, frame_id), ns="findings", id=2 * i, type=Marker.CUBE,
                     action=Marker.ADD, pose=_pose(centre, q),
                     # A finding the ship's plan explains (an anode) in grey: seen, not suspect.
                     color=ColorRGBA(r=0.6, g=0.6, b=0.6, a=0.6) if f.fitting is not None and f.fitting.explained
                     else risk_colour(f.risk))
        box.scale = Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))
        box.text = f.id
        label = Marker(header=header(stamp_ns, frame_id), ns="findings", id=2 * i + 1,
                       type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                       pose=_pose(centre + hull_to_nav.rot.apply([0, 0, size[2] / 2 + 0.3]), q),
                       color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0), text=finding_label(f))
        label.scale.z = 0.15
        out.markers += [box, label]
    if banner:
        colour = ColorRGBA(r=0.7, g=1.0, b=0.7, a=1.0) if corrected else ColorRGBA(r=1.0, g=0.75, b=0.0, a=1.0)
        out.markers.append(status_marker(banner, np.zeros(3) if at is None else at, colour, frame_id, stamp_ns, 0.5))
    else:  # a banner of an earlier (failed) inspection goes away
        out.markers.append(Marker(header=header(stamp_ns, frame_id), ns=STATUS_NS, id=0, action=Marker.DELETE))
    return out


STATUS_NS = "hullscan_status"


def failure_markers(text: str, position: Sequence[float] | NDArray[Any], frame_id: str,
                    stamp_ns: int) -> MarkerArray:
    """No findings, and a red banner (``ns=hullscan_status``) saying why: a failed inspection must
    not look like a clean hull."""
    out = MarkerArray()
    out.markers.append(Marker(header=header(stamp_ns, frame_id), ns="findings", action=Marker.DELETEALL))
    out.markers.append(status_marker(text, position, ColorRGBA(r=1.0, g=0.1, b=0.1, a=1.0), frame_id, stamp_ns))
    return out


def status_marker(text: str, position: Sequence[float] | NDArray[Any], colour: ColorRGBA, frame_id: str,
                  stamp_ns: int, height_m: float = 1.0) -> Marker:
    """The one line of text (``ns=hullscan_status``, id 0) over the findings, ``height_m`` tall."""
    m = Marker(header=header(stamp_ns, frame_id), ns=STATUS_NS, id=0, type=Marker.TEXT_VIEW_FACING,
               action=Marker.ADD, pose=_pose(position, (0.0, 0.0, 0.0, 1.0)), color=colour, text=text)
    m.scale.z = height_m
    return m


def banner_position(points: NDArray[Any]) -> NDArray[np.float64]:
    """Where a banner goes (3,): a metre above the middle of the map ``points`` (N, 3)."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    if not len(pts):
        return np.zeros(3)
    return pts.mean(axis=0) + np.array([0.0, 0.0, float(np.ptp(pts[:, 2])) / 2 + 1.0])


def unseen_markers(points_nav: NDArray[Any], cell_m: float, frame_id: str, stamp_ns: int,
                   uncertain_nav: NDArray[Any] | None = None, uneven_nav: NDArray[Any] | None = None) -> MarkerArray:
    """Areas not inspected as CUBE_LISTs: never seen (id 0, purple), seen but too uncertain to
    clear (id 1, amber; ``uncertain_nav``: another, closer or slower pass would help) and seen where
    another pass alone may not clear it (id 2, brown; ``uneven_nav``: uneven surface, the reference's
    relief beside it, plating reading low)."""
    out = MarkerArray()
    out.markers.append(Marker(header=header(stamp_ns, frame_id), ns="unseen", action=Marker.DELETEALL))
    for i, (pts, color) in enumerate(((points_nav, ColorRGBA(r=0.6, g=0.2, b=0.8, a=0.5)),
                                      (uncertain_nav, ColorRGBA(r=0.9, g=0.6, b=0.1, a=0.35)),
                                      (uneven_nav, ColorRGBA(r=0.55, g=0.35, b=0.15, a=0.45)))):
        if pts is None or (i == 2 and not len(pts)):
            continue
        m = Marker(header=header(stamp_ns, frame_id), ns="unseen", id=i, type=Marker.CUBE_LIST,
                   action=Marker.ADD, color=color)
        m.pose.orientation.w = 1.0
        m.scale = Vector3(x=cell_m, y=cell_m, z=cell_m)
        m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in np.asarray(pts).reshape(-1, 3)]
        out.markers.append(m)
    return out


def lane_path(waypoints_nav: NDArray[Any], frame_id: str, stamp_ns: int) -> Path:
    """Waypoints (K, 3, navigation frame) as a ``nav_msgs/Path``, each pose heading along its leg
    (the last keeps the last leg's heading), so a vehicle's path follower can fly it as it is."""
    wp = np.asarray(waypoints_nav, np.float64).reshape(-1, 3)
    legs = np.diff(wp, axis=0)
    yaw = np.arctan2(legs[:, 1], legs[:, 0]) if len(legs) else np.zeros(0)
    yaw = np.r_[yaw, yaw[-1:]] if len(yaw) else np.zeros(len(wp))
    quats = np.stack([np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2), np.cos(yaw / 2)], 1)
    return path([int(stamp_ns)] * len(wp), wp, quats, frame_id)


def gap_markers(gaps: Sequence[Any], hull_to_nav: Transform, frame_id: str, stamp_ns: int,
                lane_nav: NDArray[Any] | None = None, top: int = 5) -> MarkerArray:
    """The ``top`` worst gaps (:class:`hullscan.plan.gaps.Gap`, hull frame) as boxes coloured by
    risk with a label, and the next suggested lane (``lane_nav``, navigation frame) as a line."""
    out = MarkerArray()
    out.markers.append(Marker(header=header(stamp_ns, frame_id), ns="gaps", action=Marker.DELETEALL))
    q = hull_to_nav.rotation
    for i, g in enumerate(gaps[:top]):
        lo = np.array([g.x_range[0], g.centre[1] - 0.25, g.z_range[0]])
        hi = np.array([g.x_range[1], g.centre[1] + 0.25, g.z_range[1]])
        centre = hull_to_nav.apply((lo + hi) / 2)
        box = Marker(header=header(stamp_ns, frame_id), ns="gaps", id=2 * i, type=Marker.CUBE, action=Marker.ADD,
                     pose=_pose(centre, q), color=risk_colour(g.risk_weight, 0.3))
        size = np.maximum(hi - lo, 0.1)
        box.scale = Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))
        label = Marker(header=header(stamp_ns, frame_id), ns="gaps", id=2 * i + 1, type=Marker.TEXT_VIEW_FACING,
                       action=Marker.ADD, pose=_pose(centre, q), color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                       text=f"gap {i + 1}: {g.label()}")
        label.scale.z = 0.3
        out.markers += [box, label]
    if lane_nav is not None and len(lane_nav) >= 2:
        line = Marker(header=header(stamp_ns, frame_id), ns="gaps", id=1000, type=Marker.LINE_STRIP,
                      action=Marker.ADD, color=ColorRGBA(r=0.1, g=0.8, b=1.0, a=1.0))
        line.pose.orientation.w = 1.0
        line.scale.x = 0.15
        line.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in np.asarray(lane_nav)]
        out.markers.append(line)
    return out


def mesh_marker(vertices: NDArray[Any], faces: NDArray[Any], hull_to_nav: Transform, frame_id: str,
                max_faces: int = 60_000) -> Marker:
    """The reference hull as a TRIANGLE_LIST (faces subsampled evenly above ``max_faces``)."""
    f = np.asarray(faces)
    if len(f) > max_faces:
        f = f[np.linspace(0, len(f) - 1, max_faces).astype(np.int64)]
    tri = hull_to_nav.apply(np.asarray(vertices, np.float64)[f.reshape(-1)])
    m = Marker(header=header(0, frame_id), ns="reference", id=0, type=Marker.TRIANGLE_LIST, action=Marker.ADD,
               color=ColorRGBA(r=0.55, g=0.6, b=0.7, a=0.35))
    m.pose.orientation.w = 1.0
    m.scale = Vector3(x=1.0, y=1.0, z=1.0)
    m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in tri]
    return m


def findings_json(findings: Sequence[Finding], hull_to_nav: Transform, **extra: Any) -> str:
    rows = []
    for f in findings:
        row = asdict(f)
        row["centroid_nav"] = hull_to_nav.apply(np.asarray(f.centroid)).tolist()
        rows.append(row)
    return json.dumps({**extra, "hull_to_nav": hull_to_nav.as_dict(), "findings": rows}, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def diagnostic(name: str, level: int, message: str, values: dict[str, object]) -> DiagnosticStatus:
    return DiagnosticStatus(level=bytes([level]), name=name, message=message, hardware_id="hullscan",
                            values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()])
