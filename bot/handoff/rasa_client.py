"""A small client of Rasa's HTTP API (server started with --enable-api --auth-token).

Only what the hand-off needs: read a tracker, append events (pause/resume/slot), trigger an
intent on a customer's channel, list the domain's intents.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import aiohttp

DEFAULT_URL = "http://127.0.0.1:5005"


class RasaError(RuntimeError):
    """Rasa did not answer as expected (status and Rasa's own message, no user data)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Rasa HTTP API error {status}: {message}")
        self.status = status


class RasaClient:
    def __init__(self, base_url: str | None = None, token: str | None = None,
                 timeout_s: float = 30.0) -> None:
        self.base_url = (base_url or os.environ.get("HANDOFF_RASA_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_AUTH_TOKEN", "")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                       json: Any = None) -> Any:
        query = dict(params or {})
        if self.token:
            query["token"] = self.token
        url = f"{self.base_url}{path}"
        try:
            async with self._http().request(method, url, params=query, json=json,
                                            headers={"Accept": "application/json"}) as resp:
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
