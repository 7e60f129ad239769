"""RasaClient against a local stand-in of Rasa's HTTP API: paths, bodies, errors, and the
development fallback to Rasa's query token (the JWT header: tests/security/
test_handoff_attacks.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.handoff.rasa_client import RasaClient, RasaError


@pytest.fixture
async def fake_rasa():
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        seen.append({"method": request.method, "path": request.raw_path.split("?")[0],
                     "query": dict(request.query), "body": body})
        if request.query.get("token") != "tok":
            return web.json_response({"status": "failure", "message": "User is not "
                                      "authenticated."}, status=401)
        if request.path.endswith("/trigger_intent") and body["name"] == "nope":
            return web.json_response({"message": "The intent nope does not exist."},
                                     status=404)
        if request.path == "/domain":
            return web.json_response({"intents": ["greet", {"faq": {"is_retrieval_intent":
                                                                   True}}]})
        return web.json_response({"events": [{"event": "pause"}], "messages": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), seen
    await server.close()


@pytest.fixture(autouse=True)
def _dev_env(monkeypatch):
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.delenv("RASA_JWT_SECRET", raising=False)


async def test_requests_carry_the_token_and_quote_the_conversation(fake_rasa):
    url, seen = fake_rasa
    client = RasaClient(url, "tok")
    assert client.auth_mode == "query-token"  # no RASA_JWT_SECRET, BOT_ENV=test
    try:
        tracker = await client.tracker("tg-1/../x")
        assert tracker["events"] == [{"event": "pause"}]
        await client.append_events("tg-1", [{"event": "resume"}])
        await client.trigger_intent("zalo-9", "check_balance", {"service": "D5"}, "zalo")
        assert await client.intents() == ["greet", "faq"]
    finally:
        await client.close()
    assert seen[0]["path"] == "/conversations/tg-1%2F..%2Fx/tracker"
    assert seen[0]["query"] == {"include_events": "ALL", "token": "tok"}
    assert (seen[1]["method"], seen[1]["path"], seen[1]["body"]) == \
        ("POST", "/conversations/tg-1/tracker/events", [{"event": "resume"}])
    assert seen[2]["query"]["output_channel"] == "zalo"
    assert seen[2]["body"] == {"name": "check_balance", "entities": {"service": "D5"}}


async def test_errors_become_rasa_errors(fake_rasa):
    url, _ = fake_rasa
    client = RasaClient(url, "wrong")
    with pytest.raises(RasaError) as err:
        await client.tracker("tg-1")
    assert err.value.status == 401
    client.token = "tok"
    with pytest.raises(RasaError) as err:
        await client.trigger_intent("tg-1", "nope", None, None)
    assert err.value.status == 404 and "does not exist" in str(err.value)
    await client.close()
    unreachable = RasaClient("http://127.0.0.1:9", "tok", timeout_s=2, jwt_secret="")
    with pytest.raises(RasaError) as err:
        await unreachable.tracker("tg-1")
    assert err.value.status == 0
    await unreachable.close()


async def test_no_query_token_outside_development(fake_rasa, monkeypatch):
    url, seen = fake_rasa
    monkeypatch.setenv("BOT_ENV", "prod")
    client = RasaClient(url, "tok")
    assert client.auth_mode == "none"
    with pytest.raises(RasaError) as err:
        await client.tracker("tg-1")
    await client.close()
    assert err.value.status == 401
    assert "token" not in seen[-1]["query"]
