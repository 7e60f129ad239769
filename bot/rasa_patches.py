"""Patches to Rasa's behaviour: the one place where we change how Rasa works inside.

Applied by `bot serve rasa` (bot/serve.py calls `apply()` before Rasa starts); nothing
else imports this module for its side effects; `BOT_RASA_PATCHES=off` disables them all.
Every patch names the Rasa attribute it replaces, is idempotent, and keeps Rasa's
observable behaviour (same results, same exceptions); only the repeated work goes.
`tests/test_rasa_patches.py` fails when a Rasa upgrade removes or changes what a patch
relies on (`check_targets()`), and checks the patched behaviour. Tested with Rasa
`TESTED_RASA` (see pyproject.toml).

Why (profile of the Rasa process under load, reports/loadtest-*-baseline.md):

1. `RemoteAction._validate_action_result` (rasa/core/actions/action.py) called
   `jsonschema.validate(result, schema)` on every action-server response. `validate`
   re-checks the schema against its meta-schema (`check_schema`, the dominant cost: the
   2020-12 meta-schema walked with `$dynamicRef`) and builds a new validator each time.
   Patched: the validator is built and the schema checked once per schema (per
   `action_response_format_spec` function, a static schema), then reused; an invalid
   result still raises the same `jsonschema.ValidationError` with Rasa's message appended.

2. `SQLTrackerStore._retrieve` (rasa/core/tracker_store.py) loaded every event row of the
   conversation's current session as a full ORM object (`session.query(SQLEvent)`: row
   identity map, instance state: ~7 % of the CPU under load) to read one column. Patched:
   the same query (`_event_query`: current session only, ordered by id; Rasa already
   bounds the load by the latest `SessionStarted`) selects only `data`; the tracker is
   rebuilt exactly as before (`DialogueStateTracker.from_dict`).

3. SQLite tracker store (the development default; production uses PostgreSQL): each
   `save()` commit was an fsync in the event loop (~6 %). Patched: SQLite connections of
   `SQLTrackerStore` use WAL with `synchronous=NORMAL` (no corruption on a crash, the last
   commits may be lost on power loss) and a 5 s busy timeout, and stay open in a small
   pool (`create_engine_kwargs`: SQLAlchemy 1.4 gives file SQLite a NullPool, so every
   load and save opened and closed the file; closing the last WAL connection checkpoints).
   Other databases untouched.

4. The action server (rasa-sdk `ActionExecutor.run`, rasa_sdk/executor.py) awaited each
   action in its one event loop; our actions call the backend synchronously (SQLAlchemy),
   so one slow query stalled every other conversation's action. Patched by
   `apply_action_runtime()` (called by `bot serve actions`, not by `apply()`): each action
   runs in a bounded thread pool (its own event loop per thread), with a deadline; when
   the backend is unavailable (the errors `bot serve actions` names: database down, a
   timeout from bot/operator.yml `database`) or the deadline passes, the action returns
   no events and one polite response (`utter_backend_unavailable`), so nothing is
   half-set and the customer may simply ask again. An unknown action still raises
   rasa-sdk's `ActionNotFoundException`; any other error still fails the request.

5. `TEDPolicy.predict_action_probabilities` ran its neural network on every prediction,
   also when the RulePolicy or the MemoizationPolicy of the same model predicts an action
   with confidence 1.0. The ensemble (`DefaultPolicyPredictionEnsemble._pick_best_policy`)
   then always picks that policy: TED's confidences are softmax scores (<= 1.0) and its
   priority is lower, unless TED's prediction is end-to-end (a model trained on user
   text: never skipped then) or the last action was rejected (its confidence is zeroed in
   every prediction: never skipped then). Patched: in exactly that case TED returns its
   empty prediction (all zeros) without running the network; the ensemble's choice is
   the same. The rule and memoization predictions TED consults are computed once per
   tracker state and reused by their own graph nodes.

6. `EndpointConfig.request` (rasa/utils/endpoints.py: every call to the action server)
   opened a new aiohttp `ClientSession`, so a new TCP connection, for every request and
   closed it after (connection set-up and teardown: ~10 % of the CPU under load).
   Patched: one session per endpoint and event loop, kept open (keep-alive, connections
   pooled, idle ones closed after `KEEP_ALIVE_S`, shorter than the action server's
   keep-alive so a reused connection is never one the server is closing); the request
   itself (headers, parameters, timeout, errors, JSON) is Rasa's.

7. `ResponseSelector.process` (rasa/nlu/selectors/response_selector.py) ran its neural
   network on every message, though its answer is only used when the message's intent is
   its retrieval intent (`faq`: `ActionRetrieveResponse`). Patched: it runs when the
   retrieval intent is among the message's `RESPONSE_SELECTOR_TOP` most likely intents
   (so the intent, and the two or three alternatives a clarification offers, always have
   it); otherwise the message gets the selector's empty prediction (no response,
   confidence 0.0, empty ranking) — the one place where a parse result differs from
   Rasa's, for a value nothing reads.

8. `RemoteAction._action_call_format` (rasa/core/actions/action.py) put the whole domain
   (~66 kB of JSON: every response) into every call to the action server; encoding,
   writing and decoding it was ~15 % of the Rasa process's CPU. Rasa's own "selective
   domain" would need every action that reads the domain to be listed by hand. Patched:
   each call carries `domain_digest` (SHA-256 of the domain); the full domain is sent
   until the action server at that URL has accepted it once, then only the digest. The
   action server (section 4) keeps the domains it received by digest (a few, newest
   first) and fills them in; a digest it does not know (a restart, another instance
   behind the balancer) is answered `428`, and the Rasa side resends that call with the
   full domain (`_endpoint_request`). So every action still gets exactly the domain of
   the model that called it.

Profile of both servers after 1-8 (docs/perf/loadtest-perf-*.md: cProfile and py-spy of the
Rasa process, py-spy of the action server):

9. `Event.resolve_by_type` (rasa/shared/core/events.py), called for every event that is
   deserialised (each event of every tracker loaded from the store, each event an action
   returns), walked every `Event` subclass recursively and asked `inspect.isabstract` of
   each (~30 recursive calls, ~50 `isabstract` per event; ~8 % of the Rasa process).
   Patched: the first class of that walk for each type name is remembered; the walk is
   done again when a name is not found (a subclass imported later), then the same
   fallbacks (`topic` -> None, `default`, `ValueError`). Same class for every name.

10. `DialogueStateTracker.__init__` copies every slot of the domain (`copy.copy`, ~110
   slots here) for each tracker it creates, about ten per turn (loading, the policies'
   state histories, `travel_back_in_time`); `copy.copy` goes through `__reduce_ex__` and
   `copyreg`. Patched: `Slot.__copy__`, the same shallow copy (a new instance of the same
   class with the same attribute dict contents) made directly; slot classes that define
   their own pickling state or `__slots__` keep `copy.copy`'s general path.

11. `SQLTrackerStore.save` added each new event as an ORM object (`session.add`: identity
   map, instance state, unit-of-work flush ordering) only to insert rows. Patched: the
   same rows (same columns and values, same order, the new events Rasa's
   `_additional_events` picks) in one executemany `INSERT`, in the same transaction.

12. Rasa answers a turn even when its stores fail. `FailSafeTrackerStore` (rasa/core/
   tracker_store.py, wrapped around every tracker store by the agent) returns no tracker
   when `retrieve` fails, so the turn runs on an *empty* conversation, and keeps the tracker
   only in memory when `save` fails; the REST channel (`RestInput.blueprint`,
   rasa/core/channels/rest.py) catches every exception of a turn (a `LockError` when Redis
   is down, any store error) and answers HTTP 200 with no reply. Either way the client
   believes the message was taken. Patched (`stores_refuse_turn`): `retrieve`,
   `retrieve_full_tracker` and `save` raise `StoreUnavailable` (the store's error is its
   cause; `SQLTrackerStore.save` commits a turn's events in one transaction, so nothing is
   half stored); the REST channel answers such a failed turn (and any other) `503` with
   `Retry-After` and no reply, and a turn refused by admission control (bot/admission.py)
   `503` with its `Retry-After`; the inbox worker (bot/channels/worker.py) retries the
   message. The lock store's release after a turn (`LockStore.lock`'s `finally:
   cleanup`) no longer turns a finished, saved turn into a failure when Redis fails at that
   moment (the ticket expires after its lifetime); taking the lock still fails the turn
   before anything is done.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

TESTED_RASA = "3.6"

_applied: set[str] = set()
_lock = threading.Lock()


# --------------------------------------------------------------------------------------
# 1. A cached validator for action-server results.

@functools.lru_cache(maxsize=8)
def _validator_for_spec(spec_function: Callable[[], dict[str, Any]]) -> Any:
    """The compiled validator of the schema `spec_function()` returns (checked once)."""
    from jsonschema.validators import validator_for

    schema = spec_function()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result` with a validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    validator = _validator_for_spec(type(self).action_response_format_spec)
    error = exceptions.best_match(validator.iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def _patch_action_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result


# --------------------------------------------------------------------------------------
# 2. Tracker loading reads only the event data of the current session.

async def _sql_retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
    """Rasa's `SQLTrackerStore._retrieve`, selecting only the `data` column."""
    from rasa.shared.core.trackers import DialogueStateTracker

    with self.session_scope() as session:
        rows = (self._event_query(session, sender_id,
                                  fetch_events_from_all_sessions=fetch_events_from_all_sessions)
                .with_entities(self.SQLEvent.data).all())
        events = [json.loads(data) for (data,) in rows]
    if self.domain and events:
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
    return None


