"""Reading an indexed MCAP chunk by chunk, so one damaged chunk costs only its own messages.

rosbags reads an MCAP through its summary (chunk index) too, but the first chunk that fails
its checksum or does not decompress ends the whole stream: everything after it was lost, and
nothing said how much. Here each chunk is read on its own: a chunk that is cut, fails its
CRC, does not decompress or does not parse is skipped, and what it held is known from the
index (messages per channel from its message index records, its first and last log time),
so the loss is counted per topic with its time span. Chunks are merged by log time, as
rosbags does, so the message order is the same.

Only the summary section is trusted for the layout; a file whose footer or summary is
damaged has no index and is read by :mod:`hullscan.bag.salvage` instead.
"""

from __future__ import annotations

import heapq
import mmap
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hullscan.bag import salvage

OP_FOOTER, OP_CHANNEL, OP_CHUNK_INDEX, OP_STATISTICS = 0x02, 0x04, 0x08, 0x0B
FOOTER_LEN = 9 + 20  # opcode + length + summary_start, summary_offset_start, summary_crc


class IndexDamaged(Exception):
    """The footer or summary cannot be read: the file has no usable index."""


@dataclass(frozen=True)
class ChunkInfo:
    """One chunk as the summary describes it."""

    start_ns: int
    end_ns: int
    offset: int
    length: int
    compression: str
    compressed_size: int
    uncompressed_size: int
    channel_counts: dict[int, int]  # messages per channel, from the message index offsets


@dataclass
class McapIndex:
    channels: dict[int, str] = field(default_factory=dict)  # channel id -> topic
    chunks: list[ChunkInfo] = field(default_factory=list)
    channel_message_counts: dict[int, int] = field(default_factory=dict)  # from the statistics record
    has_statistics: bool = False


@dataclass(frozen=True)
class LostChunk:
    """A chunk whose messages could not be delivered, with why."""

    chunk: ChunkInfo
    reason: str


def read_index(mm: bytes | mmap.mmap, name: str) -> McapIndex:
    """The channels, chunk index and statistics from the summary section (raises :class:`IndexDamaged`)."""
    n = len(mm)
    if n < len(salvage.MAGIC) * 2 + FOOTER_LEN or mm[-len(salvage.MAGIC):] != salvage.MAGIC:
        raise IndexDamaged(f"{name}: no MCAP footer (file cut or damaged at its end)")
    foot = n - len(salvage.MAGIC) - FOOTER_LEN
    op, ln = struct.unpack_from("<BQ", mm, foot)
    if op != OP_FOOTER or ln != 20:
        raise IndexDamaged(f"{name}: bad MCAP footer record")
    summary_start, _offsets, summary_crc = struct.unpack_from("<QQI", mm, foot + 9)
    if summary_start == 0 or summary_start >= foot:
        raise IndexDamaged(f"{name}: the MCAP has no summary section")
    body = bytes(mm[summary_start:foot])
    if summary_crc:
        # The CRC covers the summary and the footer up to (not including) the CRC field.
        crc = zlib.crc32(bytes(mm[summary_start:foot + 9 + 16]))
        if crc != summary_crc:
            raise IndexDamaged(f"{name}: MCAP summary section fails its checksum")
    idx = McapIndex()
    off = 0
    try:
        while off < len(body):
            op, ln = struct.unpack_from("<BQ", body, off)
            rec = body[off + 9:off + 9 + ln]
            if len(rec) != ln:
                raise IndexDamaged(f"{name}: summary record cut at byte {summary_start + off}")
            if op == OP_CHANNEL:
                cid, _sid = struct.unpack_from("<HH", rec, 0)
                topic, _ = salvage._string(rec, 4)
                idx.channels[cid] = topic
            elif op == OP_CHUNK_INDEX:
                idx.chunks.append(_chunk_info(rec))
            elif op == OP_STATISTICS:
                p = 8 + 2 + 4 * 4 + 8 + 8
                (mlen,) = struct.unpack_from("<I", rec, p)
                idx.channel_message_counts = {c: k for c, k in struct.iter_unpack("<HQ", rec[p + 4:p + 4 + mlen])}
                idx.has_statistics = True
            off += 9 + ln
    except (struct.error, salvage.Damaged, UnicodeDecodeError) as err:
        raise IndexDamaged(f"{name}: MCAP summary unreadable ({err})") from err
    return idx


