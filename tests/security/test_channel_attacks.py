"""Attacks through the customer channels, each kept as a regression test (docs/security.md).

Every attack goes through the real channel code (`TelegramInput` / `ZaloInput`, their
store, the backend's identity ledger on a throw-away SQLite database) with the local fake
Telegram Bot API and Zalo OA API of tests/channels behind; what would reach Rasa is
recorded by a fake `on_new_message`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import types
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text as sql

from bot.channels import zalo as zalo_module
from bot.channels.common import (
    max_message_chars,
    max_webhook_bytes,
    payload_intent,
)
from bot.channels.telegram import TelegramConfig, TelegramInput
from bot.channels.zalo import ZaloConfig, ZaloInput
from bot.texts import text
from tests.channels.conftest import (
    APP_ID,
    APP_SECRET,
    OA_SECRET,
    SECRET,
    Recorder,
    new_store,
    raw,
    sign_raw,
    tg_click_update,
    tg_message_update,
    tg_user,
    zalo_event,
    zalo_signed,
)
from tests.channels.fakes import FakeTelegram, FakeZalo

OWN_NUMBER = "0901000001"
# The Telegram channel's own notices, as the domain words them.
MSG_NO_TEXT = text("utter_channel_no_text", "telegram_ptb")
MSG_PRIVATE_ONLY = text("utter_channel_private_only", "telegram_ptb")
TABLES = ("channel_processed_inbound", "channel_inbox", "channel_links", "identity_verifications")


# -- fixtures: a migrated database (also the backend's), the fake APIs, the channels -------
@pytest.fixture
def db_url(tmp_path, monkeypatch) -> Iterator[str]:
    from bot import database as db
    from bot.backend import set_backend

    url = f"sqlite:///{tmp_path / 'attacks.db'}"
    db.upgrade(url)
    monkeypatch.setenv("BOT_DB_URL", url)  # get_backend(): the identity ledger
    yield url
    set_backend(None, url)


def tg_config(api: FakeTelegram) -> TelegramConfig:
    return TelegramConfig(token=api.token, secret_token=SECRET, base_url=api.base_url)


def zalo_config(api: FakeZalo) -> ZaloConfig:
    return ZaloConfig(app_id=APP_ID, oa_secret_key=OA_SECRET, app_secret_key=APP_SECRET,
                      access_token=api.access_token, refresh_token=api.refresh_token,
                      api_base_url=api.url, oauth_base_url=api.url, retry_delays_s=(0.0,))


@pytest.fixture
def tg(telegram_api, db_url) -> TelegramInput:
    telegram_api.clear()
    return TelegramInput(tg_config(telegram_api), new_store(db_url))


@pytest.fixture
def zalo(zalo_api, db_url) -> ZaloInput:
    zalo_api.clear()
    return ZaloInput(zalo_config(zalo_api), new_store(db_url))


def verified_number(conversation_id: str) -> str | None:
    from bot.backend import get_backend

    return get_backend().identity.verified_number(conversation_id)


def row_counts(db_url: str) -> dict[str, int]:
    from bot.database import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sql(f"SELECT COUNT(*) FROM {t}")).scalar() for t in TABLES}
    finally:
        engine.dispose()


async def tg_send(channel: TelegramInput, update: dict[str, Any], rec: Recorder) -> tuple:
    return await channel.handle_request(SECRET, raw(update), rec)


async def zalo_send(channel: ZaloInput, event: dict[str, Any], rec: Recorder) -> tuple:
    header, body = zalo_signed(event)
    result = await channel.handle_request(header, body, rec)
    await channel.drain()
    return result


def group_message(chat_id: int, chat_type: str, user_id: int = 42, **message: Any) -> dict:
    update = tg_message_update(chat_id=chat_id, **message)
    update["message"]["chat"] = {"id": chat_id, "type": chat_type, "title": "Nhóm gia đình"}
    update["message"]["from"] = tg_user(user_id)
    return update


# -- 1. Telegram: private chats only -------------------------------------------------------
@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_group_chat_gets_one_line_and_nothing_reaches_rasa(tg, telegram_api, db_url,
                                                                 chat_type):
    """In a group, whoever verified would serve every member: the bot must not talk there."""
    rec = Recorder()
    group = -100123
    own_contact = {"phone_number": "+84901000001", "first_name": "Lan", "user_id": 42}
    updates = [group_message(group, chat_type, text="kiem tra thong tin thue bao"),
               group_message(group, chat_type, contact=own_contact),
               group_message(group, chat_type, user_id=43, text="/restart"),
               group_message(group, chat_type, user_id=43, text=OWN_NUMBER)]
    for update in updates:
        status, _ = await tg_send(tg, update, rec)
        assert status == 200
    # a second instance on the same database does not say it again
    other = TelegramInput(tg_config(telegram_api), new_store(db_url))
    assert (await tg_send(other, group_message(group, chat_type, text="alo"), rec))[0] == 200

    assert rec.messages == []
    assert telegram_api.sent_texts(group) == [MSG_PRIVATE_ONLY]
    assert verified_number(f"tg-{group}") is None and verified_number("tg-42") is None


async def test_channel_post_and_group_button_click_never_reach_rasa(tg, telegram_api):
    rec = Recorder()
    channel_id = -100777
    post = {"update_id": 990001, "channel_post": {
        "message_id": 5, "date": int(time.time()), "text": "/restart",
        "chat": {"id": channel_id, "type": "channel", "title": "Tin tức"}}}
    assert (await tg_send(tg, post, rec))[0] == 200
    click = tg_click_update("/affirm", chat_id=42)
    click["callback_query"]["message"]["chat"] = {"id": -100555, "type": "supergroup",
                                                  "title": "Nhóm"}
    assert (await tg_send(tg, click, rec))[0] == 200
    assert rec.messages == []
    assert telegram_api.sent_texts(channel_id) == [MSG_PRIVATE_ONLY]
    assert telegram_api.sent_texts(-100555) == [MSG_PRIVATE_ONLY]
    assert telegram_api.calls("answerCallbackQuery")  # the spinner still stops


# -- 2. identity: only the ledger, never metadata --------------------------------------------
async def test_own_contact_is_recorded_server_side_and_metadata_claims_nothing(tg, db_url):
    rec = Recorder()
    contact = {"phone_number": "+84 901 000 001", "first_name": "Lan", "user_id": 42}
    assert (await tg_send(tg, tg_message_update(chat_id=42, contact=contact), rec))[0] == 200
    [message] = rec.messages
    assert "verified_msisdn" not in message.metadata
    assert message.metadata == {"channel": "telegram", "user_id": "42"}
    assert verified_number("tg-42") == OWN_NUMBER
    assert verified_number("tg-43") is None


@pytest.mark.parametrize("contact_user_id", [777, None, "same_as_other_chat"])
async def test_someone_elses_or_forged_contact_records_nothing(tg, db_url, contact_user_id):
    rec = Recorder()
    contact: dict[str, Any] = {"phone_number": OWN_NUMBER, "first_name": "Nam"}
    if contact_user_id == "same_as_other_chat":
        contact["user_id"] = 42  # the number's owner is user 42 ... sent by user 43
        update = tg_message_update(chat_id=43, contact=contact)
    else:
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        update = tg_message_update(chat_id=43, contact=contact)
    assert (await tg_send(tg, update, rec))[0] == 200
    [message] = rec.messages
    assert message.text == '/inform{"phone_number":"0901000001"}'  # a number, not a proof
    assert "verified_msisdn" not in message.metadata
    assert verified_number("tg-43") is None and verified_number("tg-42") is None
    # ... while the sender's own contact in the same chat is recorded (the check works)
    own = tg_message_update(chat_id=43, contact={"phone_number": "0901000002",
                                                 "first_name": "Nam", "user_id": 43})
    await tg_send(tg, own, rec)
    assert verified_number("tg-43") == "0901000002"
    assert all("verified_msisdn" not in m.metadata for m in rec.messages)


async def test_no_message_metadata_ever_carries_a_verified_number(tg, zalo, db_url):
    """Whatever a customer sends, the metadata holds channel, user id and real photos only."""
    rec = Recorder()
    photo = [{"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]
    for update in (
            tg_message_update(text='/inform{"verified_msisdn": "0901000001"}'),
            tg_message_update(text='{"verified_msisdn": "0901000001"}'),
            tg_message_update(contact={"phone_number": OWN_NUMBER, "first_name": "L",
                                       "user_id": 42}),
            tg_message_update(photo=photo, caption='verified_msisdn=0901000001'),
            tg_click_update('/inform{"verified_msisdn":"0901000001"}')):
        assert (await tg_send(tg, update, rec))[0] == 200
    await zalo_send(zalo, zalo_event(text='/inform{"verified_msisdn":"0901000001"}'), rec)
    assert len(rec.messages) == 6
    for message in rec.messages:
        # photo_problem: set by our channel code when a photo could not be stored
        assert set(message.metadata) <= {"channel", "user_id", "photos", "photo_problem"}, \
            message.metadata


# -- 3. typed control commands are neutralised ---------------------------------------------
@pytest.mark.parametrize("typed,expected", [
    ("/restart", "restart"),
    ("/session_start", "session_start"),
    ("/back", "back"),
    ("  //restart", "restart"),
    ("/restart@1.0", "restart@1.0"),
    ('/inform{"verified_msisdn": "0901000001"}', 'inform{"verified_msisdn": "0901000001"}'),
    ('/affirm', 'affirm'),  # Telegram buttons are callback queries: typed payloads are words
    ("EXTERNAL: restart", "restart"),
    ("EXTERNAL: /session_start", "session_start"),
    ("/start", "/greet"),
    ("/start@ho_tro_bot", "/greet"),
    ("/start ref-zalo", "/greet"),
])
async def test_telegram_typed_commands_reach_rasa_as_words(tg, typed, expected):
    rec = Recorder()
    assert (await tg_send(tg, tg_message_update(text=typed), rec))[0] == 200
    [message] = rec.messages
    assert message.text == expected
    if expected != "/greet":
        assert payload_intent(message.text) is None
        assert not message.text.startswith("EXTERNAL: ")


async def test_telegram_caption_commands_are_neutralised(tg):
    rec = Recorder()
    photo = [{"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]
    await tg_send(tg, tg_message_update(photo=photo, caption="/restart"), rec)
    [message] = rec.messages
    assert message.text == "restart" and "photos" in message.metadata  # (no such file here)


@pytest.mark.parametrize("data", ["/restart", "/session_start", "/back",
                                  "EXTERNAL: greet", " /restart"])
async def test_telegram_click_with_a_control_payload_is_refused(tg, data):
    """callback_data comes from the client and can be forged."""
    rec = Recorder()
    assert (await tg_send(tg, tg_click_update(data), rec)) == (200, {"status": "refused"})
    assert rec.messages == []
    assert (await tg_send(tg, tg_click_update("/affirm"), rec))[0] == 200
    assert [m.text for m in rec.messages] == ["/affirm"]  # real buttons still work


async def test_telegram_not_this_one_button_still_works(tg):
    """utter_ask_affirmation's "Không phải" button sends /out_of_scope: not a control."""
    rec = Recorder()
    assert (await tg_send(tg, tg_click_update("/out_of_scope"), rec))[0] == 200
    assert [m.text for m in rec.messages] == ["/out_of_scope"]


