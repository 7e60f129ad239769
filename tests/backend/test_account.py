"""Balance, top-ups, the app 24-hour consultation rule, update requests, SMS outbox, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.backend.models import AuditLog, UpdateRequest
from bot.brand import operator


def test_balance(backend):
    bal = backend.balance("0901000001")
    assert (bal.main_vnd, bal.is_postpaid, bal.subscriber_status) == (125000, False, "active")
    assert bal.as_of == backend.now()
    assert backend.balance("0901000010").is_postpaid is True
    assert backend.balance("0999999999") is None


def test_topups_newest_first_with_limit(backend):
    tops = backend.topups("0901000015")
    assert len(tops) == 5
    assert [t.at for t in tops] == sorted((t.at for t in tops), reverse=True)
    assert all(t.amount_vnd > 0 and t.channel for t in tops)
    assert len(backend.topups("0901000015", limit=50)) == 12
    assert backend.topups("0999999999") == []


def test_consult_app_sends_install_link_once(backend, clock):
    result = backend.consult_app("0901000002", "telegram")
    assert result.status == "sms_sent"
    sms = backend.sms_outbox("0901000002")[-1].text
    assert operator()["app_link"] in sms and operator()["app_name"] in sms
    clock.advance(hours=3)
    elsewhere = backend.consult_app("0901000002", "zalo")
    assert (elsewhere.status, elsewhere.hours_left) == ("consulted_elsewhere", 21)
    same = backend.consult_app("0901000002", "telegram")
    assert (same.status, same.hours_left) == ("already_consulted", 21)
    assert len(backend.sms_outbox("0901000002")) == 1
    clock.advance(hours=21)  # 24 hours later the consultation re-opens
    assert backend.consult_app("0901000002", "zalo").status == "sms_sent"


def test_consult_app_demo_cases(backend, clock):
    assert backend.consult_app("0901000001", "telegram").status == "installed"
    assert backend.consult_app("0901000007", "telegram").status == "feature_phone"
    demo12 = backend.consult_app("0901000012", "telegram")
    assert (demo12.status, demo12.hours_left) == ("consulted_elsewhere", 22)
    assert backend.consult_app("0999999999", "telegram").status == "unknown_number"
    assert backend.sms_outbox() == []
    clock.advance(hours=22)
    assert backend.consult_app("0901000012", "telegram").status == "sms_sent"


def test_mark_app_installed(backend):
    assert backend.mark_app_installed("0901000002") is True
    assert backend.consult_app("0901000002", "telegram").status == "installed"
    assert backend.mark_app_installed("0999999999") is False


def test_update_request_submit_latest_and_review(backend, clock):
    assert backend.latest_update_request("0901000002") is None
    req = backend.submit_update_request(
        "0901000002", {"full_name": "Trần Thị Bích Ngọc"},
        {"portrait": "upload/abc.jpg"}, "telegram")
    assert req.status == "pending" and req.due_at == clock.now + timedelta(hours=48)
    assert req.submitted_at == clock.now and req.channel == "telegram"
    assert backend.latest_update_request("0901000002") == req
    with backend.session() as s:
        row = s.get(UpdateRequest, req.id)
        assert row.fields == {"full_name": "Trần Thị Bích Ngọc"}
        assert row.photos == {"portrait": "upload/abc.jpg"}
    clock.advance(hours=20)
    decided = backend.review_update_request(req.id, approve=True)
    assert decided.status == "approved" and decided.decided_at == clock.now
    assert backend.decree49_status("0901000002").complete
    assert "đã được duyệt" in backend.sms_outbox("0901000002")[-1].text
    assert backend.submit_update_request("0999999999", {}, {}, "telegram") is None


def test_approval_lifts_one_way_block(backend):
    req = backend.submit_update_request(
        "0901000011", {}, {"portrait": "p.jpg", "id_front": "f.jpg", "id_back": "b.jpg"},
        "zalo")
    assert backend.subscriber("0901000011").status == "one_way_blocked"
    backend.review_update_request(req.id, approve=True)
    assert backend.subscriber("0901000011").status == "active"


def test_rejection_changes_nothing(backend):
    req = backend.submit_update_request("0901000003", {}, {"id_front": "f.jpg"}, "zalo")
    assert backend.review_update_request(req.id, approve=False).status == "rejected"
    assert backend.decree49_status("0901000003").missing == ("id_front_photo", "id_back_photo")
    assert backend.review_update_request(999999, approve=True) is None


def test_demo_update_requests(backend):
    pending = backend.latest_update_request("0901000013")
    assert pending.status == "pending"
    assert pending.submitted_at == backend.now() - timedelta(hours=3)
    assert pending.due_at - backend.now() == timedelta(hours=45)
    approved = backend.latest_update_request("0901000014")
    assert approved.status == "approved" and approved.decided_at is not None
    assert backend.decree49_status("0901000014").complete


def test_sms_outbox_filters(backend):
    backend.send_sms("0901000001", "một")
    backend.send_sms("+84 901 000 002", "hai")
    backend.send_sms("0901000001", "ba")
    all_rows = backend.sms_outbox()
    assert [r.text for r in all_rows] == ["một", "hai", "ba"]
    assert [r.text for r in backend.sms_outbox("0901000001")] == ["một", "ba"]
    assert [r.text for r in backend.sms_outbox(after_id=all_rows[0].id)] == ["hai", "ba"]
    assert all_rows[1].msisdn == "0901000002"
    assert backend.sms_outbox("bad number") == []


def test_audit_holds_no_personal_data(backend, clock):
    sub = backend.subscriber("0901000001")
    backend.masked_profile("0901000001")
    backend.audit("bot:telegram", "view_profile", "0901000001")
    backend.audit("agent:42", "view_profile", "0999999999")
    log = backend.audit_log()
    assert [(a.actor, a.action, a.subscriber_id) for a in log] == [
        ("agent:42", "view_profile", None), ("bot:telegram", "view_profile", sub.id)]
    assert log[1].at == clock.now
    personal = [sub.msisdn, sub.full_name, sub.id_number, sub.birth_date.isoformat(),
                sub.street, sub.msisdn[1:]]
    with backend.session() as s:
        rows = s.execute(select(AuditLog)).scalars().all()
        columns = [c.name for c in AuditLog.__table__.columns]
        stored = " ".join(str(getattr(r, c)) for r in rows for c in columns)
    assert set(columns) == {"id", "actor", "action", "subscriber_id", "at"}
    for value in personal:
        assert value not in stored
