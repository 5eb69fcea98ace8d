"""The live mapping session without ROS: checkpoints that leave the live map alone, restore into
the same survey only, held pings, end of survey, health, display and path thinning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.config import TopicsConfig
from hullscan.model import HullCloud, NavSample, ProfilingPing, TransformStamped
from hullscan.recon import ReconConfig, Reconstructor
from hullscan.recon.checkpoint import read_identity
from hullscan.recon.display import display_cloud
from hullscan.recon.live import (
    MapperSettings,
    MappingSession,
    PathThinner,
    SessionLog,
    checkpoint_writer,
)
from hullscan.recon.mounts import mount_from_params

from .synth import MOUNT, Faults, survey

TOPIC = "/sonar/scan"


def _session(tmp_path: Path | None = None, **settings: object) -> tuple[MappingSession, SessionLog]:
    cfg = ReconConfig(chunk_pings=1)
    log = SessionLog()
    s = MappingSession(lambda: Reconstructor(cfg), TopicsConfig(), cfg.voxel_size,
                       MapperSettings(checkpoint_dir=str(tmp_path or ""), **settings), log)  # type: ignore[arg-type]
    return s, log


def _feed(s: MappingSession, items: list[object], now: float = 0.0) -> None:
    for it in items:
        if isinstance(it, TransformStamped):
            s.offer_mount(it, "tf_static")
        elif isinstance(it, NavSample):
            s.add_nav(it, now=now)
        elif isinstance(it, ProfilingPing):
            s.ping_arrived(TOPIC, now=now)
            s.add_ping(it, TOPIC)


def _same_cloud(a: HullCloud, b: HullCloud) -> None:
    assert len(a) == len(b) > 0
    for k in ("points", "normals", "confidence", "hits", "sigma"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


def _after_fish_ping(items: list[object]) -> int:
    """The index just after a ping that sees a fish (every 5th from the 3rd): cut there, that ping
    waits for its along-track neighbour, which decides whether the fish is a spike."""
    pings = [i for i, it in enumerate(items) if isinstance(it, ProfilingPing)]
    return pings[77] + 1


@pytest.fixture(scope="module")
def items() -> list[object]:
    return survey(n_pings=160, beams=48, lanes=(0.0, 1.0), faults=Faults(fish_every=5)).items  # fish: spikes judged by neighbours


def test_checkpoint_while_mapping_does_not_disturb_the_live_map(tmp_path: Path, items: list[object]) -> None:
    """A checkpoint taken mid-survey (the snapshot fuses pending pings, the write runs later on
    another thread) leaves the live map exactly as a survey without checkpoints: what the old
    writer's monkey-patch of Reconstructor._process guarded."""
    plain, _ = _session()
    _feed(plain, items)
    with_ckpt, log = _session(tmp_path, checkpoint_period_s=1e6)
    half = _after_fish_ping(items)
    _feed(with_ckpt, items[:half])
    with_ckpt.checkpoint()                     # snapshot now, written in the background...
    _feed(with_ckpt, items[half:half + 40])    # ...while the map goes on changing
    with_ckpt.wait_checkpoint()
    with_ckpt.checkpoint(wait=True)            # an incremental record on top
    _feed(with_ckpt, items[half + 40:])
    assert log.stats["checkpoints"] == 2 and not any(r == "checkpoint_failed" for _, r, _ in log.warnings)
    _same_cloud(with_ckpt.recon.cloud(), plain.recon.cloud())
    _same_cloud(with_ckpt.finish().cloud, plain.finish().cloud)


def test_snapshot_writer_copies_and_leaves_the_reconstructor_alone(tmp_path: Path, items: list[object]) -> None:
    """Reconstructor.checkpoint_snapshot (the public stand-in for the old _process patch): the file
    is the map at snapshot time, and the live reconstructor fuses on as if none was taken."""
    a, b = Reconstructor(ReconConfig(chunk_pings=1)), Reconstructor(ReconConfig(chunk_pings=1))
    half = _after_fish_ping(items)  # the ping still waiting for its neighbour sees a fish
    for it in items[:half]:
        a.add(it)
        b.add(it)
    write = checkpoint_writer(a)
    n_then = a.map.n
    for it in items[half:]:
        a.add(it)
        b.add(it)
    write(tmp_path / "snap.ckpt")
    back = Reconstructor(ReconConfig(chunk_pings=1))
    back.restore(tmp_path / "snap.ckpt")
    assert back.map.n == n_then < a.map.n
    _same_cloud(a.cloud(), b.cloud())


