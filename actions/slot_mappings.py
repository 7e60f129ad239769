"""The one custom slot mapping action Rasa runs after every customer message.

Rasa calls each distinct `action` of the domain's custom slot mappings once per message,
over HTTP with the whole session: one action for all of them costs one call per turn
instead of one per mapping (docs/perf/loadtest-perf-nlu-tracker.md). It mirrors the
identity ledger into the identity slots and keeps how the customer addresses themselves.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.addressing import title_slot_events
from actions.identity import identity_slot_events


class ActionExtractMessageSlots(Action):
    """Custom slot mapping of verified_msisdn / identity_verified and customer_title(_cap)."""

    def name(self) -> str:
        return "action_extract_message_slots"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return identity_slot_events(tracker) + title_slot_events(tracker)
