"""The review desk's HTTP API: only reviewers, photos decrypted with no caching, every view
and decision audited without personal data, two reviewers cannot both decide, the outcome
reaches the customer's channel (fake Telegram), Zalo outside its window falls back to SMS."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.backend.models import AuditLog
from bot.handoff.accounts import AgentAccounts
from bot.handoff.app import create_app
from bot.handoff.service import HandoffService
from bot.handoff.tickets import TicketStore
from bot.media import media_store
from tests.channels.fakes import FakeTelegram, FakeZalo
from tests.media.photos import jpeg_with_gps, png

PASSWORD = "mat-khau-an-toan"
BASE = "/console/api/review"


@pytest.fixture
def telegram(monkeypatch):
    server = FakeTelegram().start()
    monkeypatch.setenv("TELEGRAM_TOKEN", server.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", server.base_url)
    yield server
    server.stop()


@pytest.fixture
async def desk(backend, clock, rasa, sender, telegram):
    accounts = AgentAccounts(backend.db_url)  # sessions on the real clock: the test moves
    accounts.add_agent("duyet", PASSWORD, roles=["reviewer"])
    accounts.add_agent("thu", PASSWORD, roles=["reviewer"])
    accounts.add_agent("an", PASSWORD)  # an agent of the hand-off desk, not a reviewer
    service = HandoffService(store=TicketStore(backend.db_url, clock=clock), rasa=rasa,
                             send_text=sender, backend=backend, resume_retries=0)
    server = TestServer(create_app(service, accounts, {}, sync_interval=0))
    await server.start_server()
    clients = {}
    for name in ("duyet", "thu", "an", "anon"):
        clients[name] = TestClient(server)
        await clients[name].start_server()
        if name != "anon":
            resp = await clients[name].post("/console/api/login",
                                            json={"name": name, "password": PASSWORD})
            assert resp.status == 200
    yield clients
    for client in clients.values():
        await client.close()
    await server.close()


def _submit(backend, msisdn="0901000011", conversation="tg-5151"):
    photos = {"portrait": media_store().save_photo(jpeg_with_gps()).ref,
              "id_front": media_store().save_photo(png()).ref,
              "id_back": media_store().save_photo(jpeg_with_gps(color=(9, 9, 9))).ref}
    return backend.update_requests.submit(
        msisdn, {"full_name": "Hoàng Thị Mai", "id_number": "079190004321"}, photos,
        "telegram" if conversation.startswith("tg-") else "zalo",
        conversation_id=conversation)


def _audit(backend) -> list[AuditLog]:
    with backend.session() as s:
        return list(s.execute(select(AuditLog).where(AuditLog.actor.like("reviewer:%"))
                              .order_by(AuditLog.id)).scalars())


async def test_only_a_signed_in_reviewer_gets_in(desk, backend):
    req = _submit(backend)
    calls = [("GET", f"{BASE}/queue"), ("GET", f"{BASE}/requests/{req.id}"),
             ("GET", f"{BASE}/requests/{req.id}/photos/portrait"),
             ("POST", f"{BASE}/requests/{req.id}/approve"),
             ("POST", f"{BASE}/requests/{req.id}/reject")]
    for client, status in ((desk["anon"], 401), (desk["an"], 403)):
        for method, path in calls:
            resp = await client.request(method, path, json={"version": 0, "reason": "other",
                                                            "note": "x"})
            assert resp.status == status, (path, status)
    assert backend.update_requests.get(req.id).status == "pending"
    assert _audit(backend) == []
    # A decision needs a JSON body (no cross-site form).
    resp = await desk["duyet"].post(f"{BASE}/requests/{req.id}/approve", data="version=0")
    assert resp.status == 415


async def test_queue_detail_and_photos(desk, backend, clock):
    req = _submit(backend)
    clock.advance(hours=50)  # overdue: on top of the seed's pending request
    resp = await desk["duyet"].get(f"{BASE}/queue")
    body = await resp.json()
    assert resp.headers["Cache-Control"] == "no-store"
    ids = [r["id"] for r in body["requests"]]
    assert ids[0] == req.id or all(r["overdue"] for r in body["requests"][:ids.index(req.id)])
    assert "0901000011" not in str(body)
    assert [r["code"] for r in body["reasons"]] == [
        "photo_unreadable", "data_mismatch", "document_expired", "portrait_invalid", "other"]
    mine = next(r for r in body["requests"] if r["id"] == req.id)
    assert mine["status"] == "pending" and mine["version"] == 0 and mine["overdue"]
    assert mine["hours_left"] == 0 and mine["seconds_left"] == -2 * 3600

    resp = await desk["duyet"].get(f"{BASE}/requests/{req.id}")
    detail = await resp.json()
    assert detail["msisdn_masked"] != "0901000011" and detail["msisdn_masked"].endswith("011")
    assert {"code": "id_number", "label": "Số giấy tờ", "value": "079190004321"} in \
        detail["fields"]
    assert [p["kind"] for p in detail["photos"]] == ["id_front", "id_back", "portrait"]
    registered = backend.subscribers.get("0901000011")
    assert registered.full_name not in str(detail["current"])

    resp = await desk["duyet"].get(detail["photos"][0]["url"])
    assert resp.status == 200 and resp.content_type == "image/png"
    assert "no-store" in resp.headers["Cache-Control"]
    assert (await resp.read()).startswith(b"\x89PNG")
    assert (await desk["duyet"].get(f"{BASE}/requests/{req.id}/photos/selfie")).status == 404
    assert (await desk["duyet"].get(f"{BASE}/requests/999999")).status == 404

    rows = _audit(backend)
    assert [(r.actor, r.action, r.update_request_id) for r in rows] == [
        ("reviewer:duyet", "review_view", req.id),
        ("reviewer:duyet", "review_photo_id_front", req.id)]
    assert rows[0].subscriber_id == registered.id
    stored = " ".join(f"{r.actor} {r.action} {r.subscriber_id}" for r in rows)
    for personal in ("0901000011", "Hoàng", "079190004321", registered.full_name):
        assert personal not in stored


async def test_reject_then_nobody_decides_again_and_the_customer_hears_it(desk, backend,
                                                                          telegram):
    req = _submit(backend)
    url = f"{BASE}/requests/{req.id}"
    resp = await desk["duyet"].post(url + "/reject", json={"version": 0, "reason": "other"})
    assert resp.status == 422  # "other" needs a note
    resp = await desk["duyet"].post(url + "/reject", json={"version": 0, "reason": "whim"})
    assert resp.status == 422
    resp = await desk["duyet"].post(url + "/reject",
                                    json={"version": 0, "reason": "photo_unreadable"})
    body = await resp.json()
    assert resp.status == 200 and body["request"]["status"] == "rejected"
    assert body["notified_via"] == "telegram"
    [text] = telegram.sent_texts(5151)
    assert "chưa được duyệt vì ảnh chụp bị mờ" in text
    markup = telegram.calls("sendMessage")[0].params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in markup] == ["Gửi lại hồ sơ", "Tìm cửa hàng"]

    # The second reviewer still had version 0 on screen.
    resp = await desk["thu"].post(url + "/approve", json={"version": 0})
    conflict = await resp.json()
    assert resp.status == 409 and "duyet" in conflict["message"]
    assert conflict["request"]["status"] == "rejected"
    assert backend.subscribers.get("0901000011").status == "one_way_blocked"
    assert len(telegram.sent_texts(5151)) == 1
    assert [(r.actor, r.action) for r in _audit(backend)] == [
        ("reviewer:duyet", "review_reject")]


async def test_approval_changes_the_registered_data_and_tells_the_customer(desk, backend,
                                                                           telegram):
    req = _submit(backend)
    resp = await desk["thu"].post(f"{BASE}/requests/{req.id}/approve", json={"version": 0})
    assert resp.status == 200
    after = backend.subscribers.get("0901000011")
    assert after.status == "active" and after.full_name == "Hoàng Thị Mai"
    assert after.has_portrait_photo and after.has_id_front_photo and after.has_id_back_photo
    [text] = telegram.sent_texts(5151)
    assert "đã được duyệt" in text and "mở lại chiều gọi đi" in text
    assert backend.update_requests.get(req.id).notified_via == "telegram"
    assert backend.sms.outbox("0901000011") == []


async def test_zalo_outside_the_window_gets_an_sms_instead(desk, backend, monkeypatch):
    zalo = FakeZalo().start()
    try:
        for name, value in (("ZALO_APP_ID", "app-1"), ("ZALO_OA_SECRET_KEY", "oa-secret"),
                            ("ZALO_ACCESS_TOKEN", zalo.access_token),
                            ("ZALO_REFRESH_TOKEN", zalo.refresh_token),
                            ("ZALO_API_BASE_URL", zalo.url), ("ZALO_OAUTH_BASE_URL", zalo.url)):
            monkeypatch.setenv(name, value)
        inside = _submit(backend, msisdn="0901000002", conversation="zalo-in")
        outside = _submit(backend, msisdn="0901000003", conversation="zalo-out")
        zalo.closed_window.add("out")
        resp = await desk["duyet"].post(f"{BASE}/requests/{inside.id}/approve",
                                        json={"version": 0})
        assert (await resp.json())["notified_via"] == "zalo"
        assert "đã được duyệt" in zalo.texts("in")[0]
        resp = await desk["duyet"].post(f"{BASE}/requests/{outside.id}/reject",
                                        json={"version": 0, "reason": "document_expired"})
        assert (await resp.json())["notified_via"] == "sms"
        assert zalo.texts("out") == []
        [sms] = backend.sms.outbox("0901000003")
        assert f"(mã {outside.id})" in sms.text and "hết hạn" in sms.text
    finally:
        zalo.stop()


def test_every_reason_and_photo_problem_has_its_words():
    """A reason added to bot/operator.yml needs the customer's words (domain), the SMS
    words and the reviewer's label; every photo problem code an answer."""
    from actions.update_form import PHOTO_PROBLEMS
    from bot import texts
    from bot.backend import sms
    from bot.backend.update_requests import reject_reasons
    from bot.handoff.review import reason_text
    from bot.handoff.review_routes import review_texts

    for code in reject_reasons():
        assert texts.has_response(f"utter_review_reason_{code}"), code
        assert "{" not in reason_text(code, "ghi chú")
        assert "{" not in sms.render(f"update_reason_{code}", note="ghi chú")
        assert code in review_texts.table("reasons")
    assert reason_text("other", "Ảnh bị lóa") == "hồ sơ chưa hợp lệ (Ảnh bị lóa)"
    for code in PHOTO_PROBLEMS:
        assert "{" not in texts.text(f"utter_photo_{code}", None, max_photo_mb="10"), code
    assert texts.has_response("utter_photo_duplicate")


