"""Clarify instead of guessing. When the NLU is unsure (bot/nlu/clarify.py: the top intent
below a threshold, or the runner-up close to it or at least a set share of it; values in
config.yml chosen by scripts/calibrate_clarify.py), the two-stage fallback asks one short
question with the two or three likely tasks as buttons, in the customer's words (the domain's
labels). A tap on one goes on with that task at once (Rasa's two-stage fallback replaces
the unsure message with the chosen one); "Việc khác" asks to rephrase."""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import utter
from bot import metrics, texts
from bot.nlu.normalize import load_teencode
from bot.text import fold

# What each intent means for a customer is the domain response utter_intent_label_<intent>
# (domain.yml, "hand-off and fallback"): an intent without one is never suggested.
LABEL_PREFIX = "utter_intent_label_"
_NOT_SUGGESTED = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "next_step",
                  "step_done", "step_error", "resend_otp"}
# At most this many tasks are offered, and only those at least this share of the best
# candidate's confidence (a 0.02 outsider is no likely task).
MAX_OPTIONS = 3
MIN_SHARE_OF_BEST = 0.25
# Entities the message named are kept in the buttons ("hủy nhạc chờ" -> the chosen task
# knows the service); Telegram's callback data holds at most 64 bytes.
KEPT_ENTITIES = ("service", "phone_number", "location")
MAX_PAYLOAD_BYTES = 64


def likely_intents(tracker: Tracker, limit: int = MAX_OPTIONS) -> list[str]:
    """The best-ranked intents worth asking about, best first."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    found: list[tuple[str, float]] = []
    for candidate in ranking:
        name = candidate.get("name")
        if name and name not in _NOT_SUGGESTED and texts.has_response(LABEL_PREFIX + name):
            found.append((name, float(candidate.get("confidence") or 0.0)))
    if not found:
        return []
    best = found[0][1]
    return [name for name, conf in found[:limit] if conf >= best * MIN_SHARE_OF_BEST]


def likely_intent(tracker: Tracker) -> str | None:
    """The best-ranked intent that is worth asking about."""
    found = likely_intents(tracker, 1)
    return found[0] if found else None


def payload(intent: str, tracker: Tracker) -> str:
    """'/cancel_service{"service": "FUNRING"}': the task with what the message named."""
    entities = {e.get("entity"): e.get("value")
                for e in tracker.latest_message.get("entities") or []
                if e.get("entity") in KEPT_ENTITIES and isinstance(e.get("value"), str)}
    if entities:
        full = f"/{intent}{json.dumps(entities, ensure_ascii=False)}"
        if len(full.encode("utf-8")) <= MAX_PAYLOAD_BYTES:
            return full
    return f"/{intent}"


def _title(label: str) -> str:
    return label[:1].upper() + label[1:]


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        metrics.FALLBACKS.labels(stage="ask_affirmation").inc()
        intents = likely_intents(tracker)
        channel = tracker.get_latest_input_channel()
        if not intents:
            utter(dispatcher, "utter_ask_rephrase")
            return []
        if len(intents) == 1:
            intent = intents[0]
            label = texts.text(LABEL_PREFIX + intent, channel)
            utter(dispatcher, "utter_ask_affirmation", intent=intent, label=label)
            return []
        buttons = [{"title": _title(texts.text(LABEL_PREFIX + intent, channel)),
                    "payload": payload(intent, tracker)} for intent in intents]
        buttons.append({"title": texts.text("utter_clarify_other", channel),
                        "payload": "/out_of_scope"})
        utter(dispatcher, "utter_clarify", buttons=buttons)
        return []


# A Vietnamese syllable without diacritics: onset, vowels, ending ("nguyen", "khong").
_SYLLABLE = re.compile(r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?"
                       r"[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?$")
_LETTERS = re.compile(r"[^\W\d_]+")


def is_gibberish(text: str | None) -> bool:
    """Emoji or punctuation only, or letters that form no Vietnamese syllable and no known
    abbreviation ("asdkjh", "zzzxq"): the customer is asked to say it again, not told the
    topic is out of scope."""
    words = _LETTERS.findall(fold(text or ""))
    if not words:
        return True
    teencode = load_teencode()
    return not any(_SYLLABLE.match(w) or w in teencode for w in words)


class ActionOutOfScope(Action):
    """out_of_scope outside a procedure: a real topic we do not handle gets the topics we
    do; gibberish or emoji get "nói lại giúp em"."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = tracker.latest_message.get("text")
        utter(dispatcher, "utter_ask_rephrase" if is_gibberish(text) else "utter_out_of_scope")
        return []
