"""Damaged and malformed bags: clear errors naming topic and field, counts, nothing silent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagReader, BagWriter, convert, msgdefs, read_all
from hullscan.errors import BagError, BagTruncatedError
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped
from tests.hullscan.bag.samples import T0, assert_same


def _survey(n: int = 200) -> list[object]:
    out: list[object] = [TransformStamped(T0, "base_link", "sonar", Transform(), True)]
    angles = -1.0 + 0.03125 * np.arange(64)
    for i in range(n):
        t = T0 + i * 50_000_000
        out.append(NavSample(t, [i * 0.05, 0, 0], [0, 0, 0, 1]))
        out.append(ProfilingPing(t, "sonar", angles, np.full(64, 5.0 + i * 0.01), np.zeros(64)))
    return out


def _write(path: Path, items: list[object], storage: str = "mcap") -> None:
    with BagWriter(path, storage=storage) as bag:
        for x in items:
            bag.write(x)


def test_truncated_mcap_delivers_earlier_messages_then_reports(tmp_path: Path) -> None:
    items = _survey()
    _write(tmp_path / "bag", items)
    mcap = next((tmp_path / "bag").glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.6)])
    with BagReader(tmp_path / "bag") as bag:
        got = list(bag.samples())
    assert 0.4 * len(items) < len(got) < len(items)
    for a, b in zip(items, got, strict=False):  # exactly the prefix, in order
        assert_same(a, b)
    assert bag.damage is not None and "mcap" in bag.damage
    assert bag.drops.total("truncated_or_corrupt") == 1
    with BagReader(tmp_path / "bag") as bag, pytest.raises(BagTruncatedError, match="damaged"):
        n = 0
        for _ in bag.samples(strict=True):
            n += 1
    assert n == len(got)


def test_missing_metadata_yaml_is_reported_and_read(tmp_path: Path) -> None:
    items = _survey(10)
    for storage in ("mcap", "sqlite3"):
        _write(tmp_path / storage, items, storage)
        (tmp_path / storage / "metadata.yaml").unlink()
        got, bag = read_all(tmp_path / storage)
        assert len(got) == len(items)
        assert bag.drops.total("missing_metadata_yaml") == 1


def test_not_a_bag(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="no such bag"):
        read_all(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match=r"no \.mcap or \.db3"):
        read_all(tmp_path / "empty")


def test_unknown_message_type_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "bag", _survey(3), "sqlite3")
    # Add a topic of a type nobody knows, without a definition.
    db = sqlite3.connect(next((tmp_path / "bag").glob("*.db3")))
    db.execute("INSERT INTO topics (id, name, type, serialization_format, offered_qos_profiles, type_description_hash)"
               " VALUES (99, '/acme/blob', 'acme_msgs/msg/Blob', 'cdr', '', '')")
    db.execute("INSERT INTO messages (topic_id, timestamp, data) VALUES (99, ?, ?)", (T0, b"\x00\x01\x00\x00"))
    db.commit()
    db.close()
    (tmp_path / "bag" / "metadata.yaml").unlink()
    got, bag = read_all(tmp_path / "bag")
    assert bag.drops.counts[("/acme/blob", "unknown_message_type")] == 1
    assert "acme_msgs/msg/Blob" in bag.drops.examples[("/acme/blob", "unknown_message_type")]
    assert len(got) == 7


def test_malformed_laserscan_nan_and_backwards(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = ProfilingPing(T0, "sonar", np.linspace(-1, 1, 8), np.ones(8), np.zeros(8))
    with BagWriter(tmp_path / "bag") as bag:
        bag.write(TransformStamped(T0, "base_link", "sonar", Transform(), True))
        bag.write(NavSample(T0, [0, 0, 0], [0, 0, 0, 1]))
        bad = convert.scan_to_msg(good)
        bad.intensities = np.zeros(5, np.float32)  # lengths disagree
        bag.write_msg("/sonar/scan", msgdefs.LASERSCAN, bad, T0)
        nan = ProfilingPing(T0 + 10**8, "sonar", good.angles, np.r_[np.nan, np.inf, np.ones(6)], np.zeros(8))
        bag.write(nan)
        back = ProfilingPing(T0 + 5 * 10**7, "sonar", good.angles, np.ones(8), np.zeros(8))
        bag.write(back, log_time_ns=T0 + 2 * 10**8)  # header stamp goes backwards
    got, r = read_all(tmp_path / "bag")
    assert r.drops.counts[("/sonar/scan", "malformed_message")] == 1
    assert "intensities has 5 values but ranges has 8" in r.drops.examples[("/sonar/scan", "malformed_message")]
    assert r.drops.counts[("/sonar/scan", "nan_range")] == 2
    assert r.drops.counts[("/sonar/scan", "stamp_backwards")] == 1
    pings = [x for x in got if isinstance(x, ProfilingPing)]
    assert len(pings) == 2 and np.isnan(pings[0].ranges[:2]).all()
    assert "malformed message" in caplog.text


def test_no_navigation_and_no_transform(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag") as bag:
        bag.write(ProfilingPing(T0, "sonar_head", np.linspace(-1, 1, 8), np.ones(8), np.zeros(8)))
    _, r = read_all(tmp_path / "bag")
    assert r.drops.total("no_navigation") == 1
    assert r.drops.counts[("sonar_head", "no_transform")] == 1
    assert "sonar_head" in r.drops.examples[("sonar_head", "no_transform")]
