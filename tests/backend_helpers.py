"""Test helpers that write or read the backend's rows directly, for what no service offers
(the services expose only what the assistant, the hand-off and the operators use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select


def queue_sms(backend, msisdn: str, text: str) -> None:
    """An SMS in the outbox, as a service queues one (pending)."""
    from bot.backend import sms

    with backend.session() as s, s.begin():
        sms.queue(s, msisdn, text, backend.now())


@dataclass(frozen=True)
class Pending:
    code: str
    name: str
    requested_at: datetime
    expires_at: datetime
    channel: str


def pending_registrations(backend, msisdn: str) -> list[Pending]:
    """Registration requests of `msisdn` still waiting for confirmation (not expired on the
    backend's clock), oldest first."""
    from bot.backend.models import PendingRegistration, Service, Subscriber

    with backend.session() as s:
        rows = s.execute(
            select(PendingRegistration, Service)
            .join(Service, Service.code == PendingRegistration.service_code)
            .join(Subscriber, Subscriber.id == PendingRegistration.subscriber_id)
            .where(Subscriber.msisdn == msisdn, PendingRegistration.status == "pending",
                   PendingRegistration.expires_at > backend.now())
            .order_by(PendingRegistration.requested_at)).all()
        return [Pending(svc.code, svc.name, p.requested_at, p.expires_at, p.channel)
                for p, svc in rows]