def test_purge_deletes_old_decided_and_abandoned_photos_only(backend, clock):
    """`bot media purge`: photos of a request decided more than media.retention_days ago,
    and photos no request refers to that are as old; pending and recent ones stay."""
    import os

    from bot.handoff.review import ReviewDesk

    desk = ReviewDesk()
    decided = _submit(backend, msisdn="0901000002")
    pending = _submit(backend, msisdn="0901000003")
    abandoned = media_store().save_photo(jpeg_with_gps(color=(5, 5, 5))).ref
    fresh_orphan = media_store().save_photo(jpeg_with_gps(color=(6, 6, 6))).ref
    backend.update_requests.decide(decided.id, approve=True, reviewer="lan", version=0)
    clock.advance(days=31)
    old = (clock.now.timestamp() - 31 * 86400) - 60
    storage = media_store().storage
    for key in storage.list_keys():  # every file written "31 days ago" but the fresh orphan
        if key not in fresh_orphan:
            os.utime(storage._path(key), (old, old))
    # Requests: ours and the seed's approved one (0901000014, no stored photos); files: the
    # 3 photos of the decided request and the abandoned one.
    assert desk.purge_media() == (2, 4)
    detail = backend.update_requests.detail(decided.id)
    assert all(media_store().load(ref) is None for ref in detail.photos.values())
    assert all(media_store().load(ref) for ref in backend.update_requests.detail(
        pending.id).photos.values())
    assert media_store().load(abandoned) is None and media_store().load(fresh_orphan)
    assert desk.purge_media() == (0, 0)


