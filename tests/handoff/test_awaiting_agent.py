"""A customer waiting for a human gets one short "an agent will reply" line, not silence:
through the real Telegram/Zalo inbox worker (fake provider servers), with the hand-off
connected as `bot serve rasa` connects it, on SQLite and PostgreSQL. Rate-limited per
conversation (operator.yml human_desk.awaiting_notice_minutes), never once an agent has
replied, never for a conversation without a ticket."""

from __future__ import annotations

import random

import pytest

from bot.channels import common
from bot.channels.store import ChannelStore
from bot.channels.telegram import TelegramInput
from bot.channels.zalo import ZaloInput
from bot.database import make_engine
from bot.handoff import tickets
from bot.handoff.waiting import notice_interval
from bot.texts import text
from tests.channels.conftest import (  # noqa: F401 - fixtures
    SECRET,
    Recorder,
    fake_telegram,
    raw,
    telegram,
    tg_config,
    tg_message_update,
    zalo_config,
    zalo_event,
    zalo_server,
    zalo_signed,
)
from tests.handoff.helpers import open_args

LINE_TG = text("utter_handoff_awaiting_agent", "telegram_ptb")
LINE_TG_NEXT = text("utter_handoff_awaiting_agent", "telegram_ptb", after=LINE_TG)
LINE_ZALO = text("utter_handoff_awaiting_agent", "zalo")


@pytest.fixture
def desk(handoff_url, clock, monkeypatch) -> tickets.TicketStore:
    """The hand-off connected to the channels of this process, on `handoff_url`, with the
    fake clock; the process-wide ticket store is the one the channels' check uses."""
    monkeypatch.setenv("BOT_DB_URL", handoff_url)
    monkeypatch.setattr(common, "_handoff_opener", None)  # both restored after the test
    monkeypatch.setattr(common, "_awaiting_agent_check", None)
    shared = tickets.get_ticket_store()
    monkeypatch.setattr(shared, "clock", clock)
    tickets.connect_channels()
    return shared


def channel_store(url: str) -> ChannelStore:
    return ChannelStore(make_engine(url))


async def say(channel: TelegramInput, chat: int, words: str, rec: Recorder) -> None:
    update = tg_message_update(chat_id=chat, text=words)
    status, _ = await channel.handle_request(SECRET, raw(update), rec)
    assert status == 200
    await channel.drain()


def new_chat() -> int:
    return random.randint(10**9, 2 * 10**9)


def test_the_line_is_vietnamese_and_names_the_agent():
    assert "tổng đài viên" in LINE_TG and "{" not in LINE_TG
    assert notice_interval().total_seconds() > 0


async def test_waiting_customer_gets_the_line_rate_limited_until_an_agent_replies(
        desk, clock, handoff_url, tg_config, telegram):  # noqa: F811 - fixtures
    chat = new_chat()
    ticket = desk.open_ticket(**open_args(f"tg-{chat}"))
    channel = TelegramInput(tg_config, channel_store(handoff_url))
    paused = Recorder()  # Rasa records the message of a paused conversation, says nothing

    await say(channel, chat, "alo có ai không", paused)
    assert telegram.delivered_texts(chat) == [LINE_TG]

    clock.advance(minutes=1)  # within the window: silence again
    await say(channel, chat, "em đang chờ", paused)
    assert telegram.delivered_texts(chat) == [LINE_TG]

    clock.advance(seconds=notice_interval().total_seconds())  # after the window: again,
    await say(channel, chat, "sao lâu vậy", paused)  # not word for word the same
    assert LINE_TG_NEXT != LINE_TG and "tổng đài viên" in LINE_TG_NEXT.lower()
    assert telegram.delivered_texts(chat) == [LINE_TG, LINE_TG_NEXT]
    assert [m.text for m in paused.messages] == ["alo có ai không", "em đang chờ",
                                                 "sao lâu vậy"]  # Rasa still got them all

    # the agent sees what the customer was told, as the assistant's line
    notices = [m.text for m in desk.messages(ticket.id) if m.role == "bot"
               and m.text in (LINE_TG, LINE_TG_NEXT)]
    assert notices == [LINE_TG, LINE_TG_NEXT]

    desk.add_agent_message(ticket.id, "lan", "Chào anh, em là Lan ạ.")
    clock.advance(seconds=2 * notice_interval().total_seconds())
    await say(channel, chat, "dạ chào chị", paused)  # the human conversation goes on
    assert telegram.delivered_texts(chat) == [LINE_TG, LINE_TG_NEXT]


async def test_no_ticket_or_closed_ticket_or_an_answer_is_untouched(
        desk, clock, handoff_url, tg_config, telegram):  # noqa: F811 - fixtures
    channel = TelegramInput(tg_config, channel_store(handoff_url))
    chat = new_chat()
    await say(channel, chat, "alo", Recorder())  # no ticket, no output: nothing added
    assert telegram.delivered_texts(chat) == []

    ticket = desk.open_ticket(**open_args(f"tg-{chat}"))
    # a turn that answered (the assistant is not paused) gets only its answer
    await say(channel, chat, "alo", Recorder(reply={"text": "Dạ em nghe ạ"}))
    assert telegram.delivered_texts(chat) == ["Dạ em nghe ạ"]

    desk.close(ticket.id, "lan", "handed_back")
    await say(channel, chat, "alo", Recorder())
    assert telegram.delivered_texts(chat) == ["Dạ em nghe ạ"]


async def test_zalo_customer_gets_the_line_once(
        desk, handoff_url, zalo_config, zalo_server):  # noqa: F811 - fixtures
    channel = ZaloInput(zalo_config, channel_store(handoff_url))
    user = f"u{new_chat()}"
    desk.open_ticket(**open_args(f"zalo-{user}", channel="zalo", user_id=user))
    for words in ("alo", "có ai không"):
        header, body = zalo_signed(zalo_event(user_id=user, text=words))
        await channel.handle_request(header, body, Recorder())
        await channel.drain()
    assert zalo_server.texts(user) == [LINE_ZALO]


def test_notice_is_claimed_once_per_window_by_concurrent_instances(desk, clock, handoff_url):
    """Two Rasa instances (two stores on one database) agree on the limit."""
    other = tickets.TicketStore(handoff_url, clock=clock)
    desk.open_ticket(**open_args("tg-77"))
    window = notice_interval()
    answers = [store.claim_awaiting_notice("tg-77", window, "x")
               for store in (desk, other, desk, other)]
    assert answers == [True, False, False, False]
    assert other.claim_awaiting_notice("tg-78", window, "x") is False  # no ticket


def test_a_failing_check_means_silence_not_an_error():
    def broken(_channel: str, _user_id: str, _output: str) -> str:
        raise RuntimeError("database down")

    common.set_awaiting_agent_check(broken)
    try:
        assert common.awaiting_agent_notice_due("telegram", "42", "telegram_ptb") is None
    finally:
        common.set_awaiting_agent_check(None)
    assert common.awaiting_agent_notice_due("telegram", "42", "telegram_ptb") is None
