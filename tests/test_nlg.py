"""Responses that can come back in consecutive turns have variations, and the assistant's
NLG (bot/nlg.py, named in the endpoints files) never says the variation it said last time."""

from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import settings
from bot.nlg import VariedResponses

# Re-asks, "not understood", the code step, the hand-off wait: they can come back turn
# after turn, so each has at least two variations (for every channel variation group).
RECURRING = (
    "utter_ask_rephrase", "utter_default", "utter_out_of_scope", "utter_need_more_help",
    "utter_clarify", "utter_anything_else", "utter_ask_phone_number", "utter_phone_invalid",
    "utter_ask_otp_code", "utter_otp_sent", "utter_otp_format", "utter_otp_wrong",
    "utter_otp_cooldown", "utter_handoff_awaiting_agent", "utter_invalid_occupation",
    "utter_cancel_unknown_service", "utter_invalid_date", "utter_location_not_found",
    "utter_cancel_kept", "utter_registration_not_confirmed",
)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(settings.domain_file()))


@pytest.mark.parametrize("name", RECURRING)
def test_recurring_responses_have_variations(domain, name):
    variations = domain.responses[name]
    by_channel: dict[str | None, int] = {}
    for variation in variations:
        by_channel[variation.get("channel")] = by_channel.get(variation.get("channel"), 0) + 1
    assert all(count >= 2 for count in by_channel.values()), by_channel


def _tracker(domain: Domain, said: list[tuple[str, str]]) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events("nlg-test", [], slots=domain.slots)
    for name, text in said:
        tracker.update(UserUttered("xyz"))
        tracker.update(ActionExecuted(name))
        tracker.update(BotUttered(text, metadata={"utter_action": name}))
    return tracker


def _generate(nlg: VariedResponses, name: str, tracker, channel: str = "rest", **kw) -> str:
    message = asyncio.run(nlg.generate(name, tracker, channel, **kw))
    assert message is not None
    return str(message["text"])


def test_never_the_same_variation_twice_in_a_row(domain):
    nlg = VariedResponses(domain=domain)
    tracker = _tracker(domain, [])
    previous = _generate(nlg, "utter_ask_rephrase", tracker)
    for _ in range(30):
        tracker = _tracker(domain, [("utter_ask_rephrase", previous)])
        text = _generate(nlg, "utter_ask_rephrase", tracker)
        assert text != previous
        previous = text


def test_the_last_time_counts_even_with_other_messages_between(domain):
    nlg = VariedResponses(domain=domain)
    first = _generate(nlg, "utter_otp_wrong", _tracker(domain, []), attempts_left="4")
    tracker = _tracker(domain, [("utter_otp_wrong", first), ("utter_greet", "Dạ, em chào")])
    for _ in range(20):
        assert _generate(nlg, "utter_otp_wrong", tracker, attempts_left="3") != first.replace(
            "4", "3")


def test_one_variation_is_rendered_as_rasa_does(domain):
    nlg = VariedResponses(domain=domain)
    tracker = _tracker(domain, [("utter_goodbye", "x")])
    text = _generate(nlg, "utter_goodbye", tracker)
    assert text.startswith("Dạ, em cảm ơn anh/chị")


def test_channel_variations_stay_on_their_channel(domain):
    nlg = VariedResponses(domain=domain)
    tracker = _tracker(domain, [])
    previous = _generate(nlg, "utter_ask_phone_number", tracker, "telegram_ptb")
    for _ in range(10):
        tracker = _tracker(domain, [("utter_ask_phone_number", previous)])
        text = _generate(nlg, "utter_ask_phone_number", tracker, "telegram_ptb")
        assert "chia sẻ" in text and text != previous
        previous = text
