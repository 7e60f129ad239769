"""The durable inbox and the outbox of both channels, against the fake Telegram/Zalo APIs on
SQLite and PostgreSQL: stored before the webhook is answered, processed after a crash,
re-deliveries dropped, one user at a time in arrival order, retried then parked, drained on
shutdown, the polite line when the assistant is slow or down, sends retried without
duplicates."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import UserMessage

from bot.channels.delivery import (
    PERMANENT,
    RETRY,
    UNKNOWN_OUTCOME,
    Verdict,
    deliver,
    delivery_scope,
)
from bot.channels.inbox_config import InboxSettings
from bot.channels.inbox_store import InboxStore
from bot.channels.telegram import TelegramInput, classify_error
from bot.channels.worker import (
    RASA_ACTION_FAILURE_LOG,
    RASA_PROCESSOR_LOGGER,
    InboxWorker,
    install_action_failure_filter,
)
from bot.channels.zalo import ZaloInput
from bot.channels.zalo import classify_error as classify_zalo
from bot.texts import text
from tests.channels.conftest import SECRET, Recorder, new_store, raw, tg_message_update, zalo_signed
from tests.channels.conftest import zalo_event as make_zalo_event

UNAVAILABLE = text("utter_assistant_unavailable", "telegram_ptb")
PARKED_TEXT = text("utter_channel_error", "telegram_ptb")
BOT_ID = "123456"


def fast(**overrides: Any) -> InboxSettings:
    values: dict[str, Any] = dict(notice_s=10.0, turn_timeout_s=20.0, retry_delays_s=(0.0, 0.0),
                                  lease_s=30.0, poll_s=0.05, drain_s=5.0,
                                  outbound_retry_delays_s=(0.0, 0.0, 0.0),
                                  max_retry_after_s=5.0)
    values.update(overrides)
    return InboxSettings.from_operator(**values)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, channel_db_url) -> str:
    if request.param == "sqlite":
        return channel_db_url
    return request.getfixturevalue("pg_url")


def tg(tg_config, db_url: str, **settings: Any) -> TelegramInput:
    channel = TelegramInput(tg_config, new_store(db_url))
    channel.inbox_settings = fast(**settings)
    return channel


def new_chat() -> int:
    return random.randint(10**9, 2 * 10**9)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def eventually(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def crash(worker: InboxWorker) -> None:
    """The process dies: its tasks stop, nothing is given back (leases stay)."""
    tasks = [t for t in [worker._loop_task, *worker._tasks.values()] if t is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Hang:
    """An assistant that never answers (the first `times` calls), then answers."""

    def __init__(self, times: int = 1, reply: str | None = None, hang_s: float = 60.0) -> None:
        self.times = times
        self.reply = reply
        self.hang_s = hang_s
        self.started = asyncio.Event()
        self.answered: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.started.set()
        if self.times > 0:
            self.times -= 1
            await asyncio.sleep(self.hang_s)
        self.answered.append(message.text or "")
        if self.reply:
            await message.output_channel.send_response(message.sender_id, {"text": self.reply})


# -- stored before the answer; a crash loses nothing ---------------------------------------
async def test_stored_before_ack_and_processed_after_a_crash(db_url, tg_config, telegram):
    chat = new_chat()
    first = tg(tg_config, db_url, lease_s=0.5)
    hang = Hang(times=1)
    first.worker.on_new_message = hang
    await first.worker.start()
    update = tg_message_update(chat_id=chat, text="xin chào")
    status, body = await first.handle_request(SECRET, raw(update), hang)
    assert (status, body) == (200, {"status": "accepted"})
    key = f"{BOT_ID}:{update['update_id']}"
    row = first.inbox.item("telegram", key)
    assert row is not None and row.payload == update  # in the database before the answer
    await asyncio.wait_for(hang.started.wait(), 5)
    await crash(first.worker)  # the process dies during the turn
    assert first.inbox.item("telegram", key).status == "processing"

    second = tg(tg_config, db_url, lease_s=0.5)  # the restarted instance
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    second.worker.on_new_message = rec
    await second.worker.start()
    await eventually(lambda: telegram.delivered_texts(chat))
    await second.worker.stop()
    assert [m.text for m in rec.messages] == ["xin chào"]
    assert telegram.delivered_texts(chat) == ["Dạ em chào anh/chị"]
    row = second.inbox.item("telegram", key)
    assert row.status == "done" and row.payload is None  # personal data dropped


async def test_a_long_turn_keeps_its_lease(channel_db_url, tg_config, telegram):
    """The lease is renewed while the turn runs: another instance never takes it over."""
    chat = new_chat()
    slow = Hang(times=1, reply="Dạ", hang_s=1.0)
    instances = [tg(tg_config, channel_db_url, lease_s=0.3) for _ in range(2)]
    for channel in instances:
        channel.worker.on_new_message = slow
        await channel.worker.start()
    await instances[0].handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="a")),
                                      slow)
    await eventually(lambda: telegram.delivered_texts(chat))
    for channel in instances:
        await channel.worker.stop()
    assert slow.answered == ["a"] and telegram.delivered_texts(chat) == ["Dạ"]


async def test_database_down_means_no_ack(tg_config, tmp_path, recorder):
    from bot.channels.store import ChannelStore
    from bot.database import make_engine

    unmigrated = ChannelStore(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    channel = TelegramInput(tg_config, unmigrated)
    status, body = await channel.handle_request(SECRET, raw(tg_message_update(text="hi")),
                                                recorder)
    assert (status, body) == (503, {"error": "database unavailable"})  # Telegram re-delivers
    assert recorder.messages == []


async def test_zalo_stores_the_event_before_answering(zalo_channel, zalo_server):
    rec = Recorder(reply={"text": "Dạ"})
    event = make_zalo_event(msg_id=f"z-{uuid.uuid4().hex}", user_id="u40")
    header, body = zalo_signed(event)
    assert await zalo_channel.handle_request(header, body, rec) == (200, {"status": "accepted"})
    row = zalo_channel.inbox.item("zalo", event["message"]["msg_id"])
    assert row is not None and row.payload == event and rec.messages == []
    await zalo_channel.drain()
    assert [m.text for m in rec.messages] == ["xin chào"] and zalo_server.texts("u40") == ["Dạ"]


async def test_forged_webhooks_store_nothing(channel_db_url, tg_config, zalo_config, recorder):
    from sqlalchemy import text as sql

    from bot.database import make_engine

    telegram_channel = tg(tg_config, channel_db_url)
    update = raw(tg_message_update(text="xin chào"))
    assert (await telegram_channel.handle_request("guess", update, recorder))[0] == 403
    zalo = ZaloInput(zalo_config, new_store(channel_db_url))
    header, body = zalo_signed(make_zalo_event(), secret="not-the-oa-secret")
    assert (await zalo.handle_request(header, body, recorder))[0] == 403
    engine = make_engine(channel_db_url)
    with engine.connect() as conn:
        assert conn.execute(sql("SELECT COUNT(*) FROM channel_inbox")).scalar() == 0
    engine.dispose()


async def test_a_stuck_customer_does_not_hold_up_the_others(channel_db_url, tg_config,
                                                          telegram):
    stuck_chat, other_chat = new_chat(), new_chat()
    channel = tg(tg_config, channel_db_url)
    stuck = Hang(times=1, hang_s=30)
    rec = Recorder(reply={"text": "Dạ"})

    async def assistant(message: UserMessage) -> None:
        if message.sender_id == f"tg-{stuck_chat}":
            await stuck(message)
        else:
            await rec(message)

    channel.worker.on_new_message = assistant
    await channel.worker.start()
    for chat in (stuck_chat, stuck_chat, other_chat):
        await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="a")),
                                     assistant)
    await eventually(lambda: telegram.delivered_texts(other_chat) == ["Dạ"])
    assert stuck.answered == []  # still on its first message; its second one waits
    channel.inbox_settings = fast(drain_s=0.1)
    channel.worker.settings = channel.inbox_settings
    await channel.worker.stop()


# -- re-deliveries ------------------------------------------------------------------------
async def test_redelivered_webhooks_are_processed_once(db_url, tg_config, telegram,
                                                       zalo_config, zalo_server):
    chat = new_chat()
    rec = Recorder(reply={"text": "Dạ"})
    instances = [tg(tg_config, db_url) for _ in range(2)]
    update = raw(tg_message_update(chat_id=chat, text="xin chào"))
    before = metric("bot_channel_inbound_duplicates_total", channel="telegram")
    results = await asyncio.gather(*[c.handle_request(SECRET, update, rec)
                                     for c in instances * 3])
    assert sorted(body["status"] for _, body in results) == ["accepted"] + ["duplicate"] * 5
    assert metric("bot_channel_inbound_duplicates_total", channel="telegram") == before + 5
    assert len(rec.messages) == 1 and telegram.delivered_texts(chat) == ["Dạ"]

    zalo = ZaloInput(zalo_config, new_store(db_url))
    zalo.inbox_settings = fast()
    header, body = zalo_signed(make_zalo_event(msg_id=f"z-{uuid.uuid4().hex}", user_id="u41"))
    zrec = Recorder()
    assert (await zalo.handle_request(header, body, zrec))[1] == {"status": "accepted"}
    await zalo.drain()
    assert (await zalo.handle_request(header, body, zrec))[1] == {"status": "duplicate"}
    await zalo.drain()
    assert len(zrec.messages) == 1


# -- per-user order, users in parallel, several instances -------------------------------------
class Tracker:
    """An assistant that takes a little time and records who runs at once."""

    def __init__(self) -> None:
        self.order: dict[str, list[str]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.max_per_user = 0
        self.max_total = 0
        self.total = 0

    async def __call__(self, message: UserMessage) -> None:
        user = message.sender_id
        self.active[user] += 1
        self.max_per_user = max(self.max_per_user, self.active[user])
        running = sum(self.active.values())
        self.max_total = max(self.max_total, running)
        await asyncio.sleep(random.uniform(0.05, 0.1))  # longer than a SQLite commit
        self.order[user].append(message.text or "")
        self.active[user] -= 1
        self.total += 1


async def test_one_user_at_a_time_in_order_users_in_parallel(db_url, tg_config, telegram):
    tracker = Tracker()
    instances = [tg(tg_config, db_url) for _ in range(2)]  # two Rasa instances, one DB
    loaded = {"ready": False}  # the assistant still loading: the messages wait, stored
    for channel in instances:
        channel.worker.on_new_message = tracker
        channel.worker.ready = lambda: loaded["ready"]
        await channel.worker.start()
    chats = [new_chat() for _ in range(4)]
    texts = [f"tin {i}" for i in range(4)]

    async def customer(chat: int) -> None:
        for index, message in enumerate(texts):
            update = tg_message_update(chat_id=chat, text=message)
            status, _ = await instances[index % 2].handle_request(SECRET, raw(update), tracker)
            assert status == 200
            await asyncio.sleep(random.uniform(0, 0.01))

    await asyncio.gather(*[customer(chat) for chat in chats])
    assert tracker.total == 0
    loaded["ready"] = True
    await eventually(lambda: tracker.total == len(chats) * len(texts))
    for channel in instances:
        await channel.worker.stop()
    assert {user: order for user, order in tracker.order.items()} == {
        f"tg-{chat}": texts for chat in chats}
    assert tracker.max_per_user == 1  # never two messages of one user at once
    assert tracker.max_total > 1  # different users in parallel


def test_claims_are_exclusive_and_per_user_across_instances(db_url):
    from concurrent.futures import ThreadPoolExecutor

    from bot.database import make_engine

    channel = f"t{uuid.uuid4().hex[:8]}"
    stores = [InboxStore(make_engine(db_url)) for _ in range(4)]
    users = [f"{channel}:u{i}" for i in range(3)]
    for index in range(3):
        for user in users:
            assert stores[0].accept(channel, f"{user}-{index}", user, {"n": index})
    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda s: s.claim(channel, f"owner-{id(s)}", 30, 10), stores))
    claimed = [row for rows in claims for row in rows]
    assert sorted(row.external_id for row in claimed) == sorted(f"{u}-0" for u in users)
    # the next message of a user is due only once the earlier one is finished
    owner_of = {row.id: f"owner-{id(stores[i])}" for i, rows in enumerate(claims)
                for row in rows}
    first = claimed[0]
    assert stores[1].claim(channel, "other", 30, 10) == []
    assert stores[0].complete(first.id, owner_of[first.id])
    [following] = stores[1].claim(channel, "other", 30, 10)
    assert following.external_id == first.external_id[:-1] + "1"


# -- retries, parking, replay -------------------------------------------------------------------
async def test_failing_message_is_retried_then_parked_then_replayed(channel_db_url, tg_config,
                                                                   telegram, capsys):
    from bot.cli import main

    chat = new_chat()
    channel = tg(tg_config, channel_db_url, retry_delays_s=(0.0, 0.0))
    parked_before = metric("bot_channel_failures_total", channel="telegram", kind="parked")
    failing = Recorder(fail_times=99)
    update = tg_message_update(chat_id=chat, text="kiểm tra thuê bao")
    assert (await channel.handle_request(SECRET, raw(update), failing))[0] == 200
    row = channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}")
    assert (row.status, row.attempts, row.last_error) == ("parked", 3, "RuntimeError")
    assert row.payload == update  # kept for the replay
    # one polite line for the message, then the parked notice: never silently dropped
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, PARKED_TEXT]
    assert metric("bot_channel_failures_total", channel="telegram", kind="parked") \
        == parked_before + 1
    await channel.worker.refresh_depth()
    assert metric("bot_channel_inbox_depth", channel="telegram", state="parked") == 1

    assert main(["channels", "inbox", "--status", "parked"]) == 0
    listing = capsys.readouterr().out
    assert f"{row.id} | telegram | {row.external_id} | telegram:{chat} | parked | 3" in listing
    assert "kiểm tra" not in listing  # no message text on an operator's screen

    assert main(["channels", "replay", str(row.id)]) == 0
    working = Recorder(reply={"text": "Dạ, em kiểm tra ngay ạ"})
    channel.worker.on_new_message = working
    await channel.worker.drain_idle()
    assert [m.text for m in working.messages] == ["kiểm tra thuê bao"]
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, PARKED_TEXT, "Dạ, em kiểm tra ngay ạ"]
    assert channel.inbox.item("telegram", row.external_id).status == "done"
    await channel.worker.refresh_depth()
    assert metric("bot_channel_inbox_depth", channel="telegram", state="parked") == 0


async def test_a_parked_message_does_not_block_the_users_next_ones(channel_db_url, tg_config,
                                                                  telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, retry_delays_s=())
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="một")),
                                 Recorder(fail_times=1))
    rec = Recorder()
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="hai")), rec)
    assert [m.text for m in rec.messages] == ["hai"]


# -- the assistant slow or down -------------------------------------------------------------
async def test_slow_turn_gets_one_polite_line_then_the_answer(channel_db_url, tg_config,
                                                             telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, notice_s=0.2, turn_timeout_s=5.0)
    slow = Hang(times=1, reply="Dạ đây là câu trả lời", hang_s=0.5)
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="alo")), slow)
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, "Dạ đây là câu trả lời"]
    assert slow.answered == ["alo"]  # one turn, answered once


async def test_turn_timeout_abandons_the_turn_and_retries_it(channel_db_url, tg_config,
                                                            telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, notice_s=0.2, turn_timeout_s=0.5,
                 retry_delays_s=(0.0, 0.0))
    hung = Hang(times=2, reply="Dạ em đây ạ")  # two attempts hang, the third answers
    started = time.monotonic()
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="alo")), hung)
    assert time.monotonic() - started < 5
    # one polite line for the message (not one per attempt), nothing half written
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, "Dạ em đây ạ"]
    assert hung.answered == ["alo"]


async def test_failed_custom_action_fails_the_turn_instead_of_half_an_answer(
        channel_db_url, tg_config, telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, retry_delays_s=(0.0,))
    calls = []

    async def assistant(message: UserMessage) -> None:
        calls.append(message.text)
        await message.output_channel.send_response(message.sender_id, {"text": "Dạ em xem"})
        if len(calls) == 1:  # what Rasa does when the action server is down
            try:
                raise ConnectionError("action server down")
            except ConnectionError:
                logging.getLogger(RASA_PROCESSOR_LOGGER).exception(
                    "%s 'action_check_subscriber'. Bot will continue", RASA_ACTION_FAILURE_LOG)
        await message.output_channel.send_response(message.sender_id, {"text": "Kết quả"})

    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="tra")),
                                 assistant)
    assert calls == ["tra", "tra"]
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, "Dạ em xem", "Kết quả"]


def test_the_action_failure_log_is_still_what_rasa_writes():
    """The filter relies on Rasa's processor logging this line (its module logger) when a
    custom action fails (read from the source: importing the processor takes seconds);
    outside an inbox turn the line is only logged."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(RASA_PROCESSOR_LOGGER)
    assert spec is not None and spec.origin
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert "logger = logging.getLogger(__name__)" in source
    run_action = source[source.index("async def _run_action("):]
    run_action = run_action[:run_action.index("\n    def ", 1)]
    assert "except Exception:\n            logger.exception(" in run_action
    assert f"f\"{RASA_ACTION_FAILURE_LOG} '{{action.name()}}'.\"" in run_action
    install_action_failure_filter()
    logging.getLogger(RASA_PROCESSOR_LOGGER).error("%s 'x'", RASA_ACTION_FAILURE_LOG)


