"""A reviewed conversation -> an end-to-end test story (tests/stories format: the user's
text with entity markup, intents, actions, slots, forms), personal data replaced by
stand-ins. The story is what the tracker applied: events Rasa reverted (a message the
two-stage fallback replaced, an undone action) are left out, as `rasa interactive` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.designer.conversations import Conversation, Entity, _user_message
from bot.designer.masking import Masker
from bot.designer.nlu_files import annotate
from bot.designer.tracker import RawEvent, Session

SKIPPED = frozenset({"action_listen", "action_session_start"})


@dataclass(frozen=True)
class Correction:
    """A designer's intent and entities for a user message; the entity offsets are on the
    stand-in text (what the designer sees in the correction form)."""
    intent: str
    entities: tuple[Entity, ...]


def applied(events: tuple[RawEvent, ...]) -> list[RawEvent]:
    """The events the tracker kept: `rewind` (UserUtteranceReverted) drops everything back
    to and including the last user message, `undo` (ActionReverted) the last action,
    `restart` everything."""
    kept: list[RawEvent] = []
    for event in events:
        if event.kind == "rewind":
            while kept and kept[-1].kind != "user":
                kept.pop()
            if kept:
                kept.pop()
        elif event.kind == "undo":
            while kept and kept[-1].kind != "action":
                kept.pop()
            if kept:
                kept.pop()
        elif event.kind == "restart":
            kept.clear()
        else:
            kept.append(event)
    return kept


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def story_yaml(session: Session, conv: Conversation,
               corrections: Mapping[int, Correction] | None = None,
               name: str | None = None) -> str:
    """One `- story:` item (2-space indented like tests/stories/*.yml)."""
    corrections = corrections or {}
    masker = Masker(conv)
    day = datetime.fromtimestamp(conv.started, timezone.utc).strftime("%Y-%m-%d")
    title = name or f"designer review: conversation {conv.id} ({conv.channel}, {day})"
    out = [f"- story: {_scalar(title)}", "  steps:"]
    pending_slots: list[str] = []
    loop: str | None = None
    requested: Any = None

    def flush() -> None:
        if pending_slots:
            out.append("  - slot_was_set:")
            out.extend(pending_slots)
            pending_slots.clear()

    for event in applied(session.events):
        data, kind = event.data, event.kind
        if kind == "slot":
            slot = str(data.get("name"))
            value = masker.stand_in_slot(slot, data.get("value"))
            if slot == "requested_slot":
                requested = value
            pending_slots.append(f"    - {slot}: {_scalar(value)}")
            continue
        flush()
        if kind == "user":
            message = _user_message(event.id, event.timestamp, data, 0.0,
                                    asked=requested if loop else None)
            fix = corrections.get(event.id)
            text, safe = masker.stand_in(message.text, message.entities, message.asked)
            intent = fix.intent if fix else message.intent
            if fix:
                safe = fix.entities
            if not text.startswith("/"):
                text = annotate(text, safe, always_json=True)
            out += ["  - user: |", f"      {text}",
                    f"    intent: {str(intent or '').split('/')[0]}"]
        elif kind == "action":
            action = str(data.get("name") or "")
            if action and action not in SKIPPED:
                out.append(f"  - action: {action}")
        elif kind == "active_loop":
            loop = data.get("name") or None
            out.append(f"  - active_loop: {loop or 'null'}")
    flush()
    return "\n".join(out) + "\n"
