"""Store finder: by a place typed any way (with or without diacritics)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import RepeatedFailureFormValidation, answering_now, backend, utter
from bot import texts
from bot.backend import ShopView


def format_stores(stores: list[ShopView], channel: str | None = None) -> str:
    """One line per store (utter_store_line, utter_store_line_main for a main store):
    name, address, opening hours."""
    return "\n".join(
        texts.text("utter_store_line_main" if store.is_main else "utter_store_line", channel,
                   name=store.name, address=store.address, opening_hours=store.opening_hours)
        for store in stores)


class ValidateStoreForm(RepeatedFailureFormValidation):
    def name(self) -> str:
        return "validate_store_form"

    async def extract_location(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        """A place the store finder knows is an answer, whatever intent the NLU saw."""
        if not answering_now(tracker, "location") or tracker.get_slot("location"):
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        return {"location": text} if text and backend().shops.find(text, limit=1) else {}

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any]) -> dict[str, Any]:
        place = str(value or "").strip()
        if not place or not backend().shops.find(place, limit=1):
            utter(dispatcher, "utter_location_not_found", place=place)
            return {"location": None}
        return {"location": place}


class ActionFindStores(Action):
    """Submit of store_form."""

    def name(self) -> str:
        return "action_find_stores"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        place = tracker.get_slot("location")
        stores = backend().shops.find(place) if place else []
        if stores:
            utter(dispatcher, "utter_stores_found",
                  stores=format_stores(stores, tracker.get_latest_input_channel()))
        else:
            utter(dispatcher, "utter_location_not_found", place=place or "")
        return [SlotSet("location", None)]
