"""Outbound sends: transient refusals retried with backoff, every send recorded in the outbox
under an idempotency key, nothing sent twice.

Each provider call (one Telegram `sendMessage`, one Zalo `message/cs`) goes through
`deliver`. Its key comes from the current `delivery_scope` (the inbox worker opens one per
inbound message and response: `<channel>:<message id>:<response index>`, then `:<n>` per
call), so a delivery resumed after a crash skips what was already sent. Outside a scope
(Rasa's `trigger_intent`, `outbound.send_text`) each call gets a fresh key.

The channel's `classify(exc)` says what a failure means:
- RETRY: the provider did not take the message (Telegram 429 `retry_after`, 5xx, a
  connection that never opened; Zalo rate limits, HTTP 429/5xx): retried after the
  provider's wait or the next of `outbound_retry_delays_seconds`, then given up (the
  exception propagates: the inbox retries the delivery later, with the same keys);
- UNKNOWN: the request may have reached the provider (a read timeout, a connection cut
  after sending): NOT re-sent (a duplicate answer is worse than one the customer can ask
  again for); the outbox row says `unknown` and `bot_channel_failures_total{kind=
  "send_unknown"}` counts it;
- PERMANENT: retrying cannot help (blocked bot, bad chat, closed Zalo window): the
  exception propagates to the channel's own handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from bot.channels import metrics
from bot.channels.inbox_config import InboxSettings
from bot.channels.inbox_store import FAILED, SENDING, SENT, UNKNOWN, InboxStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY, UNKNOWN_OUTCOME, PERMANENT = "retry", "unknown", "permanent"


@dataclass(frozen=True)
class Verdict:
    kind: str  # RETRY | UNKNOWN_OUTCOME | PERMANENT
    wait_s: float | None = None  # the provider's own wait (Telegram retry_after)


class DeliveryScope:
    """Keys of the sends made for one response of one inbound message."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.count = 0

    def next_key(self) -> str:
        key = f"{self.base}:{self.count}"
        self.count += 1
        return key


_SCOPE: ContextVar[DeliveryScope | None] = ContextVar("delivery_scope", default=None)


@contextlib.contextmanager
def delivery_scope(base: str) -> Iterator[DeliveryScope]:
    scope = DeliveryScope(base)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def _next_key(channel: str) -> str:
    scope = _SCOPE.get()
    return scope.next_key() if scope is not None else f"{channel}:direct:{uuid.uuid4().hex}"


async def deliver(channel: str, user_id: str, store: InboxStore | None,
                  call: Callable[[], Awaitable[T]], classify: Callable[[BaseException], Verdict],
                  settings: InboxSettings | None = None) -> T | None:
    """Make one provider call at most once (per key), retrying transient refusals. Returns
    the call's result, or None when it was skipped (sent before) or its outcome is
    unknown."""
    settings = settings or InboxSettings.from_operator()
    key = _next_key(channel)
    if store is not None:
        previous = await asyncio.to_thread(store.outbox_begin, key, channel, user_id)
        if previous is not None:
            if previous == SENDING:  # cut off by a crash: it may have been delivered
                await asyncio.to_thread(store.outbox_finish, key, UNKNOWN, 0, "interrupted")
                metrics.FAILURES.labels(channel, "send_unknown").inc()
            logger.info("Send %s skipped: already %s", key, previous)
            return None
    delays = settings.outbound_retry_delays_s
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await call()
        except Exception as exc:
            verdict = classify(exc)
            if verdict.kind == RETRY and attempt <= len(delays):
                wait = delays[attempt - 1] if verdict.wait_s is None else verdict.wait_s
                if wait <= settings.max_retry_after_s:
                    metrics.OUTBOUND_RETRIES.labels(channel).inc()
                    logger.warning("%s send refused (%s); retry %d in %.1f s", channel,
                                   type(exc).__name__, attempt, wait)
                    await asyncio.sleep(wait)
                    continue
            status = UNKNOWN if verdict.kind == UNKNOWN_OUTCOME else FAILED
            if store is not None:
                await asyncio.to_thread(store.outbox_finish, key, status, attempt,
                                        type(exc).__name__)
            if status == UNKNOWN:
                metrics.FAILURES.labels(channel, "send_unknown").inc()
                logger.error("%s send %s: outcome unknown (%s), not re-sent", channel, key,
                             type(exc).__name__)
                return None
            metrics.FAILURES.labels(channel, "send_failed").inc()
            raise
        if store is not None:
            await asyncio.to_thread(store.outbox_finish, key, SENT, attempt)
        metrics.MESSAGES_OUT.labels(channel).inc()
        return result
