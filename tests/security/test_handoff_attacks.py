"""Attacks on the hand-off service (agent console + call-center API), each kept as a
regression test (docs/handoff.md, "Security"; docs/security.md).

Everything goes through the real aiohttp app on a real socket (aiohttp's TestServer on
127.0.0.1, clients with their own source address 127.0.0.x where the test needs distinct
client addresses), on the seeded test database, with an in-memory stand-in of Rasa's HTTP
API (tests/handoff/helpers.FakeRasa). The Rasa client is tested against a local server that
records what it receives, and against Rasa's own `requires_auth` (rasa/server.py).

Each test fails on the code before this round: form posts logged agents out, an agent's
name typed five times from anywhere locked the agent out, the failure table grew without
bound, tickets held the ID numbers and birth dates customers typed, transcript views were
not audited, a typed "EXTERNAL: ..." hid the customer's message from the agent, the auth
token travelled in Rasa URLs, a call-center transfer did not reach the identity ledger nor
set `identity_verified`, and an empty HANDOFF_HOST listened on every interface.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from sqlalchemy import select

from bot.backend.models import AuditLog, IdentityVerification
from bot.handoff import dialogue
from bot.handoff.accounts import AgentAccounts
from bot.handoff.app import FailureTable, LoginLimiter, create_app, max_request_bytes
from bot.handoff.rasa_client import RasaClient, make_jwt
from bot.handoff.service import HandoffService
from bot.handoff.tickets import TicketStore
from tests.handoff.helpers import FakeRasa, FakeSender, open_args
from tests.security.conftest import CRM_TOKEN as STACK_CRM_TOKEN
from tests.security.conftest import Stack, request
from tests.servers import (
    BIN,
    REPO,
    TEST_SECRETS,
    free_port,
    listening_addresses,
    stack_env,
    wait_http,
)

PASSWORD = "mat-khau-an-toan"
CRM_TOKEN = "crm-token-0123456789abcdef"
JWT_SECRET = "handoff-test-jwt-secret-6c1d8e0a4f2b9d7e3a5c"

ID_NUMBER, BIRTH_DATE, BIRTH_ISO, PHONE = "079185001234", "12/03/1985", "1985-03-12", "0901000001"
FULL_NAME = "Trần Thị Bích"
SECRETS = (ID_NUMBER, BIRTH_DATE, BIRTH_ISO, PHONE, FULL_NAME)


# ------------------------------------------------------------------ harness
class Harness:
    def __init__(self, app: web.Application, server: TestServer, store: TicketStore,
                 rasa: FakeRasa, sender: FakeSender, backend: Any) -> None:
        self.app, self.server, self.store = app, server, store
        self.rasa, self.sender, self.backend = rasa, sender, backend
        self.sessions: list[aiohttp.ClientSession] = []

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def client(self, source: str | None = None) -> aiohttp.ClientSession:
        """A browser-like client (own cookie jar), from source address `source`."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0) if source else None,
                                         force_close=True)
        session = aiohttp.ClientSession(base_url=self.url, connector=connector,
                                        cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(session)
        return session

    async def login(self, session: aiohttp.ClientSession, name: str = "an",
                    password: str = PASSWORD, **headers: str) -> int:
        async with session.post("/console/api/login", json={"name": name, "password": password},
                                headers=headers) as resp:
            return resp.status

    def audit(self) -> list[AuditLog]:
        with self.backend.session() as s:
            return list(s.execute(select(AuditLog).order_by(AuditLog.id)).scalars())


@pytest.fixture
def harness(backend, clock):
    """`async with harness(**create_app kwargs) as h`: the real app on 127.0.0.1."""

    @asynccontextmanager
    async def start(service_backend: Any = None, **options: Any) -> AsyncIterator[Harness]:
        store = TicketStore(backend.db_url, clock=clock)
        accounts = AgentAccounts(backend.db_url, clock=clock)
        for name in ("an", "binh"):
            if name not in {a.name for a in accounts.agents()}:
                accounts.add_agent(name, PASSWORD)
        rasa, sender = FakeRasa(), FakeSender()
        service = HandoffService(store=store, rasa=rasa, send_text=sender,
                                 backend=service_backend or backend, resume_retries=0)
        app = create_app(service, accounts, {"crm": CRM_TOKEN}, sync_interval=0, **options)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        h = Harness(app, server, store, rasa, sender, backend)
        try:
            yield h
        finally:
            for session in h.sessions:
                await session.close()
            await server.close()

    return start


# ------------------------------------------------------------------ CSRF
def form_bodies() -> list[tuple[str, dict[str, Any]]]:
    """What a cross-site HTML form can send (fresh objects: FormData is single-use)."""
    return [("urlencoded", {"data": {"text": "hi", "version": "1"}}),
            ("text/plain", {"data": "text=hi", "headers": {"Content-Type": "text/plain"}}),
            ("multipart", {"data": _multipart()})]


def _multipart() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("text", "hi", content_type="text/plain")  # forces multipart/form-data
    return form


async def test_form_posts_cannot_log_out_or_change_state(harness):
    """What a cross-site HTML form can send (urlencoded, multipart, text/plain) is refused
    by every state-changing console route, logout included; the session stays valid."""
    async with harness() as h:
        ticket = h.store.open_ticket(**open_args())
        agent = h.client()
        assert await h.login(agent) == 200
        routes = sorted({r.resource.canonical for r in h.app.router.routes()
                         if r.method == "POST" and r.resource is not None
                         and r.resource.canonical.startswith("/console/api/")})
        assert "/console/api/logout" in routes and len(routes) >= 6
        paths = [c.replace("{ticket_id}", str(ticket.id)) for c in routes]
        for path in sorted(paths, key=lambda p: not p.endswith("/logout")):
            for kind, kwargs in form_bodies():
                async with agent.post(path, **kwargs) as resp:
                    assert resp.status == 415, (path, kind, resp.status)
        async with agent.get("/console/api/me") as resp:
            assert resp.status == 200  # still signed in
        for path in paths:
            # a browser that says the call comes from another site: refused even as JSON
            async with agent.post(path, json={"text": "hi"},
                                  headers={"Sec-Fetch-Site": "cross-site"}) as resp:
                assert resp.status == 403, (path, resp.status)
        view = h.store.require(ticket.id)
        assert (view.status, view.agent) == ("waiting", None)
        assert [m.role for m in h.store.messages(ticket.id)] == ["customer", "bot"]
        assert h.sender.sent == [] and h.rasa.calls == []
        # the console's own call (JSON) still works
        async with agent.post("/console/api/logout", json={}) as resp:
            assert resp.status == 200
        async with agent.get("/console/api/me") as resp:
            assert resp.status == 401


# ------------------------------------------------------------------ login throttling
async def test_no_lockout_by_name_from_another_address(harness):
    """An attacker types agent `an`'s name with wrong passwords from 127.0.0.2: that address
    is throttled (even the right password is refused there, and guessing other names
    hits the per-address cap), while `an` signs in from 127.0.0.3."""
    async with harness() as h:
        attacker, agent = h.client("127.0.0.2"), h.client("127.0.0.3")
        for _ in range(5):
            assert await h.login(attacker, "an", "wrong-password") == 401
        assert await h.login(attacker, "an", PASSWORD) == 429  # throttled there
        assert await h.login(agent, "an", PASSWORD) == 200  # not locked out
        # the per-address cap: many names from the attacker's address
        statuses = [await h.login(attacker, f"name{i}", "wrong-password") for i in range(16)]
        assert statuses[:15] == [401] * 15 and statuses[15] == 429
        assert await h.login(attacker, "binh", PASSWORD) == 429
        assert await h.login(h.client("127.0.0.4"), "binh", PASSWORD) == 200


async def test_forwarded_header_believed_only_from_trusted_proxies(harness):
    """X-Forwarded-For from a peer that is not a trusted proxy is ignored (a rotating
    header does not escape the throttle); from a trusted proxy it names the client."""
    async with harness(trusted_proxy_header="X-Forwarded-For",
                       trusted_proxies="10.9.8.7") as h:  # our peer 127.0.0.1 is not one
        attacker = h.client()
        for i in range(5):
            status = await h.login(attacker, "an", "wrong-password",
                                   **{"X-Forwarded-For": f"203.0.113.{i}"})
            assert status == 401
        status = await h.login(attacker, "an", PASSWORD,
                               **{"X-Forwarded-For": "198.51.100.99"})
        assert status == 429  # the peer address is what counts
    async with harness(trusted_proxy_header="X-Forwarded-For",
                       trusted_proxies="127.0.0.1/32") as h:  # behind our own proxy
        proxy = h.client()
        for _ in range(5):
            assert await h.login(proxy, "an", "wrong-password",
                                 **{"X-Forwarded-For": "6.6.6.6, 203.0.113.5"}) == 401
        assert await h.login(proxy, "an", PASSWORD,
                             **{"X-Forwarded-For": "203.0.113.5"}) == 429
        # another client behind the same proxy (a forged left-most entry is not believed)
        assert await h.login(proxy, "an", PASSWORD,
                             **{"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}) == 200


async def test_failure_table_stays_bounded(harness):
    """Failures from ever new addresses do not grow the table past its cap."""
    limiter = LoginLimiter(max_entries=8)
    async with harness(trusted_proxy_header="X-Forwarded-For", trusted_proxies="127.0.0.1",
                       login_limiter=limiter) as h:
        client = h.client()
        for i in range(30):
            assert await h.login(client, f"agent{i}", "wrong-password",
                                 **{"X-Forwarded-For": f"198.51.100.{i}"}) == 401
            assert len(limiter.pairs) <= 8 and len(limiter.addresses) <= 8
        assert len(limiter.pairs) == 8


def test_failure_table_prunes_expired_then_evicts_oldest():
    now = [1000.0]
    table = FailureTable(window_s=300, max_per_key=5, max_keys=3, clock=lambda: now[0])
    for _ in range(7):
        table.add("a")
    assert table.count("a") == 5  # at most max_per_key times per key
    table.add("b")
    now[0] += 200
    table.add("c")
    now[0] += 150  # a and b expired, c alive
    table.add("d")
    assert len(table) == 2 and table.count("c") == 1 and table.count("a") == 0
    table.add("e")
    table.add("f")  # full of live keys: the oldest (c) is evicted
    assert len(table) == 3 and table.count("c") == 0
    assert [table.count(k) for k in ("d", "e", "f")] == [1, 1, 1]


# ------------------------------------------------------------------ personal data
def _user(text: str, intent: str, ts: float, **extra: Any) -> dict:
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
            **extra}


def _bot(text: str, ts: float) -> dict:
    return {"event": "bot", "text": text, "timestamp": ts}


async def test_tickets_hold_no_full_id_number_birth_date_or_phone(harness, clock, monkeypatch,
                                                                caplog):
    """The customer types their ID number, date of birth and phone (the update form asks
    for them; the assistant repeats them in its confirmation), asks for a person, and keeps
    typing while waiting: none of it is stored in the ticket or shown to the agent in
    full, and none reaches the log."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions import handoff as action_module
    from actions.handoff import ActionHandoffToHuman

    caplog.set_level(logging.DEBUG)
    t0 = clock().timestamp() - 60
    events = [
        _user("cập nhật thông tin", "update_subscriber_info", t0),
        _bot(f"Anh/chị kiểm tra lại thông tin giúp em:\n- Họ tên: {FULL_NAME}\n"
             f"- Ngày sinh: {BIRTH_DATE}\n- Số giấy tờ: {ID_NUMBER}\n"
             "Thông tin trên đã chính xác chưa ạ?", t0 + 1),
        _user(f"sai rồi, cccd {ID_NUMBER}, sinh ngày {BIRTH_DATE}, số {PHONE}",
              "nlu_fallback", t0 + 2),
        _user(f"cho gặp nhân viên, cccd em {ID_NUMBER} sinh {BIRTH_ISO}", "request_human",
              t0 + 3),
    ]
    latest = {"text": events[-1]["text"], "intent": events[-1]["parse_data"]["intent"],
              "entities": [], "metadata": {}}
    async with harness() as h:
        action = ActionHandoffToHuman()
        action.store = h.store
        monkeypatch.setattr(action_module, "_now", clock)
        tracker = Tracker("tg-4242", {}, latest, events, False, None, {}, "action_listen")
        await action.run(CollectingDispatcher(), tracker, {})
        [ticket] = h.store.queue()
        h.rasa.user("tg-4242", f"em nhắc lại: {PHONE}, ngày sinh {BIRTH_DATE}", ts=t0 + 30)
        agent = h.client()
        assert await h.login(agent) == 200
        shown = []
        for path in (f"/tickets/{ticket.id}", "/queue", f"/tickets/{ticket.id}/messages"):
            async with agent.get(f"/console/api{path}") as resp:
                assert resp.status == 200
                shown.append(json.dumps(await resp.json(), ensure_ascii=False))
        stored = [h.store.require(ticket.id).summary] + \
            [m.text for m in h.store.messages(ticket.id)]
        assert len(stored) == 6  # summary + 4 transcript lines + the message while waiting
        assert any("nhắc lại" in text for text in stored)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for secret in SECRETS:
            for where, text in (("stored", "\n".join(stored)), ("detail", shown[0]),
                                ("queue", shown[1]), ("messages", shown[2]), ("log", logged)):
                assert secret not in text, (secret, where)
        # the agent still recognises which number / document (last digits kept)
        assert f"*********{ID_NUMBER[-3:]}" in shown[0]
        assert "T** T** Bích" in shown[0]


async def test_every_transcript_view_is_audited(harness):
    """Opening a ticket and reading its messages each write an audit row (ids only), with
    or without a verified number."""
    async with harness() as h:
        verified = h.store.open_ticket(**open_args("tg-1", verified_msisdn=PHONE))
        anonymous = h.store.open_ticket(**open_args("tg-2"))
        agent = h.client()
        assert await h.login(agent) == 200
        before = len(h.audit())
        subscriber = h.backend.subscribers.get(PHONE)
        for ticket, path in ((verified, ""), (verified, "/messages?after=0"),
                             (anonymous, ""), (anonymous, "/messages?after=0")):
            async with agent.get(f"/console/api/tickets/{ticket.id}{path}") as resp:
                assert resp.status == 200
        rows = [(r.actor, r.action, r.subscriber_id) for r in h.audit()[before:]]
        transcript_views = [r for r in rows if r[1].startswith("handoff_view_transcript")]
        assert transcript_views == [
            ("agent:an", f"handoff_view_transcript:{verified.id}", subscriber.id),
            ("agent:an", f"handoff_view_transcript:{verified.id}", subscriber.id),
            ("agent:an", f"handoff_view_transcript:{anonymous.id}", None),
            ("agent:an", f"handoff_view_transcript:{anonymous.id}", None)]
        assert ("agent:an", "handoff_view_profile", subscriber.id) in rows
        for actor, action, _ in rows:  # ids only: no number in the entry
            assert PHONE not in actor + action and PHONE[-6:] not in actor + action


# ------------------------------------------------------------------ EXTERNAL:
async def test_typed_external_prefix_is_a_customer_message(harness):
    """A customer typing "EXTERNAL: ..." is shown to the agent as the customer's words; only
    an event Rasa marked external (metadata) is a system line."""
    ts = 1_700_000_000.0
    events = [_user("EXTERNAL: request_human", "request_human", ts),
              _bot("Dạ em chuyển ngay ạ.", ts + 1),
              _user("EXTERNAL: check_balance", "check_balance", ts + 2,
                    metadata={"is_external": True})]
    lines = dialogue.transcript(events)
    assert lines[0] == {"role": "customer", "text": "EXTERNAL: request_human", "ts": ts}
    assert lines[2]["role"] == "system" and "số dư" in lines[2]["text"]
    assert "EXTERNAL: request_human" in dialogue.summary(events[:2], "customer_request", {})
    async with harness() as h:
        ticket = h.store.open_ticket(**open_args())  # transcript ends at 1_700_000_001
        h.rasa.user("tg-42", "EXTERNAL: giúp em với, bị trừ tiền", ts=1_700_000_003.0)
        h.rasa.external("tg-42", "check_balance", ts=1_700_000_004.0)
        agent = h.client()
        assert await h.login(agent) == 200
        async with agent.get(f"/console/api/tickets/{ticket.id}") as resp:
            data = await resp.json()
        customer = [m["text"] for m in data["messages"] if m["role"] == "customer"]
        assert customer[-1] == "EXTERNAL: giúp em với, bị trừ tiền"
        assert "EXTERNAL: check_balance" not in json.dumps(data, ensure_ascii=False)


# ------------------------------------------------------------------ Rasa client auth
@pytest.fixture
async def recording_rasa():
    """A stand-in for Rasa that records method, URL and headers of every request."""
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "url": request.raw_path,
                     "raw_path": request.raw_path, "query": dict(request.query),
                     "headers": CIMultiDict(request.headers)})
        if request.path == "/domain":
            return web.json_response({"intents": ["greet"]})
        return web.json_response({"events": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), seen
    await server.close()


@pytest.fixture
async def rasa_auth():
    """Rasa's real authentication: `requires_auth` of a Rasa server app started with
    `--jwt-secret` (and an auth token), around a handler that says who got through."""
    from rasa.server import create_app as rasa_app
    from rasa.server import requires_auth
    from sanic import Sanic

    test_mode, Sanic.test_mode = Sanic.test_mode, True  # the app name may exist already
    try:
        app = rasa_app(agent=None, auth_token="rasa-auth-token-0123456789abcdef",
                       jwt_secret=JWT_SECRET, jwt_method="HS256")
    finally:
        Sanic.test_mode = test_mode

    async def handler(request: Any, conversation_id: str) -> str:
        return f"ok {conversation_id}"

    protected = requires_auth(app, "rasa-auth-token-0123456789abcdef")(handler)

    async def check(recorded: dict[str, Any], conversation_id: str = "tg-1") -> str:
        request = type("Request", (), {"app": app, "headers": recorded["headers"],
                                       "args": recorded["query"], "cookies": {}})()
        return await protected(request, conversation_id=conversation_id)

    return check


async def test_rasa_client_sends_a_jwt_header_and_no_token_in_urls(recording_rasa, rasa_auth,
                                                                   monkeypatch):
    url, seen = recording_rasa
    monkeypatch.setenv("RASA_AUTH_TOKEN", "rasa-auth-token-0123456789abcdef")
    client = RasaClient(url, jwt_secret=JWT_SECRET)
    try:
        await client.tracker("tg-1")
        await client.append_events("tg-1", [{"event": "resume"}])
        await client.trigger_intent("tg-1", "check_balance", None, "telegram_ptb")
        await client.intents()
    finally:
        await client.close()
    assert len(seen) == 4
    for recorded in seen:
        assert "token" not in recorded["query"], recorded["url"]
        assert "rasa-auth-token" not in recorded["url"] and JWT_SECRET not in recorded["url"]
        scheme, _, token = recorded["headers"]["Authorization"].partition(" ")
        assert scheme == "Bearer" and token not in recorded["url"]
        payload = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
        assert payload["user"] == {"username": "handoff", "role": "admin"}
        assert 0 < payload["exp"] - time.time() <= 61
        # and Rasa's own check lets it through, for any conversation (role admin)
        assert await rasa_auth(recorded, "zalo-99") == "ok zalo-99"


async def test_rasa_rejects_what_the_old_or_a_forged_client_would_send(rasa_auth):
    from rasa.server import ErrorResponse

    forged = jwt.encode({"user": {"username": "handoff", "role": "admin"},
                         "exp": int(time.time()) + 60}, "not-the-secret-" + "x" * 32,
                        algorithm="HS256")
    expired = jwt.encode({"user": {"username": "handoff", "role": "admin"},
                          "exp": int(time.time()) - 600},  # Rasa allows 180 s of leeway
                         JWT_SECRET, algorithm="HS256")
    for token in (forged, expired):
        with pytest.raises(ErrorResponse) as err:
            await rasa_auth({"headers": CIMultiDict({"Authorization": f"Bearer {token}"}),
                             "query": {}})
        assert err.value.status == 401


async def test_rasa_client_never_puts_a_token_in_urls_outside_development(recording_rasa,
                                                                        monkeypatch):
    url, seen = recording_rasa
    monkeypatch.setenv("BOT_ENV", "prod")
    monkeypatch.delenv("RASA_JWT_SECRET", raising=False)
    client = RasaClient(url, token="rasa-auth-token-0123456789abcdef")
    try:
        await client.tracker("tg-1")
    finally:
        await client.close()
    assert "token" not in seen[-1]["query"] and "Authorization" not in seen[-1]["headers"]


# ------------------------------------------------------------------ call center identity
async def test_call_center_handoff_writes_the_ledger_and_sets_both_slots(harness):
    async with harness() as h:
        client = h.client()
        body = {"channel": "telegram", "user_id": "77", "goal": "check_subscriber_info",
                "verified_msisdn": "0901000002"}
        # without the caller's token nothing is recorded
        async with client.post("/api/v1/assistant-handoffs", json=body,
                               headers={"Authorization": "Bearer not-the-token-000000"}) as r:
            assert r.status == 401
        assert h.backend.identity.verified_number("tg-77") is None
        async with client.post("/api/v1/assistant-handoffs", json=body,
                               headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as resp:
            assert resp.status == 202
        assert h.backend.identity.verified_number("tg-77") == "0901000002"
        with h.backend.session() as s:
            [row] = s.execute(select(IdentityVerification).where(
                IdentityVerification.conversation_id == "tg-77")).scalars()
            assert (row.msisdn, row.method) == ("0901000002", "call_center")
        [(_, conversation, events)] = h.rasa.of("append")
        slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
        assert conversation == "tg-77"
        assert slots == {"identity_verified": True, "verified_msisdn": "0901000002",
                         "phone_number": "0901000002"}


async def test_call_center_handoff_stops_when_the_ledger_cannot_be_written(harness, backend):
    class BrokenLedger:
        def record(self, *args: Any) -> None:
            raise RuntimeError("database down")

    class NoLedger:
        identity = BrokenLedger()

        def __getattr__(self, name: str) -> Any:
            return getattr(backend, name)

    async with harness(service_backend=NoLedger()) as h:
        async with h.client().post(
                "/api/v1/assistant-handoffs", headers={"Authorization": f"Bearer {CRM_TOKEN}"},
                json={"channel": "telegram", "user_id": "78", "goal": "check_balance",
                      "verified_msisdn": "0901000002"}) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"] == "identity_unavailable"
        assert h.rasa.calls == []  # no slot claims a proof the server does not hold


def test_call_center_handoff_through_the_real_servers(stack: Stack):
    """The real stack (`bot serve rasa` with its JWT secret, the action server, `bot handoff
    serve`): the transfer reaches Rasa with the hand-off's JWT, the ledger holds the
    number, both slots are set, and the assistant shows the masked profile at once instead
    of asking for an OTP (TEST_MODEL; skipped without it)."""
    from bot.backend import Backend

    status, body = request("POST", f"{stack.handoff_url}/api/v1/assistant-handoffs", {
        "channel": "telegram", "user_id": "5550001", "goal": "check_subscriber_info",
        "verified_msisdn": "0901000002"}, {"Authorization": f"Bearer {STACK_CRM_TOKEN}"})
    assert (status, body["status"]) == (202, "triggered"), (body, stack.procs.log_tail())
    jwt_header = {"Authorization": f"Bearer {make_jwt(TEST_SECRETS['RASA_JWT_SECRET'])}"}
    status, tracker = request("GET", f"{stack.rasa_url}/conversations/tg-5550001/tracker",
                              headers=jwt_header)
    assert status == 200
    assert tracker["slots"]["identity_verified"] is True
    assert tracker["slots"]["verified_msisdn"] == "0901000002"
    answers = "\n".join(e.get("text") or "" for e in tracker["events"] if e["event"] == "bot")
    assert "Chủ thuê bao" in answers and "mã OTP" not in answers, answers
    backend = Backend(stack.db_url)
    try:
        assert backend.identity.verified_number("tg-5550001") == "0901000002"
    finally:
        backend.dispose()


# ------------------------------------------------------------------ body cap, binding
async def test_request_bodies_are_capped(harness):
    """Bodies over `limits.max_request_bytes` are refused before anything is done, declared
    or chunked, with the API's JSON error body."""
    limit = max_request_bytes()
    big = json.dumps({"name": "an", "password": "x" * limit}).encode()

    async def chunks():
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    async with harness() as h:
        client = h.client()
        for chunked in (False, True):  # declared length, and a chunked body
            async with client.post("/console/api/login", data=chunks() if chunked else big,
                                   headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 413
                assert (await resp.json())["error"] == "too_large"
            async with client.post("/api/v1/assistant-handoffs",
                                   data=chunks() if chunked else big,
                                   headers={"Content-Type": "application/json",
                                            "Authorization": f"Bearer {CRM_TOKEN}"}) as resp:
                assert resp.status == 413
                assert (await resp.json())["error"] == "too_large"
        assert h.rasa.calls == []


def _serve(env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "bot"), "handoff", "serve", "--port", str(port)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


async def test_serve_binds_loopback_unless_configured(tmp_path):
    port = free_port()
    env = stack_env(BOT_DB_URL=f"sqlite:///{tmp_path / 'h.db'}", HANDOFF_HOST="")
    proc = _serve(env, port)
    try:
        ready = await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/healthz", proc, 60)
        assert ready, proc.stdout.read() if proc.poll() is not None else "not ready"
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_refuses_production_without_a_jwt_secret(tmp_path):
    port = free_port()
    env = stack_env(BOT_DB_URL=f"sqlite:///{tmp_path / 'h.db'}", BOT_ENV="prod",
                    RASA_JWT_SECRET="")
    proc = subprocess.run([str(BIN / "bot"), "handoff", "serve", "--port", str(port)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "RASA_JWT_SECRET" in proc.stderr
    assert not listening_addresses(port)
