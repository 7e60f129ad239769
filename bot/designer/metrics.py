"""Where to look: per intent, the fallback, clarify and hand-off rates; per flow (form),
where customers abandon it. Definitions (docs/designers.md, "Vòng cải tiến"):

- a user message counts for its intent; a message that fell back counts for the intent
  the NLU ranked best after the fallback intent (what it almost understood);
- fallback rate of an intent: its messages that fell back / its messages;
- clarify rate: its messages after which (before the next user message) the assistant
  ran a clarify action (designer.yml `outcomes.clarify_actions`) / its messages;
- hand-off rate: conversations with a message of the intent that were handed to a
  human / conversations with a message of the intent;
- abandonment point: for each form, conversations that started it, how many ended inside
  it (idle, see conversations.py), and the slot it was asking then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.designer.config import outcome_names
from bot.designer.conversations import Conversation


@dataclass
class IntentStats:
    intent: str
    messages: int = 0
    fallbacks: int = 0
    clarified: int = 0
    conversations: int = 0
    handoffs: int = 0

    def as_dict(self) -> dict[str, Any]:
        def rate(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {"intent": self.intent, "messages": self.messages,
                "fallbacks": self.fallbacks, "fallback_rate": rate(self.fallbacks, self.messages),
                "clarified": self.clarified, "clarify_rate": rate(self.clarified, self.messages),
                "conversations": self.conversations, "handoffs": self.handoffs,
                "handoff_rate": rate(self.handoffs, self.conversations)}


@dataclass
class FlowStats:
    flow: str
    started: int = 0
    abandoned: int = 0
    at_slot: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "started": self.started, "abandoned": self.abandoned,
                "abandon_rate": round(self.abandoned / self.started, 4) if self.started else 0.0,
                "slots": [{"slot": s, "count": c} for s, c in self.at_slot.most_common()]}


def compute(conversations: Iterable[Conversation]) -> dict[str, Any]:
    clarify_actions = outcome_names("clarify_actions")
    intents: dict[str, IntentStats] = {}
    flows: dict[str, FlowStats] = {}
    outcomes: Counter[str] = Counter()
    for conv in conversations:
        outcomes[conv.outcome] += 1
        seen: set[str] = set()
        last_user: str | None = None
        last_index = -1
        clarified_after: set[int] = set()
        for index, message in enumerate(conv.messages):
            if message.role == "user":
                key = message.candidate or message.intent or "?"
                stats = intents.setdefault(key, IntentStats(key))
                stats.messages += 1
                stats.fallbacks += message.fallback
                seen.add(key)
                last_user = key
                last_index = index
            elif (message.role == "action" and message.action in clarify_actions
                  and last_user is not None and last_index not in clarified_after):
                clarified_after.add(last_index)
                intents[last_user].clarified += 1
        for key in seen:
            intents[key].conversations += 1
            intents[key].handoffs += conv.handoff
        for flow in conv.flows:
            flows.setdefault(flow, FlowStats(flow)).started += 1
        if conv.abandoned and conv.flow:
            stats_flow = flows.setdefault(conv.flow, FlowStats(conv.flow))
            stats_flow.abandoned += 1
            stats_flow.at_slot[conv.flow_slot or "-"] += 1
    by_intent = sorted((s.as_dict() for s in intents.values()),
                       key=lambda d: (-d["fallback_rate"], -d["messages"], d["intent"]))
    by_flow = sorted((f.as_dict() for f in flows.values()),
                     key=lambda d: (-d["abandoned"], d["flow"]))
    return {"conversations": sum(outcomes.values()), "intents": by_intent, "flows": by_flow,
            "outcomes": dict(outcomes)}