# -- shutdown ---------------------------------------------------------------------------------
async def test_drain_on_shutdown_finishes_or_gives_back(channel_db_url, tg_config, telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, drain_s=3.0)
    quick = Hang(times=1, reply="Dạ xong", hang_s=0.3)
    channel.worker.on_new_message = quick
    await channel.worker.start()
    update = tg_message_update(chat_id=chat, text="một")
    await channel.handle_request(SECRET, raw(update), quick)
    await asyncio.wait_for(quick.started.wait(), 5)
    await channel.worker.stop()  # waits for the turn in progress
    assert telegram.delivered_texts(chat) == ["Dạ xong"]
    assert channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}").status == "done"

    channel = tg(tg_config, channel_db_url, drain_s=0.1)
    stuck = Hang(times=1)
    channel.worker.on_new_message = stuck
    await channel.worker.start()
    update = tg_message_update(chat_id=chat, text="hai")
    await channel.handle_request(SECRET, raw(update), stuck)
    await asyncio.wait_for(stuck.started.wait(), 5)
    await channel.worker.stop()  # too long: cancelled and given back, nothing sent
    row = channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}")
    assert (row.status, row.attempts) == ("pending", 0)
    assert telegram.delivered_texts(chat) == ["Dạ xong"]
    after = tg(tg_config, channel_db_url)
    after.worker.on_new_message = Recorder(reply={"text": "Dạ hai"})
    await after.worker.drain_idle()  # the next instance processes it at once
    assert telegram.delivered_texts(chat) == ["Dạ xong", "Dạ hai"]


