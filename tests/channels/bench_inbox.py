"""Benchmark (not a test): cost of the inbox operations on SQLite and PostgreSQL.

    .venv/bin/python -m tests.channels.bench_inbox [N] [postgresql://...]

Prints, per database, wall and CPU time per `accept` (what a webhook adds before it
answers) and per claim + complete of one row (the worker's bookkeeping per message), and
claims per second with 4 threads competing. CPU time is this process's (the database's own
is not included); wall times are distorted by other load on the machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bot import database as db
from bot.channels.inbox_store import InboxStore
from bot.database import make_engine


def _bench(url: str, n: int) -> None:
    store = InboxStore(make_engine(url))
    channel = f"b{uuid.uuid4().hex[:8]}"
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        store.accept(channel, f"m{i}", f"{channel}:u{i % 50}", {"update_id": i, "text": "xin chào"})
    accept = ((time.perf_counter() - wall) / n, (time.process_time() - cpu) / n)
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < n // 2:
        for row in store.claim(channel, "bench", 60, 20):
            store.complete(row.id, "bench")
            done += 1
    cycle = ((time.perf_counter() - wall) / done, (time.process_time() - cpu) / done)
    stores = [InboxStore(make_engine(url)) for _ in range(4)]

    def drain(s: InboxStore) -> int:
        count = 0
        while rows := s.claim(channel, f"o{id(s)}", 60, 20):
            for row in rows:
                s.complete(row.id, f"o{id(s)}")
                count += 1
        return count

    wall = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        total = sum(pool.map(drain, stores))
    rate = total / (time.perf_counter() - wall)
    name = url.split(":", 1)[0]
    print(f"{name:10} accept {accept[0] * 1000:6.2f} ms wall {accept[1] * 1000:6.2f} ms CPU | "
          f"claim+complete {cycle[0] * 1000:6.2f} ms wall {cycle[1] * 1000:6.2f} ms CPU | "
          f"4 competing workers {rate:7.0f} rows/s ({total} rows)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db.upgrade(url)
        _bench(url, n)
    if len(sys.argv) > 2:
        db.upgrade(sys.argv[2])
        _bench(sys.argv[2], n)


if __name__ == "__main__":
    main()
