"""Errors of the inspection history: each one line that names the database or file at fault and
says what to do. Whatever raised one, the history is left as it was (one transaction per run)."""

from __future__ import annotations

from hullscan.errors import HullscanError


class HistoryError(HullscanError):
    """The history database cannot be used as asked (names the database and why)."""


class HistoryLockedError(HistoryError):
    """Another process holds the database (SQLite busy, a PostgreSQL lock) past the short wait."""


class HistoryReadOnlyError(HistoryError):
    """The database (or its file, or the account on the server) does not allow writing."""


class HistorySchemaError(HistoryError):
    """The database's schema revision is unknown to this hullscan (a newer one wrote it)."""


class InvalidIMOError(HistoryError):
    """Not an IMO ship number (7 digits whose last is the IMO check digit)."""
