"""ChannelStore on SQLite and PostgreSQL: claims, leases, token compare-and-swap."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

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


def test_claim_is_exclusive_under_concurrency(db_url):
    key = uuid.uuid4().hex
    stores = [make(db_url) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: stores[i % 4].claim("telegram", key), range(16)))
    assert results.count(True) == 1


def test_failed_and_expired_claims_can_be_claimed_again(db_url):
    clock = Clock()
    store = make(db_url, clock)
    key = uuid.uuid4().hex
    assert store.claim("zalo", key, lease_s=60)
    assert not store.claim("zalo", key)  # in progress
    clock.now += timedelta(seconds=61)  # the instance that claimed it died
    assert store.claim("zalo", key, lease_s=60)
    store.fail("zalo", key)
    assert store.claim("zalo", key)
    store.finish("zalo", key)
    clock.now += timedelta(days=1)
    assert not store.claim("zalo", key)  # done is done
    assert store.inbound_status("zalo", key) == ("done", 3)


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


def _claim_in_process(args: tuple[str, str, float]) -> bool:
    db_url, key, start_at = args
    import time as _time

    store = make(db_url)
    _time.sleep(max(0.0, start_at - _time.time()))  # all processes claim at the same moment
    return store.claim("telegram", key)


def test_claim_is_exclusive_across_processes(db_url):
    """Two+ server processes sharing one DB: exactly one processes a given update."""
    import multiprocessing
    import time as _time
    from concurrent.futures import ProcessPoolExecutor

    key = uuid.uuid4().hex
    start_at = _time.time() + 3.0
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        results = list(pool.map(_claim_in_process, [(db_url, key, start_at)] * 4))
    assert results.count(True) == 1
