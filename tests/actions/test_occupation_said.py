"""Occupation: what the customer already said about their work is offered first, the
current occupation is shown before it is replaced, "đúng rồi" takes the suggestion."""

from __future__ import annotations

from actions.occupation import ActionAskOccupationCode, ValidateOccupationForm
from tests.actions.conftest import make_tracker, responses, run, slot_events, verified


def _with_earlier(tracker, text: str, intent: str):
    tracker.events.insert(0, {"event": "user", "text": text,
                              "parse_data": {"intent": {"name": intent}}})
    return tracker


async def test_what_the_customer_said_is_offered_first(backend, domain):
    tracker = _with_earlier(make_tracker(slots=verified("0901000010"),
                                         intent="update_occupation", text="/update_occupation"),
                            "chị làm y tá ở bệnh viện, cập nhật nghề giúp chị", "update_occupation")
    events, [message] = await run(ActionAskOccupationCode(), tracker, domain)
    assert message["response"] == "utter_ask_occupation_suggested"
    assert "y tế" in message["label"]
    assert message["buttons"][0]["payload"] == '/inform{"occupation_code": "6"}'
    assert len(message["buttons"]) == 19
    assert slot_events(events) == {"occupation_suggested": "6"}


async def test_a_request_for_a_human_is_no_occupation(backend, domain):
    """'gặp nhân viên' (an agent) must not suggest 'Nhân viên văn phòng'."""
    tracker = _with_earlier(make_tracker(slots=verified("0901000010"),
                                         intent="update_occupation", text="/update_occupation"),
                            "cho gặp nhân viên", "request_human")
    _, messages = await run(ActionAskOccupationCode(), tracker, domain)
    assert responses(messages) == ["utter_ask_occupation_code"]


async def test_the_current_occupation_is_shown_before_it_is_replaced(backend, domain):
    _, messages = await run(ActionAskOccupationCode(),
                            make_tracker(slots=verified("0901000001")), domain)
    assert responses(messages) == ["utter_occupation_current", "utter_ask_occupation_code"]
    assert messages[0]["label"] == "Nhân viên văn phòng"


async def test_yes_to_the_suggestion_takes_it(backend, domain):
    tracker = make_tracker(slots=verified("0901000010", occupation_suggested="6"),
                           intent="affirm", text="đúng rồi em", active_loop="occupation_form",
                           requested_slot="occupation_code")
    events, _ = await run(ValidateOccupationForm(), tracker, domain)
    assert slot_events(events)["occupation_code"] == "6"
