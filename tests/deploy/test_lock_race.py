"""Two Rasa instances issuing lock tickets for one conversation at the same moment (real
Redis): every ticket must be unique, or both instances process a message of the same
conversation at once and one's events are lost. Rasa's RedisLockStore reads, changes and
writes the lock in three steps; bot.rasa_stores.UrlRedisLockStore does it in one
transaction."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

from rasa.core.lock_store import RedisLockStore

from bot.rasa_stores import UrlRedisLockStore, redis_lock_kwargs

THREADS, TICKETS_EACH = 8, 25


def issued(stores: list, conversation: str) -> Counter:
    """Ticket numbers issued by `THREADS` threads over the given stores (separate Redis
    clients, as separate Rasa instances have)."""
    numbers: Counter = Counter()
    guard = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(store) -> None:
        start.wait()
        for _ in range(TICKETS_EACH):
            ticket = store.issue_ticket(conversation, 60)
            with guard:
                numbers[ticket] += 1

    threads = [threading.Thread(target=work, args=(stores[i % len(stores)],))
               for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return numbers


def test_rasa_stock_redis_lock_store_hands_out_the_same_ticket_twice(redis_url):
    """The attack, against Rasa's own class: concurrent instances share tickets."""
    stores = [RedisLockStore(**redis_lock_kwargs(redis_url)) for _ in range(2)]
    conversation = f"race-stock-{uuid.uuid4().hex[:8]}"
    try:
        numbers = issued(stores, conversation)
        # fewer distinct tickets than issued: two callers got the same ticket
        assert len(numbers) < THREADS * TICKETS_EACH
    finally:
        stores[0].delete_lock(conversation)


def test_our_lock_store_hands_out_every_ticket_once(redis_url, clean_env):
    clean_env.setenv("LOCK_STORE_URL", redis_url)
    stores = [UrlRedisLockStore() for _ in range(2)]
    conversation = f"race-ours-{uuid.uuid4().hex[:8]}"
    try:
        numbers = issued(stores, conversation)
        assert sum(numbers.values()) == THREADS * TICKETS_EACH
        assert len(numbers) == THREADS * TICKETS_EACH, numbers.most_common(3)
        # and each finished ticket leaves the others' tickets alone
        for ticket in list(numbers)[: THREADS * TICKETS_EACH - 1]:
            stores[ticket % 2].cleanup(conversation, ticket)
        lock = stores[0].get_lock(conversation)
        assert lock is not None and lock.last_issued == max(numbers)
    finally:
        stores[0].delete_lock(conversation)
