"""The customer is addressed as they address themselves (actions/addressing.py)."""

from __future__ import annotations

import pytest

from actions.addressing import self_title
from actions.slot_mappings import ActionExtractMessageSlots
from bot import texts
from tests.actions.conftest import make_tracker, run, slot_events


@pytest.mark.parametrize(("text", "title"), [
    ("chị muốn hủy nhạc chờ", "chị"),
    ("chi muon huy nhac cho", None),  # no diacritics: "chi" is ambiguous, left unknown
    ("a cần kiểm tra số dư", "anh"),
    ("em ơi cho chị hỏi cái này", "chị"),
    ("Chào em, anh bị mất sim", "anh"),
    ("sim của cô bị khóa rồi", "cô"),
    ("giúp chú với", "chú"),
    ("e muốn đk gói d5", "bạn"),
    ("ad ơi e mất đt r", "bạn"),
    ("kiểm tra thông tin thuê bao", None),
    ("em ơi", None),
    ("Tôi muốn hủy dịch vụ", None),
])
def test_the_title_the_customer_uses_for_themselves(text, title):
    assert self_title(text) == title


async def test_the_slots_follow_the_customer(backend, domain):
    events, _ = await run(ActionExtractMessageSlots(),
                          make_tracker(text="chị cần xem số dư"), domain)
    assert slot_events(events) == {"customer_title": "chị", "customer_title_cap": "Chị"}
    events, _ = await run(ActionExtractMessageSlots(), make_tracker(
        text="xem số dư", slots={"customer_title": "chị"}), domain)
    assert events == []  # nothing new said: kept
    events, _ = await run(ActionExtractMessageSlots(), make_tracker(text="/affirm"), domain)
    assert events == []


def test_responses_say_anh_chi_until_it_is_known():
    text = texts.text("utter_anything_else")
    assert "Anh/chị" in text and "{" not in text
    assert texts.text("utter_anything_else", None, customer_title_cap="Chị").startswith(
        "Dạ vâng. Chị cần")


async def test_one_call_sets_the_identity_and_the_title(backend, domain):
    """The ledger's proof and the customer's own title come from the one mapping action."""
    backend.identity.record("tg-1001", "0901000002", "telegram_contact")
    events, _ = await run(ActionExtractMessageSlots(),
                          make_tracker(text="chị cần xem số dư"), domain)
    assert slot_events(events) == {"verified_msisdn": "0901000002", "identity_verified": True,
                                   "phone_number": "0901000002", "customer_title": "chị",
                                   "customer_title_cap": "Chị"}


def test_one_custom_mapping_action_per_message(domain):
    """Rasa calls each distinct custom mapping action over HTTP after every message: the
    domain names exactly one (a second one costs a call per turn)."""
    actions = {mapping["action"] for slot in domain["slots"].values()
               for mapping in slot.get("mappings", []) if mapping.get("action")}
    assert actions == {"action_extract_message_slots"}
