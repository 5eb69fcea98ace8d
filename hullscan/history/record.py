"""Reading and writing the history: the vessel's last cleared scan, an inspection recorded (in one
transaction), and a vessel's inspections listed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hullscan._version import __version__
from hullscan.compare.inspect import Inspection
from hullscan.history.changes import EarlierScan
from hullscan.history.db import HistoryDB
from hullscan.history.models import CleanCloud, FindingRecord, InspectionRecord, Vessel
from hullscan.history.store import StoredCloud, keep_cloud
from hullscan.model import Transform
from hullscan.report.verdict import EXIT_CLEAN, Verdict


@dataclass(frozen=True)
class Visit:
    """Who inspected which vessel, where (``--vessel`` and its companions, or the case file)."""

    imo: str
    vessel_name: str | None = None
    flag: str | None = None
    port: str | None = None
    operator: str | None = None
    case_number: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """What the run was and produced, beyond the Inspection: for the inspection's row."""

    command: str  # replay or compare
    input_hashes: Mapping[str, str | None]  # role -> SHA-256, as findings.json lists them
    reference: str | None  # the reference as given; None: mirror
    out_dir: str
    cloud: str | None  # the hull cloud judged (kept when the hull is cleared)
    cleared_by_operator: bool = False  # --cleared: the findings were checked and are benign


@dataclass(frozen=True)
class Recorded:
    inspection_id: int
    time_utc: dt.datetime
    kept: StoredCloud | None  # the cloud kept as the vessel's clean scan, if the hull was cleared


def utc_now() -> dt.datetime:
    """Now, UTC, without a zone (as the database keeps times), to the second."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def last_clean_scan(db: HistoryDB, imo: str) -> EarlierScan | None:
    """The cloud kept from the vessel's most recent cleared inspection, if any."""
    with db.session() as s:
        row = s.execute(
            select(CleanCloud, InspectionRecord)
            .join(InspectionRecord, CleanCloud.inspection_id == InspectionRecord.id)
            .join(Vessel, CleanCloud.vessel_id == Vessel.id)
            .where(Vessel.imo == imo)
            .order_by(InspectionRecord.time_utc.desc(), InspectionRecord.id.desc())
            .limit(1)).first()
        if row is None:
            return None
        cloud, ins = row
        ref_sha = ins.input_hashes.get("reference")
        matrix = ins.cloud_to_reference
        return EarlierScan(ins.id, ins.time_utc, Path(cloud.path), cloud.sha256, ref_sha,
                           None if matrix is None else Transform.from_matrix(matrix))


def _vessel(s: Session, visit: Visit, reference: str | None, reference_sha: str | None, now: dt.datetime) -> Vessel:
    v = s.execute(select(Vessel).where(Vessel.imo == visit.imo)).scalar_one_or_none()
    if v is None:
        v = Vessel(imo=visit.imo, created_utc=now)
        s.add(v)
    # What this visit says about the vessel replaces what an earlier one said; nothing given keeps it.
    v.name = visit.vessel_name or v.name
    v.flag = visit.flag or v.flag
    v.hull_reference = reference or "mirror"
    v.hull_reference_sha256 = reference_sha
    return v


def _finding_rows(ins: Inspection) -> list[FindingRecord]:
    rows = []
    for f in ins.findings:
        c = ins.to_user(f.centroid)
        h = f.history
        rows.append(FindingRecord(
            finding_id=f.id, kind=f.kind, region=f.region, side=f.side, x_m=float(c[0]), y_m=float(c[1]),
            z_m=float(c[2]), distance_from_stern_m=float(f.distance_from_stern_m), depth_m=float(f.depth_m),
            volume_m3=float(f.volume_m3), max_height_m=float(f.max_height_m), confidence=float(f.confidence),
            risk=float(f.risk), history_status=None if h is None else h.status,
            history_text=None if h is None else h.text))
    return rows


