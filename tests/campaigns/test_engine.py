"""The campaign engine on the fake clock with a recording sender: targeting only verified
chats, quiet hours, frequency caps, opt-outs, pause/resume without duplicates, the Zalo
48-hour rule, the SMS export."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta

import pytest

from bot.campaigns.cli import export_sms
from bot.campaigns.engine import CampaignEngine
from bot.campaigns.models import CAPPED, OPTED_OUT, PENDING, SENT, SMS, UNKNOWN
from bot.campaigns.replies import ReplyListener
from bot.campaigns.store import Audience
from bot.channels.outbound import OutboundError, WindowClosed
from tests.campaigns.conftest import (
    STALE_NUMBER,
    TG_CHAT,
    TG_NUMBER,
    UNVERIFIED_NUMBER,
    ZALO_NUMBER,
    ZALO_USER,
    RecordingSender,
    make_engine,
    new_campaign,
)

pytestmark = pytest.mark.usefixtures("linked")


def _by_number(store, campaign_id):
    return {d.msisdn: d for d in store.deliveries(campaign_id)}


async def test_only_customers_with_a_verified_chat_are_contacted(engine, campaigns, sender,
                                                                 backend):
    cid = new_campaign(campaigns)
    result = await engine.run_once(cid)
    audience = {v.msisdn for v, _ in backend.subscribers.decree49_incomplete("Cần Thơ")}
    assert result.targeted == len(audience) == 7
    assert sorted(sender.users()) == sorted([TG_CHAT, ZALO_USER])
    rows = _by_number(campaigns, cid)
    assert rows[TG_NUMBER].status == rows[ZALO_NUMBER].status == SENT
    assert rows[STALE_NUMBER].status == SMS and rows[STALE_NUMBER].reason == "zalo_window"
    assert rows[UNVERIFIED_NUMBER].status == SMS
    assert rows[UNVERIFIED_NUMBER].reason == "no_verified_chat"
    assert {n for n, d in rows.items() if d.status == SMS} == audience - {TG_NUMBER,
                                                                        ZALO_NUMBER}


async def test_the_message_names_the_missing_items_deadline_and_buttons(engine, campaigns,
                                                                          sender):
    cid = new_campaign(campaigns, audience=Audience(province="Cần Thơ"), deadline="15/01/2027")
    await engine.run_once(cid)
    message = next(s for s in sender.sent if s["user_id"] == TG_CHAT)
    assert "15/01/2027" in message["text"]
    assert "khớp" in message["text"].lower() or "tên" in message["text"].lower()  # name_match
    payloads = [b["payload"] for b in message["buttons"]]
    assert "/update_subscriber_info" in payloads
    assert "không nhận tin nữa" in payloads


async def test_audience_filters_missing_item_and_one_way_blocked(engine, campaigns, backend):
    cid = new_campaign(campaigns, start=False,
                       audience=Audience(missing=("portrait_photo",), one_way_blocked=True))
    campaign = campaigns.get(cid)
    found = engine.audience(campaign)
    assert found and all(v.status == "one_way_blocked" and "portrait_photo" in s.missing
                         for v, s in found)
    everyone = backend.subscribers.decree49_incomplete(one_way_blocked=True)
    assert len(found) == len([1 for _, s in everyone if "portrait_photo" in s.missing])


async def test_nothing_is_sent_outside_sending_hours(engine, campaigns, sender, clock):
    clock.set(clock().replace(hour=15, minute=30))  # 22:30 local
    cid = new_campaign(campaigns)
    result = await engine.run_once(cid)
    assert result.idle_reason == "quiet_hours" and sender.sent == []
    assert result.targeted == 7  # targeting is fine at night, sending is not
    clock.set(clock().replace(hour=23, minute=59) + timedelta(days=0))  # 06:59 next day
    assert (await engine.run_once(cid)).idle_reason == "quiet_hours"
    clock.advance(minutes=1)  # 07:00 local
    result = await engine.run_once(cid)
    assert result.idle_reason is None and result.sent == 2


async def test_start_and_end_of_the_campaign(engine, campaigns, sender, clock):
    cid = new_campaign(campaigns, starts_at=clock() + timedelta(hours=1),
                       ends_at=clock() + timedelta(hours=2))
    assert (await engine.run_once(cid)).idle_reason == "not_started"
    clock.advance(hours=2)
    assert (await engine.run_once(cid)).idle_reason == "ended"
    assert sender.sent == []


async def test_one_reminder_per_customer_per_n_days_and_m_in_all(backend, clock, campaigns,
                                                                 channels, sender, rules):
    engine = make_engine(backend, clock, campaigns, channels, sender, rules,
                         min_days_between=7, max_per_customer=2)
    first, second, third = (new_campaign(campaigns) for _ in range(3))
    await engine.run_once(first)
    assert len(sender.sent) == 2
    result = await engine.run_once(second)  # the same customers, a day later
    assert result.sent == 0 and result.skipped == {"too_recent": 2}
    row = _by_number(campaigns, second)[TG_NUMBER]
    assert row.status == PENDING and row.next_attempt_at is not None
    clock.advance(days=6)
    assert (await engine.run_once(second)).sent == 0  # still within the 7 days
    clock.advance(days=1, minutes=1)
    channels.touch_link("zalo", ZALO_USER)  # wrote again: the Zalo window is open
    assert (await engine.run_once(second)).sent == 2
    clock.advance(days=8)
    channels.touch_link("zalo", ZALO_USER)
    result = await engine.run_once(third)  # 2 reminders each already: that is all
    assert result.sent == 0 and result.skipped == {"capped": 2}
    assert _by_number(campaigns, third)[ZALO_NUMBER].status == CAPPED
    assert len(sender.sent) == 4


async def test_opt_out_is_answered_at_once_and_kept(engine, campaigns, channels, sender,
                                                   rules):
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    listener = ReplyListener(campaigns, channels, rules)
    answer = listener.handle("telegram", TG_CHAT, "Không nhận tin nữa!")
    assert answer and "không gửi tin" in answer
    assert campaigns.opted_out(TG_NUMBER)
    # kept: a later campaign neither sends to them nor lists them for SMS
    later = new_campaign(campaigns)
    result = await engine.run_once(later)
    assert TG_CHAT not in [s["user_id"] for s in sender.sent[2:]]
    assert _by_number(campaigns, later)[TG_NUMBER].status == OPTED_OUT
    assert result.targeted == 7
    # the same words from a chat that got no campaign message go to the assistant
    assert listener.handle("telegram", "999", "không nhận tin nữa") is None


async def test_opt_out_between_targeting_and_sending_is_honoured(engine, campaigns, channels,
                                                                 sender, clock):
    clock.set(clock().replace(hour=16))  # 23:00 local: targeted, not sent
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    campaigns.opt_out("zalo", ZALO_USER, None)  # by chat only
    clock.advance(hours=9)  # 08:00 local
    result = await engine.run_once(cid)
    assert sender.users() == [TG_CHAT]
    assert result.skipped == {"opted_out": 1}


async def test_pause_and_resume_never_send_twice(backend, clock, campaigns, channels, sender,
                                                 rules):
    for n in range(5):  # more verified Telegram chats in the audience
        channels.touch_link("telegram", f"9{n}", None)
    numbers = [v.msisdn for v, _ in backend.subscribers.decree49_incomplete("Cần Thơ")]
    for n, number in enumerate(x for x in numbers
                               if x not in (TG_NUMBER, ZALO_NUMBER, STALE_NUMBER)):
        channels.touch_link("telegram", f"9{n}", number)
    engine = make_engine(backend, clock, campaigns, channels, sender, rules)
    cid = new_campaign(campaigns, rate_per_minute=2)
    assert (await engine.run_once(cid)).sent == 2
    assert engine.pause(cid)
    assert (await engine.run_once(cid)).idle_reason == "not_running"
    assert len(sender.sent) == 2
    assert engine.resume(cid)
    # a restart: a new engine on the same database
    engine = make_engine(backend, clock, campaigns, channels, sender, rules)
    while (await engine.run_once(cid)).sent:
        pass
    assert len(sender.sent) == len(set(sender.users())) == 6
    assert not engine.resume(cid)  # running already


async def test_pause_in_the_middle_of_a_pass_stops_it(engine, campaigns, sender):
    cid = new_campaign(campaigns)
    sender.before = lambda: campaigns.set_status(cid, "paused", ("running",))
    result = await engine.run_once(cid)
    assert result.sent == 1 and result.idle_reason == "not_running"


async def test_a_send_cut_off_by_a_crash_is_never_repeated(engine, campaigns, clock, sender):
    cid = new_campaign(campaigns, start=False)
    engine.target(campaigns.get(cid))
    stuck = _by_number(campaigns, cid)[TG_NUMBER]
    assert campaigns.claim(stuck.id, TG_NUMBER)  # a sender took it, then the process died
    assert not campaigns.claim(stuck.id, TG_NUMBER)  # nobody else may take it
    campaigns.set_status(cid, "running", ("draft",))
    clock.advance(minutes=11)
    await engine.run_once(cid)
    assert _by_number(campaigns, cid)[TG_NUMBER].status == UNKNOWN
    assert sender.users() == [ZALO_USER]


async def test_zalo_only_within_48_hours_of_the_customers_last_message(engine, campaigns,
                                                                       sender, clock):
    clock.set(clock().replace(hour=16))  # 23:00 local: targeted now, sent later
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    assert _by_number(campaigns, cid)[ZALO_NUMBER].status == PENDING  # within 48 h now
    clock.advance(hours=40)  # 15:00 local two days later: 53 h since the last message
    await engine.run_once(cid)
    row = _by_number(campaigns, cid)[ZALO_NUMBER]
    assert row.status == SMS and row.reason == "zalo_window"
    assert sender.users() == [TG_CHAT]


async def test_provider_refusals(engine, campaigns, sender):
    sender.fail[ZALO_USER] = WindowClosed("-213")
    sender.fail[TG_CHAT] = OutboundError("Telegram error: Forbidden")
    cid = new_campaign(campaigns)
    result = await engine.run_once(cid)
    assert result.failed == 1
    rows = _by_number(campaigns, cid)
    assert (rows[ZALO_NUMBER].status, rows[ZALO_NUMBER].reason) == (SMS, "zalo_window")
    assert rows[TG_NUMBER].status == "failed"


async def test_export_sms_lists_the_numbers_without_a_chat(engine, campaigns, tmp_path):
    cid = new_campaign(campaigns, start=False)
    campaigns.opt_out("telegram", "555", UNVERIFIED_NUMBER)
    path = tmp_path / "sms.csv"
    count = export_sms(engine, cid, path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    numbers = {r["msisdn"] for r in rows}
    assert count == len(rows) == 4
    assert STALE_NUMBER in numbers
    assert not numbers & {TG_NUMBER, ZALO_NUMBER, UNVERIFIED_NUMBER}
    assert {r["deadline"] for r in rows} == {"31/12/2026"}
    assert path.stat().st_mode & 0o077 == 0


def test_engine_needs_a_known_campaign(engine):
    with pytest.raises(KeyError):
        asyncio.run(engine.run_once(12345))


def test_opt_out_phrases(rules):
    assert rules.is_opt_out("không nhận tin nữa")
    assert rules.is_opt_out("KHONG NHAN TIN NUA nhé")
    assert rules.is_opt_out("em ơi, hủy nhận tin giúp anh")
    assert not rules.is_opt_out("sao tôi không nhận được tin nhắn nữa")
    assert not rules.is_opt_out("/update_subscriber_info")


def test_engine_defaults_use_the_backend_clock(backend, campaigns):
    engine = CampaignEngine(campaigns, backend)
    assert engine.clock() == backend.now()


async def test_the_audience_is_recomputed_only_every_retarget_minutes(engine, campaigns,
                                                                      clock, monkeypatch):
    calls = []
    original = engine.target
    monkeypatch.setattr(engine, "target", lambda c: calls.append(c.id) or original(c))
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    clock.advance(minutes=59)
    await engine.run_once(cid)
    assert calls == [cid]
    clock.advance(minutes=1)
    await engine.run_once(cid)
    assert calls == [cid, cid]


async def test_two_campaigns_racing_for_one_customer_send_one_reminder(
        backend, clock, campaigns, channels, rules):
    """Two runners, two campaigns with the same audience, passes interleaved: the caps
    hold across them (the first claimed delivery goes ahead)."""
    senders = [RecordingSender(), RecordingSender()]
    for sender in senders:
        sender.delay_s = 0.3  # both runners are mid-send at the same time
    engines = [make_engine(backend, clock, campaigns, channels, s, rules) for s in senders]
    first, second = new_campaign(campaigns), new_campaign(campaigns)
    for _ in range(2):  # the pass that found a customer busy decides on the next one
        await asyncio.gather(engines[0].run_once(first), engines[1].run_once(second))
    sent = [u for s in senders for u in s.users()]
    assert sorted(sent) == sorted([TG_CHAT, ZALO_USER])
    statuses = sorted(d.status for c in (first, second) for d in campaigns.deliveries(c)
                      if d.msisdn in (TG_NUMBER, ZALO_NUMBER))
    assert statuses == ["pending", "pending", "sent", "sent"]  # the others wait 7 days
