"""Contiguous chunks of a large query on threads, for nogil numba kernels."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def run_chunked(n: int, run: Callable[[int, int], None], rows_per_thread: int, size: int | None = None) -> None:
    """Call ``run(begin, end)`` over ``[0, n)`` in contiguous chunks, one per core (at most 4), on
    threads when there is more than one: each chunk at least ``rows_per_thread`` of ``size`` (default
    ``n``: the work a chunk count is judged by, where ``n`` counts something coarser, columns of a
    voxel grid). ``run`` must release the GIL (a ``nogil`` kernel) and write only its own rows."""
    n_chunks = max(1, min(os.cpu_count() or 1, 4, (n if size is None else size) // rows_per_thread))
    cuts = np.linspace(0, n, n_chunks + 1).astype(np.int64)
    map_threads(lambda i: run(int(cuts[i]), int(cuts[i + 1])), range(n_chunks))


def map_threads(fn: Callable[[T], R], items: Sequence[T], max_workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in order, on one thread per core (at most 4, or ``max_workers``)
    when there is more than one item and core: for independent pieces of work that spend most of
    their time outside the GIL (KD-tree queries, numba ``nogil`` kernels)."""
    n = max(1, min(os.cpu_count() or 1, 4 if max_workers is None else max_workers, len(items)))
    if n == 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, items))