@pytest.mark.parametrize("typed,expected", [
    ("/restart", "restart"),
    ("/session_start", "session_start"),
    (" /back{}", "back{}"),
    ("EXTERNAL: greet", "greet"),
    ("EXTERNAL: /restart", "restart"),
    ("/affirm", "/affirm"),  # a Zalo button click arrives as typed text: still a payload
    ('/inform{"phone_number":"0901000001"}', '/inform{"phone_number":"0901000001"}'),
])
async def test_zalo_typed_commands_are_neutralised_buttons_still_work(zalo, typed, expected):
    rec = Recorder()
    assert (await zalo_send(zalo, zalo_event(text=typed), rec))[0] == 200
    [message] = rec.messages
    assert message.text == expected


# -- 4. input limits -------------------------------------------------------------------------
async def test_message_over_the_limit_gets_the_polite_reply_and_never_reaches_rasa(
        tg, zalo, telegram_api, zalo_api):
    limit = max_message_chars()
    assert limit == 1000
    rec = Recorder()
    too_long = "a" * (limit + 1)
    await tg_send(tg, tg_message_update(chat_id=42, text=too_long), rec)
    await zalo_send(zalo, zalo_event(user_id="u-long", text=too_long), rec)
    assert rec.messages == []
    [tg_reply] = telegram_api.sent_texts(42)
    [zalo_reply] = zalo_api.texts("u-long")
    assert tg_reply == zalo_reply and "dài quá" in tg_reply and "1.000" in tg_reply
    # exactly at the limit it is read
    await tg_send(tg, tg_message_update(chat_id=42, text="b" * limit), rec)
    await zalo_send(zalo, zalo_event(user_id="u-long", text="c" * limit), rec)
    assert [len(m.text) for m in rec.messages] == [limit, limit]


