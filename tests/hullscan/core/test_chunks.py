"""hullscan.core.chunks: work split over threads gives what one thread gives, in order."""

from __future__ import annotations

import threading

import numpy as np

from hullscan.core import chunks
from hullscan.core.chunks import map_threads, run_chunked


def test_map_threads_returns_each_result_in_the_items_order(monkeypatch) -> None:
    monkeypatch.setattr(chunks.os, "cpu_count", lambda: 4)
    seen: set[int] = set()

    def slow_square(x: int) -> int:
        seen.add(threading.get_ident())
        # Later items finish first: the order must still be the items'.
        threading.Event().wait(0.002 * (10 - x))
        return x * x

    assert map_threads(slow_square, list(range(10))) == [x * x for x in range(10)]
    assert len(seen) > 1  # more than one thread did the work
    assert map_threads(slow_square, []) == []


def test_map_threads_on_one_core_or_one_item_stays_on_the_callers_thread(monkeypatch) -> None:
    here = threading.get_ident()
    monkeypatch.setattr(chunks.os, "cpu_count", lambda: 1)
    assert map_threads(lambda x: (x, threading.get_ident()), [1, 2]) == [(1, here), (2, here)]
    monkeypatch.setattr(chunks.os, "cpu_count", lambda: 4)
    assert map_threads(lambda x: threading.get_ident(), [7]) == [here]
    assert map_threads(lambda x: threading.get_ident(), [1, 2, 3], max_workers=1) == [here] * 3


def test_run_chunked_covers_every_row_once() -> None:
    out = np.zeros(1000, np.int64)

    def run(lo: int, hi: int) -> None:
        out[lo:hi] += 1

    run_chunked(len(out), run, 100)
    assert (out == 1).all()
