"""Bag decoding in a second process, so it overlaps fusion on the other core.

Decoding a bag is pure Python, one message at a time; in the reconstructing process it
competes with fusion for the GIL (a reader thread made the pipeline slower). Here a
forked child runs :meth:`BagReader.samples` and sends the samples in batches. Navigation
samples and profiling pings, almost all of a survey bag, travel as columns (one array
per field), which costs about a microsecond per sample against tens for pickled objects;
anything else is pickled as it is.

Usage::

    with BagReader(path) as bag:
        for item in prefetched_samples(bag):   # same items, same order as bag.samples()
            ...
    print(bag.drops.summary())                  # the child's drops, damage and stats

Where ``fork`` does not exist (Windows, macOS default), or in a daemonic process (a Dask worker:
multiprocessing forbids it children), samples are read in-process.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import queue
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.bag.convert import _frozen
from hullscan.bag.reader import BagItem, BagReader
from hullscan.errors import BagError
from hullscan.model import NavSample, ProfilingPing

log = logging.getLogger("hullscan.bag")

BATCH = 512  # samples per message between the processes
DEPTH = 32  # batches in flight: bounds the child's lead (memory) without stalling it

_NAV, _SCAN, _OTHER = 0, 1, 2


def fork_available() -> bool:
    """Whether a reader child can be forked here: not where fork does not exist, nor in a daemonic
    process (a Dask worker runs in one, and multiprocessing refuses it children)."""
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def prefetched_samples(bag: BagReader, *, strict: bool = False, batch: int = BATCH) -> Iterator[BagItem]:
    """``bag.samples(strict=strict)``, decoded in a forked child process.

    Yields the same samples in the same order. When the stream ends, ``bag.drops``,
    ``bag.damage``, ``bag.stats`` and ``bag.tf`` hold what the child's reader recorded.
    An error in the child is raised here with its type and message. Closing the
    generator early stops the child.
    """
    if not fork_available():
        yield from bag.samples(strict=strict)
        return
    ctx = mp.get_context("fork")
    q: Any = ctx.Queue(maxsize=DEPTH)
    proc = ctx.Process(target=_child, args=(bag, q, strict, batch), name="hullscan-bag-reader", daemon=True)
    proc.start()
    bag._raw = None  # the child owns the message stream now
    done = False
    try:
        while True:
            try:
                msg = q.get(timeout=0.5)
            except queue.Empty:
                if not proc.is_alive() and q.empty():
                    raise BagError(f"{bag.path}: the bag reader process stopped (exit code {proc.exitcode}) "
                                   "before the end of the bag") from None
                continue
            if msg[0] == "items":
                yield from _unpack(msg[1])
            elif msg[0] == "end":
                bag.drops, bag.damage, bag.stats, bag.tf = msg[1:]
                done = True
                return
            else:
                err: BaseException = msg[1]
                err.add_note(f"(raised in the bag reader process)\n{msg[2]}")
                raise err
    finally:
        if not done and proc.is_alive():
            proc.terminate()
        proc.join(timeout=10)
        q.close()
        q.cancel_join_thread()


# --------------------------------------------------------------------------- child


def _child(bag: BagReader, q: Any, strict: bool, batch: int) -> None:
    buf: list[BagItem] = []
    try:
        for item in bag.samples(strict=strict):
            buf.append(item)
            if len(buf) >= batch:
                q.put(("items", _pack(buf)))
                buf = []
        if buf:
            q.put(("items", _pack(buf)))
        q.put(("end", bag.drops, bag.damage, bag.stats, bag.tf))
    except BaseException as err:  # everything goes to the parent, which raises it
        tb = traceback.format_exc()
        if buf:  # the samples before the error are delivered first, as in-process
            q.put(("items", _pack(buf)))
        try:
            pickle.dumps(err)
        except Exception:  # an exception that cannot cross: keep its type name and message
            err = BagError(f"{type(err).__name__}: {err}")
        q.put(("error", err, tb))
    finally:
        q.close()
        q.join_thread()


def _pack(items: list[BagItem]) -> dict[str, Any]:
    """Samples as columns: kinds (N,) in order, navigation and scan fields as arrays."""
    kinds = np.full(len(items), _OTHER, np.uint8)
    navs = [it for it in items if type(it) is NavSample]
    scans = [it for it in items if type(it) is ProfilingPing]
    for i, it in enumerate(items):
        if type(it) is NavSample:
            kinds[i] = _NAV
        elif type(it) is ProfilingPing:
            kinds[i] = _SCAN
    rows = np.empty((len(navs), 16))
    for j, s in enumerate(navs):
        r = rows[j]
        r[0:3] = s.position
        r[3:7] = s.orientation
        r[7:10] = s.position_sigma
        r[10:13] = s.orientation_sigma
        r[13:16] = s.velocity
    return {
        "kinds": kinds,
        "nav_t": np.array([s.stamp_ns for s in navs], np.int64), "nav_rows": rows,
        "nav_frames": [(s.frame_id, s.child_frame) for s in navs],
        "scan_t": np.array([p.stamp_ns for p in scans], np.int64),
        "scan_n": np.array([p.angles.shape[0] for p in scans], np.int64),
        "scan_f32": np.concatenate([np.concatenate([p.angles, p.ranges, p.intensities]) for p in scans])
        if scans else np.zeros(0, np.float32),
        "scan_f64": np.array([(p.range_min, p.range_max, p.beamwidth) for p in scans], np.float64).reshape(-1, 3),
        "scan_frames": [p.frame_id for p in scans],
        "other": [it for it in items if type(it) not in (NavSample, ProfilingPing)],
    }


# --------------------------------------------------------------------------- parent


def _unpack(b: dict[str, Any]) -> Iterator[BagItem]:
    """Rebuild the samples of :func:`_pack` in order (already validated by the child's reader)."""
    rows: NDArray[np.float64] = b["nav_rows"]
    f32: NDArray[np.float32] = b["scan_f32"]
    rows.setflags(write=False)  # views of read-only arrays are read-only, as the model's arrays are
    f32.setflags(write=False)
    nav_t, nav_frames = b["nav_t"].tolist(), b["nav_frames"]
    scan_t, scan_n, scan_f64, scan_frames = b["scan_t"].tolist(), b["scan_n"].tolist(), b["scan_f64"].tolist(), \
        b["scan_frames"]
    other = iter(b["other"])
    jn = js = o = 0
    for k in b["kinds"].tolist():
        if k == _NAV:
            r = rows[jn]
            frame, child = nav_frames[jn]
            yield _frozen(NavSample, stamp_ns=nav_t[jn], position=r[0:3], orientation=r[3:7], frame_id=frame,
                          child_frame=child, position_sigma=r[7:10], orientation_sigma=r[10:13],
                          velocity=r[13:16])
            jn += 1
        elif k == _SCAN:
            n = scan_n[js]
            rmin, rmax, bw = scan_f64[js]
            yield _frozen(ProfilingPing, stamp_ns=scan_t[js], frame_id=scan_frames[js], angles=f32[o:o + n],
                          ranges=f32[o + n:o + 2 * n], intensities=f32[o + 2 * n:o + 3 * n], range_min=rmin,
                          range_max=rmax, beamwidth=bw)
            o += 3 * n
            js += 1
        else:
            yield next(other)


__all__ = ["fork_available", "prefetched_samples"]
