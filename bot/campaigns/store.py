"""Database access of the campaigns (bot/campaigns/models.py): short synchronous
transactions, SQLite and PostgreSQL alike. The only code that touches these tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, text, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.campaigns.models import (
    CAMPAIGN_STATUSES,
    DRAFT,
    PENDING,
    SENDING,
    SENT,
    UNKNOWN,
    Campaign,
    CampaignDelivery,
    CampaignOptOut,
)
from bot.database import engine_for

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Audience:
    """Who a campaign reaches among the subscribers with incomplete Decree-49 data."""

    missing: tuple[str, ...] = ()  # any of these items missing (empty: any item)
    province: str | None = None
    one_way_blocked: bool | None = None

    def to_json(self) -> str:
        return json.dumps({"missing": list(self.missing), "province": self.province,
                           "one_way_blocked": self.one_way_blocked}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Audience:
        data = json.loads(text or "{}")
        return cls(missing=tuple(data.get("missing") or ()), province=data.get("province"),
                   one_way_blocked=data.get("one_way_blocked"))


@dataclass(frozen=True)
class CampaignView:
    id: int
    name: str
    audience: Audience
    response: str
    deadline: str
    channels: tuple[str, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    rate_per_minute: int
    status: str
    created_by: str
    created_at: datetime
    targeted_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> CampaignView:
        return cls(id=row.id, name=row.name, audience=Audience.from_json(row.audience),
                   response=row.response, deadline=row.deadline,
                   channels=tuple(c for c in row.channels.split(",") if c),
                   starts_at=row.starts_at, ends_at=row.ends_at,
                   rate_per_minute=row.rate_per_minute, status=row.status,
                   created_by=row.created_by, created_at=row.created_at,
                   targeted_at=row.targeted_at)


@dataclass(frozen=True)
class DeliveryView:
    id: int
    campaign_id: int
    msisdn: str
    channel: str | None
    user_id: str | None
    status: str
    reason: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    replied_at: datetime | None
    update_started_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> DeliveryView:
        return cls(id=row.id, campaign_id=row.campaign_id, msisdn=row.msisdn,
                   channel=row.channel, user_id=row.user_id, status=row.status,
                   reason=row.reason, next_attempt_at=row.next_attempt_at,
                   sent_at=row.sent_at, replied_at=row.replied_at,
                   update_started_at=row.update_started_at)


@dataclass
class NewCampaign:
    name: str
    response: str
    deadline: str = ""
    audience: Audience = field(default_factory=Audience)
    channels: Sequence[str] = ("telegram", "zalo")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    rate_per_minute: int = 30
    created_by: str = ""


class CampaignStore:
    def __init__(self, engine: Engine | None = None, clock: Clock | None = None) -> None:
        self.engine = engine or engine_for()
        self.clock = clock or _utcnow

    # -- campaigns ---------------------------------------------------------------------
    def create(self, new: NewCampaign) -> int:
        if new.rate_per_minute < 1:
            raise ValueError("rate_per_minute must be >= 1")
        now = self.clock()
        with self.engine.begin() as conn:
            result = conn.execute(insert(Campaign.__table__).values(
                name=new.name, audience=new.audience.to_json(), response=new.response,
                deadline=new.deadline, channels=",".join(new.channels),
                starts_at=new.starts_at, ends_at=new.ends_at,
                rate_per_minute=new.rate_per_minute, status=DRAFT,
                created_by=new.created_by, created_at=now, updated_at=now))
            return int(result.inserted_primary_key[0])

    def get(self, campaign_id: int) -> CampaignView | None:
        table = Campaign.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == campaign_id)).first()
        return CampaignView.from_row(row) if row else None

    def all(self) -> list[CampaignView]:
        table = Campaign.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id.desc())).all()
        return [CampaignView.from_row(row) for row in rows]

    def set_status(self, campaign_id: int, status: str, from_statuses: Sequence[str]) -> bool:
        """Compare-and-set of the campaign's status; False when it was not in
        `from_statuses` (or does not exist)."""
        if status not in CAMPAIGN_STATUSES:
            raise ValueError(status)
        table = Campaign.__table__
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(and_(
                table.c.id == campaign_id, table.c.status.in_(list(from_statuses))))
                .values(status=status, updated_at=self.clock()))
        return bool(result.rowcount == 1)

    def mark_targeted(self, campaign_id: int) -> None:
        table = Campaign.__table__
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == campaign_id)
                         .values(targeted_at=self.clock()))

    # -- deliveries --------------------------------------------------------------------
    def add_delivery(self, campaign_id: int, msisdn: str, status: str,
                     channel: str | None = None, user_id: str | None = None,
                     reason: str | None = None) -> bool:
        """One row per campaign and number, ever: False when it exists already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(CampaignDelivery.__table__).values(
                    campaign_id=campaign_id, msisdn=msisdn, status=status, channel=channel,
                    user_id=user_id, reason=reason, created_at=self.clock()))
            return True
        except IntegrityError:
            return False

    def deliveries(self, campaign_id: int, statuses: Sequence[str] = ()) -> list[DeliveryView]:
        table = CampaignDelivery.__table__
        query = select(table).where(table.c.campaign_id == campaign_id)
        if statuses:
            query = query.where(table.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.id)).all()
        return [DeliveryView.from_row(row) for row in rows]

    def due(self, campaign_id: int, limit: int) -> list[DeliveryView]:
        """Pending deliveries whose frequency-cap wait is over, oldest first."""
        table = CampaignDelivery.__table__
        now = self.clock()
        query = (select(table).where(and_(
            table.c.campaign_id == campaign_id, table.c.status == PENDING,
            or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now)))
            .order_by(table.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [DeliveryView.from_row(row) for row in conn.execute(query).all()]

    def claim(self, delivery_id: int, msisdn: str) -> bool:
        """pending -> sending, for one sender only (across processes), and only while no
        other delivery to the same number is being sent (two campaigns racing for one
        customer: one waits for the next pass, where the frequency cap sees the other).
        On PostgreSQL the check and the update run under a transaction-level advisory
        lock of the number; SQLite serialises writers (BEGIN IMMEDIATE)."""
        table = CampaignDelivery.__table__
        other = table.alias("other")
        busy = exists().where(and_(other.c.msisdn == msisdn, other.c.status == SENDING,
                                   other.c.id != delivery_id))
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                             {"key": f"campaign-msisdn:{msisdn}"})
            result = conn.execute(update(table).where(and_(
                table.c.id == delivery_id, table.c.status == PENDING, ~busy)).values(
                status=SENDING, claimed_at=self.clock()))
        return bool(result.rowcount == 1)

    def finish(self, delivery_id: int, status: str, reason: str | None = None,
               next_attempt_at: datetime | None = None) -> None:
        table = CampaignDelivery.__table__
        values: dict[str, Any] = {"status": status, "reason": reason,
                                  "next_attempt_at": next_attempt_at}
        if status == SENT:
            values["sent_at"] = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == delivery_id).values(**values))

    def expire_claims(self, older_than: datetime) -> int:
        """Deliveries left `sending` by a crash: their outcome is unknown, never re-sent."""
        table = CampaignDelivery.__table__
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(and_(
                table.c.status == SENDING, table.c.claimed_at < older_than)).values(
                status=UNKNOWN, reason="interrupted"))
        return int(result.rowcount)

    def sends_to(self, msisdn: str, delivery_id: int | None = None
                 ) -> tuple[int, datetime | None]:
        """How many campaign messages this number was sent (all campaigns; one of unknown
        outcome or being sent counts, `delivery_id` itself not), and when the last one
        went."""
        table = CampaignDelivery.__table__
        condition = and_(table.c.msisdn == msisdn,
                         table.c.status.in_((SENT, SENDING, UNKNOWN)))
        if delivery_id is not None:
            condition = and_(condition, table.c.id != delivery_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.max(table.c.sent_at))
                               .where(condition)).first()
        count, last = (row[0], row[1]) if row else (0, None)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=timezone.utc)
        return int(count or 0), last

    def latest_sent_to_chat(self, channel: str, user_id: str) -> DeliveryView | None:
        table = CampaignDelivery.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(and_(
                table.c.channel == channel, table.c.user_id == user_id,
                table.c.status == SENT)).order_by(table.c.sent_at.desc(), table.c.id.desc())
                .limit(1)).first()
        return DeliveryView.from_row(row) if row else None

    def mark_reply(self, delivery_id: int, update_started: bool) -> None:
        """The customer answered a campaign message (the first answer and the first start
        of the update are kept)."""
        table = CampaignDelivery.__table__
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(table).where(and_(
                table.c.id == delivery_id, table.c.replied_at.is_(None))).values(
                replied_at=now))
            if update_started:
                conn.execute(update(table).where(and_(
                    table.c.id == delivery_id, table.c.update_started_at.is_(None))).values(
                    update_started_at=now))

    # -- opt-outs ----------------------------------------------------------------------
    def opt_out(self, channel: str, user_id: str, msisdn: str | None) -> bool:
        """Kept for good; False when this chat had opted out before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(CampaignOptOut.__table__).values(
                    channel=channel, user_id=user_id, msisdn=msisdn,
                    created_at=self.clock()))
            return True
        except IntegrityError:
            return False

    def opted_out(self, msisdn: str, channel: str | None = None,
                  user_id: str | None = None) -> bool:
        table = CampaignOptOut.__table__
        condition = table.c.msisdn == msisdn
        if channel and user_id:
            condition = or_(condition, and_(table.c.channel == channel,
                                            table.c.user_id == user_id))
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.id).where(condition).limit(1)).first() \
                is not None

    def opt_out_times(self, msisdns: Sequence[str]) -> dict[str, datetime]:
        table = CampaignOptOut.__table__
        if not msisdns:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.msisdn, func.min(table.c.created_at))
                                .where(table.c.msisdn.in_(list(msisdns)))
                                .group_by(table.c.msisdn)).all()
        return {row[0]: row[1] for row in rows}
