"""Conversion between ROS 2 messages and core types.

``*_from_msg`` functions read any object with the ROS field names, so they
serve rosbags' message classes and rclpy's alike. ``*_to_msg`` functions build
rosbags message classes for writing bags. Malformed messages raise
:class:`~hullscan.errors.MessageError` naming the topic, field and value.
"""

from __future__ import annotations

import io
import math
import struct
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.bag import msgdefs
from hullscan.diagnostics import DropLog
from hullscan.errors import MessageError
from hullscan.model import (
    DEFAULT_BEAMWIDTH_RAD,
    DEFAULT_ELEVATION_APERTURE_RAD,
    CameraFrame,
    CameraModel,
    ImagingPing,
    MultibeamDetections,
    NavSample,
    PointsPing,
    ProfilingPing,
    Transform,
    TransformStamped,
)

# sensor_msgs/PointField datatypes
_POINTFIELD_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
_POINTFIELD_CODES = {np.dtype(v).str[1:]: k for k, v in _POINTFIELD_DTYPES.items()}
# marine_acoustic_msgs/SonarImageData dtypes
_SONAR_DTYPES = {0: "u1", 1: "i1", 2: "u2", 3: "i2", 4: "u4", 5: "i4", 6: "u8", 7: "i8", 8: "f4", 9: "f8"}


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _arr(value: Any, dtype: str) -> NDArray[Any]:
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return np.asarray(value, dtype=dtype)


# --------------------------------------------------------------------------- reading


def scan_from_msg(msg: Any, topic: str, beamwidth: float) -> ProfilingPing:
    """``sensor_msgs/LaserScan`` to a :class:`ProfilingPing`.

    Non-finite ranges become NaN (callers count them); ranges outside
    ``[range_min, range_max]`` are kept and gated later by the cleaning stage.
    """
    ranges = _arr(msg.ranges, "f4")
    inten = _arr(msg.intensities, "f4")
    n = ranges.shape[0]
    if inten.shape[0] not in (0, n):
        raise MessageError(
            f"{topic}: LaserScan.intensities has {inten.shape[0]} values but ranges has {n} "
            "(expected equal lengths or no intensities)"
        )
    inc = float(msg.angle_increment)
    if n and (not np.isfinite(inc) or inc == 0.0):
        raise MessageError(f"{topic}: LaserScan.angle_increment is {inc} (expected a finite non-zero value)")
    if n > 1:
        span_n = round((float(msg.angle_max) - float(msg.angle_min)) / inc) + 1
        if abs(span_n - n) > 1:
            raise MessageError(
                f"{topic}: LaserScan has {n} ranges but angle_min..angle_max / angle_increment "
                f"gives {span_n} beams (expected them to agree)"
            )
    angles = float(msg.angle_min) + inc * np.arange(n, dtype=np.float64)
    ranges = np.where(np.isfinite(ranges), ranges, np.nan).astype(np.float32)
    if inten.shape[0] == 0:
        inten = np.zeros(n, np.float32)
    return ProfilingPing(
        stamp_ns(msg.header), msg.header.frame_id, angles.astype(np.float32), ranges, inten,
        range_min=float(msg.range_min), range_max=float(msg.range_max), beamwidth=beamwidth,
    )


def points_from_msg(msg: Any, topic: str) -> PointsPing:
    """``sensor_msgs/PointCloud2`` with float ``x y z`` (and optional ``intensity``)."""
    fields = {f.name: f for f in msg.fields}
    missing = [k for k in ("x", "y", "z") if k not in fields]
    if missing:
        raise MessageError(f"{topic}: PointCloud2.fields lacks {missing} (expected x, y, z)")
    n = int(msg.width) * int(msg.height)
    step = int(msg.point_step)
    data = _arr(msg.data, "u1").tobytes() if not isinstance(msg.data, bytes | bytearray) else bytes(msg.data)
    if len(data) < n * step:
        raise MessageError(
            f"{topic}: PointCloud2.data has {len(data)} bytes, expected width*height*point_step = {n * step}"
        )
    end = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for name in ("x", "y", "z", "intensity"):
        if name not in fields:
            continue
        f = fields[name]
        if f.datatype not in _POINTFIELD_DTYPES:
            raise MessageError(f"{topic}: PointCloud2 field {name} has datatype {f.datatype} (expected 1..8)")
        names.append(name)
        formats.append(end + _POINTFIELD_DTYPES[f.datatype])
        offsets.append(int(f.offset))
    dt = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": step})
    rec = np.frombuffer(data, dtype=dt, count=n)
    pts = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float32)
    inten = rec["intensity"].astype(np.float32) if "intensity" in names else np.zeros(n, np.float32)
    return PointsPing(stamp_ns(msg.header), msg.header.frame_id, pts, inten)