async def test_drain_finishes_a_delivery_in_progress(channel_db_url, tg_config, telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, drain_s=0.1)
    channel.worker.on_new_message = Recorder(reply={"text": "Dạ đây ạ"})
    await channel.worker.start()
    telegram.fail_sends((429, 1))  # the answer waits 1 s for Telegram
    update = tg_message_update(chat_id=chat, text="một")
    await channel.handle_request(SECRET, raw(update), channel.worker.on_new_message)
    await eventually(lambda: telegram.calls("sendMessage")
                     and any(c.params.get("_refused") for c in telegram.calls("sendMessage")))
    await channel.worker.stop()  # longer than drain_seconds, but never cut off mid-send
    assert telegram.delivered_texts(chat) == ["Dạ đây ạ"]
    assert channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}").status == "done"


# -- outbound retries -------------------------------------------------------------------------
@pytest.mark.parametrize("failure", [(429, 1), (502, None), (500, None)])
async def test_telegram_transient_refusal_is_retried_without_duplicate(channel_db_url,
                                                                      tg_config, telegram,
                                                                      failure):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, outbound_retry_delays_s=(0.05,))
    retries = metric("bot_channel_outbound_retries_total", channel="telegram")
    telegram.fail_sends(failure)
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    update = tg_message_update(chat_id=chat, text="xin chào")
    started = time.monotonic()
    await channel.handle_request(SECRET, raw(update), rec)
    elapsed = time.monotonic() - started
    attempts = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == str(chat)]
    assert len(attempts) == 2 and attempts[0].params.get("_refused")
    assert telegram.delivered_texts(chat) == ["Dạ em chào anh/chị"]
    if failure[1] is not None:
        assert elapsed >= failure[1]  # Telegram's retry_after was honoured
    assert metric("bot_channel_outbound_retries_total", channel="telegram") == retries + 1
    key = f"telegram:{BOT_ID}:{update['update_id']}:0:0"
    assert channel.inbox.outbox_status(key) == "sent"