def _patch_sql_retrieve() -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore._retrieve = _sql_retrieve


# --------------------------------------------------------------------------------------
# 3. SQLite tracker store: WAL, synchronous=NORMAL.

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                  "PRAGMA busy_timeout=5000")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def tune_sqlite_engine(engine: Any) -> bool:
    """WAL + synchronous=NORMAL on every connection of a SQLite engine; False otherwise."""
    import sqlalchemy as sa

    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return False
    if not sa.event.contains(engine, "connect", _sqlite_pragmas):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections opened during __init__ get the pragmas too
    return True


def _is_sqlite_file(url: Any) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "",
                                                                             ":memory:")


def _patch_sqlite_tracker_store() -> None:
    import rasa.core.tracker_store as tracker_store
    from rasa.core.tracker_store import SQLTrackerStore
    from sqlalchemy.pool import QueuePool

    original_kwargs = ORIGINALS["tracker_store.create_engine_kwargs"]

    @functools.wraps(original_kwargs)
    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = dict(original_kwargs(url))
        if _is_sqlite_file(url):
            # The store is used from the event loop's thread; a pool keeps files open.
            kwargs.update(poolclass=QueuePool, pool_size=4, max_overflow=4,
                          connect_args={"check_same_thread": False})
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs
    original = ORIGINALS["SQLTrackerStore.__init__"]

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        tune_sqlite_engine(self.engine)

    SQLTrackerStore.__init__ = __init__


