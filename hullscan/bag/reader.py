"""Reading rosbag2 bags (MCAP and sqlite3) into typed samples, merged by time.

Usage::

    with BagReader("survey_bag") as bag:
        print(bag.plan.describe())          # which topic serves which role
        for item in bag.samples():          # ProfilingPing, NavSample, ...
            ...
    print(bag.drops.summary())              # what was dropped and why

Topics are matched by name first and by message type when a default name is
absent. Damaged bags are read up to the damage: a truncated MCAP, a bag with no
``metadata.yaml``, or a bare ``.mcap``/``.db3`` file are read by scanning the
storage file directly, and the damage is reported at the end.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader
from rosbags.typesys import get_types_from_msg
from rosbags.typesys.store import Typestore

from hullscan.bag import convert, mcap_index, msgdefs, salvage
from hullscan.diagnostics import DropLog
from hullscan.errors import BagError, BagTruncatedError, MessageError
from hullscan.model import (
    DEFAULT_BEAMWIDTH_RAD,
    DEFAULT_ELEVATION_APERTURE_RAD,
    CameraFrame,
    CameraModel,
    ImagingPing,
    NavSample,
    PointsPing,
    ProfilingPing,
    TransformStamped,
)
from hullscan.settings import TopicsConfig
from hullscan.tf import TfTree

log = logging.getLogger("hullscan.bag")

BagItem = ProfilingPing | PointsPing | ImagingPing | NavSample | TransformStamped | CameraFrame | CameraModel


class Role(StrEnum):
    """What a topic is used for (the input contract)."""

    SCAN = "scan"
    POINTS = "points"
    IMAGE = "image"
    DETECTIONS = "detections"
    ODOM = "odom"
    TF = "tf"
    TF_STATIC = "tf_static"
    CAMERA_IMAGE = "camera_image"
    CAMERA_COMPRESSED = "camera_compressed"
    CAMERA_INFO = "camera_info"


ROLE_TYPES: dict[Role, str] = {
    Role.SCAN: msgdefs.LASERSCAN,
    Role.POINTS: msgdefs.POINTCLOUD2,
    Role.IMAGE: msgdefs.SONAR_IMAGE,
    Role.DETECTIONS: msgdefs.SONAR_DETECTIONS,
    Role.ODOM: msgdefs.ODOMETRY,
    Role.TF: msgdefs.TFMESSAGE,
    Role.TF_STATIC: msgdefs.TFMESSAGE,
    Role.CAMERA_IMAGE: msgdefs.IMAGE,
    Role.CAMERA_COMPRESSED: msgdefs.COMPRESSED_IMAGE,
    Role.CAMERA_INFO: msgdefs.CAMERA_INFO,
}
SONAR_ROLES = (Role.SCAN, Role.POINTS, Role.IMAGE, Role.DETECTIONS)


@dataclass(frozen=True)
class TopicInfo:
    topic: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class TopicChoice:
    """The topic chosen for a role and how: ``name``, ``type`` (fallback) or ``missing``."""

    role: Role
    topic: str | None
    msgtype: str
    how: str
    count: int = 0
    note: str = ""


@dataclass(frozen=True)
class TopicPlan:
    """Which topic serves which role, plus the topics that are not used."""

    choices: dict[Role, TopicChoice]
    unused: tuple[TopicInfo, ...]

    def topic(self, role: Role) -> str | None:
        return self.choices[role].topic

    def role_of(self) -> dict[str, Role]:
        return {c.topic: r for r, c in self.choices.items() if c.topic}

    @property
    def sonar_roles(self) -> list[Role]:
        return [r for r in SONAR_ROLES if self.choices[r].topic]

    @property
    def has_camera(self) -> bool:
        return bool(self.choices[Role.CAMERA_IMAGE].topic or self.choices[Role.CAMERA_COMPRESSED].topic)

    def describe(self) -> str:
        lines = [f"{'role':<18} {'topic':<32} {'type':<44} {'msgs':>7}  found by"]
        for role, c in self.choices.items():
            topic = c.topic or "-"
            how = c.how + (f" ({c.note})" if c.note else "")
            lines.append(f"{role.value:<18} {topic:<32} {c.msgtype:<44} {c.count:>7}  {how}")
        for u in self.unused:
            lines.append(f"{'(unused)':<18} {u.topic:<32} {u.msgtype:<44} {u.count:>7}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "roles": {r.value: {"topic": c.topic, "type": c.msgtype, "how": c.how, "count": c.count,
                                "note": c.note} for r, c in self.choices.items()},
            "unused": [{"topic": u.topic, "type": u.msgtype, "count": u.count} for u in self.unused],
        }


def plan_topics(available: list[TopicInfo], topics: TopicsConfig) -> TopicPlan:
    """Match the bag's topics to the input contract: by name, then by type."""
    by_name = {t.topic: t for t in available}
    used: set[str] = set()
    choices: dict[Role, TopicChoice] = {}
    # Roles whose default name is used first so type fallback cannot steal their topic.
    for role in Role:
        name = getattr(topics, role.value)
        want = ROLE_TYPES[role]
        t = by_name.get(name) if name else None
        if t is not None and t.msgtype == want:
            choices[role] = TopicChoice(role, t.topic, want, "name", t.count)
            used.add(t.topic)
    for role in Role:
        if role in choices:
            continue
        name = getattr(topics, role.value)
        want = ROLE_TYPES[role]
        note = ""
        if name and name in by_name and by_name[name].msgtype != want:
            note = f"{name} has type {by_name[name].msgtype}, expected {want}"
            log.warning("topic %s: %s", name, note)
        if not name or not topics.find_by_type or role in (Role.TF, Role.TF_STATIC):
            choices[role] = TopicChoice(role, None, want, "missing", 0, note or ("disabled" if not name else ""))
            continue
        cands = sorted((t for t in available if t.msgtype == want and t.topic not in used),
                       key=lambda t: -t.count)
        if not cands:
            choices[role] = TopicChoice(role, None, want, "missing", 0, note)
            continue
        pick = cands[0]
        if len(cands) > 1:
            others = ", ".join(c.topic for c in cands[1:])
            note = (note + "; " if note else "") + f"most messages of {len(cands)} candidates; also {others}"
            log.warning("role %s: several %s topics, using %s (%s)", role.value, want, pick.topic, note)
        choices[role] = TopicChoice(role, pick.topic, want, "type", pick.count, note)
        used.add(pick.topic)
    unused = tuple(t for t in available if t.topic not in used)
    return TopicPlan(choices, unused)


