"""bot/texts.py and the texts it reads: the domain's responses that Python sends or
embeds exist and fill completely, a channel's variation is chosen, the YAML message files
hold every key the code asks for."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot import texts
from bot.handoff.texts import handoff_texts
from bot.nlu.lint import MESSAGES as LINT_MESSAGES
from bot.texts import Messages

REPO = Path(__file__).resolve().parent.parent
RESPONSE_NAME = re.compile(r"utter_[a-z0-9_]+")

# What Python sends or puts into another response, with the values the code fills in.
PYTHON_SENT = {
    "utter_channel_too_long": {"limit": "1.000"},
    "utter_channel_no_text": {},
    "utter_channel_unsupported": {},
    "utter_channel_error": {},
    "utter_assistant_unavailable": {},
    "utter_channel_private_only": {},
    "utter_channel_more_options": {},
    "utter_contact_button": {},
    "utter_contact_prompt": {},
    "utter_handoff_opened": {"ticket_id": 17},
    "utter_handoff_wait": {"wait_minutes": 5},
    "utter_handoff_desk_closed_today": {"desk_opens": "07:00", "desk_closes": "22:00"},
    "utter_handoff_desk_closed_tomorrow": {"desk_opens": "07:00", "desk_closes": "22:00",
                                           "opening_date": "03/06"},
    "utter_handoff_lost_sim": {},
    "utter_handoff_unavailable": {},
    "utter_handoff_awaiting_agent": {},
    "utter_handoff_resolved": {},
    "utter_handoff_handed_back": {},
    "utter_store_line": {"name": "A", "address": "B", "opening_hours": "C"},
    "utter_store_line_main": {"name": "A", "address": "B", "opening_hours": "C"},
    "utter_summary_value_male": {},
    "utter_summary_value_female": {},
    "utter_summary_value_photo_received": {},
    "utter_summary_value_photo_missing": {},
    "utter_summary_value_vietnam": {},
    # the review desk's outcome (bot/handoff/review.py)
    "utter_review_approved": {"request_id": 7, "changes": "x"},
    "utter_review_rejected": {"request_id": 7, "reason": "x"},
    "utter_review_change_unblocked": {},
    "utter_review_change_complete": {},
    "utter_review_change_partial": {},
    "utter_review_reason_other": {"note": "x"},
    # campaigns (bot/campaigns)
    "utter_campaign_decree49": {"missing": "x", "deadline": "31/12/2026"},
    "utter_campaign_opted_out": {},
}


def _python_files() -> list[Path]:
    return sorted(p for root in ("bot", "actions") for p in (REPO / root).rglob("*.py")
                  if "__pycache__" not in p.parts)


@pytest.mark.parametrize("name", sorted(PYTHON_SENT))
def test_python_sent_responses_fill_completely(name):
    for variation in texts.responses()[name]:
        channel = variation.get("channel")
        filled = texts.text(name, channel, **PYTHON_SENT[name])
        assert filled.strip() and "{" not in filled and "}" not in filled, (name, filled)


def test_every_response_named_in_python_is_in_the_domain():
    """A literal `utter_...` in bot/ or actions/ is a response the domain has (a name ending
    in `_` is a prefix: utter_intent_label_<intent>, utter_summary_label_<slot>...)."""
    names = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and RESPONSE_NAME.fullmatch(node.value) and not node.value.endswith("_"):
                names.add(node.value)
    assert set(PYTHON_SENT) <= names, set(PYTHON_SENT) - names
    assert names - set(texts.responses()) == set()


def test_intent_labels_name_intents_and_the_summary_labels_name_slots():
    domain = texts.domain()
    labels = [n[len("utter_intent_label_"):] for n in domain.responses
              if n.startswith("utter_intent_label_")]
    assert labels and set(labels) <= set(domain.intents), set(labels) - set(domain.intents)
    slots = [n[len("utter_summary_label_"):] for n in domain.responses
             if n.startswith("utter_summary_label_")]
    from actions.update_form import FORM_ORDER

    assert set(slots) == set(FORM_ORDER)


def test_personal_summary_lines_are_masked_for_agents():
    """The hand-off masks the name and address lines of the update form's summary by their
    label: a label renamed in the domain must be one the redaction knows (texts.yml)."""
    from bot.handoff.redact import for_agent

    for slot, value, masked in (("upd_full_name", "Nguyễn Văn An", "N** V** An"),
                                ("upd_address", "12 Lê Lợi, Quận 1", "***"),
                                ("upd_id_issue_place", "Cục Cảnh sát", "***")):
        label = texts.text(f"utter_summary_label_{slot}")
        assert for_agent(f"- {label}: {value}") == f"- {label}: {masked}", label


def test_a_channel_variation_is_chosen_and_variables_filled(tmp_path, monkeypatch):
    domain = tmp_path / "domain.yml"
    domain.write_text(
        'version: "3.1"\n'
        "responses:\n"
        "  utter_x:\n"
        '  - text: "chung {hotline} {n}"\n'
        "  - channel: zalo\n"
        '    text: "zalo {n}"\n'
        "  utter_only_telegram:\n"
        "  - channel: telegram_ptb\n"
        '    text: "tg"\n', encoding="utf-8")
    monkeypatch.setenv("BOT_DOMAIN", str(domain))
    hotline = texts.response_variables()["hotline"]
    for _ in range(5):  # never at random
        assert texts.text("utter_x", None, n=1) == f"chung {hotline} 1"
        assert texts.text("utter_x", "zalo", n=2) == "zalo 2"
        assert texts.text("utter_x", "telegram_ptb", n=3) == f"chung {hotline} 3"
    assert texts.text("utter_only_telegram", "zalo") == "tg"  # no other: the first
    assert texts.has_response("utter_x") and not texts.has_response("utter_y")
    with pytest.raises(KeyError):
        texts.text("utter_y")


def test_messages_fill_placeholders_and_keep_other_braces(tmp_path):
    file = tmp_path / "m.yml"
    file.write_text('a:\n  b: "{n} x {\\"k\\": 1} {n}"\nt: {x: "1", y: "2"}\n',
                    encoding="utf-8")
    messages = Messages(file)
    assert messages("a.b", n=3) == '3 x {"k": 1} 3'
    assert messages.table("t") == {"x": "1", "y": "2"}
    with pytest.raises(KeyError):
        messages("a.b")  # no value for {n}
    with pytest.raises(KeyError):
        messages("a.c")


@pytest.mark.parametrize(("name", "messages"), [("handoff_texts", handoff_texts),
                                                 ("MESSAGES", LINT_MESSAGES)])
def test_every_message_key_the_code_asks_for_exists(name, messages):
    keys = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == name and node.args \
                    and isinstance(node.args[0], ast.Constant):
                keys.add(node.args[0].value)
    assert keys
    for key in sorted(keys):
        messages.raw(key)  # KeyError names the missing key


def test_every_code_the_actions_label_has_a_response():
    """The labels the actions and the hand-off put into responses, by code: every masked
    profile field and coded value, every Decree-49 item, every occupation code."""
    from bot.backend import reference
    from bot.reference.occupations import OCCUPATION_CODES, label_response

    fields = ("msisdn", "holder", "birth_year", "id_type", "id_number", "province",
              "subscription_type", "status", "id_front_photo", "id_back_photo",
              "portrait_photo", "occupation", "decree49")
    names = [f"utter_profile_label_{field}" for field in fields]
    names += [f"utter_decree49_item_{code}" for code in reference.DECREE49_FIELDS]
    names += [f"utter_id_type_{code.lower()}" for code in reference.ID_TYPES]
    names += [f"utter_subscriber_status_{s}" for s in ("active", "one_way_blocked", "blocked")]
    names += [f"utter_subscription_type_{t}" for t in ("prepaid", "postpaid")]
    names += [f"utter_profile_value_{v}" for v in (
        "missing", "photo_yes", "photo_no", "photo_not_needed", "occupation_yes",
        "occupation_no", "decree49_complete")]
    names += [label_response(code) for code in OCCUPATION_CODES]
    for name in names:
        assert texts.text(name).strip(), name
    assert texts.text("utter_profile_value_decree49_missing", missing="x") == "Còn thiếu: x"
