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


def test_event_classes_are_rasas(patched):
    """Patch 9: every type name resolves to the class of Rasa's own walk; the fallbacks
    are Rasa's (topic -> None, default, ValueError)."""
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event, SlotSet

    original = rasa_patches.ORIGINALS["Event.resolve_by_type"]
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert len(names) > 20
    for name in sorted(names):
        assert Event.resolve_by_type(name) is original(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no such event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no such event'"):
        Event.resolve_by_type("no such event")
    event = Event.from_parameters({"event": "slot", "name": "x", "value": 1})
    assert isinstance(event, SlotSet)


def test_event_class_imported_later_is_found(patched):
    from rasa.shared.core.events import Event

    Event.resolve_by_type("slot")  # the walk is cached now

    class LateEvent(Event):
        type_name = "bot_test_late_event"

        def __eq__(self, other):
            return type(other) is type(self)

        def __hash__(self):
            return 1

        def __str__(self):
            return "late"

        def as_story_string(self):
            return None

    try:
        assert Event.resolve_by_type("bot_test_late_event") is LateEvent
    finally:  # no test event class left behind for other tests
        import gc

        rasa_patches._event_classes.pop("bot_test_late_event", None)
        del LateEvent
        gc.collect()
    assert all(cls.type_name != "bot_test_late_event" for cls in Event.__subclasses__())


def test_slots_are_copied_as_copy_copy_does(patched):
    """Patch 10: a copied slot is a new object of the same class with equal attributes;
    changing the copy leaves the domain's slot alone."""
    import copy

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load("domain.yml")
    for slot in domain.slots:
        new = copy.copy(slot)
        assert type(new) is type(slot) and new is not slot
        assert vars(new) == vars(slot)
        reference = copy._reconstruct(slot, None, *slot.__reduce_ex__(4))
        assert vars(reference) == vars(new)
    tracker = DialogueStateTracker("s", domain.slots)
    name = domain.slots[0].name
    tracker.slots[name].value = "changed"
    assert domain.slots[0].value != "changed"


def test_slot_classes_with_their_own_state_keep_the_general_copy(patched):
    import copy

    from rasa.shared.core.slots import TextSlot

    class StatefulSlot(TextSlot):
        def __getstate__(self):
            return {**self.__dict__, "copied": True}

    slot = StatefulSlot("s", mappings=[])
    assert getattr(copy.copy(slot), "copied", False) is True


async def test_saved_rows_are_rasas(tmp_path):
    """Patch 11: the events table after a series of saves is row for row what Rasa's own
    save writes (ids, every column)."""
    import sqlite3

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load("domain.yml")
    events = [ActionExecuted("action_session_start", timestamp=1.0),
              UserUttered("chào em", {"name": "greet", "confidence": 0.9},
                          timestamp=2.0),
              SlotSet("customer_title", "chị", timestamp=3.0),
              ActionExecuted("utter_greet", timestamp=4.0),
              ActionExecuted("action_listen", timestamp=5.0),
              UserUttered("cảm ơn", {"name": "thank", "confidence": 0.8}, timestamp=6.0)]

    async def rows_after_saves(path) -> list:
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
        for sender in ("a", "b"):
            for n in (2, 2, 5, 6, 6):
                tracker = DialogueStateTracker.from_events(sender, events[:n],
                                                           domain.slots)
                await store.save(tracker)
        store.engine.dispose()
        with sqlite3.connect(path) as conn:
            return list(conn.execute("SELECT * FROM events ORDER BY id"))

    was_applied = bool(rasa_patches._applied)
    rasa_patches.revert()
    theirs = await rows_after_saves(tmp_path / "rasa.db")
    rasa_patches.apply()
    try:
        ours = await rows_after_saves(tmp_path / "ours.db")
    finally:
        if not was_applied:
            rasa_patches.revert()
    assert len(theirs) == 12
    assert ours == theirs
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
