"""Local fake servers speaking the Telegram Bot API and the Zalo OA API.

Each runs an aiohttp app on 127.0.0.1 in its own thread and event loop (so it serves
pytest-asyncio tests, subprocesses such as `rasa run`, and sync code alike) and records
every request it receives.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ThreadedServer:
    """An aiohttp application served from a background thread."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0  # set before start() to listen on that port

    def build_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def boot() -> None:
                self._runner = web.AppRunner(self.build_app())
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", self.port)  # 0: any free port
                await site.start()
                self.port = site._server.sockets[0].getsockname()[1]
                ready.set()

            self._loop.run_until_complete(boot())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def record(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(Recorded(method, params, headers))

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.calls(method)


async def _params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from a query string, JSON, form or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else "<file>"
    for key in ("reply_markup", "allowed_updates"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


class FakeTelegram(ThreadedServer):
    """The Bot API methods the channel uses. Base URL for PTB: `f"{url}/bot"`; files
    (`add_file`, served by getFile + download) under `base_file_url`."""

    def __init__(self, token: str = "123456:TEST-TOKEN") -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}  # file_id -> content
        self._message_ids = itertools.count(1000)
        # Injected failures of the next sends: (HTTP status, retry_after or None); a status
        # of 200 lets that send through.
        self.send_failures: list[tuple[int, int | None]] = []

    def fail_sends(self, *failures: tuple[int, int | None]) -> None:
        with self._lock:
            self.send_failures.extend(failures)

    def delivered_texts(self, chat_id: int | str | None = None) -> list[str]:
        """Texts of the sendMessage calls that were answered ok (not the refused ones)."""
        return [str(r.params.get("text")) for r in self.calls("sendMessage")
                if not r.params.get("_refused")
                and (chat_id is None or str(r.params.get("chat_id")) == str(chat_id))]

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def add_file(self, file_id: str, content: bytes) -> str:
        self.files[file_id] = content
        return file_id

    def queue_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self.updates.append(update)

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        return [str(r.params.get("text")) for r in self.calls("sendMessage")
                if chat_id is None or str(r.params.get("chat_id")) == str(chat_id)]

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/photos/{file_id}", self._file)
        return app

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.record("download", {"file_id": file_id}, dict(request.headers))
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        failure = None
        if method in ("sendMessage", "sendPhoto"):
            with self._lock:
                failure = self.send_failures.pop(0) if self.send_failures else None
        if failure is not None and failure[0] != 200:  # (200, None): this send passes
            self.record(method, {**params, "_refused": True}, dict(request.headers))
            status, retry_after = failure
            body: dict[str, Any] = {"ok": False, "error_code": status,
                                    "description": "Too Many Requests" if status == 429
                                    else "Internal Server Error"}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return web.json_response(body, status=status)
        self.record(method, params, dict(request.headers))
        result: Any
        if method == "getMe":
            result = {"id": int(self.token.split(":")[0]), "is_bot": True,
                      "first_name": "Test", "username": "test_bot"}
        elif method in ("sendMessage", "sendPhoto"):
            chat_id = int(params["chat_id"])
            result = {"message_id": next(self._message_ids), "date": int(time.time()),
                      "chat": {"id": chat_id, "type": "private"},
                      "from": {"id": 123456, "is_bot": True, "first_name": "Test"}}
            if method == "sendMessage":
                result["text"] = params.get("text", "")
        elif method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            result = True
        elif method == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return web.json_response({"ok": False, "error_code": 400,
                                          "description": "Bad Request: invalid file_id"},
                                         status=400)
            result = {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                      "file_size": len(self.files[file_id]), "file_path": f"photos/{file_id}"}
        elif method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            with self._lock:
                result = [u for u in self.updates if u["update_id"] >= offset]
            if not result:
                await asyncio.sleep(min(float(params.get("timeout", 0) or 0), 0.2))
        else:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": result})


class FakeZalo(ThreadedServer):
    """OA customer-service messages and the OAuth token refresh (both on one server).

    `access_token` is the only valid token; any other answers -216. A refresh with the
    current `refresh_token` rotates both; `closed_window` users answer -213."""

    def __init__(self, access_token: str = "access-1", refresh_token: str = "refresh-1",
                 secret_key: str = "app-secret", refresh_delay_s: float = 0.2) -> None:
        super().__init__()
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.secret_key = secret_key
        self.refresh_delay_s = refresh_delay_s
        self.closed_window: set[str] = set()
        self.files: dict[str, bytes] = {}  # name -> content, served at media_url(name)
        self._generation = itertools.count(2)
        # Injected failures of the next sends: a Zalo error code (< 0) or an HTTP status.
        self.send_failures: list[int] = []

    def media_url(self, name: str, content: bytes | None = None) -> str:
        """The attachment URL of a customer's image (Zalo's CDN stands in here)."""
        if content is not None:
            self.files[name] = content
        return f"{self.url}/media/{name}"

    def messages(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return [r.params["message"] for r in self.calls("message/cs")
                if r.params.get("_delivered")
                and (user_id is None or r.params["recipient"]["user_id"] == user_id)]

    def texts(self, user_id: str | None = None) -> list[str]:
        return [m.get("text", "") for m in self.messages(user_id)]

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        app.router.add_get("/media/{name}", self._media)
        return app

    async def _media(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.record("media", {"name": name}, dict(request.headers))
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name], content_type="image/jpeg")

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        token = request.headers.get("access_token")
        user_id = body.get("recipient", {}).get("user_id")
        with self._lock:
            failure = self.send_failures.pop(0) if self.send_failures else None
        if failure is not None:
            self.record("message/cs", {**body, "_delivered": False}, dict(request.headers))
            if failure < 0:
                return web.json_response({"error": failure, "message": "rate limit"})
            return web.Response(status=failure, text="server error")
        if token != self.access_token:
            self.record("message/cs", {**body, "_delivered": False}, dict(request.headers))
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if user_id in self.closed_window:
            self.record("message/cs", {**body, "_delivered": False}, dict(request.headers))
            return web.json_response({"error": -213, "message": "User has not interacted "
                                                                "with the OA recently"})
        self.record("message/cs", {**body, "_delivered": True}, dict(request.headers))
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": f"m{len(self.requests)}",
                                           "user_id": user_id}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.record("oauth/refresh", form, dict(request.headers))
        await asyncio.sleep(self.refresh_delay_s)  # widen the race window
        if (request.headers.get("secret_key") != self.secret_key
                or form.get("grant_type") != "refresh_token"
                or form.get("refresh_token") != self.refresh_token):
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "refresh token is invalid"})
        n = next(self._generation)
        self.access_token, self.refresh_token = f"access-{n}", f"refresh-{n}"
        return web.json_response({"access_token": self.access_token,
                                  "refresh_token": self.refresh_token, "expires_in": "90000"})
