"""The audit trail: who touched which subscriber's personal data (internal ids only)."""

from __future__ import annotations

from sqlalchemy import select

from bot.backend.context import BackendContext
from bot.backend.models import AuditLog
from bot.backend.views import AuditView


class AuditTrail:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def record(self, actor: str, action: str, msisdn: str | None,
               update_request_id: int | None = None) -> None:
        """Record that `actor` did `action` on a subscriber's data: internal ids only (the
        subscriber's, and the update request a reviewer handled)."""
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn)
            s.add(AuditLog(actor=actor[:80], action=action[:60],
                           subscriber_id=sub.id if sub else None, at=self.ctx.now(),
                           update_request_id=update_request_id))

    def recent(self, limit: int = 100) -> list[AuditView]:
        """The newest entries first (operators, tests)."""
        with self.ctx.session() as s:
            rows = s.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)).scalars()
            return [AuditView(r.id, r.actor, r.action, r.subscriber_id, r.at, r.update_request_id)
                    for r in rows]
