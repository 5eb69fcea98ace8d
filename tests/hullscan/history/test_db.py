"""The history database on SQLite: schema from empty, round trips, and the bad databases
(locked, read-only, newer schema), each one line and nothing half written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hullscan.history.db import BUSY_TIMEOUT_S, HistoryDB, head_revision, resolve
from hullscan.history.errors import (
    HistoryError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistorySchemaError,
)
from hullscan.history.models import Base
from hullscan.history.record import Visit, last_clean_scan, record_inspection, vessel_history
from tests.hullscan.history.helpers import CLEAN, FOUND, cloud_file, finding, inspection, run_record

VISIT = Visit("9074729", "MV Example", "PA", "Rotterdam", "J. Smit", "C-1")


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as c:
        return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    handle = HistoryDB.open(resolve(str(tmp_path / "h.db")), write=True)
    yield handle
    handle.close()


def test_the_schema_is_built_from_empty_and_matches_the_models(db: HistoryDB, tmp_path: Path) -> None:
    assert db.revision() == head_revision() == "0001"
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    # Opening again changes nothing.
    HistoryDB.open(resolve(str(tmp_path / "h.db")), write=True).close()
    assert db.revision() == "0001"


def test_where_the_database_and_its_store_are(tmp_path: Path) -> None:
    t = resolve(None, env={"HOME": str(tmp_path)})
    assert t.sqlite_file == tmp_path / ".local/share/hullscan/history.db"
    assert t.store == tmp_path / ".local/share/hullscan/clean-clouds"
    t = resolve(None, env={"HULLSCAN_DB": str(tmp_path / "x.db"), "HULLSCAN_STORE": str(tmp_path / "s")})
    assert t.sqlite_file == tmp_path / "x.db" and t.store == tmp_path / "s"
    t = resolve("postgresql+psycopg://inspect:secret@db.port/hullscan", env={"HOME": str(tmp_path)})
    assert "secret" not in t.label and t.sqlite_file is None
    assert t.store == tmp_path / ".local/share/hullscan/clean-clouds"
    with pytest.raises(HistoryError, match="not a database URL"):
        resolve("nonsense://")


def test_an_inspection_round_trips(db: HistoryDB, tmp_path: Path) -> None:
    cloud = cloud_file(tmp_path / "cloud.ply")
    rec = record_inspection(db, VISIT, inspection(finding()), FOUND, run_record(cloud, cleared=True))
    assert rec.kept is not None and rec.kept.path.parent == tmp_path / "clean-clouds" and rec.kept.path.is_file()
    earlier = last_clean_scan(db, "9074729")
    assert earlier is not None and earlier.inspection_id == rec.inspection_id and earlier.path == rec.kept.path
    assert earlier.reference_sha256 == "cd" * 32 and earlier.cloud_to_reference is not None
    assert earlier.cloud_to_reference.almost_equal(inspection().cloud_to_ref, 1e-9)  # type: ignore[arg-type]
    # A second visit that found something and was not cleared keeps nothing; the last clean scan stays.
    record_inspection(db, Visit("9074729", port="Antwerp"), inspection(finding(), finding("F002", 30.0)), FOUND,
                      run_record(cloud))
    v = vessel_history(db, "9074729")
    assert v is not None and v["name"] == "MV Example" and v["flag"] == "PA"
    assert [i["port"] for i in v["inspections"]] == ["Rotterdam", "Antwerp"]
    first, second = v["inspections"]
    assert first["cleared"] and first["clean_cloud"]["on_disk"] and first["case_number"] == "C-1"
    assert first["findings"][0]["id"] == "F001" and first["input_hashes"]["cloud"] == "ab" * 32
    assert not second["cleared"] and second["clean_cloud"] is None and second["n_findings"] == 2
    assert last_clean_scan(db, "9074729").inspection_id == rec.inspection_id  # type: ignore[union-attr]
    assert vessel_history(db, "9176187") is None and last_clean_scan(db, "9176187") is None


def test_a_clean_hull_keeps_its_cloud_without_being_told(db: HistoryDB, tmp_path: Path) -> None:
    rec = record_inspection(db, VISIT, inspection(), CLEAN, run_record(cloud_file(tmp_path / "c.ply")))
    assert rec.kept is not None


def test_a_newer_schema_is_refused_by_name(tmp_path: Path) -> None:
    HistoryDB.open(resolve(str(tmp_path / "h.db")), write=True).close()
    with sqlite3.connect(tmp_path / "h.db") as c:
        c.execute("UPDATE alembic_version SET version_num = 'f00dfeed0002'")
    for write in (True, False):
        with pytest.raises(HistorySchemaError, match=r"schema revision 'f00dfeed0002'.*newer hullscan"):
            HistoryDB.open(resolve(str(tmp_path / "h.db")), write=write)
    with sqlite3.connect(tmp_path / "h.db") as c:  # left as it was
        assert c.execute("SELECT version_num FROM alembic_version").fetchall() == [("f00dfeed0002",)]


def test_a_locked_database_is_refused_after_a_short_wait_and_nothing_is_written(db: HistoryDB,
                                                                                tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process in the middle of writing
        with pytest.raises(HistoryLockedError, match=f"{path} is locked.*waited {BUSY_TIMEOUT_S:g} s"):
            record_inspection(db, VISIT, inspection(finding()), FOUND, run_record(None))
        with pytest.raises(HistoryLockedError):
            HistoryDB.open(resolve(str(path)), write=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _count(path, "inspections") == _count(path, "vessels") == _count(path, "findings") == 0


def test_a_read_only_database_is_refused_before_the_run_and_can_still_be_listed(db: HistoryDB,
                                                                                tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    record_inspection(db, VISIT, inspection(finding()), FOUND, run_record(None))
    # mode=ro: read-only even for root (who writes files whatever their mode).
    ro = resolve(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(HistoryReadOnlyError, match=r"read-only.*nothing was recorded"):
        HistoryDB.open(ro, write=True)
    reader = HistoryDB.open(ro, write=False)
    try:
        assert len(vessel_history(reader, "9074729")["inspections"]) == 1  # type: ignore[index]
    finally:
        reader.close()


def test_a_write_that_fails_midway_leaves_nothing(db: HistoryDB, tmp_path: Path) -> None:
    bad = finding()
    object.__setattr__(bad, "kind", None)  # NOT NULL: the findings insert fails after the inspection's
    with pytest.raises(HistoryError):
        record_inspection(db, VISIT, inspection(finding("F000"), bad), FOUND, run_record(None))
    path = tmp_path / "h.db"
    assert _count(path, "inspections") == _count(path, "vessels") == _count(path, "findings") == 0


def test_listing_a_database_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no history database at"):
        HistoryDB.open(resolve(str(tmp_path / "none.db")), write=False)
    assert not (tmp_path / "none.db").exists()
