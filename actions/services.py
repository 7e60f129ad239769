"""Value-added services: list with prices (why money is deducted), cancel after a
confirmation, registration with the operator's double confirmation (12 hours)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RepeatedFailureFormValidation,
    actor,
    backend,
    channel_of,
    format_local,
    speaks_after_identity,
    utter,
    verified_msisdn,
)
from actions.confirmation import confirmation_answer, reply_is_clear_yes, slot_before_message
from actions.diagnosis import lead_with_line_state
from actions.occupation import offer_occupation
from bot.backend import ServiceView, SubscriptionView


def _service_lines(items: list[SubscriptionView] | list[ServiceView]) -> str:
    return "\n".join(f"- {item.name}: {item.price_label}" for item in items)


def _buttons(items: list[SubscriptionView] | list[ServiceView], intent: str) -> list[dict]:
    return [{"title": item.name, "payload": f'/{intent}{{"service": "{item.code}"}}'}
            for item in items]


def resolve_service(value: Any) -> ServiceView | None:
    """A catalog service from a code or any way of naming it."""
    return backend().vas.service(str(value)) if value else None


# At a confirmation, these leave the form through their own rules (a human, a lost SIM).
_HANDED_ELSEWHERE = ("request_human", "report_lost_sim")


def _changed_at_confirmation(tracker: Tracker, code: str) -> bool:
    """The customer named another service while asked to confirm one."""
    if tracker.get_slot("requested_slot") != "cancel_confirmed":
        return False
    before = slot_before_message(tracker, "service")
    return before is not None and before != code


class ActionListServices(Action):
    def name(self) -> str:
        return "action_list_services"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        active = backend().vas.active_subscriptions(msisdn)
        backend().audit.record(actor(tracker), "view_subscriptions", msisdn)
        lead = lead_with_line_state(dispatcher, tracker, msisdn)
        if not active:
            utter(dispatcher, "utter_services_none")
            return lead or offer_occupation(dispatcher, tracker)
        dispatcher.utter_message(response="utter_services_list", services=_service_lines(active),
                                 buttons=_buttons(active, "cancel_service"))
        return lead


class ActionAskCancelFormService(Action):
    def name(self) -> str:
        return "action_ask_cancel_form_service"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        active = backend().vas.active_subscriptions(verified_msisdn(tracker) or "")
        dispatcher.utter_message(response="utter_ask_cancel_form_service",
                                 services=_service_lines(active),
                                 buttons=_buttons(active, "cancel_service"))
        return []


class ValidateCancelForm(RepeatedFailureFormValidation):
    """The service must be one the subscriber uses; with none at all the form ends."""

    def name(self) -> str:
        return "validate_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if tracker.get_slot("requested_slot") is None and (
                not msisdn or not backend().vas.active_subscriptions(msisdn)):
            utter(dispatcher, "utter_services_none")
            return [SlotSet("service", None), SlotSet("requested_slot", None)]
        return await super().run(dispatcher, tracker, domain)

    def validate_service(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict[str, Any]) -> dict[str, Any]:
        service = resolve_service(value)
        if service is None:
            utter(dispatcher, "utter_cancel_unknown_service")
            return {"service": None}
        msisdn = verified_msisdn(tracker) or ""
        active = {s.code for s in backend().vas.active_subscriptions(msisdn)}
        if service.code not in active:
            utter(dispatcher, "utter_cancel_not_subscribed", service_name=service.name)
            return {"service": None}
        if (tracker.get_slot("requested_slot") == "cancel_confirmed"
                and not _changed_at_confirmation(tracker, service.code)):
            return {"service": service.code}  # named again while confirming it
        # a new choice needs a new confirmation
        return {"service": service.code, "cancel_confirmed": None}

    async def extract_cancel_confirmed(self, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: dict[str, Any]
                                       ) -> dict[str, Any]:
        """Only a clear yes cancels; a no, "keep it", a change of mind, a question or an
        unclear reply keeps the service (actions/confirmation.py)."""
        return confirmation_answer(tracker, "cancel_confirmed", "cancel", _HANDED_ELSEWHERE)

    def validate_cancel_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        service = resolve_service(tracker.get_slot("service"))
        if service is not None and _changed_at_confirmation(tracker, service.code):
            return {"cancel_confirmed": None}
        return {"cancel_confirmed": value is True}


class ActionAskCancelConfirmed(Action):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        service = resolve_service(tracker.get_slot("service"))
        utter(dispatcher, "utter_ask_cancel_confirmed",
              service_name=service.name if service else "", price=service.price_label
              if service else "")
        return []


class ActionCancelService(Action):
    """Submit of cancel_form."""

    def name(self) -> str:
        return "action_cancel_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        service = resolve_service(tracker.get_slot("service"))
        confirmed = tracker.get_slot("cancel_confirmed")
        events: list[EventType] = [SlotSet("service", None), SlotSet("cancel_confirmed", None)]
        if not msisdn or service is None:
            return events
        if confirmed is not True:
            utter(dispatcher, "utter_cancel_kept", service_name=service.name)
            return events
        result = backend().vas.cancel(msisdn, service.code, channel_of(tracker))
        backend().audit.record(actor(tracker), "cancel_subscription", msisdn)
        if result.status == "cancelled":
            utter(dispatcher, "utter_cancel_done", service_name=service.name)
        else:
            utter(dispatcher, "utter_cancel_not_subscribed", service_name=service.name)
        return events + offer_occupation(dispatcher, tracker)


class ActionAskRegisterFormService(Action):
    def name(self) -> str:
        return "action_ask_register_form_service"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker) or ""
        active = {s.code for s in backend().vas.active_subscriptions(msisdn)}
        offer = [s for s in backend().vas.catalog() if s.code not in active]
        dispatcher.utter_message(response="utter_ask_register_form_service",
                                 buttons=_buttons(offer, "register_service"))
        return []


class ValidateRegisterForm(RepeatedFailureFormValidation):
    def name(self) -> str:
        return "validate_register_form"

    def validate_service(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict[str, Any]) -> dict[str, Any]:
        service = resolve_service(value)
        if service is None:
            utter(dispatcher, "utter_register_unknown_service")
            return {"service": None}
        return {"service": service.code}


class ActionRequestRegistration(Action):
    """Submit of register_form: first step of the double confirmation."""

    def name(self) -> str:
        return "action_request_registration"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        service = resolve_service(tracker.get_slot("service"))
        if not msisdn or service is None:
            return []
        result = backend().vas.request_registration(msisdn, service.code, channel_of(tracker))
        backend().audit.record(actor(tracker), "request_registration", msisdn)
        variables = {"service_name": service.name, "price": service.price_label,
                     "service_code": service.code}
        if result.status == "pending":
            utter(dispatcher, "utter_registration_pending", **variables)
        elif result.status == "already_pending":
            utter(dispatcher, "utter_registration_already_pending",
                  expires=format_local(result.expires_at), **variables)
        elif result.status == "already_active":
            utter(dispatcher, "utter_registration_already_active", **variables)
        else:
            utter(dispatcher, "utter_register_unknown_service")
        return []


class ActionConfirmRegistration(Action):
    """Second confirmation: activated, or expired after 12 hours (offer to start again).
    Only a clear yes activates (actions/confirmation.py); anything else leaves the request
    to lapse by itself."""

    def name(self) -> str:
        return "action_confirm_registration"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        if not reply_is_clear_yes(tracker.latest_message, "register"):
            # "ừ mà thôi khỏi đi", "ok để mai tính": nothing is activated
            utter(dispatcher, "utter_registration_not_confirmed")
            return [SlotSet("service", None)]
        service = resolve_service(tracker.get_slot("service"))
        result = backend().vas.confirm_registration(msisdn, service.code if service else None)
        backend().audit.record(actor(tracker), "confirm_registration", msisdn)
        code = result.code or (service.code if service else None)
        confirmed = resolve_service(code) if code else None
        variables = {"service_name": confirmed.name if confirmed else "",
                     "service_code": code or ""}
        events: list[EventType] = [SlotSet("service", None)]
        if result.status == "activated":
            utter(dispatcher, "utter_registration_activated", **variables)
            return events + offer_occupation(dispatcher, tracker)
        if result.status == "expired":
            utter(dispatcher, "utter_registration_expired", **variables)
            return events
        utter(dispatcher, "utter_registration_none_pending")
        return events


class ActionRegistrationNotConfirmed(Action):
    """The customer declined the second confirmation."""

    def name(self) -> str:
        return "action_registration_not_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, "utter_registration_not_confirmed")
        return [SlotSet("service", None)]
