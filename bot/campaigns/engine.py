"""Targeting and sending: who a campaign reaches, on which chat, when, and how often.

`CampaignEngine.run_once(campaign_id)` is one pass (the runner calls it every minute;
`bot campaign run-once ID` by hand):

1. targeting (the first pass, then every `retarget_minutes`, so late-matching customers
   join): the backend's subscribers with
   incomplete Decree-49 data matching the audience get one delivery row each, ever
   (unique per campaign and number). A customer is contacted on a chat only when a chat
   proved their number (`ChannelStore.latest_link_for_number`: the verified link) on one
   of the campaign's channels; Zalo only within its 48-hour window (no ZNS template route
   is configured: "not at all"). Everyone else is listed for the SMS export (`sms`),
   never guessed.
2. sending, only while the campaign runs, between its start and end and within the local
   sending hours: at most `rate_per_minute` deliveries per pass, each claimed
   (pending -> sending) before the send, so a delivery is sent at most once across
   pauses, restarts and parallel runners; a crash between send and record leaves
   `sending`, later marked `unknown`, never re-sent. Opt-outs and the frequency caps
   (one per customer per N days, M in all, across campaigns) are checked just before the
   send. The send goes through `bot.channels.outbound.send_text` inside a
   `delivery_scope("campaign:<id>:<delivery>")`: the channel outbox records it under
   that idempotency key, and provider rate limits are retried there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bot import texts
from bot.backend import Backend, get_backend
from bot.backend.views import Decree49Status, SubscriberView
from bot.campaigns.models import (
    CAPPED,
    FAILED,
    OPTED_OUT,
    PAUSED,
    PENDING,
    RUNNING,
    SENT,
    SMS,
)
from bot.campaigns.rules import CampaignRules
from bot.campaigns.store import Audience, CampaignStore, CampaignView, DeliveryView
from bot.channels.delivery import delivery_scope
from bot.channels.outbound import OutboundError, WindowClosed, send_text
from bot.channels.store import ChannelStore
from bot.conversation_ids import RASA_CHANNEL_NAMES

log = logging.getLogger(__name__)

Sender = Callable[..., Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
ITEM_RESPONSE = "utter_decree49_item_{}"


@dataclass
class PassResult:
    """What one pass did (counts), and why it did not send when it did not."""

    targeted: int = 0
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    idle_reason: str | None = None  # not_running | not_started | ended | quiet_hours

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def matches(audience: Audience, status: Decree49Status) -> bool:
    return not status.complete and (not audience.missing
                                    or bool(set(audience.missing) & set(status.missing)))


def missing_labels(missing: tuple[str, ...], channel: str | None) -> str:
    return ", ".join(texts.text(ITEM_RESPONSE.format(code), channel) for code in missing)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


class CampaignEngine:
    def __init__(self, store: CampaignStore | None = None, backend: Backend | None = None,
                 channels: ChannelStore | None = None, sender: Sender | None = None,
                 rules: CampaignRules | None = None,
                 clock: Callable[[], datetime] | None = None,
                 sleep: Sleep | None = None) -> None:
        self._backend = backend
        self.clock = clock or (backend.now if backend else
                               (lambda: datetime.now(timezone.utc)))
        self.store = store or CampaignStore(clock=self.clock)
        self.channels = channels or ChannelStore(self.store.engine, clock=self.clock)
        self.sender: Sender = sender or send_text
        self.rules = rules or CampaignRules.from_operator()
        self.sleep: Sleep = sleep or asyncio.sleep

    @property
    def backend(self) -> Backend:
        return self._backend or get_backend()

    # ------------------------------------------------------------------ targeting
    def audience(self, campaign: CampaignView) -> list[tuple[SubscriberView, Decree49Status]]:
        found = self.backend.subscribers.decree49_incomplete(
            province=campaign.audience.province,
            one_way_blocked=campaign.audience.one_way_blocked)
        return [(sub, status) for sub, status in found if matches(campaign.audience, status)]

    def chat_for(self, campaign: CampaignView, msisdn: str) -> tuple[str | None, str | None,
                                                                       str | None]:
        """(channel, user id, None) of the verified chat to use, or (None, None, reason)
        when the customer goes to the SMS export."""
        link = self.channels.latest_link_for_number(msisdn)
        allowed = set(campaign.channels) & set(self.rules.channels)
        if not link or not link.get("verified_msisdn"):
            return None, None, "no_verified_chat"
        if link["channel"] not in allowed:
            return None, None, "channel_not_in_campaign"
        if link["channel"] == "zalo" and not self._zalo_window_open(link):
            return None, None, "zalo_window"
        return str(link["channel"]), str(link["user_id"]), None

    def _zalo_window_open(self, link: dict[str, Any]) -> bool:
        last = _aware(link.get("last_inbound_at"))
        return last is not None and self.clock() - last < self.rules.zalo_window

    def target(self, campaign: CampaignView) -> int:
        """Give every matching customer their one delivery row; returns how many are new."""
        new = 0
        for sub, _status in self.audience(campaign):
            channel, user_id, reason = self.chat_for(campaign, sub.msisdn)
            if self.store.opted_out(sub.msisdn, channel, user_id):
                status, reason = OPTED_OUT, "opted_out"
            else:
                status = PENDING if channel else SMS
            new += self.store.add_delivery(campaign.id, sub.msisdn, status, channel,
                                           user_id, reason)
        return new

    def _targeting_due(self, campaign: CampaignView) -> bool:
        """The audience is a scan of every incomplete subscriber: recomputed at most every
        `retarget_minutes` (and on the first pass)."""
        last = _aware(campaign.targeted_at)
        return last is None or self.clock() - last >= self.rules.retarget

    # -------------------------------------------------------------------- sending
    def idle_reason(self, campaign: CampaignView) -> str | None:
        now = self.clock()
        if campaign.status != RUNNING:
            return "not_running"
        if campaign.starts_at and now < _aware(campaign.starts_at):  # type: ignore[operator]
            return "not_started"
        if campaign.ends_at and now >= _aware(campaign.ends_at):  # type: ignore[operator]
            return "ended"
        if not self.rules.sending_hours(now):
            return "quiet_hours"
        return None

    async def run_once(self, campaign_id: int) -> PassResult:
        result = PassResult()
        campaign = await asyncio.to_thread(self.store.get, campaign_id)
        if campaign is None:
            raise KeyError(campaign_id)
        result.idle_reason = self.idle_reason(campaign)
        if result.idle_reason in ("not_running", "ended"):
            return result
        if self._targeting_due(campaign):
            result.targeted = await asyncio.to_thread(self.target, campaign)
            await asyncio.to_thread(self.store.mark_targeted, campaign.id)
        await asyncio.to_thread(self.store.expire_claims,
                                self.clock() - self.rules.claim_timeout)
        if result.idle_reason is not None:
            return result
        pause = 60.0 / campaign.rate_per_minute
        due = await asyncio.to_thread(self.store.due, campaign.id, campaign.rate_per_minute)
        for index, delivery in enumerate(due):
            current = await asyncio.to_thread(self.store.get, campaign.id)
            if current is None or self.idle_reason(current) is not None:
                result.idle_reason = self.idle_reason(current) if current else "not_running"
                break  # paused (or out of hours) in the middle of a pass
            if index:
                await self.sleep(pause)  # the campaign's send rate (provider limits)
            await self._send_one(campaign, delivery, result)
        return result

    def _cap(self, msisdn: str, delivery_id: int) -> tuple[str | None, datetime | None]:
        """(CAPPED, None) when the customer had all their reminders; (PENDING, not before)
        while the last one is too recent; (None, None) when a reminder may go now."""
        count, last = self.store.sends_to(msisdn, delivery_id)
        if count >= self.rules.max_per_customer:
            return CAPPED, None
        if last is not None:
            wait_until = last + timedelta(days=self.rules.min_days_between)
            if self.clock() < wait_until:
                return PENDING, wait_until
        return None, None

    async def _send_one(self, campaign: CampaignView, delivery: DeliveryView,
                        result: PassResult) -> None:
        store = self.store
        if await asyncio.to_thread(store.opted_out, delivery.msisdn, delivery.channel,
                                   delivery.user_id):
            await asyncio.to_thread(store.finish, delivery.id, OPTED_OUT, "opted_out")
            result.skip("opted_out")
            return
        channel, user_id = str(delivery.channel), str(delivery.user_id)
        if channel == "zalo":  # the window may have closed since targeting
            link = await asyncio.to_thread(self.channels.link, channel, user_id)
            if not link or not self._zalo_window_open(link):
                await asyncio.to_thread(store.finish, delivery.id, SMS, "zalo_window")
                result.skip("zalo_window")
                return
        if not await asyncio.to_thread(store.claim, delivery.id, delivery.msisdn):
            result.skip("busy")  # another runner has it, or another campaign is sending
            return  # to this customer right now: the next pass decides
        # The caps after the claim: a campaign racing for the same customer waits for this
        # one (claim), then sees it here.
        cap, not_before = await asyncio.to_thread(self._cap, delivery.msisdn, delivery.id)
        if cap == CAPPED:
            await asyncio.to_thread(store.finish, delivery.id, CAPPED, "max_per_customer")
            result.skip("capped")
            return
        if cap == PENDING:
            await asyncio.to_thread(store.finish, delivery.id, PENDING, "too_recent",
                                    not_before)
            result.skip("too_recent")
            return
        message = self.message(campaign, delivery.msisdn, channel)
        try:
            with delivery_scope(f"campaign:{campaign.id}:{delivery.id}"):
                await self.sender(channel, user_id, str(message.get("text") or ""),
                                  buttons=message.get("buttons") or None,
                                  store=self.channels)
        except WindowClosed:
            await asyncio.to_thread(store.finish, delivery.id, SMS, "zalo_window")
            result.skip("zalo_window")
            return
        except OutboundError as exc:
            await asyncio.to_thread(store.finish, delivery.id, FAILED,
                                    _reason(exc))
            result.failed += 1
            return
        except Exception as exc:  # the channel library's own errors
            log.warning("campaign %s delivery %s failed: %s", campaign.id, delivery.id,
                        type(exc).__name__)
            await asyncio.to_thread(store.finish, delivery.id, FAILED, type(exc).__name__)
            result.failed += 1
            return
        await asyncio.to_thread(store.finish, delivery.id, SENT)
        result.sent += 1

    def message(self, campaign: CampaignView, msisdn: str, channel: str) -> dict[str, Any]:
        """The campaign's response for this customer: their missing items and the
        deadline filled in."""
        status = self.backend.subscribers.decree49_status(msisdn)
        rasa_channel = RASA_CHANNEL_NAMES.get(channel, channel)
        missing = missing_labels(status.missing if status else (), rasa_channel)
        return texts.response(campaign.response, rasa_channel, missing=missing,
                              deadline=campaign.deadline)

    # ------------------------------------------------------------------- control
    def start(self, campaign_id: int) -> bool:
        return self.store.set_status(campaign_id, RUNNING, ("draft",))

    def pause(self, campaign_id: int) -> bool:
        return self.store.set_status(campaign_id, PAUSED, (RUNNING,))

    def resume(self, campaign_id: int) -> bool:
        return self.store.set_status(campaign_id, RUNNING, (PAUSED,))


def _reason(exc: OutboundError) -> str:
    """A short reason for the report (no personal data: the exception's class, or the
    channel's error name)."""
    if "not configured" in str(exc):
        return "channel_not_configured"
    cause = exc.__cause__
    return (type(cause).__name__ if cause is not None else type(exc).__name__)[:40]
