"""Fixtures of the hand-off tests.

- `handoff_url`: a migrated database (all Alembic heads) on SQLite, and on PostgreSQL when
  TEST_POSTGRES_URL is set (the `postgres` run is skipped with the reason otherwise).
- `store`: a `TicketStore` on it with the fake clock.
- `FakeRasa`: an in-memory stand-in for Rasa's HTTP API (trackers, events, trigger_intent)
  that records every call; `FakeSender`: records outbound messages, can be told to fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.handoff.tickets import TicketStore
from tests.handoff.helpers import FakeRasa, FakeSender

HANDOFF_TABLES = ("handoff_messages", "handoff_tickets", "handoff_sessions", "handoff_agents",
                  "handoff_transfers", "channel_links", "audit_log")


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory) -> str:
    from bot import database as db

    path = tmp_path_factory.mktemp("handoff-template") / "handoff.db"
    db.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def handoff_url(request, tmp_path, _migrated_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "handoff.db"
        shutil.copyfile(_migrated_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")  # skips with a reason without PostgreSQL
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        for table in HANDOFF_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    return url


@pytest.fixture
def store(handoff_url, clock) -> TicketStore:
    return TicketStore(handoff_url, clock=clock)


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def no_env_tokens(monkeypatch) -> Iterator[None]:
    monkeypatch.delenv("HANDOFF_API_TOKENS", raising=False)
    yield
