"""Benchmark of the designers' inbox: N copies of the test conversations written through
Rasa's SQL tracker store into a temporary SQLite file, then one inbox page, one
conversation and one metrics run, timed (wall and CPU of this process). Prints; writes
nothing else.

    .venv/bin/python scripts/bench_designer.py --copies 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=200)
    args = parser.parse_args()

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.designer import inbox
    from bot.designer.metrics import compute
    from bot.designer.tracker import TrackerReader
    from bot.rasa_stores import UrlSQLTrackerStore
    from tests.designer.conftest import NOW, REPO, conversations

    url = f"sqlite:///{tempfile.mkdtemp()}/tracker.db"
    domain = Domain.load(str(REPO / "domain.yml"))
    store = UrlSQLTrackerStore(domain=domain, host=url)

    async def fill() -> int:
        sessions = 0
        for copy in range(args.copies):
            for sender, events in conversations().items():
                tracker = DialogueStateTracker.from_events(f"{sender}-{copy}", events,
                                                           domain.slots)
                await store.save(tracker)
                sessions += sum(1 for e in events if getattr(e, "action_name", "")
                                == "action_session_start")
        return sessions

    total = asyncio.run(fill())
    reader = TrackerReader(url)
    since, until = NOW - 30 * 86400, NOW + 60

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        print(f"{name:<28} wall {1000 * (time.perf_counter() - wall):8.0f} ms   "
              f"cpu {1000 * (time.process_time() - cpu):8.0f} ms")
        return result

    print(f"{total} sessions, {args.copies * len(conversations())} senders")
    page = timed("inbox page (all)", lambda: inbox.page(
        reader, inbox.InboxQuery(since, until, limit=50), now=NOW))
    timed("inbox page (fallback)", lambda: inbox.page(
        reader, inbox.InboxQuery(since, until, outcome="fallback", limit=50), now=NOW))
    first = page["conversations"][0]["id"]
    timed("one conversation", lambda: inbox.conversation_json(
        __import__("bot.designer.conversations", fromlist=["build"]).build(
            reader.session(first), NOW)))
    timed("metrics", lambda: compute(inbox.conversations(reader, since, until, now=NOW)))


if __name__ == "__main__":
    main()
