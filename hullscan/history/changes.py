"""What is new since the vessel's last cleared inspection.

After the comparison with the reference (design mesh, scan or mirror), the same cloud is compared
with the cloud kept from the vessel's last cleared inspection, that scan as the reference (the
comparator's "earlier scan" kind). Each finding of today is then placed on that scan:

* where the earlier scan differs from today's cloud by a compartment's worth (see :func:`differs_enough`):
  **new since** DATE;
* on surface the earlier scan saw (cleared for a compartment of the finding's height) and this cloud
  matches, or differs from only at the edge of what was there then: **present since** DATE;
* where the earlier scan did not see, or saw at a few points only, or was not cleared for a
  compartment of the finding's height: **not seen** on DATE (no statement either way).

The earlier scan is placed from the two inspections' registrations when both used the same
reference file (then only refined), else found by global registration. A missing, changed or
unusable earlier scan skips this comparison: the reason is in the notes and the inspection is
still recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hullscan.cloud_io import load_cloud
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import Inspection, attempt_inspection
from hullscan.compare.kinds import ScanSource
from hullscan.compare.prior import PriorSigma
from hullscan.errors import HullscanError
from hullscan.model import (
    Finding,
    FindingHistory,
    HistoryComparison,
    HistoryStatus,
    HullCloud,
    Transform,
)
from hullscan.report.outputs import sha256_file

log = logging.getLogger("hullscan.history")

# How far the earlier scan, placed through the two visits' registrations to the same reference file,
# may be off: across and in heading little (both fits hold the sides), but along a ship whose
# surveyed part has a parallel midbody each registration can be metres off (its reported along-ship
# range), while the two clouds share features (anodes, fittings, an old compartment) that fix it.
CHANGE_SIGMA = PriorSigma(along_m=5.0, across_m=0.5, vertical_m=0.3, heading_deg=2.0)

# How far (m) around the earlier comparison's finding boxes a finding of today counts as in them:
# the two placements differ by the drift corrections (centimetres) and a box's edge is a cell.
MATCH_MARGIN_M = 0.3

# How much of a finding of today must differ from the earlier scan for it to be new. An object that
# was there then differs only at its edges: where a featureless midbody leaves the position along the
# ship to dead reckoning, the two visits place it up to their along-ship uncertainty apart (decimetres),
# and the difference is a sliver of the object (a 0.21 m3 box: 0.006 m3). A new compartment differs by
# all of itself, and one added to an old object by its own volume: 0.01 m3 is the smallest class the
# comparator is held to (recall 0.9 at 0.01 m3).
NEW_MIN_VOLUME_M3 = 0.01
NEW_MIN_SHARE = 1.0 / 3.0

# Where the earlier scan saw the surface at a few points only (the fringe of a lane, part of an
# object), today's cloud differs from its gaps, not from what was there: a difference there says
# nothing either way. A scan that saw the plating fills about the whole disc around a difference (one
# sample per 5 cm cell); it counts as seen where it fills half, the majority rule of coverage.
SUPPORT_RADIUS_M = 0.5
MIN_SUPPORT = 0.5


@dataclass(frozen=True)
class EarlierScan:
    """The cloud kept from the vessel's last cleared inspection."""

    inspection_id: int
    time_utc: dt.datetime
    path: Path
    sha256: str
    reference_sha256: str | None  # the reference that inspection was made against
    cloud_to_reference: Transform | None  # the reference file's own frame <- that cloud

    @property
    def date(self) -> str:
        return self.time_utc.date().isoformat()


def history_text(status: HistoryStatus, date: str, edge_m3: float = 0.0, sparse: bool = False) -> str:
    if status == "present" and edge_m3 > 0:
        return f"present since {date} (that scan differs by {edge_m3:.3f} m3 at its edge)"
    if status == "not_seen" and sparse:
        return f"not seen on {date} (the earlier scan saw this place at a few points only)"
    return {"new": f"new since {date}", "present": f"present since {date}",
            "not_seen": f"not seen on {date} (the earlier scan did not cover it)"}[status]


def differs_enough(finding: Finding, differs_m3: float) -> bool:
    """Whether ``differs_m3`` of the earlier scan's differences at ``finding`` make it new: a
    compartment's worth, or a third of the finding (a small new one differs by all of itself)."""
    return differs_m3 >= min(NEW_MIN_VOLUME_M3, NEW_MIN_SHARE * finding.volume_m3)


def _to_earlier(ins: Inspection, hist: Inspection, points: np.ndarray) -> np.ndarray:
    """Points of today's reference frame in the earlier scan's frame, through today's cloud."""
    assert ins.cloud_to_ref is not None and hist.cloud_to_ref is not None
    return hist.cloud_to_ref.apply(ins.cloud_to_ref.inverse().apply(points))


