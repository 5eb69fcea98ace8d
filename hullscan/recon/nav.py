"""The growing navigation record of a survey (interpolation itself: :mod:`hullscan.core.nav`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hullscan.core.nav import interpolate_poses
from hullscan.model import NavSample, Trajectory


class NavBuffer:
    """Growing navigation record with pose interpolation and gap/jump checks.

    Samples live in arrays that double when full, so appending is O(1) amortised and
    interpolation never copies the history (the live path calls it on every ping).
    """

    def __init__(self, max_gap_s: float, max_speed: float, depth_smoothing_s: float = 0.0) -> None:
        self.max_gap_ns = int(max_gap_s * 1e9)
        self.max_speed = max_speed
        # Half-width of the depth smoothing window (0: off; hullscan.core.nav.smooth_depth).
        self.depth_smoothing_s = depth_smoothing_s
        self._n = 0
        self._t = np.zeros(1024, np.int64)
        self._a = np.zeros((1024, 13))  # x y z qx qy qz qw sx sy sz ax ay az
        self.frame_id = "odom"
        self.rewritten_from = 1 << 62  # first row changed by a late insert since the last checkpoint

    def __len__(self) -> int:
        return self._n

    @property
    def last_ns(self) -> int | None:
        return int(self._t[self._n - 1]) if self._n else None

    @property
    def first_ns(self) -> int | None:
        return int(self._t[0]) if self._n else None

    def add(self, s: NavSample) -> str | None:
        """Append a sample; returns a problem description for a jump or gap, else None.

        ``"duplicate"``: a sample with a stamp already held is ignored (the first one is kept; a
        replacement would silently move the pings around it). ``"reordered"``: a late sample is
        inserted in stamp order (rows from there on are rewritten: ``rewritten_from``)."""
        self.frame_id = s.frame_id
        n = self._n
        problem = None
        if n:
            last = int(self._t[n - 1])
            if s.stamp_ns <= last:
                if s.stamp_ns == last:
                    return "duplicate"
                return self._insert(s)
            else:
                dt = (s.stamp_ns - last) * 1e-9
                dist = float(np.linalg.norm(s.position - self._a[n - 1, :3]))
                if dt * 1e9 > self.max_gap_ns:
                    problem = f"gap of {dt:.2f} s before t={s.stamp:.3f} s"
                elif dist > self.max_speed * dt + 0.05:
                    problem = f"jump of {dist:.2f} m in {dt:.3f} s at t={s.stamp:.3f} s"
        if n == self._t.shape[0]:
            self._t = np.concatenate([self._t, np.zeros_like(self._t)])
            self._a = np.concatenate([self._a, np.zeros_like(self._a)])
        self._t[n] = s.stamp_ns
        self._a[n, :3] = s.position
        self._a[n, 3:7] = s.orientation
        self._a[n, 7:10] = s.position_sigma
        self._a[n, 10:13] = s.orientation_sigma
        self._n = n + 1
        return problem

    def _insert(self, s: NavSample) -> str:
        n = self._n
        i = int(np.searchsorted(self._t[:n], s.stamp_ns))
        if self._t[i] == s.stamp_ns:
            return "duplicate"
        if n == self._t.shape[0]:
            self._t = np.concatenate([self._t, np.zeros_like(self._t)])
            self._a = np.concatenate([self._a, np.zeros_like(self._a)])
        self._t[i + 1:n + 1] = self._t[i:n].copy()
        self._a[i + 1:n + 1] = self._a[i:n].copy()
        self._t[i] = s.stamp_ns
        self._a[i, :3] = s.position
        self._a[i, 3:7] = s.orientation
        self._a[i, 7:10] = s.position_sigma
        self._a[i, 10:13] = s.orientation_sigma
        self._n = n + 1
        self.rewritten_from = min(self.rewritten_from, i)
        return "reordered"

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Views of the stamps (N,) and rows (N, 13) so far."""
        return self._t[: self._n], self._a[: self._n]

    def load(self, stamps: NDArray[np.int64], rows: NDArray[np.float64]) -> None:
        n = stamps.shape[0]
        self._t = np.zeros(max(1024, 2 * n), np.int64)
        self._a = np.zeros((self._t.shape[0], 13))
        self._t[:n] = stamps
        self._a[:n] = rows
        self._n = n

    def interpolate(self, stamps: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                             NDArray[np.float64], NDArray[np.float64],
                                                             NDArray[np.int8]]:
        """Position (P, 3), quaternion (P, 4), position sigma (P,), attitude sigma (P,), status (P,)."""
        t, a = self.arrays()
        return interpolate_poses(t, a, stamps, self.max_gap_ns, self.max_speed, int(self.depth_smoothing_s * 1e9))

    def status(self, stamps: NDArray[np.int64]) -> NDArray[np.int8]:
        """Only the status (P,) of :meth:`interpolate` (``NAV_*``): it does not depend on the
        depth smoothing, which is left out."""
        t, a = self.arrays()
        return interpolate_poses(t, a, stamps, self.max_gap_ns, self.max_speed)[4]

    def trajectory(self, max_gap_s: float) -> Trajectory | None:
        if not self._n:
            return None
        t, a = self.arrays()
        return Trajectory(t, a[:, :3], a[:, 3:7], a[:, 7:10], frame_id=self.frame_id, max_gap_s=max_gap_s)
