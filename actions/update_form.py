"""In-chat submission of the missing Decree-49 information (update_form): asks only for
what this subscriber lacks, validates each answer, takes photos from the channel, shows a
summary to confirm, then backend.update_requests.submit (reviewed within 48 hours)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RepeatedFailureFormValidation,
    actor,
    answering_now,
    backend,
    channel_and_user,
    channel_of,
    format_local,
    latest_intent,
    local_now,
    utter,
    verified_msisdn,
)
from actions.occupation import offer_occupation
from bot import texts
from bot.media import media_settings, same_photo
from bot.text import fold

MIN_AGE, MAX_AGE = 14, 120
# Missing Decree-49 item (backend code) -> slots of update_form that provide it.
SLOTS_FOR_MISSING: dict[str, tuple[str, ...]] = {
    "full_name": ("upd_full_name",),
    "name_match": ("upd_full_name", "upd_id_number", "upd_id_front_photo"),
    "birth_date": ("upd_birth_date",),
    "gender": ("upd_gender",),
    "nationality": ("upd_nationality",),
    "address": ("upd_address",),
    "id_document": ("upd_id_number",),
    "id_issue": ("upd_id_issue_date", "upd_id_issue_place"),
    "id_front_photo": ("upd_id_front_photo",),
    "id_back_photo": ("upd_id_back_photo",),
    "portrait_photo": ("upd_portrait_photo",),
}
FORM_ORDER = ("upd_full_name", "upd_birth_date", "upd_gender", "upd_nationality", "upd_address",
              "upd_id_number", "upd_id_issue_date", "upd_id_issue_place", "upd_id_front_photo",
              "upd_id_back_photo", "upd_portrait_photo")
PHOTO_SLOTS = {"upd_id_front_photo": "id_front", "upd_id_back_photo": "id_back",
               "upd_portrait_photo": "portrait"}
# Why the channel refused a photo (bot/channels/media.py): answered utter_photo_<code>.
PHOTO_PROBLEMS = ("not_image", "too_large", "too_small", "fetch_failed")
# The confirmation summary's words are domain responses: the label of a slot is
# utter_summary_label_<slot> (a slot without one is not shown), the values shown instead of
# what is stored utter_summary_value_<...>.
SUMMARY_LABEL = "utter_summary_label_"
GENDER_VALUES = {"male": "utter_summary_value_male", "female": "utter_summary_value_female"}
DIGRESSIONS = {"faq", "stop", "request_human", "report_lost_sim", "bot_challenge"}

_DATE = re.compile(r"^\s*(\d{1,2})\s*[/\-.\s]\s*(\d{1,2})\s*[/\-.\s]\s*(\d{2}|\d{4})\s*$")
_DATE_WORDS = re.compile(
    r"^\s*(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})\s*(?:nam\s*)?(\d{2}|\d{4})\s*$")
_IMAGE_REF = re.compile(r"(https?://\S+|\S+\.(?:jpe?g|png|heic|webp))", re.IGNORECASE)
_NAME = re.compile(r"^[^\W\d_]+(?:\s+[^\W\d_]+)+$")


def parse_vn_date(text: str, today: date) -> date | None:
    """Dates as Vietnamese users type them: 5/3/1990, 05-03-90, 05.03.1990,
    'ngày 5 tháng 3 năm 1990' (day first). Two-digit years: not after this year."""
    raw = str(text or "")
    match = _DATE.match(raw) or _DATE_WORDS.match(fold(raw))
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    if year < 100:
        year += 2000 if 2000 + year <= today.year else 1900
    try:
        return date(year, month, day)
    except ValueError:
        return None


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def classify_id_number(text: str) -> tuple[str, str] | None:
    """(id_type, number): CCCD 12 digits, CMND 9 digits, passport 1 letter + 7 digits."""
    compact = re.sub(r"[\s.\-]", "", str(text or "")).upper()
    if re.fullmatch(r"\d{12}", compact):
        return "CCCD", compact
    if re.fullmatch(r"\d{9}", compact):
        return "CMND", compact
    if re.fullmatch(r"[A-Z]\d{7}", compact):
        return "PASSPORT", compact
    return None


def split_address(text: str) -> dict[str, str] | None:
    """'12 Lê Lợi, Bến Nghé, Quận 1, TP Hồ Chí Minh' -> street, ward, district, province."""
    parts = [p.strip() for p in str(text or "").split(",") if p.strip()]
    if len(parts) < 4:
        return None
    return {"street": ", ".join(parts[:-3]), "ward": parts[-3], "district": parts[-2],
            "province": parts[-1]}


def required_update_slots(msisdn: str | None) -> list[str]:
    """update_form slots for what this subscriber is missing, in form order, then confirm."""
    status = backend().subscribers.decree49_status(msisdn) if msisdn else None
    wanted: set[str] = set()
    for code in (status.missing if status else ()):
        wanted.update(SLOTS_FOR_MISSING.get(code, ()))
    return [slot for slot in FORM_ORDER if slot in wanted] + ["upd_confirm"]


def _photo_ref(tracker: Tracker) -> str | None:
    """The photo the channel delivered with the latest message (metadata `photos`, set by
    the Telegram / Zalo channel code from real media). A typed link or file name is text on
    those channels; only the shell and the development REST channel, which cannot send
    media, accept a typed image link."""
    metadata = tracker.latest_message.get("metadata") or {}
    photos = metadata.get("photos") or []
    if isinstance(photos, (str, dict)):
        photos = [photos]
    for photo in photos:
        if isinstance(photo, dict):
            ref = photo.get("url") or photo.get("file_id") or photo.get("id")
        else:
            ref = photo
        if ref:
            return str(ref)
    if channel_and_user(tracker)[0] is not None:
        return None
    match = _IMAGE_REF.search(tracker.latest_message.get("text") or "")
    return match.group(1) if match else None


class ValidateUpdateForm(RepeatedFailureFormValidation):
    def name(self) -> str:
        return "validate_update_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        return required_update_slots(verified_msisdn(tracker))

    # --- photos: from the channel's metadata (or an image link typed in a test channel)
    def _extract_photo(self, slot: str, dispatcher: CollectingDispatcher,
                       tracker: Tracker) -> dict[str, Any]:
        # Only right after the customer's own message (not when the form resumes after a
        # digression), and not when that message was a digression itself.
        if not answering_now(tracker, slot) or latest_intent(tracker) in DIGRESSIONS:
            return {}
        ref = _photo_ref(tracker)
        problem = (tracker.latest_message.get("metadata") or {}).get("photo_problem")
        if ref is None and problem in PHOTO_PROBLEMS:  # refused by content (bot/media)
            utter(dispatcher, f"utter_photo_{problem}",
                  max_photo_mb=str(int(media_settings()["max_bytes"]) // 2 ** 20))
            return {slot: None}
        if ref is None:
            utter(dispatcher, "utter_photo_missing")
            return {slot: None}
        if any(same_photo(ref, tracker.get_slot(other)) for other in PHOTO_SLOTS
               if other != slot):
            utter(dispatcher, "utter_photo_duplicate")
            return {slot: None}
        utter(dispatcher, "utter_photo_received")
        return {slot: ref}

    async def extract_upd_id_front_photo(self, dispatcher: CollectingDispatcher,
                                         tracker: Tracker, domain: dict[str, Any]) -> dict:
        return self._extract_photo("upd_id_front_photo", dispatcher, tracker)

    async def extract_upd_id_back_photo(self, dispatcher: CollectingDispatcher,
                                        tracker: Tracker, domain: dict[str, Any]) -> dict:
        return self._extract_photo("upd_id_back_photo", dispatcher, tracker)

    async def extract_upd_portrait_photo(self, dispatcher: CollectingDispatcher,
                                         tracker: Tracker, domain: dict[str, Any]) -> dict:
        return self._extract_photo("upd_portrait_photo", dispatcher, tracker)

    def _photo(self, slot: str, value: Any) -> dict[str, Any]:
        return {slot: value or None}

    def validate_upd_id_front_photo(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._photo("upd_id_front_photo", value)

    def validate_upd_id_back_photo(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._photo("upd_id_back_photo", value)

    def validate_upd_portrait_photo(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._photo("upd_portrait_photo", value)

    # --- text fields
    def validate_upd_full_name(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        if not _NAME.match(name) or len(name) > 80:
            utter(dispatcher, "utter_invalid_name")
            return {"upd_full_name": None}
        return {"upd_full_name": " ".join(w[:1].upper() + w[1:].lower() for w in name.split())}

    def validate_upd_birth_date(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        today = local_now().date()
        born = parse_vn_date(str(value or ""), today)
        if born is None:
            utter(dispatcher, "utter_invalid_date")
            return {"upd_birth_date": None}
        if born > today or not MIN_AGE <= age_on(born, today) <= MAX_AGE:
            utter(dispatcher, "utter_invalid_birth_date", min_age=str(MIN_AGE),
                  max_age=str(MAX_AGE))
            return {"upd_birth_date": None}
        return {"upd_birth_date": born.strftime("%d/%m/%Y")}

    def validate_upd_gender(self, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        folded = fold(str(value or ""))
        if folded in ("nam", "male", "trai", "gioi tinh nam", "anh"):
            return {"upd_gender": "male"}
        if folded in ("nu", "female", "gai", "gioi tinh nu", "chi"):
            return {"upd_gender": "female"}
        utter(dispatcher, "utter_invalid_gender")
        return {"upd_gender": None}

    def validate_upd_nationality(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if fold(text) in ("vn", "viet nam", "vietnam", "viet"):
            return {"upd_nationality": texts.text("utter_summary_value_vietnam")}
        if len(text) < 2 or any(ch.isdigit() for ch in text):
            utter(dispatcher, "utter_invalid_text")
            return {"upd_nationality": None}
        return {"upd_nationality": text}

    def validate_upd_address(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        if split_address(str(value or "")) is None:
            utter(dispatcher, "utter_invalid_address")
            return {"upd_address": None}
        return {"upd_address": " ".join(str(value).split())}

    def validate_upd_id_number(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        parsed = classify_id_number(str(value or ""))
        if parsed is None:
            utter(dispatcher, "utter_invalid_id_number")
            return {"upd_id_number": None}
        return {"upd_id_number": parsed[1]}

    def validate_upd_id_issue_date(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        today = local_now().date()
        issued = parse_vn_date(str(value or ""), today)
        if issued is None:
            utter(dispatcher, "utter_invalid_date")
            return {"upd_id_issue_date": None}
        birth = self._birth_date(tracker, today)
        if issued > today or (birth is not None and issued < birth):
            utter(dispatcher, "utter_invalid_issue_date")
            return {"upd_id_issue_date": None}
        return {"upd_id_issue_date": issued.strftime("%d/%m/%Y")}

    @staticmethod
    def _birth_date(tracker: Tracker, today: date) -> date | None:
        typed = tracker.get_slot("upd_birth_date")
        if typed:
            return parse_vn_date(typed, today)
        msisdn = verified_msisdn(tracker)
        subscriber = backend().subscribers.get(msisdn) if msisdn else None
        return subscriber.birth_date if subscriber else None

    def validate_upd_id_issue_place(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if len(text) < 3:
            utter(dispatcher, "utter_invalid_text")
            return {"upd_id_issue_place": None}
        return {"upd_id_issue_place": text}


def summary_lines(tracker: Tracker, slots: list[str], channel: str | None = None) -> str:
    lines = []
    for slot in slots:
        if not texts.has_response(SUMMARY_LABEL + slot):
            continue
        value = tracker.get_slot(slot)
        if slot in PHOTO_SLOTS:
            value = texts.text("utter_summary_value_photo_received" if value
                               else "utter_summary_value_photo_missing", channel)
        elif slot == "upd_gender" and value in GENDER_VALUES:
            value = texts.text(GENDER_VALUES[value], channel)
        lines.append(f"- {texts.text(SUMMARY_LABEL + slot, channel)}: {value}")
    return "\n".join(lines)


class ActionAskUpdConfirm(Action):
    def name(self) -> str:
        return "action_ask_upd_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        slots = required_update_slots(verified_msisdn(tracker))
        utter(dispatcher, "utter_ask_upd_confirm",
              summary=summary_lines(tracker, slots, tracker.get_latest_input_channel()))
        return []


def update_fields(tracker: Tracker) -> tuple[dict[str, Any], dict[str, str]]:
    """The backend's field names from the form's slots, and the photo references."""
    today = local_now().date()
    fields: dict[str, Any] = {}
    if tracker.get_slot("upd_full_name"):
        fields["full_name"] = tracker.get_slot("upd_full_name")
    for slot, key in (("upd_birth_date", "birth_date"), ("upd_id_issue_date", "id_issue_date")):
        parsed = parse_vn_date(tracker.get_slot(slot) or "", today)
        if parsed:
            fields[key] = parsed.isoformat()
    for slot, key in (("upd_gender", "gender"), ("upd_nationality", "nationality"),
                      ("upd_id_issue_place", "id_issue_place")):
        if tracker.get_slot(slot):
            fields[key] = tracker.get_slot(slot)
    address = split_address(tracker.get_slot("upd_address") or "")
    if address:
        fields.update(address)
    parsed_id = classify_id_number(tracker.get_slot("upd_id_number") or "")
    if parsed_id:
        fields["id_type"], fields["id_number"] = parsed_id
    photos = {key: tracker.get_slot(slot) for slot, key in PHOTO_SLOTS.items()
              if tracker.get_slot(slot)}
    return fields, photos


class ActionSubmitUpdate(Action):
    """Submit of update_form."""

    def name(self) -> str:
        return "action_submit_update"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        reset: list[EventType] = [SlotSet(slot, None) for slot in (*FORM_ORDER, "upd_confirm")]
        reset.append(SlotSet("update_route", None))
        if not msisdn:
            return reset
        if tracker.get_slot("upd_confirm") is not True:
            utter(dispatcher, "utter_update_not_submitted")
            return reset
        fields, photos = update_fields(tracker)
        request = backend().update_requests.submit(msisdn, fields, photos, channel_of(tracker),
                                                   conversation_id=tracker.sender_id)
        if request is None:
            utter(dispatcher, "utter_update_failed")
            return reset
        backend().audit.record(actor(tracker), "submit_update_request", msisdn)
        utter(dispatcher, "utter_update_submitted", request_id=str(request.id),
              due=format_local(request.due_at))
        return reset + offer_occupation(dispatcher, tracker)
