"""Voxel visit times against their numpy reference, and passes counted from them."""

from __future__ import annotations

import numpy as np
import pytest

from hullscan.core.visits import VoxelVisits, count_passes, mark_reference, pass_starts
from hullscan.core.voxelmap import VoxelMap


def test_mark_matches_reference() -> None:
    rng = np.random.default_rng(3)
    vm = VoxelMap(0.02, capacity=16)  # tiny: the map and the visit arrays grow on the way
    visits = VoxelVisits(t0_ns=1_000_000_000_000)
    pts_all, t_all = [], []
    for k in range(6):
        pts = np.column_stack([rng.uniform(-0.3, 0.3, 500), rng.uniform(-0.3, 0.3, 500), rng.normal(0, 0.004, 500)])
        origins = np.array([[0.0, 0.0, -3.0]])
        vm.fuse(pts, np.zeros(500, np.int32), origins, np.full(500, 0.01, np.float32))
        stamps = visits.t0_ns + ((30 * k + rng.uniform(0, 2, 500)) * 1e9).astype(np.int64)
        assert visits.mark(vm, pts, stamps) == 0  # every point just fused lies in a voxel
        pts_all.append(pts)
        t_all.append(((stamps - visits.t0_ns) * 1e-9).astype(np.float32))
    ref = mark_reference(vm, np.vstack(pts_all), np.concatenate(t_all))
    first, last = visits.at(np.arange(vm.n))
    assert len(ref) == vm.n
    for v, (f, la) in ref.items():
        assert first[v] == pytest.approx(f) and last[v] == pytest.approx(la)
    # The same times from voxel ids looked up by the caller (the tiled path's lookup).
    by_ids = VoxelVisits(t0_ns=visits.t0_ns)
    pts = np.vstack(pts_all)
    by_ids.mark_ids(vm.lookup(np.floor(pts / vm.voxel_size).astype(np.int64)),
                    visits.t0_ns + (np.concatenate(t_all).astype(np.float64) * 1e9).astype(np.int64))
    np.testing.assert_allclose(by_ids.at(np.arange(vm.n))[0], first, atol=1e-5)
    np.testing.assert_allclose(by_ids.at(np.arange(vm.n))[1], last, atol=1e-5)
    # Points outside the map are counted, not marked.
    assert visits.mark(vm, np.array([[5.0, 5.0, 5.0]]), np.array([visits.t0_ns])) == 1


def test_mark_checks_shapes() -> None:
    with pytest.raises(ValueError, match="points"):
        VoxelVisits(0).mark(VoxelMap(0.02), np.zeros((3, 2)), np.zeros(3, np.int64))


def test_count_passes_groups_times_by_gap() -> None:
    # One pass: first and last within a second or two of each other everywhere.
    assert count_passes(np.array([10.0, 10.5, 11.0]), np.array([10.2, 11.8, 11.1]), 15.0) == 1
    # A lane that came back 40 s later to some of the points.
    assert count_passes(np.array([10.0, 10.5, 11.0]), np.array([10.2, 51.0, 11.1]), 15.0) == 2
    # Three visits, a never-seen voxel (inf/-inf) ignored.
    assert count_passes(np.array([0.0, 100.0, np.inf]), np.array([50.0, 100.0, -np.inf]), 15.0) == 3
    assert count_passes(np.array([np.inf]), np.array([-np.inf]), 15.0) == 0


def test_a_pass_counts_where_it_saw_enough_of_the_points() -> None:
    # 30 points seen by one lane at 40 s, 3 of them (a far swath's fringe) again at 70 s, 12 more at 120 s.
    first = np.r_[np.full(30, 40.0), np.full(12, 120.0)]
    last = np.r_[np.full(27, 40.5), np.full(3, 70.0), np.full(12, 120.5)]
    assert count_passes(first, last, 15.0) == 3
    assert count_passes(first, last, 15.0, min_points=12) == 2  # the fringe of 3 does not count
    assert count_passes(first, last, 15.0, min_points=50) == 1  # seen, by no pass enough: still one


def test_pass_starts_are_each_counted_pass_s_first_time() -> None:
    first = np.r_[np.full(30, 40.0), np.full(12, 120.0)]
    last = np.r_[np.full(27, 40.5), np.full(3, 70.0), np.full(12, 120.5)]
    np.testing.assert_array_equal(pass_starts(first, last, 15.0, min_points=12), [40.0, 120.0])
    np.testing.assert_array_equal(pass_starts(first, last, 15.0, min_points=50), [40.0])  # the fullest group
    assert len(pass_starts(np.array([np.nan]), np.array([np.nan]), 15.0)) == 0