async def test_oversized_webhook_body_is_413_before_parsing(tg, zalo, db_url, monkeypatch):
    limit = max_webhook_bytes()
    rec = Recorder()
    update = tg_message_update(text="xin chào")
    body = raw(update)
    body = body[:-1] + b" " * (limit + 1 - len(body)) + b"}"  # valid JSON, 1 byte too many
    assert len(body) == limit + 1
    assert await tg.handle_request(SECRET, body, rec) == (413, {"error":
                                                                "request body too large"})
    event = zalo_event(text="xin chào")
    zbody = raw(event)
    zbody = zbody[:-1] + b" " * (limit + 1 - len(zbody)) + b"}"
    spy = ParseSpy()
    monkeypatch.setattr(zalo_module, "json", spy)
    status, _ = await zalo.handle_request(sign_raw(zbody, event["timestamp"]), zbody, rec)
    await zalo.drain()
    assert status == 413 and spy.parsed == 0
    assert rec.messages == [] and row_counts(db_url) == dict.fromkeys(TABLES, 0)


class ParseSpy(types.SimpleNamespace):
    """Stands for the `json` module of bot.channels.zalo: counts parsing."""

    def __init__(self) -> None:
        super().__init__(parsed=0, dumps=json.dumps)

    def loads(self, *args: Any, **kwargs: Any) -> Any:
        self.parsed += 1
        return json.loads(*args, **kwargs)


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_oversized_bodies_are_refused_by_the_webhook_routes(tg, zalo, db_url):
    """Through the Sanic routes Rasa registers: the body is read at most up to the limit
    (also without Content-Length, chunked), and the Telegram secret before any of it."""
    from rasa.core.channels.channel import register
    from sanic import Sanic

    rec = Recorder()
    app = Sanic(f"attacks_{int(time.time() * 1000)}")
    register([tg, zalo], app, route="/webhooks/")
    app.ctx.agent = types.SimpleNamespace(handle_message=rec)  # what Rasa's handler calls
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.start_serving()
    base = f"http://127.0.0.1:{port}/webhooks"
    big = b"{" + b" " * (max_webhook_bytes() + 10) + b"}"

    async def chunked():
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    try:
        async with aiohttp.ClientSession() as session:
            header = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for url, headers in ((f"{base}/telegram_ptb/webhook", header),
                                 (f"{base}/zalo/webhook", {"X-ZEvent-Signature": "mac=0"})):
                async with session.post(url, data=big, headers=headers) as resp:
                    assert resp.status == 413
                async with session.post(url, data=chunked(), headers=headers) as resp:
                    assert resp.status == 413
            async with session.post(f"{base}/telegram_ptb/webhook", data=big) as resp:
                assert resp.status == 403  # no secret: refused before the body is read
            ok = raw(tg_message_update(text="xin chào"))
            async with session.post(f"{base}/telegram_ptb/webhook", data=ok,
                                    headers=header) as resp:
                assert resp.status == 200
            header_z, body_z = zalo_signed(zalo_event(text="xin chào"))
            async with session.post(f"{base}/zalo/webhook", data=body_z,
                                    headers={"X-ZEvent-Signature": header_z}) as resp:
                assert resp.status == 200
        await zalo.drain()
        assert [m.text for m in rec.messages] == ["xin chào", "xin chào"]
    finally:
        server.close()
        await server.wait_closed()
        sock.close()


