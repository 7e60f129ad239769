"""What both input channels do with an inbound message: store it in the inbox, then answer
the webhook; the inbox worker does the rest (bot.channels.worker).

In `rasa run` the worker starts with the server (a listener of the channel's blueprint) and
drains when it stops. A channel used without a running worker (tests, tools calling
`handle_request` directly) processes what is due itself: Telegram before answering, Zalo in
a background task (`drain()` waits for it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from sanic import Blueprint

from bot.channels import metrics
from bot.channels.common import OnNewMessage
from bot.channels.inbox_config import InboxSettings
from bot.channels.inbox_store import InboxRow, InboxStore
from bot.channels.store import ChannelStore
from bot.channels.worker import InboxWorker

logger = logging.getLogger(__name__)

DATABASE_DOWN = {"error": "database unavailable"}


class InboxInput:
    """Mixin of the input channels (`TelegramInput`, `ZaloInput`)."""

    inbox_name: str  # "telegram" | "zalo"
    inbox_settings: InboxSettings | None = None
    _worker: InboxWorker | None = None
    _inbox: InboxStore | None = None
    _tasks: set[asyncio.Task[Any]]

    def __init__(self, config: Any, store: ChannelStore | None = None) -> None:
        """`config`: the channel's settings (`TelegramConfig`, `ZaloConfig`); its
        `retry_delays_s`, when set, replaces operator.yml's inbox retry delays."""
        self.config = config
        self._store = store
        self._tasks = set()
        if config.retry_delays_s is not None:
            self.inbox_settings = InboxSettings.from_operator(
                retry_delays_s=config.retry_delays_s)

    @property
    def store(self) -> ChannelStore:
        if self._store is None:
            self._store = ChannelStore()
        return self._store

    @property
    def inbox(self) -> InboxStore:
        if self._inbox is None:
            self._inbox = InboxStore(self.store.engine, self.store.clock)
        return self._inbox

    def settings(self) -> InboxSettings:
        if self.inbox_settings is None:
            self.inbox_settings = InboxSettings.from_operator()
        return self.inbox_settings

    @property
    def worker(self) -> InboxWorker:
        if self._worker is None:
            self._worker = InboxWorker(self, self.inbox, self.settings())  # type: ignore[arg-type]
        return self._worker

    def recipient(self, row: InboxRow) -> str:
        """The provider's user id of a row (`user_key` is `<channel>:<user id>`)."""
        return row.user_key.split(":", 1)[1]

    async def accept_inbound(self, external_id: str, user_id: str, payload: dict[str, Any],
                             on_new_message: OnNewMessage,
                             wait: bool) -> tuple[int, dict[str, Any]]:
        """Store, then answer: 200 `accepted` (or `duplicate` for a re-delivery), 503 when
        the database cannot store it (the provider delivers it again later)."""
        try:
            new = await asyncio.to_thread(self.inbox.accept, self.inbox_name, external_id,
                                          f"{self.inbox_name}:{user_id}", payload)
        except Exception:
            logger.exception("%s message NOT stored: channel database unavailable (is it "
                             "migrated? `bot db upgrade`); answered 503", self.inbox_name)
            return 503, DATABASE_DOWN
        if not new:
            metrics.DUPLICATES.labels(self.inbox_name).inc()
            return 200, {"status": "duplicate"}
        metrics.MESSAGES_IN.labels(self.inbox_name).inc()
        worker = self.worker
        if worker.running:
            worker.wake()
        else:
            worker.callbacks[external_id] = on_new_message
            if worker.on_new_message is None:
                worker.on_new_message = on_new_message
            if wait:
                await worker.drain_idle()
            else:
                self._spawn(worker.drain_idle())
        return 200, {"status": "accepted"}

    def add_worker_listeners(self, hook: Blueprint, on_new_message: OnNewMessage) -> None:
        """Start the worker with the server (once the assistant is loaded), drain it when
        the server stops."""

        @hook.listener("after_server_start")
        async def start_inbox_worker(app: Any, _loop: Any) -> None:
            worker = self.worker
            worker.on_new_message = on_new_message

            def ready() -> bool:
                agent = getattr(app.ctx, "agent", None)
                return agent is not None and bool(agent.is_ready())

            async def answers(conversation_id: str) -> list[dict[str, Any]] | None:
                tracker = await app.ctx.agent.tracker_store.retrieve(conversation_id)
                return None if tracker is None else [e.as_dict() for e in tracker.events]

            worker.ready = ready
            worker.answers = answers
            await worker.start()

        @hook.listener("before_server_stop")
        async def stop_inbox_worker(_app: Any, _loop: Any) -> None:
            await self.worker.stop()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the background processing started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
