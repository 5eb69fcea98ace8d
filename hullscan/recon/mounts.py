"""Which sensor mounting is used when several sources give one: ``/tf_static`` wins.

A mounting (sonar frame -> base_link) can come from the vehicle's ``/tf_static`` (or the bag
player's ``/hullscan/mounts``, which republishes the bag's ``/tf_static``), from a restored
checkpoint, or from the node's parameters (``sensor_frames`` / ``sensor_mounts``). Parameters
are a fallback for a vehicle without ``/tf_static``: the shipped configuration carries an
all-zero one, and keeping the first mounting received (the parameters, at start) put every
ping in the wrong place (issue 17). A source of higher priority replaces a lower one; the same
or a lower one never replaces what is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hullscan.errors import MessageError
from hullscan.model import Transform, TransformStamped

PRIORITY = {"parameters": 0, "checkpoint": 1, "tf_static": 2, "player": 2}


def same_transform(a: TransformStamped, b: TransformStamped, tol: float = 1e-6) -> bool:
    ta, tb = a.transform, b.transform
    return (a.parent_frame.lstrip("/") == b.parent_frame.lstrip("/")
            and bool(np.allclose(ta.translation, tb.translation, atol=tol))
            and bool(np.allclose(ta.rot.as_matrix(), tb.rot.as_matrix(), atol=tol)))


@dataclass
class MountTable:
    """The mounting in use per sensor frame and where it came from."""

    edges: dict[str, TransformStamped] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def offer(self, edge: TransformStamped, source: str) -> str:
        """Take ``edge`` from ``source`` if it wins; returns ``new``, ``replaced``, ``same`` or ``kept``
        (a lower-priority source does not replace a higher one)."""
        if source not in PRIORITY:
            raise ValueError(f"unknown mounting source {source!r}; expected one of {', '.join(PRIORITY)}")
        frame = edge.child_frame.lstrip("/")
        old = self.edges.get(frame)
        if old is None:
            self.edges[frame], self.sources[frame] = edge, source
            return "new"
        if same_transform(old, edge):
            if PRIORITY[source] > PRIORITY[self.sources[frame]]:
                self.sources[frame] = source  # confirmed by a better source
            return "same"
        if PRIORITY[source] > PRIORITY[self.sources[frame]]:
            self.edges[frame], self.sources[frame] = edge, source
            return "replaced"
        return "kept"

    def from_parameters(self) -> list[str]:
        return sorted(f for f, s in self.sources.items() if s == "parameters")


def mounts_json(edges: Iterable[TransformStamped]) -> str:
    """Static sensor mountings as JSON (the player's stand-in for /tf_static without tf2_msgs)."""
    return json.dumps([{"parent": e.parent_frame, "child": e.child_frame,
                        "translation": e.transform.translation.tolist(),
                        "rotation": e.transform.rotation.tolist()} for e in edges])


def mounts_from_json(text: str) -> list[TransformStamped]:
    try:
        rows = json.loads(text)
        return [TransformStamped(0, r["parent"], r["child"], Transform(r["rotation"], r["translation"]), True)
                for r in rows]
    except (ValueError, KeyError, TypeError) as err:
        raise MessageError(f"/hullscan/mounts: not a mounting list ({err})") from err


def mount_from_params(parent: str, child: str, xyz_rpy: Sequence[float]) -> TransformStamped:
    if len(xyz_rpy) != 6 or not np.all(np.isfinite(xyz_rpy)):
        raise MessageError(f"mounting of {child}: expected 6 finite numbers x y z roll pitch yaw, got {list(xyz_rpy)}")
    x, y, z, r, p, yaw = (float(v) for v in xyz_rpy)
    return TransformStamped(0, parent, child, Transform.from_euler(r, p, yaw, (x, y, z)), True)
