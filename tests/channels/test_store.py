"""ChannelStore and InboxStore on SQLite and PostgreSQL: inbox accept/claims/leases/retries,
token compare-and-swap, links, payloads."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.inbox_store import InboxStore
from bot.channels.store import ChannelStore

T0 = datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, channel_db_url) -> str:
    if request.param == "sqlite":
        return channel_db_url
    return request.getfixturevalue("pg_url")


def make(db_url: str, clock: Clock | None = None) -> ChannelStore:
    from bot.database import make_engine

    return ChannelStore(make_engine(db_url), clock=clock)


def inbox(db_url: str, clock: Clock | None = None) -> InboxStore:
    from bot.database import make_engine

    return InboxStore(make_engine(db_url), clock=clock)


def test_inbox_accept_is_exclusive_under_concurrency(db_url):
    key = uuid.uuid4().hex
    stores = [inbox(db_url) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: stores[i % 4].accept("telegram", key, "telegram:1", {"i": i}), range(16)))
    assert results.count(True) == 1


def test_expired_lease_is_taken_over_failures_retried_then_parked(db_url):
    clock = Clock()
    store = inbox(db_url, clock)
    channel = f"c{uuid.uuid4().hex[:8]}"
    assert store.accept(channel, "m1", f"{channel}:u", {"text": "a"})
    [row] = store.claim(channel, "dead", lease_s=60, limit=5)
    assert store.claim(channel, "other", lease_s=60, limit=5) == []  # leased
    clock.now += timedelta(seconds=61)  # the instance that claimed it died
    [again] = store.claim(channel, "other", lease_s=60, limit=5)
    assert (again.id, again.attempts) == (row.id, 2)
    assert not store.complete(row.id, "dead")  # the dead owner no longer holds it
    assert store.retry(row.id, "other", (10.0, 20.0), "RuntimeError") == "pending"
    assert store.claim(channel, "other", lease_s=60, limit=5) == []  # not yet due
    clock.now += timedelta(seconds=20)  # attempt 2 failed: the second delay
    [third] = store.claim(channel, "other", lease_s=60, limit=5)
    assert store.retry(third.id, "other", (10.0, 20.0), "RuntimeError") == "parked"
    clock.now += timedelta(days=1)
    assert store.claim(channel, "other", lease_s=60, limit=5) == []  # parked stays parked
    assert store.counts()[(channel, "parked")] == 1
    assert store.replay(all_parked=True) >= 1
    [replayed] = store.claim(channel, "other", lease_s=60, limit=5)
    assert replayed.attempts == 1 and replayed.payload == {"text": "a"}
    assert store.complete(replayed.id, "other")
    done = store.item(channel, "m1")
    assert done.status == "done" and done.payload is None
    assert not store.accept(channel, "m1", f"{channel}:u", {"text": "a"})  # still known
    store.purge(clock.now + timedelta(seconds=1))  # long after: the key is forgotten
    assert store.item(channel, "m1") is None


def test_refresh_lease_and_token_compare_and_swap(db_url):
    clock = Clock()
    a, b = make(db_url, clock), make(db_url, clock)
    oa = uuid.uuid4().hex
    assert a.seed_token(oa, "acc1", "ref1")
    assert not b.seed_token(oa, "other", "other")
    assert a.take_refresh_lease(oa, 1)
    assert not b.take_refresh_lease(oa, 1)
    assert a.save_refreshed(oa, 1, "acc2", "ref2")
    assert not b.save_refreshed(oa, 1, "acc-stale", "ref-stale")
    row = b.token(oa)
    assert (row.access_token, row.refresh_token, row.version, row.refreshing_until) == (
        "acc2", "ref2", 2, None)
    assert b.take_refresh_lease(oa, 2)
    clock.now += timedelta(seconds=31)  # a crashed refresher's lease expires
    assert a.take_refresh_lease(oa, 2)


def test_links_and_long_payloads(db_url):
    store = make(db_url)
    user = uuid.uuid4().hex[:12]
    store.touch_link("telegram", user)
    store.touch_link("telegram", user, "0901000001")
    store.touch_link("telegram", user)  # a later message keeps the verified number
    assert store.link("telegram", user)["verified_msisdn"] == "0901000001"
    payload = '/inform{"phone_number":"0901000001","note":"' + "x" * 80 + '"}'
    key = store.put_payload(payload)
    assert store.put_payload(payload) == key
    assert store.get_payload(key) == payload


def test_a_replayed_message_waits_for_the_users_message_in_progress(db_url):
    store = inbox(db_url)
    channel = f"c{uuid.uuid4().hex[:8]}"
    for name in ("m1", "m2"):
        assert store.accept(channel, name, f"{channel}:u", {})
    [first] = store.claim(channel, "w", 60, 5)
    assert store.retry(first.id, "w", (), "RuntimeError") == "parked"
    [second] = store.claim(channel, "w", 60, 5)
    assert second.external_id == "m2"
    assert store.replay([first.id]) == 1
    assert store.claim(channel, "w", 60, 5) == []  # never two of one user at once
    assert store.complete(second.id, "w")
    [again] = store.claim(channel, "w", 60, 5)
    assert again.external_id == "m1"


def _claim_in_process(args: tuple[str, str, float]) -> tuple[bool, list[str]]:
    db_url, key, start_at = args
    import os
    import time as _time

    store = inbox(db_url)
    _time.sleep(max(0.0, start_at - _time.time()))  # all processes at the same moment
    accepted = store.accept(key, "update-1", f"{key}:u1", {})
    store.accept(key, "update-2", f"{key}:u2", {})
    rows = store.claim(key, f"pid-{os.getpid()}", 30, 10)
    return accepted, [row.external_id for row in rows]


def test_accept_and_claim_are_exclusive_across_processes(db_url):
    """Two+ server processes sharing one DB: exactly one stores a given update, and each
    stored update is claimed by exactly one."""
    import multiprocessing
    import time as _time
    from concurrent.futures import ProcessPoolExecutor

    key = uuid.uuid4().hex[:12]  # the channel name of this test
    start_at = _time.time() + 3.0
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        results = list(pool.map(_claim_in_process, [(db_url, key, start_at)] * 4))
    assert [accepted for accepted, _ in results].count(True) == 1
    claimed = [external_id for _, ids in results for external_id in ids]
    assert sorted(claimed) == ["update-1", "update-2"]
