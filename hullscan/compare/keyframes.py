"""The camera node's keyframes, with a checkpoint that survives kill -9 (issue 17).

:class:`KeyframeKeeper` is what the camera node (:mod:`hullscan.ros.camera`) does between
messages in and evidence out: it picks keyframes, keeps the odometry, intrinsics and mountings
the evidence search projects through, and writes all of it to a :class:`KeyframeStore`. The
odometry, intrinsics and mountings are checkpointed too, not only the images: a node restarted
after the player ended gets no CameraInfo again (it is not latched) and no ``/hullscan/mounts``
(latched by the player, gone with it), and a keyframe without the pose at its stamp is no evidence.

Files, in ``<checkpoint_dir>/camera/``:

- ``keyframes.log``: append-only records, each ``MAGIC`` (8 bytes), payload length (uint32 LE),
  CRC-32 of the payload (uint32 LE), payload: a JSON header (its length as uint32 LE first),
  then the navigation rows it carries (int64 stamps, then float64 rows of position, xyzw
  orientation and position sigma). Kinds: ``frame`` (one keyframe: stamp, frame id, file format,
  shape, file; with the odometry received since the previous record), ``nav``, ``model`` (a
  camera's intrinsics, when they change) and ``mounts``. A process killed while appending
  leaves a torn last record: reading stops at the first record that is short or fails its CRC,
  counts it, and the next append overwrites it.
- ``frames/``: one image per keyframe (JPEG for raw images, the bytes as received for a
  CompressedImage), written under a temporary name and renamed before its record is appended.
  An image whose record never made it is removed when the store is opened.
- ``keyframes.log.survey.json``: the :class:`~hullscan.recon.checkpoint.SurveyIdentity`; the
  keyframes are restored only into the same survey, by the mapper's rules
  (:func:`~hullscan.recon.checkpoint.restore_decision`), decided on the first data.

Bounded: the newest ``max_keyframes`` images are kept (older files deleted); once the log holds
twice as many frame records it is rewritten (temporary file, then renamed over it) with what is
kept and the odometry from the oldest kept keyframe on.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan import recordlog
from hullscan.errors import ConfigError, HullscanError
from hullscan.model import CameraFrame, CameraModel, NavSample, TransformStamped
from hullscan.recon.checkpoint import (
    RESUME_MODES,
    RESUME_WINDOW_S,
    SurveyIdentity,
    identity_path,
    read_identity,
    restore_decision,
    write_identity,
)
from hullscan.recon.live import Reporter
from hullscan.recon.mounts import mounts_from_json, mounts_json
from hullscan.tf import TfTree

MAGIC = b"HSKEYFR1"
_HEAD = struct.Struct("<8sII")
_JSON_LEN = struct.Struct("<I")
NAV_COLUMNS = 10  # position (3), xyzw orientation (4), position sigma (3)
JPEG_QUALITY = 90  # a keyframe is evidence for a person to look at, not a measurement


class KeyframeCheckpointError(HullscanError):
    """The keyframe checkpoint cannot be written or read (names the path and why)."""


@dataclass(frozen=True)
class KeyframeEntry:
    """One stored keyframe: ``file`` under ``frames/`` holds its image, ``fmt`` (jpeg/png) encoded;
    ``compressed``: it came as a CompressedImage (restored frames say so too)."""

    stamp_ns: int
    frame_id: str
    fmt: str
    shape: tuple[int, ...]
    compressed: bool
    file: str


@dataclass(frozen=True)
class KeyframeSettings:
    """The camera node's parameters the keeper acts on (names as the parameters')."""

    keyframe_period_s: float = 1.0
    max_keyframes: int = 600
    checkpoint_dir: str = ""
    resume: str = "auto"
    survey_id: str = ""

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> KeyframeSettings:
        return cls(**{k: type(v)(params[k]) for k, v in cls().__dict__.items()})


# --------------------------------------------------------------------------- records


def _record(header: dict[str, Any], nav: Sequence[NavSample] = ()) -> bytes:
    js = json.dumps({**header, "nav_n": len(nav), "nav_frame": nav[0].frame_id if nav else ""}).encode()
    stamps = np.array([s.stamp_ns for s in nav], np.int64)
    rows = np.array([[*s.position, *s.orientation, *s.position_sigma] for s in nav], np.float64)
    payload = _JSON_LEN.pack(len(js)) + js + stamps.tobytes() + rows.reshape(-1, NAV_COLUMNS).tobytes()
    return recordlog.frame(_HEAD, MAGIC, payload)


def _parse(payload: bytes) -> tuple[dict[str, Any], list[NavSample]]:
    (n_js,) = _JSON_LEN.unpack_from(payload, 0)
    header = json.loads(payload[_JSON_LEN.size:_JSON_LEN.size + n_js])
    n, at = int(header["nav_n"]), _JSON_LEN.size + n_js
    stamps = np.frombuffer(payload, np.int64, n, at)
    rows = np.frombuffer(payload, np.float64, n * NAV_COLUMNS, at + 8 * n).reshape(n, NAV_COLUMNS)
    nav = [NavSample(int(t), r[:3], r[3:7], header["nav_frame"], position_sigma=r[7:]) for t, r in zip(stamps, rows, strict=True)]
    return header, nav


def read_records(path: Path) -> tuple[list[tuple[dict[str, Any], list[NavSample]]], int, int]:
    """The valid records of the log at ``path`` in order, the bytes they use and the bytes after
    them (a torn or corrupt tail, ignored)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0, 0
    except OSError as err:
        raise KeyframeCheckpointError(f"{path}: keyframe log unreadable ({err})") from err
    out, pos = [], 0
    for start, end in recordlog.records(data, _HEAD, MAGIC):
        try:
            out.append(_parse(data[start:end]))
        except (ValueError, KeyError, TypeError, struct.error):
            break
        pos = end
    return out, pos, len(data) - pos


