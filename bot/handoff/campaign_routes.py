"""The campaigns' page and API in the agent console (role `campaigns`).

    /console/campaigns/                                 the page (static campaigns.html)
    GET  /console/api/campaigns                         campaigns with their numbers
    POST /console/api/campaigns                         create (draft)
    POST /console/api/campaigns/{id}/start|pause|resume
    GET  /console/api/campaigns/{id}/report             the numbers, failures, per day

Registered by `register(app)` from `create_app`. Every call needs a signed-in account
with the `campaigns` role (401/403); the console's middlewares add the JSON-body rule for
POSTs and the security headers. No personal data leaves: only counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot.backend.reference import DECREE49_FIELDS
from bot.campaigns.engine import CampaignEngine
from bot.campaigns.forms import campaign_from_values
from bot.campaigns.report import CampaignReport, build_report
from bot.campaigns.store import CampaignView
from bot.campaigns.texts import campaign_texts
from bot.handoff.app import STATIC_DIR, current_agent, read_json

ROLE = "campaigns"
ENGINE_KEY = web.AppKey("campaign_engine", dict)


def _engine(request: web.Request) -> CampaignEngine:
    holder = request.app[ENGINE_KEY]
    if "engine" not in holder:  # built on first use: the database of BOT_DB_URL
        holder["engine"] = CampaignEngine()
    engine: CampaignEngine = holder["engine"]
    return engine


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def report_json(report: CampaignReport) -> dict[str, Any]:
    labels = campaign_texts.table("report")
    return {
        "rows": [{"key": key, "label": labels[key], "value": value}
                 for key, value in report.rows()],
        "failed_reasons": report.failed_reasons,
        "by_day": [{"day": day, "sent": row.sent, "replied": row.replied,
                    "submitted": row.submitted, "approved": row.approved}
                   for day, row in report.by_day.items()],
    }


def campaign_json(view: CampaignView, report: CampaignReport) -> dict[str, Any]:
    numbers = dict(report.rows())
    return {
        "id": view.id, "name": view.name, "status": view.status,
        "status_label": campaign_texts.table("statuses").get(view.status, view.status),
        "deadline": view.deadline, "channels": list(view.channels),
        "rate_per_minute": view.rate_per_minute, "starts_at": _iso(view.starts_at),
        "ends_at": _iso(view.ends_at), "missing": list(view.audience.missing),
        "province": view.audience.province, "one_way_blocked": view.audience.one_way_blocked,
        "numbers": numbers,
    }


def _fail(code: str, http_status: int, **values: Any) -> web.Response:
    return web.json_response({"error": code,
                              "message": campaign_texts(f"errors.{code}", **values)},
                             status=http_status)


def _campaign_id(request: web.Request) -> int:
    try:
        return int(request.match_info["campaign_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


async def list_campaigns(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    engine = _engine(request)

    def load() -> list[dict[str, Any]]:
        return [campaign_json(c, build_report(engine.store, c.id, engine.backend))
                for c in engine.store.all()]

    return web.json_response({"campaigns": await asyncio.to_thread(load),
                              "items": list(DECREE49_FIELDS)})


async def create(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=ROLE)
    body = await read_json(request)
    try:
        new = campaign_from_values(
            name=str(body.get("name") or ""), deadline=str(body.get("deadline") or ""),
            missing=[str(m) for m in body.get("missing") or []],
            province=str(body.get("province") or "") or None,
            one_way=body.get("one_way_blocked"),
            channels=[str(c) for c in body.get("channels") or []],
            starts=body.get("starts") or None, ends=body.get("ends") or None,
            rate=int(body.get("rate_per_minute", 30)), by=agent.name)
    except (ValueError, TypeError) as exc:
        return _fail("bad_value", 422, field=str(exc).split(" ")[0] or "?")
    engine = _engine(request)
    campaign_id = await asyncio.to_thread(engine.store.create, new)
    return web.json_response({"id": campaign_id}, status=201)


def _changer(action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def change(request: web.Request) -> web.Response:
        await current_agent(request, role=ROLE)
        engine, campaign_id = _engine(request), _campaign_id(request)
        if await asyncio.to_thread(engine.store.get, campaign_id) is None:
            return _fail("not_found", 404)
        done = await asyncio.to_thread(getattr(engine, action), campaign_id)
        current = await asyncio.to_thread(engine.store.get, campaign_id)
        status = current.status if current else ""
        label = campaign_texts.table("statuses").get(status, status)
        if not done:
            return _fail("not_changed", 409, status=label)
        return web.json_response({"id": campaign_id, "status": status, "status_label": label})
    return change


async def report(request: web.Request) -> web.Response:
    await current_agent(request, role=ROLE)
    engine, campaign_id = _engine(request), _campaign_id(request)
    campaign = await asyncio.to_thread(engine.store.get, campaign_id)
    if campaign is None:
        return _fail("not_found", 404)
    built = await asyncio.to_thread(build_report, engine.store, campaign_id, engine.backend)
    return web.json_response({"campaign": campaign_json(campaign, built),
                              **report_json(built)})


async def page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC_DIR / "campaigns.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/campaigns/")


def register(app: web.Application, engine: CampaignEngine | None = None) -> None:
    """Add the campaigns to the console app."""
    app[ENGINE_KEY] = {"engine": engine} if engine else {}
    r = app.router
    r.add_get("/console/campaigns", _to_page)
    r.add_get("/console/campaigns/", page)
    r.add_get("/console/api/campaigns", list_campaigns)
    r.add_post("/console/api/campaigns", create)
    for action in ("start", "pause", "resume"):
        r.add_post(f"/console/api/campaigns/{{campaign_id}}/{action}", _changer(action))
    r.add_get("/console/api/campaigns/{campaign_id}/report", report)
