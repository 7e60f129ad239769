"""Liveness, readiness and metrics endpoints, the same on every process.

- `GET /healthz`: 200 `{"ok": true}` while the process serves HTTP (liveness: the
  orchestrator restarts a process that stops answering);
- `GET /readyz`: 200 `{"ready": true, "checks": {...}}` when every check passes, else 503
  with the name and outcome of each check, never the error (it may name hosts): the load
  balancer (HAProxy `option httpchk`) and the orchestrator send traffic only when ready;
- `GET /metrics`: Prometheus text, only with `Authorization: Bearer $METRICS_TOKEN`
  (bot.metrics).

Checks per process: Rasa — model loaded, conversation store (SQL) and lock store (Redis)
reachable; action server — subscriber database reachable; hand-off service — its database
reachable. A check is a plain function that raises (or returns False) when the dependency
is not usable; it runs in a thread, bounded by `health.check_timeout_seconds`
(bot/operator.yml). The three routes need no authentication except `/metrics`, and say
nothing but ok / failed.

Adapters: `add_sanic_routes` (Rasa, the action server), `add_aiohttp_routes` (hand-off).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot import metrics
from bot.brand import operator

logger = logging.getLogger(__name__)

Check = Callable[[], object]
ChecksFactory = Callable[[], Mapping[str, Check]]

LIVENESS_PATH, READINESS_PATH, METRICS_PATH = "/healthz", "/readyz", "/metrics"
PROBE_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH, METRICS_PATH})


def check_timeout_s() -> float:
    return float(operator()["health"]["check_timeout_seconds"])


async def _run_one(name: str, check: Check, timeout_s: float) -> str:
    try:
        result = await asyncio.wait_for(asyncio.to_thread(check), timeout_s)
    except asyncio.TimeoutError:
        logger.warning("readiness check %s: timed out after %.1f s", name, timeout_s)
        return "timeout"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return "failed"
    return "failed" if result is False else "ok"


async def readiness(checks: Mapping[str, Check],
                    timeout_s: float | None = None) -> tuple[bool, dict[str, str]]:
    """Run every check concurrently: (all ok, {name: ok | failed | timeout})."""
    limit = check_timeout_s() if timeout_s is None else timeout_s
    names = list(checks)
    results = await asyncio.gather(*(_run_one(n, checks[n], limit) for n in names))
    outcome = dict(zip(names, results, strict=True))
    return all(r == "ok" for r in results), outcome


def readiness_body(ready: bool, outcome: Mapping[str, str]) -> tuple[int, str]:
    return (200 if ready else 503), json.dumps({"ready": ready, "checks": dict(outcome)})


# ------------------------------------------------------------------------------ checks
def sql_check(engine: Any) -> Check:
    """The database of a SQLAlchemy engine answers `SELECT 1`."""
    from sqlalchemy import text

    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


def redis_check(client: Any) -> Check:
    """A redis-py client answers PING."""
    return lambda: bool(client.ping())


def _unwrapped_tracker_store(store: Any) -> Any:
    """Rasa wraps the configured tracker store (FailSafeTrackerStore...): the real one."""
    seen = 0
    while hasattr(store, "_tracker_store") and seen < 5:
        store, seen = store._tracker_store, seen + 1
    return store


def rasa_checks(agent: Any) -> dict[str, Check]:
    """Rasa's readiness: a model is loaded; the conversation store and the lock store (when
    they are SQL / Redis) answer."""
    checks: dict[str, Check] = {"model": lambda: agent is not None and agent.is_ready()}
    if agent is None:
        return checks
    store = _unwrapped_tracker_store(getattr(agent, "tracker_store", None))
    if getattr(store, "engine", None) is not None:
        checks["tracker_store"] = sql_check(store.engine)
    red = getattr(getattr(agent, "lock_store", None), "red", None)
    if red is not None:
        checks["lock_store"] = redis_check(red)
    return checks


# ---------------------------------------------------------------------------- adapters
def add_sanic_routes(app: Any, checks: ChecksFactory, prefix: str = "bot") -> None:
    """/healthz, /readyz, /metrics on a Sanic app (route names prefixed: Sanic wants them
    unique)."""
    from sanic import response

    async def healthz(request: Any) -> Any:
        return response.json({"ok": True})

    async def readyz(request: Any) -> Any:
        status, body = readiness_body(*await readiness(checks()))
        return response.text(body, status=status, content_type="application/json")

    async def metrics_route(request: Any) -> Any:
        status, body, content_type = metrics.exposition(request.headers.get("Authorization"))
        return response.raw(body, status=status, content_type=content_type)

    app.add_route(healthz, LIVENESS_PATH, methods=["GET"], name=f"{prefix}_healthz")
    app.add_route(readyz, READINESS_PATH, methods=["GET"], name=f"{prefix}_readyz")
    app.add_route(metrics_route, METRICS_PATH, methods=["GET"], name=f"{prefix}_metrics")


def add_aiohttp_routes(app: Any, checks: ChecksFactory) -> None:
    """/readyz and /metrics on an aiohttp app (it has its own /healthz)."""
    from aiohttp import web

    async def readyz(request: web.Request) -> web.Response:
        status, body = readiness_body(*await readiness(checks()))
        return web.Response(text=body, status=status, content_type="application/json")

    async def metrics_route(request: web.Request) -> web.Response:
        status, body, content_type = metrics.exposition(request.headers.get("Authorization"))
        response = web.Response(body=body, status=status)
        response.headers["Content-Type"] = content_type
        return response

    app.router.add_get(READINESS_PATH, readyz)
    app.router.add_get(METRICS_PATH, metrics_route)
