"""HTTP API of the console and the call center: authentication, bad input, two agents on
one ticket, sync of customer messages, resume, audit of personal-data views."""

from __future__ import annotations

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.backend.models import AuditLog
from bot.handoff.accounts import AgentAccounts
from bot.handoff.app import caller_for_token, create_app, parse_api_tokens
from bot.handoff.service import HandoffService
from bot.handoff.tickets import TicketStore
from tests.handoff.helpers import open_args

CRM_TOKEN = "crm-token-0123456789abcdef"
PASSWORD = "mat-khau-an-toan"


@pytest.fixture
async def env(backend, clock, rasa, sender):
    """App on the seeded backend DB, agents `an` and `binh`, one client per agent."""
    store = TicketStore(backend.db_url, clock=clock)
    accounts = AgentAccounts(backend.db_url, clock=clock)
    for name in ("an", "binh"):
        accounts.add_agent(name, PASSWORD)
    service = HandoffService(store=store, rasa=rasa, send_text=sender, backend=backend,
                             resume_retries=0)
    app = create_app(service, accounts, {"crm": CRM_TOKEN}, sync_interval=0)
    server = TestServer(app)
    clients = {name: TestClient(server) for name in ("an", "binh", "anon")}
    await server.start_server()
    for client in clients.values():
        await client.start_server()
    for name in ("an", "binh"):
        resp = await clients[name].post("/console/api/login",
                                        json={"name": name, "password": PASSWORD})
        assert resp.status == 200
    env = type("Env", (), {})()
    env.store, env.rasa, env.sender, env.backend, env.clients = \
        store, rasa, sender, backend, clients
    env.an, env.binh, env.anon = clients["an"], clients["binh"], clients["anon"]
    yield env
    for client in clients.values():
        await client.close()
    await server.close()


def audit_rows(backend) -> list[AuditLog]:
    with backend.session() as s:
        return list(s.execute(select(AuditLog).order_by(AuditLog.id)).scalars())


# ---------------------------------------------------------------- authentication
CONSOLE_CALLS = [("GET", "/console/api/queue"), ("GET", "/console/api/me"),
                 ("GET", "/console/api/tickets/1"), ("GET", "/console/api/tickets/1/messages"),
                 ("POST", "/console/api/tickets/1/claim"),
                 ("POST", "/console/api/tickets/1/reply"),
                 ("POST", "/console/api/tickets/1/resolve"),
                 ("POST", "/console/api/tickets/1/hand-back")]


async def test_console_requires_a_session(env):
    env.store.open_ticket(**open_args())
    for method, path in CONSOLE_CALLS:
        resp = await env.anon.request(method, path, json={"text": "x"})
        assert resp.status == 401, path
        assert (await resp.json())["error"] == "unauthorized"
    env.anon.session.cookie_jar.update_cookies({"handoff_session": "forged-token"})
    assert (await env.anon.get("/console/api/queue")).status == 401
    assert env.sender.sent == [] and env.store.require(1).status == "waiting"


async def test_an_account_without_the_agent_role_cannot_use_the_queue(env, backend):
    AgentAccounts(backend.db_url).add_agent("duyet", PASSWORD, roles=["reviewer"])
    env.store.open_ticket(**open_args())
    resp = await env.anon.post("/console/api/login", json={"name": "duyet", "password": PASSWORD})
    assert resp.status == 200
    me = await (await env.anon.get("/console/api/me")).json()
    assert me == {"agent": "duyet", "roles": ["reviewer"]}
    for method, path in CONSOLE_CALLS:
        if path.endswith("/me"):
            continue
        resp = await env.anon.request(method, path, json={"text": "x"})
        assert resp.status == 403, path
        assert (await resp.json())["error"] == "forbidden"
    assert env.sender.sent == [] and env.store.require(1).status == "waiting"


async def test_login_errors_and_rate_limit(env):
    resp = await env.anon.post("/console/api/login", json={"name": "an", "password": "sai"})
    assert resp.status == 401
    assert (await resp.json())["message"] == "Sai tên đăng nhập hoặc mật khẩu."
    assert (await env.anon.post("/console/api/login", json={"name": "an"})).status == 422
    assert (await env.anon.post("/console/api/login", data="name=an")).status == 415
    for _ in range(4):
        await env.anon.post("/console/api/login", json={"name": "an", "password": "sai"})
    resp = await env.anon.post("/console/api/login", json={"name": "an", "password": PASSWORD})
    assert resp.status == 429  # blocked even with the right password now