def _in_box(p: np.ndarray, f: Finding, margin: float) -> bool:
    return bool(np.all(p >= np.array(f.bbox_min) - margin) and np.all(p <= np.array(f.bbox_max) + margin))


def _seen_densely(hist: Inspection, difference: Finding) -> bool:
    """Whether the earlier scan (``hist``'s reference) saw the place of one of its differences densely."""
    ref = hist.reference
    return ref is None or ref.filled_share(np.array(difference.centroid, float), SUPPORT_RADIUS_M) >= MIN_SUPPORT


def mark_findings(ins: Inspection, hist: Inspection, date: str) -> tuple[tuple[Finding, ...], int, int]:
    """Today's findings marked new / present / not seen against ``hist`` (today's cloud compared with
    the earlier scan), and how many of ``hist``'s differences none of them explains: where the earlier
    scan saw densely (for the analyst to check), and where it saw a few points only (its gaps)."""
    if not ins.findings:
        return (), *_unexplained(hist, set())
    centroids = _to_earlier(ins, hist, np.array([f.centroid for f in ins.findings], float))
    marked = []
    explained: set[str] = set()
    for f, p in zip(ins.findings, centroids, strict=True):
        hits = [h for h in hist.findings if _in_box(p, h, MATCH_MARGIN_M)]
        explained.update(h.id for h in hits)
        seen = [h for h in hits if _seen_densely(hist, h)]
        differs = sum(h.volume_m3 for h in seen)
        sparse = bool(hits) and not seen
        # A compartment's worth of difference from the earlier scan where that scan saw densely: new.
        # Differences only where it saw a few points: not seen. A sliver at its edge: the earlier
        # scan has the rest, so it was there then. No difference where the earlier scan was cleared for
        # a compartment of this one's height: it matched today's cloud, and whatever is flagged was there.
        status: HistoryStatus = (
            "not_seen" if sparse else "new" if seen and differs_enough(f, differs) else
            "present" if hits or hist.status_at(p, MATCH_MARGIN_M, height=f.max_height_m) == "clear" else "not_seen")
        text = history_text(status, date, differs if hits else 0.0, sparse)
        marked.append(replace(f, history=FindingHistory(status, date, text)))
    return tuple(marked), *_unexplained(hist, explained)


def _unexplained(hist: Inspection, explained: set[str]) -> tuple[int, int]:
    """Differences from the earlier scan no finding of today explains: (where it saw densely, thinly)."""
    dense = [_seen_densely(hist, h) for h in hist.findings if h.id not in explained]
    return sum(dense), len(dense) - sum(dense)


def summary_sentence(earlier: EarlierScan, findings: tuple[Finding, ...], unexplained: int, thin: int = 0) -> str:
    """The report's sentence: what is new since the earlier cleared inspection."""
    d = earlier.date
    count = {s: sum(f.history is not None and f.history.status == s for f in findings)
             for s in ("new", "present", "not_seen")}
    head = f"Compared with the cleared scan of {d} (inspection #{earlier.inspection_id}): "
    if not findings:
        body = "no finding today"
    else:
        parts = [f"{count['new']} finding{'s' * (count['new'] != 1)} new since {d}",
                 f"{count['present']} present since {d}"]
        if count["not_seen"]:
            parts.append(f"{count['not_seen']} where that scan did not see")
        body = ", ".join(parts)
    tail = (f"; {unexplained} other difference{'s' * (unexplained != 1)} from that scan where it saw densely (not "
            "among today's findings: check the cloud)" if unexplained else "")
    if thin:  # differences from the earlier scan's gaps: said, but nothing to act on
        tail += (f"; {thin} more where that scan saw a few points only (its gaps, not changes)" if unexplained else
                 f"; {thin} other difference{'s' * (thin != 1)} from that scan, where it saw a few points only "
                 "(its gaps, not changes)")
    return head + body + tail + "."


