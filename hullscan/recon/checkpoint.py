"""Incremental checkpoints of a reconstruction: a base snapshot plus a log of deltas.

A live map late in a survey holds millions of voxels (68 B each), but a few seconds of
stream change only thousands of them. So a checkpoint is the base file (the full
:meth:`hullscan.recon.Reconstructor.checkpoint` format, with a ``base_id``) and, beside it,
``<base>.delta``: an append-only log of records, each holding the voxels changed since the
previous record (ids, keys and 68-byte records; voxel ids are insertion order and voxels are
never removed, so new voxels are the ids past the previous count), the navigation rows added
since (the last row again: a sample with the same stamp replaces it), the stats and drops, and the
returns kept since (``ret_*``: the blocks the live mapper keeps to correct drift at the survey's end;
the base holds all of them).
Restoring applies the records of the same ``base_id`` in order onto the base, which gives
the map, navigation, stats and drops at the last record bit for bit.

Record layout: ``MAGIC`` (8 bytes), payload length (uint64 LE), CRC-32 of the payload (uint32
LE), payload (an ``.npz``). A process killed while appending leaves a torn last record:
restore stops at the first record that is short, fails its CRC or names another base, and the
next append overwrites from there. The log is folded into a new base (written beside, then
renamed over the old one) once it outgrows a fraction of the base; a crash between the rename
and emptying the log leaves records naming the old base, which restore ignores.

What changed is found from the hit and miss counts (every change of a record adds a hit or a
miss), compared with a copy taken at the previous checkpoint; counts at 2^24 or over, where
float32 stops counting, are always taken as changed. A voxel's first and last sight times
(``hullscan.core.visits``) change only with a hit, so the same voxels carry them, where the map
keeps them.
"""

from __future__ import annotations

import io
import json
import os
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan import recordlog
from hullscan.core.voxelmap import changed_reference, changed_voxels
from hullscan.errors import HullscanError
from hullscan.recon.tiles import Block

MAGIC = b"HSDELTA1"
# The survey's kept returns (the blocks the live mapper keeps to correct drift at the survey's end)
# travel with the map: the base holds all of them, each record those kept since the previous one.
RETURNS = ("ret_block", "ret_stamps", "ret_frames", "ret_footprint", "ret_ranges", "ret_keep", "ret_dirs",
           "ret_dir_rows")
_HEAD = struct.Struct("<8sQI")
# The state keys of the per-voxel times (hullscan.core.visits), beside the map's own; the meta's
# ``seen_t0_ns`` is their origin.
SEEN = ("seen_first", "seen_last")


def delta_path(base: str | Path) -> Path:
    """The delta log beside a base checkpoint file."""
    base = Path(base)
    return base.with_name(base.name + ".delta")


# --------------------------------------------------------------------------- change detection


def changed_since(acc: NDArray[np.float32], snap: NDArray[np.float32], n_old: int, n: int) -> NDArray[np.int64]:
    """Voxels changed since ``snap`` (hit and miss counts of the first ``n_old`` records, (>= n, 2))
    or new up to ``n``, ascending; ``snap`` is brought up to date."""
    if not (0 <= n_old <= n <= acc.shape[0] and acc.ndim == 2 and acc.shape[1] >= 2
            and snap.ndim == 2 and snap.shape[0] >= n and snap.shape[1] == 2):
        raise ValueError(f"changed_since: need 0 <= n_old {n_old} <= n {n} <= records {acc.shape} "
                         f"and snap (>= n, 2), got {snap.shape}")
    if acc.dtype != np.float32 or snap.dtype != np.float32 or not snap.flags.c_contiguous:
        raise ValueError("changed_since: acc and snap must be float32 (snap C-contiguous)")
    return changed_voxels(acc, snap, n_old, n)


def changed_since_reference(acc: NDArray[np.float32], snap: NDArray[np.float32], n_old: int,
                            n: int) -> NDArray[np.int64]:
    """numpy reference of :func:`changed_since` (does not update ``snap``)."""
    return changed_reference(acc, snap, n_old, n)


# --------------------------------------------------------------------------- files


def write_base(path: Path, st: dict[str, NDArray[Any]], nav_t: NDArray[np.int64], nav_a: NDArray[np.float64],
               meta: dict[str, Any]) -> None:
    """The base file (the full checkpoint format; ``meta`` carries ``base_id``)."""
    with open(path, "wb") as f:
        arrays: dict[str, Any] = {f"map_{k}": v for k, v in st.items()}
        np.savez(f, nav_t=nav_t, nav_a=nav_a, meta=np.array(json.dumps(meta)), **arrays)


