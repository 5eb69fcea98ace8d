"""Opening the history database: where it is, its schema (Alembic, applied on open), and its
errors as one line each.

Where: ``--db URL`` (a SQLAlchemy URL, or a plain file path for SQLite), else ``$HULLSCAN_DB``,
else ``$XDG_DATA_HOME/hullscan/history.db`` (``~/.local/share/hullscan/history.db``). A port's
server: ``postgresql+psycopg://user:password@host/dbname``. The clean clouds are copied to a
store folder: ``$HULLSCAN_STORE``, else ``clean-clouds/`` next to a SQLite file, else
``clean-clouds/`` in the default data folder (a shared path for a server, see docs/history.md).

Opening refuses a database whose schema revision this hullscan does not know (a newer one wrote
it: migrating it back could lose what that version keeps), and brings an older one up to date.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from hullscan._version import __version__
from hullscan.history.errors import (
    HistoryError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistorySchemaError,
)

log = logging.getLogger("hullscan.history")

DB_ENV = "HULLSCAN_DB"
STORE_ENV = "HULLSCAN_STORE"
# A busy database is waited for this long, then refused: another inspection writing holds it for
# well under a second, and a command must not hang behind a stuck process.
BUSY_TIMEOUT_S = 2.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Target:
    """Which database, where its clean clouds go, and how messages name it (no password)."""

    url: URL
    store: Path
    label: str

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite file (None for a server, or an in-memory database)."""
        if self.url.get_backend_name() != "sqlite" or not self.url.database or self.url.database == ":memory:":
            return None
        db = self.url.database
        return Path(db.removeprefix("file:")) if self.url.query.get("uri") else Path(db)


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/hullscan``, or ``~/.local/share/hullscan``."""
    e = os.environ if env is None else env
    base = e.get("XDG_DATA_HOME") or str(Path(e.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "hullscan"


def resolve(db: str | None = None, store: str | None = None, env: Mapping[str, str] | None = None) -> Target:
    """The database of ``--db`` / ``$HULLSCAN_DB`` / the default, and its store folder."""
    e = os.environ if env is None else env
    spec = db or e.get(DB_ENV) or str(data_home(e) / "history.db")
    if "://" in spec:
        try:
            url = make_url(spec)
            url.get_dialect()  # an unknown database kind is named now, not at the first query
        except ArgumentError as err:
            raise HistoryError(f"history database {spec!r}: not a database URL ({err}); give e.g. "
                               "sqlite:///history.db or postgresql+psycopg://user@host/hullscan") from err
    else:  # a plain path: a SQLite file
        url = URL.create("sqlite", database=str(Path(spec).expanduser().resolve()))
    label = url.render_as_string(hide_password=True)
    target = Target(url, Path(), label)
    sqlite = target.sqlite_file
    if sqlite is not None:
        label = str(sqlite)
    store_dir = store or e.get(STORE_ENV)
    folder = (Path(store_dir) if store_dir else
              (sqlite.parent if sqlite is not None else data_home(e)) / "clean-clouds")
    return Target(url, folder.expanduser().resolve(), label)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The schema revision this hullscan writes."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "hullscan ships its migrations"
    return head


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def translate(err: SQLAlchemyError, label: str) -> HistoryError:
    """A database error as the one line the user reads (locked, read-only, cannot connect ...)."""
    msg = _first_line(err)
    low = msg.lower()
    if "locked" in low or "lock timeout" in low:
        return HistoryLockedError(f"history database {label} is locked by another process (waited "
                                  f"{BUSY_TIMEOUT_S:g} s); nothing was recorded: run again when it is free")
    if "readonly" in low or "read-only" in low or "read only" in low or "permission denied" in low:
        return HistoryReadOnlyError(f"history database {label} is read-only ({msg}); nothing was recorded: "
                                    "give a writable --db, or fix the file's or the account's rights")
    if "unable to open" in low:
        return HistoryError(f"cannot open history database {label} ({msg}): does its folder exist, "
                            "and may this user write there?")
    if (isinstance(err, DBAPIError) and err.connection_invalidated) or "connect" in low:
        return HistoryError(f"cannot connect to history database {label}: {msg}")
    return HistoryError(f"history database {label}: {msg}")


@contextmanager
def translated(label: str) -> Iterator[None]:
    """Database errors inside become :func:`translate`'s one-line HistoryError."""
    try:
        yield
    except SQLAlchemyError as err:
        raise translate(err, label) from err


def _engine(target: Target) -> Engine:
    if target.url.get_backend_name() == "sqlite":
        # sqlite3's own busy wait. (A URL sqlite:///file:PATH?mode=ro&uri=true opens it read-only.)
        engine = create_engine(target.url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            # SQLite checks foreign keys only when asked, per connection.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A server: give up connecting or waiting for a lock as a SQLite file would.
    ms = int(BUSY_TIMEOUT_S * 1000)
    try:
        return create_engine(target.url, pool_pre_ping=True,
                             connect_args={"connect_timeout": 5, "options": f"-c lock_timeout={ms}"})
    except ImportError as err:
        raise HistoryError(f"history database {target.label}: its driver is not installed ({err}); for "
                           "PostgreSQL: pip install 'hullscan[postgres]' (psycopg 3)") from err


@dataclass(frozen=True, eq=False)
class HistoryDB:
    """An open history database whose schema is this hullscan's."""

    target: Target
    engine: Engine

    @classmethod
    def open(cls, target: Target, *, write: bool) -> HistoryDB:
        """Open (create a SQLite file if ``write``), refuse a newer schema, migrate an older one;
        with ``write``, check now that it can be written (before a long inspection, not after)."""
        sqlite = target.sqlite_file
        if sqlite is not None and not sqlite.exists():
            if not write:
                raise HistoryError(f"no history database at {sqlite} (nothing recorded yet: "
                                   "replay/compare --vessel IMO records inspections)")
            sqlite.parent.mkdir(parents=True, exist_ok=True)
        engine = _engine(target)
        db = cls(target, engine)
        try:
            with translated(target.label):
                db._migrate()
                if write:
                    db._probe_write()
        except BaseException:
            engine.dispose()
            raise
        return db

    def _migrate(self) -> None:
        cfg = _alembic_config()
        script = ScriptDirectory.from_config(cfg)
        with self.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        for rev in sorted(current):
            try:
                known = script.get_revision(rev) is not None
            except CommandError:
                known = False
            if not known:
                raise HistorySchemaError(
                    f"history database {self.target.label} has schema revision {rev!r}, which hullscan "
                    f"{__version__} does not know (it knows up to {head_revision()!r}): a newer hullscan wrote "
                    "it; use that version, or another --db")
        if current == set(script.get_heads()):
            return
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("history database %s: schema %s", self.target.label,
                 "created" if not current else f"upgraded from {', '.join(sorted(current))} to {head_revision()}")

    def _probe_write(self) -> None:
        # A write that changes nothing, rolled back: a read-only file, a read-only account or a
        # lock shows now, not after the inspection ran.
        with self.engine.connect() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            conn.rollback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error (nothing half written)."""
        with translated(self.target.label), Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def revision(self) -> str | None:
        with translated(self.target.label), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()
