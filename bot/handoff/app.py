"""The hand-off web app (aiohttp): agent console + call-center API.

    /console/                      agent console (static HTML/JS/CSS, no build step)
    /console/api/...               console JSON API (session cookie, per-agent accounts)
    /api/v1/assistant-handoffs     call center -> assistant (Bearer token per caller)
    /api/v1/goals, /api/v1/openapi.yaml, /healthz

A separate process from the Rasa server: it talks to Rasa's HTTP API with the auth token
(see docs/handoff.md for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.handoff.accounts import AgentAccounts, AgentView
from bot.handoff.service import GOALS, HandoffService, ServiceError
from bot.handoff.tickets import MessageView, TicketConflict, TicketNotFound, TicketView

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
OPENAPI_FILE = HERE / "openapi.yaml"
COOKIE = "handoff_session"
MAX_BODY = 64 * 1024
LOGIN_WINDOW_S, LOGIN_MAX_FAILURES = 300, 5

STATUS_LABELS = {"waiting": "Đang chờ", "open": "Đang xử lý", "resolved": "Đã xử lý xong",
                 "handed_back": "Đã trả lại trợ lý"}
CHANNEL_LABELS = {"telegram": "Telegram", "zalo": "Zalo"}

SERVICE_KEY = web.AppKey("service", HandoffService)
ACCOUNTS_KEY = web.AppKey("accounts", AgentAccounts)
TOKENS_KEY = web.AppKey("api_tokens", dict)
SETTINGS_KEY = web.AppKey("settings", dict)


# ------------------------------------------------------------------ helpers
def parse_api_tokens(raw: str | None) -> dict[str, str]:
    """`HANDOFF_API_TOKENS="crm=<token>,ivr=<token>"` -> {caller: token}. Tokens shorter
    than 16 characters are refused (ValueError)."""
    tokens: dict[str, str] = {}
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, token = item.partition("=")
        if not sep or not name.strip() or len(token.strip()) < 16:
            raise ValueError("HANDOFF_API_TOKENS: entries are name=token, tokens >= 16 chars")
        tokens[name.strip()] = token.strip()
    return tokens


def caller_for_token(tokens: dict[str, str], given: str) -> str | None:
    """The caller whose token equals `given`; compares with every token in constant time."""
    found = None
    given_b = given.encode("utf-8")
    for name, token in tokens.items():
        if hmac.compare_digest(given_b, token.encode("utf-8")):
            found = name
    return found


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def mask_msisdn(msisdn: str | None) -> str | None:
    return f"{msisdn[:3]}****{msisdn[-3:]}" if msisdn and len(msisdn) >= 7 else None


def ticket_json(ticket: TicketView, now: datetime, *, detail: bool = False) -> dict[str, Any]:
    """A ticket for the console. The masked number only in the detail view, whose
    personal data is audited (the queue shows none)."""
    end = ticket.closed_at or now
    return {
        "id": ticket.id, "conversation_id": ticket.conversation_id,
        "channel": ticket.channel, "channel_label": CHANNEL_LABELS.get(ticket.channel or "",
                                                                       ticket.channel or "Khác"),
        "reason": ticket.reason, "reason_label": ticket.reason_label,
        "priority": ticket.priority, "urgent": ticket.priority == 0,
        "status": ticket.status, "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "agent": ticket.agent, "version": ticket.version, "summary": ticket.summary,
        "verified": bool(ticket.verified_msisdn),
        "msisdn_masked": mask_msisdn(ticket.verified_msisdn) if detail else None,
        "created_at": _iso(ticket.created_at), "claimed_at": _iso(ticket.claimed_at),
        "closed_at": _iso(ticket.closed_at), "last_customer_at": _iso(ticket.last_customer_at),
        "waiting_seconds": max(0, int((end - ticket.created_at).total_seconds())),
    }


def message_json(message: MessageView) -> dict[str, Any]:
    return {"id": message.id, "role": message.role, "author": message.author,
            "text": message.text, "at": _iso(message.at), "delivery": message.delivery}


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


def conflict_message(exc: TicketConflict) -> str:
    ticket = exc.ticket
    number = f"#{ticket.id}" if ticket else ""
    if exc.code == "claimed" and ticket is not None:
        return f"Yêu cầu {number} đang do {ticket.agent} xử lý."
    if exc.code == "closed":
        return f"Yêu cầu {number} đã được đóng trước đó."
    return f"Yêu cầu {number} vừa được thay đổi. Vui lòng tải lại rồi thử lại."


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body; JSON content type is required (also blocks cross-site form
    posts against the console)."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": "json_required",
                             "message": "Content-Type must be application/json"}),
            content_type="application/json")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "invalid_json", "message": "body must be a JSON object"}),
            content_type="application/json")
    return body


def _ticket_id(request: web.Request) -> int:
    try:
        return int(request.match_info["ticket_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


# --------------------------------------------------------------- middlewares
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceError as exc:
        return _error(exc.status, exc.code, exc.message)
    except TicketConflict as exc:
        ticket = exc.ticket
        now = datetime.now(timezone.utc)
        return _error(409, "conflict", conflict_message(exc), conflict=exc.code,
                      ticket=ticket_json(ticket, now) if ticket else None)
    except TicketNotFound:
        return _error(404, "not_found", "Không tìm thấy yêu cầu này.")
    except ValueError as exc:
        return _error(422, "invalid", str(exc))


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
    if request.path.startswith(("/console/api", "/api/")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# ------------------------------------------------------------ console auth
async def current_agent(request: web.Request) -> AgentView:
    accounts = request.app[ACCOUNTS_KEY]
    agent = await asyncio.to_thread(accounts.session_agent, request.cookies.get(COOKIE))
    if agent is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unauthorized",
                             "message": "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."}),
            content_type="application/json")
    return agent


class LoginLimiter:
    """At most LOGIN_MAX_FAILURES failed logins per name and per address in the window."""

    def __init__(self) -> None:
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        window = self.failures[key]
        while window and window[0] < time.monotonic() - LOGIN_WINDOW_S:
            window.popleft()
        return window

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= LOGIN_MAX_FAILURES for k in keys)

    def fail(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic())

    def reset(self, *keys: str) -> None:
        for key in keys:
            self.failures.pop(key, None)


LIMITER_KEY = web.AppKey("login_limiter", LoginLimiter)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        return _error(422, "invalid", "Vui lòng nhập tên đăng nhập và mật khẩu.")
    limiter = request.app[LIMITER_KEY]
    keys = (f"name:{name.strip().lower()}", f"ip:{request.remote}")
    if limiter.blocked(*keys):
        return _error(429, "too_many_attempts",
                      "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 5 phút.")
    accounts = request.app[ACCOUNTS_KEY]
    agent = await asyncio.to_thread(accounts.authenticate, name, password)
    if agent is None:
        limiter.fail(*keys)
        return _error(401, "bad_credentials", "Sai tên đăng nhập hoặc mật khẩu.")
    limiter.reset(keys[0])
    token = await asyncio.to_thread(accounts.start_session, agent)
    response = web.json_response({"agent": agent.name})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.app[SETTINGS_KEY]["cookie_secure"],
                        max_age=12 * 3600)
    log.info("agent signed in")
    return response


async def logout(request: web.Request) -> web.Response:
    await asyncio.to_thread(request.app[ACCOUNTS_KEY].end_session, request.cookies.get(COOKIE))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return web.json_response({"agent": agent.name})


# ------------------------------------------------------------ console API
async def queue(request: web.Request) -> web.Response:
    await current_agent(request)
    service = request.app[SERVICE_KEY]
    now = datetime.now(timezone.utc)
    active = await asyncio.to_thread(service.store.queue)
    closed = await asyncio.to_thread(service.store.recently_closed, 10)
    return web.json_response({"now": _iso(now),
                              "tickets": [ticket_json(t, now) for t in active],
                              "closed": [ticket_json(t, now) for t in closed]})


async def ticket_detail(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    detail = await request.app[SERVICE_KEY].ticket_detail(_ticket_id(request), agent.name)
    now = datetime.now(timezone.utc)
    return web.json_response({
        "ticket": ticket_json(detail["ticket"], now, detail=True),
        "messages": [message_json(m) for m in detail["messages"]],
        "profile": [{"label": k, "value": v} for k, v in detail["profile"].items()],
        "paused": detail["paused"],
    })


async def ticket_messages(request: web.Request) -> web.Response:
    await current_agent(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return _error(422, "invalid", "after must be an integer")
    ticket, messages = await request.app[SERVICE_KEY].new_messages(_ticket_id(request), after)
    return web.json_response({"ticket": ticket_json(ticket, datetime.now(timezone.utc)),
                              "messages": [message_json(m) for m in messages]})


async def claim(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await read_json(request)
    ticket = await request.app[SERVICE_KEY].claim(_ticket_id(request), agent.name)
    return web.json_response({"ticket": ticket_json(ticket, datetime.now(timezone.utc))})


async def reply(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(422, "empty_reply", "Vui lòng nhập nội dung trả lời.")
    if len(text) > 4000:
        return _error(422, "reply_too_long", "Nội dung trả lời dài quá 4.000 ký tự.")
    message = await request.app[SERVICE_KEY].reply(_ticket_id(request), agent.name, text)
    payload = {"message": message_json(message)}
    if message.delivery != "sent":
        payload["warning"] = ("Đã lưu tin nhắn nhưng chưa gửi được tới khách. "
                              "Vui lòng thử lại hoặc liên hệ khách qua hotline.")
    return web.json_response(payload, status=201)


def _closer(outcome: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        agent = await current_agent(request)
        body = await read_json(request)
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            return _error(422, "invalid", "version must be an integer")
        ticket = await request.app[SERVICE_KEY].close(_ticket_id(request), agent.name,
                                                      outcome, version)
        return web.json_response({"ticket": ticket_json(ticket, datetime.now(timezone.utc))})
    return handler


# -------------------------------------------------------- call-center API
async def assistant_handoff(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    scheme, _, given = auth.partition(" ")
    caller = (caller_for_token(request.app[TOKENS_KEY], given.strip())
              if scheme.lower() == "bearer" and given.strip() else None)
    if caller is None:
        return web.json_response(
            {"error": "unauthorized", "message": "a valid Bearer token is required"},
            status=401, headers={"WWW-Authenticate": 'Bearer realm="handoff"'})
    body = await read_json(request)
    result = await request.app[SERVICE_KEY].hand_to_assistant(caller=caller, payload=body)
    log.info("call center handed a customer to the assistant (goal=%s, transfer %s)",
             result["goal"], result["transfer_id"])
    return web.json_response(result, status=202)


async def goals(request: web.Request) -> web.Response:
    return web.json_response({"goals": [{"goal": g, "intent": i, "entities": list(e)}
                                        for g, (i, e) in GOALS.items()]})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=OPENAPI_FILE.read_text(encoding="utf-8"),
                        content_type="application/yaml", charset="utf-8")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def console_index(request: web.Request) -> web.Response:
    response = web.FileResponse(STATIC_DIR / "index.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


# ------------------------------------------------------------------ the app
async def _sync_loop(app: web.Application) -> None:
    service = app[SERVICE_KEY]
    interval = app[SETTINGS_KEY]["sync_interval"]
    while True:
        await asyncio.sleep(interval)
        try:
            await service.sync_all()
        except Exception as exc:  # noqa: BLE001 - keep syncing whatever happened
            log.warning("background sync failed: %s", type(exc).__name__)


async def _start_background(app: web.Application) -> None:
    if app[SETTINGS_KEY]["sync_interval"] > 0:
        app[SETTINGS_KEY]["sync_task"] = asyncio.create_task(_sync_loop(app))


async def _stop_background(app: web.Application) -> None:
    task = app[SETTINGS_KEY].get("sync_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app[SERVICE_KEY].rasa.close()


def create_app(service: HandoffService, accounts: AgentAccounts, api_tokens: dict[str, str],
               *, cookie_secure: bool = False, sync_interval: float = 3.0) -> web.Application:
    app = web.Application(middlewares=[security_headers, errors_middleware],
                          client_max_size=MAX_BODY)
    app[SERVICE_KEY] = service
    app[ACCOUNTS_KEY] = accounts
    app[TOKENS_KEY] = api_tokens
    app[LIMITER_KEY] = LoginLimiter()
    app[SETTINGS_KEY] = {"cookie_secure": cookie_secure, "sync_interval": sync_interval}
    app.on_startup.append(_start_background)
    app.on_cleanup.append(_stop_background)
    r = app.router
    r.add_get("/", root)
    r.add_get("/healthz", healthz)
    r.add_get("/console", root)
    r.add_get("/console/", console_index)
    r.add_static("/console/static", STATIC_DIR)
    r.add_post("/console/api/login", login)
    r.add_post("/console/api/logout", logout)
    r.add_get("/console/api/me", me)
    r.add_get("/console/api/queue", queue)
    r.add_get("/console/api/tickets/{ticket_id}", ticket_detail)
    r.add_get("/console/api/tickets/{ticket_id}/messages", ticket_messages)
    r.add_post("/console/api/tickets/{ticket_id}/claim", claim)
    r.add_post("/console/api/tickets/{ticket_id}/reply", reply)
    r.add_post("/console/api/tickets/{ticket_id}/resolve", _closer("resolved"))
    r.add_post("/console/api/tickets/{ticket_id}/hand-back", _closer("handed_back"))
    r.add_post("/api/v1/assistant-handoffs", assistant_handoff)
    r.add_get("/api/v1/goals", goals)
    r.add_get("/api/v1/openapi.yaml", openapi)
    return app


def app_from_env() -> web.Application:
    """The app configured from environment variables (see docs/handoff.md)."""
    from bot.handoff.rasa_client import RasaClient
    from bot.handoff.tickets import TicketStore

    service = HandoffService(store=TicketStore(), rasa=RasaClient())
    return create_app(service, AgentAccounts(),
                      parse_api_tokens(os.environ.get("HANDOFF_API_TOKENS")),
                      cookie_secure=os.environ.get("HANDOFF_COOKIE_SECURE", "0") == "1",
                      sync_interval=float(os.environ.get("HANDOFF_SYNC_INTERVAL", "3")))
