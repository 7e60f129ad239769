"""Engines and schema migrations (Alembic, configured in code so it works when installed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:  # Alembic is imported only when migrating: it logs on import
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def make_engine(db_url: str, *, pooled: bool = True) -> Engine:
    """A 2.0-style (`future=True`) engine; SQLite files get their folder, FKs and a busy wait.
    SQL parameters are hidden from error messages and echo (`hide_parameters`): a failing
    statement never puts a number, a name or an ID into a log line."""
    url = make_url(db_url)
    kwargs: dict = {"future": True, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        kwargs["pool_pre_ping"] = True
    if not pooled:
        kwargs["poolclass"] = NullPool
    engine = create_engine(db_url, **kwargs)
    event.listen(engine, "handle_error", _scrub_error)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


# A value the database quotes back in its own message: `... for type integer: "abc"`.
_QUOTED_VALUE = re.compile(r':\s*"[^"]*"\s*$')


def _scrub_message(message: str) -> str:
    """The database's own message without the values it quotes: PostgreSQL adds
    `DETAIL: Key (msisdn)=(0901...) already exists.` / `Failing row contains (...)` on
    further lines, which `hide_parameters` does not cover. First line kept, values masked."""
    from bot.privacy import redact_text

    lines = message.split("\n")
    first = _QUOTED_VALUE.sub(': "***"', lines[0])
    return redact_text(first) + ("\n" if len(lines) > 1 else "")


def _scrub_error(context) -> None:
    # Both the DBAPI exception (shown as "the direct cause" in tracebacks) and SQLAlchemy's
    # wrapper are scrubbed in place, so their classes (IntegrityError...) stay the same.
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc is not None and exc.args and isinstance(exc.args[0], str):
            exc.args = (_scrub_message(exc.args[0]), *exc.args[1:])


def _sqlite_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction starts (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn) -> None:
    # pysqlite would only BEGIN at the first write, after our SELECTs: two processes could
    # then both read "2 tries" and both write "3". BEGIN IMMEDIATE takes the write lock
    # first (waiting up to the busy timeout), so read-modify-write is serialised.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(db_url: str) -> Config:
    """The alembic.ini equivalent, in code."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    cfg.set_main_option("version_path_separator", "os")
    return cfg


def upgrade(db_url: str, revision: str = "heads") -> None:
    """`alembic upgrade heads` for this database. Other packages (channels, hand-off) add
    their revisions to this chain; "heads" also covers sibling branches off one parent."""
    _migrate(db_url, "upgrade", revision)


def downgrade(db_url: str, revision: str = "base") -> None:
    _migrate(db_url, "downgrade", revision)


def _migrate(db_url: str, direction: str, revision: str) -> None:
    from alembic import command

    engine = make_engine(db_url, pooled=False)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            getattr(command, direction)(cfg, revision)
    finally:
        engine.dispose()
def drop_all(db_url: str) -> None:
    """Drop every table the migrations made, whoever owns it, and the Alembic version
    table (tests, `bot db reset`)."""
    engine = make_engine(db_url, pooled=False)
    try:
        with engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


def current_heads(db_url: str) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url, pooled=False)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def script_heads() -> tuple[str, ...]:
    """The head revisions of the migration scripts."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))
