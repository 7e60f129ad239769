"""A small client of Rasa's HTTP API (server started with --enable-api --jwt-secret).

Only what the hand-off needs: read a tracker, append events (pause/resume/slot), trigger an
intent on a customer's channel, list the domain's intents.

Authentication is a short-lived JWT in the `Authorization: Bearer` header, signed with
`RASA_JWT_SECRET` (HS256, the secret Rasa was started with: `--jwt-secret`), payload
`{"user": {"username": "handoff", "role": "admin"}, "exp": now + 60 s}` — what
`rasa.server.requires_auth` accepts for every conversation. No credential ever goes into a
URL (URLs end up in access logs and proxies). Only in development and tests
(`BOT_ENV=dev|test`) and only when no JWT secret is configured, the client falls back to
Rasa's `?token=` query parameter (`RASA_AUTH_TOKEN`), with a warning.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt

from bot import settings

DEFAULT_URL = "http://127.0.0.1:5005"
JWT_ALGORITHM = "HS256"
JWT_LIFETIME_S = 60
JWT_USER = {"username": "handoff", "role": "admin"}
QUERY_TOKEN_ENVS = ("dev", "test")

log = logging.getLogger(__name__)


class RasaError(RuntimeError):
    """Rasa did not answer as expected (status and Rasa's own message, no user data)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Rasa HTTP API error {status}: {message}")
        self.status = status


def make_jwt(secret: str, *, now: float | None = None,
             lifetime_s: int = JWT_LIFETIME_S) -> str:
    """A JWT Rasa accepts for its whole HTTP API (role admin), valid `lifetime_s`."""
    issued = int(now if now is not None else time.time())
    return jwt.encode({"user": dict(JWT_USER), "exp": issued + lifetime_s}, secret,
                      algorithm=JWT_ALGORITHM)


class RasaClient:
    def __init__(self, base_url: str | None = None, token: str | None = None,
                 timeout_s: float = 30.0, *, jwt_secret: str | None = None) -> None:
        self.base_url = (base_url or os.environ.get("HANDOFF_RASA_URL") or DEFAULT_URL).rstrip("/")
        self.jwt_secret = (jwt_secret if jwt_secret is not None
                           else os.environ.get("RASA_JWT_SECRET", ""))
        self.token = token if token is not None else os.environ.get("RASA_AUTH_TOKEN", "")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._warned = False

    @property
    def auth_mode(self) -> str:
        """`jwt` (header), `query-token` (dev/test fallback) or `none`."""
        if self.jwt_secret:
            return "jwt"
        if self.token and settings.env() in QUERY_TOKEN_ENVS:
            return "query-token"
        return "none"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    def _auth(self, query: dict[str, str], headers: dict[str, str]) -> None:
        mode = self.auth_mode
        if mode == "jwt":
            headers["Authorization"] = f"Bearer {make_jwt(self.jwt_secret)}"
            return
        if not self._warned:
            self._warned = True
            if mode == "query-token":
                log.warning("RASA_JWT_SECRET is not set: authenticating to Rasa with the "
                            "query token (allowed only because BOT_ENV=%s)", settings.env())
            else:
                log.error("RASA_JWT_SECRET is not set: requests to Rasa carry no credentials "
                          "and will be refused")
        if mode == "query-token":
            query["token"] = self.token

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                       json: Any = None) -> Any:
        query = dict(params or {})
        headers = {"Accept": "application/json"}
        self._auth(query, headers)
        url = f"{self.base_url}{path}"
        try:
            async with self._http().request(method, url, params=query, json=json,
                                            headers=headers) as resp:
                if resp.status >= 400:
                    try:
                        body = await resp.json(content_type=None)
                        message = str(body.get("message") or body.get("reason") or "")
                    except (ValueError, aiohttp.ContentTypeError, AttributeError):
                        message = resp.reason or ""
                    raise RasaError(resp.status, message[:300])
                return await resp.json(content_type=None)
        except aiohttp.ClientError as exc:
            raise RasaError(0, f"cannot reach Rasa ({type(exc).__name__})") from exc

    @staticmethod
    def _conv(conversation_id: str) -> str:
        return quote(conversation_id, safe="")

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/conversations/{self._conv(conversation_id)}/tracker",
                                   params={"include_events": "ALL"})

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        await self._request("POST",
                            f"/conversations/{self._conv(conversation_id)}/tracker/events",
                            params={"include_events": "NONE"}, json=events)

    async def trigger_intent(self, conversation_id: str, intent: str,
                             entities: dict[str, Any] | None,
                             output_channel: str | None) -> dict[str, Any]:
        params = {"include_events": "NONE"}
        if output_channel:
            params["output_channel"] = output_channel
        return await self._request(
            "POST", f"/conversations/{self._conv(conversation_id)}/trigger_intent",
            params=params, json={"name": intent, "entities": entities or {}})

    async def intents(self) -> list[str]:
        domain = await self._request("GET", "/domain")
        names: list[str] = []
        for item in domain.get("intents", []):
            names.append(next(iter(item)) if isinstance(item, dict) else str(item))
        return names
