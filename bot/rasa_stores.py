"""Rasa's tracker store (conversations) and lock store, configured by URL.

Not to be confused with the stores of our own data (`bot.channels.store.ChannelStore`,
`bot.handoff.tickets.TicketStore`) or the operator's shops (`bot.backend.shops`).

`endpoints.yml` (development) and `deploy/endpoints.prod.yml` (production) name these
classes, so the same configuration serves SQLite on a laptop and PostgreSQL + Redis with
several Rasa instances: only environment variables change.

- TRACKER_DB_URL: SQLAlchemy URL of the conversation store
  (default: SQLite file `.data/tracker.db`).
- LOCK_STORE_URL: redis://[:password@]host:port/db of the shared lock store.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.lock_store import RedisLockStore
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
