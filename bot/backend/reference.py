"""Pure rules of the subscriber backend: Decree-49 completeness, the call-center
update-path decision, masking; the masked profile as codes and values, and how they are
shown (`profile_lines`: the labels are domain responses, rendered by the caller's `say`).
No database access and no label here. (Reference data shared with the NLU and the
actions, the service catalog, places and occupations, is in bot/reference.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from bot.backend.views import Decree49Status, SubscriberView, UpdatePath

# Decree-49 items, in the order a customer fills them in. Their labels are domain
# responses `utter_decree49_item_<code>` (domain.yml, read by the callers: `item_labels`).
DECREE49_FIELDS: tuple[str, ...] = (
    "full_name", "name_match", "birth_date", "gender", "nationality", "address",
    "id_document", "id_issue", "id_front_photo", "id_back_photo", "portrait_photo",
)

ID_TYPES = ("CMND", "CCCD", "PASSPORT")

# The masked profile's fields whose value is a code, and the prefix of the domain response
# that labels the code (`utter_subscriber_status_` + "active"); an empty value of the
# fields in _EMPTY_IS_MISSING is shown as `utter_profile_value_missing`.
_CODED_VALUES = {
    "id_type": "utter_id_type_",
    "subscription_type": "utter_subscription_type_",
    "status": "utter_subscriber_status_",
    "id_front_photo": "utter_profile_value_photo_",
    "id_back_photo": "utter_profile_value_photo_",
    "portrait_photo": "utter_profile_value_photo_",
    "occupation": "utter_profile_value_occupation_",
}
_EMPTY_IS_MISSING = frozenset({"birth_year", "id_type", "id_number", "province"})


class Say(Protocol):
    """Renders a domain response by name with values: `bot.texts.text` (with a channel)."""

    def __call__(self, name: str, /, **values: Any) -> str: ...


def _missing_codes(sub: SubscriberView) -> list[str]:
    missing: list[str] = []
    if not sub.full_name.strip():
        missing.append("full_name")
    elif sub.name_mismatch:
        missing.append("name_match")
    if sub.birth_date is None:
        missing.append("birth_date")
    if not sub.gender:
        missing.append("gender")
    if not sub.nationality:
        missing.append("nationality")
    if not all((sub.province, sub.district, sub.ward, sub.street)):
        missing.append("address")
    if sub.id_type not in ID_TYPES or not sub.id_number:
        missing.append("id_document")
    if sub.id_issue_date is None or not sub.id_issue_place:
        missing.append("id_issue")
    if not sub.has_id_front_photo:
        missing.append("id_front_photo")
    # A passport has a single photo page: no back side to photograph.
    if not sub.has_id_back_photo and sub.id_type != "PASSPORT":
        missing.append("id_back_photo")
    if not sub.has_portrait_photo:
        missing.append("portrait_photo")
    return missing


def decree49(sub: SubscriberView) -> Decree49Status:
    """Which Decree-49 items are missing. Occupation is reported apart (not a Decree-49 item)."""
    missing = tuple(_missing_codes(sub))
    return Decree49Status(
        complete=not missing,
        missing=missing,
        occupation_missing=sub.occupation_code is None,
    )


def update_path(sub: SubscriberView) -> UpdatePath:
    """The call-center decision tree (seed 002, situations 1 and 2)."""
    if decree49(sub).complete:
        return UpdatePath.COMPLETE
    if sub.is_premium_number and sub.premium_commitment:
        return UpdatePath.STORE_PREMIUM
    if sub.company_tax_code:
        return UpdatePath.STORE_COMPANY
    if sub.device == "feature_phone":
        return UpdatePath.STORE_FEATURE_PHONE
    return UpdatePath.ONLINE_APP


def mask_name(full_name: str) -> str:
    """'Nguyễn Văn An' -> 'N** V** An': initials of family/middle names, given name kept."""
    parts = full_name.split()
    if not parts:
        return ""
    return " ".join([p[0] + "**" for p in parts[:-1]] + [parts[-1]])


def mask_id_number(number: str | None) -> str:
    """All but the last 3 characters replaced by '*' ('*********123')."""
    if not number:
        return ""
    if len(number) <= 3:
        return "*" * len(number)
    return "*" * (len(number) - 3) + number[-3:]


def masked_profile(sub: SubscriberView) -> dict[str, str]:
    """Field code -> value safe to show once ownership is proven, in display order. No
    label: `profile_lines` renders it with the domain's responses. Values are data (number,
    masked name, birth year, masked ID number, province; "" when missing) or codes:
    id_type CMND/CCCD/PASSPORT ("" when none), subscription_type, status, the photos
    yes/no (back photo not_needed for a passport), occupation yes/no, decree49 the missing
    item codes joined with "," ("" when complete)."""
    status = decree49(sub)
    yes_no = {True: "yes", False: "no"}
    return {
        "msisdn": sub.msisdn,
        "holder": mask_name(sub.full_name),
        "birth_year": str(sub.birth_date.year) if sub.birth_date else "",
        "id_type": sub.id_type if sub.id_type in ID_TYPES else "",
        "id_number": mask_id_number(sub.id_number),
        "province": sub.province or "",
        "subscription_type": sub.subscription_type,
        "status": sub.status,
        "id_front_photo": yes_no[sub.has_id_front_photo],
        "id_back_photo": ("not_needed" if sub.id_type == "PASSPORT"
                          else yes_no[sub.has_id_back_photo]),
        "portrait_photo": yes_no[sub.has_portrait_photo],
        "occupation": yes_no[bool(sub.occupation_code)],
        "decree49": ",".join(status.missing),
    }


def item_labels(codes: Iterable[str], say: Say) -> str:
    """Decree-49 item codes -> their labels (`utter_decree49_item_<code>`), joined ", "."""
    return ", ".join(say(f"utter_decree49_item_{code}") for code in codes)


def profile_lines(profile: dict[str, str], say: Say) -> list[tuple[str, str]]:
    """A `masked_profile` as (label, value) lines, in its order: the label is the response
    `utter_profile_label_<field>`, a coded value the response named in _CODED_VALUES (a
    code the domain has no response for is shown as it is). `say` renders a response:
    `lambda name, **values: bot.texts.text(name, channel, **values)`."""
    return [(say(f"utter_profile_label_{field}"), _profile_value(field, value, say))
            for field, value in profile.items()]


def _profile_value(field: str, value: str, say: Say) -> str:
    if field == "decree49":
        if not value:
            return say("utter_profile_value_decree49_complete")
        return say("utter_profile_value_decree49_missing",
                   missing=item_labels(value.split(","), say))
    if not value and field in _EMPTY_IS_MISSING:
        return say("utter_profile_value_missing")
    if field in _CODED_VALUES:
        try:
            return say(_CODED_VALUES[field] + value.lower())
        except KeyError:
            return value
    return value

def format_vnd(amount: int) -> str:
    """125000 -> '125.000 đ' (Vietnamese thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(int(amount)):,} đ".replace(",", ".")
