"""The inbox worker: processes the stored inbound messages of one channel.

- Claims due rows (bot.channels.inbox_store: one per user at a time, in arrival order,
  different users in parallel up to `max_parallel`), leased and renewed while it works;
  a row whose worker died is taken over when its lease expires.
- Runs the assistant's turn with a buffered output channel: nothing reaches the customer
  until the turn is complete (never half an answer). The responses are stored on the row
  before they are delivered, so a delivery cut short resumes without running the turn again;
  each send has an outbox key (bot.channels.delivery), so nothing is sent twice.
- A turn slower than `notice_seconds` gets the customer one polite line
  (`utter_assistant_unavailable`, once per message, outbox key `...:unavailable`); a turn
  that fails, or is still running after `turn_timeout_seconds` (then cancelled: Rasa saves
  the tracker only at the end of a turn), is retried after `retry_delays_seconds`; when they
  are used up the row is parked (`bot channels inbox`), the customer gets
  `utter_channel_error` and `bot_channel_failures_total{kind="parked"}` counts it.
- A turn without output in a conversation waiting for a human (hand-off ticket, assistant
  paused) gets the short `utter_handoff_awaiting_agent` line when the hand-off says it is
  due (`common.awaiting_agent_notice_due`; the hand-off keeps the rate limit).
- A custom action that fails inside a turn (action server down) fails the turn: Rasa would
  log the exception and carry on without the action's events; `ActionFailureFilter` turns
  that log record into an exception for the turns this worker runs, so the turn is retried
  instead of answered half.
- A turn refused by admission control (bot/admission.py: the instance is full) is given
  back, due again after its Retry-After without counting an attempt; nothing is claimed
  while the instance is full. A turn that failed because a store failed (Rasa refuses it:
  bot/rasa_patches.py section 12) is retried like any failed turn.
- Each message reaches Rasa with the message id `<channel>:<provider id>`. A retried
  message whose turn is already in the conversation (saved, then the attempt failed before
  the responses were stored) is not run again: the replies that followed it are read back
  and delivered.
- `stop()` drains: no new claims, the turns in progress get `drain_seconds`, the rest are
  cancelled and given back (due at once for the next worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Protocol

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot import admission, texts
from bot.admission import Overloaded
from bot.channels import metrics
from bot.channels.common import (
    OnNewMessage,
    awaiting_agent_notice_due,
    filter_inbound,
)
from bot.channels.delivery import delivery_scope
from bot.channels.inbox_config import InboxSettings
from bot.channels.inbox_store import FAILED, PARKED, InboxRow, InboxStore
from bot.conversation_ids import parse_sender_id, sender_id

logger = logging.getLogger(__name__)

UNAVAILABLE_RESPONSE = "utter_assistant_unavailable"
PARKED_RESPONSE = "utter_channel_error"
# Rasa 3.6 rasa/core/processor.py MessageProcessor._run_action logs this (logger.exception)
# when a custom action raised, then continues the turn without the action's events.
RASA_PROCESSOR_LOGGER = "rasa.core.processor"
RASA_ACTION_FAILURE_LOG = "Encountered an exception while running action"
DEPTH_REFRESH_S = 5.0
PURGE_EVERY_S = 3600.0


class ActionFailed(RuntimeError):
    """A custom action failed inside a turn run by the inbox worker."""


_IN_TURN: ContextVar[bool] = ContextVar("inbox_turn", default=False)


class ActionFailureFilter(logging.Filter):
    """On Rasa's processor logger: raises `ActionFailed` instead of letting a turn run by
    the inbox worker continue after a failed custom action (other turns: untouched)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _IN_TURN.get() and record.levelno >= logging.ERROR \
                and record.getMessage().startswith(RASA_ACTION_FAILURE_LOG):
            raise ActionFailed("a custom action failed (is the action server up?)")
        return True


def install_action_failure_filter() -> None:
    target = logging.getLogger(RASA_PROCESSOR_LOGGER)
    if not any(isinstance(f, ActionFailureFilter) for f in target.filters):
        target.addFilter(ActionFailureFilter())


class BufferedOutput(OutputChannel):
    """Collects what a turn sends, as Rasa response dicts with their recipient; named like
    the real channel so Rasa picks that channel's response variations."""

    def __init__(self, channel_name: str) -> None:
        self.channel_name = channel_name
        self.messages: list[dict[str, Any]] = []

    def name(self) -> str:  # an instance's name (Rasa calls it on the instance)
        return self.channel_name

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.messages.append({"recipient": recipient_id, "message": dict(message)})

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append({"recipient": recipient_id, "message": {"text": text}})


