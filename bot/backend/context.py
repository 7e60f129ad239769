"""What every backend service shares: the database of one URL (the process-wide engine,
`bot.database.engine_for`), the clock, and the few helpers they all need."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot.backend.models import Subscriber
from bot.database import engine_for, session_factory
from bot.text import normalize_msisdn

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def ceil_seconds(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds()))


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class BackendContext:
    """One database and one clock, shared by the services of a `Backend`."""

    def __init__(self, db_url: str, clock: Clock | None = None) -> None:
        self.db_url = db_url
        self.clock: Clock = clock or utc_now
        self.engine = engine_for(db_url)
        self._sessions = session_factory(self.engine)

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the backend clock must return aware datetimes")
        return now.astimezone(timezone.utc)

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        """Close the pooled connections (the engine stays usable)."""
        self.engine.dispose()

    @staticmethod
    def normalize(msisdn: str | None) -> str | None:
        """Any way of writing a number -> 10 digits; None when it is not one."""
        return normalize_msisdn(str(msisdn)) if msisdn else None

    def subscriber_row(self, s: Session, msisdn: str | None,
                       lock: bool = False) -> Subscriber | None:
        """The subscriber row; `lock` serialises changes per subscriber (PostgreSQL row lock,
        so several action-server instances cannot race on OTP tries or registrations)."""
        number = self.normalize(msisdn)
        if number is None:
            return None
        query = select(Subscriber).where(Subscriber.msisdn == number)
        if lock:
            query = query.with_for_update()
        return s.execute(query).scalar_one_or_none()

    @staticmethod
    def serialise(s: Session, *names: str) -> None:
        """Serialise read-modify-write on these names across processes. PostgreSQL:
        transaction-scoped advisory locks, always taken in the order given (number, then
        conversation), so they cannot deadlock; SQLite: BEGIN IMMEDIATE already serialises
        every write transaction (bot.database.engine)."""
        if s.get_bind().dialect.name != "postgresql":
            return
        for name in names:
            s.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
