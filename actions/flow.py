"""Conversation-level actions: session start (operator profile into slots), stop, lost SIM."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.common import brand_vars, utter
from bot.handoff.tickets import is_with_human

# Slots of the task flows; `stop` clears them (identity stays verified for the session).
FLOW_SLOTS = (
    "pending_request", "update_route", "update_method", "service", "cancel_confirmed",
    "location", "occupation_code", "occupation_suggested", "otp_code", "app_step",
    "app_guide_last", "app_guide_done",
    "upd_full_name", "upd_birth_date", "upd_gender", "upd_nationality", "upd_address",
    "upd_id_number", "upd_id_issue_date", "upd_id_issue_place", "upd_id_front_photo",
    "upd_id_back_photo", "upd_portrait_photo", "upd_confirm", "validation_failures",
)


class ActionSessionStart(Action):
    """Start a session with the operator profile in slots, so that every response (also
    those triggered directly by rules) can say {hotline}, {brand}, {app_link}..."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        events += [SlotSet(name, value) for name, value in brand_vars().items()]
        events.append(ActionExecuted("action_listen"))
        if is_with_human(tracker.sender_id):
            # Rasa un-pauses a conversation at a new session: a human still owns this one.
            events.append(ConversationPaused())
        return events


class ActionStopFlow(Action):
    """The customer aborted: forget the half-finished task, keep the verified identity."""

    def name(self) -> str:
        return "action_stop_flow"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, "utter_stopped")
        return [SlotSet(name, None) for name in FLOW_SLOTS if tracker.get_slot(name) is not None]


class ActionReportLostSim(Action):
    """Lost phone/SIM: the hotline at once, and which number when it is not known yet;
    the hand-off follows (rule)."""

    def name(self) -> str:
        return "action_report_lost_sim"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        known = (tracker.get_slot("verified_msisdn") or tracker.get_slot("phone_number")
                 or any(e.get("entity") == "phone_number"
                        for e in tracker.latest_message.get("entities") or []))
        # Which number to block: asked when unknown; the answer reaches the agent's ticket.
        utter(dispatcher, "utter_lost_sim" if known else "utter_lost_sim_which_number")
        return [SlotSet("lost_sim", True), SlotSet("handoff_reason", "report_lost_sim")]