class InboxChannel(Protocol):
    """What an input channel gives its worker."""

    inbox_name: str  # "telegram" | "zalo" (bot.conversation_ids)

    def name(self) -> str: ...

    async def process_inbound(self, row: InboxRow, output: BufferedOutput,
                              on_new_message: OnNewMessage) -> None: ...

    def delivery_output(self) -> OutputChannel: ...

    def recipient(self, row: InboxRow) -> str: ...


def _filtered(callback: OnNewMessage) -> OnNewMessage:
    """The registered inbound filter (common.filter_inbound) sees each message first: when
    it answers (a campaign opt-out), the assistant does not."""

    async def on_message(message: UserMessage) -> Any:
        channel, user_id = parse_sender_id(message.sender_id or "")
        if channel and user_id and message.text:
            answer = await filter_inbound(channel, user_id, message.text)
            if answer is not None:
                await message.output_channel.send_text_message(message.sender_id, answer)
                return None
        return await callback(message)

    return on_message


def inbox_message_id(row: InboxRow) -> str:
    """The Rasa message id of a stored message (`<channel>:<provider id>`): its user event
    in the conversation carries it."""
    return f"{row.channel}:{row.external_id}"


def _stamped(callback: OnNewMessage, message_id: str) -> OnNewMessage:
    async def on_message(message: UserMessage) -> Any:
        message.message_id = message_id
        return await callback(message)

    return on_message


def replies_to(events: list[dict[str, Any]] | None, message_id: str,
               recipient: str) -> list[dict[str, Any]] | None:
    """The bot messages that followed the user message `message_id` in a conversation's
    events (as the worker stores responses); None when that message is not there."""
    replies: list[dict[str, Any]] | None = None
    for event in events or []:
        kind = event.get("event")
        if kind == "user":
            if replies is not None:
                break
            if event.get("message_id") == message_id:
                replies = []
        elif kind == "bot" and replies is not None:
            data = {k: v for k, v in (event.get("data") or {}).items() if v is not None}
            message = {**data, "text": event.get("text")} if event.get("text") else data
            replies.append({"recipient": recipient, "message": message})
    return replies


Answers = Callable[[str], Awaitable[list[dict[str, Any]] | None]]


