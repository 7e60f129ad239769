"""bot/rasa_patches.py section 8: the domain goes to an action server once; later calls
carry only its digest, and an action server that does not know the digest (a restart,
another instance) gets the full domain again, so no call ever runs without it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from bot import rasa_patches
from tests.servers import (
    TEST_SECRETS,
    action_server_command,
    free_port,
    processes,
    seed_database,
    stack_env,
)

DOMAIN = {"forms": {"store_form": {"required_slots": ["location"]}},
          "slots": {"location": {"type": "text", "mappings": []}}, "responses": {}}


def action_call(digest: str | None, domain: dict | None) -> dict:
    tracker = {"sender_id": "tg-7", "slots": {"location": "Chỗ không có cửa hàng",
                                              "requested_slot": "location"},
               "latest_message": {"text": "Chỗ không có cửa hàng", "intent": {}},
               "events": [{"event": "active_loop", "name": "store_form"},
                          {"event": "user", "text": "Chỗ không có cửa hàng"},
                          {"event": "slot", "name": "location",
                           "value": "Chỗ không có cửa hàng"}],
               "paused": False, "followup_action": None,
               "active_loop": {"name": "store_form"}, "latest_action_name": "action_listen"}
    body = {"next_action": "validate_store_form", "sender_id": "tg-7", "tracker": tracker,
            "version": "3.6.0"}
    if digest:
        body["domain_digest"] = digest
    if domain is not None:
        body["domain"] = domain
    return body


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 "X-Action-Token": TEST_SECRETS["ACTION_SERVER_TOKEN"]})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_action_server_fills_in_a_domain_it_received(tmp_path):
    env = stack_env(BOT_DB_URL=f"sqlite:///{tmp_path / 'backend.db'}")
    seed_database(env)
    port = free_port()
    with processes(tmp_path, env) as procs:
        procs.start("actions", action_server_command(port))
        assert procs.wait("actions", f"http://127.0.0.1:{port}/health", 90), procs.log_tail()
        status, unknown = post(port, action_call("d" * 32, None))
        assert status == 428 and unknown == {"error": "domain unknown"}
        status, full = post(port, action_call("d" * 32, DOMAIN))
        assert status == 200
        # The form's slot was validated: the domain told the action which slots to check.
        assert {"event": "slot", "name": "location", "value": None,
                "timestamp": None} in full["events"]
        assert full["responses"][0]["response"] == "utter_location_not_found"
        status, by_digest = post(port, action_call("d" * 32, None))
        assert status == 200 and by_digest == full
        status, plain = post(port, action_call(None, DOMAIN))  # Rasa without the patch
        assert status == 200 and plain == full


async def test_rasa_sends_the_domain_once_and_again_when_asked():
    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    seen: list[dict] = []
    known: set[str] = set()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        if "domain" in body:
            known.add(body["domain_digest"])
        elif body.get("domain_digest") not in known:
            return web.json_response({"error": "domain unknown"}, status=428)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    endpoint = EndpointConfig(str(server.make_url("/webhook")))
    domain = Domain.from_yaml("version: '3.1'\nactions: [action_x]\nresponses:\n"
                              "  utter_a:\n  - text: a\n")
    tracker = DialogueStateTracker("tg-1", domain.slots)
    action = RemoteAction("action_x", endpoint)
    try:
        rasa_patches.apply(["action_server_keep_alive", "domain_sent_once"])

        async def call() -> None:
            body = action._action_call_format(tracker, domain)
            await endpoint.request(json=body, method="post")

        await call()
        await call()
        known.clear()  # the action server restarted
        await call()
        await call()
        digest = rasa_patches.domain_digest(domain)
        assert [("domain" in b, b["domain_digest"]) for b in seen] == [
            (True, digest), (False, digest), (False, digest), (True, digest),
            (False, digest)]
        assert seen[0]["domain"] == domain.as_dict() == seen[3]["domain"]
    finally:
        rasa_patches.revert()
        cached = getattr(endpoint, "_bot_session", None)
        if cached is not None:
            await cached[1].close()
        await server.close()


def test_an_unknown_digest_without_a_domain_is_refused_in_process():
    rasa_patches._server_domains.clear()
    with pytest.raises(rasa_patches.DomainUnknown):
        rasa_patches._with_domain({"next_action": "a", "domain_digest": "x" * 32})
    call = {"next_action": "a", "domain_digest": "x" * 32, "domain": {"responses": {}}}
    assert rasa_patches._with_domain(call) is call
    filled = rasa_patches._with_domain({"next_action": "a", "domain_digest": "x" * 32})
    assert filled["domain"] == {"responses": {}}
    assert rasa_patches._with_domain({"next_action": "a"}) == {"next_action": "a"}
