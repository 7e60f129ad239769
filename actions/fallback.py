"""Two-stage fallback: "did you mean ...?" with the domain's label of the likely intent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import utter
from bot import metrics, texts

# What each intent means for a customer is the domain response utter_intent_label_<intent>
# (domain.yml, "hand-off and fallback"): an intent without one is never suggested.
LABEL_PREFIX = "utter_intent_label_"
_NOT_SUGGESTED = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "next_step",
                  "step_done", "step_error", "resend_otp"}


def likely_intent(tracker: Tracker) -> str | None:
    """The best-ranked intent that is worth asking about."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    for candidate in ranking:
        name = candidate.get("name")
        if name and name not in _NOT_SUGGESTED and texts.has_response(LABEL_PREFIX + name):
            return name
    return None


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        metrics.FALLBACKS.labels(stage="ask_affirmation").inc()
        intent = likely_intent(tracker)
        if intent is None:
            utter(dispatcher, "utter_ask_rephrase")
            return []
        label = texts.text(LABEL_PREFIX + intent, tracker.get_latest_input_channel())
        utter(dispatcher, "utter_ask_affirmation", intent=intent, label=label)
        return []
