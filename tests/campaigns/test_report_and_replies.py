"""What happens after the campaign message: replies and opt-outs seen before the assistant
(the channel worker's inbound filter), the update flow started by the button's payload,
and the numbers of `bot campaign report`."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.campaigns.replies import ReplyListener, connect_channels
from bot.campaigns.report import build_report
from bot.channels import common
from bot.channels.worker import _filtered
from tests.campaigns.conftest import (
    TG_CHAT,
    TG_NUMBER,
    ZALO_NUMBER,
    ZALO_USER,
    new_campaign,
)

pytestmark = pytest.mark.usefixtures("linked")


@pytest.fixture
def listener(campaigns, channels, rules) -> Any:
    listener = ReplyListener(campaigns, channels, rules)
    connect_channels(listener)
    yield listener
    common.set_inbound_filter(None)


class Assistant:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text or "")


async def _say(sender_id: str, text: str) -> tuple[Assistant, CollectingOutputChannel]:
    assistant, output = Assistant(), CollectingOutputChannel()
    await _filtered(assistant)(UserMessage(text, output, sender_id))
    return assistant, output


async def test_the_update_button_reaches_the_assistant_and_counts(engine, campaigns,
                                                                 listener):
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    assistant, output = await _say(f"tg-{TG_CHAT}", "/update_subscriber_info")
    assert assistant.seen == ["/update_subscriber_info"]  # the normal update flow runs
    assert output.messages == []
    row = next(d for d in campaigns.deliveries(cid) if d.msisdn == TG_NUMBER)
    assert row.replied_at is not None and row.update_started_at is not None


async def test_an_opt_out_is_answered_by_the_campaigns_not_the_assistant(engine, campaigns,
                                                                         listener):
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    assistant, output = await _say(f"zalo-{ZALO_USER}", "Không nhận tin nữa")
    assert assistant.seen == []
    assert len(output.messages) == 1 and "không gửi tin" in output.messages[0]["text"]
    assert campaigns.opted_out(ZALO_NUMBER)


async def test_a_broken_filter_never_silences_the_assistant(listener, monkeypatch):
    def boom(*_args: Any) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(listener, "handle", boom)
    assistant, _ = await _say(f"tg-{TG_CHAT}", "không nhận tin nữa")
    assert assistant.seen == ["không nhận tin nữa"]


async def test_other_chats_go_straight_to_the_assistant(engine, campaigns, listener):
    await engine.run_once(new_campaign(campaigns))
    assistant, output = await _say("tg-31337", "không nhận tin nữa")
    assert assistant.seen == ["không nhận tin nữa"] and output.messages == []


async def test_report_numbers(engine, campaigns, channels, sender, backend, clock, listener):
    from bot.channels.outbound import OutboundError

    stale_zalo = "0902302962"
    channels.touch_link("zalo", "zu-stale")  # wrote again: reachable now
    sender.fail["zu-stale"] = OutboundError("Telegram error: Forbidden")
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    await _say(f"tg-{TG_CHAT}", "/update_subscriber_info")  # replied, started
    await _say(f"zalo-{ZALO_USER}", "không nhận tin nữa")  # replied, opted out
    clock.advance(hours=1)
    request = backend.update_requests.submit(TG_NUMBER, {"full_name": "X"}, {}, "telegram",
                                             f"tg-{TG_CHAT}")
    assert request is not None
    backend.update_requests.decide(request.id, approve=True, reviewer="lan", version=0)
    # an update the customer submitted before the campaign does not count
    report = build_report(campaigns, cid, backend)
    numbers = dict(report.rows())
    assert numbers == {
        "targeted": 7, "on_chat": 3, "sms_export": 4, "waiting": 0, "sent": 3,
        "delivered": 2, "unknown": 0, "failed": 1, "capped": 0, "opted_out": 1,
        "replied": 2, "update_started": 1, "update_submitted": 1, "approved": 1}
    assert report.failed_reasons == {"OutboundError": 1}
    (day, row), = report.by_day.items()
    assert day == "2025-06-02" and (row.sent, row.replied, row.submitted, row.approved) == (
        2, 2, 1, 1)
    assert stale_zalo not in {d.msisdn for d in campaigns.deliveries(cid, ("sms",))}


async def test_an_update_submitted_before_the_message_is_not_a_conversion(
        engine, campaigns, backend, clock):
    backend.update_requests.submit(TG_NUMBER, {"full_name": "X"}, {}, "telegram", None)
    clock.advance(minutes=5)
    cid = new_campaign(campaigns)
    await engine.run_once(cid)
    assert build_report(campaigns, cid, backend).update_submitted == 0
