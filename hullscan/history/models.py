"""The history database's tables (SQLAlchemy 2 typed ORM).

A vessel (by IMO number) has inspections; an inspection has its findings and, when the hull was
cleared, the clean cloud kept on disk that the vessel's next inspection is compared with. Times
are UTC, stored without a zone (SQLite has none). The schema is created and changed only by the
Alembic migrations in ``migrations/versions`` (applied when the database is opened), which must
match these classes (a test checks it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """The history's declarative base (its metadata is what the migrations build)."""


class Vessel(Base):
    __tablename__ = "vessels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imo: Mapped[str] = mapped_column(String(7), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    flag: Mapped[str | None] = mapped_column(String(100))
    # The reference the hull was last inspected against (design mesh or scan path, or "mirror").
    hull_reference: Mapped[str | None] = mapped_column(String(2000))
    hull_reference_sha256: Mapped[str | None] = mapped_column(String(64))
    created_utc: Mapped[dt.datetime] = mapped_column(DateTime())

    inspections: Mapped[list[InspectionRecord]] = relationship(
        back_populates="vessel", order_by="InspectionRecord.time_utc", cascade="all, delete-orphan")


class InspectionRecord(Base):
    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vessel_id: Mapped[int] = mapped_column(ForeignKey("vessels.id"), index=True)
    time_utc: Mapped[dt.datetime] = mapped_column(DateTime())
    port: Mapped[str | None] = mapped_column(String(200))
    operator: Mapped[str | None] = mapped_column(String(200))
    case_number: Mapped[str | None] = mapped_column(String(200))
    software_version: Mapped[str] = mapped_column(String(50))
    command: Mapped[str] = mapped_column(String(20))  # replay or compare
    # role -> SHA-256 of each input as findings.json lists them (bag or cloud, reference, prior, case).
    input_hashes: Mapped[dict[str, str | None]] = mapped_column(JSON)
    reference_kind: Mapped[str] = mapped_column(String(10))  # mesh, scan or mirror
    reference: Mapped[str | None] = mapped_column(String(2000))
    verdict: Mapped[str] = mapped_column(String(20))  # found, nothing_found, failed
    verdict_text: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int] = mapped_column(Integer)
    cleared_fraction: Mapped[float | None] = mapped_column(Float)  # the coverage: share of wetted hull cleared
    seen_fraction: Mapped[float | None] = mapped_column(Float)
    n_findings: Mapped[int] = mapped_column(Integer)
    # The hull was cleared (nothing found and enough cleared, or --cleared): its cloud is kept.
    cleared: Mapped[bool] = mapped_column(Boolean)
    out_dir: Mapped[str | None] = mapped_column(String(2000))
    # the reference file's own frame <- cloud (4x4), to place this cloud for the vessel's next
    # inspection (the file's frame, not the internal hull frame, which moves with the draft and trim).
    cloud_to_reference: Mapped[list[list[float]] | None] = mapped_column(JSON)
    # The comparison with the vessel's earlier cleared scan: which inspection, and its outcome.
    compared_with_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    history_status: Mapped[str | None] = mapped_column(String(10))  # compared, skipped, none
    history_summary: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[str]] = mapped_column(JSON)

    vessel: Mapped[Vessel] = relationship(back_populates="inspections")
    findings: Mapped[list[FindingRecord]] = relationship(
        back_populates="inspection", order_by="FindingRecord.id", cascade="all, delete-orphan")
    clean_cloud: Mapped[CleanCloud | None] = relationship(back_populates="inspection", cascade="all, delete-orphan")


class FindingRecord(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    finding_id: Mapped[str] = mapped_column(String(20))  # F001 ... as in findings.json
    kind: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(50))
    side: Mapped[str] = mapped_column(String(20))
    # Centroid in the reference file's own frame, as findings.json gives it (m).
    x_m: Mapped[float] = mapped_column(Float)
    y_m: Mapped[float] = mapped_column(Float)
    z_m: Mapped[float] = mapped_column(Float)
    distance_from_stern_m: Mapped[float] = mapped_column(Float)
    depth_m: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    max_height_m: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    risk: Mapped[float] = mapped_column(Float)
    history_status: Mapped[str | None] = mapped_column(String(10))  # new, present, not_seen
    history_text: Mapped[str | None] = mapped_column(String(200))

    inspection: Mapped[InspectionRecord] = relationship(back_populates="findings")


class CleanCloud(Base):
    __tablename__ = "clean_clouds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vessel_id: Mapped[int] = mapped_column(ForeignKey("vessels.id"), index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    path: Mapped[str] = mapped_column(String(2000))  # the copy in the store, absolute
    sha256: Mapped[str] = mapped_column(String(64))
    n_points: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # a whole hull at 2 cm passes 2 GiB
    stored_utc: Mapped[dt.datetime] = mapped_column(DateTime())

    vessel: Mapped[Vessel] = relationship()
    inspection: Mapped[InspectionRecord] = relationship(back_populates="clean_cloud")
