"""Rasa's tracker store (conversations) and lock store, configured by URL.

Not to be confused with the stores of our own data (`bot.channels.store.ChannelStore`,
`bot.handoff.tickets.TicketStore`) or the operator's shops (`bot.backend.shops`).

`endpoints.yml` (development) and `deploy/endpoints.prod.yml` (production) name these
classes, so the same configuration serves SQLite on a laptop and PostgreSQL + Redis with
several Rasa instances: only environment variables change.

- TRACKER_DB_URL: SQLAlchemy URL of the conversation store
  (default: SQLite file `.data/tracker.db`).
- LOCK_STORE_URL: redis://[:password@]host:port/db of the shared lock store.

Rasa's RedisLockStore reads a conversation's ticket lock, changes it in Python and writes
it back: two instances issuing tickets at the same moment both get the first ticket, and
both process a message of the same conversation at once (one's events are then lost:
tests/deploy/test_stack.py and test_lock_race.py showed it). `UrlRedisLockStore` makes
every read-modify-write of a lock one Redis transaction (WATCH/MULTI/EXEC, retried when
another instance changed the lock in between).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot import settings


def tracker_db_url(explicit: str | None = None) -> str:
    """The conversation store URL: TRACKER_DB_URL, else the endpoint's url, else SQLite."""
    return (
        os.environ.get("TRACKER_DB_URL")
        or explicit
        or f"sqlite:///{settings.DATA_DIR / 'tracker.db'}"
    )


def sql_store_kwargs(url: str) -> dict[str, Any]:
    """Split a SQLAlchemy URL into the keyword arguments SQLTrackerStore expects."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return {"dialect": "sqlite", "db": path}
    return {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
        "query": dict(parsed.query),
    }


class UrlSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose database is one URL (env TRACKER_DB_URL or `url:`)."""

    def __init__(self, domain: Any = None, host: str | None = None,
                 event_broker: Any = None, **kwargs: Any) -> None:
        url = tracker_db_url(host)
        # Endpoint keys that SQLTrackerStore would otherwise read are replaced by the URL.
        for key in ("dialect", "db", "port", "username", "password", "query"):
            kwargs.pop(key, None)
        super().__init__(domain=domain, event_broker=event_broker,
                         **sql_store_kwargs(url), **kwargs)


def redis_lock_kwargs(url: str) -> dict[str, Any]:
    """redis://[:password@]host[:port][/db] -> RedisLockStore keyword arguments."""
    parsed = make_url(url)
    return {
        "host": parsed.host or "localhost",
        "port": parsed.port or 6379,
        "db": int(parsed.database or 1),
        "password": parsed.password,
        "use_ssl": parsed.drivername == "rediss",
    }


class UrlRedisLockStore(RedisLockStore):
    """RedisLockStore configured by one URL (env LOCK_STORE_URL or the endpoint's `url:`)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        url = os.environ.get("LOCK_STORE_URL") or (endpoint_config.url if endpoint_config else None)
        if not url:
            raise ValueError("LOCK_STORE_URL is not set: the Redis lock store needs a redis:// URL")
        extra = dict(endpoint_config.kwargs) if endpoint_config else {}
        extra.update(kwargs)
        super().__init__(key_prefix=extra.get("key_prefix"), **redis_lock_kwargs(url))

    # --------------------------------------------------------- atomic lock changes
    def _transaction(self, conversation_id: str,
                     change: Callable[[TicketLock | None], tuple[TicketLock | None, Any]]
                     ) -> Any:
        """Apply `change` (the lock or None -> the lock to store, or None to delete it, and
        a result) to the conversation's lock in one Redis transaction."""
        import redis  # type: ignore[import-untyped]

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock)
                    pipe.multi()
                    if new is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another instance changed the lock: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return int(self._transaction(conversation_id, change))
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._transaction(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._transaction(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock when nobody waits — in one transaction (Rasa's
        two steps could delete a ticket another instance issued in between)."""
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._transaction(conversation_id, change)
