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


# -- 9. a store failure refuses the turn -----------------------------------------------
class BrokenStore:
    """A primary tracker store whose database is down."""

    domain = None
    event_broker = None

    async def retrieve(self, sender_id):
        raise ConnectionError("database down")

    retrieve_full_tracker = retrieve

    async def save(self, tracker):
        raise ConnectionError("database down")


async def test_a_failing_tracker_store_refuses_the_turn_instead_of_an_empty_conversation():
    from rasa.core.tracker_store import FailSafeTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    store = FailSafeTrackerStore(BrokenStore())
    tracker = DialogueStateTracker("conv-1", [])
    # Rasa's own: an empty conversation, the turn kept only in memory.
    assert await rasa_patches.ORIGINALS.get(
        "FailSafeTrackerStore.retrieve", FailSafeTrackerStore.retrieve)(store, "conv-1") is None
    try:
        rasa_patches.apply(["stores_refuse_turn"])
        for call in (store.retrieve("conv-1"), store.retrieve_full_tracker("conv-1"),
                     store.save(tracker)):
            with pytest.raises(rasa_patches.StoreUnavailable) as refused:
                await call
            assert isinstance(refused.value.__cause__, ConnectionError)
        assert store._fallback_tracker_store is None  # nothing kept in memory
    finally:
        rasa_patches.revert()


class FlakyLocks:
    """An in-memory lock store whose Redis fails at chosen steps."""

    def __init__(self, fail_issue: bool = False, fail_cleanup: bool = False) -> None:
        from rasa.core.lock_store import InMemoryLockStore

        self.store = InMemoryLockStore()
        if fail_issue:
            self.store.issue_ticket = self._fail
        if fail_cleanup:
            self.store.cleanup = self._fail

    @staticmethod
    def _fail(*args, **kwargs):
        raise ConnectionError("redis down")


async def test_lock_store_down_fails_the_turn_before_it_starts_but_not_after_it_ended():
    from rasa.core.lock_store import LockError

    try:
        rasa_patches.apply(["stores_refuse_turn"])
        ran = []
        with pytest.raises(ConnectionError):
            async with FlakyLocks(fail_issue=True).store.lock("conv-1"):
                ran.append("turn")
        assert ran == []  # nothing was done
        async with FlakyLocks(fail_cleanup=True).store.lock("conv-1"):
            ran.append("turn")  # the finished turn stands although the release failed
        assert ran == ["turn"]
        with pytest.raises(RuntimeError, match="the turn's own"):  # not masked by cleanup
            async with FlakyLocks(fail_cleanup=True).store.lock("conv-1"):
                raise RuntimeError("the turn's own error")
    finally:
        rasa_patches.revert()
    # Rasa's own: a release failure fails the finished turn.
    with pytest.raises(ConnectionError):
        async with FlakyLocks(fail_cleanup=True).store.lock("conv-1"):
            pass
    assert LockError  # the error a failed ticket raises in Rasa's Redis store


REST_SERVER = """
import sys

from rasa.core.channels.rest import RestInput
from sanic import Sanic

from bot import rasa_patches
from bot.admission import Overloaded


async def on_new_message(message):
    if message.text == "store down":
        raise rasa_patches.StoreUnavailable("tracker store: save failed")
    if message.text == "full":
        raise Overloaded(3)
    await message.output_channel.send_text_message(message.sender_id, "chào anh")


rasa_patches.apply(["stores_refuse_turn"])
patched = RestInput().blueprint(on_new_message)
rasa_patches.revert()
rasa_own = RestInput().blueprint(on_new_message)
rasa_own.name = "rasa_own_rest"
app = Sanic("rest_test")
app.blueprint(patched, url_prefix="/patched")
app.blueprint(rasa_own, url_prefix="/rasa")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
"""


def _post(url: str, text: str = "xin chào") -> tuple[int, object, str | None]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="POST", headers={
        "Content-Type": "application/json"},
        data=json.dumps({"sender": "s1", "message": text}).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Retry-After")


def test_rest_channel_answers_503_when_the_turn_fails(tmp_path):
    """Rasa's REST channel on a real Sanic server (a subprocess: Sanic rewrites its request
    handling once per process), patched and Rasa's own side by side."""
    import subprocess
    import sys

    from tests.servers import REPO, free_port, wait_http

    script = tmp_path / "rest_server.py"
    script.write_text(REST_SERVER)
    port = free_port()
    server = subprocess.Popen([sys.executable, str(script), str(port)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_http(f"{base}/patched/", server, 120), "the REST test server did not start"
        status, body, retry_after = _post(f"{base}/patched/webhook", "store down")
        assert (status, retry_after) == (503, "2")
        assert body == {"error": "assistant unavailable"}  # no reply
        status, body, retry_after = _post(f"{base}/patched/webhook", "full")
        assert (status, retry_after) == (503, "3")
        assert body == {"error": "assistant overloaded"}
        status, body, _ = _post(f"{base}/patched/webhook")  # a fresh turn
        assert status == 200 and body == [{"recipient_id": "s1", "text": "chào anh"}]
        # Rasa's own: 200 and nothing, the client believes the message was taken.
        assert _post(f"{base}/rasa/webhook", "store down")[:2] == (200, [])
    finally:
        server.terminate()
        server.wait(20)
