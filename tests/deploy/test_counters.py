"""The business counters of bot/metrics.py move at the one place each thing happens (the
actions), and only when it happened."""

from __future__ import annotations

from prometheus_client import REGISTRY
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionDefaultAskAffirmation
from actions.handoff import ActionHandoffToHuman
from bot.handoff.tickets import TicketStore


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tracker(intent: str, sender: str = "tg-777", ranking: list | None = None) -> Tracker:
    events = [{"event": "user", "text": "???", "timestamp": 1.0,
               "parse_data": {"intent": {"name": intent, "confidence": 0.4}, "entities": []},
               "metadata": {}}]
    latest = {"text": "???", "intent": {"name": intent, "confidence": 0.4}, "entities": [],
              "intent_ranking": ranking or [], "metadata": {}}
    return Tracker(sender, {}, latest, events, False, None, {}, "action_listen")


async def test_a_ticket_opened_counts_one_handoff_with_its_reason(backend):
    action = ActionHandoffToHuman()
    action.store = TicketStore(backend.db_url)
    before = value("bot_handoffs_total", reason="customer_request")
    await action.run(CollectingDispatcher(), tracker("request_human"), {})
    assert value("bot_handoffs_total", reason="customer_request") == before + 1


async def test_a_ticket_that_could_not_be_opened_is_not_counted(tmp_path):
    action = ActionHandoffToHuman()
    action.store = TicketStore(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    before = value("bot_handoffs_total", reason="customer_request")
    await action.run(CollectingDispatcher(), tracker("request_human"), {})
    assert value("bot_handoffs_total", reason="customer_request") == before


async def test_the_did_you_mean_question_counts_a_fallback():
    before = value("bot_fallbacks_total", stage="ask_affirmation")
    dispatcher = CollectingDispatcher()
    await ActionDefaultAskAffirmation().run(
        dispatcher, tracker("nlu_fallback", ranking=[{"name": "greet", "confidence": 0.3}]), {})
    assert dispatcher.messages
    assert value("bot_fallbacks_total", stage="ask_affirmation") == before + 1