def _owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class InboxWorker:
    """Processes one channel's inbox in this process (see the module docstring)."""

    def __init__(self, channel: InboxChannel, store: InboxStore, settings: InboxSettings,
                 on_new_message: OnNewMessage | None = None,
                 ready: Callable[[], bool] | None = None) -> None:
        self.channel = channel
        self.store = store
        self.settings = settings
        self.on_new_message = on_new_message
        self.ready = ready or (lambda: True)
        # A conversation's events (the tracker store), to find a retried message's earlier
        # turn; None: not looked up (tests without Rasa).
        self.answers: Answers | None = None
        self.owner = _owner()
        # The callback of a message accepted by this process (tests, inline processing).
        self.callbacks: dict[str, OnNewMessage] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._delivering: set[int] = set()  # rows past their turn: never cut off
        self._loop_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._last_depth = 0.0
        self._last_purge = 0.0
        install_action_failure_filter()

    # -- life cycle --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._run())
        logger.info("%s inbox worker %s started", self.channel.inbox_name, self.owner)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """Drain: no new claims; wait `drain_seconds` for the turns in progress; cancel and
        give back the rest."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = dict(self._tasks)
        if tasks:
            await asyncio.wait(set(tasks.values()), timeout=self.settings.drain_s)
        # A delivery in progress is finished (its retries are bounded): cut off during a
        # send, its outcome would be unknown and the message never re-sent.
        sending = [t for i, t in tasks.items() if i in self._delivering and not t.done()]
        if sending:
            await asyncio.wait(sending)
        left = {item_id: task for item_id, task in tasks.items() if not task.done()}
        for task in left.values():
            task.cancel()
        if left:
            await asyncio.gather(*left.values(), return_exceptions=True)
            for item_id in left:
                await asyncio.to_thread(self.store.release, item_id, self.owner)
            logger.warning("%d %s inbox messages given back unfinished at shutdown",
                           len(left), self.channel.inbox_name)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                claimed = await self.pump_once()
            except Exception:
                logger.exception("%s inbox: claiming failed (database down?)",
                                 self.channel.inbox_name)
                claimed = 0
            if claimed == 0 and not self._stopping:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
                self._wake.clear()

    async def drain_idle(self) -> None:
        """Process everything due now, then return (a channel used without a running
        worker, and tests)."""
        while True:
            claimed = await self.pump_once()
            if self._tasks:
                await asyncio.wait(set(self._tasks.values()))
            elif not claimed:
                return

    # -- claiming ------------------------------------------------------------------------
    async def pump_once(self) -> int:
        """Claim what is due (within the free parallel slots) and start it."""
        await self._housekeeping()
        free = self.settings.max_parallel - len(self._tasks)
        if free <= 0 or self._stopping or not self.ready() or admission.full():
            return 0
        rows = await asyncio.to_thread(self.store.claim, self.channel.inbox_name, self.owner,
                                       self.settings.lease_s, min(self.settings.batch, free))
        for row in rows:
            task = asyncio.create_task(self._process(row))
            self._tasks[row.id] = task
            task.add_done_callback(self._forget(row.id))
        return len(rows)

    def _forget(self, item_id: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._tasks.pop(item_id, None)
            self._delivering.discard(item_id)
            self.wake()  # the user's next message may be due now
        return forget

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_depth > DEPTH_REFRESH_S:
            self._last_depth = now
            await self.refresh_depth()
        if self.running and now - self._last_purge > PURGE_EVERY_S:
            self._last_purge = now
            horizon = self.store.clock() - timedelta(days=self.settings.keep_done_days)
            removed = await asyncio.to_thread(self.store.purge, horizon)
            if removed:
                logger.info("%s inbox: %d old rows purged", self.channel.inbox_name, removed)

    async def refresh_depth(self) -> None:
        counts = await asyncio.to_thread(self.store.counts)
        metrics.set_inbox_depth(self.channel.inbox_name, counts)

    # -- one message ------------------------------------------------------------------------
    async def _process(self, row: InboxRow) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(row.id))
        turn_failed = False
        try:
            responses = row.responses
            if responses is None and row.attempts > 1:
                responses = await self._answered_before(row)
            if responses is None:
                turn_failed = True
                responses = await self._run_turn(row)
                turn_failed = False
                if not responses:  # a paused conversation waiting for a human?
                    responses = await self._awaiting_agent_line(row)
                if not await asyncio.to_thread(self.store.save_responses, row.id,
                                               self.owner, responses):
                    logger.warning("%s inbox row %s: lease lost during the turn; left to "
                                   "its new owner", self.channel.inbox_name, row.id)
                    return
            self._delivering.add(row.id)
            await self._deliver(row, responses)
            await asyncio.to_thread(self.store.complete, row.id, self.owner)
        except asyncio.CancelledError:
            raise  # shutdown: `stop` gives the row back
        except Overloaded as exc:  # the instance is full (bot/admission.py): not a failure
            await self._give_back(row, exc.retry_after_s)
        except Exception as exc:
            await self._failed(row, exc, turn_failed)
        finally:
            heartbeat.cancel()
            self.callbacks.pop(row.external_id, None)

    async def _answered_before(self, row: InboxRow) -> list[dict[str, Any]] | None:
        """A retried message whose turn an earlier attempt completed (the tracker was saved,
        then the attempt failed before its responses were stored: database down, a crash):
        that turn's responses, read back from the conversation; None when it is not there
        (the turn runs). A message is never processed twice."""
        if self.answers is None:
            return None
        conversation = sender_id(row.channel, self.channel.recipient(row))
        events = await self.answers(conversation)
        return replies_to(events, inbox_message_id(row), conversation)

    async def _give_back(self, row: InboxRow, delay_s: float) -> None:
        """The turn was refused before it began: the row is due again after `delay_s`,
        this attempt not counted (its Retry-After)."""
        metrics.FAILURES.labels(self.channel.inbox_name, "overloaded").inc()
        try:
            await asyncio.to_thread(self.store.release, row.id, self.owner, delay_s)
        except Exception:
            logger.exception("%s inbox row %s: could not give it back (the lease expires "
                             "and it is retried)", self.channel.inbox_name, row.id)

    async def _heartbeat(self, item_id: int) -> None:
        """Renew the row's lease while this worker works on it."""
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                await asyncio.to_thread(self.store.renew, [item_id], self.owner,
                                        self.settings.lease_s)
            except Exception:
                logger.exception("%s inbox row %s: lease renewal failed",
                                 self.channel.inbox_name, item_id)

    async def _run_turn(self, row: InboxRow) -> list[dict[str, Any]]:
        callback = self.callbacks.get(row.external_id) or self.on_new_message
        if callback is None:
            raise RuntimeError("no assistant connected to the inbox worker")
        output = BufferedOutput(self.channel.name())
        token = _IN_TURN.set(True)
        try:  # the task copies the context: the action-failure filter applies inside
            turn = asyncio.create_task(self.channel.process_inbound(
                row, output, _stamped(_filtered(callback), inbox_message_id(row))))
        finally:
            _IN_TURN.reset(token)
        settings = self.settings
        done, _ = await asyncio.wait({turn}, timeout=settings.notice_s)
        if not done:
            await self.notify_unavailable(row)
            done, _ = await asyncio.wait(
                {turn}, timeout=max(0.0, settings.turn_timeout_s - settings.notice_s))
        if not done:
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn
            raise TimeoutError(f"turn still running after {settings.turn_timeout_s} s")
        turn.result()
        return output.messages

    async def _awaiting_agent_line(self, row: InboxRow) -> list[dict[str, Any]]:
        """After a turn without output: the short "an agent will reply" line when the
        hand-off says it is due (`common.awaiting_agent_notice_due`: ticket active, no agent
        reply yet, not sent within the rate limit), delivered like the turn's responses."""
        user_id = self.channel.recipient(row)
        line = await asyncio.to_thread(awaiting_agent_notice_due, row.channel, user_id,
                                       self.channel.name())
        if not line:
            return []
        return [{"recipient": sender_id(row.channel, user_id), "message": {"text": line}}]

    async def _deliver(self, row: InboxRow, responses: list[dict[str, Any]]) -> None:
        output = self.channel.delivery_output()
        for index, item in enumerate(responses):
            with delivery_scope(f"{row.channel}:{row.external_id}:{index}"):
                await output.send_response(item["recipient"], item["message"])

    async def _failed(self, row: InboxRow, exc: BaseException, turn_failed: bool) -> None:
        name = self.channel.inbox_name
        metrics.FAILURES.labels(name, "turn").inc()
        if turn_failed:
            await self.notify_unavailable(row)
        try:
            status = await asyncio.to_thread(self.store.retry, row.id, self.owner,
                                             self.settings.retry_delays_s, type(exc).__name__)
        except Exception:
            logger.exception("%s inbox row %s: could not record the failure (the lease "
                             "expires and it is retried)", name, row.id)
            return
        # The exception's class only: its message may quote what the customer wrote.
        logger.warning("%s inbox row %s attempt %d failed (%s): %s", name, row.id,
                       row.attempts, type(exc).__name__, status or "no longer ours")
        logger.debug("%s inbox row %s failure", name, row.id, exc_info=exc)
        if status == PARKED:
            metrics.FAILURES.labels(name, "parked").inc()
            logger.error("%s inbox row %s PARKED after %d attempts: `bot channels inbox` "
                         "lists it, `bot channels replay %s` retries it", name, row.id,
                         row.attempts, row.id)
            await self._tell(row, "parked", PARKED_RESPONSE)

    async def notify_unavailable(self, row: InboxRow) -> None:
        """The polite "busy, try again shortly or call the hotline" line, once per message."""
        if await self._tell(row, "unavailable", UNAVAILABLE_RESPONSE):
            metrics.FAILURES.labels(self.channel.inbox_name, "unavailable_notice").inc()

    async def _tell(self, row: InboxRow, suffix: str, response: str) -> bool:
        """Send a domain response to the customer of `row` once (outbox key
        `<channel>:<id>:<suffix>`); True when it was sent now. Never raises."""
        base = f"{row.channel}:{row.external_id}:{suffix}"
        try:
            if await asyncio.to_thread(self.store.outbox_status, f"{base}:0") \
                    not in (None, FAILED):  # sent (or maybe sent) already
                return False
            text = texts.text(response, self.channel.name())
            with delivery_scope(base):
                await self.channel.delivery_output().send_text_message(
                    self.channel.recipient(row), text)
            return True
        except Exception:
            logger.exception("%s inbox row %s: could not send %s", self.channel.inbox_name,
                             row.id, response)
            return False

