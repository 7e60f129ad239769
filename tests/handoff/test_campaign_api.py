"""The campaigns' console API: only accounts with the `campaigns` role, a campaign created
checked (422 on wrong values, JSON body only), started, paused, resumed in order (409
otherwise), its report with counts only."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.handoff.accounts import AgentAccounts
from bot.handoff.app import create_app
from bot.handoff.service import HandoffService
from bot.handoff.tickets import TicketStore

PASSWORD = "mat-khau-an-toan"
BASE = "/console/api/campaigns"
GOOD = {"name": "Nhắc NĐ49", "deadline": "31/12/2026", "missing": ["portrait_photo"],
        "province": "Hà Nội", "one_way_blocked": "no", "channels": ["telegram"],
        "rate_per_minute": 20}


@pytest.fixture
async def console(backend, clock, rasa, sender):
    accounts = AgentAccounts(backend.db_url)
    accounts.add_agent("vanhanh", PASSWORD, roles=["campaigns"])
    accounts.add_agent("an", PASSWORD)  # an agent of the hand-off desk only
    service = HandoffService(store=TicketStore(backend.db_url, clock=clock), rasa=rasa,
                             send_text=sender, backend=backend, resume_retries=0)
    server = TestServer(create_app(service, accounts, {}, sync_interval=0))
    await server.start_server()
    clients = {}
    for name in ("vanhanh", "an", "anon"):
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


async def test_only_the_campaigns_role_gets_in(console):
    calls = [("GET", BASE), ("POST", BASE), ("POST", f"{BASE}/1/start"),
             ("POST", f"{BASE}/1/pause"), ("GET", f"{BASE}/1/report")]
    for client, status in ((console["anon"], 401), (console["an"], 403)):
        for method, path in calls:
            resp = await client.request(method, path, json=GOOD)
            assert resp.status == status, (path, status)
    resp = await console["vanhanh"].get(BASE)
    assert (await resp.json())["campaigns"] == []
    # creating needs a JSON body (no cross-site form)
    resp = await console["vanhanh"].post(BASE, data="name=x&deadline=y")
    assert resp.status == 415


async def test_create_start_pause_resume_and_report(console, backend):
    client = console["vanhanh"]
    for wrong in ({"missing": ["shoe"]}, {"channels": ["sms"]}, {"name": ""},
                  {"rate_per_minute": 0}, {"starts": "2026-12-02T07:00",
                                           "ends": "2026-12-01T07:00"}):
        resp = await client.post(BASE, json={**GOOD, **wrong})
        assert resp.status == 422, wrong
        assert "không hợp lệ" in (await resp.json())["message"]
    resp = await client.post(BASE, json=GOOD)
    assert resp.status == 201
    cid = (await resp.json())["id"]
    resp = await client.post(f"{BASE}/{cid}/pause", json={})
    assert resp.status == 409 and "Nháp" in (await resp.json())["message"]
    for action, status in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        resp = await client.post(f"{BASE}/{cid}/{action}", json={})
        assert resp.status == 200 and (await resp.json())["status"] == status
    resp = await client.post(f"{BASE}/999/start", json={})
    assert resp.status == 404
    resp = await client.get(f"{BASE}/{cid}/report")
    data = await resp.json()
    rows = {r["key"]: r["value"] for r in data["rows"]}
    assert rows["targeted"] == 0 and rows["sent"] == 0  # nothing ran yet
    assert [r["label"] for r in data["rows"]][0] == "Khách hàng trong tập mục tiêu"
    listed = (await (await client.get(BASE)).json())["campaigns"]
    assert [(c["id"], c["status_label"], c["missing"], c["province"]) for c in listed] == [
        (cid, "Đang chạy", ["portrait_photo"], "Hà Nội")]