async def test_delivery_cut_short_resumes_without_rerunning_the_turn(channel_db_url, tg_config,
                                                                    telegram):
    """Telegram asks to wait longer than we wait: the send fails, the row is retried; the
    stored responses are delivered (the turn is not run twice, the first part not re-sent)."""
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, max_retry_after_s=0.5, retry_delays_s=(0.0,))
    turns = []

    async def assistant(message: UserMessage) -> None:  # a turn with two responses
        turns.append(message.text)
        for part in ("Phần một", "Phần hai"):
            await message.output_channel.send_response(message.sender_id, {"text": part})

    telegram.fail_sends((200, None), (429, 3))  # the second part: wait 3 s, too long
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="hai phần")),
                                 assistant)
    # first attempt: part one sent, part two refused; second attempt: part one skipped
    # (outbox), part two sent
    assert turns == ["hai phần"]
    assert telegram.delivered_texts(chat) == ["Phần một", "Phần hai"]


def test_classify_telegram_errors():
    import httpx
    from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

    def caused(exc: Exception, cause: Exception) -> Exception:
        exc.__cause__ = cause
        return exc

    assert classify_error(RetryAfter(7)) == Verdict(RETRY, 7.0)
    assert classify_error(NetworkError("Bad Gateway")) == Verdict(RETRY)
    assert classify_error(caused(NetworkError("x"), httpx.ConnectError("refused"))) \
        == Verdict(RETRY)
    assert classify_error(caused(TimedOut(), httpx.ConnectTimeout("t"))) == Verdict(RETRY)
    assert classify_error(caused(TimedOut(), httpx.ReadTimeout("t"))) \
        == Verdict(UNKNOWN_OUTCOME)
    assert classify_error(caused(NetworkError("x"), httpx.RemoteProtocolError("cut"))) \
        == Verdict(UNKNOWN_OUTCOME)
    assert classify_error(Forbidden("blocked")) == Verdict(PERMANENT)
    assert classify_error(BadRequest("chat not found")) == Verdict(PERMANENT)


