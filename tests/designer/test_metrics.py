"""Designer metrics over the fixture conversations: per-intent rates and abandonment."""

from __future__ import annotations

from bot.designer import inbox
from bot.designer.metrics import compute
from tests.designer.conftest import NOW


def test_rates_per_intent_and_abandonment_points(reader):
    result = compute(inbox.conversations(reader, NOW - 30 * 86400, NOW + 60, now=NOW))
    assert result["conversations"] == 6
    assert result["outcomes"] == {"completed": 2, "fallback": 1, "handoff": 1, "abandoned": 1,
                                  "ongoing": 1}
    rows = {r["intent"]: r for r in result["intents"]}
    # find_store: 1 message in tg-1001, 2 in tg-1002 (the fallback counts for its best
    # candidate; the clarified copy Rasa re-sends is not a new message)
    assert rows["find_store"] == {
        "intent": "find_store", "messages": 3, "fallbacks": 1, "fallback_rate": 0.3333,
        "clarified": 1, "clarify_rate": 0.3333, "conversations": 2, "handoffs": 0,
        "handoff_rate": 0.0}
    assert rows["request_human"]["handoff_rate"] == 1.0
    assert rows["inform"]["messages"] == 4 and rows["inform"]["conversations"] == 2
    assert rows["greet"]["fallback_rate"] == 0.0
    assert "nlu_fallback" not in rows
    assert result["intents"][0]["intent"] == "find_store"  # worst fallback rate first
    flows = {f["flow"]: f for f in result["flows"]}
    assert flows["update_form"] == {"flow": "update_form", "started": 1, "abandoned": 1,
                                    "abandon_rate": 1.0,
                                    "slots": [{"slot": "upd_birth_date", "count": 1}]}
    assert flows["store_form"]["started"] == 2 and flows["store_form"]["abandoned"] == 0
    assert flows["cancel_form"]["abandoned"] == 0  # still going: not abandoned yet
    assert "action_two_stage_fallback" not in flows


def test_clarify_actions_are_configurable(reader, monkeypatch):
    from bot.designer import config

    data = dict(config.config())
    data["outcomes"] = {**data["outcomes"], "clarify_actions": ["action_clarify_intent"]}
    monkeypatch.setattr(config, "config", lambda: data)
    result = compute(inbox.conversations(reader, NOW - 30 * 86400, NOW + 60, now=NOW))
    rows = {r["intent"]: r for r in result["intents"]}
    assert rows["find_store"]["clarified"] == 0
