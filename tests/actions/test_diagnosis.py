"""Symptoms diagnosed from the backend (actions/diagnosis.py), and look-ups that lead with
a block or missing Decree-49 data once per conversation."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from actions.account import ActionCheckBalance
from actions.diagnosis import (
    ActionDiagnoseProblem,
    Diagnosis,
    LineState,
    diagnosis,
    symptom,
)
from bot.backend import BarringView
from bot.backend.models import Subscriber
from tests.actions.conftest import make_tracker, responses, run, slot_events, verified


def _set(backend, msisdn: str, **values) -> None:
    with backend.session() as s, s.begin():
        s.execute(update(Subscriber).where(Subscriber.msisdn == msisdn).values(**values))


@pytest.mark.parametrize(("state", "response"), [
    (LineState("one_way_blocked", ("portrait_photo",), 9000),
     "utter_problem_one_way_blocked_decree49"),
    (LineState("blocked", ("portrait_photo",), None), "utter_problem_blocked_decree49"),
    (LineState("one_way_blocked", (), 50000), "utter_problem_one_way_blocked_other"),
    (LineState("blocked", (), 50000), "utter_problem_blocked_other"),
    (LineState("active", (), 500), "utter_problem_low_balance"),
    (LineState("active", ("portrait_photo",), 500), "utter_problem_low_balance"),
    (LineState("active", ("portrait_photo",), 50000), "utter_problem_decree49_risk"),
    (LineState("active", (), None), "utter_problem_not_found"),  # postpaid, nothing found
    (LineState("active", (), 50000), "utter_problem_not_found"),
])
def test_the_cause_in_the_order_of_the_call_center_script(state, response):
    assert diagnosis(state) == Diagnosis(response)


async def test_one_way_blocked_for_missing_decree49_data_names_it_and_offers_the_fix(
        backend, domain):
    events, [message] = await run(ActionDiagnoseProblem(),
                                  make_tracker(slots=verified("0901000011")), domain)
    assert message["response"] == "utter_problem_one_way_blocked_decree49"
    assert message["missing"] == "ảnh mặt trước giấy tờ, ảnh mặt sau giấy tờ, ảnh chân dung"
    assert message["masked_msisdn"] == "090***0011"
    assert slot_events(events) == {"line_state_said": True}
    assert backend.audit.recent()[0].action == "diagnose_line"


async def test_out_of_balance(backend, domain):
    _set(backend, "0901000001", balance_vnd=300)
    _, [message] = await run(ActionDiagnoseProblem(),
                             make_tracker(slots=verified("0901000001")), domain)
    assert message["response"] == "utter_problem_low_balance"
    assert message["balance"] == "300 đ"


async def test_blocked_for_another_reason_goes_to_a_human(backend, domain):
    _set(backend, "0901000001", status="blocked")
    _, [message] = await run(ActionDiagnoseProblem(),
                             make_tracker(slots=verified("0901000001")), domain)
    assert message["response"] == "utter_problem_blocked_other"


async def test_nothing_found_offers_a_human(backend, domain):
    _, [message] = await run(ActionDiagnoseProblem(),
                             make_tracker(slots=verified("0901000015")), domain)
    assert message["response"] == "utter_problem_not_found"


async def test_unverified_gets_no_diagnosis(backend, domain):
    events, messages = await run(ActionDiagnoseProblem(), make_tracker(), domain)
    assert (events, messages) == ([], [])


async def test_balance_leads_with_the_block_once_per_conversation(backend, domain):
    events, messages = await run(ActionCheckBalance(),
                                 make_tracker(slots=verified("0901000011")), domain)
    assert responses(messages) == ["utter_lead_one_way_blocked", "utter_balance_prepaid"]
    assert slot_events(events) == {"line_state_said": True}
    _, messages = await run(ActionCheckBalance(), make_tracker(
        slots=verified("0901000011", line_state_said=True)), domain)
    assert responses(messages) == ["utter_balance_prepaid"]


async def test_a_complete_active_line_has_no_lead(backend, domain):
    _, messages = await run(ActionCheckBalance(), make_tracker(slots=verified("0901000001")),
                            domain)
    assert responses(messages) == ["utter_balance_prepaid"]


# --- service barrings (demo numbers 16-19) -------------------------------------------------
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
DEBT = BarringView("outgoing", "debt", NOW, 420000)
INTERNATIONAL = BarringView("international", "not_registered", NOW)
DATA = BarringView("data", "customer_request", NOW)


@pytest.mark.parametrize(("text", "kind"), [
    ("không gọi quốc tế được", "international"),
    ("gọi sang nước ngoài không được", "international"),
    ("đang ở nước ngoài ko gọi đc", "roaming"),
    ("e đang ở nc ngoài mà sim ko gọi đc", "roaming"),
    ("ko gọi ra nc ngoài đc", "international"),
    ("chị không gọi được ra nước ngoài em ơi", "international"),
    ("k gọi đc sang nước ngoài nữa", "international"),
    ("không vào được mạng", "data"),
    ("sim ko chuyển vùng quốc tế dc", "roaming"),
    ("k vào được 4g", "data"),
    ("mạng di động không dùng được", "data"),
    ("không gọi được", "calls"),
    ("ko nhắn tin đc", "sms"),
    ("sim bị lỗi", None),
    (None, None),
])
def test_symptom_from_the_customers_words(text, kind):
    assert symptom(text) == kind


@pytest.mark.parametrize(("state", "said", "found"), [
    # a line barring comes first, even before missing Decree-49 data
    (LineState("one_way_blocked", ("portrait_photo",), None, (DEBT,)), "calls",
     Diagnosis("utter_problem_barred_debt", DEBT)),
    # a barring of the service the words name comes before a low balance
    (LineState("active", (), 500, (INTERNATIONAL,)), "international",
     Diagnosis("utter_problem_barred_not_registered", INTERNATIONAL)),
    (LineState("active", (), 500, (INTERNATIONAL,)), "calls",
     Diagnosis("utter_problem_low_balance")),
    # a barring of another service than the one named is not the cause
    (LineState("active", (), 50000, (INTERNATIONAL,)), "data",
     Diagnosis("utter_problem_not_found")),
    # words that name nothing: the barring is named when nothing else is found
    (LineState("active", (), 50000, (DATA,)), None,
     Diagnosis("utter_problem_barred_customer_request", DATA)),
    (LineState("active", ("portrait_photo",), 50000, (DATA,)), None,
     Diagnosis("utter_problem_decree49_risk")),
])
def test_barrings_in_the_diagnosis(state, said, found):
    assert diagnosis(state, said) == found


def _reported(text: str, number: str):
    """A tracker right after the code: the symptom is in the earlier message."""
    tracker = make_tracker(slots=verified(number), intent="inform", text="123456")
    tracker.events[:0] = [{"event": "user", "text": text, "parse_data": {
        "intent": {"name": "report_service_problem", "confidence": 0.9}}}]
    return tracker


async def test_barred_for_debt_names_the_debt_and_the_fix(backend, domain):
    events, [message] = await run(ActionDiagnoseProblem(),
                                  _reported("ko gọi được", "0901000016"), domain)
    assert message["response"] == "utter_problem_barred_debt"
    assert (message["barred"], message["debt"]) == (
        "chiều gọi đi (không gọi, không nhắn tin đi được)", "420.000 đ")
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", message["since"])
    assert slot_events(events) == {"line_state_said": True}


async def test_international_calls_not_opened(backend, domain):
    _, [message] = await run(ActionDiagnoseProblem(),
                             _reported("sao tôi không gọi quốc tế được", "0901000017"), domain)
    assert (message["response"], message["barred"]) == (
        "utter_problem_barred_not_registered", "gọi quốc tế")
    _, [message] = await run(ActionDiagnoseProblem(),
                             _reported("đang ở nước ngoài không gọi được", "0901000017"), domain)
    assert message["barred"] == "chuyển vùng quốc tế (dùng số khi ở nước ngoài)"
    # a domestic call problem: the international barring is not the cause
    _, [message] = await run(ActionDiagnoseProblem(),
                             _reported("không gọi được", "0901000017"), domain)
    assert message["response"] == "utter_problem_not_found"


async def test_barred_at_the_customers_request(backend, domain):
    _, [message] = await run(ActionDiagnoseProblem(),
                             _reported("sim bị khóa 2 chiều", "0901000018"), domain)
    assert (message["response"], message["barred"]) == (
        "utter_problem_barred_customer_request",
        "hai chiều (không gọi, không nhận cuộc gọi và tin nhắn)")
    _, [message] = await run(ActionDiagnoseProblem(),
                             _reported("không vào được 4g", "0901000019"), domain)
    assert (message["response"], message["barred"]) == (
        "utter_problem_barred_customer_request", "truy cập Internet di động (3G/4G)")


@pytest.mark.parametrize("action", ["balance", "info"])
async def test_look_ups_lead_with_a_line_barring_once(backend, domain, action):
    from actions.subscriber import ActionCheckSubscriberInfo

    run_it = ActionCheckBalance() if action == "balance" else ActionCheckSubscriberInfo()
    events, messages = await run(run_it, make_tracker(slots=verified("0901000016")), domain)
    assert responses(messages)[0] == "utter_lead_barred_debt"
    assert messages[0]["debt"] == "420.000 đ"
    assert slot_events(events)["line_state_said"] is True
    _, messages = await run(run_it, make_tracker(
        slots=verified("0901000016", line_state_said=True)), domain)
    assert "utter_lead_barred_debt" not in responses(messages)


async def test_a_service_barring_is_no_lead(backend, domain):
    # international calls not opened: not a state that stops the line, no lead
    _, messages = await run(ActionCheckBalance(), make_tracker(slots=verified("0901000017")),
                            domain)
    assert responses(messages) == ["utter_balance_prepaid"]
