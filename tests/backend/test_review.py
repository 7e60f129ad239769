"""The back office's decision on an update request: one transaction (fields, Decree-49
completeness, one-way block), optimistic version (two reviewers cannot both decide), the
queue order, the outcome by SMS, the photos' retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.backend.update_requests import ReviewConflict


def _submit(backend, msisdn="0901000011", fields=None, photos=None, conversation="tg-77"):
    return backend.update_requests.submit(
        msisdn, fields or {}, photos if photos is not None else
        {"portrait": "media:" + "a" * 32 + ":" + "1" * 16,
         "id_front": "media:" + "b" * 32 + ":" + "2" * 16,
         "id_back": "media:" + "c" * 32 + ":" + "3" * 16}, "telegram",
        conversation_id=conversation)


def test_approval_updates_registered_data_and_lifts_the_block(backend, clock):
    before = backend.subscribers.get("0901000011")
    assert before.status == "one_way_blocked" and not before.has_portrait_photo
    req = _submit(backend, fields={"nationality": "Việt Nam", "birth_date": "1990-03-05"})
    assert req.version == 0 and req.conversation_id == "tg-77"
    clock.advance(hours=5)
    decision = backend.update_requests.decide(req.id, approve=True, reviewer="lan", version=0)
    assert decision.request.status == "approved" and decision.request.version == 1
    assert decision.request.decided_by == "lan" and decision.request.decided_at == clock.now
    assert decision.unblocked and decision.complete and decision.msisdn == "0901000011"
    assert "portrait_photo" in decision.completed
    after = backend.subscribers.get("0901000011")
    assert after.status == "active" and after.has_portrait_photo and after.has_id_back_photo
    assert after.nationality == "Việt Nam" and str(after.birth_date) == "1990-03-05"
    assert backend.subscribers.decree49_status("0901000011").complete
    assert backend.sms.outbox("0901000011") == []  # the desk tells the customer itself


def test_second_reviewer_cannot_decide_again(backend):
    req = _submit(backend)
    backend.update_requests.decide(req.id, approve=False, reviewer="lan", version=0,
                                   reason="photo_unreadable")
    with pytest.raises(ReviewConflict) as conflict:
        backend.update_requests.decide(req.id, approve=True, reviewer="minh", version=0)
    assert conflict.value.current.status == "rejected"
    assert conflict.value.current.decided_by == "lan"
    # Not even with the new version: a decided request stays decided.
    with pytest.raises(ReviewConflict):
        backend.update_requests.decide(req.id, approve=True, reviewer="minh", version=1)
    assert backend.subscribers.get("0901000011").status == "one_way_blocked"


def test_a_failed_approval_changes_nothing(backend):
    req = _submit(backend, fields={"birth_date": "not a date"})
    with pytest.raises(ValueError, match=f"update request {req.id}"):
        backend.update_requests.decide(req.id, approve=True, reviewer="lan", version=0)
    assert backend.update_requests.get(req.id).status == "pending"  # rolled back
    assert backend.update_requests.get(req.id).version == 0
    assert not backend.subscribers.get("0901000011").has_portrait_photo


def test_rejection_needs_a_listed_reason_and_keeps_the_note(backend):
    req = _submit(backend)
    with pytest.raises(ValueError):
        backend.update_requests.decide(req.id, approve=False, reviewer="lan", version=0,
                                       reason="because")
    decision = backend.update_requests.decide(req.id, approve=False, reviewer="lan",
                                              version=0, reason="other",
                                              note="  Ảnh mặt sau   bị lóa ")
    assert decision.request.reject_reason == "other"
    assert decision.request.reject_note == "Ảnh mặt sau bị lóa"
    assert "Ảnh" not in repr(decision.request)  # free text stays out of logs
    assert backend.update_requests.latest("0901000011").reject_reason == "other"
    with pytest.raises(KeyError):
        backend.update_requests.decide(999999, approve=True, reviewer="lan", version=0)


def test_queue_overdue_first_then_oldest(backend, clock):
    demo = backend.update_requests.pending()  # the seed's pending request(s)
    first = _submit(backend, msisdn="0901000002")
    clock.advance(hours=1)
    second = _submit(backend, msisdn="0901000003")
    clock.advance(hours=48)  # both overdue now; then a fresh one
    third = _submit(backend, msisdn="0901000004")
    ids = [v.id for v in backend.update_requests.pending()]
    mine = [i for i in ids if i in (first.id, second.id, third.id)]
    assert mine == [first.id, second.id, third.id]
    assert ids.index(third.id) == len(ids) - 1  # not overdue: after every overdue one
    assert {v.id for v in demo} <= set(ids)


def test_detail_masks_the_registered_data_and_lists_history(backend):
    old = _submit(backend)
    backend.update_requests.decide(old.id, approve=False, reviewer="lan", version=0,
                                   reason="document_expired")
    new = _submit(backend, fields={"full_name": "Lê Văn Tám", "id_number": "079090001234"})
    detail = backend.update_requests.detail(new.id)
    assert detail.fields == {"full_name": "Lê Văn Tám", "id_number": "079090001234"}
    assert set(detail.photos) == {"portrait", "id_front", "id_back"}
    registered = backend.subscribers.get("0901000011")
    assert registered.id_number and registered.id_number not in detail.current.values()
    assert registered.full_name not in detail.current.values()
    assert [h.id for h in detail.history] == [old.id]
    assert detail.history[0].reject_reason == "document_expired"
    assert "079090001234" not in repr(detail)


def test_sms_outcome_when_the_chat_cannot_be_reached(backend):
    req = _submit(backend)
    backend.update_requests.decide(req.id, approve=False, reviewer="lan", version=0,
                                   reason="data_mismatch")
    assert backend.update_requests.notify_by_sms(req.id)
    sms = backend.sms.outbox("0901000011")[-1]
    assert f"(mã {req.id})" in sms.text and "chưa khớp với giấy tờ" in sms.text
    assert backend.update_requests.get(req.id).notified_via == "sms"


def test_photos_are_listed_for_purge_after_the_retention(backend, clock):
    req = _submit(backend)
    backend.update_requests.decide(req.id, approve=True, reviewer="lan", version=0)
    assert backend.update_requests.media_to_purge() == []
    clock.advance(days=30, seconds=1)
    [(request_id, refs)] = [p for p in backend.update_requests.media_to_purge()
                            if p[0] == req.id]
    assert len(refs) == 3
    backend.update_requests.mark_media_purged(req.id)
    assert all(p[0] != req.id for p in backend.update_requests.media_to_purge())


def test_decision_on_postgres_is_conditional(pg_backend):
    """Two decisions of one version on PostgreSQL: the second finds the row changed."""
    req = _submit(pg_backend)
    pg_backend.update_requests.decide(req.id, approve=True, reviewer="lan", version=0)
    with pytest.raises(ReviewConflict):
        pg_backend.update_requests.decide(req.id, approve=False, reviewer="minh", version=0,
                                          reason="other")
    assert pg_backend.subscribers.get("0901000011").status == "active"
    assert pg_backend.update_requests.get(req.id).due_at - req.submitted_at == timedelta(
        hours=48)
