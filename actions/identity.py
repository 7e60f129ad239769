"""Proving the number is the customer's: an OTP by SMS (verify_form), a Telegram contact the
channel recorded, or a call-center transfer. Every proof is recorded server-side in the
backend's identity ledger for this conversation; the `verified_msisdn` / `identity_verified`
slots only mirror the ledger (a slot, entity or metadata value sent from outside proves
nothing)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RepeatedFailureFormValidation,
    actor,
    backend,
    channel_of,
    last_action_name,
    latest_intent,
    link_chat_to_number,
    mask_msisdn,
    said_this_turn,
    utter,
    verified_msisdn,
)
from bot import metrics, texts
from bot.text import normalize_msisdn

# Requests that need a verified number; action_require_identity remembers which one.
PROTECTED_INTENTS = (
    "check_subscriber_info", "update_subscriber_info", "check_update_status",
    "report_service_problem", "update_occupation", "list_services", "cancel_service",
    "register_service", "confirm_registration", "check_balance", "check_topup_history",
    "install_app",
)
RESEND = "resend"
_NON_DIGITS = re.compile(r"\D")


def identity_slot_events(tracker: Tracker) -> list[EventType]:
    """The identity slots mirror the ledger (part of the custom slot mapping
    action_extract_message_slots, run after every customer message). A proof recorded for
    this conversation (Telegram contact, call-center transfer) sets them; slots that claim a
    proof the ledger does not hold (set from outside, or expired) are cleared."""
    msisdn = verified_msisdn(tracker)
    claimed = tracker.get_slot("verified_msisdn")
    if msisdn:
        if claimed == msisdn and tracker.get_slot("identity_verified"):
            return []
        return [SlotSet("verified_msisdn", msisdn), SlotSet("identity_verified", True),
                SlotSet("phone_number", msisdn)]
    if claimed or tracker.get_slot("identity_verified"):
        return [SlotSet("verified_msisdn", None), SlotSet("identity_verified", False)]
    return []


class ActionRequireIdentity(Action):
    """Remember the request to continue with after the identity check. Why a proof is
    needed is said in the same message as the next step: the number question
    (ActionAskPhoneNumber) or, when the number came with the request, "code sent"."""

    def name(self) -> str:
        return "action_require_identity"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = latest_intent(tracker)
        pending = intent if intent in PROTECTED_INTENTS else None
        return [SlotSet("pending_request", pending), SlotSet("otp_code", None)]


def _right_after_request(tracker: Tracker) -> bool:
    """verify_form runs right after action_require_identity (the request just came)."""
    return last_action_name(tracker, skip="verify_form") == "action_require_identity"


class ActionAskPhoneNumber(Action):
    """verify_form's number question: right after a request that needs identity, the
    reason and the question are one message; later (a wrong number) just the question."""

    def name(self) -> str:
        return "action_ask_phone_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, "utter_identity_ask_phone_number" if _right_after_request(tracker)
              else "utter_ask_phone_number")
        return []


# Answers of the code step that already ask for the code (with the "Gửi lại mã" and
# "Dừng lại" buttons): the form's code question is not repeated under them.
ASKS_FOR_THE_CODE = (
    "utter_otp_sent", "utter_identity_otp_sent", "utter_otp_replaced", "utter_otp_cooldown",
    "utter_otp_cooldown_elsewhere", "utter_otp_wrong", "utter_otp_format",
    "utter_otp_expired", "utter_request_after_otp",
)


class ActionAskOtpCode(Action):
    """verify_form's code question, unless this turn's answer already asked for the code
    ("code sent, type it here"): one thought, one message."""

    def name(self) -> str:
        return "action_ask_otp_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        said = said_this_turn(tracker)
        if not (said and said[-1] in ASKS_FOR_THE_CODE):
            utter(dispatcher, "utter_ask_otp_code")
        return []


class ValidateVerifyForm(RepeatedFailureFormValidation):
    """phone_number -> an OTP is sent; otp_code -> checked by the backend (5 tries,
    5 minutes); "resend" (button) -> a new code, respecting the cool-down."""

    uncounted_slots = ("otp_code",)  # the backend counts OTP tries itself

    def name(self) -> str:
        return "validate_verify_form"

    def counts_failure(self, slot: str, dispatcher: CollectingDispatcher) -> bool:
        # Wrong codes are counted by the backend (5 tries, then locked); text that is no
        # code at all is counted here, so the customer is offered help instead of a loop.
        if slot == "otp_code":
            return any(m.get("response") == "utter_otp_format" for m in dispatcher.messages)
        return super().counts_failure(slot, dispatcher)

    def _issue(self, dispatcher: CollectingDispatcher, tracker: Tracker, msisdn: str,
               sent: str = "utter_otp_sent") -> dict[str, Any]:
        """A code for `msisdn` bound to this conversation; `sent` is what is said when one
        went out. The cool-down is told as it is: "the code was just sent" only when this
        conversation holds an unused code, else that another chat's code holds the number."""
        issue = backend().otp.issue(msisdn, channel_of(tracker), tracker.sender_id)
        metrics.record_otp(issue.status)
        masked = mask_msisdn(msisdn)
        if issue.status == "sent":
            utter(dispatcher, sent, masked_msisdn=masked)
            return {"phone_number": msisdn}
        if issue.status == "cooldown":
            response = "utter_otp_cooldown" if issue.pending_here \
                else "utter_otp_cooldown_elsewhere"
            utter(dispatcher, response, masked_msisdn=masked, seconds=str(issue.retry_after_s))
            return {"phone_number": msisdn}
        if issue.status == "locked":
            minutes = str(max(1, -(-issue.retry_after_s // 60)))
            utter(dispatcher, "utter_otp_locked", masked_msisdn=masked, minutes=minutes)
            return {"phone_number": msisdn, "requested_slot": None}
        if issue.status == "limited":
            minutes = str(max(1, -(-issue.retry_after_s // 60)))
            utter(dispatcher, "utter_otp_limited", masked_msisdn=masked, minutes=minutes)
            return {"phone_number": msisdn, "requested_slot": None}
        # not_operator_number: outside the operator's published number ranges
        utter(dispatcher, "utter_phone_not_subscriber", masked_msisdn=masked)
        return {"phone_number": None}

    def validate_phone_number(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        msisdn = normalize_msisdn(str(value or ""))
        if msisdn is None:
            utter(dispatcher, "utter_phone_invalid")
            return {"phone_number": None}
        if verified_msisdn(tracker) == msisdn:
            # this conversation already proved this very number (e.g. Telegram contact)
            return {"phone_number": msisdn, "otp_code": "verified"}
        # the number came with the request: why a code is needed, and that it was sent
        sent = "utter_identity_otp_sent" if _right_after_request(tracker) else "utter_otp_sent"
        return self._issue(dispatcher, tracker, msisdn, sent)

    def validate_otp_code(self, value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        msisdn = tracker.get_slot("phone_number")
        if not msisdn:
            return {"otp_code": None}
        if value == RESEND:
            result = self._issue(dispatcher, tracker, msisdn)
            return {**result, "otp_code": None}
        code = _NON_DIGITS.sub("", str(value or ""))
        intent = latest_intent(tracker)
        if len(code) != 6 and intent in PROTECTED_INTENTS:
            # "hủy MobiTV" typed at the code question: kept, done right after the code
            label = texts.text(f"utter_intent_label_{intent}",
                               tracker.get_latest_input_channel())
            utter(dispatcher, "utter_request_after_otp", label=label)
            return {"otp_code": None, "pending_request": intent}
        if len(code) != 6:
            utter(dispatcher, "utter_otp_format")
            return {"otp_code": None}
        check = backend().otp.verify(msisdn, code, tracker.sender_id)
        if check.status == "ok":
            backend().audit.record(actor(tracker), "identity_verified_otp", msisdn)
            link_chat_to_number(tracker, msisdn)
            return {"otp_code": "verified", "verified_msisdn": msisdn,
                    "identity_verified": True}
        if check.status == "wrong":
            utter(dispatcher, "utter_otp_wrong", attempts_left=str(check.attempts_left))
            return {"otp_code": None}
        if check.status == "expired":
            utter(dispatcher, "utter_otp_expired")
            return {"otp_code": None}
        if check.status == "too_many":
            utter(dispatcher, "utter_otp_too_many")
            return {"otp_code": None, "requested_slot": None}
        # no_challenge: this conversation holds no code (used, or never sent): a fresh one
        result = self._issue(dispatcher, tracker, msisdn, "utter_otp_replaced")
        return {**result, "otp_code": None}


class ActionIdentityResult(Action):
    """After verify_form: on success the rules go on with the remembered request, whose
    first message starts with "verified" (actions.common.join_identity_line), so nothing
    is said here then; without a remembered request, "verified" alone. A failure is
    explained."""

    def name(self) -> str:
        return "action_identity_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if msisdn:
            if not tracker.get_slot("pending_request"):
                utter(dispatcher, "utter_identity_ok", masked_msisdn=mask_msisdn(msisdn))
            return [SlotSet("identity_verified", True), SlotSet("otp_code", None)]
        utter(dispatcher, "utter_identity_failed")
        return [SlotSet("identity_verified", False), SlotSet("pending_request", None),
                SlotSet("otp_code", None)]
