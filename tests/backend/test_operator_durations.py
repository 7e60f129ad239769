"""The backend's durations come from bot/operator.yml: change one and the rule and the SMS
that states it follow (registration confirmation, review time, app-link window)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from bot.brand import operator


@pytest.fixture
def changed(monkeypatch):
    profile = copy.deepcopy(operator())
    profile.update(registration_confirm_hours=6, approval_hours=72, app_consult_hours=2)
    for module in ("vas", "update_requests", "account", "sms"):
        monkeypatch.setattr(f"bot.backend.{module}.operator", lambda: profile, raising=False)
    return profile


def test_registration_waits_for_the_configured_hours(backend, clock, changed):
    registration = backend.vas.request_registration("0901000003", "D5", "telegram")
    assert registration.status == "pending"
    assert registration.expires_at - clock() == timedelta(hours=6)
    [sms] = [m for m in backend.sms.outbox("0901000003") if "xác nhận" in m.text]
    assert "trong 6 giờ" in sms.text


def test_update_requests_are_due_after_the_configured_hours(backend, clock, changed):
    request = backend.update_requests.submit("0901000004", {"full_name": "Nguyễn Văn An"}, {},
                                     "telegram")
    assert request.due_at - clock() == timedelta(hours=72)


def test_app_link_window_is_the_configured_hours(backend, clock, changed):
    assert backend.account.consult_app("0901000002", "telegram").status == "sms_sent"
    assert backend.account.consult_app("0901000002", "zalo").status == "consulted_elsewhere"
    clock.advance(hours=2, minutes=1)
    assert backend.account.consult_app("0901000002", "zalo").status == "sms_sent"
