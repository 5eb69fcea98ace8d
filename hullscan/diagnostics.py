"""Counting what had to be dropped, so nothing is dropped silently.

Every stage that discards data (a NaN range, a ping without a pose, a damaged
bag tail) records it here with the topic and reason. The first occurrence of
each (topic, reason) is logged as a warning with the offending value; the
totals go into every run's summary.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("hullscan")

# Routine filtering that every survey has (sonar noise, the survey's edges): logged at INFO, summed up
# in one line (DropLog.routine_summary); everything else is a WARNING, as a damaged bag or a missing
# transform is something to act on.
ROUTINE_REASONS = frozenset({
    "nan_range", "below_min_range", "beyond_max_range", "low_intensity", "spike_across", "spike_along",
    "grazing_angle", "off_reference", "no_mirrored_counterpart", "merged_into_neighbour", "weak_seed_support",
    "growth_layer", "layer_under_object", "no_detection",
})


@dataclass
class DropLog:
    """Counts of dropped or repaired items by ``(where, reason)``.

    ``where`` is a topic, file or stage name; ``reason`` is a short stable key
    such as ``nan_range`` or ``no_pose``. ``examples`` keeps the first detail.
    """

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, where: str, reason: str, n: int = 1, detail: str = "") -> None:
        if n <= 0:
            return
        key = (where, reason)
        if key not in self.counts:
            self.examples[key] = detail
            level = logging.INFO if reason in ROUTINE_REASONS else logging.WARNING
            log.log(level, "%s: %s%s", where, reason.replace("_", " "), f" ({detail})" if detail else "")
        self.counts[key] += n

    def merge(self, other: DropLog) -> None:
        for key, n in other.counts.items():
            if key not in self.counts:
                self.examples[key] = other.examples.get(key, "")
            self.counts[key] += n

    def total(self, reason: str | None = None) -> int:
        return sum(n for (_, r), n in self.counts.items() if reason is None or r == reason)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def as_dict(self) -> list[dict[str, object]]:
        return [
            {"where": w, "reason": r, "count": n, "example": self.examples.get((w, r), "")}
            for (w, r), n in sorted(self.counts.items())
        ]

    def routine_summary(self) -> str:
        """One line: 'filtered as routine: nan range x155103, spike along x812, ...' (all places summed)."""
        by_reason: Counter[str] = Counter()
        for (_, r), n in self.counts.items():
            if r in ROUTINE_REASONS:
                by_reason[r] += n
        if not by_reason:
            return "filtered as routine: nothing"
        return "filtered as routine: " + ", ".join(f"{r.replace('_', ' ')} x{n}" for r, n in by_reason.most_common())

    def summary(self) -> str:
        if not self.counts:
            return "nothing dropped"
        return "\n".join(f"  {w}: {r.replace('_', ' ')} x{n}" for (w, r), n in sorted(self.counts.items()))
