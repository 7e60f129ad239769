"""Telegram channel against a fake Bot API: secret, dedup, buttons, split, contact, photos,
bad input. The Rasa side is a recording `on_new_message`."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.channels.telegram import TelegramConfig, TelegramInput
from bot.texts import text
from tests.channels.conftest import (
    SECRET,
    Recorder,
    ledger,
    new_store,
    raw,
    tg_click_update,
    tg_message_update,
)

# The channel's own notices, as the domain words them.
MSG_NO_TEXT = text("utter_channel_no_text", "telegram_ptb")
MSG_UNSUPPORTED = text("utter_channel_unsupported", "telegram_ptb")


async def test_text_goes_to_rasa_with_conventions_and_reply_reaches_chat(tg_channel, telegram):
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    update = tg_message_update(chat_id=42, text="kiem tra thong tin thue bao")
    status, body = await tg_channel.handle_request(SECRET, raw(update), rec)
    assert (status, body) == (200, {"status": "accepted"})
    [msg] = rec.messages
    assert msg.text == "kiem tra thong tin thue bao"
    assert msg.sender_id == "tg-42"
    assert msg.input_channel == "telegram_ptb"
    assert msg.metadata == {"channel": "telegram", "user_id": "42"}
    assert msg.output_channel.name() == "telegram_ptb"  # buffered until the turn ends
    [sent] = telegram.calls("sendMessage")
    assert sent.params["chat_id"] == "42" and sent.params["text"] == "Dạ em chào anh/chị"


@pytest.mark.parametrize("secret", [None, "", "wrong"])
async def test_missing_or_wrong_secret_is_rejected(tg_channel, recorder, secret):
    status, _ = await tg_channel.handle_request(secret, raw(tg_message_update(text="hi")),
                                                recorder)
    assert status == 403
    assert recorder.messages == []


async def test_without_configured_secret_everything_is_rejected(telegram, store, recorder):
    channel = TelegramInput(TelegramConfig(token=telegram.token, secret_token=None,
                                           base_url=telegram.base_url), store)
    status, _ = await channel.handle_request("anything", raw(tg_message_update(text="hi")),
                                             recorder)
    assert status == 403 and recorder.messages == []


async def test_unconfigured_channel_answers_503(store, recorder):
    channel = TelegramInput(TelegramConfig(token=None, secret_token=None), store)
    status, _ = await channel.handle_request(SECRET, b"{}", recorder)
    assert status == 503
    assert channel.get_output_channel() is None


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"message": {}}',
                                  b'{"update_id": "x"}', b"{\"update_id\": 1, \"message\": 5}"
])
async def test_malformed_input_is_a_clean_4xx(tg_channel, recorder, body):
    status, payload = await tg_channel.handle_request(SECRET, body, recorder)
    assert 400 <= status < 500 and "error" in payload
    assert recorder.messages == []


async def test_duplicate_delivery_is_processed_once(tg_channel, recorder):
    update = tg_message_update(text="xin chào")
    assert (await tg_channel.handle_request(SECRET, raw(update), recorder))[0] == 200
    status, body = await tg_channel.handle_request(SECRET, raw(update), recorder)
    assert (status, body) == (200, {"status": "duplicate"})
    assert len(recorder.messages) == 1


async def test_two_instances_sharing_a_db_process_an_update_once(tg_config, channel_db_url):
    first = TelegramInput(tg_config, new_store(channel_db_url))
    second = TelegramInput(tg_config, new_store(channel_db_url))
    rec = Recorder()
    update = raw(tg_message_update(text="xin chào"))
    results = await asyncio.gather(*[c.handle_request(SECRET, update, rec)
                                     for c in (first, second, first, second)])
    assert sorted(body["status"] for _, body in results) == [
        "accepted", "duplicate", "duplicate", "duplicate"]
    assert len(rec.messages) == 1
    # ... and after a "restart" (fresh instance, same DB)
    third = TelegramInput(tg_config, new_store(channel_db_url))
    assert (await third.handle_request(SECRET, update, rec))[1] == {"status": "duplicate"}


async def test_buttons_become_inline_keyboard_and_click_sends_payload(tg_channel, telegram):
    long_payload = '/inform{"service":"FUNRING","confirmation":"yes-please-cancel-it-now"}'
    assert len(long_payload.encode()) > 64
    rec = Recorder(reply={"text": "Anh/chị chọn giúp em:", "buttons": [
        {"title": "Có", "payload": "/affirm"}, {"title": "Hủy nhạc chờ",
                                                "payload": long_payload}]})
    await tg_channel.handle_request(SECRET, raw(tg_message_update(text="menu")), rec)
    [sent] = telegram.calls("sendMessage")
    keyboard = sent.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Có", "Hủy nhạc chờ"]
    assert keyboard[0][0]["callback_data"] == "/affirm"
    stored = keyboard[1][0]["callback_data"]
    assert len(stored.encode()) <= 64 and stored != long_payload

    clicks = Recorder()
    for data, expected in (("/affirm", "/affirm"), (stored, long_payload)):
        status, _ = await tg_channel.handle_request(SECRET, raw(tg_click_update(data)), clicks)
        assert status == 200
        assert clicks.messages[-1].text == expected
        assert clicks.messages[-1].sender_id == "tg-42"
        assert clicks.messages[-1].metadata == {"channel": "telegram", "user_id": "42"}
    answered = telegram.calls("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == ["cq42", "cq42"]


async def test_long_reply_is_split_at_4096(tg_channel, telegram):
    paragraph = "Dạ, đây là thông tin chi tiết về dịch vụ của anh/chị. " * 60  # ~3.3k chars
    text = "\n\n".join([paragraph.strip()] * 3)
    rec = Recorder(reply={"text": text})
    await tg_channel.handle_request(SECRET, raw(tg_message_update(text="chi tiết")), rec)
    pieces = telegram.sent_texts(42)
    assert len(pieces) >= 3
    assert all(len(p) <= 4096 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")


async def test_own_contact_is_recorded_in_the_identity_ledger(tg_channel, channel_db_url):
    rec = Recorder()
    update = tg_message_update(chat_id=42, contact={"phone_number": "+84901000001",
                                                    "first_name": "Lan", "user_id": 42})
    assert ledger(channel_db_url).identity.verified_number("tg-42") is None
    assert (await tg_channel.handle_request(SECRET, raw(update), rec))[0] == 200
    [msg] = rec.messages
    assert msg.text == '/inform{"phone_number":"0901000001"}'
    # the proof is server-side; the message claims nothing
    assert msg.metadata == {"channel": "telegram", "user_id": "42"}
    assert ledger(channel_db_url).identity.verified_number("tg-42") == "0901000001"
    link = tg_channel.store.link("telegram", "42")
    assert link["verified_msisdn"] == "0901000001"  # the call center's lookup


@pytest.mark.parametrize("contact_user", [777, None])
async def test_someone_elses_contact_does_not_verify(tg_channel, contact_user, channel_db_url):
    rec = Recorder()
    contact = {"phone_number": "0901000002", "first_name": "Nam"}
    if contact_user is not None:
        contact["user_id"] = contact_user
    await tg_channel.handle_request(SECRET, raw(tg_message_update(chat_id=42,
                                                                  contact=contact)), rec)
    [msg] = rec.messages
    assert msg.text == '/inform{"phone_number":"0901000002"}'
    assert "verified_msisdn" not in msg.metadata
    assert tg_channel.store.link("telegram", "42")["verified_msisdn"] is None
    assert ledger(channel_db_url).identity.verified_number("tg-42") is None


async def test_request_contact_signal_sends_share_number_keyboard(tg_channel, telegram):
    rec = Recorder(reply={"text": "Anh/chị cho em xin số điện thoại ạ",
                          "custom": {"request_contact": True}})
    await tg_channel.handle_request(SECRET, raw(tg_message_update(text="tttb")), rec)
    [sent] = telegram.calls("sendMessage")
    assert sent.params["text"] == "Anh/chị cho em xin số điện thoại ạ"
    [[button]] = sent.params["reply_markup"]["keyboard"]
    assert button["request_contact"] is True
    assert sent.params["reply_markup"]["one_time_keyboard"] is True


async def test_photo_goes_to_rasa_as_a_stored_copy(tg_channel, telegram):
    """The largest size of a photo, or an image sent as a file, is fetched (getFile) into
    the media store; Rasa gets its media reference, never the file id."""
    from bot.media import is_media_ref
    from tests.media.photos import jpeg_with_gps

    telegram.add_file("large", jpeg_with_gps())
    telegram.add_file("doc-img", jpeg_with_gps(color=(1, 2, 3)))
    rec = Recorder()
    photo = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280}]
    await tg_channel.handle_request(SECRET, raw(tg_message_update(photo=photo)), rec)
    await tg_channel.handle_request(SECRET, raw(tg_message_update(
        photo=photo, caption="ảnh chân dung")), rec)
    await tg_channel.handle_request(SECRET, raw(tg_message_update(document={
        "file_id": "doc-img", "file_unique_id": "d", "mime_type": "image/jpeg"})), rec)
    await tg_channel.handle_request(SECRET, raw(tg_message_update(document={
        "file_id": "doc-pdf", "file_unique_id": "p", "mime_type": "application/pdf"})), rec)
    assert [m.text for m in rec.messages] == ["/inform", "ảnh chân dung", "/inform"]
    assert [c.params["file_id"] for c in telegram.calls("getFile")] == [
        "large", "large", "doc-img"]
    [ref] = rec.messages[0].metadata["photos"]
    assert is_media_ref(ref)
    assert set(rec.messages[2].metadata) == {"channel", "user_id", "photos"}
    assert is_media_ref(rec.messages[2].metadata["photos"][0])


async def test_huge_emoji_and_sticker_messages_get_polite_answers(tg_channel, telegram):
    rec = Recorder()
    huge = "a" * 100_000
    for update in (tg_message_update(text=huge), tg_message_update(text="😀😀🙏"),
                   tg_message_update(sticker={"file_id": "st", "file_unique_id": "st",
                                              "width": 1, "height": 1, "is_animated": False,
                                              "is_video": False, "type": "regular"})):
        status, _ = await tg_channel.handle_request(SECRET, raw(update), rec)
        assert status == 200
    assert rec.messages == []
    texts = telegram.sent_texts(42)
    assert len(texts) == 3
    assert "dài quá" in texts[0] and texts[1] == MSG_NO_TEXT and texts[2] == MSG_UNSUPPORTED


async def test_output_channel_for_trigger_intent_strips_prefix(tg_channel, telegram):
    output = tg_channel.get_output_channel()
    assert output.name() == "telegram_ptb"
    await output.send_response("tg-99", {"text": "Dạ em gửi anh/chị kết quả ạ"})
    assert telegram.sent_texts(99) == ["Dạ em gửi anh/chị kết quả ạ"]


async def test_outbound_send_text(telegram, monkeypatch, channel_db_url):
    from bot.channels import outbound

    monkeypatch.setenv("TELEGRAM_TOKEN", telegram.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", telegram.base_url)
    await outbound.send_text("telegram", "55", "Dạ em là nhân viên hỗ trợ",
                             buttons=[{"title": "Cảm ơn", "payload": "/thank"}],
                             store=new_store(channel_db_url))
    [sent] = telegram.calls("sendMessage")
    assert sent.params["chat_id"] == "55"
    assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/thank"
    with pytest.raises(outbound.OutboundError):
        await outbound.send_text("sms", "55", "x")


async def test_polling_relay_drives_the_webhook_code(telegram, tg_channel):
    """`bot telegram poll`: getUpdates -> POST to the Rasa webhook (here a tiny server that
    calls the same TelegramInput.handle_request)."""
    from aiohttp import web

    from bot.channels.cli import relay_updates

    rec = Recorder()

    async def hook(request: web.Request) -> web.Response:
        status, payload = await tg_channel.handle_request(
            request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.read(), rec)
        return web.json_response(payload, status=status)

    app = web.Application()
    app.router.add_post("/webhooks/telegram_ptb/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        first = tg_message_update(text="xin chào")
        telegram.queue_update(first)
        telegram.queue_update(tg_message_update(text="kiểm tra số dư"))
        relayed = await relay_updates(tg_channel.config, f"http://127.0.0.1:{port}",
                                      timeout=0, once=True)
        assert relayed == 2
        assert [m.text for m in rec.messages] == ["xin chào", "kiểm tra số dư"]
        assert telegram.calls("deleteWebhook")
        # a re-fetched update (same update_id) is not processed twice
        await tg_channel.handle_request(SECRET, raw(first), rec)
        assert len(rec.messages) == 2
    finally:
        await runner.cleanup()


def test_channels_register_on_a_sanic_app(tg_config, zalo_config):
    from rasa.core.channels.channel import register
    from sanic import Sanic

    from bot.channels.zalo import ZaloInput

    app = Sanic("channels_test_app")
    register([TelegramInput(tg_config), ZaloInput(zalo_config)], app, route="/webhooks/")
    uris = {route.path for route in app.router.routes}
    assert "webhooks/telegram_ptb/webhook" in uris and "webhooks/zalo/webhook" in uris


def test_credentials_file_loads_without_any_channel_env(monkeypatch):
    from rasa.core.run import create_http_input_channels

    for name in ("TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "ZALO_APP_ID", "ZALO_OA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    channels = create_http_input_channels(None, "credentials.yml")
    names = sorted(c.name() for c in channels)
    assert names == ["rest", "telegram_ptb", "zalo"]
    assert json.dumps(names)


async def test_unmigrated_database_answers_503_so_telegram_retries(tg_config, tmp_path,
                                                                   recorder):
    from bot.channels.store import ChannelStore
    from bot.database import make_engine

    channel = TelegramInput(tg_config, ChannelStore(make_engine(f"sqlite:///{tmp_path}/x.db")))
    status, _ = await channel.handle_request(SECRET, raw(tg_message_update(text="hi")),
                                             recorder)
    assert status == 503 and recorder.messages == []


async def test_request_contact_together_with_buttons(tg_channel, telegram):
    output = tg_channel.get_output_channel()
    await output.send_response("tg-42", {"text": "Anh/chị chọn giúp em",
                                         "buttons": [{"title": "Dừng", "payload": "/stop"}],
                                         "custom": {"request_contact": True}})
    sent = [c.params for c in telegram.calls("sendMessage")]
    assert len(sent) == 2
    assert sent[0]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert sent[1]["text"] == "Anh/chị chọn giúp em"
    assert sent[1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/stop"
