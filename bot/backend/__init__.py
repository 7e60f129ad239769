"""Subscriber backend: SQLAlchemy models, Alembic migrations, the `Backend` service, demo seed.

    from bot.backend import get_backend
    backend = get_backend()          # process-wide instance for bot.settings.db_url()
"""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import settings
from bot.backend.reference import format_vnd
from bot.backend.service import Backend
from bot.backend.views import (
    AppConsult,
    AuditView,
    Balance,
    CancelResult,
    Confirmation,
    Decree49Status,
    OtpCheck,
    OtpIssue,
    PendingView,
    Registration,
    ServiceView,
    SmsView,
    StoreView,
    SubscriberView,
    SubscriptionView,
    TopupView,
    UpdatePath,
    UpdateRequestView,
)

__all__ = [
    "AppConsult", "AuditView", "Backend", "Balance", "CancelResult", "Confirmation",
    "Decree49Status", "OtpCheck", "OtpIssue", "PendingView", "Registration", "ServiceView",
    "SmsView", "StoreView", "SubscriberView", "SubscriptionView", "TopupView", "UpdatePath",
    "UpdateRequestView", "format_vnd", "get_backend", "local_time", "set_backend",
]

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


def local_time(moment: datetime) -> datetime:
    """An aware UTC datetime from the backend -> the operator's local time (Asia/Ho_Chi_Minh)."""
    from bot.brand import operator

    return moment.astimezone(ZoneInfo(operator().get("timezone", "Asia/Ho_Chi_Minh")))