async def test_unknown_outcome_is_not_resent(channel_db_url):
    from bot.database import make_engine

    store = InboxStore(make_engine(channel_db_url))
    calls = []
    unknown = metric("bot_channel_failures_total", channel="telegram", kind="send_unknown")

    async def send() -> str:
        calls.append(1)
        raise TimeoutError("read timeout")

    def classify(exc: BaseException) -> Verdict:
        return Verdict(UNKNOWN_OUTCOME)

    base = f"telegram:{uuid.uuid4().hex}:0"
    for _ in range(2):  # e.g. the row retried after a crash
        with delivery_scope(base):
            assert await deliver("telegram", "1", store, send, classify, fast()) is None
    assert calls == [1]
    assert store.outbox_status(f"{base}:0") == "unknown"
    assert metric("bot_channel_failures_total", channel="telegram", kind="send_unknown") \
        == unknown + 1


async def test_zalo_rate_limit_and_5xx_are_retried_once_delivered(zalo_config, zalo_server,
                                                                 store):
    channel = ZaloInput(zalo_config, store)
    channel.inbox_settings = fast(outbound_retry_delays_s=(0.0, 0.0, 0.0))
    zalo_server.send_failures.extend([-32, 503])
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    header, body = zalo_signed(make_zalo_event(user_id="u42"))
    await channel.handle_request(header, body, rec)
    await channel.drain()
    assert len(zalo_server.calls("message/cs")) == 3
    assert zalo_server.texts("u42") == ["Dạ em chào anh/chị"]