async def test_logout_ends_the_session(env):
    assert (await env.an.get("/console/api/me")).status == 200
    assert (await env.an.post("/console/api/logout", json={})).status == 200
    assert (await env.an.get("/console/api/me")).status == 401


async def test_call_center_api_requires_a_valid_token(env):
    body = {"channel": "telegram", "user_id": "42", "goal": "update_subscriber_info"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {CRM_TOKEN}"},
                    {"Authorization": f"Bearer {CRM_TOKEN}x"}):
        resp = await env.anon.post("/api/v1/assistant-handoffs", json=body, headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # the console session cookie is no substitute for an API token
    assert (await env.an.post("/api/v1/assistant-handoffs", json=body)).status == 401
    assert env.rasa.calls == []


def test_token_parsing_and_lookup():
    tokens = parse_api_tokens(" crm = aaaaaaaaaaaaaaaa1 , ivr=bbbbbbbbbbbbbbbb2 ")
    assert tokens == {"crm": "aaaaaaaaaaaaaaaa1", "ivr": "bbbbbbbbbbbbbbbb2"}
    assert caller_for_token(tokens, "bbbbbbbbbbbbbbbb2") == "ivr"
    assert caller_for_token(tokens, "bbbbbbbbbbbbbbbb") is None
    assert parse_api_tokens("") == {}
    for bad in ("crm=short", "no-equals-sign-here-123", "=aaaaaaaaaaaaaaaa1"):
        with pytest.raises(ValueError):
            parse_api_tokens(bad)


# ------------------------------------------------------------------ the console
async def test_queue_lists_urgent_first_with_waiting_time(env, clock):
    env.store.open_ticket(**open_args("tg-1"))
    clock.advance(minutes=2)
    env.store.open_ticket(**open_args("tg-2", reason="lost_sim", priority=0))
    data = await (await env.an.get("/console/api/queue")).json()
    assert [t["conversation_id"] for t in data["tickets"]] == ["tg-2", "tg-1"]
    urgent = data["tickets"][0]
    assert urgent["urgent"] is True and urgent["status_label"] == "Đang chờ"
    assert urgent["reason_label"] == "Mất SIM / điện thoại – khóa gấp"
    assert data["tickets"][1]["waiting_seconds"] >= urgent["waiting_seconds"]
    assert "user_id" not in urgent and urgent["msisdn_masked"] is None


async def test_ticket_detail_shows_masked_profile_and_audits_it(env):
    ticket = env.store.open_ticket(**open_args(verified_msisdn="0901000001"))
    before = len(audit_rows(env.backend))
    resp = await env.an.get(f"/console/api/tickets/{ticket.id}")
    assert resp.status == 200
    data = await resp.json()
    profile = {p["label"]: p["value"] for p in data["profile"]}
    # the customer's labels and values (domain.yml), the number masked for agents too
    assert profile == {
        "Số thuê bao": "090***0001", "Chủ thuê bao": "N** V** An", "Năm sinh": "1992",
        "Loại giấy tờ": "CCCD", "Số giấy tờ": "*********486",
        "Địa chỉ (tỉnh/thành phố)": "Hà Nội", "Loại thuê bao": "Trả trước",
        "Trạng thái": "Đang hoạt động", "Ảnh mặt trước giấy tờ": "Đã có",
        "Ảnh mặt sau giấy tờ": "Đã có", "Ảnh chân dung": "Đã có", "Nghề nghiệp": "Đã cập nhật",
        "Thông tin theo Nghị định 49": "Đầy đủ"}
    assert data["ticket"]["msisdn_masked"] == "090***0001"  # bot.privacy.mask_msisdn
    full = env.backend.subscribers.get("0901000001")
    assert full.id_number not in str(data) and full.full_name not in str(data)
    assert "0901000001" not in str(data)
    rows = audit_rows(env.backend)
    assert [(r.actor, r.action, r.subscriber_id) for r in rows[before:]] == [
        ("agent:an", f"handoff_view_transcript:{ticket.id}", full.id),
        ("agent:an", "handoff_view_profile", full.id)]
    # no profile to show: only the transcript view is audited
    other = env.store.open_ticket(**open_args("tg-7"))
    data = await (await env.an.get(f"/console/api/tickets/{other.id}")).json()
    assert data["profile"] == []
    rows = audit_rows(env.backend)
    assert [(r.actor, r.action, r.subscriber_id) for r in rows[before + 2:]] == [
        ("agent:an", f"handoff_view_transcript:{other.id}", None)]


async def test_two_agents_on_one_ticket(env):
    ticket = env.store.open_ticket(**open_args())
    env.rasa.add("tg-42", {"event": "pause"})  # what action_handoff_to_human returned
    url = f"/console/api/tickets/{ticket.id}"
    resp = await env.an.post(f"{url}/claim", json={})
    assert resp.status == 200
    version = (await resp.json())["ticket"]["version"]

    resp = await env.binh.post(f"{url}/claim", json={})
    assert resp.status == 409
    body = await resp.json()
    assert body["conflict"] == "claimed" and body["message"] == \
        f"Yêu cầu #{ticket.id} đang do an xử lý."
    for path, payload in (("reply", {"text": "để em"}), ("resolve", {"version": version}),
                          ("hand-back", {"version": version})):
        resp = await env.binh.post(f"{url}/{path}", json=payload)
        assert resp.status == 409, path
    assert env.sender.sent == [] and env.rasa.of("append") == []  # nothing reached Rasa

    resp = await env.an.post(f"{url}/reply", json={"text": "Dạ em là An, em hỗ trợ anh ạ."})
    assert resp.status == 201
    assert (await resp.json())["message"]["delivery"] == "sent"
    assert env.sender.sent == [("telegram", "42", "Dạ em là An, em hỗ trợ anh ạ.")]

    resp = await env.an.post(f"{url}/hand-back", json={"version": version - 1})
    assert resp.status == 409 and (await resp.json())["conflict"] == "stale"

    resp = await env.an.post(f"{url}/hand-back", json={"version": version})
    assert resp.status == 200
    assert (await resp.json())["ticket"]["status"] == "handed_back"
    [(_, conversation, events)] = env.rasa.of("append")
    assert conversation == "tg-42"
    assert events == [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
    assert env.sender.sent[-1][2].startswith("Dạ, tổng đài viên đã chuyển anh/chị lại")

    # the second agent's late actions are refused with a clear message
    resp = await env.binh.post(f"{url}/resolve", json={"version": version + 1})
    assert resp.status == 409
    assert (await resp.json())["message"] == f"Yêu cầu #{ticket.id} đã được đóng trước đó."
    roles = [m.role for m in env.store.messages(ticket.id)]
    assert roles.count("agent") == 1


async def test_a_ticket_taken_after_a_new_session_pauses_the_assistant_again(env):
    ticket = env.store.open_ticket(**open_args())
    env.rasa.add("tg-42", {"event": "pause"})
    env.rasa.add("tg-42", {"event": "session_started"})  # Rasa un-paused after 60 minutes
    resp = await env.an.post(f"/console/api/tickets/{ticket.id}/claim", json={})
    assert resp.status == 200
    assert env.rasa.of("append")[-1][2] == [{"event": "pause"}]
    # already paused: the reply does not add another pause
    await env.an.post(f"/console/api/tickets/{ticket.id}/reply", json={"text": "Dạ em đây"})
    assert len(env.rasa.of("append")) == 1


def test_is_with_human(backend, clock):
    from bot.handoff.tickets import is_with_human

    store = TicketStore(backend.db_url, clock=clock)  # BOT_DB_URL points here
    assert is_with_human("tg-42") is False
    ticket = store.open_ticket(**open_args())
    assert is_with_human("tg-42") is True
    store.close(ticket.id, "an", "resolved")
    assert is_with_human("tg-42") is False


async def test_customer_messages_during_the_pause_reach_the_ticket(env):
    ticket = env.store.open_ticket(**open_args())  # transcript ends at 1_700_000_001
    env.rasa.user("tg-42", "trước khi chuyển", ts=1_700_000_000.5)  # already in transcript era
    env.rasa.add("tg-42", {"event": "pause", "timestamp": 1_700_000_002.0})
    env.rasa.user("tg-42", "alo có ai không", ts=1_700_000_003.0)
    env.rasa.user("tg-42", "em cần khóa sim", ts=1_700_000_004.0)
    env.rasa.external("tg-42", "check_balance", ts=1_700_000_004.5)  # not the customer
    env.rasa.user("tg-42", "EXTERNAL: typed", ts=1_700_000_004.7)  # typed: the customer
    url = f"/console/api/tickets/{ticket.id}"
    data = await (await env.an.get(url)).json()
    texts = [m["text"] for m in data["messages"] if m["role"] == "customer"]
    assert texts == ["cho em gặp tổng đài viên", "alo có ai không", "em cần khóa sim",
                     "EXTERNAL: typed"]
    assert data["paused"] is True
    last_id = data["messages"][-1]["id"]
    # polling again copies nothing twice; a new message arrives once
    env.rasa.user("tg-42", "nhanh giúp em", ts=1_700_000_005.0)
    data = await (await env.an.get(f"{url}/messages?after={last_id}")).json()
    assert [m["text"] for m in data["messages"]] == ["nhanh giúp em"]
    data = await (await env.an.get(f"{url}/messages?after=0")).json()
    assert [m["text"] for m in data["messages"]].count("nhanh giúp em") == 1


async def test_messages_right_before_closing_are_kept(env):
    ticket = env.store.open_ticket(**open_args())
    env.rasa.add("tg-42", {"event": "pause", "timestamp": 1_700_000_002.0})
    env.rasa.user("tg-42", "cảm ơn em", ts=1_700_000_003.0)
    resp = await env.an.post(f"/console/api/tickets/{ticket.id}/resolve", json={})
    assert resp.status == 200
    assert "cảm ơn em" in [m.text for m in env.store.messages(ticket.id)]
    assert env.sender.sent[-1][2].startswith("Dạ, tổng đài viên đã hoàn tất")


async def test_failed_delivery_is_stored_and_reported(env):
    ticket = env.store.open_ticket(**open_args())
    env.sender.fail = True
    resp = await env.an.post(f"/console/api/tickets/{ticket.id}/reply", json={"text": "alo"})
    assert resp.status == 201
    body = await resp.json()
    assert body["message"]["delivery"] == "failed" and "chưa gửi được" in body["warning"]
    assert env.store.messages(ticket.id)[-1].delivery == "failed"


async def test_resume_failure_keeps_the_ticket_open(env):
    ticket = env.store.open_ticket(**open_args())
    env.rasa.fail.add("append")
    resp = await env.an.post(f"/console/api/tickets/{ticket.id}/hand-back", json={})
    assert resp.status == 502
    assert "Không kết nối được trợ lý ảo" in (await resp.json())["message"]
    view = env.store.require(ticket.id)
    assert (view.status, view.agent) == ("open", "an")
    env.rasa.fail.clear()
    assert (await env.an.post(f"/console/api/tickets/{ticket.id}/hand-back",
                              json={})).status == 200


async def test_bad_console_input(env):
    ticket = env.store.open_ticket(**open_args())
    url = f"/console/api/tickets/{ticket.id}"
    assert (await env.an.post(f"{url}/reply", data="text=hi")).status == 415
    resp = await env.an.post(f"{url}/reply", data="{not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    assert (await env.an.post(f"{url}/reply", json=["a"])).status == 400
    resp = await env.an.post(f"{url}/reply", json={"text": "   "})
    assert resp.status == 422 and (await resp.json())["error"] == "empty_reply"
    assert (await env.an.post(f"{url}/reply", json={"text": "x" * 4001})).status == 422
    assert (await env.an.post(f"{url}/resolve", json={"version": "3"})).status == 422
    assert (await env.an.post(f"{url}/resolve", json={"version": True})).status == 422
    assert (await env.an.get(f"{url}/messages?after=abc")).status == 422
    assert (await env.an.get("/console/api/tickets/9999")).status == 404
    assert (await env.an.post("/console/api/tickets/9999/claim", json={})).status == 404
    assert (await env.an.get("/console/api/tickets/abc")).status == 404
    assert env.store.require(ticket.id).status == "waiting" and env.sender.sent == []


# ------------------------------------------------------------------ call center
def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {CRM_TOKEN}"}


async def test_hand_customer_to_assistant_by_chat(env):
    before = len(audit_rows(env.backend))
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json={
        "channel": "telegram", "user_id": "42", "goal": "update_subscriber_info",
        "verified_msisdn": "+84 901 000 002", "notes": "Thiếu ảnh chân dung."})
    assert resp.status == 202
    body = await resp.json()
    assert body["conversation_id"] == "tg-42" and body["intent"] == "update_subscriber_info"
    assert body["status"] == "triggered"
    kinds = [c[0] for c in env.rasa.calls]
    assert kinds == ["append", "trigger"]  # slot first, then the intent
    assert env.rasa.calls[0][2] == [
        {"event": "resume"},
        {"event": "slot", "name": "verified_msisdn", "value": "0901000002"},
        {"event": "slot", "name": "phone_number", "value": "0901000002"},
        {"event": "slot", "name": "identity_verified", "value": True}]
    # the server-side fact the actions trust
    assert env.backend.identity.verified_number("tg-42") == "0901000002"
    assert env.rasa.calls[1][2] == {"intent": "update_subscriber_info", "entities": {},
                                    "output_channel": "telegram_ptb"}
    rows = audit_rows(env.backend)
    assert len(rows) == before + 1
    assert (rows[-1].actor, rows[-1].action) == ("api:crm", "handoff_to_assistant")
    assert rows[-1].subscriber_id == env.backend.subscribers.get("0901000002").id


async def test_hand_customer_by_linked_number_with_entities(env):
    from bot.channels.store import ChannelStore

    ChannelStore(env.store.engine).touch_link("zalo", "zu-1", "0901000003")
    env.rasa.trigger_messages = [{"recipient_id": "zalo-zu-1", "text": "Dạ em hủy FunRing"}]
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json={
        "msisdn": "0901000003", "goal": "cancel_service", "entities": {"service": "FUNRING"}})
    assert resp.status == 202
    assert (await resp.json())["conversation_id"] == "zalo-zu-1"
    trigger = env.rasa.of("trigger")[0]
    assert trigger[1] == "zalo-zu-1"
    assert trigger[2]["entities"] == {"service": "FUNRING"}
    assert trigger[2]["output_channel"] == "zalo"
    # Rasa returned the messages itself (no output channel): they are relayed
    assert env.sender.sent == [("zalo", "zu-1", "Dạ em hủy FunRing")]


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"channel": "telegram", "user_id": "42"}, 422, "unknown_goal"),
    ({"channel": "telegram", "user_id": "42", "goal": "drop_table"}, 422, "unknown_goal"),
    ({"goal": "check_balance"}, 422, "no_customer"),
    ({"channel": "viber", "user_id": "1", "goal": "check_balance"}, 422, "invalid_channel"),
    ({"channel": "telegram", "user_id": " ", "goal": "check_balance"}, 422, "invalid_user_id"),
    ({"channel": "telegram", "goal": "check_balance"}, 422, "invalid_user_id"),
    ({"msisdn": "12345", "goal": "check_balance"}, 422, "invalid_msisdn"),
    ({"msisdn": "0909999999", "goal": "check_balance"}, 404, "no_linked_chat"),
    ({"channel": "telegram", "user_id": "42", "goal": "check_balance",
      "verified_msisdn": "abc"}, 422, "invalid_msisdn"),
    ({"channel": "telegram", "user_id": "42", "goal": "check_balance",
      "entities": {"service": "FUNRING"}}, 422, "invalid_entities"),
    ({"channel": "telegram", "user_id": "42", "goal": "check_balance", "notes": 5},
     422, "invalid_notes"),
])
async def test_call_center_bad_input(env, body, status, error):
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json=body)
    assert resp.status == status
    assert (await resp.json())["error"] == error
    assert env.rasa.calls == []


