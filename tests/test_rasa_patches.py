"""bot/rasa_patches.py: what the patches rely on still exists in Rasa (fails after an
upgrade that removes or changes it), and the patched behaviour is Rasa's, minus the
repeated work."""

from __future__ import annotations

import jsonschema
import pytest

from bot import rasa_patches


@pytest.fixture(scope="module")
def patched():
    rasa_patches.apply()
    from rasa.core.actions.action import RemoteAction

    yield RemoteAction("action_test", None)
    rasa_patches.revert()  # Rasa as other tests expect it


def test_revert_restores_rasa():
    from rasa.core.actions.action import RemoteAction
    from rasa.core.tracker_store import SQLTrackerStore

    rasa_patches.apply()
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result
    rasa_patches.revert()
    assert RemoteAction._validate_action_result is \
        rasa_patches.ORIGINALS["RemoteAction._validate_action_result"]
    assert SQLTrackerStore._retrieve is rasa_patches.ORIGINALS["SQLTrackerStore._retrieve"]


def test_rasa_still_has_what_the_patches_rely_on():
    assert rasa_patches.check_targets() == []


def test_apply_is_idempotent(patched):
    assert rasa_patches.apply() == []
    from rasa.core.actions.action import RemoteAction

    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result


VALID = {"events": [{"event": "slot", "name": "phone_number", "value": "0901000001",
                     "timestamp": None}],
         "responses": [{"text": "xin chào"}]}


def test_validator_built_once(patched, monkeypatch):
    rasa_patches._validator_for_spec.cache_clear()
    checks = []
    original = jsonschema.validators.Draft202012Validator.check_schema.__func__

    def counting(cls, schema, *args, **kwargs):
        checks.append(schema)
        return original(cls, schema, *args, **kwargs)

    monkeypatch.setattr(jsonschema.validators.Draft202012Validator, "check_schema",
                        classmethod(counting))
    for _ in range(5):
        assert patched._validate_action_result(VALID) is True
    assert rasa_patches._validator_for_spec.cache_info().misses == 1
    assert len(checks) == 1


@pytest.mark.parametrize("result", [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
    {"events": [{"event": "slot", "name": 3}]},
])
def test_still_rejects_invalid_results(patched, result):
    with pytest.raises(jsonschema.ValidationError) as error:
        patched._validate_action_result(result)
    assert "Failed to validate Action server response" in error.value.message


def test_same_verdicts_as_rasas_original(patched):
    original = rasa_patches.ORIGINALS["RemoteAction._validate_action_result"]
    for result in (VALID, {"events": [{"event": "no_such_event"}]}, {"responses": [1]}):
        outcomes = []
        for validate in (original, rasa_patches._validate_action_result):
            try:
                outcomes.append(validate(patched, result))
            except jsonschema.ValidationError as error:
                outcomes.append(error.message)
        assert outcomes[0] == outcomes[1]


# ------------------------------------------------------------------ tracker store patches
@pytest.fixture()
def sqlite_store(tmp_path, patched):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    domain = Domain.from_yaml("""
version: "3.1"
intents: [greet]
slots:
  phone_number: {type: text, mappings: [{type: custom}]}
""")
    store = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    yield store
    store.engine.dispose()