# -- Zalo: the signature first, on the raw bytes -----------------------------------------
@pytest.mark.parametrize("case", ["not_json", "valid_event_wrong_mac", "no_header",
                                  "follow_wrong_mac", "stale"])
async def test_zalo_wrong_signature_is_rejected_before_parsing_and_costs_no_write(
        zalo, db_url, monkeypatch, case):
    rec = Recorder()
    spy = ParseSpy()
    monkeypatch.setattr(zalo_module, "json", spy)
    now = int(time.time() * 1000)
    if case == "not_json":
        body, header = b'{"timestamp": "%d", "event_name": ' % now, "mac=" + "0" * 64
    elif case == "follow_wrong_mac":
        event = zalo_event("follow", timestamp_ms=now)
        event["follower"] = {"id": "u-follow"}
        header, body = zalo_signed(event, secret="not-the-oa-secret")
    elif case == "stale":
        header, body = zalo_signed(zalo_event(timestamp_ms=now - 3_600_000))
    else:
        header, body = zalo_signed(zalo_event(timestamp_ms=now), secret="not-the-oa-secret")
        header = None if case == "no_header" else header
    status, payload = await zalo.handle_request(header, body, rec)
    await zalo.drain()
    assert status == 403, payload
    assert spy.parsed == 0  # refused on the raw bytes
    assert rec.messages == [] and row_counts(db_url) == dict.fromkeys(TABLES, 0)


