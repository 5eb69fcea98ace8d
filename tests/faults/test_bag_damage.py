"""Damaged bags: every message the bag's own index lists is delivered or counted, with its time span."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from hullscan.bag import mcap_index
from hullscan.errors import BagError
from tests.faults.helpers import (
    TOPICS,
    accounted,
    overwrite,
    per_topic,
    read,
    storage_file,
    survey,
    write,
)

N = 2000  # per topic


@pytest.fixture(scope="module")
def clean_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("clean") / "bag", survey(N))


@pytest.fixture(scope="module")
def clean_mcap(clean_bag: Path) -> bytes:
    return storage_file(clean_bag).read_bytes()


@pytest.fixture
def make_bag(clean_bag: Path, tmp_path: Path) -> Callable[[bytes], Path]:
    """A copy of the clean bag (metadata.yaml included) whose storage file holds the given bytes."""

    def make(data: bytes) -> Path:
        bag = tmp_path / "bag"
        shutil.copytree(clean_bag, bag)
        storage_file(bag).write_bytes(data)
        return bag

    return make


def _assert_nothing_silent(items: list[object], r, expect_loss: bool) -> None:  # type: ignore[no-untyped-def]
    got = per_topic(items)
    for topic in TOPICS:
        assert got[topic] + accounted(r, topic) == N, (topic, got[topic], r.drops.summary())
    lost = sum(accounted(r, t) for t in TOPICS)
    assert (lost > 0) == expect_loss
    if expect_loss:
        assert r.drops.damaged() and r.drops.lost_spans(), "a loss without its time span"


def test_clean_bag_has_no_drops(make_bag: Callable[[bytes], Path], clean_mcap: bytes) -> None:
    items, r = read(make_bag(clean_mcap))
    assert per_topic(items) == {t: N for t in TOPICS} and not r.drops


def test_random_bytes_inside_a_chunk_lose_only_that_chunk(make_bag: Callable[[bytes], Path], clean_mcap: bytes) -> None:
    bag = make_bag(clean_mcap)
    overwrite(storage_file(bag), len(clean_mcap) // 2, 4096)
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=True)
    # Only the damaged chunk is lost: the chunks after it are read (rosbags alone stopped there).
    idx = mcap_index.read_index(clean_mcap, "bag.mcap")
    per_chunk = max(sum(c.channel_counts.values()) for c in idx.chunks)
    assert sum(accounted(r, t) for t in TOPICS) <= per_chunk
    assert items[-1].stamp_ns == max(c.end_ns for c in idx.chunks)  # type: ignore[attr-defined]
    span = next(d for d in r.drops.lost_spans() if d["reason"] == "corrupt_chunk")
    assert 0 < span["duration_s"] < 100  # type: ignore[operator]


def test_damaged_summary_index_falls_back_and_counts(make_bag: Callable[[bytes], Path], clean_mcap: bytes) -> None:
    foot = len(clean_mcap) - 8 - 29
    summary_start = struct.unpack_from("<Q", clean_mcap, foot + 9)[0]
    bag = make_bag(clean_mcap)
    overwrite(storage_file(bag), summary_start + 10, 64)
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=False)  # the data section is intact: nothing lost
    assert r.drops.total("unreadable_index") >= 1


def test_damaged_footer_is_scanned(make_bag: Callable[[bytes], Path], clean_mcap: bytes) -> None:
    bag = make_bag(clean_mcap)
    overwrite(storage_file(bag), len(clean_mcap) - 30, 22)
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=False)
    assert r.salvage


def test_chunk_damaged_and_index_damaged_together(make_bag: Callable[[bytes], Path], clean_mcap: bytes) -> None:
    bag = make_bag(clean_mcap)
    overwrite(storage_file(bag), len(clean_mcap) // 2, 4096, seed=1)
    overwrite(storage_file(bag), len(clean_mcap) - 30, 22, seed=2)
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=True)


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95])
def test_truncation_at_ten_points(make_bag: Callable[[bytes], Path], clean_mcap: bytes, fraction: float) -> None:
    bag = make_bag(clean_mcap[: int(len(clean_mcap) * fraction)])
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=True)
    assert r.damage is not None
    stamps = [x.stamp_ns for x in items[1:]]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)  # the prefix, in order


def test_sqlite_pages_overwritten_mid_file(tmp_path: Path) -> None:
    bag = write(tmp_path / "bag", survey(N), "sqlite3")
    f = storage_file(bag)
    overwrite(f, (f.stat().st_size // 2) // 4096 * 4096, 4096)
    items, r = read(bag)
    _assert_nothing_silent(items, r, expect_loss=True)
    assert r.drops.total("corrupt_rows") >= 1


@pytest.mark.parametrize(("fraction", "beams"), [(0.1, 64), (0.35, 64), (0.6, 64), (0.9, 64), (0.5, 512)])
def test_sqlite_truncated_is_salvaged_from_its_pages(tmp_path: Path, fraction: float, beams: int) -> None:
    # 512 beams: each ping row overflows its leaf page, so overflow chains are followed (and cut).
    n = N if beams == 64 else 300
    bag = write(tmp_path / "bag", survey(n, beams), "sqlite3")
    f = storage_file(bag)
    f.write_bytes(f.read_bytes()[: int(f.stat().st_size * fraction)])
    items, r = read(bag)
    got = per_topic(items)
    for topic in TOPICS:
        assert got[topic] + accounted(r, topic) == n, (topic, got[topic], r.drops.summary())
    assert 0 < sum(got.values()) < 2 * n and r.damage is not None and r.drops.lost_spans()
    stamps = [x.stamp_ns for x in items[1:]]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)


def test_sqlite_without_its_first_pages_is_one_clear_error(tmp_path: Path) -> None:
    bag = write(tmp_path / "bag", survey(50), "sqlite3")
    f = storage_file(bag)
    f.write_bytes(b"\0" * 4096 + f.read_bytes()[4096:])
    with pytest.raises(BagError, match=r"\.db3.*not a readable rosbag2 sqlite3 file"):
        read(bag)
