"""Alembic's environment for the history database.

hullscan applies the migrations itself when it opens a database (:mod:`hullscan.history.db`),
handing its connection over in ``config.attributes["connection"]``. From the ``alembic`` command
(developers: ``alembic -c hullscan/history/migrations/alembic.ini -x url=sqlite:///h.db ...``) the
URL comes from ``-x url=`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from hullscan.history.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///history.db ...")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
