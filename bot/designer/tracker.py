"""Rasa's tracker store (table `events` of `SQLTrackerStore`), read-only.

The designers' inbox reads the same database Rasa writes (`bot.rasa_stores.tracker_db_url`:
TRACKER_DB_URL, SQLite `.data/tracker.db` by default, PostgreSQL in production) and never
writes to it: SQLite is opened with `mode=ro`, PostgreSQL sessions are
`default_transaction_read_only`. A session (Rasa's conversation session) is the unit the
designers review: the events of one sender from one `action_session_start` to the next,
named by the id of its first event (a number: no personal data in URLs or audit rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine, make_url

from bot.rasa_stores import tracker_db_url

SESSION_START = "action_session_start"
BATCH = 200  # senders read per query

_metadata = MetaData()
EVENTS = Table(
    "events", _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class RawEvent:
    id: int
    sender_id: str
    timestamp: float
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("event") or "")


@dataclass(frozen=True)
class Session:
    """One conversation session: `id` = id of its first event."""
    id: int
    sender_id: str
    events: tuple[RawEvent, ...]

    @property
    def started(self) -> float:
        return self.events[0].timestamp

    @property
    def last(self) -> float:
        return self.events[-1].timestamp


def read_only_engine(url: str) -> Engine:
    """An engine that cannot write: SQLite read-only URI, PostgreSQL read-only sessions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", future=True)
    if parsed.get_backend_name() == "postgresql":
        options = str(parsed.query.get("options") or "")
        parsed = parsed.update_query_dict(
            {"options": (options + " " if options else "") + "-c default_transaction_read_only=on"})
    return create_engine(parsed, future=True, pool_pre_ping=True)


@cache
def _engine_for(url: str) -> Engine:
    return read_only_engine(url)


class TrackerReader:
    """Sessions of the tracker store, newest first."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or tracker_db_url()
        self.engine = _engine_for(self.url)

    def _events(self, sender_id: str, *, from_id: int = 0,
                until: float | None = None) -> list[RawEvent]:
        query = (sa_select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data)
                 .where(EVENTS.c.sender_id == sender_id, EVENTS.c.id >= from_id)
                 .order_by(EVENTS.c.id))
        if until is not None:
            query = query.where(EVENTS.c.timestamp < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [event for event in map(_raw, rows) if event is not None]

    def senders(self, since: float, until: float) -> list[str]:
        """Senders with events in [since, until), the most recently active first."""
        last = func.max(EVENTS.c.timestamp)
        query = (sa_select(EVENTS.c.sender_id, last.label("last"))
                 .where(EVENTS.c.timestamp >= since, EVENTS.c.timestamp < until)
                 .group_by(EVENTS.c.sender_id).order_by(last.desc()))
        with self.engine.connect() as conn:
            return [str(r.sender_id) for r in conn.execute(query)]

    def sessions_of(self, sender_id: str, until: float | None = None) -> list[Session]:
        return split_sessions(sender_id, self._events(sender_id, until=until))

    def _events_of(self, senders: list[str], until: float) -> dict[str, list[RawEvent]]:
        """The events of several senders (one query), by sender, in order."""
        query = (sa_select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data)
                 .where(EVENTS.c.sender_id.in_(senders), EVENTS.c.timestamp < until)
                 .order_by(EVENTS.c.sender_id, EVENTS.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out: dict[str, list[RawEvent]] = {sender: [] for sender in senders}
        for row in rows:
            event = _raw(row)
            if event is not None:
                out[event.sender_id].append(event)
        return out

    def sessions(self, since: float, until: float, limit: int) -> Iterator[Session]:
        """Sessions whose last event is in [since, until), newest first by sender; at most
        `limit` of them. Senders are read BATCH at a time."""
        found = 0
        senders = self.senders(since, until)
        for start in range(0, len(senders), BATCH):
            batch = senders[start:start + BATCH]
            events = self._events_of(batch, until)
            for sender in batch:
                for session in sorted(split_sessions(sender, events[sender]),
                                      key=lambda s: -s.last):
                    if since <= session.last < until:
                        yield session
                        found += 1
                        if found >= limit:
                            return

    def session(self, session_id: int) -> Session | None:
        with self.engine.connect() as conn:
            sender = conn.execute(sa_select(EVENTS.c.sender_id)
                                  .where(EVENTS.c.id == session_id)).scalar_one_or_none()
        if sender is None:
            return None
        for session in self.sessions_of(str(sender)):
            if session.id == session_id:
                return session
        return None


def _raw(row: Any) -> RawEvent | None:
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        return None
    return RawEvent(int(row.id), str(row.sender_id), float(row.timestamp or 0.0),
                    data if isinstance(data, dict) else {})


def split_sessions(sender_id: str, events: list[RawEvent]) -> list[Session]:
    """Cut a sender's events at each `action_session_start`."""
    sessions: list[Session] = []
    current: list[RawEvent] = []
    for event in events:
        if (event.kind == "action" and event.data.get("name") == SESSION_START
                and current):
            sessions.append(Session(current[0].id, sender_id, tuple(current)))
            current = []
        current.append(event)
    if current:
        sessions.append(Session(current[0].id, sender_id, tuple(current)))
    return sessions