async def _two_sessions(store):
    from rasa.shared.core.events import (
        ActionExecuted,
        SessionStarted,
        SlotSet,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker("conv-1", store.domain.slots)
    first = [SessionStarted(timestamp=1.0), ActionExecuted("action_listen", timestamp=1.1),
             UserUttered("chào", {"name": "greet"}, timestamp=1.2),
             SlotSet("phone_number", "0901000001", timestamp=1.3)]
    second = [SessionStarted(timestamp=5.0), ActionExecuted("action_listen", timestamp=5.1),
              UserUttered("chào lại", {"name": "greet"}, timestamp=5.2),
              SlotSet("phone_number", "0901000002", timestamp=5.3)]
    for event in first:
        tracker.update(event)
    await store.save(tracker)
    for event in second:
        tracker.update(event)
    await store.save(tracker)
    return first, second


async def test_retrieve_loads_the_current_session_like_rasa(sqlite_store):
    first, second = await _two_sessions(sqlite_store)
    original = rasa_patches.ORIGINALS["SQLTrackerStore._retrieve"]

    patched_tracker = await sqlite_store.retrieve("conv-1")
    rasa_tracker = await original(sqlite_store, "conv-1", False)
    assert [e.as_dict() for e in patched_tracker.events] == \
        [e.as_dict() for e in rasa_tracker.events]
    assert [e.timestamp for e in patched_tracker.events] == [5.0, 5.1, 5.2, 5.3]
    assert patched_tracker.get_slot("phone_number") == "0901000002"
    full = await sqlite_store.retrieve_full_tracker("conv-1")
    assert len(full.events) == len(first) + len(second)
    assert await sqlite_store.retrieve("nobody") is None


async def test_sqlite_tracker_store_uses_wal(sqlite_store):
    await _two_sessions(sqlite_store)
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_check_targets_notices_a_removed_or_changed_target(monkeypatch):
    from rasa.core.tracker_store import SQLTrackerStore

    monkeypatch.delitem(rasa_patches.ORIGINALS, "SQLTrackerStore._event_query", raising=False)
    monkeypatch.delattr(SQLTrackerStore, "_event_query")
    assert "SQLTrackerStore._event_query is gone" in rasa_patches.check_targets()

    def session_scope(self, extra):  # a changed signature
        raise NotImplementedError

    monkeypatch.delitem(rasa_patches.ORIGINALS, "SQLTrackerStore.session_scope", raising=False)
    monkeypatch.setattr(SQLTrackerStore, "session_scope", session_scope)
    assert any(p.startswith("SQLTrackerStore.session_scope")
               for p in rasa_patches.check_targets())


async def test_sqlite_tracker_store_keeps_connections_open(sqlite_store):
    from sqlalchemy.pool import QueuePool

    assert isinstance(sqlite_store.engine.pool, QueuePool)
    await _two_sessions(sqlite_store)
    assert sqlite_store.engine.pool.checkedin() >= 1


def test_patches_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("BOT_RASA_PATCHES", "off")
    assert rasa_patches.apply() == []


async def test_action_server_calls_reuse_one_connection():
    """Patch 6: requests of one endpoint share a kept-alive connection; Rasa's results and
    errors are unchanged (JSON body, None for a non-JSON answer, ClientResponseError)."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    peers: list[tuple] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        body = await request.json()
        assert request.headers["X-Action-Token"] == "t" * 32
        if body.get("fail"):
            return web.json_response({"error": "no"}, status=400)
        if body.get("text"):
            return web.Response(text="plain")
        return web.json_response({"events": [], "echo": body["n"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    endpoint = EndpointConfig(str(server.make_url("/webhook")),
                              headers={"X-Action-Token": "t" * 32})
    try:
        rasa_patches.apply(["action_server_keep_alive"])
        assert await endpoint.request(json={"n": 1}) == {"events": [], "echo": 1}
        assert await endpoint.request(json={"n": 2}) == {"events": [], "echo": 2}
        assert await endpoint.request(json={"text": True}) is None
        with pytest.raises(ClientResponseError) as failed:
            await endpoint.request(json={"fail": True})
        assert failed.value.status == 400
        assert len(set(peers)) == 1  # one TCP connection for all four
        rasa_patches.revert()
        await endpoint.request(json={"n": 3})
        await endpoint.request(json={"n": 4})
        assert len(set(peers)) == 3  # Rasa's own: a new connection per request
    finally:
        rasa_patches.revert()
        cached = getattr(endpoint, "_bot_session", None)
        if cached is not None:
            await cached[1].close()
        await server.close()
