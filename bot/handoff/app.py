"""The hand-off web app (aiohttp): agent console + call-center API.

    /console/                      agent console (static HTML/JS/CSS, no build step)
    /console/api/...               console JSON API (session cookie, per-agent accounts)
    /api/v1/assistant-handoffs     call center -> assistant (Bearer token per caller)
    /api/v1/goals, /api/v1/openapi.yaml, /healthz

A separate process from the Rasa server: it talks to Rasa's HTTP API with a short-lived
JWT (see docs/handoff.md for why).

Security (docs/handoff.md, "Security"): every state-changing console call needs a JSON body
(a cross-site form cannot send one); failed logins are throttled per (client address,
name) and per address, the client address being the socket peer or, only from a trusted
proxy, the configured forwarding header; request bodies are capped
(`limits.max_request_bytes`); agents see personal data masked and every view of a
transcript or profile is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.brand import operator
from bot.handoff.accounts import NAME_MAX, AgentAccounts, AgentView
from bot.handoff.redact import for_agent
from bot.handoff.service import GOALS, HandoffService, ServiceError
from bot.handoff.texts import handoff_texts
from bot.handoff.tickets import MessageView, TicketConflict, TicketNotFound, TicketView
from bot.privacy import mask_msisdn

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
OPENAPI_FILE = HERE / "openapi.yaml"
COOKIE = "handoff_session"
# Failed logins: per (client address, agent name) and per client address, in a rolling
# window; the table of failures holds at most LOGIN_MAX_ENTRIES keys of each kind.
LOGIN_WINDOW_S, LOGIN_MAX_FAILURES, LOGIN_MAX_PER_ADDRESS = 300, 5, 20
LOGIN_MAX_ENTRIES = 10_000
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

STATUS_LABELS = handoff_texts.table("statuses")  # texts.yml
CHANNEL_LABELS = {"telegram": "Telegram", "zalo": "Zalo"}

SERVICE_KEY = web.AppKey("service", HandoffService)
ACCOUNTS_KEY = web.AppKey("accounts", AgentAccounts)
TOKENS_KEY = web.AppKey("api_tokens", dict)
SETTINGS_KEY = web.AppKey("settings", dict)


def max_request_bytes() -> int:
    """Cap of every request body (`limits.max_request_bytes` in bot/operator.yml)."""
    return int(operator()["limits"]["max_request_bytes"])


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


def ticket_json(ticket: TicketView, now: datetime, *, detail: bool = False) -> dict[str, Any]:
    """A ticket for the console. The masked number only in the detail view, whose
    personal data is audited (the queue shows none). The summary is redacted again on the
    way out (tickets stored before redaction existed)."""
    end = ticket.closed_at or now
    return {
        "id": ticket.id, "conversation_id": ticket.conversation_id,
        "channel": ticket.channel, "channel_label": CHANNEL_LABELS.get(ticket.channel or "",
                                                                       ticket.channel or "Khác"),
        "reason": ticket.reason, "reason_label": ticket.reason_label,
        "priority": ticket.priority, "urgent": ticket.priority == 0,
        "status": ticket.status, "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "agent": ticket.agent, "version": ticket.version, "summary": for_agent(ticket.summary),
        "verified": bool(ticket.verified_msisdn),
        "msisdn_masked": (mask_msisdn(ticket.verified_msisdn) or None) if detail else None,
        "created_at": _iso(ticket.created_at), "claimed_at": _iso(ticket.claimed_at),
        "closed_at": _iso(ticket.closed_at), "last_customer_at": _iso(ticket.last_customer_at),
        "waiting_seconds": max(0, int((end - ticket.created_at).total_seconds())),
    }


def message_json(message: MessageView) -> dict[str, Any]:
    """A transcript line for the console; what the customer or the assistant wrote is
    redacted (again) on the way out, the agent's own replies are shown as typed."""
    text = message.text if message.role == "agent" else for_agent(message.text)
    return {"id": message.id, "role": message.role, "author": message.author,
            "text": text, "at": _iso(message.at), "delivery": message.delivery}


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