def detections_from_msg(msg: Any, topic: str) -> MultibeamDetections:
    """``marine_acoustic_msgs/SonarDetections`` to :class:`MultibeamDetections`. Optional arrays
    (intensities, tx angles) may be empty; the others must have one value per beam."""
    twtt = _arr(msg.two_way_travel_times, "f4")
    n = twtt.shape[0]

    def per_beam(name: str, values: Any, fill: float) -> NDArray[np.float32]:
        a = _arr(values, "f4")
        if a.shape[0] == 0:
            return np.full(n, fill, np.float32)
        if a.shape[0] != n:
            raise MessageError(f"{topic}: SonarDetections.{name} has {a.shape[0]} values for {n} beams")
        return a

    rx = _arr(msg.rx_angles, "f4")
    if rx.shape[0] != n:
        raise MessageError(f"{topic}: SonarDetections.rx_angles has {rx.shape[0]} values for {n} beams")
    flags = np.array([f.flag for f in msg.flags], np.uint8) if len(msg.flags) else np.zeros(n, np.uint8)
    if flags.shape[0] != n:
        raise MessageError(f"{topic}: SonarDetections.flags has {flags.shape[0]} values for {n} beams")
    c = float(msg.ping_info.sound_speed)
    return MultibeamDetections(stamp_ns(msg.header), msg.header.frame_id, twtt, rx,
                               per_beam("tx_angles", msg.tx_angles, 0.0), flags,
                               per_beam("intensities", msg.intensities, 1.0), c if c > 0 else 1500.0)


def detections_to_msg(det: MultibeamDetections) -> Any:
    t = _t()
    flag = t["marine_acoustic_msgs/msg/DetectionFlag"]
    n = det.n_beams
    return t[msgdefs.SONAR_DETECTIONS](
        header=header(det.stamp_ns, det.frame_id),
        ping_info=t["marine_acoustic_msgs/msg/PingInfo"](
            frequency=0.0, sound_speed=det.sound_speed, tx_beamwidths=np.zeros(0, np.float32),
            rx_beamwidths=np.zeros(0, np.float32)),
        flags=[flag(flag=int(f)) for f in det.flags],
        two_way_travel_times=det.two_way_travel_times, tx_delays=np.zeros(n, np.float32),
        intensities=det.intensities, tx_angles=det.tx_angles, rx_angles=det.rx_angles,
    )


def ping_from_msg(msg: Any, topic: str, kind: str, beamwidth: float) -> ProfilingPing | PointsPing | ImagingPing:
    """A sonar message as its ping: ``kind`` ``scan`` (LaserScan, beams ``beamwidth`` rad wide),
    ``points`` (PointCloud2), ``detections`` (SonarDetections, as its 3-D returns) or ``image``
    (ProjectedSonarImage, :data:`~hullscan.model.DEFAULT_ELEVATION_APERTURE_RAD` of elevation
    aperture unless it gives its own)."""
    if kind == "scan":
        return scan_from_msg(msg, topic, beamwidth)
    if kind == "points":
        return points_from_msg(msg, topic)
    if kind == "detections":
        return detections_from_msg(msg, topic).to_points()
    return sonar_image_from_msg(msg, topic, DEFAULT_ELEVATION_APERTURE_RAD)


