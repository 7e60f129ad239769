"""The account: balance (prepaid main account, postpaid charges so far), top-ups, and the
self-care app (one consultation per 24 hours across channels)."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select

from bot.backend import sms
from bot.backend.context import BackendContext
from bot.backend.models import AppConsultation, Topup
from bot.backend.views import AppConsult, Balance, TopupView
from bot.brand import operator


def app_consult_window() -> timedelta:
    """The app link goes out by SMS at most once in this window (bot/operator.yml)."""
    return timedelta(hours=int(operator()["app_consult_hours"]))


class Account:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def balance(self, msisdn: str) -> Balance | None:
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            if sub is None:
                return None
            return Balance(sub.balance_vnd, sub.subscription_type == "postpaid",
                           self.ctx.now(), sub.status)

    def topups(self, msisdn: str, limit: int = 5) -> list[TopupView]:
        """Most recent first."""
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(select(Topup).where(Topup.subscriber_id == sub.id)
                             .order_by(Topup.at.desc(), Topup.id.desc()).limit(limit)).scalars()
            return [TopupView(r.at, r.amount_vnd, r.channel) for r in rows]

    def consult_app(self, msisdn: str, channel: str) -> AppConsult:
        """Introduce the self-care app (24-hour rule across channels)."""
        now = self.ctx.now()
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return AppConsult("unknown_number")
            if sub.app_installed_at is not None:
                return AppConsult("installed")
            if sub.device == "feature_phone":
                return AppConsult("feature_phone")
            last = s.execute(
                select(AppConsultation).where(AppConsultation.msisdn == sub.msisdn,
                                              AppConsultation.at > now - app_consult_window())
                .order_by(AppConsultation.at.desc()).limit(1)).scalar_one_or_none()
            if last is not None:
                hours = math.ceil((last.at + app_consult_window() - now).total_seconds() / 3600)
                status = "already_consulted" if last.channel == channel else \
                    "consulted_elsewhere"
                return AppConsult(status, max(1, hours))
            brand = operator()
            s.add(AppConsultation(msisdn=sub.msisdn, channel=channel, at=now))
            sms.queue(s, sub.msisdn, sms.render(
                "app_link", app=brand["app_name"], link=brand["app_link"],
                hotline=brand["hotline"]), self.ctx.now())
            return AppConsult("sms_sent")