def record_inspection(db: HistoryDB, visit: Visit, ins: Inspection, verdict: Verdict, run: RunRecord) -> Recorded:
    """The inspection, its findings and (a cleared hull) its kept cloud, in one transaction: on any
    error nothing is recorded (a cloud already copied to the store stays there unreferenced, and is
    reused by name the next time)."""
    now = utc_now()
    cov = ins.coverage
    cleared = (ins.status == "complete" and run.cloud is not None
               and (verdict.exit_code == EXIT_CLEAN or run.cleared_by_operator))
    # The copy first: a database row never names a cloud that is not in the store.
    kept = keep_cloud(run.cloud, db.target.store) if cleared and run.cloud is not None else None
    hist = ins.history
    ref_sha = run.input_hashes.get("reference")
    with db.session() as s:
        vessel = _vessel(s, visit, run.reference, ref_sha, now)
        row = InspectionRecord(
            vessel=vessel, time_utc=now, port=visit.port, operator=visit.operator, case_number=visit.case_number,
            software_version=__version__, command=run.command, input_hashes=dict(run.input_hashes),
            reference_kind=ins.reference_kind, reference=run.reference, verdict=verdict.kind,
            verdict_text=verdict.text, exit_code=verdict.exit_code,
            cleared_fraction=None if cov is None else float(cov.fraction),
            seen_fraction=None if cov is None else float(cov.seen_fraction),
            n_findings=len(ins.findings), cleared=kept is not None, out_dir=run.out_dir,
            cloud_to_reference=_cloud_to_file(ins),
            compared_with_id=None if hist is None else hist.earlier_inspection,
            history_status=None if hist is None else hist.status,
            history_summary=None if hist is None else hist.summary, notes=list(ins.notes))
        row.findings = _finding_rows(ins)
        if kept is not None:
            row.clean_cloud = CleanCloud(vessel=vessel, path=str(kept.path), sha256=kept.sha256,
                                         n_points=int(ins.n_cloud_points), size_bytes=kept.size_bytes, stored_utc=now)
        s.add(row)
        s.flush()
        return Recorded(row.id, now, kept)


def vessel_history(db: HistoryDB, imo: str) -> dict[str, Any] | None:
    """The vessel and its inspections (oldest first, with findings) as plain data; None: unknown."""
    with db.session() as s:
        v = s.execute(select(Vessel).where(Vessel.imo == imo).options(
            selectinload(Vessel.inspections).selectinload(InspectionRecord.findings),
            selectinload(Vessel.inspections).selectinload(InspectionRecord.clean_cloud))).scalar_one_or_none()
        if v is None:
            return None
        return {
            "imo": v.imo, "name": v.name, "flag": v.flag, "hull_reference": v.hull_reference,
            "hull_reference_sha256": v.hull_reference_sha256,
            "inspections": [_inspection_dict(i) for i in v.inspections],
        }


def _inspection_dict(i: InspectionRecord) -> dict[str, Any]:
    cc = i.clean_cloud
    return {
        "id": i.id, "time_utc": i.time_utc.isoformat(timespec="seconds") + "Z", "port": i.port,
        "operator": i.operator, "case_number": i.case_number, "software_version": i.software_version,
        "command": i.command, "input_hashes": i.input_hashes, "reference_kind": i.reference_kind,
        "reference": i.reference, "verdict": i.verdict, "verdict_text": i.verdict_text, "exit_code": i.exit_code,
        "cleared_fraction": i.cleared_fraction, "seen_fraction": i.seen_fraction, "n_findings": i.n_findings,
        "cleared": i.cleared, "out_dir": i.out_dir, "compared_with": i.compared_with_id,
        "history_status": i.history_status, "history_summary": i.history_summary, "notes": i.notes,
        "clean_cloud": None if cc is None else {
            "path": cc.path, "sha256": cc.sha256, "n_points": cc.n_points, "bytes": cc.size_bytes,
            "on_disk": Path(cc.path).is_file()},
        "findings": [{
            "id": f.finding_id, "kind": f.kind, "region": f.region, "side": f.side,
            "centroid": [f.x_m, f.y_m, f.z_m], "distance_from_stern_m": f.distance_from_stern_m,
            "depth_m": f.depth_m, "volume_m3": f.volume_m3, "max_height_m": f.max_height_m,
            "confidence": f.confidence, "risk": f.risk, "history": f.history_status,
            "history_text": f.history_text} for f in i.findings],
    }


def _cloud_to_file(ins: Inspection) -> list[list[float]] | None:
    """The reference file's own frame <- the cloud (4x4): the file's frame does not move with the
    draft or trim, as the internal hull frame does, so the next visit can place this cloud."""
    if ins.cloud_to_ref is None:
        return None
    tf = ins.cloud_to_ref if ins.ref_from_hull is None else ins.ref_from_hull @ ins.cloud_to_ref
    return tf.as_matrix().tolist()
