"""The review desk's pages and API in the agent console (role `reviewer`).

    /console/review/                                      the page (static review.html)
    GET  /console/api/review/queue                        pending requests, overdue first
    GET  /console/api/review/requests/{id}                one request (audited)
    GET  /console/api/review/requests/{id}/photos/{kind}  a photo, decrypted (audited)
    POST /console/api/review/requests/{id}/approve        {"version"}
    POST /console/api/review/requests/{id}/reject         {"version", "reason", "note"?}

Registered by `register(app)` from `create_app`. Every call needs a signed-in account
with the `reviewer` role (401/403); the console's middlewares add the JSON-body rule for
POSTs, the security headers and `Cache-Control: no-store`, which the photo response also
sets itself (a photo is never kept by a browser or a proxy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.backend.update_requests import ReviewConflict, reject_reasons
from bot.backend.views import UpdateRequestView
from bot.handoff.app import STATIC_DIR, current_agent, read_json
from bot.handoff.review import ReviewDesk, ReviewError, hours_left
from bot.media import is_media_ref
from bot.privacy import mask_msisdn
from bot.texts import Messages

REVIEW_KEY = web.AppKey("review_desk", ReviewDesk)
review_texts = Messages(Path(__file__).with_name("review_texts.yml"))
ROLE = "reviewer"
_ERROR_STATUS = {"not_found": 404, "no_photo": 404, "bad_reason": 422, "note_required": 422}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def _label(table: str, code: Any) -> str:
    return review_texts.table(table).get(str(code), str(code))


def _value(value: str) -> str:
    return review_texts.table("values").get(value, value)


def request_json(view: UpdateRequestView, now: datetime) -> dict[str, Any]:
    """A request in the queue or the history: no personal data."""
    return {
        "id": view.id, "status": view.status, "status_label": _label("statuses", view.status),
        "version": view.version, "channel": view.channel,
        "channel_label": _label("channels", view.channel),
        "submitted_at": _iso(view.submitted_at), "due_at": _iso(view.due_at),
        "decided_at": _iso(view.decided_at), "decided_by": view.decided_by,
        "overdue": view.status == "pending" and now > view.due_at,
        "seconds_left": int((view.due_at - now).total_seconds()),
        "hours_left": hours_left(view.due_at, now),
        "reject_reason": view.reject_reason,
        "reject_reason_label": _label("reasons", view.reject_reason)
        if view.reject_reason else None,
        "notified_via": view.notified_via,
    }


def _desk(request: web.Request) -> ReviewDesk:
    return request.app[REVIEW_KEY]


def _request_id(request: web.Request) -> int:
    try:
        return int(request.match_info["request_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


def _fail(code: str, **values: Any) -> web.Response:
    return web.json_response({"error": code, "message": review_texts(f"errors.{code}",
                                                                     **values)},
                             status=_ERROR_STATUS.get(code, 409))


async def queue(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    now = _desk(request).backend.now()
    pending = await asyncio.to_thread(_desk(request).queue)
    return web.json_response({
        "now": _iso(now), "requests": [request_json(v, now) for v in pending],
        "reasons": [{"code": c, "label": _label("reasons", c)} for c in reject_reasons()]})


async def detail(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    request_id = _request_id(request)
    try:
        found = await asyncio.to_thread(_desk(request).show, request_id, agent.name)
    except ReviewError as exc:
        return _fail(exc.code)
    now = _desk(request).backend.now()
    fields = review_texts.table("fields")
    return web.json_response({
        "request": request_json(found.request, now),
        "msisdn_masked": mask_msisdn(found.msisdn),
        # The submitted values are whole: the reviewer compares them with the document.
        "fields": [{"code": code, "label": label, "value": _value(found.fields[code])}
                   for code, label in fields.items() if code in found.fields],
        "photos": [{"kind": kind, "label": _label("photos", kind),
                    "url": f"/console/api/review/requests/{request_id}/photos/{kind}"}
                   for kind in ("id_front", "id_back", "portrait")
                   if is_media_ref(found.photos.get(kind))],  # a typed link (shell) is not
        # The registered data is masked: the reviewer does not need it whole.
        "current": [{"label": _label("current", code),
                     "value": mask_msisdn(value) if code == "msisdn" else _value(value)}
                    for code, value in found.current.items()],
        "history": [request_json(v, now) for v in found.history],
    })


async def photo(request: web.Request) -> web.StreamResponse:
    agent = await current_agent(request, role=ROLE)
    try:
        data, mime = await asyncio.to_thread(_desk(request).photo, _request_id(request),
                                             request.match_info["kind"], agent.name)
    except ReviewError as exc:
        return _fail(exc.code)
    return web.Response(body=data, content_type=mime, headers={
        "Cache-Control": "no-store, private, max-age=0", "Pragma": "no-cache",
        "Content-Disposition": "inline"})


def _decider(approve: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        agent = await current_agent(request, role=ROLE)
        body = await read_json(request)
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            return web.json_response({"error": "invalid",
                                      "message": review_texts("errors.version")}, status=422)
        reason, note = body.get("reason"), body.get("note")
        try:
            decision, via = await _desk(request).decide(
                _request_id(request), agent.name, version, approve,
                reason=reason if isinstance(reason, str) else None,
                note=note if isinstance(note, str) else None)
        except ReviewError as exc:
            return _fail(exc.code)
        except ReviewConflict as exc:
            current = exc.current
            return web.json_response({
                "error": "conflict",
                "message": review_texts("errors.conflict", request_id=current.id,
                                        reviewer=current.decided_by or "-",
                                        status=_label("statuses", current.status)),
                "request": request_json(current, _desk(request).backend.now())}, status=409)
        return web.json_response({
            "request": request_json(decision.request, _desk(request).backend.now()),
            "notified_via": via, "notified_label": _label("channels", via)})
    return handler


async def page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC_DIR / "review.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/review/")


def register(app: web.Application, desk: ReviewDesk | None = None) -> None:
    """Add the review desk to the console app."""
    app[REVIEW_KEY] = desk or ReviewDesk()
    r = app.router
    r.add_get("/console/review", _to_page)
    r.add_get("/console/review/", page)
    r.add_get("/console/api/review/queue", queue)
    r.add_get("/console/api/review/requests/{request_id}", detail)
    r.add_get("/console/api/review/requests/{request_id}/photos/{kind}", photo)
    r.add_post("/console/api/review/requests/{request_id}/approve", _decider(True))
    r.add_post("/console/api/review/requests/{request_id}/reject", _decider(False))