def _record(arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    named: dict[str, Any] = dict(arrays)
    np.savez(buf, meta=np.array(json.dumps(meta)), **named)
    payload = buf.getvalue()
    return recordlog.frame(_HEAD, MAGIC, payload)


def read_deltas(path: Path, base_id: str | None) -> tuple[list[tuple[dict[str, Any], dict[str, NDArray[Any]]]], int, int]:
    """The valid records of the log at ``path`` for ``base_id``, in order: (records, bytes used,
    bytes ignored after them). Reading stops at the first torn, corrupt or foreign record."""
    if base_id is None or not path.exists():
        return [], 0, 0
    data = path.read_bytes()
    out: list[tuple[dict[str, Any], dict[str, NDArray[Any]]]] = []
    pos = 0
    for start, end in recordlog.records(data, _HEAD, MAGIC):
        try:
            with np.load(io.BytesIO(data[start:end])) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in z.files if k != "meta"}
        except (OSError, KeyError, ValueError):
            break
        if meta.get("base_id") != base_id or meta.get("seq") != len(out) + 1:
            break
        out.append((meta, arrays))
        pos = end
    return out, pos, len(data) - pos


def load(path: str | Path) -> dict[str, Any]:
    """A checkpoint as of its last valid delta: ``state`` (vkey, acc, voxel_size), ``nav_t``,
    ``nav_a``, ``meta`` (config, stats, drops, base_id), ``base_id``, ``deltas`` (applied),
    ``log_bytes`` (the log's valid length) and ``ignored_bytes`` (after it)."""
    path = Path(path)
    try:
        with np.load(path) as z:
            st = {k[4:]: z[k] for k in z.files if k.startswith("map_")}
            nav_t, nav_a = z["nav_t"], z["nav_a"]
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError, EOFError) as err:
        raise HullscanError(f"{path}: not a readable reconstruction checkpoint ({err})") from err
    base_id = meta.get("base_id")
    try:
        recs, used, ignored = read_deltas(delta_path(path), base_id)
    except OSError as err:
        raise HullscanError(f"{delta_path(path)}: delta log unreadable ({err})") from err
    if recs:
        n = int(recs[-1][0]["n"])
        vkey = np.empty(n, np.int64)
        acc = np.empty((n, st["acc"].shape[1] if st["acc"].ndim == 2 else 16), np.float32)
        n0 = st["vkey"].shape[0]
        vkey[:n0], acc[:n0] = st["vkey"], st["acc"]
        # When each voxel was seen (kept where the map kept it; a base without times for voxels it
        # holds, or a record without them, leaves the whole map without: half the times would
        # undercount passes silently).
        timed = all(k in st for k in SEEN) or n0 == 0
        seen = {k: np.full(n if timed else 0, np.inf if k == "seen_first" else -np.inf, np.float32) for k in SEEN}
        if timed and n0:
            for k in SEEN:
                seen[k][:n0] = st[k]
        ends = [int(m["nav_start"]) + a["nav_t"].shape[0] for m, a in recs]
        t = np.empty(max([nav_t.shape[0], *ends]), np.int64)
        a13 = np.empty((t.shape[0], 13))
        t[: nav_t.shape[0]], a13[: nav_t.shape[0]] = nav_t, nav_a
        for m, arr in recs:
            ids = arr["ids"]
            vkey[ids] = arr["vkey"]
            acc[ids] = arr["acc"]
            timed = timed and (all(k in arr for k in SEEN) or not len(ids))
            if timed and len(ids):
                for k in SEEN:
                    seen[k][ids] = arr[k]
            s = int(m["nav_start"])
            t[s: s + arr["nav_t"].shape[0]] = arr["nav_t"]
            a13[s: s + arr["nav_t"].shape[0]] = arr["nav_a"]
        # Every other key of the base's state (the voxel size, the fusion's range weighting) stands.
        st = {**{k: v for k, v in st.items() if k not in SEEN}, "vkey": vkey, "acc": acc}
        last = recs[-1][0]
        t0 = next((m["seen_t0_ns"] for m, _ in reversed(recs) if m.get("seen_t0_ns") is not None),
                  meta.get("seen_t0_ns"))
        if timed and t0 is not None:
            st.update(seen)
        nav_t, nav_a = t[: ends[-1]], a13[: ends[-1]]
        meta = {**meta, "stats": last["stats"], "drops": last["drops"], "seen_t0_ns": t0 if timed else None}
    returns = _returns_of(st, recs)
    st = {k: v for k, v in st.items() if k not in RETURNS}
    if returns is not None:
        st.update(returns)
    return {"state": st, "nav_t": nav_t, "nav_a": nav_a, "meta": meta, "base_id": base_id,
            "deltas": len(recs), "log_bytes": used, "ignored_bytes": ignored}


