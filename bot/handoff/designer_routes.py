"""The designers' part of the console (role `designer`): the review inbox of real
conversations, corrections turned into pending changes, metrics. The logic is in
bot/designer; these are the HTTP routes, registered by `create_app` (`register(app)`).

    /console/designer/                               the page (static/designer.html)
    GET  /console/api/designer/options               intents, entities, outcomes, channels
    GET  /console/api/designer/conversations         inbox: since, until (YYYY-MM-DD, local
                                                     dates), channel, outcome, low=1, offset
    GET  /console/api/designer/conversations/{id}    one conversation, masked
    POST /console/api/designer/conversations/{id}/messages/{event}/correction
                                                     {intent, text?, entities: [...]}
    POST /console/api/designer/conversations/{id}/story   {corrections: {event: {...}}}
    GET  /console/api/designer/changes               pending changes with their checks
    POST /console/api/designer/changes/{change}/discard
    GET  /console/api/designer/metrics               since, until

Every view is written to the audit log (`designer:<account>`; the action names the
conversation by its number, the subscriber only by the backend's internal id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.designer import inbox as inbox_mod
from bot.designer.changes import ChangeError, ChangeStore
from bot.designer.conversations import OUTCOMES, Entity, build
from bot.designer.masking import Masker
from bot.designer.stories import Correction, story_yaml
from bot.designer.texts import designer_texts
from bot.designer.tracker import TrackerReader
from bot.handoff.app import SERVICE_KEY, STATIC_DIR, current_agent, read_json

ROLE = "designer"
READER_KEY = web.AppKey("designer_reader", TrackerReader)
CHANGES_KEY = web.AppKey("designer_changes", ChangeStore)


def _reader(app: web.Application) -> TrackerReader:
    if READER_KEY not in app:
        app[READER_KEY] = TrackerReader()
    return app[READER_KEY]


def _changes(app: web.Application) -> ChangeStore:
    if CHANGES_KEY not in app:
        app[CHANGES_KEY] = ChangeStore()
    return app[CHANGES_KEY]


async def _read(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a tracker-store read in a thread; a store that cannot be read (no file yet,
    database down) is a 503 with a message, not a crash."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return await asyncio.to_thread(fn, *args)
    except SQLAlchemyError as exc:
        raise web.HTTPServiceUnavailable(text=web.json_response(
            {"error": "tracker_unavailable",
             "message": designer_texts("errors.tracker_unavailable")}).text,
            content_type="application/json") from exc


def _bad(detail: str) -> web.HTTPUnprocessableEntity:
    return web.HTTPUnprocessableEntity(
        text=web.json_response({"error": "invalid", "message": designer_texts(
            "errors.bad_request", detail=detail)}).text, content_type="application/json")


def _not_found(key: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=web.json_response(
        {"error": "not_found", "message": designer_texts(key)}).text,
        content_type="application/json")


async def _audit(request: web.Request, account: str, action: str,
                 msisdn: str | None = None) -> None:
    service = request.app[SERVICE_KEY]
    backend = service.backend
    if backend is None:
        from bot.backend import get_backend

        backend = service.backend = get_backend()
    await asyncio.to_thread(backend.audit.record, f"designer:{account}", action, msisdn)


def _period(request: web.Request) -> tuple[float, float]:
    from bot.clock import local_zone

    since_default, until_default = inbox_mod.default_period()
    zone = local_zone()

    def day(name: str, default: float, end: bool) -> float:
        raw = request.query.get(name)
        if not raw:
            return default
        try:
            parsed = date.fromisoformat(raw)
        except ValueError as exc:
            raise _bad(f"{name}=YYYY-MM-DD") from exc
        moment = datetime.combine(parsed + timedelta(days=1 if end else 0), time(0), zone)
        return moment.timestamp()

    since, until = day("since", since_default, False), day("until", until_default, True)
    if until <= since:
        raise _bad("until < since")
    return since, until


def _int(raw: str | None, name: str, default: int = 0) -> int:
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise _bad(f"{name}: integer") from exc


# ------------------------------------------------------------------ views
async def page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC_DIR / "designer.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def options(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    store = _changes(request.app)

    def load() -> dict[str, Any]:
        from bot.designer.changes import domain_of, entity_names, intent_names
        from bot.designer.nlu_files import nlu_files

        domain = domain_of(store.root)
        intents = set(intent_names(domain))
        for path in nlu_files(store.root):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("- intent: faq/"):
                    intents.add(line.split(":", 1)[1].strip())
        intents.discard("faq")
        return {"intents": sorted(intents), "entities": sorted(entity_names(domain)),
                "outcomes": {o: designer_texts(f"outcomes.{o}") for o in OUTCOMES}}

    return web.json_response(await asyncio.to_thread(load))


async def conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    since, until = _period(request)
    outcome = request.query.get("outcome") or None
    try:
        query = inbox_mod.InboxQuery(
            since, until, channel=request.query.get("channel") or None, outcome=outcome,
            low_confidence=request.query.get("low") in ("1", "true"),
            offset=max(0, _int(request.query.get("offset"), "offset")),
            limit=int(inbox_mod.inbox_setting("page_size")))
    except ValueError as exc:
        raise _bad(str(exc)) from exc
    result = await _read(inbox_mod.page, _reader(request.app), query)
    await _audit(request, agent.name, "designer_view_inbox")
    return web.json_response(result)


async def _conversation(request: web.Request) -> Any:
    session_id = _int(request.match_info["conversation_id"], "conversation")
    session = await _read(_reader(request.app).session, session_id)
    if session is None:
        raise _not_found("errors.no_conversation")
    return session


def _verified(conv: Any) -> str | None:
    value = conv.slots.get("verified_msisdn")
    return str(value) if value else None


async def conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    session = await _conversation(request)
    conv = build(session, datetime.now().timestamp())
    body = inbox_mod.conversation_json(conv)
    await _audit(request, agent.name, f"designer_view_conversation:{conv.id}", _verified(conv))
    return web.json_response(body)


def _entities(text: str, raw: Any) -> list[Entity]:
    """Entities of a correction: [{entity, start, end, value?}] or [{entity, text, value?}]
    (the span is then found in the text)."""
    if not isinstance(raw, list):
        raise _bad("entities: list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str):
            raise _bad("entities: {entity, start, end}")
        if isinstance(item.get("start"), int) and isinstance(item.get("end"), int):
            start, end = item["start"], item["end"]
        else:
            span = str(item.get("text") or "")
            start = text.find(span) if span else -1
            if start < 0:
                raise web.HTTPUnprocessableEntity(
                    text=web.json_response({"error": "span", "message": designer_texts(
                        "errors.span_missing", span=span, entity=item["entity"])}).text,
                    content_type="application/json")
            end = start + len(span)
        if not 0 <= start < end <= len(text):
            raise _bad("entity offsets")
        value = item.get("value")
        out.append(Entity(item["entity"], str(value) if value else text[start:end], start, end))
    return out


async def correct(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    body = await read_json(request)
    session = await _conversation(request)
    conv = build(session, datetime.now().timestamp())
    event_id = _int(request.match_info["event_id"], "event")
    message = next((m for m in conv.user_messages if m.event_id == event_id), None)
    if message is None:
        raise _not_found("errors.no_message")
    intent = body.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        raise _bad("intent")
    text = body.get("text")
    if text is None:  # the customer's words, personal data replaced by stand-ins
        text, _ = Masker(conv).stand_in(message.text, message.entities, message.asked)
    if not isinstance(text, str):
        raise _bad("text")
    entities = _entities(text, body.get("entities") or [])
    source = {"conversation": conv.id, "event": event_id, "predicted": message.intent}
    change = await asyncio.to_thread(_changes(request.app).propose_example, intent.strip(),
                                     text, entities, f"designer:{agent.name}", source)
    return web.json_response({"change": _change_json(request.app, change)}, status=201)


async def save_story(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    body = await read_json(request)
    session = await _conversation(request)
    conv = build(session, datetime.now().timestamp())
    raw = body.get("corrections") or {}
    if not isinstance(raw, dict):
        raise _bad("corrections")
    masker = Masker(conv)
    corrections: dict[int, Correction] = {}
    by_id = {m.event_id: m for m in conv.user_messages}
    for key, fix in raw.items():
        event_id = _int(str(key), "event")
        message = by_id.get(event_id)
        if message is None or not isinstance(fix, dict) or not isinstance(fix.get("intent"),
                                                                           str):
            raise _not_found("errors.no_message")
        # entities of a correction are given on the stand-in text (the correction form's)
        safe_text, _ = masker.stand_in(message.text, message.entities, message.asked)
        corrections[event_id] = Correction(fix["intent"], tuple(
            _entities(safe_text, fix.get("entities") or [])))
    story = story_yaml(session, conv, corrections)
    change = await asyncio.to_thread(_changes(request.app).propose_story, story,
                                     f"designer:{agent.name}", {"conversation": conv.id})
    return web.json_response({"change": _change_json(request.app, change)}, status=201)


def _change_json(app: web.Application, change: Any) -> dict[str, Any]:
    return {**change.as_dict(), "diff": _changes(app).diff(change)}


async def changes(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    store = _changes(request.app)

    def load() -> list[dict[str, Any]]:
        pending = store.pending()
        out = []
        for change in pending:
            change.flags = store.recheck(change, pending)
            out.append(_change_json(request.app, change))
        return out

    return web.json_response({"changes": await asyncio.to_thread(load),
                              "folder": str(Path(store.directory))})


async def discard(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    await read_json(request)
    try:
        change = await asyncio.to_thread(_changes(request.app).discard,
                                         request.match_info["change_id"])
    except ChangeError as exc:
        raise web.HTTPNotFound(text=web.json_response(
            {"error": "not_found", "message": str(exc)}).text,
            content_type="application/json") from exc
    return web.json_response({"discarded": change.id})


async def metrics(request: web.Request) -> web.Response:
    from bot.designer.metrics import compute

    agent = await current_agent(request, role=ROLE)
    since, until = _period(request)

    def run() -> dict[str, Any]:
        return compute(inbox_mod.conversations(_reader(request.app), since, until))

    result = await _read(run)
    await _audit(request, agent.name, "designer_view_metrics")
    return web.json_response(result)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def register(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/designer", page)
    r.add_get("/console/designer/", page)
    base = "/console/api/designer"
    r.add_get(f"{base}/options", options)
    r.add_get(f"{base}/conversations", conversations)
    r.add_get(f"{base}/conversations/{{conversation_id}}", conversation)
    r.add_post(f"{base}/conversations/{{conversation_id}}/messages/{{event_id}}/correction",
               correct)
    r.add_post(f"{base}/conversations/{{conversation_id}}/story", save_story)
    r.add_get(f"{base}/changes", changes)
    r.add_post(f"{base}/changes/{{change_id}}/discard", discard)
    r.add_get(f"{base}/metrics", metrics)
