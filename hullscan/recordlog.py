"""Append-only logs of framed records: ``magic``, payload length, CRC-32 of the payload, payload.

The live mapper's checkpoint deltas (:mod:`hullscan.recon.checkpoint`) and the camera node's
keyframe index (:mod:`hullscan.compare.keyframes`) append records as they go; a kill -9 can tear the
last one. Reading stops at the first record that is torn, corrupt or of another log.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator


def frame(head: struct.Struct, magic: bytes, payload: bytes) -> bytes:
    """One record: the header (``head`` packs magic, length, CRC-32) and the payload."""
    return head.pack(magic, len(payload), zlib.crc32(payload)) + payload


def records(data: bytes, head: struct.Struct, magic: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each whole record's payload in ``data``, in order, up to the first torn,
    corrupt or foreign one (the caller's offset after the last one it accepts is ``end``)."""
    pos = 0
    while pos + head.size <= len(data):
        tag, length, crc = head.unpack_from(data, pos)
        start, end = pos + head.size, pos + head.size + length
        if tag != magic or end > len(data) or zlib.crc32(data[start:end]) != crc:
            return
        yield start, end
        pos = end
