"""Database access of the channels (short transactions, SQLite and PostgreSQL alike).

With bot.channels.inbox_store (the inbox and the outbox), the only code that touches the
channels' tables (bot/channels/models.py): the hand-off and the actions read and write
channel links through `ChannelStore` too.

Every method is synchronous and opens its own transaction; async callers use the `a*`
wrappers, which run the call in a worker thread so the event loop never blocks on I/O.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.models import ButtonPayload, ChannelLink, ZaloOaToken
from bot.database import engine_for

T = TypeVar("T")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TokenRow:
    access_token: str
    refresh_token: str
    version: int
    refreshing_until: datetime | None


class ChannelStore:
    """Channel links, Zalo tokens and long button payloads (the inbox and the outbox:
    bot.channels.inbox_store)."""

    def __init__(self, engine: Engine | None = None, clock: Clock | None = None) -> None:
        self.engine = engine or engine_for()
        self.clock = clock or _utcnow

    # -- async wrappers -------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    # -- channel links -----------------------------------------------------------------
    def touch_link(self, channel: str, user_id: str, verified_msisdn: str | None = None) -> None:
        """Record an inbound message (and a verified number, when there is one)."""
        now = self.clock()
        table = ChannelLink.__table__
        values: dict[str, Any] = {"last_inbound_at": now, "updated_at": now}
        if verified_msisdn:
            values["verified_msisdn"] = verified_msisdn
        for _ in range(2):
            with self.engine.begin() as conn:
                result = conn.execute(update(table)
                                      .where(and_(table.c.channel == channel,
                                                  table.c.user_id == user_id))
                                      .values(**values))
                if result.rowcount:
                    return
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(table).values(channel=channel, user_id=user_id,
                                                      **values))
                return
            except IntegrityError:
                continue  # another instance inserted it first: update it

    def claim_link(self, channel: str, user_id: str) -> bool:
        """Create the link row; True only for the first caller ever (across instances).
        Used as a "done once" marker, e.g. the one notice a Telegram group gets."""
        if self.link(channel, user_id) is not None:
            return False  # the usual case after the first time: a read, no write
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ChannelLink.__table__).values(
                    channel=channel, user_id=user_id, last_inbound_at=now, updated_at=now))
            return True
        except IntegrityError:
            return False

    def link(self, channel: str, user_id: str) -> dict[str, Any] | None:
        table = ChannelLink.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(and_(table.c.channel == channel,
                                                        table.c.user_id == user_id))).first()
        return dict(row._mapping) if row else None

    def latest_link_for_number(self, msisdn: str) -> dict[str, Any] | None:
        """The chat most recently linked to a verified phone number (a Telegram contact,
        a verification recorded with `touch_link`), as `link` returns it; None if none."""
        table = ChannelLink.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.verified_msisdn == msisdn)
                               .order_by(table.c.updated_at.desc(), table.c.id.desc())
                               .limit(1)).first()
        return dict(row._mapping) if row else None

    # -- Zalo OA tokens ------------------------------------------------------------------
    def token(self, oa_key: str) -> TokenRow | None:
        table = ZaloOaToken.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.oa_key == oa_key)).first()
        if row is None:
            return None
        return TokenRow(row.access_token, row.refresh_token, row.version, row.refreshing_until)

    def seed_token(self, oa_key: str, access_token: str, refresh_token: str) -> bool:
        """Store the first token pair (from the environment) unless one is stored already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ZaloOaToken.__table__).values(
                    oa_key=oa_key, access_token=access_token, refresh_token=refresh_token,
                    version=1, updated_at=self.clock()))
            return True
        except IntegrityError:
            return False

    def take_refresh_lease(self, oa_key: str, version: int, lease_s: float = 30.0) -> bool:
        """Compare-and-swap: only one instance refreshes version `version` of the token."""
        now = self.clock()
        table = ZaloOaToken.__table__
        with self.engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(and_(table.c.oa_key == oa_key, table.c.version == version,
                            or_(table.c.refreshing_until.is_(None),
                                table.c.refreshing_until < now)))
                .values(refreshing_until=now + timedelta(seconds=lease_s)))
            return result.rowcount == 1

    def save_refreshed(self, oa_key: str, old_version: int, access_token: str,
                       refresh_token: str) -> bool:
        table = ZaloOaToken.__table__
        with self.engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(and_(table.c.oa_key == oa_key, table.c.version == old_version))
                .values(access_token=access_token, refresh_token=refresh_token,
                        version=old_version + 1, refreshing_until=None,
                        updated_at=self.clock()))
            return result.rowcount == 1

    def release_refresh_lease(self, oa_key: str, version: int) -> None:
        table = ZaloOaToken.__table__
        with self.engine.begin() as conn:
            conn.execute(update(table)
                         .where(and_(table.c.oa_key == oa_key, table.c.version == version))
                         .values(refreshing_until=None))

    # -- long Telegram button payloads -------------------------------------------------
    def put_payload(self, payload: str) -> str:
        key = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ButtonPayload.__table__).values(
                    key=key, payload=payload, created_at=self.clock()))
        except IntegrityError:
            pass  # same payload stored before
        return key

    def get_payload(self, key: str) -> str | None:
        table = ButtonPayload.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.payload).where(table.c.key == key)).scalar()