def sonar_image_from_msg(msg: Any, topic: str, default_aperture: float) -> ImagingPing:
    """``marine_acoustic_msgs/ProjectedSonarImage`` (range-major data) to an :class:`ImagingPing`."""
    dirs = np.array([[v.x, v.y, v.z] for v in msg.beam_directions], dtype=np.float32).reshape(-1, 3)
    ranges = _arr(msg.ranges, "f4")
    img = msg.image
    nb = int(img.beam_count)
    if nb != dirs.shape[0]:
        raise MessageError(
            f"{topic}: image.beam_count is {nb} but beam_directions has {dirs.shape[0]} entries"
        )
    if int(img.dtype) not in _SONAR_DTYPES:
        raise MessageError(f"{topic}: image.dtype is {img.dtype} (expected 0..9)")
    dt = np.dtype(_SONAR_DTYPES[int(img.dtype)]).newbyteorder(">" if img.is_bigendian else "<")
    raw = _arr(img.data, "u1").tobytes()
    want = nb * ranges.shape[0] * dt.itemsize
    if len(raw) != want:
        raise MessageError(
            f"{topic}: image.data has {len(raw)} bytes, expected beams x ranges x itemsize = {want}"
        )
    inten = np.frombuffer(raw, dtype=dt).reshape(ranges.shape[0], nb).astype(np.float32)
    norms = np.linalg.norm(dirs, axis=1)
    if nb and (not np.all(np.isfinite(norms)) or np.any(norms < 1e-6)):
        raise MessageError(f"{topic}: beam_directions contains zero or non-finite vectors")
    # Renormalise only vectors that are visibly off unit length, so exact data round-trips.
    off = np.abs(norms - 1.0) > 1e-5
    dirs[off] /= norms[off, None]
    tx = _arr(msg.ping_info.tx_beamwidths, "f4")
    rx = _arr(msg.ping_info.rx_beamwidths, "f4")
    aperture = float(np.median(tx)) if tx.size else default_aperture
    beamwidth = float(np.median(rx)) if rx.size else DEFAULT_BEAMWIDTH_RAD
    return ImagingPing(
        stamp_ns(msg.header), msg.header.frame_id, dirs, ranges, inten,
        beamwidth=beamwidth, elevation_aperture=aperture,
        sound_speed=float(msg.ping_info.sound_speed), frequency=float(msg.ping_info.frequency),
    )


