"""Salvage a truncated rosbag2 sqlite3 file by reading its pages directly.

A ``.db3`` cut short (battery, crash, full disk) keeps its early pages, but SQLite refuses the
whole file: the header's page count exceeds the file, and the B-tree's interior pages, written
late, are gone with the tail, so no query reaches the rows even after the count is fixed. The
rows themselves sit in table-leaf pages all along the file. This module walks every page, keeps
the leaf cells whose record looks like a rosbag2 message row (``id`` INTEGER PRIMARY KEY stored as
NULL, ``topic_id`` integer, ``timestamp`` integer, ``data`` blob), follows overflow chains for
large messages (a chain that leaves the file loses that row, counted), and reads the small
tables (``topics``, ``message_definitions``) through SQLite from a copy whose header page count
is fixed. See https://www.sqlite.org/fileformat2.html (b-tree pages, record format).
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LEAF_TABLE = 0x0D


@dataclass(frozen=True)
class Salvaged:
    topics: list[tuple[int, str, str]]  # (id, name, type)
    definitions: dict[str, str]  # type -> ros2msg text
    rows: list[tuple[int, int, int, bytes]]  # (rowid, topic_id, timestamp, data), by timestamp then rowid
    lost_rows: int  # rows whose overflow chain runs past the end of the file


def _varint(buf: bytes, off: int) -> tuple[int, int]:
    v = 0
    for i in range(8):
        b = buf[off + i]
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, off + i + 1
    return (v << 8) | buf[off + 8], off + 9


# Integer serial types: bytes stored (8 and 9 are the constants 0 and 1, stored in the header only).
_INT_SIZE = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 8: 0, 9: 0}


def _int(buf: bytes, off: int, serial: int) -> int:
    if serial in (8, 9):
        return serial - 8
    n = _INT_SIZE[serial]
    return int.from_bytes(buf[off:off + n], "big", signed=True)


def _record(payload: bytes) -> tuple[int, int, bytes] | None:
    """(topic_id, timestamp, data) if ``payload`` is a rosbag2 message row, else None."""
    hsize, p = _varint(payload, 0)
    types: list[int] = []
    while p < hsize and len(types) < 5:
        t, p = _varint(payload, p)
        types.append(t)
    if len(types) != 4 or types[0] != 0 or types[1] not in _INT_SIZE or types[2] not in _INT_SIZE \
            or types[3] < 12 or types[3] % 2:
        return None
    off = hsize
    topic = _int(payload, off, types[1])
    off += _INT_SIZE[types[1]]
    stamp = _int(payload, off, types[2])
    off += _INT_SIZE[types[2]]
    n = (types[3] - 12) // 2
    data = payload[off:off + n]
    return (topic, stamp, data) if len(data) == n else None


def _cells(buf: bytes, page_no: int, page_size: int, usable: int) -> Iterator[tuple[int, bytes | None]]:
    """(rowid, payload or None when its overflow chain is cut) of one table-leaf page."""
    base = (page_no - 1) * page_size
    head = base + (100 if page_no == 1 else 0)
    if buf[head] != LEAF_TABLE:
        return
    (ncells,) = struct.unpack_from(">H", buf, head + 3)
    x = usable - 35
    m = ((usable - 12) * 32 // 255) - 23
    npages = len(buf) // page_size
    for i in range(ncells):
        (ptr,) = struct.unpack_from(">H", buf, head + 8 + 2 * i)
        c = base + ptr
        size, c = _varint(buf, c)
        rowid, c = _varint(buf, c)
        if size <= x:
            yield rowid, buf[c:c + size]
            continue
        k = m + ((size - m) % (usable - 4))
        local = k if k <= x else m
        parts = [buf[c:c + local]]
        (nxt,) = struct.unpack_from(">I", buf, c + local)
        left = size - local
        seen = 0
        while left > 0:
            if nxt == 0 or nxt > npages or seen > npages:
                break
            o = (nxt - 1) * page_size
            (after,) = struct.unpack_from(">I", buf, o)
            take = min(left, usable - 4)
            parts.append(buf[o + 4:o + 4 + take])
            left -= take
            nxt, seen = after, seen + 1
        yield rowid, (b"".join(parts) if left <= 0 else None)


def salvage(path: Path) -> Salvaged:
    """Everything readable from a damaged rosbag2 ``.db3`` (raises sqlite3.DatabaseError when even
    the topic table cannot be read)."""
    buf = path.read_bytes()
    if len(buf) < 100 or not buf.startswith(b"SQLite format 3\x00"):
        raise sqlite3.DatabaseError("not an SQLite 3 file (bad header)")
    (ps,) = struct.unpack_from(">H", buf, 16)
    page_size = 65536 if ps == 1 else ps
    usable = page_size - buf[20]
    npages = len(buf) // page_size
    topics, defs = _small_tables(buf, page_size, npages)
    rows: list[tuple[int, int, int, bytes]] = []
    lost = 0
    seen: set[int] = set()
    for page_no in range(1, npages + 1):
        try:
            cells = list(_cells(buf, page_no, page_size, usable))
        except (IndexError, struct.error, KeyError):
            continue  # not a leaf page, or a damaged one: its rows are counted against the metadata
        for rowid, payload in cells:
            if payload is None:
                lost += 1
                continue
            try:
                rec = _record(payload)
            except (IndexError, KeyError):
                rec = None
            if rec is not None and rowid not in seen:
                seen.add(rowid)
                rows.append((rowid, *rec))
    rows.sort(key=lambda r: (r[2], r[0]))
    return Salvaged(topics, defs, rows, lost)


def _small_tables(buf: bytes, page_size: int, npages: int) -> tuple[list[tuple[int, str, str]], dict[str, str]]:
    """``topics`` and ``message_definitions`` through SQLite, from a copy with a consistent header."""
    with tempfile.TemporaryDirectory(prefix="hullscan-db3-") as tmp:
        copy = Path(tmp) / "bag.db3"
        fixed = bytearray(buf[: npages * page_size])
        fixed[28:32] = struct.pack(">I", npages)  # the page count the (cut) file really has
        copy.write_bytes(bytes(fixed))
        db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            topics = [(int(i), str(n), str(t)) for i, n, t in db.execute("SELECT id, name, type FROM topics")]
            defs: dict[str, str] = {}
            try:
                for typ, enc, text in db.execute(
                        "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"):
                    if enc == "ros2msg":
                        defs[typ] = text
            except sqlite3.DatabaseError:
                pass  # older bags have no message_definitions table; or it was cut off
        finally:
            db.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return topics, defs
