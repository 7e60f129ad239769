"""Symptoms and the line's state: "I cannot call", "no SMS", "one-way blocked", "no data".

After identity, `diagnosis` reads the backend (status, service barrings, Decree-49
completeness, balance) and names the likely cause with its fix, as the call-center script
does, in this order:
1. a barring that stops the line (outgoing or two-way: for a debt -> pay; at the owner's
   request -> reopen through an agent or a store);
2. a block for missing Decree-49 data -> update the information;
3. a block for another reason -> a human;
4. a barring of the one service the customer's words name (international calls, roaming,
   mobile data: actions/symptoms.yml) -> its fix;
5. a prepaid balance too low to call (operator.yml `low_balance_vnd`) -> top up;
6. missing Decree-49 data on an active line -> update, or a human;
7. a barring of one service when the words name none -> its fix;
8. nothing found -> a human.
Every verified look-up (balance, services, top-ups, app, information) first says a state
that stops the line (a line barring, a block) or missing Decree-49 data, once per
conversation (`lead_with_line_state`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
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
from bot.backend import BarringView, format_vnd
from bot.backend.reference import item_labels
from bot.brand import operator
from bot.clock import to_local
from bot.nlu.normalize import normalize_text
from bot.text import fold

WARNED_SLOT = "line_state_said"
SYMPTOMS_FILE = Path(__file__).with_name("symptoms.yml")


@dataclass(frozen=True)
class LineState:
    """What the backend knows about why a line may not work."""

    status: str                  # active | one_way_blocked | blocked
    missing: tuple[str, ...]     # Decree-49 item codes
    balance_vnd: int | None      # prepaid main balance (None: postpaid or unknown)
    barrings: tuple[BarringView, ...] = field(default=())  # active, line barrings first

    @property
    def blocked(self) -> bool:
        return self.status in ("one_way_blocked", "blocked")

    @property
    def line_barring(self) -> BarringView | None:
        return next((b for b in self.barrings if b.stops_the_line), None)


@dataclass(frozen=True)
class Diagnosis:
    response: str                      # the domain response that names it and its fix
    barring: BarringView | None = None  # the barring named, if any


IGNORED = "ignore"  # the words dropped before matching, in actions/symptoms.yml


@lru_cache(maxsize=1)
def _symptom_phrases() -> tuple[frozenset[str], tuple[tuple[str, tuple[str, ...]], ...]]:
    data = yaml.safe_load(SYMPTOMS_FILE.read_text(encoding="utf-8")) or {}
    ignored = frozenset(str(word) for word in data.pop(IGNORED, None) or ())
    return ignored, tuple((str(kind), tuple(str(p) for p in phrases))
                          for kind, phrases in data.items())


def symptom(text: str | None) -> str | None:
    """What the words say is not working: roaming | international | data | calls | sms,
    or None (actions/symptoms.yml)."""
    ignored, kinds = _symptom_phrases()
    words = [w for w in fold(normalize_text(text or "")).split() if w not in ignored]
    folded = f" {' '.join(words)} "
    for kind, phrases in kinds:
        if any(f" {phrase} " in folded for phrase in phrases):
            return kind
    return None


def problem_text(tracker: Tracker) -> str | None:
    """The customer's words of the latest report_service_problem message (after the code,
    the latest message is the code, not the symptom)."""
    for event in reversed(tracker.events or []):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == "report_service_problem":
            return str(event.get("text") or "")
    return None


def line_state(msisdn: str) -> LineState | None:
    subscriber = backend().subscribers.get(msisdn)
    if subscriber is None:
        return None
    status = backend().subscribers.decree49_status(msisdn)
    balance = backend().account.balance(msisdn)
    prepaid = balance is not None and not balance.is_postpaid
    return LineState(status=subscriber.status,
                     missing=tuple(status.missing) if status is not None else (),
                     balance_vnd=balance.main_vnd if prepaid and balance else None,
                     barrings=tuple(backend().subscribers.barrings(msisdn)))


def _barred(barring: BarringView) -> Diagnosis:
    return Diagnosis(f"utter_problem_barred_{barring.reason}", barring)


def diagnosis(state: LineState, said: str | None = None) -> Diagnosis:
    """The likely cause (the module's order) for a customer whose words name the symptom
    `said` (see `symptom`; None: not named)."""
    if state.line_barring is not None:
        return _barred(state.line_barring)
    if state.blocked and state.missing:
        return Diagnosis(f"utter_problem_{state.status}_decree49")
    if state.blocked:
        return Diagnosis(f"utter_problem_{state.status}_other")
    named = next((b for b in state.barrings if b.scope == said), None)
    if named is not None:
        return _barred(named)
    if state.balance_vnd is not None and state.balance_vnd < int(operator()["low_balance_vnd"]):
        return Diagnosis("utter_problem_low_balance")
    if state.missing:
        return Diagnosis("utter_problem_decree49_risk")
    if said is None and state.barrings:
        return _barred(state.barrings[0])
    return Diagnosis("utter_problem_not_found")


def barring_values(barring: BarringView | None, tracker: Tracker) -> dict[str, str]:
    """{barred}, {since}, {debt} of the utter_*_barred_* responses."""
    if barring is None:
        return {}
    return {"barred": sayer(tracker)(f"utter_barring_scope_{barring.scope}"),
            "since": to_local(barring.since).strftime("%d/%m/%Y"),
            "debt": format_vnd(barring.debt_vnd or 0)}


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
        found = diagnosis(state, symptom(problem_text(tracker)))
        utter(dispatcher, found.response, masked_msisdn=mask_msisdn(msisdn),
              missing=item_labels(state.missing, sayer(tracker)),
              balance=format_vnd(state.balance_vnd or 0),
              **barring_values(found.barring, tracker))
        return [SlotSet(WARNED_SLOT, True)]


def lead_with_line_state(dispatcher: CollectingDispatcher, tracker: Tracker,
                         msisdn: str, barring_only: bool = False) -> list[EventType]:
    """Before a verified look-up's answer: a barring that stops the line, a block or
    missing Decree-49 data, with the offer to fix it, once per conversation (the
    call-center script raises it first). `barring_only`: only a line barring (the
    information view shows the block and the Decree-49 data itself)."""
    if tracker.get_slot(WARNED_SLOT):
        return []
    state = line_state(msisdn)
    if state is None:
        return []
    if state.line_barring is not None:
        utter(dispatcher, f"utter_lead_barred_{state.line_barring.reason}",
              **barring_values(state.line_barring, tracker))
        return [SlotSet(WARNED_SLOT, True)]
    if barring_only or not (state.blocked or state.missing):
        return []
    missing = item_labels(state.missing, sayer(tracker))
    if state.blocked and state.missing:
        utter(dispatcher, f"utter_lead_{state.status}", missing=missing)
    elif state.blocked:
        utter(dispatcher, f"utter_lead_{state.status}_other")
    else:
        utter(dispatcher, "utter_lead_decree49_missing", missing=missing)
    return [SlotSet(WARNED_SLOT, True)]
