"""Occupation: the form with the 18 codes as buttons (exactly one main code), and the
once-per-conversation offer after a finished flow (07:00-22:00 local, never for lost SIM)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RepeatedFailureFormValidation,
    actor,
    answering_now,
    backend,
    speaks_after_identity,
    utter,
    verified_msisdn,
)
from actions.confirmation import reply_is_clear_yes
from bot import texts
from bot.clock import desk_open
from bot.reference.occupations import OCCUPATION_CODES, label_response
from bot.text import fold

# Words customers type for a code, folded (no diacritics); the labels themselves match too.
_KEYWORDS: dict[int, tuple[str, ...]] = {
    1: ("quan doi", "cong an", "bo doi", "si quan", "canh sat"),
    2: ("lanh dao", "can bo", "cong chuc"),
    3: ("quan ly", "giam doc", "truong phong"),
    4: ("van phong", "nhan vien"),
    5: ("ky su", "ky thuat", "lap trinh", "it"),
    6: ("bac si", "y ta", "duoc", "thu y", "y te", "dieu duong"),
    7: ("xa hoi hoc", "tam ly"),
    8: ("ke toan", "ngan hang", "tai chinh", "kiem toan"),
    9: ("nong dan", "lam ruong", "nong nghiep", "ngu dan", "chan nuoi"),
    10: ("giao vien", "giang vien", "day hoc", "co giao", "thay giao"),
    11: ("luat su", "luat", "tham phan"),
    12: ("nha bao", "nha van", "nghe si", "ca si", "hoa si"),
    13: ("tu si", "linh muc", "su thay", "ton giao"),
    14: ("lai xe", "tai xe", "bao ve", "nha hang", "khach san", "du lich", "grab"),
    15: ("kinh doanh", "ban hang", "buon ban", "tieu thuong"),
    16: ("lao dong tu do", "tu do", "cong nhan", "phu ho", "lao dong"),
    17: ("hoc sinh", "sinh vien"),
    18: ("nghi huu", "noi tro", "ve huu", "khac"),
}


def occupations(channel: str | None = None) -> list[tuple[int, str]]:
    """(code, label) of the 18 codes, the labels from the domain (`utter_occupation_<code>`)."""
    return [(code, texts.text(label_response(code), channel)) for code in OCCUPATION_CODES]


def match_occupation(text: str, occupations: Sequence[tuple[int, str]],
                     words_only: bool = False) -> int | None:
    """'4', 'số 4', 'giáo viên', 'Nhân viên văn phòng' -> a code 1..18, else None
    (`words_only`: a number is no answer, for text that was not answering the list)."""
    raw = str(text or "").strip()
    digits = re.fullmatch(r"\D{0,12}?(\d{1,2})\D{0,3}", raw)
    codes = {code for code, _ in occupations}
    if digits and int(digits.group(1)) in codes and not words_only:
        return int(digits.group(1))
    folded = fold(raw)
    if not folded:
        return None
    for code, label in occupations:
        if folded == fold(label):
            return code
    best: tuple[int, int] | None = None  # (length of the matched keyword, code)
    padded = f" {folded} "
    for code, words in _KEYWORDS.items():
        for word in words:
            if f" {word} " in padded and (best is None or len(word) > best[0]):
                best = (len(word), code)
    return best[1] if best else None


def offer_occupation(dispatcher: CollectingDispatcher, tracker: Tracker,
                     now: datetime | None = None) -> list[EventType]:
    """After a finished flow: ask once per conversation for a missing occupation."""
    msisdn = verified_msisdn(tracker)
    if (not msisdn or tracker.get_slot("occupation_offered") or tracker.get_slot("lost_sim")
            or tracker.active_loop.get("name")):
        return []
    if not desk_open(now):  # asked only while the desk works (bot/operator.yml)
        return []
    subscriber = backend().subscribers.get(msisdn)
    if subscriber is None or subscriber.occupation_code is not None:
        return []
    utter(dispatcher, "utter_offer_occupation")
    return [SlotSet("occupation_offered", True)]


# Messages in which what the customer says about their work counts (not "gặp nhân viên").
_WORK_INTENTS = ("update_occupation", "inform")


def occupation_said(tracker: Tracker, choices: Sequence[tuple[int, str]]) -> int | None:
    """The code closest to what the customer said about their work in this conversation
    ("chị làm y tá" -> 6), from their own words (not buttons), latest first."""
    for event in reversed(tracker.events or []):
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text.startswith("/") or intent not in _WORK_INTENTS:
            continue
        code = match_occupation(text, [(c, label) for c, label in choices], words_only=True)
        if code is not None:
            return code
    return None


class ActionAskOccupationCode(Action):
    """The 18 codes as buttons; first the current occupation (it is being replaced) and,
    when the customer already said what they do, the closest code to confirm."""

    def name(self) -> str:
        return "action_ask_occupation_code"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        choices = occupations(tracker.get_latest_input_channel())
        labels = dict(choices)
        msisdn = verified_msisdn(tracker)
        subscriber = backend().subscribers.get(msisdn) if msisdn else None
        current = subscriber.occupation_code if subscriber else None
        if current in labels:
            utter(dispatcher, "utter_occupation_current", label=labels[current])
        said = occupation_said(tracker, choices)
        buttons = [{"title": f"{code}. {label}",
                    "payload": f'/inform{{"occupation_code": "{code}"}}'}
                   for code, label in choices]
        if said is not None and said != current:
            buttons.insert(0, {"title": texts.text("utter_occupation_yes_button",
                                                   tracker.get_latest_input_channel()),
                               "payload": f'/inform{{"occupation_code": "{said}"}}'})
            dispatcher.utter_message(response="utter_ask_occupation_suggested",
                                     label=labels[said], buttons=buttons)
            return [SlotSet("occupation_suggested", str(said))]
        dispatcher.utter_message(response="utter_ask_occupation_code", buttons=buttons)
        return [SlotSet("occupation_suggested", None)]


class ValidateOccupationForm(RepeatedFailureFormValidation):
    def name(self) -> str:
        return "validate_occupation_form"

    async def extract_occupation_code(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: dict[str, Any]) -> dict[str, Any]:
        """An answer that names an occupation is one, whatever intent the NLU saw in it
        ("giáo viên" must not be taken for "nhân viên" = a human agent)."""
        if not answering_now(tracker, "occupation_code"):
            return {}
        suggested = tracker.get_slot("occupation_suggested")
        if suggested and reply_is_clear_yes(tracker.latest_message, "submit"):
            return {"occupation_code": str(suggested)}  # "đúng rồi" to the suggestion
        code = match_occupation(tracker.latest_message.get("text") or "",
                                occupations(tracker.get_latest_input_channel()))
        return {"occupation_code": str(code)} if code is not None else {}

    def validate_occupation_code(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        code = match_occupation(str(value or ""),
                                occupations(tracker.get_latest_input_channel()))
        if code is None:
            utter(dispatcher, "utter_invalid_occupation")
            return {"occupation_code": None}
        return {"occupation_code": str(code)}


class ActionSetOccupation(Action):
    """Submit of occupation_form: store exactly one main code."""

    def name(self) -> str:
        return "action_set_occupation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        code = tracker.get_slot("occupation_code")
        events: list[EventType] = [SlotSet("occupation_code", None),
                                   SlotSet("occupation_offered", True),
                                   SlotSet("occupation_suggested", None)]
        if not msisdn or not code:
            return events
        backend().subscribers.set_occupation(msisdn, int(code))
        backend().audit.record(actor(tracker), "set_occupation", msisdn)
        label = (texts.text(label_response(int(code)), tracker.get_latest_input_channel())
                 if int(code) in OCCUPATION_CODES else "")
        utter(dispatcher, "utter_occupation_saved", label=label)
        return events