# --------------------------------------------------------------------------------------
# 4. The action server: actions off the event loop, a deadline, a polite "unavailable".

@dataclass(frozen=True)
class ActionRuntime:
    threads: int  # actions running at once
    timeout_s: float  # the customer waits at most this long for an action
    unavailable: tuple[type[BaseException], ...]  # errors meaning "backend unavailable"
    response: str  # the domain response sent instead
    variables: Callable[[], dict[str, Any]]  # its variables (hotline...)


_runtime: ActionRuntime | None = None
_pool: ThreadPoolExecutor | None = None
_thread_state = threading.local()


def _run_in_thread(original: Callable[..., Any], executor: Any, action_call: Any) -> Any:
    """Run rasa-sdk's `ActionExecutor.run` in this worker thread's own event loop."""
    loop = getattr(_thread_state, "loop", None)
    if loop is None:
        loop = _thread_state.loop = asyncio.new_event_loop()
    return loop.run_until_complete(original(executor, action_call))


def unavailable_response(executor: Any, runtime: ActionRuntime) -> dict[str, Any]:
    """What the action server answers when the backend is unavailable: no events, one
    polite response with its variables."""
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(response=runtime.response, **runtime.variables())
    response: dict[str, Any] = executor._create_api_response([], dispatcher.messages)
    return response


async def _executor_run(self: Any, action_call: Any) -> Any:
    """rasa-sdk's `ActionExecutor.run` in a worker thread, with a deadline."""
    runtime, pool = _runtime, _pool
    original = ORIGINALS["ActionExecutor.run"]
    if runtime is None or pool is None:
        return await original(self, action_call)
    name = (action_call or {}).get("next_action")
    action_call = _with_domain(action_call)
    future = asyncio.get_running_loop().run_in_executor(pool, _run_in_thread, original, self,
                                                        action_call)
    handled: tuple[type[BaseException], ...] = (asyncio.TimeoutError, *runtime.unavailable)
    try:
        return await asyncio.wait_for(future, runtime.timeout_s)
    except handled as exc:
        logger.warning("action %s: backend unavailable (%s); answered %s", name,
                       type(exc).__name__, runtime.response)
        return unavailable_response(self, runtime)


class DomainUnknown(Exception):
    """An action call names a domain digest this action server has not received
    (answered 428: Rasa resends the call with the domain)."""

    status = 428


DOMAINS_KEPT = 8
_server_domains: dict[str, dict[str, Any]] = {}  # digest -> domain, newest last


def _with_domain(action_call: Any) -> Any:
    """The call with its domain: kept when it comes with one, filled in from the digest
    otherwise (section 8)."""
    if not isinstance(action_call, dict):
        return action_call
    digest = action_call.get(DOMAIN_DIGEST_KEY)
    if not isinstance(digest, str) or not digest:
        return action_call
    domain = action_call.get("domain")
    with _lock:
        if domain:
            _server_domains.pop(digest, None)
            _server_domains[digest] = domain
            while len(_server_domains) > DOMAINS_KEPT:
                _server_domains.pop(next(iter(_server_domains)))
            return action_call
        known = _server_domains.get(digest)
    if known is None:
        raise DomainUnknown(digest)
    return {**action_call, "domain": known}


def apply_action_runtime(runtime: ActionRuntime) -> None:
    """Run the action server's actions as `runtime` says (idempotent; `revert()` undoes)."""
    global _runtime, _pool
    from rasa_sdk.executor import ActionExecutor

    with _lock:
        ORIGINALS.setdefault("ActionExecutor.run", ActionExecutor.run)
        if _pool is not None:
            _pool.shutdown(wait=False)
        _runtime = runtime
        _pool = ThreadPoolExecutor(max_workers=runtime.threads,
                                   thread_name_prefix="action")
        ActionExecutor.run = _executor_run
        _applied.add("action_runtime")


# --------------------------------------------------------------------------------------
# 5. TED is not run when a rule or a memorised story already decides with certainty.

_CERTAIN = 1.0
_siblings: dict[int, Any] = {}  # id(model storage) -> WeakSet of rule/memo policies
_sibling_lock = threading.Lock()


def _register_sibling(policy: Any) -> None:
    import weakref

    with _sibling_lock:
        key = id(policy._model_storage)
        members = _siblings.get(key)
        if members is None:
            members = _siblings[key] = weakref.WeakSet()
        members.add(policy)


def _cached_predict(original: Callable[..., Any]) -> Callable[..., Any]:
    """A policy's `predict_action_probabilities`, computed once per tracker state: the
    same tracker object (held weakly) with the same number of events."""
    import weakref

    @functools.wraps(original)
    def predict(self: Any, tracker: Any, domain: Any, rule_only_data: Any = None,
                **kwargs: Any) -> Any:
        cached = getattr(self, "_bot_last_prediction", None)
        if cached is not None:
            ref, length, domain_id, rules_id, prediction = cached
            if (ref() is tracker and length == len(tracker.events)
                    and domain_id == id(domain) and rules_id == id(rule_only_data)):
                return prediction
        prediction = original(self, tracker, domain, rule_only_data, **kwargs)
        self._bot_last_prediction = (weakref.ref(tracker), len(tracker.events), id(domain),
                                     id(rule_only_data), prediction)
        return prediction

    return predict


def _ted_is_end_to_end(policy: Any) -> bool:
    """True when TED was trained on user text (its predictions may be end-to-end)."""
    from rasa.shared.nlu.constants import TEXT

    return bool(getattr(policy, "only_e2e", False)) or TEXT in (policy.data_example or {})


