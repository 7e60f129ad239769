"""Subscriber backend: SQLAlchemy models, migrations, focused services, demo seed.

    from bot.backend import get_backend
    backend = get_backend()          # process-wide instance for bot.settings.db_url()
    backend.otp.issue("0901000001", "telegram", "tg-42")
    backend.vas.cancel("0901000001", "FUNRING", "telegram")

`Backend` is only the composition root: it builds one service per concern on one database
and one clock, and exposes them. Each service runs its own short transactions and returns
frozen views (bot/backend/views.py). The contract: bot/backend/README.md.
"""

from __future__ import annotations

import threading
from datetime import datetime

from bot import settings
from bot.backend.account import Account
from bot.backend.audit import AuditTrail
from bot.backend.context import BackendContext, Clock
from bot.backend.identity import IdentityLedger, OtpPolicy, OtpService
from bot.backend.reference import format_vnd
from bot.backend.shops import Shops
from bot.backend.sms import SmsService
from bot.backend.subscribers import Subscribers
from bot.backend.update_requests import UpdateRequests
from bot.backend.vas import ValueAddedServices
from bot.backend.views import (
    AppConsult,
    AuditView,
    Balance,
    BarringView,
    CancelResult,
    Confirmation,
    Decree49Status,
    OtpCheck,
    OtpIssue,
    Registration,
    ServiceView,
    ShopView,
    SmsView,
    SubscriberView,
    SubscriptionView,
    TopupView,
    UpdatePath,
    UpdateRequestView,
)

__all__ = [
    "AppConsult", "AuditView", "Backend", "Balance", "BarringView", "CancelResult", "Confirmation",
    "Decree49Status", "OtpCheck", "OtpIssue", "Registration", "ServiceView", "ShopView",
    "SmsView", "SubscriberView", "SubscriptionView", "TopupView", "UpdatePath",
    "UpdateRequestView", "format_vnd", "get_backend", "set_backend",
]


class Backend:
    """The backend's services on one database: `Backend(db_url, clock=None, *,
    otp_policy=None)`. `clock()` returns an aware UTC datetime (tests inject a fake one)."""

    def __init__(self, db_url: str, clock: Clock | None = None, *,
                 otp_policy: OtpPolicy | None = None) -> None:
        self.context = BackendContext(db_url, clock)
        self.db_url = db_url
        self.engine = self.context.engine
        ctx = self.context
        self.identity = IdentityLedger(ctx)  # who a conversation is (the identity ledger)
        self.otp = OtpService(ctx, self.identity, otp_policy)  # codes that prove it
        self.subscribers = Subscribers(ctx)  # registered information, Decree 49, occupation
        self.vas = ValueAddedServices(ctx)  # catalog, active services, cancel, register
        self.account = Account(ctx)  # balance, top-ups, the self-care app
        self.shops = Shops(ctx)  # the operator's shops by place
        self.update_requests = UpdateRequests(ctx)  # Decree-49 update requests, review
        self.sms = SmsService(ctx)  # the SMS outbox and its gateway
        self.audit = AuditTrail(ctx)  # who touched whose personal data

    def now(self) -> datetime:
        """The backend's clock, aware UTC."""
        return self.context.now()

    def session(self):
        """A session on the backend's database (tests and the seed read rows with it)."""
        return self.context.session()

    def dispose(self) -> None:
        self.context.dispose()


_lock = threading.Lock()
_instances: dict[str, Backend] = {}


def get_backend() -> Backend:
    """The process-wide `Backend` for `bot.settings.db_url()` (one per URL, created lazily)."""
    url = settings.db_url()
    with _lock:
        backend = _instances.get(url)
        if backend is None:
            backend = _instances[url] = Backend(url)
        return backend


def set_backend(backend: Backend | None, db_url: str | None = None) -> None:
    """Make `backend` the instance `get_backend()` returns for its URL (tests inject a
    fake-clock backend this way); `None` forgets the cached instance for `db_url`."""
    with _lock:
        if backend is None:
            old = _instances.pop(db_url or settings.db_url(), None)
            if old is not None:
                old.dispose()
        else:
            _instances[db_url or backend.db_url] = backend


