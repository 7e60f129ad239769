"""`bot nlu eval` scoring and report (without training)."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.evaluate import Example, canonical_value, score, write_report
from bot.nlu.modeling import Parsed, full_intent, stock_config


def parsed(text: str, intent: str, entities=(), ms: float = 10.0) -> Parsed:
    ents = [{"entity": e, "value": v} for e, v in entities]
    # CPU time: a fifth of the wall time, as on a loaded machine
    return Parsed(text, intent, 0.9, ents, ms / 1000, {}, ms / 5000)


def test_full_intent_uses_the_response_selector_key() -> None:
    result = {"intent": {"name": "faq"}, "response_selector": {
        "faq": {"response": {"intent_response_key": "faq/decree_49"}}}}
    assert full_intent(result) == "faq/decree_49"
    stock = {"intent": {"name": "faq"}, "response_selector": {
        "default": {"response": {"intent_response_key": "faq/approval_time"}}}}
    assert full_intent(stock) == "faq/approval_time"
    other = {"intent": {"name": "greet"}, "response_selector": stock["response_selector"]}
    assert full_intent(other) == "greet"


def test_canonical_values() -> None:
    assert canonical_value("phone_number", "+84 901 234 567") == "0901234567"
    assert canonical_value("service", "nhạc chờ") == "FUNRING"
    assert canonical_value("service", "FUNRING") == "FUNRING"
    assert canonical_value("location", "Quận Cầu Giấy") == canonical_value("location",
                                                                           "cau giay")
    assert canonical_value("location", "q3") == canonical_value("location", "Quận 3")
    assert canonical_value("location", "sg") == canonical_value("location", "TP HCM")
    assert canonical_value("id_number", "b1234567") == "B1234567"


def test_score_intents_styles_entities_latency(tmp_path: Path) -> None:
    examples = [
        Example("a", "greet", (), "diacritics"),
        Example("b", "faq/decree_49", (), "teencode"),
        Example("c", "inform", (("phone_number", "0901234567"),), "no_diacritics"),
        Example("d", "cancel_service", (("service", "FUNRING"),), "chatty"),
    ]
    preds = [parsed("a", "greet", ms=5), parsed("b", "faq/data_privacy", ms=10),
             parsed("c", "inform", [("phone_number", "090 123 4567"), ("otp_code", "123456")],
                    ms=20),
             parsed("d", "nlu_fallback", [("service", "FUNRING")], ms=40)]
    s = score("ours", examples, preds, seen={"a"})
    assert s.accuracy == 0.5 and s.fallbacks == 1
    assert s.by_style == {"chatty": (0.0, 1), "diacritics": (1.0, 1), "no_diacritics": (1.0, 1),
                          "teencode": (0.0, 1)}
    assert s.entities["phone_number"] == (1.0, 1.0, 1.0, 1)
    assert s.entities["otp_code"][0] == 0.0  # a false OTP
    assert s.entities["service"][2] == 1.0
    assert ("faq/decree_49", "faq/data_privacy", 1) in s.confused
    assert s.p50_ms == 15.0
    assert s.cpu_p50_ms == 3.0
    assert (s.unseen_n, s.unseen_accuracy) == (3, 1 / 3)
    path = write_report(tmp_path, s, s, 30, "holdout.yml")
    text = path.read_text(encoding="utf-8")
    assert "intent accuracy: **50.0%**" in text and "epochs=30" in text
    assert (tmp_path / "nlu_confusion.png").stat().st_size > 1000


def test_stock_config_is_rasa_init_with_chosen_epochs() -> None:
    cfg = stock_config(25)
    names = [c["name"] for c in cfg["pipeline"]]
    assert names == ["WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer",
                     "CountVectorsFeaturizer", "CountVectorsFeaturizer", "DIETClassifier",
                     "EntitySynonymMapper", "ResponseSelector", "FallbackClassifier"]
    assert {c["name"]: c.get("epochs") for c in cfg["pipeline"]}["DIETClassifier"] == 25
