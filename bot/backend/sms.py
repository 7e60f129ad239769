"""The backend's SMS: the texts (bot/backend/sms_templates.yml, the one place to word
them), the outbox every service queues into (`queue`), and `SmsService`, the gateway's
side of the outbox (`bot db sms`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.backend.context import BackendContext
from bot.backend.models import SmsOutbox
from bot.backend.views import SmsView
from bot.brand import operator

TEMPLATES = Path(__file__).with_name("sms_templates.yml")
REDACTED_CODE = "******"


@lru_cache(maxsize=1)
def templates() -> dict[str, str]:
    with TEMPLATES.open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    return {str(k): " ".join(str(v).split()) for k, v in loaded.items()}


def render(template: str, /, **values: Any) -> str:
    """The template `template` with {brand} and `values` filled in. KeyError for an unknown
    template or a missing placeholder (a wording mistake shows in the tests)."""
    return templates()[template].format(brand=operator()["name"], **values)


def queue(s: Session, msisdn: str, text: str, now: datetime,
          redacted_text: str | None = None) -> None:
    """Queue an SMS for the gateway (`SmsService.dispatch`) in the caller's transaction.
    `redacted_text`: the same text with its secret masked, which replaces `text` once the
    message is sent."""
    s.add(SmsOutbox(msisdn=msisdn, text=text, created_at=now, status="pending",
                    redacted_text=redacted_text))


def _view(r: SmsOutbox) -> SmsView:
    return SmsView(r.id, r.msisdn, r.text, r.created_at, r.status, r.sent_at)


class SmsService:
    """The SMS outbox as the gateway and the operators see it."""

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def outbox(self, msisdn: str | None = None, after_id: int = 0,
               limit: int | None = None, status: str | None = None) -> list[SmsView]:
        """Outbox rows with id > after_id, oldest first. Pending rows hold the readable
        text (tests read codes there); sent rows hold it with any code masked."""
        query = select(SmsOutbox).where(SmsOutbox.id > after_id)
        if msisdn:
            number = self.ctx.normalize(msisdn)
            if number is None:
                return []
            query = query.where(SmsOutbox.msisdn == number)
        if status:
            query = query.where(SmsOutbox.status == status)
        query = query.order_by(SmsOutbox.id)
        if limit:
            query = query.limit(limit)
        with self.ctx.session() as s:
            return [_view(r) for r in s.execute(query).scalars()]

    def dispatch(self, send: Callable[[SmsView], None], limit: int = 100, *,
                 msisdn: str | None = None) -> int:
        """Hand each pending outbox row (oldest first, at most `limit`, only `msisdn`'s when
        given) to the gateway callable `send`, then mark it `sent` and mask its code. One
        transaction per message: a row is marked sent only after `send` returned; if `send`
        raises, that row stays pending and the exception propagates. On PostgreSQL, rows
        another dispatcher holds are skipped. Returns how many were sent."""
        number = self.ctx.normalize(msisdn) if msisdn else None
        if msisdn and number is None:
            return 0
        sent = 0
        while sent < limit:
            with self.ctx.session() as s, s.begin():
                query = select(SmsOutbox).where(SmsOutbox.status == "pending")
                if number:
                    query = query.where(SmsOutbox.msisdn == number)
                row = s.execute(query.order_by(SmsOutbox.id).limit(1)
                                .with_for_update(skip_locked=True)).scalar_one_or_none()
                if row is None:
                    break
                send(_view(row))
                row.status, row.sent_at = "sent", self.ctx.now()
                if row.redacted_text is not None:
                    row.text, row.redacted_text = row.redacted_text, None
            sent += 1
        return sent
