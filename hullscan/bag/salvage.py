"""Salvage messages from a damaged MCAP file, up to the damage.

rosbags needs an intact footer; a bag cut off mid-recording (battery, crash,
full disk) has none. This scanner walks the records from the start, descends
into chunks (also a chunk cut in half: uncompressed chunks are parsed as far as
they go, zstd/lz4 chunks are decompressed as a stream) and stops at the first
record that does not fit, reporting where.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_FOOTER, OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x02, 0x0F


class Damaged(Exception):
    """The file ends or breaks here; what precedes was yielded."""


@dataclass
class McapSchema:
    id: int
    name: str
    encoding: str
    data: bytes


@dataclass
class McapChannel:
    id: int
    schema_id: int
    topic: str


@dataclass
class McapMessage:
    channel_id: int
    log_time: int
    data: bytes


McapRecord = McapSchema | McapChannel | McapMessage


def _string(buf: bytes, off: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, off)
    end = off + 4 + n
    if end > len(buf):
        raise Damaged("string runs past its record")
    return buf[off + 4 : end].decode(), end


def _parse(op: int, body: bytes) -> McapRecord | None:
    if op == OP_SCHEMA:
        (sid,) = struct.unpack_from("<H", body, 0)
        name, off = _string(body, 2)
        enc, off = _string(body, off)
        (n,) = struct.unpack_from("<I", body, off)
        return McapSchema(sid, name, enc, body[off + 4 : off + 4 + n])
    if op == OP_CHANNEL:
        cid, sid = struct.unpack_from("<HH", body, 0)
        topic, _ = _string(body, 4)
        return McapChannel(cid, sid, topic)
    if op == OP_MESSAGE:
        cid, _seq, log_time, _pub = struct.unpack_from("<HIQQ", body, 0)
        return McapMessage(cid, log_time, body[22:])
    return None


def _records(buf: bytes, where: str, partial_ok: bool) -> Iterator[tuple[int, bytes]]:
    off = 0
    while off < len(buf):
        if off + 9 > len(buf):
            if partial_ok:
                raise Damaged(f"{where}: record header cut at byte {off}")
            return
        op, n = struct.unpack_from("<BQ", buf, off)
        if off + 9 + n > len(buf):
            raise Damaged(f"{where}: record (opcode 0x{op:02x}, {n} bytes) cut at byte {off}")
        yield op, buf[off + 9 : off + 9 + n]
        off += 9 + n


def _decompress(compression: str, data: bytes, size: int) -> tuple[bytes, bool]:
    """Decompress a chunk; returns (bytes, complete). Partial streams give a prefix."""
    if compression == "":
        return data, len(data) >= size
    if compression == "zstd":
        try:
            from compression import zstd
        except ImportError:
            from backports import zstd
        dec = zstd.ZstdDecompressor()
        try:
            out = dec.decompress(data)
        except Exception:
            return b"", False
        return out, len(out) >= size
    if compression == "lz4":
        import lz4.frame

        dec = lz4.frame.LZ4FrameDecompressor()
        try:
            out = dec.decompress(data)
        except Exception:
            return b"", False
        return out, len(out) >= size
    raise Damaged(f"unknown chunk compression {compression!r}")


def scan(path: Path) -> Iterator[McapRecord]:
    """Yield schemas, channels and messages in file order; raise :class:`Damaged` at damage."""
    buf = path.read_bytes()
    if not buf.startswith(MAGIC):
        raise Damaged(f"{path.name}: not an MCAP file (bad magic)")
    off = len(MAGIC)
    while off < len(buf):
        if off + 9 > len(buf):
            raise Damaged(f"{path.name}: file ends inside a record header at byte {off}")
        op, n = struct.unpack_from("<BQ", buf, off)
        body = buf[off + 9 : off + 9 + n]
        truncated = off + 9 + n > len(buf)
        if op in (OP_FOOTER, OP_DATA_END):
            return
        if op == OP_CHUNK:
            if len(body) < 32:
                raise Damaged(f"{path.name}: chunk header cut at byte {off}")
            size = struct.unpack_from("<Q", body, 16)[0]
            compression, p = _string(body, 28)
            (rlen,) = struct.unpack_from("<Q", body, p)
            data = body[p + 8 : p + 8 + rlen]
            raw, complete = _decompress(compression, data, size)
            for iop, ibody in _records(raw, f"{path.name}: chunk at byte {off}", partial_ok=not complete):
                rec = _parse(iop, ibody)
                if rec is not None:
                    yield rec
            if not complete or truncated:
                raise Damaged(f"{path.name}: file ends inside a chunk starting at byte {off}")
        elif truncated:
            raise Damaged(f"{path.name}: file ends inside a record (opcode 0x{op:02x}) at byte {off}")
        else:
            rec = _parse(op, body)
            if rec is not None:
                yield rec
        off += 9 + n
    raise Damaged(f"{path.name}: file ends without a footer")
