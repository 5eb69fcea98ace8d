"""The reader's CDR fast path (Odometry, LaserScan) against the generic rosbags decoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagReader, BagWriter
from hullscan.bag import reader as bag_reader
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

T0 = 1_700_000_000_000_000_000


def _bag(path: Path) -> Path:
    angles = np.linspace(-1, 1, 32).astype(np.float32)
    rng = np.random.default_rng(0)
    with BagWriter(path) as bag:
        bag.write(TransformStamped(T0, "base_link", "sonar", Transform.from_euler(0.0, -1.5, 0.0), static=True))
        for k in range(20):
            t = T0 + k * 50_000_000
            pos = np.array([np.nan, 0, 0]) if k == 7 else rng.normal(0, 1, 3)  # one malformed pose
            bag.write(NavSample(t, pos, rng.normal(0, 1, 4), position_sigma=rng.uniform(0, 0.1, 3),
                                orientation_sigma=rng.uniform(0, 0.01, 3), velocity=rng.normal(0, 1, 3)))
            r = rng.uniform(1, 5, 32).astype(np.float32)
            r[k % 32] = np.nan
            inten = rng.uniform(0, 50, 32).astype(np.float32) if k % 2 else np.zeros(0, np.float32)
            bag.write(ProfilingPing(t, "sonar", angles, r, inten if k % 2 else np.zeros(32, np.float32),
                                    range_min=0.2, range_max=20.0))
    return path


def _read(path: Path) -> tuple[list, str]:  # type: ignore[type-arg]
    with BagReader(path) as r:
        items = list(r.samples())
    return items, str(r.drops)


def test_fast_path_equals_generic_decoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = _bag(tmp_path / "bag")
    fast, fast_drops = _read(bag)
    monkeypatch.setattr(bag_reader.BagReader, "_convert_fast", lambda self, role, topic, data: None)
    slow, slow_drops = _read(bag)
    assert fast_drops == slow_drops and "malformed_message" in fast_drops
    assert len(fast) == len(slow) == 1 + 19 + 20
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is type(b)
        for f in dataclasses.fields(a):
            u, v = getattr(a, f.name), getattr(b, f.name)
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape and not u.flags.writeable
                np.testing.assert_array_equal(u, v)
            else:
                assert repr(u) == repr(v)
