"""Small bags and damage for the fault-injection suite (each bag takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hullscan.bag import BagReader, BagWriter
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

T0 = 1_700_000_000_000_000_000
PERIOD_NS = 50_000_000
TOPICS = ("/nav/odom", "/sonar/scan")


def survey(n: int = 2000, beams: int = 64) -> list[object]:
    """A mounting, then n odometry samples and n pings at 20 Hz (2000: 100 s, three MCAP chunks)."""
    out: list[object] = [TransformStamped(T0, "base_link", "sonar", Transform(), True)]
    angles = -1.0 + (2.0 / beams) * np.arange(beams)
    for i in range(n):
        t = T0 + i * PERIOD_NS
        out.append(NavSample(t, [i * 0.05, 0, 0], [0, 0, 0, 1]))
        out.append(ProfilingPing(t, "sonar", angles, np.full(beams, 5.0 + i * 0.001), np.zeros(beams)))
    return out


def write(path: Path, items: list[object], storage: str = "mcap") -> Path:
    with BagWriter(path, storage=storage) as bag:
        for x in items:
            bag.write(x)
    return path


def storage_file(bag: Path) -> Path:
    return next(p for p in bag.iterdir() if p.suffix in (".mcap", ".db3"))


def overwrite(f: Path, at: int, n: int, seed: int = 0) -> None:
    data = bytearray(f.read_bytes())
    data[at:at + n] = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    f.write_bytes(bytes(data))


def read(bag: Path) -> tuple[list[object], BagReader]:
    with BagReader(bag) as r:
        items = list(r.samples())
    return items, r


def per_topic(items: list[object]) -> dict[str, int]:
    return {"/nav/odom": sum(isinstance(x, NavSample) for x in items),
            "/sonar/scan": sum(isinstance(x, ProfilingPing) for x in items)}


def accounted(r: BagReader, topic: str) -> int:
    """Messages of ``topic`` counted as lost, by any reason that means lost."""
    return sum(n for (w, reason), n in r.drops.counts.items()
               if w == topic and reason in ("corrupt_chunk", "missing_vs_index", "undecodable_message",
                                            "malformed_message"))


def write_in_order(path: Path, items: list[object]) -> Path:
    """Write with log times in list order (a recorder logs on arrival: a late stamp stays late)."""
    with BagWriter(path) as bag:
        for k, x in enumerate(items):
            bag.write(x, log_time_ns=T0 + k * 1000)
    return path
