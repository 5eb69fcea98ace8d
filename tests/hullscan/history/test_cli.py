"""The history's bad input on the command line: one clear line, exit status 1, before any work
(no output folder), and the database untouched."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.cli import main
from hullscan.history.db import HistoryDB, resolve


@pytest.fixture
def db(tmp_path: Path) -> Path:
    HistoryDB.open(resolve(str(tmp_path / "h.db")), write=True).close()
    return tmp_path / "h.db"


@pytest.fixture
def locked(db: Path) -> Iterator[Path]:
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield db
    other.execute("ROLLBACK")
    other.close()


def _newer(db: Path) -> Path:
    with sqlite3.connect(db) as c:
        c.execute("UPDATE alembic_version SET version_num = 'f00dfeed0002'")
    return db


CASES = {
    "bad check digit": (lambda db: str(db), "9074728", "check digit is 8"),
    "not an IMO number": (lambda db: str(db), "12345", "expected 7 digits"),
    "read-only database": (lambda db: f"sqlite:///file:{db}?mode=ro&uri=true", "9074729", "is read-only"),
    "newer schema": (lambda db: str(_newer(db)), "9074729", "schema revision 'f00dfeed0002'"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("command", ["compare", "replay"])
def test_bad_history_input_is_one_line_before_any_work(name: str, command: str, db: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    url, imo, expected = CASES[name]
    caplog.set_level(logging.ERROR)
    rc = main([command, str(tmp_path / "input-never-read"), "--mirror", "--out", str(tmp_path / "out"),
               "--no-progress", "--vessel", imo, "--db", url(db)])
    assert rc == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and expected in errors[0] and "\n" not in errors[0], errors
    assert not (tmp_path / "out").exists()


def test_a_locked_database_is_one_line(locked: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    assert main(["compare", str(tmp_path / "c.ply"), "--mirror", "--out", str(tmp_path / "out"), "--vessel",
                 "9074729", "--db", str(locked)]) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"history database {locked} is locked by another process (waited 2 s); nothing was recorded: run again "
        "when it is free"]


def test_the_case_file_must_name_the_same_vessel(db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    case = tmp_path / "case.yaml"
    case.write_text("imo_number: '9176187'\n")
    assert main(["compare", str(tmp_path / "c.ply"), "--mirror", "--out", str(tmp_path / "out"), "--vessel",
                 "9074729", "--case", str(case), "--db", str(db)]) == 1
    assert "is for IMO 9176187" in caplog.text


def test_history_of_an_unknown_vessel_and_its_help(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "9074729", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == f"no inspection of IMO 9074729 recorded in {db}"
    out = subprocess.run([sys.executable, "-m", "hullscan", "history", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "examples:" in out and "--vessel 9074729" in out and "postgresql+psycopg://" in out
    top = subprocess.run([sys.executable, "-m", "hullscan", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert top.index("replay") < top.index("history") < top.index("evaluate")