def test_restart_restores_the_same_survey_only(tmp_path: Path, items: list[object]) -> None:
    a, _ = _session(tmp_path, checkpoint_period_s=1e6)
    _feed(a, items[:300])
    a.checkpoint(wait=True)
    stamp = a.latest_ns
    b, log = _session(tmp_path)  # a restart a few seconds later: the same survey
    _feed(b, items[:1] + items[400:])
    assert any(r == "restored_checkpoint" for _, r, _ in log.warnings)
    assert b.restored_ns is None and float(log.stats["restore_gap_s"]) > 0  # type: ignore[arg-type]
    assert log.stats["restored_stamp_s"] == round(stamp * 1e-9, 3)
    assert b.received[TOPIC] > sum(isinstance(i, ProfilingPing) for i in items[400:])  # counts carried over
    # The player's end counts against everything received, before the restart too: exactly the pings
    # played while no mapper ran are missing (before the counts were saved, every ping received before
    # the restart counted as missing: 819 reported for about 119 lost).
    lost = sum(isinstance(i, ProfilingPing) for i in items[300:400])
    b.end_survey({TOPIC: sum(isinstance(i, ProfilingPing) for i in items)}, now=0.0)
    assert b.finish_due(now=b.settings.end_timeout_s + 1.0)
    missing = [m for _, r, m in log.warnings if r == "pings_missing_at_end"]
    assert lost > 0 and missing == [f"finishing without {{'{TOPIC}': {lost}}}"], missing
    final = b.finish()
    # The checkpoint kept when each voxel was seen: the restarted survey's map says it from both sides.
    cl = final.cloud
    assert cl.has_times and cl.seen_first_s is not None and cl.seen_last_s is not None and cl.seen_t0_ns is not None
    first_ping = next(i.stamp_ns for i in items if isinstance(i, ProfilingPing))
    assert cl.seen_t0_ns == first_ping and float(cl.seen_first_s.min()) == 0.0  # seen before the restart
    assert cl.seen_t0_ns + float(cl.seen_last_s.max()) * 1e9 > stamp  # and after it, on the one origin
    ident = read_identity(tmp_path / "mapper.ckpt")
    assert ident is not None and ident.finished
    c, log_c = _session(tmp_path)  # the next survey: the finished one is not restored
    _feed(c, items[:50])
    assert any(r == "checkpoint_not_restored" for _, r, _ in log_c.warnings)
    assert not any(r == "restored_checkpoint" for _, r, _ in log_c.warnings)


def test_pings_are_held_until_their_mounting_arrives(items: list[object]) -> None:
    s, log = _session()
    mount = items[0]
    assert isinstance(mount, TransformStamped)
    _feed(s, items[1:200], now=10.0)
    assert s.pending and log.stats["pings"] == 0
    check = s.health(now=10.5)
    assert "sonar" in check.failing["mounting"] and "mounting" not in check.working
    s.offer_mount(mount, "tf_static")
    assert not s.pending and log.stats["pings"] == len([i for i in items[1:200] if isinstance(i, ProfilingPing)])
    assert "mounting" in s.health(now=10.5).working


def test_parameters_mounting_is_replaced_by_tf_static() -> None:
    s, log = _session()
    s.mount_parameters(["sonar", "bad"], [0.0] * 6 + [1.0, 2.0])
    assert s.mount_table.sources["sonar"] == "parameters"
    assert {r for _, r, _ in log.warnings} == {"mount_from_parameters", "bad_mounting"}
    s.offer_mount(TransformStamped(0, "base_link", "sonar", MOUNT, True), "tf_static")
    assert s.mount_table.sources["sonar"] == "tf_static"
    s.offer_mount(mount_from_params("base_link", "sonar", [0.0] * 6), "parameters")  # never wins back
    assert s.mount_table.sources["sonar"] == "tf_static"
    assert sum(r == "mount_replaced" for _, r, _ in log.warnings) == 1