def _chunk_info(rec: bytes) -> ChunkInfo:
    start, end, offset, length = struct.unpack_from("<QQQQ", rec, 0)
    (mlen,) = struct.unpack_from("<I", rec, 32)
    offsets = dict(struct.iter_unpack("<HQ", rec[36:36 + mlen]))
    p = 36 + mlen
    (index_len,) = struct.unpack_from("<Q", rec, p)
    compression, p = salvage._string(rec, p + 8)
    csize, usize = struct.unpack_from("<QQ", rec, p)
    # Each channel's MessageIndex record is 9 (header) + 2 (channel) + 4 (array length) + 16 per
    # message, and they follow each other after the chunk: the gaps between offsets give the counts.
    ordered = sorted((o, c) for c, o in offsets.items())
    ends = [o for o, _ in ordered[1:]] + [offset + length + index_len]
    counts = {c: (e - o - 15) // 16 for (o, c), e in zip(ordered, ends, strict=True) if e - o - 15 > 0}
    return ChunkInfo(start, end, offset, length, compression, csize, usize, counts)


def _chunk_messages(mm: bytes | mmap.mmap, ch: ChunkInfo, name: str) -> list[tuple[int, int, int, bytes]]:
    """(log_time, offset, channel, data) of every message of one chunk, in time order; raises on damage."""
    if ch.offset + ch.length > len(mm):
        raise salvage.Damaged(f"{name}: chunk at byte {ch.offset} runs past the end of the file")
    op, ln = struct.unpack_from("<BQ", mm, ch.offset)
    if op != salvage.OP_CHUNK or 9 + ln != ch.length:
        raise salvage.Damaged(f"{name}: no chunk record where the index puts one (byte {ch.offset})")
    head = ch.offset + 9
    _s, _e, usize, crc = struct.unpack_from("<QQQI", mm, head)
    compression, p = salvage._string(mm, head + 28)  # type: ignore[arg-type]
    (rlen,) = struct.unpack_from("<Q", mm, p)
    data = bytes(mm[p + 8:p + 8 + rlen])
    raw, complete = salvage._decompress(compression, data, usize)
    if not complete or len(raw) != usize:
        raise salvage.Damaged(f"{name}: chunk at byte {ch.offset} does not decompress to its size")
    if crc and zlib.crc32(raw) != crc:
        raise salvage.Damaged(f"{name}: chunk at byte {ch.offset} fails its CRC (bytes changed inside it)")
    out: list[tuple[int, int, int, bytes]] = []
    unpack, size, off, at = struct.unpack_from, len(raw), 0, ch.offset
    while off < size:  # inlined record walk: one copy per message (this is the hot path of every bag)
        op, ln = unpack("<BQ", raw, off)
        end = off + 9 + ln
        if end > size or ln > size:
            raise salvage.Damaged(f"{name}: chunk at byte {at}: record (opcode 0x{op:02x}) cut at byte {off}")
        if op == salvage.OP_MESSAGE:
            cid, _seq, log_time, _pub = unpack("<HIQQ", raw, off + 9)
            out.append((log_time, at, cid, raw[off + 31:end]))
        off = end
    out.sort(key=lambda m: m[0])
    return out


def iter_messages(path: Path, idx: McapIndex, on_lost: Callable[[LostChunk], None],
                  channels: set[int] | None = None) -> Iterator[tuple[int, int, bytes]]:
    """Yield (channel id, log time, data) of every readable chunk, merged by log time.

    ``on_lost`` is called for each chunk that cannot be read, when the merge reaches it.
    """
    name = path.name
    f = path.open("rb")
    try:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except ValueError:  # empty file
        f.close()
        return

    def source(ch: ChunkInfo) -> Iterator[tuple[int, int, int, bytes]]:
        # The chunk's start time first (offset -1: before any message of that time), so the merge
        # opens chunks lazily, in time order, and equal stamps keep file order, as in rosbags.
        yield (ch.start_ns, -1, -1, b"")
        try:
            msgs = _chunk_messages(mm, ch, name)
        except (salvage.Damaged, struct.error, UnicodeDecodeError, ValueError, OverflowError, MemoryError) as err:
            on_lost(LostChunk(ch, str(err)))
            return
        yield from msgs

    try:
        chunks = [c for c in idx.chunks if channels is None or any(k in channels for k in c.channel_counts)]
        for log_time, off, cid, data in heapq.merge(*(source(c) for c in chunks), key=lambda m: (m[0], m[1])):
            if off < 0 or (channels is not None and cid not in channels):
                continue
            yield cid, log_time, data
    finally:
        mm.close()
        f.close()