async def test_call_center_non_json_and_conflicts(env):
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), data="goal=x")
    assert resp.status == 415
    ticket = env.store.open_ticket(**open_args())
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json={
        "channel": "telegram", "user_id": "42", "goal": "check_balance"})
    assert resp.status == 409
    assert f"ticket {ticket.id}" in (await resp.json())["message"]
    env.rasa.fail.add("trigger404")
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json={
        "channel": "telegram", "user_id": "43", "goal": "check_balance"})
    assert resp.status == 422 and (await resp.json())["error"] == "goal_not_in_domain"
    env.rasa.fail = {"append"}
    resp = await env.anon.post("/api/v1/assistant-handoffs", headers=bearer(), json={
        "channel": "telegram", "user_id": "44", "goal": "check_balance"})
    assert resp.status == 502 and (await resp.json())["error"] == "rasa_unavailable"


async def test_openapi_goals_and_console_page(env):
    resp = await env.anon.get("/api/v1/openapi.yaml")
    assert resp.status == 200
    spec = yaml.safe_load(await resp.text())
    assert "/api/v1/assistant-handoffs" in spec["paths"]
    goal_enum = spec["components"]["schemas"]["AssistantHandoff"]["properties"]["goal"]["enum"]
    goals = (await (await env.anon.get("/api/v1/goals")).json())["goals"]
    assert sorted(goal_enum) == sorted(g["goal"] for g in goals)
    page = await env.anon.get("/console/")
    assert page.status == 200 and "Bàn hỗ trợ khách hàng" in await page.text()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert (await env.anon.get("/console/static/app.js")).status == 200
    shared = await env.anon.get("/console/static/console.js")  # loaded by every page
    assert shared.status == 200 and "async function call(" in await shared.text()