async def test_zalo_database_down_before_the_send_leaves_no_maybe_sent_row(
        zalo_config, zalo_server, store, monkeypatch):
    """The channel database fails while a reply is being sent (the token read) and while
    the failure is recorded: the reply never left, so it must be sent on the retry, not
    taken for "maybe delivered" (chaos run: an answer lost when PostgreSQL stopped)."""
    import sqlalchemy.exc as sa_exc

    channel = ZaloInput(zalo_config, store)
    channel.inbox_settings = fast()
    down = {"token": 1, "finish": 1}
    token, finish = store.token, InboxStore.outbox_finish

    def flaky_token(*args):
        if down["token"]:
            down["token"] -= 1
            raise sa_exc.OperationalError("SELECT", {}, Exception("database down"))
        return token(*args)

    def flaky_finish(self, *args):
        if down["finish"]:
            down["finish"] -= 1
            raise sa_exc.OperationalError("UPDATE", {}, Exception("database down"))
        return finish(self, *args)

    monkeypatch.setattr(store, "token", flaky_token)
    monkeypatch.setattr(InboxStore, "outbox_finish", flaky_finish)
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    user = f"u{uuid.uuid4().hex[:8]}"
    header, body = zalo_signed(make_zalo_event(user_id=user))
    await channel.handle_request(header, body, rec)
    await channel.drain()
    for _ in range(50):
        if zalo_server.texts(user):
            break
        await asyncio.sleep(0.1)
        await channel.worker.drain_idle()
    assert zalo_server.texts(user) == ["Dạ em chào anh/chị"]