def _decided_without_ted(ted: Any, tracker: Any, domain: Any, rule_only_data: Any) -> bool:
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    if _ted_is_end_to_end(ted):
        return False
    last_action = next((e for e in reversed(tracker.events)
                        if isinstance(e, (ActionExecutionRejected, ActionExecuted))), None)
    if isinstance(last_action, ActionExecutionRejected):
        return False
    for sibling in list(_siblings.get(id(ted._model_storage), ())):
        if sibling.priority <= ted.priority:
            continue
        prediction = sibling.predict_action_probabilities(tracker, domain, rule_only_data)
        if prediction.max_confidence >= _CERTAIN:
            return True
    return False


def _patch_ted_skip() -> None:
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy

    original_init = ORIGINALS["Policy.__init__"]

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if isinstance(self, (RulePolicy, MemoizationPolicy)):
            _register_sibling(self)

    Policy.__init__ = __init__
    # RulePolicy subclasses MemoizationPolicy: each class gets its own cached predict.
    for cls, name in ((MemoizationPolicy, "MemoizationPolicy.predict_action_probabilities"),
                      (RulePolicy, "RulePolicy.predict_action_probabilities")):
        cls.predict_action_probabilities = _cached_predict(ORIGINALS[name])
    original_ted = ORIGINALS["TEDPolicy.predict_action_probabilities"]

    @functools.wraps(original_ted)
    def predict_action_probabilities(self: Any, tracker: Any, domain: Any,
                                     rule_only_data: Any = None, **kwargs: Any) -> Any:
        if self.model is not None and _decided_without_ted(self, tracker, domain,
                                                           rule_only_data):
            return self._prediction(self._default_predictions(domain))
        return original_ted(self, tracker, domain, rule_only_data, **kwargs)

    TEDPolicy.predict_action_probabilities = predict_action_probabilities


# --------------------------------------------------------------------------------------
# 6. Keep-alive connections to the action server.

KEEP_ALIVE_S = 4.0  # < the action server's keep-alive (bot/serve.py ACTION_KEEP_ALIVE_S)


def _endpoint_session(endpoint: Any) -> Any:
    """The open aiohttp session of `endpoint` for the running event loop."""
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    cached = getattr(endpoint, "_bot_session", None)
    if cached is not None and cached[0] is loop and not cached[1].closed:
        return cached[1]
    auth = None
    if endpoint.basic_auth:
        auth = aiohttp.BasicAuth(endpoint.basic_auth["username"],
                                 endpoint.basic_auth["password"])
    session = aiohttp.ClientSession(
        headers=endpoint.headers, auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_S))
    endpoint._bot_session = (loop, session)
    return session


async def _endpoint_request(self: Any, method: str = "post", subpath: str | None = None,
                            content_type: str | None = "application/json",
                            compress: bool = False, **kwargs: Any) -> Any:
    """Rasa's `EndpointConfig.request` on a kept-open session."""
    import ssl

    from aiohttp import ContentTypeError
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils.endpoints import ClientResponseError, concat_url

    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as e:
            raise FileNotFoundException(
                f"Failed to find certificate file, "
                f"'{os.path.abspath(self.cafile)}' does not exist.") from e
    session = _endpoint_session(self)
    params = self.combine_parameters(kwargs)
    given = kwargs.get("json")
    body: dict[str, Any] = given if isinstance(given, dict) else {}
    digest = body.get(DOMAIN_DIGEST_KEY)
    for attempt in (1, 2):
        async with session.request(method, url, headers=headers, params=params,
                                   compress=compress, ssl=sslcontext, **kwargs) as response:
            if (response.status == DomainUnknown.status and digest and attempt == 1
                    and "domain" not in body and digest in _digest_domains):
                # The action server does not have this domain (yet): send it along.
                _known_digests.get(self.url, set()).discard(digest)
                kwargs["json"] = body = {**body, "domain": _digest_domains[digest]}
                continue
            if response.status >= 400:
                raise ClientResponseError(response.status, response.reason,
                                          await response.content.read())
            if digest and "domain" in body:
                _known_digests.setdefault(self.url, set()).add(digest)
            try:
                return await response.json()
            except ContentTypeError:
                return None
    return None  # pragma: no cover - the loop returns or raises


def _patch_endpoint_keep_alive() -> None:
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.request = _endpoint_request


# --------------------------------------------------------------------------------------
# 8. The domain goes to each action server once; later calls carry its digest.

DOMAIN_DIGEST_KEY = "domain_digest"
_digest_domains: dict[str, dict[str, Any]] = {}  # digest -> domain dict (Rasa side)
_known_digests: dict[str, set[str]] = {}  # action server URL -> digests it accepted


def domain_digest(domain: Any) -> str:
    """SHA-256 (hex, 32 characters) of the domain's data, computed once per domain."""
    import hashlib

    cached = getattr(domain, "_bot_digest", None)
    if cached:
        return str(cached)
    data = domain.as_dict()
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str)
                            .encode("utf-8")).hexdigest()[:32]
    domain._bot_digest = digest
    with _lock:
        _digest_domains[digest] = data
        while len(_digest_domains) > DOMAINS_KEPT:
            _digest_domains.pop(next(iter(_digest_domains)))
    return digest