def test_cli_lists_shows_and_decides(backend, capsys, monkeypatch):
    """`bot review`: the same desk from a terminal; a Telegram conversation that cannot be
    reached (no TELEGRAM_TOKEN here) gets the outcome by SMS."""
    from bot.cli import main

    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    AgentAccounts(backend.db_url).add_agent("duyet", PASSWORD, roles=["reviewer"])
    AgentAccounts(backend.db_url).add_agent("an", PASSWORD)
    first, second = _submit(backend), _submit(backend, msisdn="0901000002")
    assert main(["review", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"#{first.id} " in listed and f"#{second.id} " in listed and "còn 48 giờ" in listed
    with pytest.raises(SystemExit):  # not a reviewer
        main(["review", "approve", str(first.id), "--reviewer", "an"])
    assert main(["review", "show", str(first.id), "--reviewer", "duyet"]) == 0
    shown = capsys.readouterr().out
    assert "Hoàng Thị Mai" in shown and "0901000011" not in shown
    assert main(["review", "reject", str(first.id), "--reviewer", "duyet",
                 "--reason", "other"]) == 1  # "other" needs a note
    assert main(["review", "reject", str(first.id), "--reviewer", "duyet", "--reason", "other",
                 "--note", "Ảnh mặt sau bị lóa"]) == 0
    assert "Đã báo khách qua SMS" in capsys.readouterr().out
    assert "hồ sơ chưa hợp lệ (Ảnh mặt sau bị lóa)" in backend.sms.outbox("0901000011")[-1].text
    assert main(["review", "approve", str(first.id), "--reviewer", "duyet"]) == 1
    assert "đã được duyet xử lý trước" in capsys.readouterr().err
    assert main(["review", "approve", str(second.id), "--reviewer", "duyet"]) == 0
    assert backend.subscribers.get("0901000002").has_portrait_photo
    assert [r.action for r in _audit(backend)] == ["review_view", "review_reject",
                                                   "review_approve"]
