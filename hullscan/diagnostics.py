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

# Drops closer than this are one span (a survey's messages come every 5-50 ms).
GAP_JOIN_NS = 1_000_000_000

# Reasons that mean input was lost or damaged, not filtered by design: any of them makes
# the outputs "partial" (findings.json, report, diagnostics).
DAMAGE_REASONS = frozenset({
    "truncated_or_corrupt", "corrupt_chunk", "corrupt_bytes", "missing_vs_index", "unreadable_index", "missing_metadata_yaml",
    "undecodable_message", "malformed_message", "corrupt_rows", "restore_gap", "checkpoint_unreadable",
})


@dataclass
class DropLog:
    """Counts of dropped or repaired items by ``(where, reason)``.

    ``where`` is a topic, file or stage name; ``reason`` is a short stable key
    such as ``nan_range`` or ``no_pose``. ``examples`` keeps the first detail.
    ``spans`` keeps, for losses of data (not repairs), the time spans lost as
    ``(first_ns, last_ns)`` of the messages concerned, so a report can say which
    part of a survey is missing, not only how much.
    """

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    spans: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def add(self, where: str, reason: str, n: int = 1, detail: str = "",
            span: tuple[int, int] | None = None) -> None:
        if n <= 0:
            return
        key = (where, reason)
        if key not in self.counts:
            self.examples[key] = detail
            level = logging.INFO if reason in ROUTINE_REASONS else logging.WARNING
            log.log(level, "%s: %s%s", where, reason.replace("_", " "), f" ({detail})" if detail else "")
        self.counts[key] += n
        if span is not None:
            self.add_span(key, span)

    def add_span(self, key: tuple[str, str], span: tuple[int, int]) -> None:
        spans = self.spans.setdefault(key, [])
        t0, t1 = int(min(span)), int(max(span))
        # Adjacent drops (one NaN ping after another) extend the last span instead of piling up.
        if spans and spans[-1][0] <= t0 <= spans[-1][1] + GAP_JOIN_NS:
            spans[-1] = (spans[-1][0], max(spans[-1][1], t1))
        else:
            spans.append((t0, t1))

    def merge(self, other: DropLog) -> None:
        for key, n in other.counts.items():
            if key not in self.counts:
                self.examples[key] = other.examples.get(key, "")
            self.counts[key] += n
        for key, spans in getattr(other, "spans", {}).items():
            for span in spans:
                self.add_span(key, span)

    def lost_spans(self) -> list[dict[str, object]]:
        """Every time span lost, one entry per (where, reason, span), in time order (seconds)."""
        out: list[dict[str, object]] = []
        for (w, r), spans in self.spans.items():
            for t0, t1 in spans:
                out.append({"where": w, "reason": r, "start_s": round(t0 * 1e-9, 3), "end_s": round(t1 * 1e-9, 3),
                            "duration_s": round((t1 - t0) * 1e-9, 3)})
        return sorted(out, key=lambda d: (d["start_s"], d["where"]))

    def damaged(self) -> bool:
        """True when input data was lost to damage (not merely filtered): the run is partial."""
        return any(r in DAMAGE_REASONS for (_, r) in self.counts)

    @classmethod
    def from_dicts(cls, rows: list[dict[str, object]]) -> DropLog:
        """The inverse of :meth:`as_dict` (drops carried in a cloud's metadata sidecar)."""
        out = cls()
        for d in rows:
            key = (str(d["where"]), str(d["reason"]))
            out.counts[key] += int(d["count"])  # type: ignore[call-overload]
            out.examples.setdefault(key, str(d.get("example", "")))
            for a, b in d.get("spans_s", []) or []:  # type: ignore[attr-defined]
                out.add_span(key, (round(float(a) * 1e9), round(float(b) * 1e9)))
        return out

    def total(self, reason: str | None = None) -> int:
        return sum(n for (_, r), n in self.counts.items() if reason is None or r == reason)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def as_dict(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for (w, r), n in sorted(self.counts.items()):
            d: dict[str, object] = {"where": w, "reason": r, "count": n, "example": self.examples.get((w, r), "")}
            spans = self.spans.get((w, r))
            if spans:
                d["spans_s"] = [[round(a * 1e-9, 3), round(b * 1e-9, 3)] for a, b in spans]
            out.append(d)
        return out

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