@dataclass(frozen=True)
class ChangeCheck:
    """The :data:`hullscan.inspection.Amend` step: today's comparison, then the one with the earlier
    scan; the findings marked and ``ins.history`` set before the report is written."""

    imo: str
    earlier: EarlierScan | None
    config: CompareConfig
    reference_sha256: str | None  # today's reference file, to reuse the earlier placement
    progress: Callable[[str], None] | None = None

    def __call__(self, ins: Inspection, cloud: HullCloud) -> None:
        e = self.earlier
        if e is None:
            ins.history = HistoryComparison(self.imo, "none", f"No earlier cleared scan of IMO {self.imo} in the "
                                            "history: nothing to compare with; every finding is as found today.")
            return
        try:
            scan = self._load(e)
            hist = self._compare(ins, cloud, scan, e)
        except HullscanError as err:
            self._skip(ins, e, str(err))
            return
        ins.findings, unexplained, thin = mark_findings(ins, hist, e.date)
        summary = summary_sentence(e, ins.findings, unexplained, thin)
        n = {s: sum(f.history is not None and f.history.status == s for f in ins.findings)
             for s in ("new", "present", "not_seen")}
        ins.history = HistoryComparison(self.imo, "compared", summary, e.inspection_id, e.date, str(e.path), e.sha256,
                                        hist.alignment_residual_m, n["new"], n["present"], n["not_seen"], unexplained,
                                        thin)
        ins.notes.append(summary)

    def _load(self, e: EarlierScan) -> HullCloud:
        if not e.path.is_file():
            raise HullscanError(f"the cleared scan of {e.date} (inspection #{e.inspection_id}) is missing from "
                                f"disk: {e.path}")
        if sha256_file(e.path) != e.sha256:
            raise HullscanError(f"the cleared scan of {e.date} (inspection #{e.inspection_id}) has changed on "
                                f"disk since it was stored (SHA-256 differs): {e.path}")
        return load_cloud(e.path)

    def _compare(self, ins: Inspection, cloud: HullCloud, scan: HullCloud, e: EarlierScan) -> Inspection:
        if self.progress is not None:
            self.progress(f"history: comparing with the cleared scan of {e.date}")
        placed = self._in_todays_hull_frame(ins, scan, e)
        hist = None
        if placed is not None:
            # The earlier scan in today's hull frame, today's cloud placed by today's registration:
            # the search along the ship runs along the ship (a scan left in its own navigation
            # frame would be searched along east), and only the two fits' errors are left to find.
            scan_hull, cloud_to_hull = placed
            hist = attempt_inspection(cloud, ScanSource(scan_hull), self.config, hull_to_nav=cloud_to_hull.inverse(),
                                      sigma=CHANGE_SIGMA, progress=self.progress)
            hist = self._nearest_of_ties(hist, cloud, scan_hull)
            if hist.failure is not None:
                log.info("history: the earlier placement did not hold (%s); registering globally", hist.failure)
        if hist is None or hist.failure is not None:
            hist = attempt_inspection(cloud, ScanSource(scan), self.config, progress=self.progress)
        if hist.failure is not None or hist.cloud_to_ref is None or ins.cloud_to_ref is None:
            raise HullscanError(f"today's cloud could not be compared with the cleared scan of {e.date} "
                                f"({e.path}): {hist.error or 'not registered'}")
        log.info("history: differences from the cleared scan of %s: %s", e.date,
                 ", ".join(f"{h.id} {h.volume_m3:.3f} m3 at {tuple(round(c, 2) for c in h.centroid)}"
                           for h in hist.findings) or "none")
        return hist

    def _nearest_of_ties(self, hist: Inspection, cloud: HullCloud, scan_hull: HullCloud) -> Inspection:
        """Where the two clouds fit as well at several places along the ship (a featureless midbody),
        the one nearest the two registrations' placement, not the one a hair's cost lower metres away:
        that placement was fixed by the design hull's fittings, and the objects both visits saw pull
        the nearest fit onto them. Refined there (an exact prior: the search is not run again)."""
        reg = None if hist.alignment is None else hist.alignment.registration
        if hist.failure is not None or reg is None or not reg.alternatives:
            return hist
        nearest = min((reg.best, *reg.alternatives), key=lambda h: np.hypot(h.offset_along_m, h.offset_across_m))
        if nearest is reg.best:
            return hist
        log.info("history: the clouds fit as well %+.1f m and %+.1f m along the ship from the two registrations' "
                 "placement; taking the nearer", reg.best.offset_along_m, nearest.offset_along_m)
        near = attempt_inspection(cloud, ScanSource(scan_hull), self.config, hull_to_nav=nearest.transform.inverse(),
                                  progress=self.progress)
        return hist if near.failure is not None else near

    def _in_todays_hull_frame(self, ins: Inspection, scan: HullCloud, e: EarlierScan
                              ) -> tuple[HullCloud, Transform] | None:
        """The earlier cloud in today's internal hull frame and today's cloud -> that frame, through
        the reference file both visits were registered to (its own frame: the two internal hull
        frames differ by the drafts and trims); None when they were not registered to the same file."""
        same = self.reference_sha256 is not None and self.reference_sha256 == e.reference_sha256
        if not same or ins.cloud_to_ref is None or e.cloud_to_reference is None or ins.reference_kind == "mirror":
            return None
        file_to_hull = Transform() if ins.ref_from_hull is None else ins.ref_from_hull.inverse()
        return scan.transformed(file_to_hull @ e.cloud_to_reference, "hull"), ins.cloud_to_ref

    def _skip(self, ins: Inspection, e: EarlierScan, why: str) -> None:
        summary = f"Not compared with the vessel's history: {why}; findings are as found today."
        log.warning("history: %s; the comparison with history is skipped (the inspection is still recorded)", why)
        ins.history = HistoryComparison(self.imo, "skipped", summary, e.inspection_id, e.date, str(e.path), e.sha256)
        ins.notes.append(summary)
