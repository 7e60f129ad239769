"""Subscribers and Decree 49: the registered information (unmasked for callers that mask,
or masked), its completeness under Decree 49, the call-center update path, occupation."""

from __future__ import annotations

from sqlalchemy import select

from bot.backend import reference
from bot.backend.context import BackendContext
from bot.backend.models import ServiceBarring, Subscriber
from bot.backend.views import BarringView, Decree49Status, SubscriberView, UpdatePath
from bot.reference.occupations import OCCUPATION_CODES

_SUBSCRIBER_FIELDS = tuple(f for f in SubscriberView.__dataclass_fields__)


def subscriber_view(row: Subscriber) -> SubscriberView:
    return SubscriberView(**{f: getattr(row, f) for f in _SUBSCRIBER_FIELDS})


class Subscribers:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def get(self, msisdn: str) -> SubscriberView | None:
        """All fields, unmasked (callers mask). None for a number that is not ours."""
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            return subscriber_view(sub) if sub else None

    def masked_profile(self, msisdn: str) -> dict[str, str]:
        """Field code -> masked value or code (`reference.masked_profile`; shown with
        `reference.profile_lines`); {} for an unknown number."""
        sub = self.get(msisdn)
        return reference.masked_profile(sub) if sub else {}

    def decree49_status(self, msisdn: str) -> Decree49Status | None:
        sub = self.get(msisdn)
        return reference.decree49(sub) if sub else None

    def decree49_incomplete(self, province: str | None = None,
                            one_way_blocked: bool | None = None
                            ) -> list[tuple[SubscriberView, Decree49Status]]:
        """Subscribers whose Decree-49 data is incomplete (campaigns), by id; optionally
        of one province (as registered) and blocked one way or not."""
        query = select(Subscriber).order_by(Subscriber.id)
        if province:
            query = query.where(Subscriber.province == province)
        if one_way_blocked is not None:
            query = query.where((Subscriber.status == "one_way_blocked") if one_way_blocked
                                else (Subscriber.status != "one_way_blocked"))
        with self.ctx.session() as s:
            views = [subscriber_view(row) for row in s.execute(query).scalars()]
        found = [(view, reference.decree49(view)) for view in views]
        return [(view, status) for view, status in found if not status.complete]

    def barrings(self, msisdn: str) -> list[BarringView]:
        """The subscriber's active service barrings, those that stop the line first, then
        oldest first; [] for a number that is not ours."""
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(select(ServiceBarring).where(
                ServiceBarring.subscriber_id == sub.id, ServiceBarring.lifted_at.is_(None))
                .order_by(ServiceBarring.since, ServiceBarring.id)).scalars().all()
            found = [BarringView(r.scope, r.reason, r.since, r.debt_vnd) for r in rows]
        return sorted(found, key=lambda b: not b.stops_the_line)

    def update_path(self, msisdn: str) -> UpdatePath | None:
        sub = self.get(msisdn)
        return reference.update_path(sub) if sub else None

    def set_occupation(self, msisdn: str, code: int) -> bool:
        """Set the one main occupation code (1..18). False for an unknown number."""
        try:
            number = int(code)
        except (TypeError, ValueError):
            number = 0
        if number not in OCCUPATION_CODES:
            raise ValueError("occupation code must be 1..18") from None
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return False
            sub.occupation_code = number
            return True
