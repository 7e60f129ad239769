"""Catalog, subscriptions, double-confirmation registration (12 h) and cancellation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backend.models import PendingRegistration, Subscriber
from tests.backend_helpers import pending_registrations


def test_catalog_has_the_eight_demo_services(backend):
    catalog = backend.vas.catalog()
    assert [s.code for s in catalog] == ["FUNRING", "MCA", "MOBITV", "MCLOUD", "KHOGAME",
                                         "TIN24H", "D5", "C90N"]
    c90n = catalog[-1]
    assert (c90n.name, c90n.price_label, c90n.price_vnd, c90n.period_days) == (
        "Gói C90N: 4 GB / ngày + gọi nội mạng miễn phí", "90.000 đ / 30 ngày", 90000, 30)
    assert all(a == a.lower() for s in catalog for a in s.aliases)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("FUNRING", "FUNRING"), ("funring", "FUNRING"), ("nhạc chờ", "FUNRING"),
     ("nhac cho", "FUNRING"), ("Nhạc Chờ", "FUNRING"), ("báo cuộc gọi nhỡ", "MCA"),
     ("mobi tv", "MOBITV"), ("đám mây", "MCLOUD"), ("kho game", "KHOGAME"),
     ("tin 24h", "TIN24H"), ("gói d5", "D5"), ("c90n", "C90N"), ("goi 90k", "C90N")],
)
def test_service_by_code_or_alias(backend, typed, code):
    assert backend.vas.service(typed).code == code


@pytest.mark.parametrize("typed", ["", "xyz", "gói 999k"])
def test_unknown_service(backend, typed):
    assert backend.vas.service(typed) is None


def test_active_subscriptions_of_demo_numbers(backend):
    subs = backend.vas.active_subscriptions("0901000001")
    assert [s.code for s in subs] == ["FUNRING", "MCA"]
    assert subs[0].name == "Nhạc chờ FunRing" and subs[0].price_label == "9.000 đ / 30 ngày"
    assert subs[0].since < backend.now()
    assert backend.vas.active_subscriptions("0901000008") == []
    assert backend.vas.active_subscriptions("0999999999") == []


def test_cancel(backend, clock):
    result = backend.vas.cancel("0901000001", "nhạc chờ", "telegram")
    assert (result.status, result.code) == ("cancelled", "FUNRING")
    assert [s.code for s in backend.vas.active_subscriptions("0901000001")] == ["MCA"]
    assert "đã hủy thành công Nhạc chờ FunRing" in backend.sms.outbox("0901000001")[-1].text
    again = backend.vas.cancel("0901000001", "FUNRING", "telegram")
    assert again.status == "not_subscribed"
    assert backend.vas.cancel("0901000001", "xyz", "telegram").status == \
        "unknown_service"
    assert backend.vas.cancel("0999999999", "MCA", "telegram").status == \
        "unknown_number"


def test_register_then_confirm_activates(backend, clock):
    reg = backend.vas.request_registration("0901000001", "gói d5", "telegram")
    assert (reg.status, reg.code) == ("pending", "D5")
    assert reg.expires_at == clock.now + timedelta(hours=12)
    assert "xác nhận trong 12 giờ" in backend.sms.outbox("0901000001")[-1].text
    assert [p.code for p in pending_registrations(backend, "0901000001")] == ["D5"]
    assert "D5" not in [s.code for s in backend.vas.active_subscriptions("0901000001")]
    clock.advance(hours=11, minutes=59)
    conf = backend.vas.confirm_registration("0901000001", "D5")
    assert (conf.status, conf.code) == ("activated", "D5")
    assert "D5" in [s.code for s in backend.vas.active_subscriptions("0901000001")]
    assert pending_registrations(backend, "0901000001") == []
    assert backend.vas.confirm_registration("0901000001", "D5").status == "no_pending"
    assert backend.vas.request_registration("0901000001", "D5", "telegram").status == \
        "already_active"


def test_confirm_after_twelve_hours_expires(backend, clock):
    backend.vas.request_registration("0901000001", "MOBITV", "zalo")
    clock.advance(hours=12)
    assert backend.vas.confirm_registration("0901000001", "MOBITV").status == "expired"
    with backend.session() as s:
        row = s.execute(select(PendingRegistration).join(Subscriber).where(
            Subscriber.msisdn == "0901000001")).scalars().one()
    assert row.status == "expired"
    assert "MOBITV" not in [s.code for s in backend.vas.active_subscriptions("0901000001")]
    # The customer starts again: a new request is accepted.
    assert backend.vas.request_registration("0901000001", "MOBITV", "zalo").status == "pending"
    assert backend.vas.confirm_registration("0901000001", "MOBITV").status == "activated"


def test_already_pending_and_unknown(backend):
    first = backend.vas.request_registration("0901000001", "C90N", "telegram")
    second = backend.vas.request_registration("0901000001", "c90n", "telegram")
    assert second.status == "already_pending" and second.expires_at == first.expires_at
    assert backend.vas.request_registration("0901000001", "xyz", "telegram").status == \
        "unknown_service"
    assert backend.vas.request_registration("0999999999", "D5", "telegram").status == \
        "unknown_number"
    assert backend.vas.request_registration("0901000001", "FUNRING", "telegram").status == \
        "already_active"


def test_confirm_without_code_takes_latest_request(backend, clock):
    backend.vas.request_registration("0901000001", "MCLOUD", "telegram")
    clock.advance(minutes=5)
    backend.vas.request_registration("0901000001", "KHOGAME", "telegram")
    assert backend.vas.confirm_registration("0901000001").code == "KHOGAME"
    assert backend.vas.confirm_registration("0901000001").code == "MCLOUD"
    assert backend.vas.confirm_registration("0901000001").status == "no_pending"


def test_demo_expired_and_pending_registrations(backend):
    # 0901000008: C90N requested 13 hours ago -> expired.
    assert pending_registrations(backend, "0901000008") == []
    assert backend.vas.confirm_registration("0901000008", "C90N").status == "expired"
    assert backend.vas.active_subscriptions("0901000008") == []
    # 0901000009: D5 requested 1 hour ago -> still pending, confirmable.
    pending = pending_registrations(backend, "0901000009")
    assert [p.code for p in pending] == ["D5"]
    assert pending[0].expires_at - backend.now() == timedelta(hours=11)
    assert backend.vas.request_registration("0901000009", "D5", "telegram").status == \
        "already_pending"
    assert backend.vas.confirm_registration("0901000009").status == "activated"
    assert [s.code for s in backend.vas.active_subscriptions("0901000009")] == ["D5"]


def test_confirm_unknown_inputs(backend):
    assert backend.vas.confirm_registration("0999999999").status == "unknown_number"
    assert backend.vas.confirm_registration("0901000001", "xyz").status == "no_pending"
    assert backend.vas.confirm_registration("0901000001").status == "no_pending"


def test_concurrent_requests_make_one_pending_registration(backend):
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(
            lambda _: backend.vas.request_registration("0901000001", "D5", "telegram").status,
            range(6)))
    assert Counter(results) == {"pending": 1, "already_pending": 5}
    assert len(pending_registrations(backend, "0901000001")) == 1
