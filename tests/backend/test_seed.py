"""Seed invariants: each demo number's situation, determinism, coverage, speed."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bot.backend import UpdatePath
from bot.backend.models import Shop, Subscriber, Topup
from bot.backend.seed import build_rows, seed
from bot.text import strip_diacritics
from tests.backend_helpers import pending_registrations

FIXED_NOW = datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc)


def _codes(backend, number):
    return sorted(s.code for s in backend.vas.active_subscriptions(number))


def test_demo_numbers_situations(backend):
    b = backend
    d = {n: b.subscribers.get(f"09010000{n:02d}") for n in range(1, 16)}
    status = {n: b.subscribers.decree49_status(f"09010000{n:02d}") for n in range(1, 16)}
    path = {n: b.subscribers.update_path(f"09010000{n:02d}") for n in range(1, 16)}

    # 1: complete, prepaid, smartphone, app installed, FUNRING + MCA, 125.000 đ, occupation.
    assert status[1].complete and not status[1].occupation_missing
    assert (d[1].subscription_type, d[1].device, d[1].app_installed) == (
        "prepaid", "smartphone", True)
    assert _codes(b, "0901000001") == ["FUNRING", "MCA"]
    assert b.account.balance("0901000001").main_vnd == 125000
    # 2: missing portrait, smartphone, no app, MOBITV + KHOGAME.
    assert status[2].missing == ("portrait_photo",) and path[2] is UpdatePath.ONLINE_APP
    assert d[2].device == "smartphone" and not d[2].app_installed
    assert _codes(b, "0901000002") == ["KHOGAME", "MOBITV"]
    # 3: missing ID photos front and back, smartphone, no app.
    assert status[3].missing == ("id_front_photo", "id_back_photo")
    assert d[3].device == "smartphone" and not d[3].app_installed
    assert path[3] is UpdatePath.ONLINE_APP
    # 4: name does not match the ID document.
    assert status[4].missing == ("name_match",) and d[4].device == "smartphone"
    # 5: premium with commitment, missing portrait -> main store.
    assert d[5].is_premium_number and d[5].premium_commitment
    assert status[5].missing == ("portrait_photo",) and path[5] is UpdatePath.STORE_PREMIUM
    # 6: company (TCT), missing document photos -> main store.
    assert d[6].company_tax_code and status[6].missing == ("id_front_photo", "id_back_photo")
    assert path[6] is UpdatePath.STORE_COMPANY
    # 7: feature phone, missing portrait -> store.
    assert d[7].device == "feature_phone" and status[7].missing == ("portrait_photo",)
    assert path[7] is UpdatePath.STORE_FEATURE_PHONE
    # 8: C90N requested 13 hours ago (expired), no active service.
    assert _codes(b, "0901000008") == [] and pending_registrations(b, "0901000008") == []
    # 9: D5 requested 1 hour ago, pending.
    pend = pending_registrations(b, "0901000009")
    assert [p.code for p in pend] == ["D5"]
    assert pend[0].requested_at == b.now() - timedelta(hours=1)
    # 10: postpaid, complete, no occupation, TIN24H.
    assert d[10].subscription_type == "postpaid" and status[10].complete
    assert status[10].occupation_missing and d[10].occupation_code is None
    assert _codes(b, "0901000010") == ["TIN24H"]
    # 11: one-way blocked because information is incomplete.
    assert d[11].status == "one_way_blocked" and not status[11].complete
    # 12: app consulted by SMS 2 hours ago, not installed.
    assert not d[12].app_installed and d[12].device == "smartphone"
    assert b.account.consult_app("0901000012", "telegram").hours_left == 22
    # 13: update request submitted 3 hours ago, pending.
    assert b.update_requests.latest("0901000013").status == "pending"
    # 14: update request approved.
    assert b.update_requests.latest("0901000014").status == "approved" and status[14].complete
    # 15: complete, many top-ups, D5 + TIN24H + MCLOUD.
    assert status[15].complete and _codes(b, "0901000015") == ["D5", "MCLOUD", "TIN24H"]
    assert len(b.account.topups("0901000015", limit=100)) >= 10
    # Every demo number other than the listed exceptions is active with a complete record.
    for n in (1, 8, 9, 10, 12, 14, 15):
        assert status[n].complete and path[n] is UpdatePath.COMPLETE, n
    for n in range(1, 16):
        if n != 11:
            assert d[n].status == "active", n
    # 0999999999 is not a subscriber.
    assert b.subscribers.get("0999999999") is None


def test_population_and_coverage(backend):
    with backend.session() as s:
        subs = s.execute(select(Subscriber)).scalars().all()
        stores = s.execute(select(Shop)).scalars().all()
        topups = s.execute(select(func.count()).select_from(Topup)).scalar_one()
    assert 195 <= len(subs) <= 205
    numbers = [x.msisdn for x in subs]
    assert len(set(numbers)) == len(numbers)
    generated = [x for x in subs if not x.msisdn.startswith("09010000")]
    assert len(generated) == 185
    assert all(x.msisdn[:4] in {f"090{i}" for i in range(2, 10)} for x in generated)
    assert all(len(x.msisdn) == 10 and x.msisdn.isdigit() for x in subs)
    # Realistic names with diacritics, in many provinces.
    with_marks = [x for x in generated if strip_diacritics(x.full_name) != x.full_name]
    assert len(with_marks) > 150
    assert len({x.province for x in generated}) >= 10
    # Every case is represented among generated subscribers.
    views = [backend.subscribers.get(x.msisdn) for x in generated]
    paths = Counter(backend.subscribers.update_path(v.msisdn) for v in views)
    assert all(paths[p] > 0 for p in UpdatePath), paths
    statuses = Counter(v.status for v in views)
    assert {"active", "one_way_blocked", "blocked"} <= set(statuses)
    assert any(v.occupation_code is None for v in views)
    assert any(v.name_mismatch for v in views)
    assert {v.id_type for v in views} == {"CMND", "CCCD", "PASSPORT"}
    assert any(v.subscription_type == "postpaid" for v in views)
    assert any(v.app_installed for v in views) and any(not v.app_installed for v in views)
    # ID numbers look right: CCCD 12 digits, CMND 9 digits.
    for v in views:
        if v.id_type == "CCCD":
            assert len(v.id_number) == 12 and v.id_number.isdigit()
        if v.id_type == "CMND":
            assert len(v.id_number) == 9 and v.id_number.isdigit()
    assert topups > 300
    # Stores in at least 10 provinces, with main stores; the big cities have several.
    provinces = Counter(x.province for x in stores)
    assert len(provinces) >= 10
    for city in ("Hà Nội", "TP Hồ Chí Minh", "Đà Nẵng", "Cần Thơ", "Hải Phòng"):
        assert any(x.is_main for x in stores if x.province == city), city
    assert {"Cầu Giấy", "Hoàn Kiếm", "Đống Đa"} <= {x.district for x in stores
                                                    if x.province == "Hà Nội"}
    assert {"Quận 1", "Quận 3", "Bình Thạnh", "Thủ Đức"} <= {
        x.district for x in stores if x.province == "TP Hồ Chí Minh"}


def test_rows_are_deterministic():
    first, second = build_rows(FIXED_NOW), build_rows(FIXED_NOW)
    assert first == second
    later = build_rows(FIXED_NOW + timedelta(days=3))
    subs_first = {r["msisdn"]: r for r in first[Subscriber]}
    subs_later = {r["msisdn"]: r for r in later[Subscriber]}
    assert subs_first.keys() == subs_later.keys()
    assert subs_first["0901000001"]["full_name"] == subs_later["0901000001"]["full_name"]


def _snapshot(backend):
    with backend.session() as s:
        rows = s.execute(select(Subscriber).order_by(Subscriber.id)).scalars().all()
        subs = [(r.id, r.msisdn, r.full_name, r.id_number, r.status) for r in rows]
    return subs, [(t.at, t.amount_vnd) for t in backend.account.topups("0901000015", limit=100)]


def test_seed_is_idempotent(backend):
    before = _snapshot(backend)
    backend.vas.cancel("0901000001", "FUNRING", "telegram")
    backend.otp.issue("0901000001", "telegram", "telegram:1")
    backend.otp.verify("0901000001", "000000", "telegram:1")
    backend.identity.record("zalo:2", "0901000002", "telegram_contact")
    backend.audit.record("bot:test", "view_profile", "0901000001")
    report = seed(backend)
    assert report.subscribers == 204 and report.services == 8
    assert _snapshot(backend) == before
    assert _codes(backend, "0901000001") == ["FUNRING", "MCA"]
    assert backend.sms.outbox() == [] and backend.audit.recent() == []
    assert backend.identity.verified_number("zalo:2") is None
    # OTP history is gone too: the number gets a fresh code and a full count of tries.
    assert backend.otp.issue("0901000001", "telegram", "telegram:1").status == "sent"
    assert backend.otp.verify("0901000001", "000000", "telegram:1").attempts_left == 4
    # New rows after a re-seed get fresh ids (sequences follow the fixed ids).
    assert backend.update_requests.submit("0901000001", {}, {}, "zalo").id > 1


def test_seed_is_fast(backend):
    started = time.perf_counter()
    seed(backend)
    assert time.perf_counter() - started < 5.0


def test_seed_times_follow_the_clock(backend, clock):
    clock.advance(days=10)
    seed(backend)
    pend = pending_registrations(backend, "0901000009")
    assert pend[0].requested_at == clock.now - timedelta(hours=1)
    assert backend.vas.confirm_registration("0901000008", "C90N").status == "expired"


def test_demo_barrings(backend):
    """docs/demo-numbers.md 16-19: service barrings; other numbers have none."""
    def seen(number):
        return [(b.scope, b.reason, b.debt_vnd) for b in backend.subscribers.barrings(number)]

    assert seen("0901000016") == [("outgoing", "debt", 420000)]
    assert backend.subscribers.get("0901000016").status == "one_way_blocked"
    assert seen("0901000017") == [("international", "not_registered", None),
                                  ("roaming", "not_registered", None)]
    assert seen("0901000018") == [("two_way", "customer_request", None)]
    assert backend.subscribers.get("0901000018").status == "blocked"
    assert seen("0901000019") == [("data", "customer_request", None)]
    assert seen("0901000001") == [] and seen("0999999999") == []
    assert all(backend.subscribers.decree49_status(n).complete for n in (
        "0901000016", "0901000017", "0901000018", "0901000019"))
