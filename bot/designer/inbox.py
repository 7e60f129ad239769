"""The review inbox: conversations of a period, filtered, newest first, masked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.designer.config import inbox_setting
from bot.designer.conversations import OUTCOMES, Conversation, Message, build
from bot.designer.masking import Masker
from bot.designer.tracker import TrackerReader


@dataclass(frozen=True)
class InboxQuery:
    since: float
    until: float
    channel: str | None = None
    outcome: str | None = None
    low_confidence: bool = False
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: one of {', '.join(OUTCOMES)}")
        if self.until <= self.since:
            raise ValueError("the period ends before it starts")


def default_period(now: float | None = None) -> tuple[float, float]:
    now = time.time() if now is None else now
    return now - float(inbox_setting("period_days")) * 86400, now + 1


def conversations(reader: TrackerReader, since: float, until: float,
                  now: float | None = None) -> list[Conversation]:
    """Every conversation of the period (at most `inbox.max_sessions_scanned`), newest
    first."""
    now = time.time() if now is None else now
    found = [build(s, now) for s in reader.sessions(since, until,
                                                    int(inbox_setting("max_sessions_scanned")))]
    return sorted(found, key=lambda c: (-c.last, -c.id))


def matches(conv: Conversation, query: InboxQuery) -> bool:
    if query.channel and conv.channel != query.channel:
        return False
    if query.outcome and not conv.has(query.outcome):
        return False
    return not (query.low_confidence
                and not conv.low_confidence(float(inbox_setting("low_confidence"))))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def summary_json(conv: Conversation) -> dict[str, Any]:
    masker = Masker(conv)
    first = next((m for m in conv.user_messages), None)
    return {"id": conv.id, "channel": conv.channel, "started": _iso(conv.started),
            "last": _iso(conv.last), "outcome": conv.outcome,
            "flags": {k: getattr(conv, k) for k in ("fallback", "clarify", "handoff",
                                                    "abandoned", "ongoing")},
            "user_messages": len(conv.user_messages),
            "min_confidence": conv.min_confidence,
            "flow": conv.flow, "flow_slot": conv.flow_slot,
            "preview": masker.show(first.text, first.asked)[:120] if first else ""}


def page(reader: TrackerReader, query: InboxQuery, now: float | None = None) -> dict[str, Any]:
    found = [c for c in conversations(reader, query.since, query.until, now)
             if matches(c, query)]
    chosen = found[query.offset:query.offset + query.limit]
    return {"total": len(found), "offset": query.offset,
            "conversations": [summary_json(c) for c in chosen]}


def _message_json(message: Message, masker: Masker) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": message.event_id, "role": message.role,
                           "at": _iso(message.at)}
    if message.role == "action":
        out["action"] = message.action
        return out
    out["text"] = masker.show(message.text, message.asked)
    if message.role == "user":
        safe_text, safe_entities = masker.stand_in(message.text, message.entities,
                                                   message.asked)
        out.update({
            "intent": message.intent, "confidence": message.confidence,
            "candidate": message.candidate, "candidate_confidence": message.candidate_confidence,
            "fallback": message.fallback, "low": message.low, "asked": message.asked,
            "entities": [{"entity": e.entity, "value": masker.show(e.value, message.asked),
                          "text": masker.show(message.text[e.start:e.end], message.asked)}
                         for e in message.entities],
            # what a correction writes: personal data replaced by stand-ins
            "example": {"text": safe_text,
                        "entities": [{"entity": e.entity, "value": e.value,
                                      "start": e.start, "end": e.end}
                                     for e in safe_entities]},
        })
    return out


def conversation_json(conv: Conversation) -> dict[str, Any]:
    masker = Masker(conv)
    return {**summary_json(conv),
            "messages": [_message_json(m, masker) for m in conv.messages]}