def _model_header(m: CameraModel) -> dict[str, Any]:
    return {"kind": "model", "stamp_ns": m.stamp_ns, "frame_id": m.frame_id, "width": m.width, "height": m.height,
            "k": m.k.ravel().tolist(), "d": m.d.tolist(), "distortion_model": m.distortion_model}


def _same_model(a: CameraModel, b: CameraModel) -> bool:
    return (a.width, a.height, a.distortion_model) == (b.width, b.height, b.distortion_model) \
        and np.array_equal(a.k, b.k) and np.array_equal(a.d, b.d)


def _encode(frame: CameraFrame) -> tuple[bytes, str]:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.asarray(frame.image)).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue(), "jpeg"


def _decode(data: bytes) -> NDArray[np.uint8]:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as src:
        im = src.convert("L") if src.mode in ("L", "I;16") else src.convert("RGB")
        return np.asarray(im, dtype=np.uint8)


# --------------------------------------------------------------------------- the store


class KeyframeStore:
    """The keyframe checkpoint in ``directory`` (see the module text). Opening reads the log's
    index (not the images): ``entries``, ``nav``, ``models``, ``mounts``, ``identity``, and what
    was dropped: ``torn_records`` (0 or 1), ``ignored_bytes``, ``missing_images``."""

    entries: deque[KeyframeEntry]
    nav: list[NavSample]
    models: dict[str, CameraModel]
    mounts: dict[str, TransformStamped]
    identity: SurveyIdentity | None

    def __init__(self, directory: str | Path, max_keyframes: int) -> None:
        if max_keyframes < 1:
            raise ConfigError(f"max_keyframes is {max_keyframes}: expected 1 or more")
        self.dir, self.max_keyframes = Path(directory), int(max_keyframes)
        self.log, self.frames_dir = self.dir / "keyframes.log", self.dir / "frames"
        self._reset()
        records, self.log_end, self.ignored_bytes = read_records(self.log)
        self.torn_records = int(self.ignored_bytes > 0)
        for header, nav in records:
            self._take(header, nav)
        self.frame_records = sum(h["kind"] == "frame" for h, _ in records)
        self.records = len(records)
        kept = [e for e in self.entries if (self.frames_dir / e.file).is_file()]
        self.missing_images = len(self.entries) - len(kept)
        self.entries = deque(kept[-self.max_keyframes:])
        self._remove_orphans()
        self.identity = read_identity(self.log)

    def _reset(self) -> None:
        self.entries, self.nav, self.models, self.mounts = deque(), [], {}, {}
        self.log_end = self.records = self.frame_records = self.torn_records = self.ignored_bytes = 0
        self.missing_images = 0
        self.identity = None

    def _take(self, h: dict[str, Any], nav: list[NavSample]) -> None:
        self.nav += [s for s in nav if not self.nav or s.stamp_ns > self.nav[-1].stamp_ns]
        if h["kind"] == "frame":
            self.entries = deque(e for e in self.entries if e.file != h["file"])  # a frame written again
            self.entries.append(KeyframeEntry(int(h["stamp_ns"]), str(h["frame_id"]), str(h["fmt"]),
                                              tuple(int(x) for x in h["shape"]), bool(h["compressed"]), str(h["file"])))
        elif h["kind"] == "model":
            self.models[h["frame_id"]] = CameraModel(int(h["stamp_ns"]), h["frame_id"], int(h["width"]), int(h["height"]),
                                                     np.reshape(h["k"], (3, 3)), np.array(h["d"]), h["distortion_model"])
        elif h["kind"] == "mounts":
            self.mounts.update({e.child_frame: e for e in mounts_from_json(h["mounts"])})

    def _remove_orphans(self) -> None:
        keep = {e.file for e in self.entries}
        if self.frames_dir.is_dir():
            for f in self.frames_dir.iterdir():
                if f.name not in keep:
                    f.unlink(missing_ok=True)

    @property
    def span_ns(self) -> tuple[int, int] | None:
        return (self.entries[0].stamp_ns, self.entries[-1].stamp_ns) if self.entries else None

    def clear(self) -> None:
        """Remove every file of the checkpoint (a new survey, or a fresh start)."""
        for p in (self.log, identity_path(self.log), self.log.with_name(self.log.name + ".tmp")):
            p.unlink(missing_ok=True)
        self._reset()
        self._remove_orphans()

    def frames(self) -> tuple[list[CameraFrame], int]:
        """The stored keyframes decoded, oldest first, and how many could not be read."""
        out: list[CameraFrame] = []
        for e in self.entries:
            try:
                img = _decode((self.frames_dir / e.file).read_bytes())
                if img.shape != e.shape:
                    raise ValueError(f"shape {img.shape}, the index says {e.shape}")
            except (OSError, ValueError, SyntaxError):  # PIL: OSError for a cut file, SyntaxError for some
                continue
            out.append(CameraFrame(e.stamp_ns, e.frame_id, img, e.compressed,
                                   e.fmt if e.compressed else ("mono8" if img.ndim == 2 else "rgb8")))
        return out, len(self.entries) - len(out)

    # -- writing
    def _append(self, rec: bytes) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.log, "r+b" if self.log.exists() else "wb") as f:
                f.truncate(self.log_end)  # drops a torn record a killed writer left
                f.seek(self.log_end)
                f.write(rec)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise KeyframeCheckpointError(f"{self.log}: keyframe record not written ({err})") from err
        self.log_end += len(rec)
        self.records += 1

    def add_frame(self, frame: CameraFrame, nav: Sequence[NavSample] = (), encoded: bytes | None = None) -> None:
        """Store one keyframe (``encoded``: the CompressedImage bytes it came as, kept as they are)
        with the odometry received since the previous record."""
        data, fmt = (encoded, frame.format) if encoded is not None and frame.compressed else _encode(frame)
        name = f"{frame.stamp_ns}-{zlib.crc32(frame.frame_id.encode()):08x}.{'png' if fmt == 'png' else 'jpg'}"
        try:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.frames_dir / f"{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.frames_dir / name)
        except OSError as err:
            raise KeyframeCheckpointError(f"{self.frames_dir / name}: keyframe image not written ({err})") from err
        header = {"kind": "frame", "stamp_ns": frame.stamp_ns, "frame_id": frame.frame_id, "fmt": fmt,
                  "shape": list(frame.image.shape), "compressed": frame.compressed, "file": name}
        self._append(_record(header, nav))
        self._take(header, list(nav))
        self.frame_records += 1
        while len(self.entries) > self.max_keyframes:
            (self.frames_dir / self.entries.popleft().file).unlink(missing_ok=True)
        self._compact_when_due()

    def add_model(self, model: CameraModel) -> bool:
        """Store a camera's intrinsics if they changed; whether they did."""
        old = self.models.get(model.frame_id)
        if old is not None and _same_model(old, model):
            return False
        self._append(_record(_model_header(model)))
        self.models[model.frame_id] = model
        return True

    def add_mounts(self, edges: Iterable[TransformStamped]) -> bool:
        """Store the mountings that are new or changed; whether any were."""
        new = [e for e in edges if (o := self.mounts.get(e.child_frame)) is None or o.parent_frame != e.parent_frame
               or not np.array_equal(o.transform.as_matrix(), e.transform.as_matrix())]
        if not new:
            return False
        self._append(_record({"kind": "mounts", "mounts": mounts_json(new)}))
        self.mounts.update({e.child_frame: e for e in new})
        return True

    def add_nav(self, nav: Sequence[NavSample]) -> None:
        if nav:
            self._append(_record({"kind": "nav"}, nav))
            self._take({"kind": "nav"}, list(nav))
            self._compact_when_due()

    def _compact_when_due(self) -> None:
        # Frame records past twice the kept ones, or many others (odometry, changed intrinsics).
        if self.frame_records >= 2 * self.max_keyframes or self.records >= 8 * self.max_keyframes + 64:
            self.compact()

    def mark(self, ident: SurveyIdentity) -> None:
        try:
            write_identity(self.log, ident)
        except OSError as err:
            raise KeyframeCheckpointError(f"{identity_path(self.log)}: survey identity not written ({err})") from err
        self.identity = ident

    def compact(self) -> None:
        """Rewrite the log with what is kept: intrinsics, mountings, the odometry from the last
        sample at or before the oldest kept keyframe on, and the kept keyframes."""
        first = self.entries[0].stamp_ns if self.entries else 0
        i0 = max(0, int(np.searchsorted([s.stamp_ns for s in self.nav], first, side="right")) - 1)
        nav = self.nav[i0:]
        recs = [_record(_model_header(m)) for m in self.models.values()]
        recs += [_record({"kind": "mounts", "mounts": mounts_json(self.mounts.values())})] if self.mounts else []
        recs += [_record({"kind": "nav"}, nav)] if nav else []
        recs += [_record({"kind": "frame", "stamp_ns": e.stamp_ns, "frame_id": e.frame_id, "fmt": e.fmt,
                          "shape": list(e.shape), "compressed": e.compressed, "file": e.file}) for e in self.entries]
        tmp = self.log.with_name(self.log.name + ".tmp")
        data = b"".join(recs)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.log)
        except OSError as err:
            raise KeyframeCheckpointError(f"{self.log}: keyframe log not compacted ({err})") from err
        self.nav, self.log_end, self.frame_records, self.records = nav, len(data), len(self.entries), len(recs)


