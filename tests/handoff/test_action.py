"""action_handoff_to_human and the pure functions behind it: reason, summary, transcript,
desk hours, the customer notice; personal data never reaches the log."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff as action_module
from actions.handoff import ActionHandoffToHuman
from bot.handoff import dialogue
from bot.handoff.desk import desk_status
from bot.handoff.tickets import TicketStore

T0 = 1_748_833_200.0  # 2025-06-02 03:00 UTC = 10:00 in Hà Nội


def user(text: str, intent: str, ts: float, metadata: dict | None = None) -> dict:
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
            "metadata": metadata or {}}


def bot(text: str, ts: float) -> dict:
    return {"event": "bot", "text": text, "timestamp": ts}


def make_tracker(events: list[dict], slots: dict | None = None,
                 sender: str = "tg-4242") -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), {})
    latest_message = {"text": latest.get("text"), "intent": latest.get("parse_data", {})
                      .get("intent", {}), "entities": [], "metadata": latest.get("metadata", {})}
    return Tracker(sender, slots or {}, latest_message, events, False, None, {}, "action_listen")


LOST_SIM = [
    {"event": "action", "name": "action_session_start", "timestamp": T0 - 10},
    {"event": "session_started", "timestamp": T0 - 9},
    user("chào em", "greet", T0),
    bot("Dạ em chào anh/chị ạ.", T0 + 1),
    user("hủy giúp anh dịch vụ nhạc chờ", "cancel_service", T0 + 2),
    bot("Dạ anh/chị cho em xin số điện thoại ạ.", T0 + 3),
    user("anh bị mất điện thoại rồi, khóa sim gấp giúp anh, số 0901000001",
         "report_lost_sim", T0 + 4, {"channel": "telegram", "user_id": "4242"}),
]


@pytest.mark.parametrize(("intents", "slot", "expected"), [
    (["greet", "report_lost_sim"], None, ("lost_sim", 0)),
    (["report_lost_sim", "affirm"], None, ("lost_sim", 0)),
    (["cancel_service", "request_human"], None, ("customer_request", 2)),
    (["nlu_fallback", "nlu_fallback"], None, ("fallback", 2)),
    (["greet", "nlu_fallback", "nlu_fallback", "deny"], None, ("fallback", 2)),
    (["nlu_fallback", "nlu_fallback", "request_human"], None, ("customer_request", 2)),
    (["request_human"], "zalo_window", ("zalo_window", 2)),
    (["greet"], "report_lost_sim", ("lost_sim", 0)),  # set by action_report_lost_sim
    (["request_human"], "nonsense", ("customer_request", 2)),
])
def test_reason_and_priority(intents, slot, expected):
    events = [user("x", name, T0 + i) for i, name in enumerate(intents)]
    assert dialogue.derive_reason(events, slot) == expected


def test_reason_ignores_earlier_sessions():
    events = [user("mất sim", "report_lost_sim", T0), {"event": "session_started"},
              user("cho gặp người thật", "request_human", T0 + 99)]
    assert dialogue.derive_reason(events) == ("customer_request", 2)


def test_intents_triggered_by_the_call_center_are_not_customer_words():
    # as Rasa's UserUttered.create_external stores them: the metadata says so
    events = [user("EXTERNAL: update_subscriber_info", "update_subscriber_info", T0,
                   {"is_external": True}),
              bot("Dạ em hướng dẫn ạ.", T0 + 1),
              user("cho gặp nhân viên", "request_human", T0 + 2)]
    lines = dialogue.transcript(events)
    assert lines[0] == {"role": "system", "ts": T0, "text": "Tổng đài chuyển khách cho trợ "
                        "lý ảo: cập nhật thông tin thuê bao (Nghị định 49)."}
    assert "EXTERNAL" not in dialogue.summary(events[:2], "customer_request", {})


def test_is_external_uses_rasas_metadata_key():
    from rasa.shared.core.constants import IS_EXTERNAL
    from rasa.shared.core.events import UserUttered

    assert dialogue.IS_EXTERNAL == IS_EXTERNAL
    assert dialogue.is_external(UserUttered.create_external("check_balance").as_dict())
    assert not dialogue.is_external(user("EXTERNAL: check_balance", "check_balance", T0))


def test_transcript_and_summary():
    lines = dialogue.transcript(LOST_SIM)
    assert [line["role"] for line in lines] == ["customer", "bot", "customer", "bot",
                                                "customer"]
    assert lines[-1]["ts"] == T0 + 4
    text = dialogue.summary(LOST_SIM, "lost_sim", {"service": "FUNRING",
                                                   "verified_msisdn": None})
    assert text.startswith("Lý do: Mất SIM / điện thoại – khóa gấp.")
    assert "hủy dịch vụ" in text and "báo mất SIM" in text
    assert "Dịch vụ: FUNRING." in text and "Chưa xác thực số điện thoại." in text
    assert "khóa sim gấp" in text  # the customer's last words, for the agent


@pytest.mark.parametrize(("utc", "is_open", "when"), [
    (datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc), True, None),     # 10:00 local
    (datetime(2025, 6, 2, 16, 30, tzinfo=timezone.utc), False, "sáng mai (03/06)"),  # 23:30
    (datetime(2025, 6, 1, 22, 0, tzinfo=timezone.utc), False, "hôm nay"),  # 05:00 local
    (datetime(2025, 6, 2, 15, 0, tzinfo=timezone.utc), False, "sáng mai (03/06)"),  # 22:00
])
def test_desk_hours_and_notice(utc, is_open, when):
    desk = desk_status(utc)
    assert desk.is_open is is_open
    notice = dialogue.customer_notice(17, "customer_request", desk)
    assert "#17" in notice
    if is_open:
        assert "khoảng 5 phút" in notice
    else:
        assert "ngoài giờ làm việc" in notice and "07:00–22:00" in notice
        assert f"lúc 07:00 {when}" in notice


def test_lost_sim_notice_gives_the_hotline():
    notice = dialogue.customer_notice(3, "lost_sim", desk_status(
        datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc)))
    assert "18001090" in notice and "9090" in notice


@pytest.fixture
def action(backend, clock, monkeypatch):
    """The action on the seeded test database, with the desk clock at 10:00 local."""
    instance = ActionHandoffToHuman()
    instance.store = TicketStore(backend.db_url, clock=clock)
    monkeypatch.setattr(action_module, "_now", clock)
    return instance


async def test_action_opens_urgent_ticket_and_pauses(action, caplog):
    caplog.set_level(logging.DEBUG)
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(LOST_SIM), {})
    assert events == [{"event": "pause", "timestamp": None}]
    [ticket] = action.store.queue()
    assert (ticket.reason, ticket.priority, ticket.status) == ("lost_sim", 0, "waiting")
    assert (ticket.conversation_id, ticket.channel, ticket.user_id) == \
        ("tg-4242", "telegram", "4242")
    assert ticket.verified_msisdn is None
    assert len(action.store.messages(ticket.id)) == 5
    [message] = dispatcher.messages
    assert f"#{ticket.id}" in message["text"] and "khoảng 5 phút" in message["text"]
    assert "18001090" in message["text"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "0901000001" not in logged and "khóa sim gấp" not in logged


async def test_action_keeps_the_verified_number_and_links_the_chat(action):
    dispatcher = CollectingDispatcher()
    events = [user("cho anh gặp nhân viên", "request_human", T0,
                   {"channel": "zalo", "user_id": "z-99"})]
    await action.run(dispatcher, make_tracker(events, {"verified_msisdn": "0901000002"},
                                              sender="zalo-z-99"), {})
    [ticket] = action.store.queue()
    assert (ticket.reason, ticket.verified_msisdn, ticket.channel) == \
        ("customer_request", "0901000002", "zalo")
    assert "Số điện thoại đã xác thực." in ticket.summary
    link = action.store.find_chat("0901000002")
    assert (link.channel, link.user_id) == ("zalo", "z-99")


async def test_action_without_metadata_uses_the_sender_id(action):
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker([user("???", "nlu_fallback", T0)],
                                              sender="tg-555"), {})
    [ticket] = action.store.queue()
    assert (ticket.channel, ticket.user_id, ticket.reason) == ("telegram", "555", "fallback")


async def test_action_outside_hours_says_when_the_desk_opens(action, clock):
    clock.set(datetime(2025, 6, 2, 16, 0, tzinfo=timezone.utc))  # 23:00 local
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker([user("gặp người", "request_human", T0)]), {})
    text = dispatcher.messages[0]["text"]
    assert "ngoài giờ làm việc" in text and "07:00 sáng mai (03/06)" in text


async def test_action_when_the_database_is_down(tmp_path, caplog):
    instance = ActionHandoffToHuman()
    instance.store = TicketStore(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    dispatcher = CollectingDispatcher()
    events = await instance.run(dispatcher, make_tracker(LOST_SIM), {})
    assert events == []  # not paused: the assistant keeps answering
    assert "hotline 18001090" in dispatcher.messages[0]["text"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "0901000001" not in logged


def test_the_notice_addresses_the_customer_as_the_conversation_does():
    """A customer who called herself "chị" is not called "anh/chị" at the hand-off."""
    desk = desk_status(datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc))
    notice = dialogue.customer_notice(5, "customer_request", desk, None,
                                      {"customer_title": "chị", "customer_title_cap": "Chị"})
    assert "yêu cầu của chị tới tổng đài viên" in notice and "anh/chị" not in notice
    assert "anh/chị" in dialogue.customer_notice(5, "customer_request", desk)
