"""Salvage messages from a damaged MCAP file, up to the damage.

rosbags needs an intact footer; a bag cut off mid-recording (battery, crash,
full disk) has none. This scanner walks the records from the start, descends
into chunks (also a chunk cut in half: uncompressed chunks are parsed as far as
they go, zstd/lz4 chunks are decompressed as a stream) and stops at the first
record that does not fit, reporting where. Damage in the middle of a file (bytes
overwritten, a chunk that fails its CRC) does not end the scan: the scanner looks
for the next intact chunk (header plausible, decompresses to its size, CRC right),
reports the skipped bytes as a :class:`McapGap` and goes on.

Why not the ``mcap`` package's ``StreamReader`` (issue 14 asked): it reads record by record, but
stops at the first record that fails (a CRC error, a cut chunk) and has no way to resume at the
next intact chunk, and it drops a chunk cut in half as a whole. The fault tests
(tests/faults/test_bag_damage.py) recover the messages after mid-file damage and the first half of
a cut chunk; the package would lose both.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Generator, Iterator
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


@dataclass
class McapGap:
    """Bytes ``start``..``end`` could not be read; the scan resumed at ``end``."""

    start: int
    end: int
    reason: str


McapRecord = McapSchema | McapChannel | McapMessage | McapGap


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


def _chunk_body(buf: bytes, off: int, name: str) -> tuple[bytes, bool, bool]:
    """A chunk's records: (raw bytes, complete, crc_ok); raises :class:`Damaged` if the header is cut."""
    _op, n = struct.unpack_from("<BQ", buf, off)
    body = buf[off + 9 : off + 9 + n]
    if len(body) < 32:
        raise Damaged(f"{name}: chunk header cut at byte {off}")
    size, crc = struct.unpack_from("<QI", body, 16)
    compression, p = _string(body, 28)
    (rlen,) = struct.unpack_from("<Q", body, p)
    data = body[p + 8 : p + 8 + rlen]
    raw, complete = _decompress(compression, data, size)
    complete = complete and len(raw) == size and len(body) == n
    crc_ok = not (complete and crc and zlib.crc32(raw) != crc)
    return raw, complete, crc_ok


def _next_chunk(buf: bytes, start: int) -> int | None:
    """Offset of the next intact chunk at or after ``start`` (plausible header, size and CRC), or None."""
    pos = buf.find(bytes([OP_CHUNK]), start)
    while pos >= 0 and pos + 9 + 40 <= len(buf):
        n = struct.unpack_from("<Q", buf, pos + 1)[0]
        if 40 <= n <= len(buf) - pos - 9:
            try:
                (clen,) = struct.unpack_from("<I", buf, pos + 9 + 28)
                if clen <= 8 and buf[pos + 9 + 32 : pos + 9 + 32 + clen] in (b"", b"zstd", b"lz4"):
                    _raw, complete, crc_ok = _chunk_body(buf, pos, "")
                    if complete and crc_ok:
                        return pos
            except (Damaged, struct.error, UnicodeDecodeError):
                pass
        pos = buf.find(bytes([OP_CHUNK]), pos + 1)
    return None


_KNOWN_OPS = (OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, 0x01, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F)


def scan(path: Path) -> Iterator[McapRecord]:
    """Yield schemas, channels, messages and gaps in file order; raise :class:`Damaged` at an unrecoverable end."""
    buf = path.read_bytes()
    if not buf.startswith(MAGIC):
        raise Damaged(f"{path.name}: not an MCAP file (bad magic)")
    off = len(MAGIC)
    while off < len(buf):
        try:
            end = yield from _record_at(buf, off, path.name)
            if end is None:  # footer or data end: the records are over
                return
            off = end
        except (Damaged, struct.error, UnicodeDecodeError) as err:
            # Damage in the middle: skip to the next intact chunk, reporting the gap.
            nxt = _next_chunk(buf, off + 1)
            if nxt is None:
                raise Damaged(str(err)) from err
            yield McapGap(off, nxt, str(err))
            off = nxt


def _record_at(buf: bytes, off: int, name: str) -> Generator[McapRecord, None, int | None]:
    """Yield the record(s) at ``off`` (a chunk's records); returns the next offset, None at the end."""
    if off + 9 > len(buf):
        raise Damaged(f"{name}: file ends inside a record header at byte {off}")
    op, n = struct.unpack_from("<BQ", buf, off)
    truncated = off + 9 + n > len(buf)
    if op in (OP_FOOTER, OP_DATA_END):
        return None
    if op == OP_CHUNK:
        yield from _chunk_records(buf, off, name, truncated)
    elif truncated:
        raise Damaged(f"{name}: file ends inside a record (opcode 0x{op:02x}) at byte {off}")
    elif op not in _KNOWN_OPS:
        raise Damaged(f"{name}: unknown record opcode 0x{op:02x} at byte {off}")
    else:
        rec = _parse(op, buf[off + 9 : off + 9 + n])
        if rec is not None:
            yield rec
    return int(off + 9 + n)


def _chunk_records(buf: bytes, off: int, name: str, truncated: bool) -> Iterator[McapRecord]:
    """The records of the chunk at ``off``; of a chunk cut at the end of the file, those before the cut."""
    raw, complete, crc_ok = _chunk_body(buf, off, name)
    if not crc_ok:
        raise Damaged(f"{name}: chunk at byte {off} fails its CRC (bytes changed inside it)")
    recs: list[McapRecord] = []
    cut: Damaged | None = None
    try:
        for iop, ibody in _records(raw, f"{name}: chunk at byte {off}", partial_ok=not complete):
            rec = _parse(iop, ibody)
            if rec is not None:
                recs.append(rec)
    except (Damaged, struct.error) as err:
        cut = Damaged(str(err))
    yield from recs  # a chunk cut at the end of the file: the messages before the cut
    if cut is not None or not complete or truncated:
        raise Damaged(f"{name}: file ends inside a chunk starting at byte {off}")
