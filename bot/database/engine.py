"""Engines: one per database URL in this process (`engine_for`), all built by `make_engine`.

Every engine hides SQL parameters (`hide_parameters`) and scrubs the database's own error
messages (`_scrub_error`), so a failing statement never puts a number, a name or an ID
into a log line or an exception (docs/security.md).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from bot import settings

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def database_timeouts() -> dict[str, float]:
    """Connect, statement, pool and SQLite lock timeouts in seconds (bot/operator.yml
    `database`): a database that is down or stuck fails a call within seconds."""
    from bot.brand import operator

    section = operator().get("database") or {}
    return {key: float(section[key]) for key in
            ("connect_timeout_seconds", "statement_timeout_seconds", "pool_timeout_seconds",
             "sqlite_busy_timeout_seconds")}


def engine_for(db_url: str | None = None) -> Engine:
    """The engine of `db_url` (default `bot.settings.db_url()`) for this process, created
    once: the backend, the channels and the hand-off share its connection pool."""
    url = db_url or settings.db_url()
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = make_engine(url)
        return engine


def make_engine(db_url: str, *, pooled: bool = True) -> Engine:
    """A 2.0-style (`future=True`) engine; SQLite files get their folder, FKs and a busy wait.
    SQL parameters are hidden from error messages and echo (`hide_parameters`): a failing
    statement never puts a number, a name or an ID into a log line."""
    url = make_url(db_url)
    limits = database_timeouts()
    kwargs: dict = {"future": True, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False,
                                  "timeout": limits["sqlite_busy_timeout_seconds"]}
    else:
        kwargs["pool_pre_ping"] = True
        if pooled:
            kwargs["pool_timeout"] = limits["pool_timeout_seconds"]
        if url.get_backend_name() == "postgresql":
            statement_ms = int(limits["statement_timeout_seconds"] * 1000)
            # Added to the URL's own `options` (e.g. a search_path), not replacing them.
            given = url.query.get("options") or ""
            given = given if isinstance(given, str) else " ".join(given)
            kwargs["connect_args"] = {
                "connect_timeout": max(1, int(limits["connect_timeout_seconds"])),
                "options": f"{given} -c statement_timeout={statement_ms}".strip()}
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
