"""Value-added services: the catalog, a subscriber's active services, cancellation and
registration with the operator's double confirmation (pending 12 hours)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.backend import sms
from bot.backend.context import BackendContext, ceil_seconds
from bot.backend.models import PendingRegistration, Service, Subscription
from bot.backend.views import (
    CancelResult,
    Confirmation,
    Registration,
    ServiceView,
    SubscriptionView,
)
from bot.brand import operator
from bot.reference.catalog import find_service


def registration_ttl() -> timedelta:
    """How long a registration waits for its second confirmation (bot/operator.yml)."""
    return timedelta(hours=int(operator()["registration_confirm_hours"]))


def _service_view(row: Service) -> ServiceView:
    return ServiceView(row.code, row.name, row.price_label, row.price_vnd, row.period_days,
                       tuple(row.aliases or ()))


class ValueAddedServices:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def catalog(self) -> list[ServiceView]:
        with self.ctx.session() as s:
            rows = s.execute(select(Service).order_by(Service.position, Service.code)).scalars()
            return [_service_view(r) for r in rows]

    def service(self, code: str) -> ServiceView | None:
        """A service by code or alias, typed in any style ('nhac cho' -> FUNRING)."""
        if not code:
            return None
        known = find_service(code)
        key = known.code if known else code.strip().upper()
        with self.ctx.session() as s:
            row = s.get(Service, key)
            return _service_view(row) if row is not None else None

    def active_subscriptions(self, msisdn: str) -> list[SubscriptionView]:
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(
                select(Subscription, Service)
                .join(Service, Service.code == Subscription.service_code)
                .where(Subscription.subscriber_id == sub.id, Subscription.status == "active")
                .order_by(Service.position, Subscription.started_at)
            ).all()
            return [SubscriptionView(svc.code, svc.name, svc.price_label, row.started_at,
                                     row.channel) for row, svc in rows]

    def cancel(self, msisdn: str, code: str, channel: str) -> CancelResult:
        svc = self.service(code)
        if svc is None:
            return CancelResult("unknown_service")
        now = self.ctx.now()
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return CancelResult("unknown_number", svc.code)
            rows = s.execute(select(Subscription).where(
                Subscription.subscriber_id == sub.id, Subscription.service_code == svc.code,
                Subscription.status == "active")).scalars().all()
            if not rows:
                return CancelResult("not_subscribed", svc.code)
            for row in rows:
                row.status, row.cancelled_at = "cancelled", now
            sms.queue(s, sub.msisdn, sms.render("cancellation", name=svc.name), self.ctx.now())
            return CancelResult("cancelled", svc.code)

    @staticmethod
    def _expire_pending(s: Session, subscriber_id: int, now: datetime) -> None:
        s.execute(update(PendingRegistration)
                  .where(PendingRegistration.subscriber_id == subscriber_id,
                         PendingRegistration.status == "pending",
                         PendingRegistration.expires_at <= now)
                  .values(status="expired"))

    def request_registration(self, msisdn: str, code: str, channel: str) -> Registration:
        """First step of the double confirmation: a pending request valid for 12 hours."""
        svc = self.service(code)
        if svc is None:
            return Registration("unknown_service")
        now = self.ctx.now()
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return Registration("unknown_number", code=svc.code)
            active = s.execute(select(func.count()).select_from(Subscription).where(
                Subscription.subscriber_id == sub.id, Subscription.service_code == svc.code,
                Subscription.status == "active")).scalar_one()
            if active:
                return Registration("already_active", code=svc.code)
            self._expire_pending(s, sub.id, now)
            pending = s.execute(select(PendingRegistration).where(
                PendingRegistration.subscriber_id == sub.id,
                PendingRegistration.service_code == svc.code,
                PendingRegistration.status == "pending")).scalars().first()
            if pending is not None:
                return Registration("already_pending", pending.expires_at, svc.code)
            expires = now + registration_ttl()
            s.add(PendingRegistration(subscriber_id=sub.id, service_code=svc.code,
                                      channel=channel, requested_at=now, expires_at=expires,
                                      status="pending"))
            sms.queue(s, sub.msisdn, sms.render(
                "registration_request", name=svc.name, price=svc.price_label,
                hours=ceil_seconds(registration_ttl()) // 3600), self.ctx.now())
            return Registration("pending", expires, svc.code)

    def confirm_registration(self, msisdn: str, code: str | None = None) -> Confirmation:
        """Second confirmation: activated | expired (after 12 h) | no_pending.
        Without a code, the most recent request is confirmed."""
        now = self.ctx.now()
        svc = self.service(code) if code else None
        if code and svc is None:
            return Confirmation("no_pending")
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return Confirmation("unknown_number")
            query = select(PendingRegistration).where(
                PendingRegistration.subscriber_id == sub.id,
                PendingRegistration.status.in_(("pending", "expired")))
            if svc is not None:
                query = query.where(PendingRegistration.service_code == svc.code)
            latest = s.execute(query.order_by(PendingRegistration.requested_at.desc(),
                                              PendingRegistration.id.desc())
                               .limit(1)).scalar_one_or_none()
            if latest is None:
                return Confirmation("no_pending", svc.code if svc else None)
            if latest.status == "expired" or now >= latest.expires_at:
                latest.status = "expired"
                return Confirmation("expired", latest.service_code)
            latest.status = "confirmed"
            already = s.execute(select(func.count()).select_from(Subscription).where(
                Subscription.subscriber_id == sub.id,
                Subscription.service_code == latest.service_code,
                Subscription.status == "active")).scalar_one()
            if not already:
                s.add(Subscription(subscriber_id=sub.id, service_code=latest.service_code,
                                   status="active", channel=latest.channel, started_at=now))
            name = s.get(Service, latest.service_code).name
            sms.queue(s, sub.msisdn, sms.render("registration_activated", name=name),
                      self.ctx.now())
            return Confirmation("activated", latest.service_code)
