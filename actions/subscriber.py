"""Subscriber information: masked view + Decree-49 status, the call-center update decision
tree, the step-by-step app walkthrough, and the status of a submitted update."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import (
    actor,
    backend,
    format_local,
    join_messages,
    mask_msisdn,
    previous_bot_action,
    sayer,
    speaks_after_identity,
    utter,
    verified_msisdn,
)
from actions.diagnosis import lead_with_line_state
from actions.occupation import offer_occupation
from actions.stores import format_stores
from bot.backend import UpdatePath
from bot.backend.reference import item_labels, profile_lines
from bot.handoff.review import hours_left, reason_text
from bot.text import fold

APP_STEPS = 5
_STORE_RESPONSES = {
    UpdatePath.STORE_PREMIUM: "utter_update_store_premium",
    UpdatePath.STORE_COMPANY: "utter_update_store_company",
    UpdatePath.STORE_FEATURE_PHONE: "utter_update_store_feature_phone",
}


class ActionCheckSubscriberInfo(Action):
    def name(self) -> str:
        return "action_check_subscriber_info"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        profile = backend().subscribers.masked_profile(msisdn)
        backend().audit.record(actor(tracker), "view_masked_profile", msisdn)
        # a barring that stops the line first (the view shows blocks and Decree 49 itself)
        lead = lead_with_line_state(dispatcher, tracker, msisdn, barring_only=True)
        say = sayer(tracker)
        lines = "\n".join(f"- {label}: {value}"
                          for label, value in profile_lines(profile, say))
        utter(dispatcher, "utter_subscriber_info", profile=lines)
        status = backend().subscribers.decree49_status(msisdn)
        subscriber = backend().subscribers.get(msisdn)
        # the information and what it means under Decree 49: one message
        if status is not None and status.complete:
            utter(dispatcher, "utter_decree49_complete")
            join_messages(dispatcher, tracker, 2)
            return lead + offer_occupation(dispatcher, tracker)
        if status is not None:
            said = 2
            if subscriber is not None and subscriber.status == "one_way_blocked" and not lead:
                utter(dispatcher, "utter_one_way_blocked")
                said = 3
            utter(dispatcher, "utter_decree49_missing",
                  missing=item_labels(status.missing, say))
            join_messages(dispatcher, tracker, said)
        return lead


# Typed answers to "which way do you want to update?" (the buttons send update_method).
_TYPED_METHODS = (("app", ("ung dung", "app", "my mobifone")),
                  ("chat", ("tai day", "o day", "trong chat", "qua chat", "gui luon",
                            "gui thong tin", "nhap o day", "nhan tin")))


def typed_method(text: str | None) -> str | None:
    """'Gửi thông tin ngay tại đây' -> 'chat'; 'hướng dẫn trên ứng dụng' -> 'app'."""
    folded = f" {fold(text or '')} "
    for method, phrases in _TYPED_METHODS:
        if any(f" {phrase} " in folded for phrase in phrases):
            return method
    return None


def _explains_first(tracker: Tracker) -> bool:
    """What is missing and why (Decree 49) comes before the steps, unless the customer is
    answering the "which way?" question or just saw it in their information."""
    if tracker.get_slot("update_route") == "choose":
        return False
    return previous_bot_action(tracker) != "action_check_subscriber_info"


class ActionUpdateInfo(Action):
    """The decision tree (`subscribers.update_path`) -> `update_route` (rules pick the form)."""

    def name(self) -> str:
        return "action_update_info"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        path = backend().subscribers.update_path(msisdn) if msisdn else None
        method = tracker.get_slot("update_method") or typed_method(
            tracker.latest_message.get("text"))
        events: list[EventType] = [SlotSet("update_method", None)]
        if msisdn:  # a barring that stops the line is not fixed by an update: said first
            events += lead_with_line_state(dispatcher, tracker, msisdn, barring_only=True)
        if path is None or path == UpdatePath.COMPLETE:
            utter(dispatcher, "utter_update_not_needed")
            return [*events, SlotSet("update_route", "complete")]
        # what is missing and why, then the way to update it: one message
        start = len(dispatcher.messages)
        if msisdn and _explains_first(tracker):
            status = backend().subscribers.decree49_status(msisdn)
            utter(dispatcher, "utter_update_missing_why",
                  missing=item_labels(status.missing if status else (), sayer(tracker)))
        if path in _STORE_RESPONSES:
            utter(dispatcher, _STORE_RESPONSES[path])
            subscriber = backend().subscribers.get(msisdn) if msisdn else None
            main_only = path != UpdatePath.STORE_FEATURE_PHONE
            province = subscriber.province if subscriber else None
            stores = backend().shops.find(province or "", limit=3, main_only=main_only)
            if stores:
                utter(dispatcher, "utter_store_list",
                      stores=format_stores(stores, tracker.get_latest_input_channel()))
            else:
                utter(dispatcher, "utter_store_list_empty")
            join_messages(dispatcher, tracker, len(dispatcher.messages) - start)
            return [*events, SlotSet("update_route", "store")]
        if method == "app":
            return [*events, SlotSet("update_route", "app"), SlotSet("app_step", 1),
                    SlotSet("app_guide_done", None), SlotSet("app_guide_last", None)]
        if method == "chat":
            utter(dispatcher, "utter_update_chat_intro")
            join_messages(dispatcher, tracker, len(dispatcher.messages) - start)
            return [*events, SlotSet("update_route", "chat"), SlotSet("upd_confirm", None)]
        utter(dispatcher, "utter_update_choose_method")
        join_messages(dispatcher, tracker, len(dispatcher.messages) - start)
        return [*events, SlotSet("update_route", "choose")]


class ActionAskAppGuideDone(Action):
    """Shows the current walkthrough step (one per message, buttons Tiếp/Xong/Em bị lỗi)."""

    def name(self) -> str:
        return "action_ask_app_guide_done"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot("app_guide_last") == "error":
            utter(dispatcher, "utter_app_step_error_options")
            return [SlotSet("app_guide_last", None)]
        step = min(max(int(tracker.get_slot("app_step") or 1), 1), APP_STEPS)
        utter(dispatcher, f"utter_app_step_{step}")
        return []


class ValidateAppGuideForm(FormValidationAction):
    """next or done -> following step ("xong" = this step is done); error -> help for this
    step; next or done at the last step (submit) -> walkthrough complete."""

    def name(self) -> str:
        return "validate_app_guide_form"

    def validate_app_guide_done(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        step = min(max(int(tracker.get_slot("app_step") or 1), 1), APP_STEPS)
        if value == "error":
            utter(dispatcher, f"utter_app_step_error_{step}")
            return {"app_guide_done": None, "app_guide_last": "error"}
        if step >= APP_STEPS:  # the last step (confirm and submit) is done: finished
            return {"app_guide_done": "done"}
        return {"app_guide_done": None, "app_step": step + 1, "app_guide_last": None}


class ActionAppGuideFinished(Action):
    def name(self) -> str:
        return "action_app_guide_finished"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, "utter_app_guide_finished")
        events: list[EventType] = [SlotSet("app_guide_done", None), SlotSet("app_step", None),
                                   SlotSet("update_route", None)]
        return events + offer_occupation(dispatcher, tracker)


class ActionCheckUpdateStatus(Action):
    def name(self) -> str:
        return "action_check_update_status"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        request = backend().update_requests.latest(msisdn)
        backend().audit.record(actor(tracker), "view_update_status", msisdn)
        if request is None:
            utter(dispatcher, "utter_update_status_none", masked_msisdn=mask_msisdn(msisdn))
            return []
        variables = {"submitted": format_local(request.submitted_at),
                     "due": format_local(request.due_at)}
        if request.status == "approved":
            utter(dispatcher, "utter_update_status_approved", **variables)
        elif request.status == "rejected":
            utter(dispatcher, "utter_update_status_rejected", **variables,
                  reason=reason_text(request.reject_reason, request.reject_note,
                                     tracker.get_latest_input_channel()))
            return []
        else:
            due = request.due_at if request.due_at.tzinfo else \
                request.due_at.replace(tzinfo=timezone.utc)
            overdue = backend().now() > due
            utter(dispatcher, "utter_update_status_overdue" if overdue
                  else "utter_update_status_pending", **variables,
                  hours_left=str(hours_left(due, backend().now())))
        return offer_occupation(dispatcher, tracker)