def _action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
    """Rasa's `RemoteAction._action_call_format`, the domain replaced by its digest once
    the action server has it."""
    result: dict[str, Any] = ORIGINALS["RemoteAction._action_call_format"](self, tracker,
                                                                           domain)
    if "domain" in result and self.action_endpoint is not None:
        digest = domain_digest(domain)
        result[DOMAIN_DIGEST_KEY] = digest
        if digest in _known_digests.get(self.action_endpoint.url, ()):
            del result["domain"]
    return result


def _patch_domain_once() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._action_call_format = _action_call_format


# --------------------------------------------------------------------------------------
# 7. The response selector runs only where its answer can be used.

RESPONSE_SELECTOR_TOP = 3


def _selector_needed(selector: Any, message: Any) -> bool:
    from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY

    if not selector.retrieval_intent:
        return True  # one selector for every retrieval intent: always needed
    ranking = message.get(INTENT_RANKING_KEY) or [message.get(INTENT) or {}]
    top = [entry.get(INTENT_NAME_KEY) for entry in ranking[:RESPONSE_SELECTOR_TOP]]
    return selector.retrieval_intent in top


def _empty_selection(selector: Any, message: Any) -> None:
    from rasa.nlu.constants import (
        RESPONSE_SELECTOR_PREDICTION_KEY,
        RESPONSE_SELECTOR_RANKING_KEY,
        RESPONSE_SELECTOR_RESPONSES_KEY,
        RESPONSE_SELECTOR_UTTER_ACTION_KEY,
    )
    from rasa.shared.nlu.constants import (
        INTENT_RESPONSE_KEY,
        PREDICTED_CONFIDENCE_KEY,
    )

    selector._set_message_property(message, {
        RESPONSE_SELECTOR_PREDICTION_KEY: {
            RESPONSE_SELECTOR_RESPONSES_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0,
            INTENT_RESPONSE_KEY: None, RESPONSE_SELECTOR_UTTER_ACTION_KEY: None},
        RESPONSE_SELECTOR_RANKING_KEY: []}, selector.retrieval_intent)


def _patch_response_selector() -> None:
    from rasa.nlu.selectors.response_selector import ResponseSelector

    original = ORIGINALS["ResponseSelector.process"]

    @functools.wraps(original)
    def process(self: Any, messages: list[Any]) -> list[Any]:
        needed = []
        for message in messages:
            if _selector_needed(self, message):
                needed.append(message)
            else:
                _empty_selection(self, message)
        if needed:
            original(self, needed)
        return messages

    ResponseSelector.process = process


# --------------------------------------------------------------------------------------
# 9. The event class of a type name, found once.

_event_classes: dict[str, Any] = {}


def _resolve_by_type(type_name: str, default: Any = None) -> Any:
    """Rasa's `Event.resolve_by_type`, the subclass walk done once per type name."""
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    for cls in rasa.shared.utils.common.all_subclasses(Event):
        _event_classes.setdefault(cls.type_name, cls)  # the walk's first class wins
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # backwards compatibility to support old TopicSet evts
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def _patch_event_resolution() -> None:
    from rasa.shared.core.events import Event

    _event_classes.clear()
    Event.resolve_by_type = staticmethod(_resolve_by_type)


# --------------------------------------------------------------------------------------
# 10. Slots copied directly.

_PICKLING = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__slots__")


@functools.cache
def _plain_class(cls: type) -> bool:
    """True when `copy.copy` of an instance is a new instance with the same `__dict__`
    contents (no class of the MRO but `object` customises pickling or uses slots)."""
    return not any(name in vars(klass) for klass in cls.__mro__ if klass is not object
                   for name in _PICKLING)


def _slot_copy(self: Any) -> Any:
    """`copy.copy(slot)`: what `copy._reconstruct` does for a plain class, directly."""
    import copy

    cls: Any = type(self)
    if not _plain_class(cls):
        return copy._reconstruct(self, None, *self.__reduce_ex__(4))  # type: ignore[attr-defined]
    new = cls.__new__(cls)
    new.__dict__.update(self.__dict__)
    return new


def _patch_slot_copy() -> None:
    from rasa.shared.core.slots import Slot

    Slot.__copy__ = _slot_copy


# --------------------------------------------------------------------------------------
# 11. New tracker events inserted in one statement.

async def _sql_save(self: Any, tracker: Any) -> None:
    """Rasa's `SQLTrackerStore.save`, the rows inserted without ORM objects."""
    import sqlalchemy as sa
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    await self.stream_events(tracker)
    with self.session_scope() as session:
        rows = []
        for event in self._additional_events(session, tracker):
            data = event.as_dict()
            rows.append({
                "sender_id": tracker.sender_id, "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(
                    INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)})
        if rows:
            session.execute(sa.insert(self.SQLEvent.__table__), rows)
        session.commit()
    logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)


def _patch_sql_save() -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore.save = _sql_save
# 9. A turn fails (503, nothing stored, nothing answered) when a store fails.

RETRY_AFTER_S = 2  # what a client is told to wait after a failed turn


class StoreUnavailable(RuntimeError):
    """The tracker store failed: the turn is refused (the store's error is the cause)."""


async def _failsafe_retrieve(self: Any, sender_id: str) -> Any:
    try:
        return await self._tracker_store.retrieve(sender_id)
    except Exception as exc:
        raise StoreUnavailable(f"tracker store: retrieve failed ({type(exc).__name__})") \
            from exc


async def _failsafe_retrieve_full_tracker(self: Any, sender_id: str) -> Any:
    try:
        return await self._tracker_store.retrieve_full_tracker(sender_id)
    except Exception as exc:
        raise StoreUnavailable(f"tracker store: retrieve failed ({type(exc).__name__})") \
            from exc


