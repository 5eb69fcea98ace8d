"""A small TF buffer: static mountings plus time-stamped dynamic transforms.

There is no tf2_ros for these ROS 2 wheels, so hullscan keeps its own tree from
``/tf`` and ``/tf_static``. Lookups chain edges through the tree; dynamic edges
are interpolated (linear + SLERP) between their two nearest stamps.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from hullscan.errors import TransformError
from hullscan.model import Transform, TransformStamped


class TfTree:
    """Frames as a tree of ``parent <- child`` edges, looked up by name."""

    def __init__(self, max_extrapolation_s: float = 0.5) -> None:
        self._static: dict[str, tuple[str, Transform]] = {}
        self._dynamic: dict[str, tuple[str, list[int], list[Transform]]] = {}
        self._parent: dict[str, str] = {}
        self.max_extrapolation_ns = int(max_extrapolation_s * 1e9)
        self.conflicts: defaultdict[str, int] = defaultdict(int)

    def add(self, edge: TransformStamped) -> None:
        child, parent = edge.child_frame.lstrip("/"), edge.parent_frame.lstrip("/")
        if child in self._parent and self._parent[child] != parent:
            # A frame has one parent in TF; a second one is a publisher bug. Keep the first.
            self.conflicts[child] += 1
            return
        self._parent[child] = parent
        if edge.static:
            self._static[child] = (parent, edge.transform)
            return
        _, stamps, tfs = self._dynamic.setdefault(child, (parent, [], []))
        if stamps and edge.stamp_ns <= stamps[-1]:
            if edge.stamp_ns == stamps[-1]:
                tfs[-1] = edge.transform
            return  # out-of-order dynamic TF: ignore (counted by the reader)
        stamps.append(edge.stamp_ns)
        tfs.append(edge.transform)

    @property
    def frames(self) -> set[str]:
        return set(self._parent) | set(self._parent.values())

    def _edge(self, child: str, stamp_ns: int | None) -> Transform:
        if child in self._static:
            return self._static[child][1]
        parent, stamps, tfs = self._dynamic[child]
        if stamp_ns is None or len(stamps) == 1:
            if stamp_ns is not None and abs(stamp_ns - stamps[0]) > self.max_extrapolation_ns:
                raise TransformError(f"{parent} <- {child}: no transform near t={stamp_ns * 1e-9:.3f} s")
            return tfs[-1]
        i = int(np.searchsorted(stamps, stamp_ns))
        if i == 0 or i == len(stamps):
            j = 0 if i == 0 else len(stamps) - 1
            if abs(stamp_ns - stamps[j]) > self.max_extrapolation_ns:
                raise TransformError(
                    f"{parent} <- {child}: t={stamp_ns * 1e-9:.3f} s is outside "
                    f"{stamps[0] * 1e-9:.3f}..{stamps[-1] * 1e-9:.3f} s"
                )
            return tfs[j]
        t0, t1 = stamps[i - 1], stamps[i]
        w = (stamp_ns - t0) / (t1 - t0)
        a, b = tfs[i - 1], tfs[i]
        rot = Slerp([0.0, 1.0], Rotation.from_quat([a.rotation, b.rotation]))([w])[0]
        return Transform(rot.as_quat(), (1 - w) * a.translation + w * b.translation)

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._parent:
            chain.append(self._parent[chain[-1]])
            if len(chain) > 64:
                raise TransformError(f"TF loop through {frame}")
        return chain

    def lookup(self, target: str, source: str, stamp_ns: int | None = None) -> Transform:
        """Transform mapping points in ``source`` to ``target`` (``target <- source``)."""
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return Transform.identity()
        up_s, up_t = self._chain(source), self._chain(target)
        common = next((f for f in up_s if f in up_t), None)
        if common is None:
            known = ", ".join(sorted(self.frames)) or "none"
            raise TransformError(f"no transform from '{source}' to '{target}' (known frames: {known})")
        root_from_source = Transform.identity()
        for f in up_s[: up_s.index(common)]:
            root_from_source = self._edge(f, stamp_ns) @ root_from_source
        root_from_target = Transform.identity()
        for f in up_t[: up_t.index(common)]:
            root_from_target = self._edge(f, stamp_ns) @ root_from_target
        return root_from_target.inverse() @ root_from_source

    def can_transform(self, target: str, source: str, stamp_ns: int | None = None) -> bool:
        try:
            self.lookup(target, source, stamp_ns)
        except TransformError:
            return False
        return True
