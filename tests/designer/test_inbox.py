"""The review inbox on a real tracker store (SQLite and PostgreSQL): sessions, outcomes,
filters, newest first, read-only access, masking of personal data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.designer import inbox
from bot.designer.conversations import build
from tests.designer.conftest import NOW, PERSONAL


def _all(reader, **filters):
    since, until = NOW - 30 * 86400, NOW + 60
    query = inbox.InboxQuery(since, until, **filters)
    return inbox.page(reader, query, now=NOW)


def _by_sender(reader):
    convs = inbox.conversations(reader, NOW - 30 * 86400, NOW + 60, now=NOW)
    return {c.sender_id + ("-old" if c.last < NOW - 86400 else ""): c for c in convs}


def test_sessions_newest_first_with_their_outcomes(reader):
    result = _all(reader)
    assert result["total"] == 6
    lasts = [c["last"] for c in result["conversations"]]
    assert lasts == sorted(lasts, reverse=True)
    convs = _by_sender(reader)
    assert {k: c.outcome for k, c in convs.items()} == {
        "tg-1001": "completed", "tg-1001-old": "completed", "tg-1002": "fallback",
        "zalo-2001": "handoff", "tg-1003": "abandoned", "tg-1004": "ongoing"}
    assert convs["tg-1003"].flow == "update_form"
    assert convs["tg-1003"].flow_slot == "upd_birth_date"
    assert convs["tg-1002"].clarify and not convs["tg-1001"].clarify
    assert convs["zalo-2001"].channel == "zalo" and convs["tg-1002"].channel == "telegram"


def test_filters(reader):
    def senders(**filters):
        return sorted(c["id"] for c in _all(reader, **filters)["conversations"])

    convs = _by_sender(reader)
    assert senders(outcome="fallback") == [convs["tg-1002"].id]
    assert senders(outcome="handoff") == [convs["zalo-2001"].id]
    assert senders(outcome="abandoned") == [convs["tg-1003"].id]
    assert senders(channel="zalo") == [convs["zalo-2001"].id]
    # low confidence (< 0.5): the fallback (best candidate 0.21) and the old balance (0.44)
    assert senders(low_confidence=True) == sorted([convs["tg-1002"].id, convs["tg-1001-old"].id])
    assert senders(outcome="completed") == sorted([convs["tg-1001"].id,
                                                   convs["tg-1001-old"].id])
    # the period: only the last day
    day = inbox.page(reader, inbox.InboxQuery(NOW - 86400, NOW + 60), now=NOW)
    assert day["total"] == 5
    with pytest.raises(ValueError):
        inbox.InboxQuery(NOW, NOW - 1)
    with pytest.raises(ValueError):
        inbox.InboxQuery(NOW - 1, NOW, outcome="bogus")


def test_user_messages_show_intent_confidence_entities(reader):
    conv = _by_sender(reader)["tg-1002"]
    body = inbox.conversation_json(conv)
    users = [m for m in body["messages"] if m["role"] == "user"]
    first = users[0]
    assert first["intent"] == "nlu_fallback" and first["fallback"] and first["low"]
    assert first["candidate"] == "find_store" and first["candidate_confidence"] == 0.21
    last = users[-1]
    assert (last["intent"], last["confidence"]) == ("inform", 0.9)
    assert last["entities"] == [{"entity": "location", "value": "quận 3", "text": "quận 3"}]
    assert [m["action"] for m in body["messages"] if m["role"] == "action"][:2] == [
        "action_two_stage_fallback", "action_default_ask_affirmation"]


def test_personal_data_is_masked(reader):
    conv = _by_sender(reader)["tg-1003"]
    body = inbox.conversation_json(conv)
    shown = json.dumps(body, ensure_ascii=False)
    texts = json.dumps([m.get("text") for m in body["messages"]]
                       + [m.get("entities") for m in body["messages"]], ensure_ascii=False)
    for value in PERSONAL:
        assert value.lower() not in texts.lower(), value
    users = [m for m in body["messages"] if m["role"] == "user"]
    assert users[0]["text"] == "cập nhật thông tin cho số 091***5678"
    assert users[0]["entities"][0]["value"] == "091***5678"
    assert users[1]["text"] == "******"  # the OTP
    assert users[2]["text"] == "***"  # the answer to "your full name?"
    assert "**/**/****" in users[3]["text"] and "*********234" in users[3]["text"]
    bots = [m["text"] for m in body["messages"] if m["role"] == "bot"]
    # the name the form stored is masked wherever it appears (console convention)
    assert bots[2].startswith("- Họ tên: T** T** Bình\n")
    # what a correction would write: stand-ins, never the customer's data
    assert users[0]["example"]["text"] == "cập nhật thông tin cho số 0901000001"
    assert users[0]["example"]["entities"] == [
        {"entity": "phone_number", "value": "0901000001", "start": 26, "end": 36}]
    assert users[1]["example"]["text"] == "123456"
    assert users[2]["example"]["text"] == "Nguyễn Văn An"
    assert users[3]["example"]["text"] == "em sinh 01/01/1990, cccd 001090000123"
    for value in PERSONAL:
        assert value.lower() not in shown.lower(), value


def test_summary_preview_is_masked(reader):
    convs = _all(reader, outcome="abandoned")["conversations"]
    assert convs[0]["preview"] == "cập nhật thông tin cho số 091***5678"


def test_the_reader_cannot_write(reader, tracker_url):
    with pytest.raises(DBAPIError), reader.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
    assert _all(reader)["total"] == 6


def test_a_session_by_its_first_event_only(reader):
    conv = _by_sender(reader)["tg-1002"]
    session = reader.session(conv.id)
    assert session is not None and session.sender_id == "tg-1002"
    assert reader.session(conv.id + 1) is None  # a middle event is not a conversation
    assert reader.session(10**9) is None
    rebuilt = build(session, NOW)
    assert rebuilt.outcome == "fallback"
