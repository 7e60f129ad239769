"""Symptoms diagnosed from the backend (actions/diagnosis.py), and look-ups that lead with
a block or missing Decree-49 data once per conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from actions.account import ActionCheckBalance
from actions.diagnosis import ActionDiagnoseProblem, LineState, diagnosis
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
    assert diagnosis(state) == response


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
