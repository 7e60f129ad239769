"""The conversation store and the lock store, over real connections.

SQLite (the embedded default) and PostgreSQL (production) keep conversations across a
restart; two Rasa instances sharing one Redis lock store serialise work on one
conversation.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_stores import (
    UrlRedisLockStore,
    UrlSQLTrackerStore,
    redis_lock_kwargs,
    sql_store_kwargs,
    tracker_db_url,
)

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  phone_number:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "Xin chào"}]
"""
)


def _conversation(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update(UserUttered("xin chào", {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(SlotSet("phone_number", "0901000001"))
    return tracker


async def _survives_restart(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DB_URL", url)
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    first = UrlSQLTrackerStore(domain=DOMAIN)
    await first.save(_conversation(sender))
    first.engine.dispose()  # the process "restarts": nothing kept in memory

    second = UrlSQLTrackerStore(domain=DOMAIN)
    restored = await second.retrieve(sender)
    assert restored is not None
    assert restored.get_slot("phone_number") == "0901000001"
    assert [e.text for e in restored.events if isinstance(e, UserUttered)] == ["xin chào"]
    assert sender in set(await second.keys())
    second.engine.dispose()


def test_default_tracker_store_is_a_sqlite_file(clean_env: pytest.MonkeyPatch) -> None:
    assert tracker_db_url().startswith("sqlite:///")
    assert tracker_db_url().endswith("tracker.db")
    clean_env.setenv("TRACKER_DB_URL", "postgresql://u:p@db.example:5433/rasa")
    assert sql_store_kwargs(tracker_db_url()) == {
        "dialect": "postgresql", "host": "db.example", "port": 5433, "db": "rasa",
        "username": "u", "password": "p", "query": {},
    }


async def test_sqlite_conversations_survive_restart(tmp_path: Path,
                                                   clean_env: pytest.MonkeyPatch) -> None:
    await _survives_restart(f"sqlite:///{tmp_path / 'nested' / 'tracker.db'}", clean_env)
    assert (tmp_path / "nested" / "tracker.db").exists()


@pytest.mark.postgres
async def test_postgres_conversations_survive_restart(postgres_url: str,
                                                     clean_env: pytest.MonkeyPatch) -> None:
    await _survives_restart(postgres_url, clean_env)
    engine = sa.create_engine(postgres_url, future=True)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    engine.dispose()
    assert count >= 3


def test_redis_url_parsing() -> None:
    assert redis_lock_kwargs("redis://:s3cret@cache:6380/4") == {
        "host": "cache", "port": 6380, "db": 4, "password": "s3cret", "use_ssl": False,
    }


def test_lock_store_without_url_fails_clearly(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="LOCK_STORE_URL"):
        UrlRedisLockStore(EndpointConfig(type="bot.rasa_stores.UrlRedisLockStore"))


@pytest.mark.redis
async def test_two_instances_share_one_redis_lock(redis_url: str,
                                                 clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LOCK_STORE_URL", redis_url)
    prefix = f"test{uuid.uuid4().hex[:6]}"
    config = EndpointConfig(type="bot.rasa_stores.UrlRedisLockStore", key_prefix=prefix)
    instance_a, instance_b = UrlRedisLockStore(config), UrlRedisLockStore(config)
    conversation = "tg-42"
    order: list[str] = []

    async def handle(store: UrlRedisLockStore, name: str) -> None:
        async with store.lock(conversation, lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append(f"{name}:start")
            await asyncio.sleep(0.3)
            order.append(f"{name}:end")

    await asyncio.gather(handle(instance_a, "a"), handle(instance_b, "b"))
    # The two instances never worked on the conversation at the same time.
    assert order in (["a:start", "a:end", "b:start", "b:end"],
                     ["b:start", "b:end", "a:start", "a:end"])
    # While one instance holds the lock, the other sees it in Redis.
    async with instance_a.lock(conversation, lock_lifetime=10):
        lock = instance_b.get_lock(conversation)
        assert lock is not None and len(lock.tickets) == 1
    assert instance_b.get_lock(conversation) is None


@pytest.mark.redis
async def test_lock_of_a_crashed_instance_expires(redis_url: str,
                                                 clean_env: pytest.MonkeyPatch) -> None:
    """An instance that dies holding a conversation's lock blocks it only for the lifetime."""
    clean_env.setenv("LOCK_STORE_URL", redis_url)
    config = EndpointConfig(type="bot.rasa_stores.UrlRedisLockStore",
                            key_prefix=f"test{uuid.uuid4().hex[:6]}")
    crashed, survivor = UrlRedisLockStore(config), UrlRedisLockStore(config)
    crashed.issue_ticket("zalo-7", lock_lifetime=1.5)  # never finished: the process died
    started = time.monotonic()
    async with survivor.lock("zalo-7", lock_lifetime=10, wait_time_in_seconds=0.1) as lock:
        waited = time.monotonic() - started
        assert len(lock.tickets) == 1
    assert 1.0 <= waited < 5.0
    assert survivor.get_lock("zalo-7") is None
