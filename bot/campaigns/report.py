"""The numbers of a campaign: from its deliveries, the opt-outs, and the backend's update
requests (submitted after the campaign message reached the customer, and approved)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bot.backend import Backend, get_backend
from bot.campaigns.models import FAILED, OPTED_OUT, PENDING, SENT, SMS, UNKNOWN
from bot.campaigns.store import CampaignStore, DeliveryView
from bot.clock import to_local


@dataclass
class DayRow:
    sent: int = 0
    replied: int = 0
    submitted: int = 0
    approved: int = 0


@dataclass
class CampaignReport:
    targeted: int = 0  # customers the audience matched (one delivery each)
    on_chat: int = 0  # of them with a verified chat on the campaign's channels
    sms_export: int = 0  # listed for the operator's SMS system
    waiting: int = 0  # still to be sent (pending)
    sent: int = 0  # sends made (delivered + unknown + failed)
    delivered: int = 0  # the provider accepted the message
    unknown: int = 0  # cut off mid-send: never re-sent
    failed: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    capped: int = 0
    opted_out: int = 0
    replied: int = 0
    update_started: int = 0
    update_submitted: int = 0
    approved: int = 0
    by_day: dict[str, DayRow] = field(default_factory=dict)  # local date -> conversions

    def rows(self) -> list[tuple[str, int]]:
        """(key, number) in the report's order."""
        keys = ("targeted", "on_chat", "sms_export", "waiting", "sent", "delivered",
                "unknown", "failed", "capped", "opted_out", "replied", "update_started",
                "update_submitted", "approved")
        return [(key, int(getattr(self, key))) for key in keys]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _day(moment: datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d")


def build_report(store: CampaignStore, campaign_id: int,
                 backend: Backend | None = None) -> CampaignReport:
    backend = backend or get_backend()
    deliveries = store.deliveries(campaign_id)
    report = CampaignReport(targeted=len(deliveries))
    statuses = Counter(d.status for d in deliveries)
    report.sms_export = statuses[SMS]
    report.waiting = statuses[PENDING]
    report.delivered = statuses[SENT]
    report.unknown = statuses[UNKNOWN]
    report.failed = statuses[FAILED]
    report.capped = statuses["capped"]
    report.sent = report.delivered + report.unknown + report.failed
    report.on_chat = sum(1 for d in deliveries if d.channel)
    report.failed_reasons = dict(Counter(d.reason or "-" for d in deliveries
                                         if d.status == FAILED))
    opt_outs = store.opt_out_times([d.msisdn for d in deliveries])
    report.opted_out = sum(1 for d in deliveries
                           if d.status == OPTED_OUT or d.msisdn in opt_outs)
    for delivery in deliveries:
        _conversions(report, delivery, backend)
    report.by_day = dict(sorted(report.by_day.items()))
    return report


def _conversions(report: CampaignReport, delivery: DeliveryView, backend: Backend) -> None:
    if delivery.sent_at is None or delivery.status != SENT:
        return
    sent_at = _aware(delivery.sent_at)
    report.by_day.setdefault(_day(sent_at), DayRow()).sent += 1
    if delivery.replied_at is not None:
        report.replied += 1
        report.by_day.setdefault(_day(_aware(delivery.replied_at)), DayRow()).replied += 1
    if delivery.update_started_at is not None:
        report.update_started += 1
    request = backend.update_requests.latest(delivery.msisdn)
    if request is None or _aware(request.submitted_at) < sent_at:
        return  # nothing submitted since the campaign message
    report.update_submitted += 1
    report.by_day.setdefault(_day(_aware(request.submitted_at)), DayRow()).submitted += 1
    if request.status == "approved":
        report.approved += 1
        decided = request.decided_at or request.submitted_at
        report.by_day.setdefault(_day(_aware(decided)), DayRow()).approved += 1
