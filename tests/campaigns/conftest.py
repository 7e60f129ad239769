"""Fixtures of the campaign tests: the seeded backend on the fake clock (10:00 local),
the campaigns' and channels' stores on it, a recording sender."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.campaigns.engine import CampaignEngine
from bot.campaigns.rules import CampaignRules
from bot.campaigns.store import Audience, CampaignStore, NewCampaign
from bot.channels.store import ChannelStore

# Customers of Cần Thơ in the seed (incomplete Decree-49 data): the test audience.
PROVINCE = "Cần Thơ"
TG_NUMBER, TG_CHAT = "0901000004", "42"  # a Telegram chat that proved this number
ZALO_NUMBER, ZALO_USER = "0906489713", "zu-fresh"  # a Zalo follower, wrote an hour ago
STALE_NUMBER, STALE_USER = "0902302962", "zu-stale"  # a Zalo follower, silent for 3 days
UNVERIFIED_NUMBER = "0908300935"  # a chat exists, but never proved this number


class RecordingSender:
    """Stands in for `bot.channels.outbound.send_text`."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: dict[str, BaseException] = {}  # user id -> exception to raise
        self.before: Any = None  # called before each send (e.g. to pause the campaign)
        self.delay_s = 0.0  # a provider taking its time (another runner moves meanwhile)

    async def __call__(self, channel: str, user_id: str, text: str,
                       buttons: list[dict[str, Any]] | None = None, store: Any = None) -> None:
        if self.before is not None:
            self.before()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if user_id in self.fail:
            raise self.fail[user_id]
        self.sent.append({"channel": channel, "user_id": user_id, "text": text,
                          "buttons": buttons or []})

    def users(self) -> list[str]:
        return [s["user_id"] for s in self.sent]


@pytest.fixture
def rules() -> CampaignRules:
    return CampaignRules.from_operator()


@pytest.fixture
def campaigns(backend, clock) -> CampaignStore:
    return CampaignStore(backend.engine, clock)


@pytest.fixture
def channels(backend, clock) -> ChannelStore:
    return ChannelStore(backend.engine, clock)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def engine(backend, clock, campaigns, channels, sender, rules) -> CampaignEngine:
    return make_engine(backend, clock, campaigns, channels, sender, rules)


def make_engine(backend, clock, campaigns, channels, sender, rules,
                **changes: Any) -> CampaignEngine:
    return CampaignEngine(campaigns, backend, channels, sender,
                          replace(rules, **changes) if changes else rules, clock, _no_sleep)


@pytest.fixture
def linked(channels, clock) -> None:
    """The chats of the test audience (see the constants above)."""
    now = clock()
    channels.touch_link("telegram", TG_CHAT, TG_NUMBER)
    channels.touch_link("zalo", ZALO_USER, ZALO_NUMBER)
    channels.clock = lambda: now - timedelta(days=3)
    channels.touch_link("zalo", STALE_USER, STALE_NUMBER)
    channels.touch_link("telegram", "77")  # no verified number
    channels.clock = clock


def new_campaign(store: CampaignStore, start: bool = True, **values: Any) -> int:
    fields: dict[str, Any] = {"name": "Nhắc NĐ49", "response": "utter_campaign_decree49",
                              "deadline": "31/12/2026", "audience": Audience(province=PROVINCE),
                              "rate_per_minute": 30}
    fields.update(values)
    campaign_id = store.create(NewCampaign(**fields))
    if start:
        assert store.set_status(campaign_id, "running", ("draft",))
    return campaign_id
