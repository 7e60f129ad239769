"""One session of the tracker store -> what a designer reviews: the messages (each user
message with its predicted intent, confidence and entities), and the flags and outcome of
the conversation, defined from the events (docs/designers.md, "Vòng cải tiến"):

- hand-off: an action of `outcomes.handoff_actions` ran, or the conversation was paused
  for a human;
- fallback: a user message was classified as one of `outcomes.fallback_intents` (the NLU
  was unsure) or an action of `outcomes.fallback_actions` ran (the dialogue was unsure);
- clarify: an action of `outcomes.clarify_actions` ran (the assistant asked "do you
  mean...?" or to rephrase), or the user answered with a `clarify_intents` intent;
- abandoned mid-flow: the conversation ended (idle for `inbox.idle_minutes`) while a form
  was active: the flow and the slot it was asking are the abandonment point; still
  inside a form and not idle yet: ongoing;
- completed: none of the above.

The single outcome shown is the first that applies of hand-off, abandoned, ongoing,
fallback, completed; the filters use the flags (a conversation with a fallback that then
went well is found by the "fallback" filter too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.conversation_ids import parse_sender_id
from bot.designer.config import inbox_setting, outcome_names
from bot.designer.tracker import Session

OUTCOMES = ("completed", "fallback", "handoff", "abandoned", "ongoing")
SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Message:
    """A line of the conversation: role user, bot or action (an event of the dialogue)."""
    event_id: int
    role: str
    at: float
    text: str = ""
    intent: str | None = None          # as predicted (nlu_fallback included)
    confidence: float | None = None
    candidate: str | None = None       # best intent other than a fallback intent
    candidate_confidence: float | None = None
    entities: tuple[Entity, ...] = ()
    action: str | None = None
    fallback: bool = False
    low: bool = False
    asked: str | None = None           # slot the active form was asking (user messages)


@dataclass
class Conversation:
    id: int
    sender_id: str
    channel: str
    started: float
    last: float
    messages: list[Message] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)  # last value of every slot
    slot_values: dict[str, set[str]] = field(default_factory=dict)  # every value seen
    handoff: bool = False
    fallback: bool = False
    clarify: bool = False
    abandoned: bool = False
    ongoing: bool = False
    flow: str | None = None            # active form at the end
    flow_slot: str | None = None       # slot it was asking
    min_confidence: float | None = None
    flows: set[str] = field(default_factory=set)  # forms started in the conversation

    @property
    def outcome(self) -> str:
        if self.handoff:
            return "handoff"
        if self.abandoned:
            return "abandoned"
        if self.ongoing:
            return "ongoing"
        if self.fallback:
            return "fallback"
        return "completed"

    def has(self, outcome: str) -> bool:
        """The filter: does the conversation show this outcome (flags, not precedence)."""
        if outcome == "completed":
            return self.outcome == "completed"
        return bool(getattr(self, outcome, False))

    @property
    def user_messages(self) -> list[Message]:
        return [m for m in self.messages if m.role == "user"]

    def low_confidence(self, threshold: float) -> bool:
        return self.min_confidence is not None and self.min_confidence < threshold


def _channel(sender_id: str, input_channel: str | None) -> str:
    channel, _ = parse_sender_id(sender_id)
    if channel:
        return channel
    return input_channel or "other"


def _user_message(event_id: int, at: float, data: dict[str, Any],
                  low_threshold: float, asked: Any = None) -> Message:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name = intent.get("name")
    confidence = intent.get("confidence")
    fallbacks = outcome_names("fallback_intents")
    candidate, candidate_conf = name, confidence
    if name in fallbacks:
        candidate, candidate_conf = None, None
        for ranked in parse.get("intent_ranking") or []:
            if ranked.get("name") and ranked.get("name") not in fallbacks:
                candidate, candidate_conf = ranked["name"], ranked.get("confidence")
                break
    text = str(data.get("text") or "")
    entities = []
    for ent in parse.get("entities") or data.get("entities") or []:
        try:
            start, end = int(ent["start"]), int(ent["end"])
        except (KeyError, TypeError, ValueError):
            continue
        entities.append(Entity(str(ent.get("entity")), str(ent.get("value", "")), start, end))
    conf = float(confidence) if isinstance(confidence, (int, float)) else None
    fallback = name in fallbacks
    return Message(event_id, "user", at, text, name, conf, candidate,
                   float(candidate_conf) if isinstance(candidate_conf, (int, float)) else None,
                   tuple(entities), fallback=fallback,
                   low=fallback or (conf is not None and conf < low_threshold),
                   asked=str(asked) if asked else None)


def build(session: Session, now: float) -> Conversation:
    """The conversation of one session (see the module docstring for the outcomes)."""
    low_threshold = float(inbox_setting("low_confidence"))
    idle_s = float(inbox_setting("idle_minutes")) * 60
    handoff_actions = outcome_names("handoff_actions")
    fallback_actions = outcome_names("fallback_actions")
    clarify_actions = outcome_names("clarify_actions")
    clarify_intents = outcome_names("clarify_intents")
    not_flows = outcome_names("not_flows")
    first_channel = next((e.data.get("input_channel") for e in session.events
                          if e.kind == "user" and e.data.get("input_channel")), None)
    conv = Conversation(session.id, session.sender_id,
                        _channel(session.sender_id, first_channel),
                        session.started, session.last)
    loop: str | None = None
    rewound = False
    for event in session.events:
        data, kind = event.data, event.kind
        if kind == "rewind":
            rewound = True
        if kind == "user" and rewound:
            rewound = False
            if any(m.text == data.get("text") for m in conv.user_messages):
                continue  # the two-stage fallback re-sends a message it clarified
        if kind == "user":
            message = _user_message(event.id, event.timestamp, data, low_threshold,
                                    asked=conv.slots.get("requested_slot") if loop else None)
            conv.messages.append(message)
            conv.fallback |= message.fallback
            conv.clarify |= message.intent in clarify_intents
            effective = (message.candidate_confidence or 0.0) if message.fallback \
                else message.confidence
            if effective is not None:
                current = conv.min_confidence
                conv.min_confidence = effective if current is None else min(current, effective)
        elif kind == "bot":
            conv.messages.append(Message(event.id, "bot", event.timestamp,
                                         str(data.get("text") or "")))
        elif kind == "action":
            name = str(data.get("name") or "")
            if name in SKIPPED_ACTIONS or not name:
                continue
            conv.messages.append(Message(event.id, "action", event.timestamp, action=name))
            conv.handoff |= name in handoff_actions
            conv.fallback |= name in fallback_actions
            conv.clarify |= name in clarify_actions
        elif kind == "pause":
            conv.handoff = True
        elif kind == "slot":
            name = str(data.get("name") or "")
            value = data.get("value")
            conv.slots[name] = value
            if value not in (None, "", [], {}):
                conv.slot_values.setdefault(name, set()).add(str(value))
        elif kind == "active_loop":
            loop = data.get("name") or None
            if loop and loop not in not_flows:
                conv.flows.add(loop)
        elif kind == "restart":
            loop = None
    if loop and loop not in not_flows:
        conv.flow, conv.flow_slot = loop, conv.slots.get("requested_slot")
        if now - conv.last >= idle_s:
            conv.abandoned = True
        else:
            conv.ongoing = True
    return conv
