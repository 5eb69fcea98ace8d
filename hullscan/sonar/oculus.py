"""Blueprint Subsea Oculus multibeam imaging sonar: the wire format of a "simple ping result".

Written from the format facts (field order and sizes), not from any vendor or GPL source.
Everything is little-endian and byte-packed. A message is a 16-byte header followed by
``payload_size`` bytes:

header (16 B)          u16 oculus_id (0x4F53), u16 source device, u16 destination device,
                       u16 message id (0x23 = simple ping result), u16 message version,
                       u32 payload size, u16 spare
simple-fire part       u8 master mode (1 low frequency / wide, 2 high frequency / narrow),
(37 B, offset 16)      u8 ping rate, u8 network speed, u8 gamma, u8 flags, f64 range demand,
                       f64 gain %, f64 speed of sound demand, f64 salinity
ping result (69 B,     u32 ping id, u32 status, f64 frequency (Hz), f64 temperature (deg C),
offset 53)             f64 pressure (bar), f64 speed of sound used (m/s), u32 ping start time,
                       u8 data size (0: 8 bit, 1: 16 bit, 2: 24 bit, 3: 32 bit),
                       f64 range resolution (m per range line), u16 ranges, u16 beams,
                       u32 image offset (from the message start), u32 image size, u32 message size
bearings (offset 122)  i16 x beams, hundredths of a degree from the boresight
image                  ``ranges`` rows of ``beams`` samples (range-major); with the gain flag
                       (flags bit 2) every row starts with a 4-byte gain word

Only message version 0 of the simple ping result is read; other messages in a capture (status,
user config, version 2 pings) are skipped and counted, never dropped silently.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import ImagingPing

OCULUS_ID = 0x4F53
SIMPLE_PING_RESULT = 0x23
HEADER = struct.Struct("<HHHHHIH")                   # 16 bytes
FIRE = struct.Struct("<BBBBBdddd")                   # 37 bytes, after the header
RESULT = struct.Struct("<IIddddIBdHHIII")            # 69 bytes, after the fire part
FIRE_OFFSET = HEADER.size
RESULT_OFFSET = FIRE_OFFSET + FIRE.size              # 53
BEARINGS_OFFSET = RESULT_OFFSET + RESULT.size        # 122
_SAMPLE_DTYPES: dict[int, np.dtype[Any]] = {0: np.dtype("<u1"), 1: np.dtype("<u2"), 3: np.dtype("<u4")}
_GAIN_BYTES = 4


class OculusFormatError(HullscanError):
    """An Oculus capture is not the expected wire format (names the file, byte offset and field)."""


@dataclass(frozen=True, eq=False)
class OculusPing:
    """One simple ping result as sent by the sonar. ``intensities`` (ranges, beams) is range-major."""

    source_device: int
    message_version: int
    master_mode: int
    flags: int
    range_demand: float
    gain_percent: float
    ping_id: int
    frequency_hz: float
    speed_of_sound: float
    ping_start_time: int
    range_resolution: float
    bearings_deg: NDArray[np.float64]
    intensities: NDArray[np.uint8] | NDArray[np.uint16] | NDArray[np.uint32]

    @property
    def n_ranges(self) -> int:
        return int(self.intensities.shape[0])

    @property
    def n_beams(self) -> int:
        return int(self.intensities.shape[1])

    @property
    def ranges(self) -> NDArray[np.float32]:
        """Range-line centres (m): line i covers [i, i + 1) x range_resolution."""
        return ((np.arange(self.n_ranges) + 0.5) * self.range_resolution).astype(np.float32)

    def to_imaging_ping(self, stamp_ns: int, frame_id: str = "sonar", elevation_aperture_deg: float = 12.0,
                        beamwidth_deg: float | None = None) -> ImagingPing:
        """As a :class:`hullscan.model.ImagingPing` (a ``ProjectedSonarImage`` in a bag).

        Beam directions lie in the sonar's x-y plane (x along the boresight, z up, REP-103): the
        Oculus bearing grows to starboard, which is -y. ``beamwidth_deg`` defaults to the median
        spacing of the bearings.
        """
        b = np.deg2rad(self.bearings_deg)
        dirs = np.stack([np.cos(b), -np.sin(b), np.zeros_like(b)], axis=1).astype(np.float32)
        spacing = float(np.median(np.abs(np.diff(self.bearings_deg)))) if self.n_beams > 1 else 1.0
        return ImagingPing(stamp_ns, frame_id, dirs, self.ranges, self.intensities.astype(np.float32),
                           beamwidth=float(np.deg2rad(beamwidth_deg if beamwidth_deg is not None else spacing)),
                           elevation_aperture=float(np.deg2rad(elevation_aperture_deg)),
                           sound_speed=float(self.speed_of_sound), frequency=float(self.frequency_hz))


def parse_message(data: bytes | memoryview, where: str = "message") -> OculusPing:
    """One whole simple ping result message (header included)."""
    buf = memoryview(data)
    if len(buf) < BEARINGS_OFFSET:
        raise OculusFormatError(f"{where}: {len(buf)} bytes, a simple ping result needs at least {BEARINGS_OFFSET}")
    oid, src, _dst, msg_id, version, payload, _ = HEADER.unpack_from(buf, 0)
    if oid != OCULUS_ID:
        raise OculusFormatError(f"{where}: oculus_id is 0x{oid:04X}, expected 0x{OCULUS_ID:04X}")
    if msg_id != SIMPLE_PING_RESULT:
        raise OculusFormatError(f"{where}: message id is 0x{msg_id:02X}, expected 0x23 (simple ping result)")
    if version != 0:
        raise OculusFormatError(f"{where}: simple ping result version {version}, only version 0 is supported")
    master, _rate, _speed, _gamma, flags, rng, gain, _sos, _salinity = FIRE.unpack_from(buf, FIRE_OFFSET)
    (ping_id, _status, freq, _temp, _pressure, sos_used, start, size_code, res, n_r, n_b, img_off, img_size,
     msg_size) = RESULT.unpack_from(buf, RESULT_OFFSET)
    if msg_size != HEADER.size + payload or msg_size > len(buf):
        raise OculusFormatError(f"{where}: message_size is {msg_size}, header says {HEADER.size + payload} bytes "
                                f"and {len(buf)} are there")
    if size_code not in _SAMPLE_DTYPES:
        raise OculusFormatError(f"{where}: data_size code {size_code}, expected 0 (8 bit), 1 (16 bit) or 3 (32 bit)")
    if not (np.isfinite(res) and res > 0):
        raise OculusFormatError(f"{where}: range_resolution is {res}, expected a positive number of metres")
    if n_r == 0 or n_b == 0:
        raise OculusFormatError(f"{where}: {n_r} ranges x {n_b} beams, expected an image")
    if BEARINGS_OFFSET + 2 * n_b > img_off:
        raise OculusFormatError(f"{where}: image_offset {img_off} overlaps the {n_b} bearings ending at "
                                f"{BEARINGS_OFFSET + 2 * n_b}")
    if img_off + img_size > msg_size:
        raise OculusFormatError(f"{where}: image ({img_off}+{img_size} bytes) runs past the message ({msg_size})")
    dt = _SAMPLE_DTYPES[size_code]
    row = n_b * dt.itemsize
    gain_bytes = _GAIN_BYTES if flags & 0x4 else 0
    if img_size != n_r * (row + gain_bytes):
        raise OculusFormatError(f"{where}: image_size is {img_size}, expected {n_r} ranges x ({n_b} beams x "
                                f"{dt.itemsize} B{' + 4 B gain' if gain_bytes else ''}) = {n_r * (row + gain_bytes)}")
    bearings = np.frombuffer(buf, "<i2", n_b, BEARINGS_OFFSET).astype(np.float64) / 100.0
    raw = np.frombuffer(buf, np.uint8, img_size, img_off).reshape(n_r, row + gain_bytes)[:, gain_bytes:]
    image = np.ascontiguousarray(raw).view(dt).reshape(n_r, n_b).astype(dt.newbyteorder("="))
    return OculusPing(source_device=src, message_version=version, master_mode=master, flags=flags,
                      range_demand=rng, gain_percent=gain, ping_id=ping_id, frequency_hz=freq,
                      speed_of_sound=sos_used, ping_start_time=start, range_resolution=res,
                      bearings_deg=bearings, intensities=image)


def read_pings(path: str | Path, drops: DropLog | None = None) -> Iterator[OculusPing]:
    """Every simple ping result in a raw capture (messages back to back, as sent on the wire).

    Other message types are skipped and counted in ``drops``; a capture cut off inside a
    message ends with that message counted as ``truncated``. A wrong header is an error:
    without a valid header the next message cannot be found.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise OculusFormatError(f"{p}: cannot read ({err.strerror})") from err
    log = drops if drops is not None else DropLog()
    off = 0
    while off < len(data):
        where = f"{p} at byte {off}"
        if len(data) - off < HEADER.size:
            log.add(str(p), "truncated", 1, f"{len(data) - off} bytes after the last message")
            return
        oid, _src, _dst, msg_id, version, payload, _ = HEADER.unpack_from(data, off)
        if oid != OCULUS_ID:
            raise OculusFormatError(f"{where}: oculus_id is 0x{oid:04X}, expected 0x{OCULUS_ID:04X} "
                                    "(not an Oculus capture, or not at a message boundary)")
        end = off + HEADER.size + payload
        if end > len(data):
            log.add(str(p), "truncated", 1, f"message at byte {off} needs {end - off} bytes, {len(data) - off} left")
            return
        if msg_id == SIMPLE_PING_RESULT and version == 0:
            yield parse_message(memoryview(data)[off:end], where)
        else:
            log.add(str(p), f"skipped_message_0x{msg_id:02X}_v{version}", 1, f"at byte {off}")
        off = end