def conflict_message(exc: TicketConflict) -> str:
    ticket = exc.ticket
    number = f"#{ticket.id}" if ticket else ""
    if exc.code == "claimed" and ticket is not None:
        return handoff_texts("errors.claimed", number=number, agent=ticket.agent)
    if exc.code == "closed":
        return handoff_texts("errors.closed", number=number)
    return handoff_texts("errors.changed", number=number)


def _json_required() -> web.HTTPUnsupportedMediaType:
    return web.HTTPUnsupportedMediaType(
        text=json.dumps({"error": "json_required",
                         "message": "Content-Type must be application/json"}),
        content_type="application/json")


def _too_large() -> web.HTTPRequestEntityTooLarge:
    limit = max_request_bytes()
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=0,
        text=json.dumps({"error": "too_large",
                         "message": f"request body larger than {limit} bytes"}),
        content_type="application/json")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body; JSON content type is required (also blocks cross-site form
    posts against the console)."""
    if request.content_type != "application/json":
        raise _json_required()
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large() from exc
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
        return _error(404, "not_found", handoff_texts("errors.not_found"))
    except ValueError as exc:
        return _error(422, "invalid", str(exc))


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared body over `limits.max_request_bytes` before reading it (a chunked
    body is cut at the same size by aiohttp's `client_max_size` when read)."""
    if request.content_length is not None and request.content_length > max_request_bytes():
        raise _too_large()
    return await handler(request)


