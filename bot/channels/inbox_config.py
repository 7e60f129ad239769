"""The inbox's durations and limits: bot/operator.yml `channel_inbox` (docs/channels.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.brand import operator


@dataclass(frozen=True)
class InboxSettings:
    notice_s: float
    turn_timeout_s: float
    retry_delays_s: tuple[float, ...]
    lease_s: float
    poll_s: float
    batch: int
    max_parallel: int
    drain_s: float
    outbound_retry_delays_s: tuple[float, ...]
    max_retry_after_s: float
    keep_done_days: float

    @classmethod
    def from_operator(cls, **overrides: Any) -> InboxSettings:
        """operator.yml values; keyword arguments replace some (tests)."""
        raw = operator()["channel_inbox"]
        settings = cls(
            notice_s=float(raw["notice_seconds"]),
            turn_timeout_s=float(raw["turn_timeout_seconds"]),
            retry_delays_s=tuple(float(x) for x in raw["retry_delays_seconds"]),
            lease_s=float(raw["lease_seconds"]),
            poll_s=float(raw["poll_seconds"]),
            batch=int(raw["batch"]),
            max_parallel=int(raw["max_parallel"]),
            drain_s=float(raw["drain_seconds"]),
            outbound_retry_delays_s=tuple(float(x)
                                          for x in raw["outbound_retry_delays_seconds"]),
            max_retry_after_s=float(raw["max_retry_after_seconds"]),
            keep_done_days=float(raw["keep_done_days"]),
        )
        return replace(settings, **overrides) if overrides else settings


def parse_delays(text: str | None) -> tuple[float, ...] | None:
    """"2,5,15" (a channel's `retry_delays_s` credential or environment variable) -> the
    delays; None when not given (operator.yml's apply)."""
    if text is None:
        return None
    return tuple(float(x) for x in text.split(",") if x.strip())