def test_classify_zalo_errors():
    import aiohttp

    from bot.channels.zalo import ZaloApiError, ZaloHttpError, ZaloWindowClosed

    assert classify_zalo(ZaloApiError(-32, "rate")) == Verdict(RETRY)
    assert classify_zalo(ZaloHttpError(503)) == Verdict(RETRY)
    assert classify_zalo(ZaloHttpError(429)) == Verdict(RETRY)
    assert classify_zalo(ZaloWindowClosed(-213)) == Verdict(PERMANENT)
    assert classify_zalo(asyncio.TimeoutError()) == Verdict(UNKNOWN_OUTCOME)
    assert classify_zalo(aiohttp.ServerDisconnectedError()) == Verdict(UNKNOWN_OUTCOME)


async def test_metrics_count_messages_in_and_out(channel_db_url, tg_config, telegram):
    chat = new_chat()
    channel = tg(tg_config, channel_db_url)
    inbound = metric("bot_channel_messages_in_total", channel="telegram")
    outbound = metric("bot_channel_messages_out_total", channel="telegram")
    await channel.handle_request(SECRET, raw(tg_message_update(chat_id=chat, text="chào")),
                                 Recorder(reply={"text": "Dạ"}))
    assert metric("bot_channel_messages_in_total", channel="telegram") == inbound + 1
    assert metric("bot_channel_messages_out_total", channel="telegram") == outbound + 1


# -- store failures and admission control (bot/rasa_patches.py 9, bot/admission.py) ------
class Scripted:
    """An assistant whose first calls raise the given exceptions, then answers."""

    def __init__(self, *failures: BaseException, reply: str = "Dạ em đây ạ") -> None:
        self.failures = list(failures)
        self.reply = reply
        self.calls: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.calls.append(message)
        if self.failures:
            raise self.failures.pop(0)
        await message.output_channel.send_response(message.sender_id, {"text": self.reply})


async def test_a_turn_refused_by_a_failing_store_is_retried_and_answered_once(
        channel_db_url, tg_config, telegram):
    from bot.rasa_patches import StoreUnavailable

    chat = new_chat()
    channel = tg(tg_config, channel_db_url, retry_delays_s=(0.0, 0.0))
    rasa = Scripted(StoreUnavailable("tracker store: save failed"))
    update = tg_message_update(chat_id=chat, text="alo")
    assert (await channel.handle_request(SECRET, raw(update), rasa))[0] == 200
    row = channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}")
    assert (row.status, row.attempts) == ("done", 2)
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, "Dạ em đây ạ"]
    # every attempt reaches Rasa with the same message id: `<channel>:<provider id>`
    assert {m.message_id for m in rasa.calls} == {f"telegram:{row.external_id}"}


