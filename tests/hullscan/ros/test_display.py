"""The mapper's display-cloud message and its background checkpoint snapshot (in-process, no DDS)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hullscan.bag import BagReader
from hullscan.model import HullCloud, ProfilingPing
from hullscan.recon.display import display_cloud
from hullscan.recon.live import checkpoint_writer
from hullscan.ros import messages
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
            if k == "meta":  # the same but for each base file's own id
                ma, mb = json.loads(str(a[k])), json.loads(str(b[k]))
                assert ma.pop("base_id") != mb.pop("base_id") and ma == mb
            else:
                assert np.array_equal(a[k], b[k]), k
    back = Reconstructor(ReconConfig(chunk_pings=1))
    back.restore(tmp_path / "snap.ckpt")
    assert back.map.n > 0 and back.map.n < rec.map.n


def test_packed_messages_equal_the_cloud_messages() -> None:
    """The mapper's packed display and full messages are, byte for byte, the messages of
    display_cloud(cloud()) and of cloud() (the full one is what the comparator inspects), with when
    each point was seen relative to the message's stamp; without a stamp, the rows without times."""
    import array
    from dataclasses import replace

    from hullscan.core.display import ROW_BYTES, TIMED_ROW_BYTES
    from hullscan.recon import ReconConfig, Reconstructor
    from tests.hullscan.recon.synth import survey

    rec = Reconstructor(ReconConfig(chunk_pings=1))
    checked = 0
    for i, it in enumerate(survey(n_pings=120, beams=64, lanes=(0.0, 1.0)).items):
        rec.add(it)
        if i % 61 != 60:
            continue
        stamp = int(it.stamp_ns) + 250_000_000
        for cap in (None, 600, 10**7):
            cloud = rec.cloud()
            shown = cloud if cap is None else display_cloud(cloud, cap, rec.config.voxel_size)
            assert shown.has_times
            for when, want in ((stamp, messages.hull_cloud(shown, stamp)),
                               (None, messages.hull_cloud(replace(shown, seen_first_s=None, seen_last_s=None), 5))):
                data, rows, total = rec.packed_cloud(cap, None, lambda n: array.array("B", b"\0") * n, when)
                got = messages.hull_cloud_packed(data, rows, 5 if when is None else when, "odom")
                assert total == len(cloud) and got.width == want.width == rows
                assert got.point_step == (ROW_BYTES if when is None else TIMED_ROW_BYTES)
                assert list(got.fields) == list(want.fields) and got.point_step == want.point_step
                assert got.row_step == want.row_step and got.header == want.header and got.is_dense == want.is_dense
                assert bytes(got.data) == bytes(want.data)
                checked += 1
    assert checked >= 12 and len(rec.cloud()) > 600


def test_hull_map_message_keeps_when_each_point_was_seen() -> None:
    """The times cross the topic: ages relative to the stamp, back to the same instants (to a
    millisecond) and so to the same passes; a cloud without times gives a message without them."""
    from hullscan.core.visits import pass_starts

    rng = np.random.default_rng(3)
    n = 5_000
    t0 = 1_714_550_400_123_456_789
    first = np.where(rng.random(n) < 0.5, rng.uniform(0, 30, n), rng.uniform(300, 330, n)).astype(np.float32)
    last = (first + rng.uniform(0, 2, n)).astype(np.float32)
    c = HullCloud(rng.uniform(0, 10, (n, 3)), np.tile(np.float32([0, -1, 0]), (n, 1)), rng.random(n).astype(np.float32),
                  rng.integers(1, 9, n).astype(np.int32), np.full(n, 0.01, np.float32),
                  seen_first_s=first, seen_last_s=last, seen_t0_ns=t0)
    stamp = t0 + 1_800 * 10**9
    msg = messages.hull_cloud(c, stamp)
    names = [f.name for f in msg.fields]
    assert names[-2:] == ["first_seen", "last_seen"] and msg.point_step == 48
    back, _ = messages.hull_cloud_from_msg(msg)
    assert back.has_times and back.seen_t0_ns is not None
    for mine, theirs in ((c.seen_first_s, back.seen_first_s), (c.seen_last_s, back.seen_last_s)):
        assert mine is not None and theirs is not None
        instants = back.seen_t0_ns + theirs.astype(np.float64) * 1e9
        assert np.max(np.abs(instants - (t0 + mine.astype(np.float64) * 1e9))) < 1e6  # under 1 ms
    want = pass_starts(first, last, 15.0, 12) + t0 * 1e-9
    got = pass_starts(back.seen_first_s, back.seen_last_s, 15.0, 12) + back.seen_t0_ns * 1e-9
    assert len(want) == 2 and np.allclose(got, want, atol=1e-3)
    plain = messages.hull_cloud(HullCloud(c.points, c.normals, c.confidence, c.hits, c.sigma), stamp)
    assert "first_seen" not in [f.name for f in plain.fields] and not messages.hull_cloud_from_msg(plain)[0].has_times


def test_path_is_thinned_incrementally_and_bounded() -> None:
    from hullscan.recon.live import PathThinner

    rng = np.random.default_rng(0)
    path = [(i * 200_000_000, rng.random(3), np.array([0.0, 0, 0, 1])) for i in range(20_000)]
    th: PathThinner[object] = PathThinner(1000)
    n = 0
    while n < len(path):
        n = min(len(path), n + int(rng.integers(1, 400)))
        poses = th.poses(n, lambda i: messages.pose_stamped(*path[i], "odom"))
        stamps = [p.header.stamp.sec * 10**9 + p.header.stamp.nanosec for p in poses]
        k = th.k
        want = list(range(0, n, k)) + ([n - 1] if (n - 1) % k else [])
        assert stamps == [path[i][0] for i in want]                       # every k-th pose and the newest
        assert len(poses) <= 1001 and (k == 1 or len(range(0, n, k // 2)) > 1000)  # k as small as the bound allows
        p0 = poses[-1].pose.position
        assert np.allclose([p0.x, p0.y, p0.z], path[n - 1][1])
    assert th.k == 32
    th.clear()
    assert len(th.poses(5, lambda i: messages.pose_stamped(*path[i], "odom"))) == 5


def test_unseen_markers_show_not_seen_and_too_uncertain_apart() -> None:
    not_seen = np.array([[0.0, 1.0, -2.0], [0.2, 1.0, -2.0]])
    uncertain = np.array([[5.0, 1.0, -2.0]])
    arr = messages.unseen_markers(not_seen, 0.2, "odom", 0, uncertain)
    add = [m for m in arr.markers if m.action == m.ADD]
    assert [(m.id, len(m.points)) for m in add] == [(0, 2), (1, 1)]
    assert add[0].color != add[1].color and add[1].points[0].x == 5.0
    assert [m.id for m in messages.unseen_markers(not_seen, 0.2, "odom", 0).markers if m.action == m.ADD] == [0]
    # Seen over uneven surface (another pass alone may not clear it): a third colour; none: no marker.
    uneven = np.array([[7.0, 1.0, -2.0], [7.2, 1.0, -2.0], [7.4, 1.0, -2.0]])
    three = [m for m in messages.unseen_markers(not_seen, 0.2, "odom", 0, uncertain, uneven).markers if m.action == m.ADD]
    assert [(m.id, len(m.points)) for m in three] == [(0, 2), (1, 1), (2, 3)]
    assert len({(m.color.r, m.color.g, m.color.b) for m in three}) == 3
    assert [m.id for m in messages.unseen_markers(not_seen, 0.2, "odom", 0, uncertain, uneven[:0]).markers
            if m.action == m.ADD] == [0, 1]