@web.middleware
async def console_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing console call (login and logout included) carries a JSON body:
    a cross-site HTML form can only send urlencoded, multipart or text/plain, and a
    cross-site script cannot send JSON without a CORS preflight, which this server never
    grants. Browsers that say the call comes from another site are refused outright."""
    if request.method in UNSAFE_METHODS and request.path.startswith("/console/api/"):
        if request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
            raise web.HTTPForbidden(
                text=json.dumps({"error": "cross_site",
                                 "message": "cross-site requests are refused"}),
                content_type="application/json")
        if request.content_type != "application/json":
            raise _json_required()
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 4xx raised by a middleware or read_json
        _set_security_headers(request, exc.headers)
        raise
    _set_security_headers(request, response.headers)
    return response


def _set_security_headers(request: web.Request, headers: Any) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
    if request.path.startswith(("/console/api", "/api/")):
        headers.setdefault("Cache-Control", "no-store")


# ------------------------------------------------------------ console auth
async def current_agent(request: web.Request, role: str | None = "agent") -> AgentView:
    """The signed-in account, which must hold `role` (None: any account).

    401 without a valid session; 403 when the account lacks the role (each part of the
    console checks its own role: agent, reviewer, designer, campaigns)."""
    accounts = request.app[ACCOUNTS_KEY]
    agent = await asyncio.to_thread(accounts.session_agent, request.cookies.get(COOKIE))
    if agent is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unauthorized",
                             "message": handoff_texts("errors.session_expired")}),
            content_type="application/json")
    if role is not None and not agent.has_role(role):
        raise web.HTTPForbidden(
            text=json.dumps({"error": "forbidden",
                             "message": handoff_texts("errors.role_missing")}),
            content_type="application/json")
    return agent


class FailureTable:
    """Failure times per key in a rolling window, bounded: at most `max_keys` keys (when
    full, expired keys are pruned, then the keys whose last failure is oldest are
    evicted) and at most `max_per_key` times per key."""

    def __init__(self, window_s: float, max_per_key: int, max_keys: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.max_per_key, self.max_keys = window_s, max_per_key, max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._failures)

    def count(self, key: str) -> int:
        window = self._failures.get(key)
        if window is None:
            return 0
        cutoff = self.clock() - self.window_s
        while window and window[0] <= cutoff:
            window.popleft()
        if not window:
            del self._failures[key]
        return len(window)

    def add(self, key: str) -> None:
        window = self._failures.get(key)
        if window is None:
            if len(self._failures) >= self.max_keys:
                self.prune()
            while len(self._failures) >= self.max_keys:
                self._failures.popitem(last=False)
            window = self._failures[key] = deque(maxlen=self.max_per_key)
        window.append(self.clock())
        self._failures.move_to_end(key)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    def prune(self) -> None:
        """Drop the keys whose last failure left the window (they are kept in order of
        their last failure, so this stops at the first live key)."""
        cutoff = self.clock() - self.window_s
        while self._failures:
            key, window = next(iter(self._failures.items()))
            if window and window[-1] > cutoff:
                break
            del self._failures[key]


class LoginLimiter:
    """Failed logins: at most LOGIN_MAX_FAILURES per (client address, name) and
    LOGIN_MAX_PER_ADDRESS per client address in LOGIN_WINDOW_S. Nothing is counted per
    name alone, so typing an agent's name from elsewhere cannot lock the agent out; an
    address that guesses many names is stopped by the per-address cap."""

    def __init__(self, *, window_s: float = LOGIN_WINDOW_S,
                 max_failures: int = LOGIN_MAX_FAILURES,
                 max_per_address: int = LOGIN_MAX_PER_ADDRESS,
                 max_entries: int = LOGIN_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pairs = FailureTable(window_s, max_failures, max_entries, clock)
        self.addresses = FailureTable(window_s, max_per_address, max_entries, clock)
        self.max_failures, self.max_per_address = max_failures, max_per_address

    def __len__(self) -> int:
        return len(self.pairs) + len(self.addresses)

    @staticmethod
    def _pair(address: str, name: str) -> str:
        return f"{address}\n{name.strip().lower()[:NAME_MAX]}"

    def blocked(self, address: str, name: str) -> bool:
        return (self.pairs.count(self._pair(address, name)) >= self.max_failures
                or self.addresses.count(address) >= self.max_per_address)

    def fail(self, address: str, name: str) -> None:
        self.pairs.add(self._pair(address, name))
        self.addresses.add(address)

    def succeeded(self, address: str, name: str) -> None:
        self.pairs.reset(self._pair(address, name))


LIMITER_KEY = web.AppKey("login_limiter", LoginLimiter)


# ------------------------------------------------------------ client address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(raw: str | None) -> tuple[Network, ...]:
    """`HANDOFF_TRUSTED_PROXIES="10.0.0.5,10.1.0.0/16"` -> networks (ValueError if bad)."""
    networks = []
    for item in (raw or "").split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"HANDOFF_TRUSTED_PROXIES: not an address or network: "
                                 f"{item!r}") from exc
    return tuple(networks)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             networks: Iterable[Network]) -> bool:
    return ip is not None and any(ip in network for network in networks)


def client_address(request: web.Request) -> str:
    """The address a request comes from: the socket peer; when the peer is one of the
    trusted proxies (HANDOFF_TRUSTED_PROXIES) and a header is configured
    (HANDOFF_TRUSTED_PROXY_HEADER, e.g. X-Forwarded-For), the right-most address in that
    header that is not itself a trusted proxy. The header is ignored from anyone else."""
    settings = request.app[SETTINGS_KEY]
    peer = request.remote or "unknown"
    header, networks = settings["trusted_proxy_header"], settings["trusted_proxies"]
    if not header or not _trusted(_ip(peer), networks):
        return peer
    hops = [hop for value in request.headers.getall(header, [])
            for hop in value.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # garbage left of what our proxies wrote: not believed
        address = str(ip)
        if not _trusted(ip, networks):
            break
    return address


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        return _error(422, "invalid", handoff_texts("errors.login_missing"))
    limiter = request.app[LIMITER_KEY]
    address = client_address(request)
    if limiter.blocked(address, name):
        return _error(429, "too_many_attempts",
                      handoff_texts("errors.login_throttled", minutes=LOGIN_WINDOW_S // 60))
    accounts = request.app[ACCOUNTS_KEY]
    agent = await asyncio.to_thread(accounts.authenticate, name, password)
    if agent is None:
        limiter.fail(address, name)
        return _error(401, "bad_credentials", handoff_texts("errors.bad_credentials"))
    limiter.succeeded(address, name)
    token = await asyncio.to_thread(accounts.start_session, agent)
    response = web.json_response({"agent": agent.name})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.app[SETTINGS_KEY]["cookie_secure"],
                        max_age=12 * 3600)
    log.info("agent signed in")
    return response


async def logout(request: web.Request) -> web.Response:
    await read_json(request)  # a JSON body: no logout by a cross-site form
    await asyncio.to_thread(request.app[ACCOUNTS_KEY].end_session, request.cookies.get(COOKIE))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request, role=None)
    return web.json_response({"agent": agent.name, "roles": sorted(agent.roles)})


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
    now = datetime.now(timezone.utc)  # the service wrote the audit rows of this view
    return web.json_response({
        "ticket": ticket_json(detail["ticket"], now, detail=True),
        "messages": [message_json(m) for m in detail["messages"]],
        "profile": [{"label": k, "value": v} for k, v in detail["profile"].items()],
        "paused": detail["paused"],
    })


async def ticket_messages(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return _error(422, "invalid", "after must be an integer")
    ticket, messages = await request.app[SERVICE_KEY].new_messages(_ticket_id(request), after,
                                                                   agent=agent.name)
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
        return _error(422, "empty_reply", handoff_texts("errors.empty_reply"))
    if len(text) > 4000:
        return _error(422, "reply_too_long",
                      handoff_texts("errors.reply_too_long", limit="4.000"))
    message = await request.app[SERVICE_KEY].reply(_ticket_id(request), agent.name, text)
    payload: dict[str, Any] = {"message": message_json(message)}
    if message.delivery != "sent":
        payload["warning"] = handoff_texts("errors.reply_not_delivered")
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


async def console_index(request: web.Request) -> web.StreamResponse:
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
               *, cookie_secure: bool = False, sync_interval: float = 3.0,
               trusted_proxy_header: str | None = None,
               trusted_proxies: Iterable[Network] | str = (),
               login_limiter: LoginLimiter | None = None) -> web.Application:
    app = web.Application(middlewares=[security_headers, body_limit, errors_middleware,
                                       console_csrf],
                          client_max_size=max_request_bytes())
    app[SERVICE_KEY] = service
    app[ACCOUNTS_KEY] = accounts
    app[TOKENS_KEY] = api_tokens
    app[LIMITER_KEY] = login_limiter if login_limiter is not None else LoginLimiter()
    if isinstance(trusted_proxies, str):
        trusted_proxies = parse_trusted_proxies(trusted_proxies)
    app[SETTINGS_KEY] = {"cookie_secure": cookie_secure, "sync_interval": sync_interval,
                         "trusted_proxy_header": (trusted_proxy_header or "").strip() or None,
                         "trusted_proxies": tuple(trusted_proxies)}
    # aiohttp's Signal annotation confuses mypy (it expects a callable of a callable)
    app.on_startup.append(_start_background)  # type: ignore[arg-type]
    app.on_cleanup.append(_stop_background)  # type: ignore[arg-type]
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
    from bot.handoff.tickets import TicketStore, connect_channels

    connect_channels()  # an agent's reply that Zalo refuses is noted on the ticket
    service = HandoffService(store=TicketStore(), rasa=RasaClient())
    return create_app(service, AgentAccounts(),
                      parse_api_tokens(os.environ.get("HANDOFF_API_TOKENS")),
                      cookie_secure=os.environ.get("HANDOFF_COOKIE_SECURE", "0") == "1",
                      sync_interval=float(os.environ.get("HANDOFF_SYNC_INTERVAL", "3")),
                      trusted_proxy_header=os.environ.get("HANDOFF_TRUSTED_PROXY_HEADER"),
                      trusted_proxies=os.environ.get("HANDOFF_TRUSTED_PROXIES", ""))
