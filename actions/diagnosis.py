"""Symptoms and the line's state: "I cannot call", "no SMS", "one-way blocked", "no data".

After identity, `diagnose` reads the backend (status, Decree-49 completeness, balance) and
names the likely cause with its fix, as the call-center script does: a block for missing
Decree-49 data -> update the information; a block for another reason -> a human; a prepaid
balance too low to call (operator.yml `low_balance_vnd`) -> top up; nothing found -> a
human. Every verified look-up (balance, services, top-ups, app) first says a blocking
state or missing Decree-49 data once per conversation (`lead_with_line_state`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    actor,
    backend,
    mask_msisdn,
    sayer,
    speaks_after_identity,
    utter,
    verified_msisdn,
)
from bot.backend import format_vnd
from bot.backend.reference import item_labels
from bot.brand import operator

WARNED_SLOT = "line_state_said"


@dataclass(frozen=True)
class LineState:
    """What the backend knows about why a line may not work."""

    status: str                  # active | one_way_blocked | blocked
    missing: tuple[str, ...]     # Decree-49 item codes
    balance_vnd: int | None      # prepaid main balance (None: postpaid or unknown)

    @property
    def blocked(self) -> bool:
        return self.status in ("one_way_blocked", "blocked")


def line_state(msisdn: str) -> LineState | None:
    subscriber = backend().subscribers.get(msisdn)
    if subscriber is None:
        return None
    status = backend().subscribers.decree49_status(msisdn)
    balance = backend().account.balance(msisdn)
    prepaid = balance is not None and not balance.is_postpaid
    return LineState(status=subscriber.status,
                     missing=tuple(status.missing) if status is not None else (),
                     balance_vnd=balance.main_vnd if prepaid and balance else None)


def diagnosis(state: LineState) -> str:
    """The likely cause, as the name of the response that explains it and offers the fix."""
    if state.blocked and state.missing:
        return f"utter_problem_{state.status}_decree49"
    if state.blocked:
        return f"utter_problem_{state.status}_other"
    if state.balance_vnd is not None and state.balance_vnd < int(operator()["low_balance_vnd"]):
        return "utter_problem_low_balance"
    if state.missing:
        return "utter_problem_decree49_risk"
    return "utter_problem_not_found"


class ActionDiagnoseProblem(Action):
    """report_service_problem after identity: the cause from the backend and its fix."""

    def name(self) -> str:
        return "action_diagnose_problem"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        state = line_state(msisdn) if msisdn else None
        if msisdn is None or state is None:
            return []
        backend().audit.record(actor(tracker), "diagnose_line", msisdn)
        utter(dispatcher, diagnosis(state), masked_msisdn=mask_msisdn(msisdn),
              missing=item_labels(state.missing, sayer(tracker)),
              balance=format_vnd(state.balance_vnd or 0))
        return [SlotSet(WARNED_SLOT, True)]


def lead_with_line_state(dispatcher: CollectingDispatcher, tracker: Tracker,
                         msisdn: str) -> list[EventType]:
    """Before a verified look-up's answer: a block or missing Decree-49 data, with the
    offer to fix it, once per conversation (the call-center script raises it first)."""
    if tracker.get_slot(WARNED_SLOT):
        return []
    state = line_state(msisdn)
    if state is None or not (state.blocked or state.missing):
        return []
    missing = item_labels(state.missing, sayer(tracker))
    if state.blocked and state.missing:
        utter(dispatcher, f"utter_lead_{state.status}", missing=missing)
    elif state.blocked:
        utter(dispatcher, f"utter_lead_{state.status}_other")
    else:
        utter(dispatcher, "utter_lead_decree49_missing", missing=missing)
    return [SlotSet(WARNED_SLOT, True)]
