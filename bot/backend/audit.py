"""The audit trail: who touched which subscriber's personal data (internal ids only)."""

from __future__ import annotations

from sqlalchemy import select

from bot.backend.context import BackendContext
from bot.backend.models import AuditLog
from bot.backend.views import AuditView


class AuditTrail:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def record(self, actor: str, action: str, msisdn: str | None) -> None:
        """Record that `actor` did `action` on a subscriber's data: internal id only."""
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn)
            s.add(AuditLog(actor=actor[:80], action=action[:60],
                           subscriber_id=sub.id if sub else None, at=self.ctx.now()))

    def recent(self, limit: int = 100) -> list[AuditView]:
        """The newest entries first (operators, tests)."""
        with self.ctx.session() as s:
            rows = s.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)).scalars()
            return [AuditView(r.id, r.actor, r.action, r.subscriber_id, r.at) for r in rows]
