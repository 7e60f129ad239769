"""Balance, top-ups, the app 24-hour consultation rule, update requests, SMS outbox, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.backend.models import AuditLog, UpdateRequest
from bot.brand import operator
from tests.backend_helpers import queue_sms


def test_balance(backend):
    bal = backend.account.balance("0901000001")
    assert (bal.main_vnd, bal.is_postpaid, bal.subscriber_status) == (125000, False, "active")
    assert bal.as_of == backend.now()
    assert backend.account.balance("0901000010").is_postpaid is True
    assert backend.account.balance("0999999999") is None


def test_topups_newest_first_with_limit(backend):
    tops = backend.account.topups("0901000015")
    assert len(tops) == 5
    assert [t.at for t in tops] == sorted((t.at for t in tops), reverse=True)
    assert all(t.amount_vnd > 0 and t.channel for t in tops)
    assert len(backend.account.topups("0901000015", limit=50)) == 12
    assert backend.account.topups("0999999999") == []


def test_consult_app_sends_install_link_once(backend, clock):
    result = backend.account.consult_app("0901000002", "telegram")
    assert result.status == "sms_sent"
    sms = backend.sms.outbox("0901000002")[-1].text
    assert operator()["app_link"] in sms and operator()["app_name"] in sms
    clock.advance(hours=3)
    elsewhere = backend.account.consult_app("0901000002", "zalo")
    assert (elsewhere.status, elsewhere.hours_left) == ("consulted_elsewhere", 21)
    same = backend.account.consult_app("0901000002", "telegram")
    assert (same.status, same.hours_left) == ("already_consulted", 21)
    assert len(backend.sms.outbox("0901000002")) == 1
    clock.advance(hours=21)  # 24 hours later the consultation re-opens
    assert backend.account.consult_app("0901000002", "zalo").status == "sms_sent"


def test_consult_app_demo_cases(backend, clock):
    assert backend.account.consult_app("0901000001", "telegram").status == "installed"
    assert backend.account.consult_app("0901000007", "telegram").status == "feature_phone"
    demo12 = backend.account.consult_app("0901000012", "telegram")
    assert (demo12.status, demo12.hours_left) == ("consulted_elsewhere", 22)
    assert backend.account.consult_app("0999999999", "telegram").status == "unknown_number"
    assert backend.sms.outbox() == []
    clock.advance(hours=22)
    assert backend.account.consult_app("0901000012", "telegram").status == "sms_sent"


def test_update_request_submit_latest_and_review(backend, clock):
    assert backend.update_requests.latest("0901000002") is None
    req = backend.update_requests.submit(
        "0901000002", {"full_name": "Trần Thị Bích Ngọc"},
        {"portrait": "upload/abc.jpg"}, "telegram")
    assert req.status == "pending" and req.due_at == clock.now + timedelta(hours=48)
    assert req.submitted_at == clock.now and req.channel == "telegram"
    assert backend.update_requests.latest("0901000002") == req
    with backend.session() as s:
        row = s.get(UpdateRequest, req.id)
        assert row.fields == {"full_name": "Trần Thị Bích Ngọc"}
        assert row.photos == {"portrait": "upload/abc.jpg"}
    clock.advance(hours=20)
    decided = backend.update_requests.review(req.id, approve=True)
    assert decided.status == "approved" and decided.decided_at == clock.now
    assert backend.subscribers.decree49_status("0901000002").complete
    assert "đã được duyệt" in backend.sms.outbox("0901000002")[-1].text
    assert backend.update_requests.submit("0999999999", {}, {}, "telegram") is None


def test_approval_lifts_one_way_block(backend):
    req = backend.update_requests.submit(
        "0901000011", {}, {"portrait": "p.jpg", "id_front": "f.jpg", "id_back": "b.jpg"},
        "zalo")
    assert backend.subscribers.get("0901000011").status == "one_way_blocked"
    backend.update_requests.review(req.id, approve=True)
    assert backend.subscribers.get("0901000011").status == "active"


def test_rejection_changes_nothing(backend):
    req = backend.update_requests.submit("0901000003", {}, {"id_front": "f.jpg"}, "zalo")
    assert backend.update_requests.review(req.id, approve=False).status == "rejected"
    assert backend.subscribers.decree49_status("0901000003").missing == (
        "id_front_photo", "id_back_photo")
    assert backend.update_requests.review(999999, approve=True) is None


def test_demo_update_requests(backend):
    pending = backend.update_requests.latest("0901000013")
    assert pending.status == "pending"
    assert pending.submitted_at == backend.now() - timedelta(hours=3)
    assert pending.due_at - backend.now() == timedelta(hours=45)
    approved = backend.update_requests.latest("0901000014")
    assert approved.status == "approved" and approved.decided_at is not None
    assert backend.subscribers.decree49_status("0901000014").complete


def test_sms_outbox_filters(backend):
    queue_sms(backend, "0901000001", "một")
    queue_sms(backend, "0901000002", "hai")
    queue_sms(backend, "0901000001", "ba")
    all_rows = backend.sms.outbox()
    assert [r.text for r in all_rows] == ["một", "hai", "ba"]
    assert [r.text for r in backend.sms.outbox("0901000001")] == ["một", "ba"]
    assert [r.text for r in backend.sms.outbox(after_id=all_rows[0].id)] == ["hai", "ba"]
    assert all_rows[1].msisdn == "0901000002"
    assert backend.sms.outbox("bad number") == []


def test_audit_holds_no_personal_data(backend, clock):
    sub = backend.subscribers.get("0901000001")
    backend.subscribers.masked_profile("0901000001")
    backend.audit.record("bot:telegram", "view_profile", "0901000001")
    backend.audit.record("agent:42", "view_profile", "0999999999")
    log = backend.audit.recent()
    assert [(a.actor, a.action, a.subscriber_id) for a in log] == [
        ("agent:42", "view_profile", None), ("bot:telegram", "view_profile", sub.id)]
    assert log[1].at == clock.now
    personal = [sub.msisdn, sub.full_name, sub.id_number, sub.birth_date.isoformat(),
                sub.street, sub.msisdn[1:]]
    with backend.session() as s:
        rows = s.execute(select(AuditLog)).scalars().all()
        columns = [c.name for c in AuditLog.__table__.columns]
        stored = " ".join(str(getattr(r, c)) for r in rows for c in columns)
    assert set(columns) == {"id", "actor", "action", "subscriber_id", "at",
                            "update_request_id"}  # internal ids only
    for value in personal:
        assert value not in stored
