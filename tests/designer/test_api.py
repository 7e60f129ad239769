"""The designers' console API: role checks, inbox, conversation (masked), corrections and
stories as pending changes, metrics, and the audit log of every view."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.backend.models import AuditLog
from bot.designer.tracker import TrackerReader
from bot.handoff import designer_routes
from bot.handoff.accounts import AgentAccounts
from bot.handoff.app import create_app
from bot.handoff.service import HandoffService
from bot.handoff.tickets import TicketStore
from tests.designer.conftest import PERSONAL
from tests.handoff.helpers import FakeRasa

PASSWORD = "mat-khau-thiet-ke"
BASE = "/console/api/designer"
CALLS = [("GET", f"{BASE}/options"), ("GET", f"{BASE}/conversations"),
         ("GET", f"{BASE}/conversations/1"), ("GET", f"{BASE}/changes"),
         ("GET", f"{BASE}/metrics"),
         ("POST", f"{BASE}/conversations/1/messages/2/correction"),
         ("POST", f"{BASE}/conversations/1/story"),
         ("POST", f"{BASE}/changes/20260101-000000-abcdef/discard")]


@pytest.fixture
async def clients(backend, clock, _sqlite_tracker, repo_copy):
    accounts = AgentAccounts(backend.db_url, clock=clock)
    accounts.add_agent("mai", PASSWORD, roles=["designer"])
    accounts.add_agent("lan", PASSWORD, roles=["agent"])
    service = HandoffService(store=TicketStore(backend.db_url, clock=clock), rasa=FakeRasa(),
                             backend=backend)
    app = create_app(service, accounts, {}, sync_interval=0)
    app[designer_routes.READER_KEY] = TrackerReader(_sqlite_tracker)
    server = TestServer(app)
    await server.start_server()
    out = {name: TestClient(server) for name in ("mai", "lan", "anon")}
    for name, client in out.items():
        await client.start_server()
        if name != "anon":
            resp = await client.post("/console/api/login",
                                     json={"name": name, "password": PASSWORD})
            assert resp.status == 200
    yield out
    for client in out.values():
        await client.close()
    await server.close()


def _audit(backend) -> list[tuple[str, str, int | None]]:
    with backend.session() as s:
        return [(r.actor, r.action, r.subscriber_id)
                for r in s.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]


async def test_only_designers(clients):
    for method, path in CALLS:
        resp = await clients["anon"].request(method, path, json={})
        assert resp.status == 401, path
        resp = await clients["lan"].request(method, path, json={})
        assert resp.status == 403, path
    page = await clients["anon"].get("/console/designer/")
    assert page.status == 200 and "designer.js" in await page.text()


async def _inbox(client, **params):
    resp = await client.get(f"{BASE}/conversations", params={"since": "2000-01-01", **params})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_inbox_conversation_and_audit(clients, backend):
    mai = clients["mai"]
    data = await _inbox(mai)
    assert data["total"] == 6
    fallback = (await _inbox(mai, outcome="fallback"))["conversations"]
    assert len(fallback) == 1
    abandoned = (await _inbox(mai, outcome="abandoned"))["conversations"][0]
    resp = await mai.get(f"{BASE}/conversations/{abandoned['id']}")
    body = await resp.json()
    dumped = json.dumps(body, ensure_ascii=False).lower()
    for value in PERSONAL:
        assert value.lower() not in dumped, value
    subscriber = backend.subscribers.get("0912345678")
    audit = _audit(backend)
    assert ("designer:mai", "designer_view_inbox", None) in audit
    assert ("designer:mai", f"designer_view_conversation:{abandoned['id']}",
            subscriber.id if subscriber else None) in audit
    assert all("0912345678" not in action for _, action, _ in audit)
    resp = await mai.get(f"{BASE}/conversations/999999")
    assert resp.status == 404
    assert (await mai.get(f"{BASE}/conversations", params={"outcome": "x"})).status == 422
    assert (await mai.get(f"{BASE}/conversations", params={"since": "hôm qua"})).status == 422


async def test_correct_a_fallback_message(clients, repo_copy):
    mai = clients["mai"]
    conv = (await _inbox(mai, outcome="fallback"))["conversations"][0]
    body = await (await mai.get(f"{BASE}/conversations/{conv['id']}")).json()
    first = next(m for m in body["messages"] if m["role"] == "user")
    url = f"{BASE}/conversations/{conv['id']}/messages/{first['event_id']}/correction"
    resp = await mai.post(url, json={"intent": "find_store"})
    assert resp.status == 201, await resp.text()
    change = (await resp.json())["change"]
    assert change["intent"] == "find_store" and change["text"] == "chỗ nào làm lại sim gần nhà"
    assert change["target"] == "data/nlu/06_stores.yml" and change["flags"] == []
    assert change["author"] == "designer:mai"
    assert "+    - chỗ nào làm lại sim gần nhà" in change["diff"]
    assert (repo_copy / ".data/designer/changes" / f"{change['id']}.yml").exists()
    # with an entity given by its words, on an edited sentence
    resp = await mai.post(url, json={"intent": "find_store", "text": "chỗ nào làm sim ở Gò Vấp",
                                      "entities": [{"entity": "location", "text": "Gò Vấp"}]})
    assert (await resp.json())["change"]["line"] == "chỗ nào làm sim ở [Gò Vấp](location)"
    resp = await mai.post(url, json={"intent": "find_store", "text": "chỗ nào",
                                      "entities": [{"entity": "location", "text": "Gò Vấp"}]})
    assert resp.status == 422
    # not a user message of this conversation
    bad = f"{BASE}/conversations/{conv['id']}/messages/{conv['id']}/correction"
    assert (await mai.post(bad, json={"intent": "greet"})).status == 404
    listed = await (await mai.get(f"{BASE}/changes")).json()
    assert len(listed["changes"]) == 2
    resp = await mai.post(f"{BASE}/changes/{change['id']}/discard", json={})
    assert resp.status == 200
    listed = await (await mai.get(f"{BASE}/changes")).json()
    assert len(listed["changes"]) == 1


async def test_save_story_and_metrics(clients, backend):
    mai = clients["mai"]
    conv = (await _inbox(mai, outcome="fallback"))["conversations"][0]
    body = await (await mai.get(f"{BASE}/conversations/{conv['id']}")).json()
    first = next(m for m in body["messages"] if m["role"] == "user")
    resp = await mai.post(f"{BASE}/conversations/{conv['id']}/story",
                          json={"corrections": {str(first["event_id"]):
                                                {"intent": "find_store", "entities": []}}})
    assert resp.status == 201, await resp.text()
    change = (await resp.json())["change"]
    assert change["kind"] == "story" and "intent: find_store" in change["story"]
    assert "nlu_fallback" not in change["story"]
    resp = await mai.get(f"{BASE}/metrics", params={"since": "2000-01-01"})
    metrics = await resp.json()
    assert metrics["conversations"] == 6
    assert {r["intent"] for r in metrics["intents"]} >= {"find_store", "request_human"}
    assert ("designer:mai", "designer_view_metrics", None) in _audit(backend)


async def test_a_missing_tracker_store_is_a_503(clients, tmp_path):
    mai = clients["mai"]
    app = mai.server.app
    app[designer_routes.READER_KEY] = TrackerReader(f"sqlite:///{tmp_path / 'none.db'}")
    resp = await mai.get(f"{BASE}/conversations")
    assert resp.status == 503
    assert (await resp.json())["message"] == "Không đọc được kho hội thoại (tracker store)."
