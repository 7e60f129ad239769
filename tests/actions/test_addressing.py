"""The customer is addressed as they address themselves (actions/addressing.py)."""

from __future__ import annotations

import pytest

from actions.addressing import ActionExtractCustomerTitle, self_title
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


async def test_the_slots_follow_the_customer(domain):
    events, _ = await run(ActionExtractCustomerTitle(),
                          make_tracker(text="chị cần xem số dư"), domain)
    assert slot_events(events) == {"customer_title": "chị", "customer_title_cap": "Chị"}
    events, _ = await run(ActionExtractCustomerTitle(), make_tracker(
        text="xem số dư", slots={"customer_title": "chị"}), domain)
    assert events == []  # nothing new said: kept
    events, _ = await run(ActionExtractCustomerTitle(), make_tracker(text="/affirm"), domain)
    assert events == []


def test_responses_say_anh_chi_until_it_is_known():
    text = texts.text("utter_anything_else")
    assert "Anh/chị" in text and "{" not in text
    assert texts.text("utter_anything_else", None, customer_title_cap="Chị").startswith(
        "Dạ vâng. Chị cần")
