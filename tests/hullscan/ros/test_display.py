"""The mapper's display-cloud message and its background checkpoint snapshot (in-process, no DDS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hullscan.bag import BagReader
from hullscan.model import HullCloud, ProfilingPing
from hullscan.recon.display import display_cloud
from hullscan.ros import messages
from hullscan.ros.mapper import checkpoint_writer
from tests.hullscan.ros.helpers import write_survey


def test_display_message_has_the_full_clouds_fields() -> None:
    n = 50_000
    rng = np.random.default_rng(0)
    c = HullCloud(rng.uniform(0, 10, (n, 3)), np.tile(np.float32([0, -1, 0]), (n, 1)), rng.random(n).astype(np.float32),
                  rng.integers(1, 9, n).astype(np.int32), np.full(n, 0.01, np.float32))
    full, shown_msg = messages.hull_cloud(c, 0), messages.hull_cloud(display_cloud(c, 30_000, 0.02), 0)
    assert [f.name for f in full.fields] == [f.name for f in shown_msg.fields]
    assert 0 < shown_msg.width <= 30_000


def test_checkpoint_snapshot_is_the_map_at_snapshot_time(tmp_path: Path) -> None:
    from hullscan.recon import ReconConfig, Reconstructor

    bag = write_survey(tmp_path / "bag", seconds=4.0)
    with BagReader(bag) as r:
        items = list(r.samples())
    half = next(i for i, s in enumerate(items) if isinstance(s, ProfilingPing) and s.stamp_ns > items[0].stamp_ns + 2e9)
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    for s in items[:half]:
        rec.add(s)
    rec.checkpoint(tmp_path / "direct.ckpt")
    write = checkpoint_writer(rec)
    for s in items[half:]:  # the map goes on changing before the snapshot is written
        rec.add(s)
    rec.cloud()
    write(tmp_path / "snap.ckpt")
    with np.load(tmp_path / "direct.ckpt") as a, np.load(tmp_path / "snap.ckpt") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    back = Reconstructor(ReconConfig(chunk_pings=1))
    back.restore(tmp_path / "snap.ckpt")
    assert back.map.n > 0 and back.map.n < rec.map.n
