"""Database access of the inbox and the outbox (bot/channels/models.py InboxItem, OutboxItem).

Short synchronous transactions, SQLite and PostgreSQL alike; async callers run them in a
worker thread (`ChannelStore.run` style: `await asyncio.to_thread(...)`).

Claiming is safe with several instances on one database: on PostgreSQL the due rows are
selected `FOR UPDATE SKIP LOCKED` (two workers never take the same row, neither waits for
the other); on SQLite every transaction starts with `BEGIN IMMEDIATE` (bot.database.engine),
so select-then-update is serialised. A row is only due when no earlier row of the same user
is unfinished: one user's messages are processed one at a time, in arrival order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.channels.models import InboxItem, OutboxItem
from bot.database import engine_for

Clock = Callable[[], datetime]

PENDING, PROCESSING, DONE, PARKED = "pending", "processing", "done", "parked"
UNFINISHED = (PENDING, PROCESSING)
SENDING, SENT, UNKNOWN, FAILED = "sending", "sent", "unknown", "failed"
MAX_ERROR_CHARS = 200


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class InboxRow:
    id: int
    channel: str
    external_id: str
    user_key: str
    status: str
    attempts: int
    payload: dict[str, Any] | None
    responses: list[dict[str, Any]] | None
    last_error: str | None
    received_at: datetime
    next_attempt_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> InboxRow:
        return cls(id=row.id, channel=row.channel, external_id=row.external_id,
                   user_key=row.user_key, status=row.status, attempts=row.attempts,
                   payload=json.loads(row.payload) if row.payload else None,
                   responses=json.loads(row.responses) if row.responses is not None else None,
                   last_error=row.last_error, received_at=row.received_at,
                   next_attempt_at=row.next_attempt_at)


class InboxStore:
    """The durable inbound inbox and the outbox ledger of one database."""

    def __init__(self, engine: Engine | None = None, clock: Clock | None = None) -> None:
        self.engine = engine or engine_for()
        self.clock = clock or _utcnow
        self._postgres = self.engine.dialect.name == "postgresql"

    # -- inbox: receiving ------------------------------------------------------------
    def accept(self, channel: str, external_id: str, user_key: str,
               payload: dict[str, Any]) -> bool:
        """Store an inbound update; False when it was stored before (a re-delivery)."""
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(InboxItem.__table__).values(
                    channel=channel, external_id=external_id, user_key=user_key,
                    payload=json.dumps(payload, ensure_ascii=False), status=PENDING,
                    attempts=0, next_attempt_at=now, received_at=now))
            return True
        except IntegrityError:
            return False

    # -- inbox: the worker -------------------------------------------------------------
    def claim(self, channel: str, owner: str, lease_s: float, limit: int) -> list[InboxRow]:
        """Take up to `limit` due rows of `channel`, at most one per user (the earliest
        unfinished one, and none while another of the user's is in progress), leased to
        `owner` for `lease_s` seconds."""
        now = self.clock()
        table = InboxItem.__table__
        earlier = table.alias("earlier")
        # Blocked: an earlier message of the user is unfinished, or another one is being
        # processed right now (a replayed message older than the one in progress).
        blocked = exists().where(and_(
            earlier.c.user_key == table.c.user_key,
            or_(and_(earlier.c.id < table.c.id, earlier.c.status.in_(UNFINISHED)),
                and_(earlier.c.id != table.c.id, earlier.c.status == PROCESSING,
                     earlier.c.lease_until >= now))))
        due = or_(and_(table.c.status == PENDING, table.c.next_attempt_at <= now),
                  and_(table.c.status == PROCESSING, table.c.lease_until < now))
        query = (select(table).where(and_(table.c.channel == channel, due, ~blocked))
                 .order_by(table.c.id).limit(limit))
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=table)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            conn.execute(update(table).where(table.c.id.in_(ids)).values(
                status=PROCESSING, lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_s), attempts=table.c.attempts + 1))
            claimed = conn.execute(select(table).where(table.c.id.in_(ids))
                                   .order_by(table.c.id)).all()
        return [InboxRow.from_row(row) for row in claimed]

    def _mine(self, item_id: int, owner: str) -> Any:
        table = InboxItem.__table__
        return and_(table.c.id == item_id, table.c.lease_owner == owner,
                    table.c.status == PROCESSING)

    def renew(self, item_ids: Sequence[int], owner: str, lease_s: float) -> int:
        """Extend the leases of rows this owner still holds; returns how many."""
        if not item_ids:
            return 0
        table = InboxItem.__table__
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(and_(
                table.c.id.in_(list(item_ids)), table.c.lease_owner == owner,
                table.c.status == PROCESSING)).values(
                lease_until=self.clock() + timedelta(seconds=lease_s)))
        return int(result.rowcount)

    def save_responses(self, item_id: int, owner: str,
                       responses: list[dict[str, Any]]) -> bool:
        """The assistant answered: keep what is to be delivered (the turn is never run
        again for this row)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(InboxItem.__table__)
                                  .where(self._mine(item_id, owner))
                                  .values(responses=json.dumps(responses, ensure_ascii=False,
                                                             default=str)))
        return result.rowcount == 1

    def complete(self, item_id: int, owner: str) -> bool:
        """Done: the payload and the responses (personal data) are dropped, the key stays
        (a re-delivery is still recognised)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(InboxItem.__table__)
                                  .where(self._mine(item_id, owner))
                                  .values(status=DONE, payload=None, responses=None,
                                          lease_owner=None, lease_until=None,
                                          finished_at=self.clock()))
        return result.rowcount == 1

    def retry(self, item_id: int, owner: str, delays_s: Sequence[float], error: str) -> str:
        """A failed attempt: pending again after the next delay, or parked once the delays
        are used up. Returns the new status ("" when the row was no longer ours)."""
        table = InboxItem.__table__
        now = self.clock()
        with self.engine.begin() as conn:
            attempts = conn.execute(select(table.c.attempts)
                                    .where(self._mine(item_id, owner))).scalar()
            if attempts is None:
                return ""
            if attempts > len(delays_s):
                values: dict[str, Any] = {"status": PARKED, "finished_at": now}
            else:
                values = {"status": PENDING,
                          "next_attempt_at": now + timedelta(seconds=delays_s[attempts - 1])}
            conn.execute(update(table).where(table.c.id == item_id).values(
                lease_owner=None, lease_until=None, last_error=error[:MAX_ERROR_CHARS],
                **values))
        return str(values["status"])

    def release(self, item_id: int, owner: str, delay_s: float = 0.0) -> bool:
        """Give a claimed row back untouched (shutdown; the assistant was full): due again
        after `delay_s`, attempt not counted."""
        table = InboxItem.__table__
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(self._mine(item_id, owner)).values(
                status=PENDING, attempts=table.c.attempts - 1, lease_owner=None,
                lease_until=None, next_attempt_at=self.clock() + timedelta(seconds=delay_s)))
        return result.rowcount == 1

    # -- inbox: operators ----------------------------------------------------------------
    def items(self, statuses: Sequence[str] = (PENDING, PROCESSING, PARKED),
              channel: str | None = None, limit: int = 100) -> list[InboxRow]:
        table = InboxItem.__table__
        query = select(table).where(table.c.status.in_(list(statuses)))
        if channel:
            query = query.where(table.c.channel == channel)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.id).limit(limit)).all()
        return [InboxRow.from_row(row) for row in rows]

    def item(self, channel: str, external_id: str) -> InboxRow | None:
        table = InboxItem.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(and_(
                table.c.channel == channel, table.c.external_id == external_id))).first()
        return InboxRow.from_row(row) if row else None

    def counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) -> number of rows, for the unfinished and parked states."""
        table = InboxItem.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.channel, table.c.status, func.count())
                                .where(table.c.status != DONE)
                                .group_by(table.c.channel, table.c.status)).all()
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def replay(self, item_ids: Sequence[int] = (), all_parked: bool = False) -> int:
        """Parked rows (or the given ids, parked or pending) become due now, with a fresh
        count of attempts."""
        table = InboxItem.__table__
        condition = table.c.status == PARKED if all_parked else and_(
            table.c.id.in_(list(item_ids)), table.c.status.in_((PARKED, PENDING)))
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(condition).values(
                status=PENDING, attempts=0, next_attempt_at=self.clock(), finished_at=None))
        return int(result.rowcount)

    def purge(self, older_than: datetime) -> int:
        """Forget done inbox rows and finished outbox rows older than `older_than` (long
        after any provider stops re-delivering); parked and unfinished rows stay."""
        inbox, outbox = InboxItem.__table__, OutboxItem.__table__
        with self.engine.begin() as conn:
            removed = conn.execute(delete(inbox).where(and_(
                inbox.c.status == DONE, inbox.c.finished_at < older_than))).rowcount
            removed += conn.execute(delete(outbox).where(and_(
                outbox.c.status != SENDING, outbox.c.created_at < older_than))).rowcount
        return int(removed)

    # -- outbox ----------------------------------------------------------------------------
    def outbox_begin(self, key: str, channel: str, user_id: str) -> str | None:
        """Reserve one send. None: go ahead (new key, or one whose earlier send failed
        without reaching the customer). Otherwise the key's status: `sent` / `unknown`
        (never send again) or `sending` (an earlier send was cut off: its outcome is
        unknown, see docs/channels.md)."""
        table = OutboxItem.__table__
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values(
                    idempotency_key=key, channel=channel, user_id=user_id[:64],
                    status=SENDING, attempts=0, created_at=now))
            return None
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            again = conn.execute(update(table).where(and_(
                table.c.idempotency_key == key, table.c.status == FAILED)).values(
                status=SENDING))
            if again.rowcount == 1:
                return None
            status = conn.execute(select(table.c.status)
                                  .where(table.c.idempotency_key == key)).scalar()
        return str(status)

    def outbox_finish(self, key: str, status: str, attempts: int,
                      error: str | None = None) -> None:
        table = OutboxItem.__table__
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.idempotency_key == key).values(
                status=status, attempts=attempts,
                last_error=error[:MAX_ERROR_CHARS] if error else None,
                finished_at=self.clock()))

    def outbox_status(self, key: str) -> str | None:
        table = OutboxItem.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.status)
                                .where(table.c.idempotency_key == key)).scalar()

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) -> number of sends not delivered for sure (unknown, failed)."""
        table = OutboxItem.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.channel, table.c.status, func.count())
                                .where(table.c.status.in_((UNKNOWN, FAILED)))
                                .group_by(table.c.channel, table.c.status)).all()
        return {(row[0], row[1]): int(row[2]) for row in rows}
