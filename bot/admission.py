"""Admission control of a Rasa instance: a bounded number of customer turns in progress.

Every turn the loaded agent handles (`bot serve rasa` wraps `agent.handle_message`: REST,
Telegram and Zalo through their inbox worker) takes a slot; when all
`admission.max_turns_in_flight` slots (bot/operator.yml) are taken, the turn is refused at
once with `Overloaded` instead of queueing on the event loop behind the others (where a
burst makes every customer wait, and turns whose client already gave up are still
computed). The REST channel answers a refused turn `503` with `Retry-After`
(bot/rasa_patches.py section 12); the inbox worker gives the message back, due again after
`retry_after_seconds` without counting an attempt, and claims nothing while the instance is
full (bot/channels/worker.py). Sanic cancels a request's task when its client
disconnects, so a queued REST turn whose client left is not computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.brand import operator
from bot.metrics import TURNS_IN_FLIGHT, TURNS_REFUSED


class Overloaded(RuntimeError):
    """The instance has no free turn slot: try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"overloaded: try again after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


@dataclass
class Admission:
    limit: int
    retry_after_s: float
    in_flight: int = 0

    @classmethod
    def from_operator(cls) -> Admission:
        raw = operator()["admission"]
        return cls(int(raw["max_turns_in_flight"]), float(raw["retry_after_seconds"]))

    def full(self) -> bool:
        return self.in_flight >= self.limit

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One turn's slot, or `Overloaded` at once."""
        if self.full():
            TURNS_REFUSED.inc()
            raise Overloaded(self.retry_after_s)
        self.in_flight += 1
        TURNS_IN_FLIGHT.inc()
        try:
            yield
        finally:
            self.in_flight -= 1
            TURNS_IN_FLIGHT.dec()


_admission: Admission | None = None


def admission() -> Admission:
    """This process's admission control (operator.yml, read once)."""
    global _admission
    if _admission is None:
        _admission = Admission.from_operator()
    return _admission


def full() -> bool:
    """True when a new turn would be refused now."""
    return _admission is not None and _admission.full()