def odom_from_msg(msg: Any, topic: str, drops: DropLog | None = None) -> NavSample:
    """``nav_msgs/Odometry`` to a :class:`NavSample` (sigma from the covariance diagonal)."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    pos = np.array([p.x, p.y, p.z], dtype=np.float64)
    quat = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.all(np.isfinite(pos)) or not np.all(np.isfinite(quat)) or np.linalg.norm(quat) < 1e-6:
        raise MessageError(f"{topic}: Odometry.pose has non-finite position or zero quaternion ({pos}, {quat})")
    _count_renorm(drops, topic, float(np.linalg.norm(quat)), stamp_ns(msg.header))
    cov = _arr(msg.pose.covariance, "f8")
    diag = np.sqrt(np.clip(np.diag(cov.reshape(6, 6)), 0.0, None)) if cov.size == 36 else np.zeros(6)
    v = msg.twist.twist.linear
    return NavSample(
        stamp_ns(msg.header), pos, quat, frame_id=msg.header.frame_id, child_frame=msg.child_frame_id,
        position_sigma=diag[:3], orientation_sigma=diag[3:], velocity=np.array([v.x, v.y, v.z]),
    )


# --------------------------------------------------------------------------- fast paths
#
# A survey bag is mostly Odometry and LaserScan messages; decoding them straight from
# little-endian CDR skips the generic deserializer (most of the read time). Anything
# unexpected (big-endian, short buffer) returns None and the caller decodes normally,
# so messages and errors are exactly those of the generic path.

_STAMP = struct.Struct("<iI")
_U32 = struct.Struct("<I")
_SCAN7 = struct.Struct("<7f")
_ODOM46 = struct.Struct("<46d")


def _cdr_string(data: bytes, o: int) -> tuple[str, int] | None:
    o = 4 + ((o - 4 + 3) & ~3)  # CDR alignment counts from the end of the 4-byte encapsulation header
    if o + 4 > len(data):
        return None
    (n,) = _U32.unpack_from(data, o)
    if n == 0 or o + 4 + n > len(data):
        return None
    return data[o + 4:o + 3 + n].decode("utf-8", "replace"), o + 4 + n


def _cdr_header(data: bytes) -> tuple[int, str, int] | None:
    if len(data) < 16 or data[0] != 0 or data[1] != 1:  # CDR little-endian only
        return None
    sec, nsec = _STAMP.unpack_from(data, 4)
    s = _cdr_string(data, 12)
    if s is None:
        return None
    return sec * 1_000_000_000 + nsec, s[0], s[1]


def _frozen(cls: type, **fields: Any) -> Any:
    """Build a frozen dataclass whose fields are already validated and converted."""
    obj: Any = object.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)
    return obj


def _ro(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


# A quaternion this far off unit length was not merely rounded: its renormalisation is counted.
QUAT_TOLERANCE = 1e-3


def _count_renorm(drops: DropLog | None, topic: str, norm: float, stamp: int) -> None:
    if drops is not None and abs(norm - 1.0) > QUAT_TOLERANCE:
        drops.add(topic, "quaternion_renormalised", 1, f"orientation norm {norm:.4f} at {stamp * 1e-9:.3f} s, "
                  "renormalised to 1")


def odom_from_cdr(data: bytes, topic: str, drops: DropLog | None = None) -> NavSample | None:
    """``nav_msgs/Odometry`` CDR bytes to a :class:`NavSample`, as :func:`odom_from_msg`
    (same checks, same values, same messages); None if the bytes need the generic path."""
    h = _cdr_header(data)
    if h is None:
        return None
    stamp, frame, o = h
    c = _cdr_string(data, o)
    if c is None:
        return None
    child, o = c
    o = 4 + ((o - 4 + 7) & ~7)
    if o + 85 * 8 > len(data):
        return None
    v = _ODOM46.unpack_from(data, o)  # position 3, orientation 4, pose covariance 36; twist linear 3
    if not all(map(math.isfinite, v[:7])) or math.sqrt(sum(x * x for x in v[3:7])) < 1e-6:
        pos, quat = np.array(v[:3]), np.array(v[3:7])
        raise MessageError(f"{topic}: Odometry.pose has non-finite position or zero quaternion ({pos}, {quat})")
    # Same steps and values as NavSample.__post_init__ (unit quaternion, read-only float64 arrays).
    quat = np.array(v[3:7])
    _count_renorm(drops, topic, math.sqrt(sum(x * x for x in v[3:7])), stamp)
    d = [math.sqrt(max(v[7 + 7 * i], 0.0)) for i in range(6)]
    return _frozen(
        NavSample, stamp_ns=stamp, position=_ro(np.array(v[:3])), orientation=_ro(quat / np.linalg.norm(quat)),
        frame_id=frame, child_frame=child, position_sigma=_ro(np.array(d[:3])),
        orientation_sigma=_ro(np.array(d[3:])), velocity=_ro(np.array(v[43:46])))


def scan_msg_from_cdr(data: bytes) -> Any | None:
    """``sensor_msgs/LaserScan`` CDR bytes to an object with the message's fields (for
    :func:`scan_from_msg`); None if the bytes need the generic path."""
    h = _cdr_header(data)
    if h is None:
        return None
    stamp, frame, o = h
    o = 4 + ((o - 4 + 3) & ~3)
    if o + 32 > len(data):
        return None
    a0, a1, inc, tinc, stime, rmin, rmax = _SCAN7.unpack_from(data, o)
    o += 28
    (n,) = _U32.unpack_from(data, o)
    o += 4
    if o + 4 * n + 4 > len(data):
        return None
    ranges = np.frombuffer(data, "<f4", n, o)
    o += 4 * n
    (ni,) = _U32.unpack_from(data, o)
    o += 4
    if o + 4 * ni > len(data):
        return None
    inten = np.frombuffer(data, "<f4", ni, o)
    header = SimpleNamespace(stamp=SimpleNamespace(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
                             frame_id=frame)
    return SimpleNamespace(header=header, angle_min=a0, angle_max=a1, angle_increment=inc, time_increment=tinc,
                           scan_time=stime, range_min=rmin, range_max=rmax, ranges=ranges, intensities=inten)


def tf_from_msg(msg: Any, topic: str, static: bool) -> list[TransformStamped]:
    out = []
    for i, t in enumerate(msg.transforms):
        tr, r = t.transform.translation, t.transform.rotation
        try:
            tf = Transform(np.array([r.x, r.y, r.z, r.w]), np.array([tr.x, tr.y, tr.z]))
        except ValueError as err:
            raise MessageError(f"{topic}: transforms[{i}] ({t.child_frame_id}): {err}") from err
        out.append(TransformStamped(stamp_ns(t.header), t.header.frame_id, t.child_frame_id, tf, static))
    return out


def _decode_image_bytes(data: bytes, fmt: str, topic: str) -> NDArray[np.uint8]:
    try:
        from PIL import Image as PILImage
    except ImportError as err:  # pragma: no cover - pillow is a dependency
        raise MessageError("decoding CompressedImage needs pillow: pip install pillow") from err
    try:
        with PILImage.open(io.BytesIO(data)) as src:
            im = src.convert("L") if src.mode in ("L", "I;16") else src.convert("RGB")
            return np.asarray(im, dtype=np.uint8)
    except Exception as err:  # PIL raises many types for bad data
        raise MessageError(f"{topic}: CompressedImage.data ({fmt!r}) could not be decoded: {err}") from err


def image_from_msg(msg: Any, topic: str) -> CameraFrame:
    """``sensor_msgs/Image`` (mono8, rgb8, bgr8) to a :class:`CameraFrame`."""
    h, w, step, enc = int(msg.height), int(msg.width), int(msg.step), str(msg.encoding)
    chans = {"mono8": 1, "8UC1": 1, "rgb8": 3, "bgr8": 3, "8UC3": 3}
    if enc not in chans:
        raise MessageError(f"{topic}: Image.encoding is {enc!r} (expected mono8, rgb8 or bgr8)")
    if h == 0 or w == 0:
        raise MessageError(f"{topic}: Image is empty ({w}x{h})")
    data = _arr(msg.data, "u1")
    if data.size < h * step or step < w * chans[enc]:
        raise MessageError(f"{topic}: Image.data has {data.size} bytes, expected height*step = {h * step}")
    img = data[: h * step].reshape(h, step)[:, : w * chans[enc]]
    img = img.reshape(h, w, 3) if chans[enc] == 3 else img.reshape(h, w)
    if enc == "bgr8":
        img = img[:, :, ::-1]
    return CameraFrame(stamp_ns(msg.header), msg.header.frame_id, img, compressed=False,
                       format="mono8" if chans[enc] == 1 else "rgb8")


def compressed_from_msg(msg: Any, topic: str) -> CameraFrame:
    fmt = str(msg.format)
    data = _arr(msg.data, "u1").tobytes()
    if not data:
        raise MessageError(f"{topic}: CompressedImage.data is empty")
    img = _decode_image_bytes(data, fmt, topic)
    kind = "png" if "png" in fmt.lower() else "jpeg"
    return CameraFrame(stamp_ns(msg.header), msg.header.frame_id, img, compressed=True, format=kind)


def camera_info_from_msg(msg: Any, topic: str) -> CameraModel:
    k = _arr(msg.k, "f8")
    if k.size != 9 or k[0] <= 0 or k[4] <= 0:
        raise MessageError(f"{topic}: CameraInfo.k is {k.tolist()} (expected 9 values with fx, fy > 0)")
    return CameraModel(stamp_ns(msg.header), msg.header.frame_id, int(msg.width), int(msg.height),
                       k.reshape(3, 3), _arr(msg.d, "f8"), str(msg.distortion_model))


# --------------------------------------------------------------------------- writing


def _t() -> Any:
    return msgdefs.typestore().types


def header(stamp: int, frame_id: str) -> Any:
    t = _t()
    return t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
        frame_id=frame_id,
    )


def scan_to_msg(ping: ProfilingPing) -> Any:
    n = ping.n_beams
    inc = float(ping.angles[1] - ping.angles[0]) if n > 1 else 0.0
    return _t()[msgdefs.LASERSCAN](
        header=header(ping.stamp_ns, ping.frame_id),
        angle_min=float(ping.angles[0]) if n else 0.0,
        angle_max=float(ping.angles[-1]) if n else 0.0,
        angle_increment=inc, time_increment=0.0, scan_time=0.0,
        range_min=ping.range_min, range_max=ping.range_max,
        ranges=np.asarray(ping.ranges, np.float32), intensities=np.asarray(ping.intensities, np.float32),
    )


def points_to_msg(ping: PointsPing) -> Any:
    t = _t()
    n = ping.points.shape[0]
    rec = np.empty(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4")])
    rec["x"], rec["y"], rec["z"] = ping.points[:, 0], ping.points[:, 1], ping.points[:, 2]
    rec["intensity"] = ping.intensities
    pf = t["sensor_msgs/msg/PointField"]
    fields = [pf(name=name, offset=4 * i, datatype=7, count=1) for i, name in enumerate(["x", "y", "z", "intensity"])]
    return t[msgdefs.POINTCLOUD2](
        header=header(ping.stamp_ns, ping.frame_id), height=1, width=n, fields=fields,
        is_bigendian=False, point_step=16, row_step=16 * n,
        data=np.frombuffer(rec.tobytes(), np.uint8), is_dense=bool(np.all(np.isfinite(ping.points))),
    )


def sonar_image_to_msg(ping: ImagingPing, dtype: int = 8, bigendian: bool = False) -> Any:
    """Write range-major intensities with the given SonarImageData dtype and byte order."""
    t = _t()
    v3 = t["geometry_msgs/msg/Vector3"]
    dt = np.dtype(_SONAR_DTYPES[dtype]).newbyteorder(">" if bigendian else "<")
    data = np.ascontiguousarray(ping.intensities).astype(dt).tobytes()
    nb = ping.n_beams
    return t[msgdefs.SONAR_IMAGE](
        header=header(ping.stamp_ns, ping.frame_id),
        ping_info=t["marine_acoustic_msgs/msg/PingInfo"](
            frequency=ping.frequency, sound_speed=ping.sound_speed,
            tx_beamwidths=np.full(nb, ping.elevation_aperture, np.float32),
            rx_beamwidths=np.full(nb, ping.beamwidth, np.float32),
        ),
        beam_directions=[v3(x=float(d[0]), y=float(d[1]), z=float(d[2])) for d in ping.beam_directions],
        ranges=np.asarray(ping.ranges, np.float32),
        image=t["marine_acoustic_msgs/msg/SonarImageData"](
            is_bigendian=bigendian, dtype=dtype, beam_count=nb, data=np.frombuffer(data, np.uint8),
        ),
    )


def _pose_msgs(position: NDArray[Any], orientation: NDArray[Any]) -> tuple[Any, Any]:
    t = _t()
    p = t["geometry_msgs/msg/Point"](x=float(position[0]), y=float(position[1]), z=float(position[2]))
    q = t["geometry_msgs/msg/Quaternion"](x=float(orientation[0]), y=float(orientation[1]),
                                          z=float(orientation[2]), w=float(orientation[3]))
    return p, q


def odom_to_msg(nav: NavSample) -> Any:
    t = _t()
    p, q = _pose_msgs(nav.position, nav.orientation)
    cov = np.zeros(36)
    cov[[0, 7, 14]] = nav.position_sigma**2
    cov[[21, 28, 35]] = nav.orientation_sigma**2
    v3 = t["geometry_msgs/msg/Vector3"]
    return t[msgdefs.ODOMETRY](
        header=header(nav.stamp_ns, nav.frame_id), child_frame_id=nav.child_frame,
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=t["geometry_msgs/msg/Pose"](position=p, orientation=q),
                                                       covariance=cov),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](
            twist=t["geometry_msgs/msg/Twist"](
                linear=v3(x=float(nav.velocity[0]), y=float(nav.velocity[1]), z=float(nav.velocity[2])),
                angular=v3(x=0.0, y=0.0, z=0.0)),
            covariance=np.zeros(36)),
    )


def tf_to_msg(edges: list[TransformStamped]) -> Any:
    t = _t()
    v3 = t["geometry_msgs/msg/Vector3"]
    out = []
    for e in edges:
        tr, r = e.transform.translation, e.transform.rotation
        out.append(t["geometry_msgs/msg/TransformStamped"](
            header=header(e.stamp_ns, e.parent_frame), child_frame_id=e.child_frame,
            transform=t["geometry_msgs/msg/Transform"](
                translation=v3(x=float(tr[0]), y=float(tr[1]), z=float(tr[2])),
                rotation=t["geometry_msgs/msg/Quaternion"](x=float(r[0]), y=float(r[1]), z=float(r[2]),
                                                            w=float(r[3])))))
    return t[msgdefs.TFMESSAGE](transforms=out)


def image_to_msg(frame: CameraFrame) -> Any:
    img = frame.image
    h, w = img.shape[:2]
    mono = img.ndim == 2
    return _t()[msgdefs.IMAGE](
        header=header(frame.stamp_ns, frame.frame_id), height=h, width=w,
        encoding="mono8" if mono else "rgb8", is_bigendian=0, step=w if mono else 3 * w,
        data=np.ascontiguousarray(img).reshape(-1),
    )


def compressed_to_msg(frame: CameraFrame, quality: int = 90) -> Any:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    fmt = "png" if frame.format == "png" else "jpeg"
    PILImage.fromarray(np.asarray(frame.image)).save(buf, format=fmt.upper(), quality=quality)
    return _t()[msgdefs.COMPRESSED_IMAGE](
        header=header(frame.stamp_ns, frame.frame_id), format=fmt,
        data=np.frombuffer(buf.getvalue(), np.uint8),
    )


def camera_info_to_msg(cam: CameraModel) -> Any:
    t = _t()
    p = np.zeros((3, 4))
    p[:3, :3] = cam.k
    return t[msgdefs.CAMERA_INFO](
        header=header(cam.stamp_ns, cam.frame_id), height=cam.height, width=cam.width,
        distortion_model=cam.distortion_model, d=np.asarray(cam.d, np.float64),
        k=cam.k.reshape(-1).astype(np.float64), r=np.eye(3).reshape(-1), p=p.reshape(-1),
        binning_x=0, binning_y=0,
        roi=t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )
