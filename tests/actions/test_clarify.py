"""Clarify instead of guessing: one short question with the likely tasks as buttons
(actions/fallback.py). When to ask: tests/nlu/test_clarify_rule.py."""

from __future__ import annotations

import pytest

from actions.fallback import (
    MAX_PAYLOAD_BYTES,
    ActionDefaultAskAffirmation,
    ActionOutOfScope,
    is_gibberish,
)
from tests.actions.conftest import make_tracker, run


def _unsure(ranking, entities=None, text="tôi bị trừ tiền muốn hủy"):
    return make_tracker(intent="nlu_fallback", text=text, entities=entities,
                        ranking=[{"name": "nlu_fallback", "confidence": 0.45}, *ranking])


async def test_two_close_tasks_are_offered_as_buttons_with_vietnamese_labels(domain):
    tracker = _unsure([{"name": "cancel_service", "confidence": 0.40},
                       {"name": "list_services", "confidence": 0.35},
                       {"name": "inform", "confidence": 0.1},
                       {"name": "check_balance", "confidence": 0.05}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert message["response"] == "utter_clarify"
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("Hủy dịch vụ", "/cancel_service"),
        ("Xem các dịch vụ đang dùng", "/list_services"),
        ("Việc khác", "/out_of_scope"),
    ]


async def test_at_most_three_tasks_and_no_far_outsider(domain):
    tracker = _unsure([{"name": "cancel_service", "confidence": 0.30},
                       {"name": "list_services", "confidence": 0.25},
                       {"name": "check_balance", "confidence": 0.20},
                       {"name": "register_service", "confidence": 0.15}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert len(message["buttons"]) == 4  # three tasks + "Việc khác"
    tracker = _unsure([{"name": "cancel_service", "confidence": 0.60},
                       {"name": "list_services", "confidence": 0.30},
                       {"name": "check_balance", "confidence": 0.03}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert [b["payload"] for b in message["buttons"]][:-1] == ["/cancel_service",
                                                               "/list_services"]


async def test_the_named_service_goes_with_the_chosen_task(domain):
    tracker = _unsure([{"name": "cancel_service", "confidence": 0.40},
                       {"name": "list_services", "confidence": 0.38}],
                      entities=[{"entity": "service", "value": "FUNRING"}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert message["buttons"][0]["payload"] == '/cancel_service{"service": "FUNRING"}'
    assert all(len(b["payload"].encode()) <= MAX_PAYLOAD_BYTES for b in message["buttons"])


async def test_a_long_place_name_is_left_out_of_the_button(domain):
    tracker = _unsure([{"name": "find_store", "confidence": 0.40},
                       {"name": "update_subscriber_info", "confidence": 0.38}],
                      entities=[{"entity": "location",
                                 "value": "Thành phố Hồ Chí Minh quận Bình Thạnh phường 25"}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert message["buttons"][0]["payload"] == "/find_store"


async def test_nothing_likely_asks_to_rephrase(domain):
    tracker = _unsure([{"name": "inform", "confidence": 0.3}, {"name": "affirm",
                                                               "confidence": 0.2}])
    _, [message] = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert message["response"] == "utter_ask_rephrase"


@pytest.mark.parametrize("text", ["asdkjh", "😀😀", "...", "zzzxq vbnm", "12345 !!"])
def test_gibberish_is_asked_again(text):
    assert is_gibberish(text)


@pytest.mark.parametrize("text", ["thời tiết mai thế nào", "thoi tiet mai the nao",
                                  "ad oi bong da toi nay ai thang", "ko bit nua"])
def test_a_real_topic_is_not_gibberish(text):
    assert not is_gibberish(text)


async def test_out_of_scope_answers(domain):
    _, [message] = await run(ActionOutOfScope(), make_tracker(intent="out_of_scope",
                                                              text="asdkjh"), domain)
    assert message["response"] == "utter_ask_rephrase"
    _, [message] = await run(ActionOutOfScope(), make_tracker(
        intent="out_of_scope", text="thời tiết mai thế nào"), domain)
    assert message["response"] == "utter_out_of_scope"