async def _failsafe_save(self: Any, tracker: Any) -> None:
    try:
        await self._tracker_store.save(tracker)
    except Exception as exc:
        raise StoreUnavailable(f"tracker store: save failed ({type(exc).__name__})") from exc


def _lock_releasing_quietly(original: Callable[..., Any]) -> Callable[..., Any]:
    """`LockStore.lock` whose release after the turn does not fail a finished turn."""
    from contextlib import asynccontextmanager

    from rasa.core.lock_store import LOCK_LIFETIME

    @asynccontextmanager
    async def lock(self: Any, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> Any:
        ticket = self.issue_ticket(conversation_id, lock_lifetime)  # fails: nothing done
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            try:
                self.cleanup(conversation_id, ticket)
            except Exception as exc:
                logger.warning("lock store: releasing a conversation's lock failed (%s); "
                               "its ticket expires after %.0f s", type(exc).__name__,
                               lock_lifetime)

    return lock


@dataclass
class _RestTurn:
    failure: BaseException | None = None


_REST_TURN: Any = None  # ContextVar[_RestTurn | None], created by the patch


def refusal(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of a refused turn: 503 and when to try again."""
    overloaded = getattr(exc, "retry_after_s", None)
    retry_after = float(overloaded or RETRY_AFTER_S)
    error = "assistant overloaded" if overloaded else "assistant unavailable"
    return 503, {"error": error}, {"Retry-After": str(max(1, round(retry_after)))}


def _rest_blueprint(self: Any, on_new_message: Callable[..., Any]) -> Any:
    """`RestInput.blueprint` whose failed turns answer 503 instead of 200 with nothing."""
    from sanic import response

    state = _REST_TURN

    async def guarded(message: Any) -> Any:
        try:
            return await on_new_message(message)
        except Exception as exc:
            turn = state.get()
            if turn is not None:
                turn.failure = exc
            raise  # Rasa's channel logs it (then our response middleware answers 503)

    blueprint = ORIGINALS["RestInput.blueprint"](self, guarded)

    @blueprint.middleware("request")
    async def new_turn(request: Any) -> None:
        state.set(_RestTurn())  # one per request (a kept-alive connection runs several)

    @blueprint.middleware("response")
    async def refused(request: Any, resp: Any) -> Any:
        turn = state.get()
        if turn is None or turn.failure is None:
            return None
        status, body, headers = refusal(turn.failure)
        turn.failure = None
        return response.json(body, status=status, headers=headers)

    return blueprint


def _patch_stores_refuse_turn() -> None:
    from contextvars import ContextVar

    from rasa.core.channels.rest import RestInput
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import FailSafeTrackerStore

    global _REST_TURN
    if _REST_TURN is None:
        _REST_TURN = ContextVar("rest_turn", default=None)
    FailSafeTrackerStore.retrieve = _failsafe_retrieve
    FailSafeTrackerStore.retrieve_full_tracker = _failsafe_retrieve_full_tracker
    FailSafeTrackerStore.save = _failsafe_save
    LockStore.lock = _lock_releasing_quietly(ORIGINALS["LockStore.lock"])
    RestInput.blueprint = _rest_blueprint


# --------------------------------------------------------------------------------------
# What the patches rely on: checked by tests/test_rasa_patches.py on every Rasa version.

def _targets() -> list[tuple[str, Any, str, list[str]]]:
    """(description, owner, attribute, expected parameter names) of what we replace or use."""
    import rasa.core.tracker_store as tracker_store
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.channels.rest import RestInput
    from rasa.core.lock_store import LockStore
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
    from rasa.nlu.selectors.response_selector import ResponseSelector
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from rasa_sdk.executor import ActionExecutor

    predict = ["self", "tracker", "domain", "rule_only_data", "kwargs"]
    return [
        ("SQLTrackerStore._retrieve", SQLTrackerStore, "_retrieve",
         ["self", "sender_id", "fetch_events_from_all_sessions"]),
        ("SQLTrackerStore._event_query", SQLTrackerStore, "_event_query",
         ["self", "session", "sender_id", "fetch_events_from_all_sessions"]),
        ("SQLTrackerStore.session_scope", SQLTrackerStore, "session_scope", ["self"]),
        ("SQLTrackerStore.save", SQLTrackerStore, "save", ["self", "tracker"]),
        ("SQLTrackerStore._additional_events", SQLTrackerStore, "_additional_events",
         ["self", "session", "tracker"]),
        ("tracker_store.create_engine_kwargs", tracker_store, "create_engine_kwargs",
         ["url"]),
        ("SQLTrackerStore.__init__", SQLTrackerStore, "__init__",
         ["self", "domain", "dialect", "host", "port", "db", "username", "password",
          "event_broker", "login_db", "query", "kwargs"]),
        ("RemoteAction._validate_action_result", RemoteAction, "_validate_action_result",
         ["self", "result"]),
        ("RemoteAction.action_response_format_spec", RemoteAction,
         "action_response_format_spec", []),
        ("ActionExecutor.run", ActionExecutor, "run", ["self", "action_call"]),
        ("ActionExecutor._create_api_response", ActionExecutor, "_create_api_response",
         ["events", "messages"]),
        ("Policy.__init__", Policy, "__init__",
         ["self", "config", "model_storage", "resource", "execution_context", "featurizer"]),
        ("MemoizationPolicy.predict_action_probabilities", MemoizationPolicy,
         "predict_action_probabilities", predict),
        ("RulePolicy.predict_action_probabilities", RulePolicy,
         "predict_action_probabilities", predict),
        ("TEDPolicy.predict_action_probabilities", TEDPolicy,
         "predict_action_probabilities", ["self", "tracker", "domain", "rule_only_data",
                                          "precomputations", "kwargs"]),
        ("DefaultPolicyPredictionEnsemble._pick_best_policy", DefaultPolicyPredictionEnsemble,
         "_pick_best_policy", ["predictions"]),
        ("DefaultPolicyPredictionEnsemble._best_policy_prediction",
         DefaultPolicyPredictionEnsemble, "_best_policy_prediction",
         ["predictions", "tracker", "domain"]),
        ("EndpointConfig.request", EndpointConfig, "request",
         ["self", "method", "subpath", "content_type", "compress", "kwargs"]),
        ("EndpointConfig.combine_parameters", EndpointConfig, "combine_parameters",
         ["self", "kwargs"]),
        ("ResponseSelector.process", ResponseSelector, "process", ["self", "messages"]),
        ("RemoteAction._action_call_format", RemoteAction, "_action_call_format",
         ["self", "tracker", "domain"]),
        ("ResponseSelector._set_message_property", ResponseSelector,
         "_set_message_property", ["self", "message", "prediction_dict", "selector_key"]),
        ("Event.resolve_by_type", Event, "resolve_by_type", ["type_name", "default"]),
        ("Slot.__copy__", Slot, "__copy__", ["self"]),
        ("DialogueStateTracker.__init__", DialogueStateTracker, "__init__",
         ["self", "sender_id", "slots", "max_event_history", "sender_source",
          "is_rule_tracker"]),
        ("FailSafeTrackerStore.retrieve", FailSafeTrackerStore, "retrieve",
         ["self", "sender_id"]),
        ("FailSafeTrackerStore.retrieve_full_tracker", FailSafeTrackerStore,
         "retrieve_full_tracker", ["self", "sender_id"]),
        ("FailSafeTrackerStore.save", FailSafeTrackerStore, "save", ["self", "tracker"]),
        ("LockStore.lock", LockStore, "lock",
         ["self", "conversation_id", "lock_lifetime", "wait_time_in_seconds"]),
        ("LockStore._acquire_lock", LockStore, "_acquire_lock",
         ["self", "conversation_id", "ticket", "wait_time_in_seconds"]),
        ("RestInput.blueprint", RestInput, "blueprint", ["self", "on_new_message"]),
        ("Agent.handle_message", Agent, "handle_message", ["self", "message"]),
    ]


def check_targets() -> list[str]:
    """Problems with what the patches rely on (empty when Rasa still has it all)."""
    import rasa

    problems = []
    if not rasa.__version__.startswith(TESTED_RASA + "."):
        problems.append(f"Rasa {rasa.__version__}: the patches were written for "
                        f"{TESTED_RASA}.x; re-check each one against the new source")
    for name, owner, attribute, params in _targets():
        original = ORIGINALS.get(name) or getattr(owner, attribute, None)
        if name == "Slot.__copy__":
            original = ORIGINALS[name] if name in ORIGINALS else getattr(owner, attribute,
                                                                         None)
            if original is not None:  # Rasa copies slots its own way now: re-check
                problems.append("Slot.__copy__ exists in Rasa: re-check patch 10")
            continue
        if original is None:
            problems.append(f"{name} is gone")
            continue
        found = list(inspect.signature(original).parameters)
        if found != params:
            problems.append(f"{name}{found}: expected parameters {params}")
    # What the replaced code did, so that the replacement still does the same.
    owners = {name: (owner, attribute) for name, owner, attribute, _ in _targets()}
    for name, needles in {
        "RemoteAction._validate_action_result": ("action_response_format_spec()",
                                                 "validate(", "e.message +="),
        "SQLTrackerStore._retrieve": ("_event_query", "json.loads(event.data)",
                                      "DialogueStateTracker.from_dict"),
        "SQLTrackerStore.__init__": (
            "self.engine = sa.create_engine(engine_url, **create_engine_kwargs(engine_url))",),
        "ActionExecutor.run": ("utils.call_potential_coroutine(",
                               "self._create_api_response(validated_events"),
        # TED may be skipped only because the ensemble compares (confidence, priority)
        # after setting a rejected action's confidence to 0.0 everywhere.
        "DefaultPolicyPredictionEnsemble._pick_best_policy": (
            "confidence = (prediction.max_confidence, prediction.policy_priority)",
            "if prediction.is_no_user_prediction != is_no_user_prediction:",
            "prediction.is_end_to_end_prediction != is_end_to_end_prediction"),
        "DefaultPolicyPredictionEnsemble._best_policy_prediction": (
            "ActionExecutionRejected", "prediction.probabilities[index_of_rejected_action] = 0.0"),
        "TEDPolicy.predict_action_probabilities": (
            "self._pick_confidence(", "is_end_to_end_prediction=is_e2e_prediction"),
        "EndpointConfig.request": (
            "async with self.session() as session:", "raise ClientResponseError(",
            "return await response.json()", "params=self.combine_parameters(kwargs)"),
        "ResponseSelector.process": (
            "for message in messages:", "self._set_message_property(message, prediction_dict"),
        "RemoteAction._action_call_format": ('result["domain"] = domain.as_dict()',),
        "SQLTrackerStore.save": (
            "await self.stream_events(tracker)", "self._additional_events(session, tracker)",
            "data = event.as_dict()",
            'data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)',
            'action = data.get("name")', 'timestamp = data.get("timestamp")',
            "sender_id=tracker.sender_id", "type_name=event.type_name",
            "data=json.dumps(data)", "session.commit()"),
        "Event.resolve_by_type": (
            "for cls in rasa.shared.utils.common.all_subclasses(Event):",
            "if cls.type_name == type_name:", 'if type_name == "topic":',
            "elif default is not None:", "raise ValueError("),
        "DialogueStateTracker.__init__": (
            "self.slots = {slot.name: copy.copy(slot) for slot in slots}",),
        # 12: the fallbacks replaced, and what the replacements keep.
        "FailSafeTrackerStore.retrieve": ("self._tracker_store.retrieve(sender_id)",
                                          "return None"),
        "FailSafeTrackerStore.save": ("self._tracker_store.save(tracker)",
                                      "self.fallback_tracker_store.save(tracker)"),
        "LockStore.lock": ("ticket = self.issue_ticket(conversation_id, lock_lifetime)",
                           "yield await self._acquire_lock(", "self.cleanup(conversation_id, "
                                                              "ticket)"),
        "RestInput.blueprint": ("await on_new_message(", "except Exception:",
                                "return response.json(collector.messages)"),
        # a turn runs inside the conversation's lock; the lock is taken first
        "Agent.handle_message": ("async with self.lock_store.lock(message.sender_id):",
                                 "self.processor.handle_message("),
    }.items():
        owner, attribute = owners[name]
        try:
            text = inspect.getsource(ORIGINALS.get(name) or getattr(owner, attribute))
        except (OSError, TypeError, AttributeError):
            text = ""
        missing = [needle for needle in needles if needle not in text]
        if missing:
            problems.append(f"{name} changed (no {', '.join(missing)}): re-check the patch")
    from rasa.core.tracker_store import SQLTrackerStore

    for column in ("data", "sender_id", "type_name", "timestamp", "intent_name", "action_name"):
        if not hasattr(SQLTrackerStore.SQLEvent, column):
            problems.append(f"SQLTrackerStore.SQLEvent.{column} is gone")
    return problems


ORIGINALS: dict[str, Any] = {}
# The targets the patches replace (the others are only relied on).
REPLACED = frozenset({"RemoteAction._validate_action_result", "SQLTrackerStore._retrieve",
                      "SQLTrackerStore.__init__", "tracker_store.create_engine_kwargs",
                      "ActionExecutor.run", "Policy.__init__",
                      "MemoizationPolicy.predict_action_probabilities",
                      "RulePolicy.predict_action_probabilities",
                      "TEDPolicy.predict_action_probabilities", "EndpointConfig.request",
                      "ResponseSelector.process", "RemoteAction._action_call_format",
                      "Event.resolve_by_type", "Slot.__copy__", "SQLTrackerStore.save",
                      "FailSafeTrackerStore.retrieve", "FailSafeTrackerStore.save",
                      "FailSafeTrackerStore.retrieve_full_tracker", "LockStore.lock",
                      "RestInput.blueprint"})

PATCHES: dict[str, Callable[[], None]] = {
    "action_result_validator": _patch_action_validation,
    "sql_retrieve_data_only": _patch_sql_retrieve,
    "sqlite_tracker_store_wal": _patch_sqlite_tracker_store,
    "ted_skipped_when_decided": _patch_ted_skip,
    "action_server_keep_alive": _patch_endpoint_keep_alive,
    "response_selector_when_needed": _patch_response_selector,
    "domain_sent_once": _patch_domain_once,
    "event_class_lookup_once": _patch_event_resolution,
    "slot_copy_direct": _patch_slot_copy,
    "sql_save_one_insert": _patch_sql_save,
    "stores_refuse_turn": _patch_stores_refuse_turn,
}


def _remember_originals() -> None:
    for name, owner, attribute, _ in _targets():
        ORIGINALS.setdefault(name, getattr(owner, attribute, None))


def apply(names: list[str] | None = None) -> list[str]:
    """Apply the patches (all, or `names`) once per process; returns what was applied.

    `BOT_RASA_PATCHES=off` applies none (escape hatch, and A/B measurements:
    `scripts/loadtest.py --no-patches`)."""
    if os.environ.get("BOT_RASA_PATCHES", "").strip().lower() in {"off", "0", "false", "no"}:
        logger.warning("Rasa patches disabled (BOT_RASA_PATCHES=off)")
        return []
    with _lock:
        _remember_originals()
        problems = check_targets()
        if problems:
            logger.warning("Rasa patches: %s", "; ".join(problems))
        done = []
        for name in names or list(PATCHES):
            if name not in _applied:
                PATCHES[name]()
                _applied.add(name)
                done.append(name)
        if done:
            logger.info("Rasa patches applied: %s", ", ".join(done))
        return done


def revert() -> None:
    """Undo every applied patch (tests: the patches do not leak into other tests)."""
    with _lock:
        for name, owner, attribute, _ in _targets():
            if name not in REPLACED or name not in ORIGINALS:
                continue
            original = ORIGINALS[name]
            if name == "Event.resolve_by_type":
                setattr(owner, attribute, staticmethod(original))
            elif original is not None:
                setattr(owner, attribute, original)
            elif attribute in vars(owner):  # added by a patch (Slot.__copy__)
                delattr(owner, attribute)
        _validator_for_spec.cache_clear()
        _event_classes.clear()
        _applied.clear()
        _known_digests.clear()
        global _runtime, _pool
        if _pool is not None:
            _pool.shutdown(wait=False)
        _runtime, _pool = None, None