# --------------------------------------------------------------------------- raw message sources


@dataclass
class _RawConnection:
    topic: str
    msgtype: str
    msgdef: str  # ros2msg text with dependencies, '' if unknown
    count: int


class _Damage(Exception):
    """Raised inside a raw source when the storage is damaged past this point."""


def _iter_rosbags(reader: Reader) -> Iterator[tuple[str, int, bytes]]:
    try:
        for conn, ts, raw in reader.messages():
            yield conn.topic, ts, raw
    except Exception as err:  # rosbags raises ReaderError, struct.error, sqlite errors...
        raise _Damage(f"{type(err).__name__}: {err}") from err


def _scan_mcap(path: Path, on_gap: Any = None) -> tuple[list[_RawConnection], Iterator[tuple[str, int, bytes]]]:
    """Scan an MCAP file record by record, for files rosbags cannot index.

    ``on_gap(gap, last_ns, next_ns)`` is called for each damaged stretch skipped in the middle
    of the file, with the log times of the messages either side of it (None where unknown).
    """
    channels = _mcap_channels(path)
    return list(channels.values()), _mcap_messages(path, channels, on_gap)


def _mcap_channels(path: Path) -> dict[int, _RawConnection]:
    """First pass: the channels with their schemas and message counts (as far as the file reads)."""
    schemas: dict[int, salvage.McapSchema] = {}
    channels: dict[int, _RawConnection] = {}
    counts: dict[int, int] = {}
    try:
        for rec in salvage.scan(path):
            if isinstance(rec, salvage.McapSchema):
                schemas[rec.id] = rec
            elif isinstance(rec, salvage.McapChannel):
                s = schemas.get(rec.schema_id)
                channels[rec.id] = _RawConnection(rec.topic, s.name if s else "", s.data.decode() if s else "", 0)
            elif isinstance(rec, salvage.McapMessage):
                counts[rec.channel_id] = counts.get(rec.channel_id, 0) + 1
    except salvage.Damaged as err:
        if not channels and "bad magic" in str(err):
            raise BagError(f"{path}: not an MCAP file (bad magic); expected a rosbag2 .mcap or .db3 file") from err
        # otherwise the message pass reports it, after delivering what precedes it
    for cid, n in counts.items():
        if cid in channels:
            channels[cid].count = n
    return channels


