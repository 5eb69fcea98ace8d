"""Decoding in a second process: the same samples, drops and errors as in-process reading."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagReader
from hullscan.bag.prefetch import fork_available, prefetched_samples
from hullscan.errors import BagError, BagTruncatedError
from hullscan.model import NavSample, ProfilingPing
from tests.hullscan.bag.samples import assert_same, contract_samples
from tests.hullscan.bag.test_bad_input import _survey, _write

pytestmark = pytest.mark.skipif(not fork_available(), reason="prefetching needs the fork start method")


def _read(path: Path, prefetch: bool, **kw: int) -> tuple[list[object], BagReader]:
    with BagReader(path) as bag:
        got = list(prefetched_samples(bag, **kw) if prefetch else bag.samples())
    return got, bag


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_same_samples_and_drops_as_in_process(tmp_path: Path, storage: str) -> None:
    items = contract_samples(6)
    # Two more NaN ranges and a beam count that changes mid-batch: drops and columns must survive.
    ping = next(x for x in items if isinstance(x, ProfilingPing))
    r = ping.ranges.copy()
    r[:2] = np.nan
    items.append(ProfilingPing(ping.stamp_ns + 10**9, "sonar", ping.angles[:9], r[:9], ping.intensities[:9]))
    _write(tmp_path / "bag", items, storage)
    want, ref = _read(tmp_path / "bag", prefetch=False)
    got, bag = _read(tmp_path / "bag", prefetch=True, batch=5)  # many small batches
    assert len(got) == len(want) == len(items)
    for a, b in zip(want, got, strict=True):
        assert_same(a, b)
    assert bag.drops.as_dict() == ref.drops.as_dict() and bag.drops.total("nan_range") == 2
    assert bag.stats == ref.stats and bag.damage is None
    assert bag.tf.can_transform("base_link", "sonar")  # the child's TF came back
    nav = next(x for x in got if isinstance(x, NavSample))
    assert not nav.position.flags.writeable and not nav.orientation.flags.writeable
    assert not mp.active_children()


def test_truncated_bag_reports_damage_and_strict_raises(tmp_path: Path) -> None:
    items = _survey()
    _write(tmp_path / "bag", items)
    mcap = next((tmp_path / "bag").glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: int(mcap.stat().st_size * 0.6)])
    want, ref = _read(tmp_path / "bag", prefetch=False)
    got, bag = _read(tmp_path / "bag", prefetch=True, batch=16)
    assert len(got) == len(want) < len(items)
    for a, b in zip(want, got, strict=True):
        assert_same(a, b)
    assert bag.damage == ref.damage is not None
    assert bag.drops.total("truncated_or_corrupt") == 1
    n = 0
    with BagReader(tmp_path / "bag") as b2, pytest.raises(BagTruncatedError, match="damaged") as err:
        for _ in prefetched_samples(b2, strict=True, batch=16):
            n += 1
    assert n == len(got)  # everything before the damage, then the error
    assert "bag reader process" in "".join(getattr(err.value, "__notes__", []))


def test_closing_early_stops_the_reader(tmp_path: Path) -> None:
    _write(tmp_path / "bag", _survey(400))
    with BagReader(tmp_path / "bag") as bag:
        stream: Iterator[object] = prefetched_samples(bag, batch=8)
        first = [next(stream) for _ in range(5)]
        stream.close()  # type: ignore[attr-defined]
    assert len(first) == 5
    assert not mp.active_children()


class _DyingReader(BagReader):
    def samples(self, *, strict: bool = False) -> Iterator[object]:  # type: ignore[override]
        yield from list(super().samples(strict=strict))[:3]
        os._exit(3)  # a crash that sends nothing back


def test_reader_process_that_dies_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "bag", _survey(20))
    with _DyingReader(tmp_path / "bag") as bag, pytest.raises(BagError, match=r"exit code 3.*before the end"):
        list(prefetched_samples(bag, batch=2))