async def test_telegram_wrong_secret_costs_no_write(tg, db_url):
    rec = Recorder()
    status, _ = await tg.handle_request("guess", raw(tg_message_update(text="hi")), rec)
    assert status == 403 and rec.messages == []
    assert row_counts(db_url) == dict.fromkeys(TABLES, 0)


# -- 5. only delivered media are photos --------------------------------------------------
async def test_typed_links_and_file_names_are_text_not_photos(tg, zalo):
    rec = Recorder()
    for typed in ("https://example.com/cccd-mat-truoc.jpg", "anh_chan_dung.png"):
        await tg_send(tg, tg_message_update(text=typed), rec)
        await zalo_send(zalo, zalo_event(text=typed), rec)
    pdf = {"file_id": "doc", "file_unique_id": "d", "mime_type": "application/pdf",
           "file_name": "cccd.jpg"}
    await tg_send(tg, tg_message_update(document=pdf), rec)  # not an image: not a photo
    assert len(rec.messages) == 4
    assert all("photos" not in m.metadata for m in rec.messages)
    image = zalo_event("user_send_image", text="")
    image["message"]["attachments"] = [{"type": "image",
                                        "payload": {"url": "https://zalo.example/1.jpg"}}]
    await zalo_send(zalo, image, rec)
    # A delivered image is fetched, but only from Zalo's own hosts (bot/channels/media.py).
    assert rec.messages[-1].metadata["photos"] == []
    assert rec.messages[-1].metadata["photo_problem"] == "fetch_failed"


# -- a clean answer, not a crash -----------------------------------------------------------
async def test_emoji_only_after_neutralising_gets_the_words_notice(tg, telegram_api):
    rec = Recorder()
    for typed in ("/", "EXTERNAL: ", "//🙂"):
        assert (await tg_send(tg, tg_message_update(chat_id=42, text=typed), rec))[0] == 200
    assert rec.messages == []
    assert telegram_api.sent_texts(42) == [MSG_NO_TEXT] * 3


async def test_concurrent_group_messages_still_get_one_line(telegram_api, db_url):
    channels = [TelegramInput(tg_config(telegram_api), new_store(db_url)) for _ in range(3)]
    telegram_api.clear()
    rec = Recorder()
    await asyncio.gather(*[tg_send(channels[i % 3], group_message(-100999, "group",
                                                                   text=f"tin {i}"), rec)
                           for i in range(9)])
    assert rec.messages == []
    assert telegram_api.sent_texts(-100999) == [MSG_PRIVATE_ONLY]