def _mcap_messages(path: Path, channels: dict[int, _RawConnection], on_gap: Any
                   ) -> Iterator[tuple[str, int, bytes]]:
    """Second pass: (topic, log time, data) of each message, with each skipped gap reported."""
    last: int | None = None
    gap: salvage.McapGap | None = None
    try:
        for rec in salvage.scan(path):
            if isinstance(rec, salvage.McapGap):
                gap = rec
            elif isinstance(rec, salvage.McapMessage) and rec.channel_id in channels:
                if gap is not None and on_gap is not None:
                    on_gap(gap, last, rec.log_time)
                gap = None
                last = rec.log_time
                yield channels[rec.channel_id].topic, rec.log_time, rec.data
    except salvage.Damaged as err:
        raise _Damage(str(err)) from err
    if gap is not None and on_gap is not None:
        on_gap(gap, last, None)


def _metadata_counts(bag_dir: Path) -> tuple[dict[str, int], int | None]:
    """Messages per topic and the end time (ns) that ``metadata.yaml`` records, if it can be read."""
    import yaml

    try:
        info = yaml.safe_load((bag_dir / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        counts: dict[str, int] = {}
        for t in info.get("topics_with_message_count") or []:
            name = t["topic_metadata"]["name"]
            counts[name] = counts.get(name, 0) + int(t["message_count"])
        start = int(info["starting_time"]["nanoseconds_since_epoch"])
        end = start + int(info["duration"]["nanoseconds"])
        return counts, end
    except Exception:  # absent or damaged: nothing to compare with (the damage is reported elsewhere)
        return {}, None


SQLITE_BLOCK = 1000  # message rows per query when salvaging a damaged sqlite3 file


def _salvage_rows(db: sqlite3.Connection, cols: str, bad: list[int]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``messages`` in id order from a damaged file: blocks of ids, bisected down to the
    single rows that cannot be read (their ids go to ``bad``). Ends after a block with no row."""

    def block(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        try:
            rows = db.execute(f"SELECT id, {cols} FROM messages WHERE id BETWEEN ? AND ? ORDER BY id",
                              (lo, hi)).fetchall()
        except sqlite3.DatabaseError:
            if lo == hi:
                bad.append(lo)
                return
            mid = (lo + hi) // 2
            yield from block(lo, mid)
            yield from block(mid + 1, hi)
            return
        yield from rows

    lo = 1
    while True:
        n_bad = len(bad)
        rows = list(block(lo, lo + SQLITE_BLOCK - 1))
        if not rows:
            del bad[n_bad:]  # past the last readable row: the tail is counted against the index instead
            return
        yield from rows
        lo += SQLITE_BLOCK


def _scan_sqlite(path: Path, on_bad: Any = None) -> tuple[list[_RawConnection], Iterator[tuple[str, int, bytes]]]:
    """Read a rosbag2 sqlite3 file directly (no metadata.yaml needed).

    A damaged file (cut short, pages overwritten) is read row block by row block; rows that
    cannot be read are reported through ``on_bad(n, before_ns, after_ns)``.
    """
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = db.execute("SELECT id, name, type FROM topics").fetchall()
        defs = _sqlite_definitions(db)
    except sqlite3.DatabaseError as err:
        return _salvage_sqlite_pages(path, err, on_bad)
    counts, damaged = _sqlite_counts(db)
    conns = {tid: _RawConnection(name, typ, defs.get(typ, ""), counts.get(tid, 0)) for tid, name, typ in rows}
    return list(conns.values()), _sqlite_messages(path, db, conns, damaged, on_bad)


def _sqlite_definitions(db: sqlite3.Connection) -> dict[str, str]:
    """Message definitions the bag embeds, by type (older bags have no such table)."""
    defs: dict[str, str] = {}
    try:
        for topic_type, encoding, text in db.execute(
            "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
        ):
            if encoding == "ros2msg":
                defs[topic_type] = text
    except sqlite3.DatabaseError:
        pass  # older bags have no message_definitions table
    return defs


def _sqlite_counts(db: sqlite3.Connection) -> tuple[dict[int, int], bool]:
    """Messages per topic id, and whether the table is damaged (then counted row block by block)."""
    try:
        return dict(db.execute("SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id").fetchall()), False
    except sqlite3.DatabaseError:
        counts: dict[int, int] = {}
        for _id, tid in _salvage_rows(db, "topic_id", []):
            counts[tid] = counts.get(tid, 0) + 1
        return counts, True


def _sqlite_messages(path: Path, db: sqlite3.Connection, conns: dict[int, _RawConnection], damaged: bool,
                     on_bad: Any) -> Iterator[tuple[str, int, bytes]]:
    """(topic, stamp, data) in stamp order; from a damaged table in id order, bad rows reported."""
    try:
        if not damaged:
            for tid, ts, data in db.execute("SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp"):
                if tid in conns:
                    yield conns[tid].topic, ts, bytes(data)
            return
        bad: list[int] = []
        last: int | None = None
        for _id, tid, ts, data in _salvage_rows(db, "topic_id, timestamp, data", bad):
            if bad and on_bad is not None:
                on_bad(len(bad), last, ts)
                bad.clear()
            last = ts
            if tid in conns:
                yield conns[tid].topic, ts, bytes(data)
        raise sqlite3.DatabaseError("database disk image is malformed; rows after the last readable one "
                                    "are counted against the bag's metadata")
    except sqlite3.DatabaseError as err:
        raise _Damage(f"{path.name}: {err}") from err
    finally:
        db.close()


def _salvage_sqlite_pages(path: Path, err: sqlite3.DatabaseError,
                          on_bad: Any) -> tuple[list[_RawConnection], Iterator[tuple[str, int, bytes]]]:
    """A ``.db3`` SQLite refuses as a whole (cut short): the message rows read from its pages."""
    from hullscan.bag import sqlite_salvage

    try:
        got = sqlite_salvage.salvage(path)
    except (sqlite3.DatabaseError, OSError, ValueError) as err2:
        raise BagError(f"{path}: not a readable rosbag2 sqlite3 file ({err}; page salvage: {err2}); "
                       "nothing can be salvaged") from err2
    counts: dict[int, int] = {}
    for _rid, tid, _ts, _d in got.rows:
        counts[tid] = counts.get(tid, 0) + 1
    conns = {tid: _RawConnection(name, typ, got.definitions.get(typ, ""), counts.get(tid, 0))
             for tid, name, typ in got.topics}

    def messages() -> Iterator[tuple[str, int, bytes]]:
        # Rows missing between the ones recovered (rowids are insertion order): counted with the
        # stamps either side; the cut tail is counted against metadata.yaml by the reader.
        by_id = sorted((r[0], r[2]) for r in got.rows)
        if on_bad is not None:
            for (a, ta), (b, tb) in itertools.pairwise(by_id):
                if b - a > 1:
                    on_bad(b - a - 1, ta, tb)
            if got.lost_rows:
                last = by_id[-1][1] if by_id else 0
                on_bad(got.lost_rows, last, last)
        for _rid, tid, ts, data in got.rows:
            if tid in conns:
                yield conns[tid].topic, ts, data
        raise _Damage(f"{path.name}: {err}; {len(got.rows)} message rows recovered from its pages, "
                      "the rest is counted against the bag's metadata")

    return list(conns.values()), messages()


# --------------------------------------------------------------------------- the reader


@dataclass
class BagStats:
    """Per-topic counts of what was delivered."""

    delivered: dict[str, int] = field(default_factory=dict)
    sonar_frames: dict[str, int] = field(default_factory=dict)


class BagReader:
    """Context manager over one rosbag2 bag (directory, or a bare ``.mcap``/``.db3`` file).

    ``beamwidth`` (rad) is the profiling sonar's beam width (LaserScan carries none);
    ``default_aperture`` (rad) is used for imaging sonar pings that carry no tx beam widths.
    """

    def __init__(
        self,
        path: str | Path,
        topics: TopicsConfig | None = None,
        *,
        beamwidth: float = DEFAULT_BEAMWIDTH_RAD,
        default_aperture: float = DEFAULT_ELEVATION_APERTURE_RAD,
    ) -> None:
        self.path = Path(path)
        self.topics = topics or TopicsConfig()
        self.beamwidth = beamwidth
        self.default_aperture = default_aperture
        self.drops = DropLog()
        self.stats = BagStats()
        self.tf = TfTree()
        self.damage: str | None = None
        self.salvage = False
        # What the bag's own metadata/index says it holds, per topic, and when it ends: every
        # message not delivered is counted against it (missing_vs_index), nothing lost silently.
        self.expected: dict[str, int] = {}
        self.end_ns: int | None = None
        self._read_raw: dict[str, int] = {}
        self._last_raw: dict[str, int] = {}
        self._damage_ns: int | None = None  # last log time read before a damage that ended the stream
        self._damage_spans: list[tuple[int, int]] = []  # stretches skipped in the middle
        self._reader: Reader | None = None
        self._conns: list[_RawConnection] = []
        self._raw: Iterator[tuple[str, int, bytes]] | None = None
        self._store: Typestore = msgdefs.reader_typestore()
        self.plan: TopicPlan = TopicPlan({}, ())

    # -- opening
    def __enter__(self) -> BagReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _storage_file(self) -> Path | None:
        if self.path.is_file():
            return self.path
        files = sorted(self.path.glob("*.mcap")) + sorted(self.path.glob("*.db3"))
        return files[0] if files else None

    def open(self) -> None:
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag (expected a rosbag2 directory or .mcap/.db3 file)")
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            self.drops.add(str(self.path), "missing_metadata_yaml", 1,
                           "metadata.yaml is missing; reading the storage file directly")
            self._open_salvage()
        elif self.path.is_file():
            self._open_salvage()
        else:
            try:
                self._reader = Reader(self.path)
                self._reader.open()
            except Exception as err:
                self._reader = None
                self.drops.add(str(self.path), "unreadable_index", 1,
                               f"{type(err).__name__}: {err}; scanning the storage file instead")
                self._open_salvage()
            else:
                self._conns = [
                    _RawConnection(c.topic, c.msgtype, c.msgdef.data if c.msgdef else "", c.msgcount)
                    for c in self._reader.connections
                ]
                for c in self._conns:
                    self.expected[c.topic] = self.expected.get(c.topic, 0) + c.count
                self.end_ns = self._reader.end_time if self._reader.message_count else None
                self._raw = self._indexed_mcap() or _iter_rosbags(self._reader)
        self._register_types()
        infos = [TopicInfo(c.topic, c.msgtype, c.count) for c in self._conns]
        self.plan = plan_topics(infos, self.topics)
        self._check_plan()

    def _indexed_mcap(self) -> Iterator[tuple[str, int, bytes]] | None:
        """Chunk-by-chunk reading of a single indexed MCAP (a bad chunk costs only its messages)."""
        files = [p for p in self.path.iterdir() if p.name != "metadata.yaml"] if self.path.is_dir() else []
        if len(files) != 1 or files[0].suffix != ".mcap":
            return None
        f = files[0]
        try:
            with f.open("rb") as fh:
                import mmap

                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    idx = mcap_index.read_index(mm, f.name)
        except (mcap_index.IndexDamaged, OSError, ValueError) as err:
            self.drops.add(str(f), "unreadable_index", 1, f"{err}; reading with rosbags instead")
            return None
        topics = idx.channels

        def lost(lc: mcap_index.LostChunk) -> None:
            ch = lc.chunk
            for cid, k in sorted(ch.channel_counts.items()):
                self.drops.add(topics.get(cid, f"channel {cid}"), "corrupt_chunk", k,
                               f"{lc.reason}; its {sum(ch.channel_counts.values())} messages "
                               f"{ch.start_ns * 1e-9:.3f}-{ch.end_ns * 1e-9:.3f} s are lost",
                               span=(ch.start_ns, ch.end_ns))

        def messages() -> Iterator[tuple[str, int, bytes]]:
            for cid, t, data in mcap_index.iter_messages(f, idx, lost):
                topic = topics.get(cid)
                if topic is not None:
                    yield topic, t, data

        return messages()

    def _on_gap(self, gap: salvage.McapGap, before: int | None, after: int | None) -> None:
        span = None if before is None else (before, after if after is not None else (self.end_ns or before))
        # One per damaged stretch; the messages it held are counted per topic by _reconcile.
        self.drops.add(str(self.path), "corrupt_bytes", 1,
                       f"bytes {gap.start}-{gap.end} unreadable ({gap.reason}); reading resumed after them",
                       span=span)
        if span is not None:
            self._damage_spans.append(span)

    def _on_bad_rows(self, n: int, before: int | None, after: int) -> None:
        span = (before if before is not None else after, after)
        # One per damaged stretch; the messages it held are counted per topic by _reconcile.
        self.drops.add(str(self.path), "corrupt_rows", 1,
                       f"{n} sqlite3 message rows cannot be read (damaged pages); reading resumed after them",
                       span=span)
        self._damage_spans.append(span)

    def _open_salvage(self) -> None:
        self.salvage = True
        f = self._storage_file()
        if f is None:
            raise BagError(f"{self.path}: no .mcap or .db3 storage file found")
        if self.path.is_dir():
            self.expected, self.end_ns = _metadata_counts(self.path)
        if f.suffix == ".mcap":
            self._conns, self._raw = _scan_mcap(f, self._on_gap)
        elif f.suffix == ".db3":
            self._conns, self._raw = _scan_sqlite(f, self._on_bad_rows)
        else:
            raise BagError(f"{f}: unknown storage file type {f.suffix!r} (expected .mcap or .db3)")

    def _register_types(self) -> None:
        known = self._store.fielddefs
        for c in self._conns:
            if c.msgtype in known or not c.msgdef:
                continue
            try:
                types = get_types_from_msg(c.msgdef.split("=" * 80)[0], c.msgtype)
                for part in c.msgdef.split("=" * 80 + "\n")[1:]:
                    head, _, body = part.partition("\n")
                    name = head.removeprefix("MSG: ").strip()
                    if "/msg/" not in name:
                        name = name.replace("/", "/msg/")
                    types.update(get_types_from_msg(body, name))
                self._store.register({k: v for k, v in types.items() if k not in known})
            except Exception as err:
                self.drops.add(c.topic, "bad_message_definition", 1, f"{c.msgtype}: {err}")

    def _check_plan(self) -> None:
        for c in self._conns:
            if c.msgtype not in self._store.fielddefs and c.topic in self.plan.role_of():
                raise BagError(f"{self.path}: topic {c.topic} has unknown message type {c.msgtype} "
                               "and the bag embeds no definition for it")
        for c in self._conns:
            if c.msgtype not in self._store.fielddefs:
                self.drops.add(c.topic, "unknown_message_type", max(c.count, 1),
                               f"{c.msgtype}: no definition in the bag or the type store; topic skipped")
        if not self.plan.topic(Role.ODOM):
            self.drops.add("navigation", "no_navigation", 1,
                           f"no {msgdefs.ODOMETRY} topic (looked for {self.topics.odom} and by type); "
                           "pings cannot be georeferenced")
        if not self.plan.sonar_roles:
            self.drops.add("sonar", "no_sonar", 1,
                           "no LaserScan, PointCloud2, ProjectedSonarImage or SonarDetections topic in the bag")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def topic_infos(self) -> list[TopicInfo]:
        return [TopicInfo(c.topic, c.msgtype, c.count) for c in self._conns]

    @property
    def message_count(self) -> int:
        return sum(c.count for c in self._conns)

    # -- reading
    def samples(self, *, strict: bool = False) -> Iterator[BagItem]:
        """Yield typed samples of every used topic in bag (log time) order.

        Malformed messages are skipped, counted and logged. If the bag is damaged,
        everything before the damage is yielded first; then the damage is recorded
        in :attr:`damage` and :attr:`drops`, or raised as
        :class:`~hullscan.errors.BagTruncatedError` when ``strict``.
        """
        if self._raw is None:
            raise BagError(f"{self.path}: reader is not open")
        roles = self.plan.role_of()
        types = {c.topic: c.msgtype for c in self._conns}
        last_stamp: dict[str, int] = {}
        fast_roles = {t: r for t, r in roles.items()
                      if (r is Role.ODOM and types.get(t) == msgdefs.ODOMETRY)
                      or (r is Role.SCAN and types.get(t) == msgdefs.LASERSCAN)}
        raw, self._raw = self._raw, None
        read_raw, last_raw = self._read_raw, self._last_raw
        try:
            for topic, log_ns, data in raw:
                read_raw[topic] = read_raw.get(topic, 0) + 1
                last_raw[topic] = log_ns
                role = roles.get(topic)
                if role is None:
                    continue
                items = self._decode(topic, role, fast_roles.get(topic), types[topic], data)
                if items is None:
                    continue
                for item in items:
                    self._check_stamp(topic, item, last_stamp)
                    self.stats.delivered[topic] = self.stats.delivered.get(topic, 0) + 1
                    yield item
        except _Damage as err:
            self._record_damage(err, strict)
        else:
            self._reconcile()
        self._check_sonar_transforms()

    def _decode(self, topic: str, role: Role, fast: Role | None, msgtype: str, data: Any) -> list[BagItem] | None:
        """The samples of one message; None (counted as a drop) when it cannot be decoded."""
        if fast is not None:  # Odometry / LaserScan straight from CDR bytes
            try:
                items = self._convert_fast(fast, topic, data if isinstance(data, bytes) else bytes(data))
            except MessageError as err:
                self.drops.add(topic, "malformed_message", 1, str(err))
                return None
            if items is not None:
                return items
        try:
            msg = self._store.deserialize_cdr(data, msgtype)
        except Exception as err:
            self.drops.add(topic, "undecodable_message", 1, f"{msgtype}: {err}")
            return None
        try:
            return self._convert(role, topic, msg)
        except MessageError as err:
            self.drops.add(topic, "malformed_message", 1, str(err))
            return None

    def _record_damage(self, err: Exception, strict: bool) -> None:
        """The stream stopped at damage: recorded with its span (raised when ``strict``)."""
        self.damage = str(err)
        last = max(self._last_raw.values(), default=None)
        self._damage_ns = last if self._damage_ns is None else self._damage_ns
        self.drops.add(str(self.path), "truncated_or_corrupt", 1,
                       f"stopped at damage after {sum(self.stats.delivered.values())} samples: {err}",
                       span=None if last is None or self.end_ns is None else (last, max(last, self.end_ns)))
        self._reconcile()
        if strict:
            raise BagTruncatedError(
                f"{self.path}: bag is damaged ({err}); "
                f"{sum(self.stats.delivered.values())} samples before the damage were delivered"
            ) from err

    def _reconcile(self) -> None:
        """Count, per topic, every message the bag's metadata/index lists but that was not read.

        Messages in a chunk that failed (``corrupt_chunk``) are already counted with their span;
        what remains (a cut file, damage the reader could not place) is ``missing_vs_index``,
        spanning from the last message read before the damage to the end of the bag.
        """
        for topic, want in sorted(self.expected.items()):
            got = self._read_raw.get(topic, 0) + self.drops.counts.get((topic, "corrupt_chunk"), 0)
            if got >= want:
                continue
            spans = list(self._damage_spans)
            t0 = self._damage_ns if self._damage_ns is not None else (
                None if spans else self._last_raw.get(topic))
            if t0 is not None and self.end_ns is not None:
                spans.append((t0, max(t0, self.end_ns)))  # the stream ended at damage: the rest is gone
            where = "; lost in " + ", ".join(f"{a * 1e-9:.3f}-{b * 1e-9:.3f} s" for a, b in spans) if spans else ""
            self.drops.add(topic, "missing_vs_index", want - got,
                           f"the bag's index lists {want} messages, {got} were read or counted lost{where}")
            for span in spans:
                self.drops.add_span((topic, "missing_vs_index"), span)

    def _check_stamp(self, topic: str, item: BagItem, last: dict[str, int]) -> None:
        if isinstance(item, TransformStamped) and item.static:
            return
        stamp = item.stamp_ns
        prev = last.get(topic)
        if prev is not None and stamp == prev and not isinstance(item, TransformStamped):
            # (one /tf message carries several transforms of one stamp: not duplicates)
            self.drops.add(topic, "stamp_duplicate", 1, f"header.stamp {stamp * 1e-9:.6f} s repeated "
                           "(kept; consumers keep the first)")
        if prev is not None and stamp < prev - int(1e9 * 0.0):
            self.drops.add(topic, "stamp_backwards", 1,
                           f"header.stamp {stamp * 1e-9:.6f} s after {prev * 1e-9:.6f} s (kept; consumers reorder)")
        last[topic] = max(stamp, prev or stamp)

    def _convert_fast(self, role: Role, topic: str, data: bytes) -> list[BagItem] | None:
        """Odometry / LaserScan decoded from CDR bytes; None: use the generic decoder."""
        if role is Role.ODOM:
            nav = convert.odom_from_cdr(data, topic, self.drops)
            return None if nav is None else [nav]
        msg = convert.scan_msg_from_cdr(data)
        return None if msg is None else self._convert(role, topic, msg)

    def _convert(self, role: Role, topic: str, msg: Any) -> list[BagItem]:
        if role is Role.SCAN:
            ping = convert.scan_from_msg(msg, topic, self.beamwidth)
            nan = int((~(ping.ranges == ping.ranges)).sum())
            self.drops.add(topic, "nan_range", nan, f"ping at {ping.stamp:.3f} s has {nan} NaN/inf ranges")
            self._seen_frame(ping.frame_id)
            return [ping]
        if role is Role.POINTS:
            pts = convert.points_from_msg(msg, topic)
            self._seen_frame(pts.frame_id)
            return [pts]
        if role is Role.IMAGE:
            img = convert.sonar_image_from_msg(msg, topic, self.default_aperture)
            self._seen_frame(img.frame_id)
            return [img]
        if role is Role.DETECTIONS:
            det = convert.detections_from_msg(msg, topic)
            bad = det.n_beams - int(det.good().sum())
            if bad:
                self.drops.add(topic, "flagged_beam", bad, f"ping at {det.stamp_ns * 1e-9:.3f} s: {bad} of "
                               f"{det.n_beams} beams flagged bad or without a travel time")
            self._seen_frame(det.frame_id)
            return [det.to_points()]
        if role is Role.ODOM:
            return [convert.odom_from_msg(msg, topic, self.drops)]
        if role in (Role.TF, Role.TF_STATIC):
            edges = convert.tf_from_msg(msg, topic, static=role is Role.TF_STATIC)
            for e in edges:
                self.tf.add(e)
            return list(edges)
        if role is Role.CAMERA_IMAGE:
            return [convert.image_from_msg(msg, topic)]
        if role is Role.CAMERA_COMPRESSED:
            return [convert.compressed_from_msg(msg, topic)]
        return [convert.camera_info_from_msg(msg, topic)]

    def _seen_frame(self, frame: str) -> None:
        self.stats.sonar_frames[frame] = self.stats.sonar_frames.get(frame, 0) + 1

    def _check_sonar_transforms(self) -> None:
        base = self.topics.base_frame
        for frame, n in self.stats.sonar_frames.items():
            if frame.lstrip("/") != base and not self.tf.can_transform(base, frame):
                self.drops.add(frame, "no_transform", n,
                               f"no TF from sonar frame '{frame}' to '{base}' in /tf or /tf_static; "
                               f"{n} pings cannot be placed")


def read_all(path: str | Path, topics: TopicsConfig | None = None) -> tuple[list[BagItem], BagReader]:
    """Read a whole bag into memory (small bags, tests)."""
    with BagReader(path, topics) as bag:
        items = list(bag.samples())
    return items, bag