async def test_an_overloaded_instance_gets_the_message_again_after_retry_after(
        channel_db_url, tg_config, telegram):
    from bot.admission import Overloaded

    chat = new_chat()
    # no retry delays: a counted failure would park the message at once
    channel = tg(tg_config, channel_db_url, retry_delays_s=())
    rasa = Scripted(Overloaded(0.3), Overloaded(0.3))
    update = tg_message_update(chat_id=chat, text="alo")
    started = time.monotonic()
    assert (await channel.handle_request(SECRET, raw(update), rasa))[0] == 200
    external_id = f"{BOT_ID}:{update['update_id']}"
    assert channel.inbox.item("telegram", external_id).status == "pending"
    while channel.inbox.item("telegram", external_id).status != "done":
        assert time.monotonic() - started < 10
        await asyncio.sleep(0.1)
        await channel.worker.drain_idle()
    row = channel.inbox.item("telegram", external_id)
    assert row.attempts == 1  # the refusals are not failed attempts
    assert len(rasa.calls) == 3 and time.monotonic() - started >= 0.6  # Retry-After kept
    assert telegram.delivered_texts(chat) == ["Dạ em đây ạ"]  # no "unavailable" notice


async def test_nothing_is_claimed_while_the_instance_is_full(channel_db_url, tg_config,
                                                             telegram, monkeypatch):
    from bot import admission

    channel = tg(tg_config, channel_db_url)
    channel.inbox.accept("telegram", f"{BOT_ID}:{new_chat()}", "telegram:1", {})
    monkeypatch.setattr(admission, "_admission", admission.Admission(limit=1, retry_after_s=1,
                                                                     in_flight=1))
    assert await channel.worker.pump_once() == 0
    monkeypatch.setattr(admission, "_admission", admission.Admission(1, 1))
    channel.worker.on_new_message = Scripted()
    assert await channel.worker.pump_once() == 1


async def test_a_retried_message_already_in_the_conversation_is_not_run_again(
        channel_db_url, tg_config, telegram):
    """The first attempt's turn was saved, then the attempt failed (the database went down
    before its responses were stored): the retry delivers that turn's replies from the
    conversation instead of processing the message a second time."""
    chat = new_chat()
    channel = tg(tg_config, channel_db_url, retry_delays_s=(0.0, 0.0))
    conversation: list[dict[str, Any]] = []
    calls: list[str] = []

    async def rasa(message: UserMessage) -> None:
        calls.append(message.message_id)
        conversation.extend([
            {"event": "user", "text": message.text, "message_id": message.message_id},
            {"event": "bot", "text": "Dạ kết quả đây ạ",
             "data": {"buttons": None, "custom": None}},
            {"event": "action", "name": "action_listen"}])
        raise ConnectionError("database down after the tracker was saved")

    async def answers(conversation_id: str) -> list[dict[str, Any]]:
        assert conversation_id == f"tg-{chat}"
        return conversation

    channel.worker.answers = answers
    update = tg_message_update(chat_id=chat, text="kiểm tra")
    await channel.handle_request(SECRET, raw(update), rasa)
    assert calls == [f"telegram:{BOT_ID}:{update['update_id']}"]  # processed once
    assert telegram.delivered_texts(chat) == [UNAVAILABLE, "Dạ kết quả đây ạ"]
    assert channel.inbox.item("telegram", f"{BOT_ID}:{update['update_id']}").status == "done"


def test_replies_to_reads_the_turn_of_one_message():
    from bot.channels.worker import replies_to

    events = [{"event": "user", "message_id": "a"}, {"event": "bot", "text": "một"},
              {"event": "user", "message_id": "b"},
              {"event": "bot", "text": "hai", "data": {"buttons": [{"title": "Có"}],
                                                       "image": None}},
              {"event": "bot", "text": None, "data": {"image": "https://x/y.png"}},
              {"event": "user", "message_id": "c"}]
    assert replies_to(events, "b", "tg-1") == [
        {"recipient": "tg-1", "message": {"text": "hai", "buttons": [{"title": "Có"}]}},
        {"recipient": "tg-1", "message": {"image": "https://x/y.png"}}]
    assert replies_to(events, "c", "tg-1") == []
    assert replies_to(events, "zzz", "tg-1") is None
