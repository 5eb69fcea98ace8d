"""A tiny stand-in with the Reconstructor interface, so the node harness is testable on its own
(the mapper takes it through its ``reconstructor`` parameter)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.diagnostics import DropLog
from hullscan.model import (
    HullCloud,
    NavSample,
    ProfilingPing,
    Trajectory,
    Transform,
    TransformStamped,
)


@dataclass(frozen=True)
class FakeResult:
    cloud: HullCloud
    trajectory: Trajectory
    drops: DropLog


class FakeReconstructor:
    def __init__(self, config: Any, topics: Any = None) -> None:
        self.drift_reference: Any = None
        self.drift_between_passes = False
        self.mounts: dict[str, Transform] = {}
        self.nav: list[NavSample] = []
        self.points: list[np.ndarray] = []
        self.drops = DropLog()

    def add(self, item: Any) -> None:
        if isinstance(item, TransformStamped):
            self.mounts[item.child_frame] = item.transform
        elif isinstance(item, NavSample):
            self.nav.append(item)
        elif isinstance(item, ProfilingPing):
            if not self.nav or item.frame_id not in self.mounts:
                self.drops.add(item.frame_id, "no_pose")
                return
            r = np.nan_to_num(item.ranges)[:, None]
            p = self.mounts[item.frame_id].apply(item.directions() * r)
            self.points.append(self.nav[-1].pose.apply(p)[np.isfinite(item.ranges) & (item.ranges > 0)])

    def cloud(self) -> HullCloud:
        p = np.concatenate(self.points) if self.points else np.zeros((0, 3))
        p = np.unique(np.round(p / 0.05) * 0.05, axis=0)
        return HullCloud.from_points(p)

    def finish(self) -> FakeResult:
        return FakeResult(self.cloud(), Trajectory.from_samples(self.nav), self.drops)

    def checkpoint(self, path: str | Path) -> None:
        Path(path).write_bytes(pickle.dumps((self.mounts, self.nav, self.points)))

    def restore(self, path: str | Path) -> None:
        self.mounts, self.nav, self.points = pickle.loads(Path(path).read_bytes())
