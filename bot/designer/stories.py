"""A reviewed conversation -> an end-to-end test story (tests/stories format: the user's
text with entity markup, intents, actions, slots, forms), personal data replaced by
stand-ins. The story is what the tracker applied (Rasa's `applied_events`): a message the
two-stage fallback clarified, an undone action are left out, as `rasa interactive` does;
a fallback message the designer corrected replaces the clarified copy, with the
designer's intent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.designer.config import outcome_names
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
    """The events the conversation kept: `rewind` (UserUtteranceReverted) drops the last
    user message and what followed it, or, when it ends a two-stage fallback, the whole
    exchange from the message that fell back (Rasa puts the clarified message back right
    after); `undo` (ActionReverted) drops the last action; `restart` everything. (Rasa's
    `applied_events` also folds the turns inside a form, which a test story needs.)"""
    not_flows = outcome_names("not_flows")
    kept: list[RawEvent] = []
    fallback_start: int | None = None
    for event in events:
        if event.kind == "rewind":
            if fallback_start is not None:
                del kept[fallback_start:]
                fallback_start = None
                continue
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
            fallback_start = None
        else:
            if event.kind == "active_loop" and event.data.get("name") in not_flows \
                    and fallback_start is None:
                users = [i for i, e in enumerate(kept) if e.kind == "user"]
                fallback_start = users[-1] if users else None
            kept.append(event)
    return kept


def clarified(events: tuple[RawEvent, ...]) -> dict[int, int]:
    """{id of the user message Rasa put back after a two-stage fallback: id of the message
    that fell back}. The fallback message itself is reverted from the story; when the
    designer corrected it, its words take the place of the clarified copy."""
    fallbacks = outcome_names("fallback_intents")
    out: dict[int, int] = {}
    pending: int | None = None
    rewound = False
    for event in events:
        if event.kind == "user":
            intent = ((event.data.get("parse_data") or {}).get("intent") or {}).get("name")
            if rewound and pending is not None:
                out[event.id] = pending
                pending, rewound = None, False
            elif intent in fallbacks and pending is None:
                pending = event.id
        elif event.kind == "rewind" and pending is not None:
            rewound = True
    return out


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

    replaced = clarified(session.events)
    by_id = {event.id: event for event in session.events}
    for event in applied(session.events):
        data, kind = event.data, event.kind
        source = replaced.get(event.id)
        if kind == "user" and source is not None and source in corrections:
            event = by_id[source]  # the corrected fallback message, in its words
            data = event.data
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