def pack_returns(blocks: Sequence[Block]) -> dict[str, NDArray[Any]]:
    """``blocks`` as flat arrays (copies): per block its first ping, pings, beams and set of beam
    directions (``ret_block`` (K, 4)), frame and footprint; the stamps (P,), ranges and keep masks
    flat; each set of beam directions once (``ret_dirs`` (R, 3), ``ret_dir_rows`` (S, 2): first row,
    rows), as the blocks share them."""
    sets: dict[int, int] = {}
    dirs: list[NDArray[np.float32]] = []
    rows: list[tuple[int, int]] = []
    head = np.zeros((len(blocks), 4), np.int64)
    first = row = 0
    for k, b in enumerate(blocks):
        d = sets.get(id(b.dirs))
        if d is None:
            d = sets[id(b.dirs)] = len(dirs)
            dirs.append(np.asarray(b.dirs, np.float32).reshape(-1, 3))
            rows.append((row, dirs[-1].shape[0]))
            row += dirs[-1].shape[0]
        head[k] = (first, b.ranges.shape[0], b.ranges.shape[1], d)
        first += b.ranges.shape[0]

    def flat(parts: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    return {"ret_block": head, "ret_stamps": flat([b.stamps for b in blocks], np.int64),
            "ret_frames": np.array([b.frame_id for b in blocks], dtype=str),
            "ret_footprint": np.array([b.footprint for b in blocks], np.float64),
            "ret_ranges": flat([np.ravel(b.ranges) for b in blocks], np.float32),
            "ret_keep": flat([np.ravel(b.keep) for b in blocks], np.bool_),
            "ret_dirs": np.concatenate(dirs) if dirs else np.zeros((0, 3), np.float32),
            "ret_dir_rows": np.array(rows, np.int64).reshape(-1, 2)}


def unpack_returns(packs: Sequence[dict[str, NDArray[Any]]]) -> list[Block]:
    """The blocks of :func:`pack_returns`' ``packs``, in order; equal sets of beam directions are one
    array again (a live block is one ping: a copy each would triple the kept returns' memory)."""
    shared: dict[bytes, NDArray[np.float32]] = {}
    out: list[Block] = []
    for pk in packs:
        sets = []
        for r0, n in pk["ret_dir_rows"]:
            d = np.ascontiguousarray(pk["ret_dirs"][r0: r0 + n], np.float32)
            sets.append(shared.setdefault(d.tobytes(), d))
        at = 0
        for (p0, p, nb, di), frame, foot in zip(pk["ret_block"], pk["ret_frames"], pk["ret_footprint"], strict=True):
            size = int(p) * int(nb)
            out.append(Block(pk["ret_stamps"][p0: p0 + p], str(frame), sets[int(di)],
                             pk["ret_ranges"][at: at + size].reshape(int(p), int(nb)),
                             pk["ret_keep"][at: at + size].reshape(int(p), int(nb)), float(foot)))
            at += size
    return out


def _returns_of(st: dict[str, NDArray[Any]], recs: list[tuple[dict[str, Any], dict[str, NDArray[Any]]]]
                ) -> dict[str, NDArray[Any]] | None:
    """The kept returns of a base's state and its records, merged into one pack; None where the
    base holds none (written without them, or before they were kept)."""
    if not all(k in st for k in RETURNS):
        return None
    packs = [{k: st[k] for k in RETURNS}, *({k: a[k] for k in RETURNS} for _, a in recs if all(k in a for k in RETURNS))]
    return pack_returns(unpack_returns(packs)) if len(packs) > 1 else packs[0]


def new_base_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- the tracker


@dataclass
class Tracker:
    """What the files at ``path`` hold of a live map: the map and navigation objects they follow,
    the hit/miss counts and sizes at the last checkpoint, and the log's state."""

    path: Path
    map: Any
    nav: Any
    snap: NDArray[np.float32]
    n: int
    nav_n: int
    base_id: str
    base_bytes: int = 0
    log_end: int = 0
    seq: int = 0          # records in the log
    taken: int = 0        # snapshots taken (each one's writer must run in order)
    written: int = 0      # snapshots written
    broken: bool = False  # a write failed: the next checkpoint is a new base
    blocks: int = 0       # the kept returns' blocks the files hold (the rest go in the next record)
    compact_ratio: float = 0.5
    compact_min_bytes: int = 4 << 20
    info: dict[str, Any] = field(default_factory=dict)

    def grow(self, n: int) -> None:
        if n > self.snap.shape[0]:
            snap = np.zeros((max(n, 2 * self.snap.shape[0], 1024), 2), np.float32)
            snap[: self.n] = self.snap[: self.n]
            self.snap = snap


def base_writer(tr: Tracker, st: dict[str, NDArray[Any]], nav_t: NDArray[np.int64], nav_a: NDArray[np.float64],
                meta: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A writer of a new base (the arrays are copies taken now): beside, then renamed over the old
    one, then the log emptied."""
    tr.taken += 1
    order = tr.taken

    def write() -> dict[str, Any]:
        return _guard(tr, order, lambda: _write_base(tr, st, nav_t, nav_a, meta))

    return write


def _write_base(tr: Tracker, st: dict[str, NDArray[Any]], nav_t: NDArray[np.int64], nav_a: NDArray[np.float64],
                meta: dict[str, Any]) -> dict[str, Any]:
    tr.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tr.path.with_name(tr.path.name + ".tmp")
    write_base(tmp, st, nav_t, nav_a, meta)
    os.replace(tmp, tr.path)
    tr.base_bytes = tr.path.stat().st_size
    delta_path(tr.path).unlink(missing_ok=True)
    tr.base_id, tr.log_end, tr.seq = meta["base_id"], 0, 0
    return {"kind": "base", "bytes": tr.base_bytes, "voxels": int(st["vkey"].shape[0])}


def delta_writer(tr: Tracker, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A writer appending one record (``arrays`` copies taken now) and compacting when due."""
    tr.taken += 1
    order = tr.taken

    def write() -> dict[str, Any]:
        def run() -> dict[str, Any]:
            if tr.broken:  # an earlier record is missing: appending this one would restore a wrong map
                raise HullscanError(f"{delta_path(tr.path)}: an earlier checkpoint write failed; not appending")
            return _append(tr, arrays, meta)

        return _guard(tr, order, run)

    return write


def _append(tr: Tracker, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> dict[str, Any]:
    rec = _record(arrays, {**meta, "base_id": tr.base_id, "seq": tr.seq + 1})
    log = delta_path(tr.path)
    with open(log, "r+b" if log.exists() else "wb") as f:
        f.truncate(tr.log_end)  # drops a torn record left by a killed writer
        f.seek(tr.log_end)
        f.write(rec)
        f.flush()
        os.fsync(f.fileno())
    tr.log_end += len(rec)
    tr.seq += 1
    info: dict[str, Any] = {"kind": "delta", "bytes": len(rec), "voxels": int(arrays["ids"].shape[0]),
                            "log_bytes": tr.log_end}
    if tr.log_end > max(tr.compact_ratio * tr.base_bytes, tr.compact_min_bytes):
        info["compacted"] = compact(tr)
    return info


def compact(tr: Tracker) -> dict[str, Any]:
    """Fold the log into a new base, from the files alone (the live map is not touched)."""
    ck = load(tr.path)
    if ck["base_id"] != tr.base_id or ck["deltas"] != tr.seq:
        raise HullscanError(f"{tr.path}: checkpoint files changed under the writer "
                            f"(base {ck['base_id']} with {ck['deltas']} deltas, expected {tr.base_id} with {tr.seq})")
    meta = {**ck["meta"], "base_id": new_base_id()}
    return _write_base(tr, ck["state"], ck["nav_t"], ck["nav_a"], meta)


def _guard(tr: Tracker, order: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        if order != tr.written + 1:
            raise HullscanError(f"{tr.path}: checkpoint writers must run in snapshot order "
                                f"(this is snapshot {order}, {tr.written} written)")
        out = fn()
        tr.written = order
        tr.info = out
        return out
    except BaseException:
        tr.broken = True
        tr.written = order
        raise


__all__ = ["MAGIC", "RETURNS", "Tracker", "changed_since", "changed_since_reference", "compact", "delta_path", "load",
           "pack_returns", "read_deltas", "unpack_returns"]


# --------------------------------------------------------------------------- survey identity

RESUME_MODES = ("auto", "resume", "fresh")
# A restart that takes longer than this (after the checkpoint's last data) is not the same
# survey resumed in auto mode: ``--resume`` says so explicitly.
RESUME_WINDOW_S = 120.0


@dataclass(frozen=True)
class SurveyIdentity:
    """Which survey a checkpoint belongs to (written beside it, ``<base>.survey.json``).

    ``survey_id``: a bag or session id when one is known ('' otherwise); ``nav_frame``: the
    navigation frame of its poses; ``first_ns`` / ``last_ns``: the first and latest data stamps
    it holds; ``finished``: the survey ended (its final map was made), so nothing resumes it
    unless asked to.
    """

    survey_id: str
    nav_frame: str
    first_ns: int
    last_ns: int
    finished: bool = False


def identity_path(base: str | Path) -> Path:
    base = Path(base)
    return base.with_name(base.name + ".survey.json")


def write_identity(base: str | Path, ident: SurveyIdentity) -> None:
    """Write the identity beside ``base`` (temporary name, then rename)."""
    p = identity_path(base)
    tmp = p.with_name("tmp." + p.name)
    tmp.write_text(json.dumps(ident.__dict__))
    os.replace(tmp, p)


def read_identity(base: str | Path) -> SurveyIdentity | None:
    """The identity beside ``base``; None when absent or unreadable (an old checkpoint)."""
    try:
        d = json.loads(identity_path(base).read_text())
        return SurveyIdentity(str(d["survey_id"]), str(d["nav_frame"]), int(d["first_ns"]), int(d["last_ns"]),
                              bool(d.get("finished", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore_decision(ident: SurveyIdentity | None, mode: str, *, first_ns: int, nav_frame: str,
                     survey_id: str = "", window_s: float = RESUME_WINDOW_S) -> tuple[bool, str]:
    """Whether a checkpoint may be restored into the survey whose first data (stamp ``first_ns``,
    frame ``nav_frame``, id ``survey_id``) just arrived, and why (one line for diagnostics).

    ``fresh``: never. ``resume``: yes unless the navigation frame or the survey id differ (the
    poses would be meaningless). ``auto``: only an unfinished checkpoint of the same survey whose
    last data is at most ``window_s`` before the new data (a restart), never a finished one.
    """
    if mode not in RESUME_MODES:
        raise HullscanError(f"checkpoint resume mode {mode!r}: expected one of {', '.join(RESUME_MODES)}")
    if mode == "fresh":
        return False, "fresh start asked for (--fresh): the checkpoint is not restored"
    if ident is None:
        if mode == "resume":
            return True, "restored on request (--resume); the checkpoint carries no survey identity"
        return False, "the checkpoint carries no survey identity; not restored (use --resume to restore it)"
    if ident.nav_frame != nav_frame:
        return False, (f"the checkpoint's navigation frame is '{ident.nav_frame}', this survey's '{nav_frame}': "
                       "another survey, not restored")
    if survey_id and ident.survey_id and survey_id != ident.survey_id:
        return False, f"the checkpoint belongs to survey '{ident.survey_id}', not '{survey_id}': not restored"
    if mode == "resume":
        return True, "restored on request (--resume)"
    if ident.finished:
        return False, ("the checkpoint's survey was finished: a new survey starts empty "
                       "(use --resume to continue it anyway)")
    if first_ns < ident.first_ns or first_ns > ident.last_ns + int(window_s * 1e9):
        return False, (f"the new data starts at {first_ns * 1e-9:.3f} s, outside the checkpoint's survey "
                       f"({ident.first_ns * 1e-9:.3f}-{ident.last_ns * 1e-9:.3f} s, +{window_s:.0f} s to restart): "
                       "another survey, not restored (use --resume to force it)")
    return True, (f"same survey resumed: the checkpoint ends at {ident.last_ns * 1e-9:.3f} s, "
                  f"new data starts at {first_ns * 1e-9:.3f} s")
