"""The reconstruction pipeline on small synthetic surveys: quality, equivalence, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagWriter, read_all
from hullscan.cli import main
from hullscan.config import HullscanConfig
from hullscan.core.nav import slerp
from hullscan.core.visits import count_passes
from hullscan.model import (
    ImagingPing,
    NavSample,
    PointsPing,
    Transform,
    TransformStamped,
)
from hullscan.recon.config import ReconConfig
from hullscan.recon.nav import NavBuffer
from hullscan.recon.pipeline import Reconstructor, reconstruct_bag
from tests.hullscan.recon.synth import T0, Faults, surface_distance, survey


def _run(items: list[object], **cfg: object):  # type: ignore[no-untyped-def]
    rec = Reconstructor(ReconConfig(**cfg))  # type: ignore[arg-type]
    rec.add_all(items)
    return rec.finish()


def _write(path: Path, items: list[object]) -> Path:
    with BagWriter(path) as bag:
        for it in items:
            bag.write(it)
    return path


def test_quality_perfect_navigation() -> None:
    s = survey(n_pings=200, beams=96, lanes=(-1.0, 0.0, 1.0), noise=0.02)
    res = _run(s.items)
    d = surface_distance(res.cloud.points)
    assert len(res.cloud) > 20_000
    assert np.sqrt((d**2).mean()) <= 1.2 * 0.02
    assert (d > 0.10).mean() < 0.005
    # Normals face the sensor (the vehicle is below, inside-out: towards -z on the bottom).
    bottom = res.cloud.points[:, 2] < -4.9
    assert (res.cloud.normals[bottom, 2] < -0.9).mean() > 0.85
    assert res.stats["points_out"] == len(res.cloud)
    assert np.all((res.cloud.confidence > 0) & (res.cloud.confidence <= 1))


def test_fish_are_removed() -> None:
    s = survey(n_pings=200, beams=96, lanes=(0.0,), faults=Faults(fish_every=7))
    res = _run(s.items)
    d = surface_distance(res.cloud.points)
    assert (d > 0.10).mean() < 0.005
    assert res.drops.total("spike_along") > 0


def test_incremental_equals_batch(tmp_path: Path) -> None:
    s = survey(n_pings=120, beams=64, lanes=(0.0, 1.0))
    bag = _write(tmp_path / "bag", s.items)
    batch = reconstruct_bag(bag, HullscanConfig(), progress=False)
    items, _ = read_all(bag)
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    mid = None
    for i, it in enumerate(items):
        rec.add(it)
        if i == len(items) // 2:
            mid = rec.cloud()  # a live snapshot must not change the end result
    inc = rec.finish()
    assert mid is not None and 0 < len(mid) < len(inc.cloud)
    assert len(batch.cloud) == len(inc.cloud) > 1000
    np.testing.assert_array_equal(batch.cloud.points, inc.cloud.points)
    np.testing.assert_array_equal(batch.cloud.normals, inc.cloud.normals)
    np.testing.assert_array_equal(batch.cloud.hits, inc.cloud.hits)
    assert {"georef", "clean", "fuse", "extract", "read_bag", "numba_compile"} <= set(batch.timings_s)
    # Decoding in a second process (the default) or in this one: the same cloud and drops.
    same = reconstruct_bag(bag, HullscanConfig(), progress=False, prefetch=False)
    np.testing.assert_array_equal(batch.cloud.points, same.cloud.points)
    np.testing.assert_array_equal(batch.cloud.confidence, same.cloud.confidence)
    assert batch.drops.as_dict() == same.drops.as_dict() and batch.stats == same.stats


def test_time_offset_is_applied() -> None:
    s = survey(n_pings=100, beams=64, lanes=(0.0,))
    a = _run(s.items).cloud
    b = _run(s.items, time_offset_s=0.5).cloud  # 0.25 m further along at 0.5 m/s
    assert abs((b.points[:, 0].min() - a.points[:, 0].min()) - 0.25) < 0.03


def test_pings_before_nav_and_gap_and_jump_are_dropped_and_counted() -> None:
    s = survey(n_pings=200, beams=64, lanes=(0.0,))
    items = []
    for it in s.items:
        if isinstance(it, NavSample):
            t = (it.stamp_ns - T0) * 1e-9
            if t < 1.0 or 4.0 < t < 5.0:
                continue  # pings before the first nav sample; a 1 s navigation gap
            if t > 8.0:
                it = NavSample(it.stamp_ns, it.position + np.array([0, 3.0, 0]), it.orientation)  # pose jump
        items.append(it)
    res = _run(items)
    d = res.drops
    assert d.total("before_first_nav") > 0
    assert d.total("nav_gap") > 0
    assert d.total("pose_jump") > 0
    assert len(res.cloud) > 1000  # the run went on


def test_ranges_beyond_max_are_dropped() -> None:
    s = survey(n_pings=60, beams=64, lanes=(0.0,))
    res = _run(s.items, max_range_m=3.5)
    assert res.drops.total("beyond_max_range") > 0
    assert np.all(surface_distance(res.cloud.points) < 0.2)


def test_empty_input_gives_empty_cloud_and_a_message(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    res = Reconstructor().finish()
    assert len(res.cloud) == 0 and res.drops.total("no_pings") == 1
    bag = _write(tmp_path / "bag", [TransformStamped(T0, "base_link", "sonar", Transform(), True)])
    assert main(["reconstruct", str(bag), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["points"] == 0 and any(d["reason"] == "no_pings" for d in summary["drops"])


def test_reconstruct_command_writes_outputs(tmp_path: Path) -> None:
    from hullscan.cloud_io import load_cloud

    s = survey(n_pings=80, beams=64, lanes=(0.0,))
    bag = _write(tmp_path / "bag", s.items)
    out = tmp_path / "out"
    assert main(["reconstruct", str(bag), "--out", str(out), "--no-progress", "--voxel", "0.03"]) == 0
    cloud = load_cloud(out / "cloud.ply")
    assert len(cloud) > 500
    assert "voxel_size: 0.03" in (out / "config.yaml").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timings_s"]["numba_compile"] >= 0 and "fuse" in summary["timings_s"]
    assert (out / "trajectory.npz").exists()


def test_checkpoint_restore(tmp_path: Path) -> None:
    whole = survey(n_pings=160, beams=64, lanes=(0.0,)).items
    first = [it for it in whole if getattr(it, "stamp_ns", 0) < T0 + 5 * 10**9]
    # The survey goes on after the restart (the mounting given again: the reconstructor's checkpoint
    # keeps the map, the session's keeps the mountings).
    assert all(getattr(it, "stamp_ns", 0) >= T0 + 5 * 10**9 for it in whole[len(first):])
    more = [whole[0], *whole[len(first):]]
    rec = Reconstructor(ReconConfig(chunk_pings=1))
    rec.add_all(first)
    before = rec.cloud()
    rec.checkpoint(tmp_path / "map.npz")
    rec2 = Reconstructor(ReconConfig(chunk_pings=1))
    rec2.restore(tmp_path / "map.npz")
    after = rec2.cloud()
    np.testing.assert_array_equal(before.points, after.points)
    # The checkpoint keeps when each voxel was seen (and their origin): the restored cloud says it too.
    assert before.has_times and after.has_times and after.seen_t0_ns == before.seen_t0_ns == T0
    np.testing.assert_array_equal(before.seen_first_s, after.seen_first_s)  # type: ignore[arg-type]
    np.testing.assert_array_equal(before.seen_last_s, after.seen_last_s)  # type: ignore[arg-type]
    rec2.add_all(more)  # goes on: times from both sides of the restart, on the one origin
    b = rec2.finish().cloud
    assert b.has_times and b.seen_first_s is not None and b.seen_last_s is not None and b.seen_t0_ns == T0
    assert float(np.min(b.seen_first_s)) == 0.0 and float(np.max(b.seen_last_s)) > 7.5
    # A checkpoint written without times (recon.seen_times off) restores a map without them: the
    # cloud says none rather than half of them.
    off = Reconstructor(ReconConfig(chunk_pings=1, seen_times=False))
    off.add_all(first)
    off.checkpoint(tmp_path / "untimed.npz")
    back = Reconstructor(ReconConfig(chunk_pings=1))
    back.restore(tmp_path / "untimed.npz")
    back.add_all(more)
    assert not back.finish().cloud.has_times
    with pytest.raises(Exception, match="voxel size"):
        Reconstructor(ReconConfig(voxel_size=0.03)).restore(tmp_path / "map.npz")


def test_imaging_and_points_pings() -> None:
    # Vehicle 2 m below a flat bottom at z = 0, looking up.
    items: list[object] = [TransformStamped(T0, "base_link", "sonar", Transform(), True)]
    rng = np.random.default_rng(0)
    ang = np.linspace(-0.5, 0.5, 40)
    dirs = np.column_stack([np.sin(ang), np.zeros(40), np.cos(ang)]).astype(np.float32)
    bins = np.arange(0.3, 4.0, 0.01)
    for k in range(60):
        t = T0 + k * 50_000_000
        items.append(NavSample(t, [k * 0.025, 0, -2.0], [0, 0, 0, 1]))
        img = rng.exponential(1.0, (len(bins), 40)).astype(np.float32)
        r_true = 2.0 / dirs[:, 2]
        img[np.searchsorted(bins, r_true), np.arange(40)] += 60
        items.append(ImagingPing(t, "sonar", dirs, bins, img, elevation_aperture=0.05))
        p = dirs * (r_true + rng.normal(0, 0.01, 40))[:, None]
        items.append(PointsPing(t, "sonar", p, np.ones(40)))
    res = _run(items, min_grazing_deg=0.0, cfar_scale=15.0)
    z = res.cloud.points[:, 2]
    assert len(z) > 100 and np.abs(z).max() < 0.05


def test_slerp_and_nav_buffer() -> None:
    from scipy.spatial.transform import Rotation, Slerp

    q = Rotation.random(2, random_state=0).as_quat()
    w = np.linspace(0, 1, 7)
    got = slerp(np.repeat(q[:1], 7, 0), np.repeat(q[1:], 7, 0), w)
    want = Slerp([0, 1], Rotation.from_quat(q))(w).as_quat()
    assert np.allclose(np.abs((got * want).sum(1)), 1, atol=1e-9)
    nav = NavBuffer(0.5, 5.0)
    for k in range(5):
        nav.add(NavSample(k * 10**8, [k * 0.1, 0, 0], [0, 0, 0, 1]))
    pos, _, _, _, st = nav.interpolate(np.array([-1, 50_000_000, 4 * 10**8, 10**9]))
    assert list(st) == [1, 0, 0, 2]
    assert abs(pos[1, 0] - 0.05) < 1e-12
    # The status alone (the ping check) is the same, with or without depth smoothing.
    smoothed = NavBuffer(0.5, 5.0, depth_smoothing_s=0.5)
    smoothed.load(*nav.arrays())
    stamps = np.array([-1, 50_000_000, 4 * 10**8, 10**9])
    assert list(nav.status(stamps)) == list(smoothed.status(stamps)) == [1, 0, 0, 2]


def test_drift_correction_removes_double_surfaces() -> None:
    from hullscan.recon.config import DriftConfig

    # 1 % sideways drift over five overlapping lanes: lanes disagree by up to ~0.4 m.
    s = survey(n_pings=400, beams=96, lanes=(-1.5, -0.75, 0.0, 0.75, 1.5), faults=Faults(drift_per_m=0.01))
    before = _run(s.items)
    after = _run(s.items, drift=DriftConfig(enabled=True, submap_length_m=5.0))
    d0 = surface_distance(before.cloud.points)
    d1 = surface_distance(after.cloud.points)
    assert np.sqrt((d1**2).mean()) < 0.5 * np.sqrt((d0**2).mean())
    # Corrections that do not measurably improve the overlap are declined (kept at the prior).
    assert after.stats["drift_aligned"] >= 3
    assert after.stats["drift_aligned"] + after.stats["drift_rejected"] >= 10
    assert after.trajectory is not None and len(after.trajectory) == len(before.trajectory)  # type: ignore[arg-type]


def test_drift_correction_does_not_degrade_a_survey_without_drift() -> None:
    from hullscan.recon.config import DriftConfig

    s = survey(n_pings=300, beams=96, lanes=(-0.75, 0.0, 0.75))
    before = _run(s.items)
    after = _run(s.items, drift=DriftConfig(enabled=True, submap_length_m=5.0))
    d0 = surface_distance(before.cloud.points)
    d1 = surface_distance(after.cloud.points)
    assert np.sqrt((d1**2).mean()) <= 1.05 * np.sqrt((d0**2).mean())
    assert after.stats["drift_max_correction_m"] < 0.02


def test_cloud_keeps_the_viewing_geometry() -> None:
    """Each surface point carries its returns' mean range and incidence, which the comparator's
    uncertainty model needs; checked against the survey's geometry (one lane under a cylinder)."""
    from tests.hullscan.recon.synth import MOUNT, RADIUS

    s = survey(n_pings=200, beams=600, lanes=(0.0,), noise=0.005, standoff=3.0)  # beams closer than a voxel
    cloud = _run(s.items).cloud
    assert cloud.has_geometry
    z_vehicle = -(RADIUS + 3.0)
    sonar = np.array([0.0, 0.0, z_vehicle]) + MOUNT.translation  # the fan is across the track (y-z)
    p = cloud.points
    o = np.stack([p[:, 0], np.full(len(p), sonar[1]), np.full(len(p), sonar[2])], 1)
    ray = p - o
    rng = np.linalg.norm(ray, axis=1)
    np.testing.assert_allclose(np.median(np.abs(cloud.range_m - rng)), 0.0, atol=0.01)
    # The true incidence: between the cylinder's normal there and the ray.
    normal = np.stack([np.zeros(len(p)), p[:, 1], p[:, 2]], 1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    true_inc = np.degrees(np.arccos(np.abs(np.sum(normal * ray, axis=1)) / rng))
    assert np.median(np.abs(cloud.incidence_deg - true_inc)) < 2.0
    assert true_inc.max() > 40  # the swath's edges meet the hull obliquely


def test_cloud_says_when_each_point_was_seen() -> None:
    """Two lanes 2 m apart under the cylinder, the second coming back: a patch of the crown was seen
    by both passes, a patch of the far flank by one; each voxel for a moment as a lane went by."""
    s = survey(n_pings=200, beams=200, lanes=(-1.0, 1.0), noise=0.005, standoff=3.0)
    cloud = _run(s.items).cloud
    assert cloud.has_times and cloud.seen_t0_ns == T0  # seconds from the survey's first ping
    first, last = cloud.seen_first_s, cloud.seen_last_s
    assert first.min() >= 0.0 and last.max() <= 2 * (200 / 20.0 + 1.0) and np.all(last >= first)
    # A voxel is seen for a moment as a lane passes; where both lanes' returns fell in it, a lane apart.
    span = last - first
    assert np.percentile(span, 99) > 10.0 and np.mean(span < 1.0) > 0.5
    # A patch the size of a finding: on the crown both lanes saw it (the second coming back the other
    # way, 11 s later); on the far flank only the second did.
    spot = np.abs(cloud.points[:, 0] - 2.5) < 0.3
    crown = spot & (np.abs(cloud.points[:, 1]) < 0.3)
    port = spot & (cloud.points[:, 1] > 3.3)  # the first lane's swath ends at y = 3.1
    assert count_passes(first[crown], last[crown], 5.0) == 2
    assert count_passes(first[port], last[port], 5.0) == 1
    # Turned off: no times at all.
    assert not _run(s.items, seen_times=False).cloud.has_times
