"""On PostgreSQL: two runners (two processes' engines) passing over the same campaign at
the same time never send to a customer twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.campaigns.store import Audience, CampaignStore
from bot.channels.store import ChannelStore
from tests.campaigns.conftest import RecordingSender, make_engine, new_campaign

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_backend):
    with pg_backend.engine.begin() as conn:  # the schema lives for the whole session
        for table in ("campaign_deliveries", "campaign_opt_outs", "campaigns",
                      "channel_links", "channel_outbox"):
            conn.execute(text(f"DELETE FROM {table}"))
    return pg_backend


async def test_two_runners_at_once_send_each_customer_one_message(pg, clock, rules):
    from bot.database import make_engine as new_engine

    numbers = [v.msisdn for v, _ in pg.subscribers.decree49_incomplete("Hà Nội")]
    links = ChannelStore(pg.engine, clock)
    for n, number in enumerate(numbers):
        links.touch_link("telegram", f"7{n}", number)
    senders = [RecordingSender(), RecordingSender()]
    engines = []
    for sender in senders:  # each runner with its own connection pool, as two processes
        db = new_engine(pg.db_url)
        engines.append(make_engine(pg, clock, CampaignStore(db, clock),
                                   ChannelStore(db, clock), sender, rules))
    cid = new_campaign(engines[0].store, rate_per_minute=1000,
                       audience=Audience(province="Hà Nội"))
    await asyncio.gather(*(e.run_once(cid) for e in engines))
    sent = [u for s in senders for u in s.users()]
    assert len(sent) == len(set(sent)) == len(numbers) > 10


async def test_two_campaigns_at_once_keep_the_frequency_cap(pg, clock, rules):
    from bot.database import make_engine as new_engine

    numbers = [v.msisdn for v, _ in pg.subscribers.decree49_incomplete("Cần Thơ")]
    links = ChannelStore(pg.engine, clock)
    for n, number in enumerate(numbers):
        links.touch_link("telegram", f"8{n}", number)
    senders = [RecordingSender(), RecordingSender()]
    engines = []
    for sender in senders:
        sender.delay_s = 0.05  # both runners mid-send at the same time
        db = new_engine(pg.db_url)
        engines.append(make_engine(pg, clock, CampaignStore(db, clock),
                                   ChannelStore(db, clock), sender, rules))
    ids = [new_campaign(engines[0].store, rate_per_minute=1000,
                        audience=Audience(province="Cần Thơ")) for _ in range(2)]
    for _ in range(2):
        await asyncio.gather(*(e.run_once(c) for e, c in zip(engines, ids, strict=True)))
    sent = [u for s in senders for u in s.users()]
    assert len(sent) == len(set(sent)) == len(numbers)