# --------------------------------------------------------------------------- the keeper


class KeyframeKeeper:
    """The camera node's state between messages: keyframes (one per ``keyframe_period_s`` of data,
    the newest ``max_keyframes``), odometry, intrinsics (``models``) and mountings (``tf``), with
    the checkpoint in ``<checkpoint_dir>/camera`` when there is one. ``nav_frame``: the survey's
    navigation frame (its identity); ``info``: where the restore's lines go (the node's log)."""

    def __init__(self, settings: KeyframeSettings, nav_frame: str, report: Reporter,
                 info: Callable[[str], object] = print, max_nav_gap_s: float = 0.5) -> None:
        if settings.resume not in RESUME_MODES:
            raise ConfigError(f"resume is {settings.resume!r}: expected one of {', '.join(RESUME_MODES)}")
        self.s, self.nav_frame, self.report, self.info = settings, nav_frame, report, info
        self.period_ns = int(1e9 * settings.keyframe_period_s)
        self.max_nav_gap_ns = int(1e9 * max_nav_gap_s)
        self.keyframes: deque[CameraFrame] = deque(maxlen=int(settings.max_keyframes))
        self.nav: list[NavSample] = []
        self.models: dict[str, CameraModel] = {}
        self.tf = TfTree()
        self.mounts: dict[str, TransformStamped] = {}
        self.first_ns: int | None = None  # the survey's first data (with a restored one's)
        self.restored_nav_ns = -1  # odometry up to here came from the checkpoint
        self.unsaved_nav: list[NavSample] = []  # odometry not yet in the checkpoint
        self.finished = False
        report.stats.update(frames=0, keyframes=0)
        self.store: KeyframeStore | None = None
        if not settings.checkpoint_dir:
            return
        try:
            st = self.store = KeyframeStore(Path(settings.checkpoint_dir) / "camera", settings.max_keyframes)
        except KeyframeCheckpointError as err:  # as the mapper: the node runs, without a checkpoint, and says so
            report.warn(settings.checkpoint_dir, "checkpoint_unusable", f"{err}; keyframes kept in memory only")
            report.stats["checkpoint_decision"] = f"no keyframe checkpoint: {err}"
            return
        report.stats.update(checkpoint_keyframes=len(st.entries), checkpoint_torn_records=st.torn_records,
                            checkpoint_missing_images=st.missing_images)
        if st.torn_records:
            report.warn(str(st.log), "torn_record", f"{st.ignored_bytes} bytes after the last whole record dropped")
        if settings.resume == "fresh" and (st.entries or st.nav or st.identity):
            st.clear()  # an explicit fresh start: the old keyframes go now, not on the first data
            report.stats["checkpoint_decision"] = "fresh start asked for (--fresh): the keyframe checkpoint was cleared"
            info(str(report.stats["checkpoint_decision"]))
        elif st.entries:
            info(f"keyframe checkpoint {st.dir}: {len(st.entries)} keyframes, {_span(st.span_ns)}; restored on the "
                 "first data if they are this survey's")

    # -- the survey's first data decides the restore
    def first_data(self, stamp_ns: int, nav_frame: str, derived: bool = False) -> None:
        """``derived``: the stamp is an output about the survey (the comparator's findings, of a map
        whose newest ping may predate the camera's first frame), not the camera's own input."""
        if self.first_ns is not None:
            return
        st = self.store
        ident = st.identity if st is not None else None
        if derived and ident is not None and ident.first_ns - int(RESUME_WINDOW_S * 1e9) <= stamp_ns < ident.first_ns:
            # A restarted node can hear the latched findings of an inspection made before the
            # camera's first keyframe of the same survey (seconds earlier): that is not another survey.
            stamp_ns = ident.first_ns
        self.first_ns = stamp_ns
        if st is None:
            return
        if st.entries or st.nav or st.models or st.identity:
            self._decide(st, stamp_ns, nav_frame)
        # What came before the decision (intrinsics, mountings from the parameters) goes in now.
        self._save(lambda s: [s.add_model(m) for m in list(self.models.values())])
        self._save(lambda s: s.add_mounts(list(self.mounts.values())))

    def _decide(self, st: KeyframeStore, stamp_ns: int, nav_frame: str) -> None:
        ok, why = restore_decision(st.identity, self.s.resume, first_ns=stamp_ns, nav_frame=nav_frame,
                                   survey_id=self.s.survey_id)
        self.report.stats["checkpoint_decision"] = why
        if not ok:
            self.report.warn(str(st.dir), "checkpoint_not_restored", why)
            st.clear()  # another survey: its keyframes must not mix with this one's
            return
        if st.identity is not None:
            self.first_ns = min(st.identity.first_ns, stamp_ns)
        self._restore(st)

    def _restore(self, st: KeyframeStore) -> None:
        frames, unreadable = st.frames()
        live = list(self.keyframes)
        self.keyframes.clear()
        self.keyframes.extend([f for f in frames if not live or f.stamp_ns < live[0].stamp_ns] + live)
        self.nav = sorted({s.stamp_ns: s for s in [*st.nav, *self.nav]}.values(), key=lambda s: s.stamp_ns)
        self.restored_nav_ns = st.nav[-1].stamp_ns if st.nav else -1
        for fid, m in st.models.items():
            self.models.setdefault(fid, m)  # what arrived live is newer
        for child, e in st.mounts.items():
            if child not in self.mounts:
                self.mounts[child] = e
                self.tf.add(e)
        self.report.stats.update(keyframes=len(self.keyframes), keyframes_restored=len(frames))
        if unreadable:
            self.report.warn(str(st.frames_dir), "keyframe_unreadable", f"{unreadable} stored images", unreadable)
        span = (frames[0].stamp_ns, frames[-1].stamp_ns) if frames else None
        self.info(f"restored {len(frames)} keyframes ({_span(span)}), {len(st.nav)} odometry samples, "
                  f"{len(st.models)} camera models and {len(st.mounts)} mountings from {st.dir}: "
                  f"{self.report.stats['checkpoint_decision']}")

    # -- inputs
    def add_nav(self, nav: NavSample, where: str) -> None:
        self.first_data(nav.stamp_ns, nav.frame_id)
        if self.nav and nav.stamp_ns <= self.nav[-1].stamp_ns:
            reason = "already_in_checkpoint" if nav.stamp_ns <= self.restored_nav_ns else "nav_backwards"
            self.report.warn(where, reason, "odometry out of order or already held: sample ignored")
            return
        if self.nav and nav.stamp_ns - self.nav[-1].stamp_ns > self.max_nav_gap_ns:
            t0, t1 = self.nav[-1].stamp_ns * 1e-9, nav.stamp_ns * 1e-9
            self.report.warn(where, "odometry_gap", f"no odometry from t={t0:.3f} to {t1:.3f} s: frames in it give no evidence")
        self.nav.append(nav)
        if self.store is None:
            return
        self.unsaved_nav.append(nav)
        # Usually a keyframe's record takes the odometry with it; without this, the pose just
        # after the newest keyframe (which brackets its stamp) would be lost with the process.
        if nav.stamp_ns - self.unsaved_nav[0].stamp_ns >= self.period_ns // 2:
            batch, self.unsaved_nav = self.unsaved_nav, []
            self._save(lambda st: st.add_nav(batch))

    def add_model(self, model: CameraModel) -> None:
        self.models[model.frame_id] = model
        self._save(lambda st: st.add_model(model))

    def add_mounts(self, edges: Sequence[TransformStamped]) -> None:
        for e in edges:
            self.tf.add(e)
            self.mounts[e.child_frame] = e
        self._save(lambda st: st.add_mounts(edges))

    def offer_frame(self, frame: CameraFrame, encoded: Callable[[], bytes] | None = None) -> bool:
        """Count a camera frame and keep it if it is a keyframe (``encoded``: gives its CompressedImage
        bytes, called for a keyframe only)."""
        self.first_data(frame.stamp_ns, self.nav_frame)
        self.report.stats["frames"] = int(self.report.stats["frames"]) + 1  # type: ignore[call-overload]
        if self.keyframes and frame.stamp_ns - self.keyframes[-1].stamp_ns < self.period_ns:
            return False
        self.keyframes.append(frame)
        self.report.stats["keyframes"] = len(self.keyframes)
        nav, self.unsaved_nav = self.unsaved_nav, []
        if self._save(lambda st: st.add_frame(frame, nav, encoded() if encoded else None)):
            # Frames after a finish (a survey started without restarting the node) are a survey to finish again.
            self.finished = False
            last = max(frame.stamp_ns, nav[-1].stamp_ns if nav else 0)
            self._save(lambda st: st.mark(SurveyIdentity(self.s.survey_id, self.nav_frame, self.first_ns or last, last)))
        return True

    def finish(self) -> None:
        """The survey's final findings are answered: its checkpoint is never restored into the next
        survey (unless asked to, ``--resume``). The odometry not yet saved goes with it."""
        st = self.store
        if st is None or self.finished:
            return
        self.finished = True
        nav, self.unsaved_nav = self.unsaved_nav, []
        last = max([st.identity.last_ns if st.identity else 0, *(s.stamp_ns for s in nav[-1:])])
        if self._save(lambda s: s.add_nav(nav)):
            self._save(lambda s: s.mark(SurveyIdentity(self.s.survey_id, self.nav_frame, self.first_ns or last, last,
                                                       finished=True)))

    def _save(self, write: Callable[[KeyframeStore], object]) -> bool:
        """Run one checkpoint write; a failure is a warning, never a lost keyframe in memory.
        Nothing is written before the first data decided whose checkpoint this is."""
        if self.store is None or self.first_ns is None:
            return False
        try:
            write(self.store)
        except HullscanError as err:
            self.report.warn(str(self.store.dir), "checkpoint_failed", str(err))
            return False
        self.report.stats["checkpoint_keyframes"] = len(self.store.entries)
        return True


def _span(span: tuple[int, int] | None) -> str:
    return "none" if span is None else f"{span[0] * 1e-9:.3f}-{span[1] * 1e-9:.3f} s ({(span[1] - span[0]) * 1e-9:.1f} s)"
