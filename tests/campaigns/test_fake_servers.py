"""A campaign pass through the real outbound path (bot.channels.outbound.send_text, the
durable outbox) against the fake Telegram and Zalo servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.campaigns.engine import CampaignEngine
from bot.campaigns.models import SENT, SMS
from bot.channels.models import OutboxItem
from tests.campaigns.conftest import (
    TG_CHAT,
    TG_NUMBER,
    ZALO_NUMBER,
    ZALO_USER,
    _no_sleep,
    new_campaign,
)
from tests.channels.fakes import FakeTelegram, FakeZalo

pytestmark = pytest.mark.usefixtures("linked")


@pytest.fixture
def servers(monkeypatch) -> Iterator[tuple[FakeTelegram, FakeZalo]]:
    telegram, zalo = FakeTelegram().start(), FakeZalo().start()
    monkeypatch.setenv("TELEGRAM_TOKEN", telegram.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", telegram.base_url)
    monkeypatch.setenv("TELEGRAM_FILE_BASE_URL", telegram.base_file_url)
    for name, value in {"ZALO_APP_ID": "app-1", "ZALO_OA_SECRET_KEY": "oa-secret",
                        "ZALO_APP_SECRET_KEY": zalo.secret_key,
                        "ZALO_ACCESS_TOKEN": zalo.access_token,
                        "ZALO_REFRESH_TOKEN": zalo.refresh_token,
                        "ZALO_API_BASE_URL": zalo.url, "ZALO_OAUTH_BASE_URL": zalo.url,
                        "ZALO_RETRY_DELAYS_S": "0"}.items():
        monkeypatch.setenv(name, value)
    yield telegram, zalo
    telegram.stop()
    zalo.stop()


async def test_a_pass_reaches_the_fake_servers_once(backend, clock, campaigns, channels,
                                                    rules, servers):
    telegram, zalo = servers
    engine = CampaignEngine(campaigns, backend, channels, rules=rules, clock=clock,
                            sleep=_no_sleep)
    cid = new_campaign(campaigns, deadline="15/01/2027")
    result = await engine.run_once(cid)
    assert result.sent == 2 and result.failed == 0
    [tg_text] = telegram.delivered_texts(TG_CHAT)
    assert "15/01/2027" in tg_text
    markup = telegram.calls("sendMessage")[0].params.get("reply_markup")
    assert "update_subscriber_info" in str(markup)
    [zalo_message] = zalo.messages(ZALO_USER)
    assert "15/01/2027" in str(zalo_message)
    # the outbox holds each send under the campaign's key
    with backend.engine.connect() as conn:
        keys = set(conn.execute(select(OutboxItem.__table__.c.idempotency_key)).scalars())
    deliveries = {d.msisdn: d for d in campaigns.deliveries(cid)}
    assert f"campaign:{cid}:{deliveries[TG_NUMBER].id}:0" in keys
    # paused, resumed, run again, and a restart: nothing more reaches the servers
    assert engine.pause(cid) and engine.resume(cid)
    await engine.run_once(cid)
    await CampaignEngine(campaigns, backend, channels, rules=rules, clock=clock,
                         sleep=_no_sleep).run_once(cid)
    assert len(telegram.delivered_texts(TG_CHAT)) == 1 and len(zalo.messages(ZALO_USER)) == 1
    deliveries = {d.msisdn: d for d in campaigns.deliveries(cid)}
    assert deliveries[TG_NUMBER].status == deliveries[ZALO_NUMBER].status == SENT


async def test_zalo_refusing_the_window_sends_the_customer_to_the_sms_list(
        backend, clock, campaigns, channels, rules, servers):
    _telegram, zalo = servers
    zalo.closed_window.add(ZALO_USER)  # e.g. the customer unfollowed the OA
    engine = CampaignEngine(campaigns, backend, channels, rules=rules, clock=clock,
                            sleep=_no_sleep)
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    row = next(d for d in campaigns.deliveries(cid) if d.msisdn == ZALO_NUMBER)
    assert (row.status, row.reason) == (SMS, "zalo_window")
    assert zalo.messages(ZALO_USER) == []
