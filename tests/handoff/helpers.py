"""Test doubles and builders shared by the hand-off tests."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bot.handoff.rasa_client import RasaError


def transcript(*pairs: tuple[str, str], start: float = 1_700_000_000.0) -> list[dict]:
    return [{"role": role, "text": text, "ts": start + i} for i, (role, text) in
            enumerate(pairs)]


def open_args(conversation_id: str = "tg-42", **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "conversation_id": conversation_id, "channel": "telegram",
        "user_id": conversation_id.split("-", 1)[-1], "reason": "customer_request",
        "priority": 2, "verified_msisdn": None, "summary": "Khách muốn gặp tổng đài viên.",
        "transcript": transcript(("customer", "cho em gặp tổng đài viên"),
                                 ("bot", "Dạ em chuyển ngay ạ.")),
    }
    args.update(overrides)
    return args


class FakeRasa:
    """Rasa's HTTP API as the hand-off uses it, in memory."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: set[str] = set()  # "tracker", "append", "trigger", "trigger404"
        self.trigger_messages: list[dict[str, Any]] | None = None

    def user(self, conversation_id: str, text: str, ts: float | None = None) -> None:
        self.events[conversation_id].append(
            {"event": "user", "text": text, "timestamp": ts or time.time(),
             "parse_data": {"intent": {"name": "inform"}}})

    def external(self, conversation_id: str, intent: str, ts: float | None = None) -> None:
        """An intent triggered through Rasa's API, as Rasa stores it."""
        self.events[conversation_id].append(
            {"event": "user", "text": f"EXTERNAL: {intent}", "timestamp": ts or time.time(),
             "metadata": {"is_external": True},
             "parse_data": {"intent": {"name": intent}, "metadata": {"is_external": True}}})

    def add(self, conversation_id: str, event: dict[str, Any]) -> None:
        self.events[conversation_id].append({"timestamp": time.time(), **event})

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        self.calls.append(("tracker", conversation_id, None))
        if "tracker" in self.fail:
            raise RasaError(0, "cannot reach Rasa")
        return {"sender_id": conversation_id, "events": list(self.events[conversation_id])}

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        self.calls.append(("append", conversation_id, events))
        if "append" in self.fail:
            raise RasaError(0, "cannot reach Rasa")
        for event in events:
            self.add(conversation_id, event)

    async def trigger_intent(self, conversation_id: str, intent: str,
                             entities: dict[str, Any] | None,
                             output_channel: str | None) -> dict[str, Any]:
        self.calls.append(("trigger", conversation_id,
                           {"intent": intent, "entities": entities,
                            "output_channel": output_channel}))
        if "trigger404" in self.fail:
            raise RasaError(404, "The intent does not exist in the domain.")
        if "trigger" in self.fail:
            raise RasaError(500, "error")
        # what Rasa's UserUttered.create_external writes
        self.external(conversation_id, intent)
        result: dict[str, Any] = {"tracker": {}}
        if self.trigger_messages is not None:
            result["messages"] = self.trigger_messages
        return result

    async def close(self) -> None:
        return None

    def of(self, kind: str) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] == kind]


class FakeSender:
    """Stands in for bot.channels.outbound.send_text."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = False

    async def __call__(self, channel: str, user_id: str, text: str,
                      buttons: list[dict] | None = None) -> None:
        if self.fail:
            raise RuntimeError("channel down")
        self.sent.append((channel, user_id, text))
