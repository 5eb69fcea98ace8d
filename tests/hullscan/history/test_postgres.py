"""The history on a real PostgreSQL server, started here on a free loopback port (skipped only
where Debian's postgresql package is not installed). As root (CI), the server runs as the
``postgres`` system user: PostgreSQL refuses to run as root."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.cli import main
from hullscan.history.db import HistoryDB, resolve
from hullscan.history.errors import HistoryLockedError, HistorySchemaError
from hullscan.history.record import Visit, last_clean_scan, record_inspection, vessel_history
from tests.hullscan.history.helpers import FOUND, cloud_file, finding, inspection, run_record
from tests.tools import missing_tool


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _bin_dir()
    if bindir is None:
        missing_tool("PostgreSQL", "Debian: apt-get install postgresql; looked in /usr/lib/postgresql/*/bin")
    as_root = os.geteuid() == 0
    # Not under pytest's tmp_path: its parents are root's alone, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="hullscan-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    port = _free_port()
    ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]

    def run(cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{cmd}: {done.stdout[-1500:]} {done.stderr[-1500:]}"

    try:
        run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync"])
        run([*ctl, "-l", str(base / "log"), "-w", "-t", "60", "-o",
             f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -F", "start"])
        try:
            import psycopg

            with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
                c.execute("CREATE DATABASE hullscan")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hullscan"
        finally:
            subprocess.run([*ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_history_on_postgresql(postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = resolve(postgres_url, str(tmp_path / "store"))
    db = HistoryDB.open(target, write=True)  # the schema from empty, by the migrations
    try:
        assert db.revision() == "0001"
        cloud = cloud_file(tmp_path / "cloud.ply")
        rec = record_inspection(db, Visit("9074729", "MV Example", port="Rotterdam"), inspection(finding()), FOUND,
                                run_record(cloud, cleared=True))
        assert rec.kept is not None and rec.kept.path.parent == tmp_path / "store"
        earlier = last_clean_scan(db, "9074729")
        assert earlier is not None and earlier.inspection_id == rec.inspection_id
        v = vessel_history(db, "9074729")
        assert v is not None and v["inspections"][0]["findings"][0]["id"] == "F001"
        # A table locked by another session: refused after the short wait, nothing written.
        import psycopg

        with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as other:
            other.execute("LOCK TABLE inspections IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(HistoryLockedError, match="is locked"):
                record_inspection(db, Visit("9074729"), inspection(), FOUND, run_record(None))
            other.rollback()
        assert len(vessel_history(db, "9074729")["inspections"]) == 1  # type: ignore[index]
    finally:
        db.close()
    assert main(["history", "9074729", "--db", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "MV Example" in out and "Rotterdam" in out and "postgres@127.0.0.1" in out
    # A schema from a newer hullscan is refused by name.
    import psycopg

    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute("UPDATE alembic_version SET version_num = 'f00dfeed0002'")
    with pytest.raises(HistorySchemaError, match="f00dfeed0002"):
        HistoryDB.open(target, write=True)