def test_health_names_what_fails_and_clears_when_it_works() -> None:
    s, _ = _session(input_timeout_s=5.0)
    assert s.health(now=0.0).failing == {}
    s.ping_arrived(TOPIC, now=100.0)
    assert "navigation" not in s.health(now=103.0).failing
    s.ping_arrived(TOPIC, now=106.0)
    assert "no odometry on" in s.health(now=106.5).failing["navigation"]
    s.add_nav(NavSample(1, [0.0, 0, 0], [0, 0, 0, 1]), now=106.6)
    assert "navigation" in s.health(now=106.7).working
    stale = s.health(now=120.0)
    assert "no ping for 14 s" in stale.failing["sonar"]
    s.end_survey({}, now=120.0)
    assert "sonar" not in s.health(now=121.0).failing  # the survey is ending: quiet is expected
    s.finished = True
    done = s.health(now=200.0)
    assert {"sonar", "navigation"} <= done.working and not done.failing


def test_end_waits_for_the_players_counts_or_the_timeout() -> None:
    s, log = _session(end_timeout_s=5.0)
    assert not s.finish_due(now=0.0)
    s.end_survey({TOPIC: 3, "/not/subscribed": 9}, now=0.0)
    assert s.end_expected == {TOPIC: 3}
    s.ping_arrived(TOPIC, now=0.1)
    assert not s.finish_due(now=1.0)
    s.ping_arrived(TOPIC, now=0.2)
    s.ping_arrived(TOPIC, now=0.3)
    assert s.finish_due(now=1.0) and not s.finish_due(now=1.1)  # once per end message
    s.end_survey({TOPIC: 10}, now=2.0)
    assert not s.finish_due(now=6.9)
    assert s.finish_due(now=7.1)
    assert ("survey_end", "pings_missing_at_end", "finishing without {'/sonar/scan': 7}") in log.warnings


def test_display_is_bounded_and_the_full_cloud_is_the_map(items: list[object]) -> None:
    s, log = _session(display_max_points=500, full_cloud_period_s=10.0)
    _feed(s, items)
    assert s.display_due(now=0.0) == (True, True)
    view = s.display_view()
    cloud = s.recon.cloud()
    assert view.data is not None and view.rows <= 500 < view.map_points == len(cloud) and not view.whole
    full = s.full_view(view)
    assert full.rows == full.map_points == len(cloud) and full.whole
    assert log.stats["display_points"] == view.rows and log.stats["full_cloud_points"] == len(cloud)
    assert s.display_due(now=s.full_t + 1.0) == (False, False)
    final = s.finish()
    assert final.display is not final.cloud and len(final.display) <= 500
    _same_cloud(final.display, display_cloud(final.cloud, 500, s.voxel_size))


def test_gaps_in_a_regular_stream_are_counted() -> None:
    s, log = _session()
    for i in [*range(25), 28]:  # 20 Hz, then 3 pings missing
        p = ProfilingPing(10**9 + i * 50_000_000, "ghost", np.linspace(-1, 1, 4, dtype=np.float32),
                          np.ones(4, np.float32), np.ones(4, np.float32))
        s.ping_arrived(TOPIC)
        s.add_ping(p, TOPIC)
    assert log.drops.counts[(TOPIC, "missed_pings")] == 3


def test_path_thinner_keeps_every_kth_and_the_newest() -> None:
    th: PathThinner[int] = PathThinner(10)
    built: list[int] = []

    def build(i: int) -> int:
        built.append(i)
        return i

    assert th.poses(5, build) == [0, 1, 2, 3, 4]
    assert th.poses(25, build) == [0, 4, 8, 12, 16, 20, 24]
    assert th.k == 4 and built.count(0) == 1  # kept poses are built once
    th.clear()
    assert th.poses(3, build) == [0, 1, 2]
