"""Zalo OA channel against a fake OA API: signature, replay window, echo, dedup,
token refresh single-flight, 48-hour window, bad input."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time

import pytest

from bot.channels import common as channel_common
from bot.channels import zalo as zalo_module
from bot.channels.zalo import ZaloClient, ZaloConfig, ZaloInput, ZaloOutput
from bot.texts import text as domain_text
from tests.channels.conftest import (
    OA_SECRET,
    Recorder,
    new_store,
    raw,
    sign_raw,
    zalo_event,
    zalo_signed,
)

# The channel's own notices, as the domain words them.
MSG_NO_TEXT = domain_text("utter_channel_no_text", "zalo")
MSG_UNSUPPORTED = domain_text("utter_channel_unsupported", "zalo")


async def deliver(channel: ZaloInput, event: dict, rec, secret: str = OA_SECRET):
    header, body = zalo_signed(event, secret)
    result = await channel.handle_request(header, body, rec)
    await channel.drain()
    return result


async def test_text_is_answered_at_once_then_processed(zalo_channel, zalo_server):
    rec = Recorder(reply={"text": "Dạ em chào anh/chị"})
    header, body = zalo_signed(zalo_event(text="kiem tra thong tin thue bao", user_id="u7"))
    status, payload = await zalo_channel.handle_request(header, body, rec)
    assert (status, payload) == (200, {"status": "accepted"})
    assert rec.messages == []  # processing happens after the answer
    await zalo_channel.drain()
    [msg] = rec.messages
    assert msg.text == "kiem tra thong tin thue bao"
    assert msg.sender_id == "zalo-u7"
    assert msg.input_channel == "zalo"
    assert msg.metadata == {"channel": "zalo", "user_id": "u7"}
    [sent] = zalo_server.calls("message/cs")
    assert sent.headers["access_token"] == "access-1"
    assert sent.params["recipient"] == {"user_id": "u7"}
    assert sent.params["message"] == {"text": "Dạ em chào anh/chị"}


@pytest.mark.parametrize("mutate", ["wrong_secret", "no_header", "tampered"])
async def test_bad_signature_is_rejected(zalo_channel, recorder, mutate):
    event = zalo_event()
    header, body = zalo_signed(event, "other-secret" if mutate == "wrong_secret" else OA_SECRET)
    if mutate == "no_header":
        header = None
    if mutate == "tampered":
        body = body.replace(b"xin", b"XIN")
    status, payload = await zalo_channel.handle_request(header, body, recorder)
    await zalo_channel.drain()
    assert status == 403 and payload == {"error": "wrong signature"}
    assert recorder.messages == []


async def test_stale_timestamp_is_rejected(zalo_channel, recorder):
    old = int(time.time() * 1000) - 301_000
    status, payload = await deliver(zalo_channel, zalo_event(timestamp_ms=old), recorder)
    assert (status, payload) == (403, {"error": "stale timestamp"})
    fresh = int(time.time() * 1000) - 200_000
    assert (await deliver(zalo_channel, zalo_event(timestamp_ms=fresh), recorder))[0] == 200
    assert len(recorder.messages) == 1


async def test_echo_of_oa_messages_is_ignored(zalo_channel, recorder, zalo_server):
    event = zalo_event("oa_send_text", user_id="oa1", text="Dạ em chào anh/chị")
    assert await deliver(zalo_channel, event, recorder) == (200, {"status": "ignored"})
    assert recorder.messages == [] and zalo_server.calls("message/cs") == []


@pytest.mark.parametrize("event_name,expected", [
    ("follow", "noted"), ("unfollow", "noted"), ("user_seen_message", "ignored"),
    ("brand_new_event_type", "ignored")])
async def test_other_events_are_handled_gracefully(zalo_channel, recorder, event_name,
                                                   expected):
    event = zalo_event(event_name)
    if event_name in ("follow", "unfollow"):
        event.pop("sender")
        event.pop("message")
        event["follower"] = {"id": "u9"}
    assert await deliver(zalo_channel, event, recorder) == (200, {"status": expected})
    assert recorder.messages == []


async def test_malformed_input_is_a_clean_4xx(zalo_channel, recorder):
    # Unsigned garbage is refused by the signature check (on the raw bytes, before parsing).
    assert (await zalo_channel.handle_request("mac=00", b"{not json", recorder))[0] == 403
    assert (await zalo_channel.handle_request("mac=00", b"[]", recorder))[0] == 403
    no_ts = zalo_event()
    no_ts["timestamp"] = ""
    assert (await zalo_channel.handle_request("mac=00", raw(no_ts), recorder))[0] == 403
    # Correctly signed but malformed: 400.
    now = str(int(time.time() * 1000))
    for body in (b'{"timestamp": "%s", not json' % now.encode(),
                 b'[{"timestamp": "%s"}]' % now.encode()):
        assert (await zalo_channel.handle_request(sign_raw(body, now), body, recorder))[0] \
            == 400
    missing = zalo_event()
    missing["message"].pop("msg_id")
    assert (await deliver(zalo_channel, missing, recorder))[0] == 400
    no_event = zalo_event()
    no_event.pop("event_name")
    assert (await deliver(zalo_channel, no_event, recorder))[0] == 400
    assert recorder.messages == []


async def test_duplicate_msg_id_is_processed_once_across_instances(zalo_config,
                                                                   channel_db_url):
    first = ZaloInput(zalo_config, new_store(channel_db_url))
    second = ZaloInput(zalo_config, new_store(channel_db_url))
    rec = Recorder()
    event = zalo_event(msg_id="dup-1")
    header, body = zalo_signed(event)
    results = await asyncio.gather(*[c.handle_request(header, body, rec)
                                     for c in (first, second, first, second)])
    assert all(status == 200 for status, _ in results)  # Zalo always gets a fast 200
    await asyncio.gather(first.drain(), second.drain())
    assert len(rec.messages) == 1
    restarted = ZaloInput(zalo_config, new_store(channel_db_url))
    await deliver(restarted, event, rec)
    assert len(rec.messages) == 1


async def test_image_goes_to_rasa_as_a_stored_copy(zalo_channel, zalo_server, monkeypatch):
    from bot.media import is_media_ref
    from tests.media.photos import jpeg_with_gps

    monkeypatch.setenv("ZALO_MEDIA_HOSTS", "127.0.0.1")
    rec = Recorder()
    event = zalo_event("user_send_image", text="")
    event["message"]["attachments"] = [{"type": "image", "payload": {
        "url": zalo_server.media_url("1.jpg", jpeg_with_gps()),
        "thumbnail": zalo_server.media_url("t.jpg")}}]
    await deliver(zalo_channel, event, rec)
    [msg] = rec.messages
    assert msg.text == "/inform"
    assert set(msg.metadata) == {"channel", "user_id", "photos"}
    assert msg.metadata["user_id"] == "u1" and is_media_ref(msg.metadata["photos"][0])


async def test_huge_emoji_and_sticker_get_polite_answers(zalo_channel, zalo_server):
    rec = Recorder()
    await deliver(zalo_channel, zalo_event(text="x" * 100_000, user_id="u5"), rec)
    await deliver(zalo_channel, zalo_event(text="👍👍", user_id="u5"), rec)
    await deliver(zalo_channel, zalo_event("user_send_sticker", user_id="u5"), rec)
    assert rec.messages == []
    texts = zalo_server.texts("u5")
    assert len(texts) == 3 and "dài quá" in texts[0]
    assert texts[1:] == [MSG_NO_TEXT, MSG_UNSUPPORTED]


async def test_buttons_are_a_button_template_and_long_text_is_split(zalo_config, zalo_server,
                                                                    store):
    output = ZaloOutput(zalo_config, store)
    await output.send_response("zalo-u1", {"text": "Anh/chị chọn giúp em:", "buttons": [
        {"title": "Có", "payload": "/affirm"}, {"title": "Không", "payload": "/deny"}]})
    [message] = zalo_server.messages("u1")
    assert message["text"] == "Anh/chị chọn giúp em:"
    assert message["attachment"]["type"] == "template"
    payload = message["attachment"]["payload"]
    assert payload["template_type"] == "button"
    assert payload["buttons"] == [
        {"title": "Có", "type": "oa.query.show", "payload": "/affirm"},
        {"title": "Không", "type": "oa.query.show", "payload": "/deny"}]
    zalo_server.clear()
    await output.send_text_message("u1", "Dạ vâng. " * 600)
    texts = zalo_server.texts("u1")
    assert len(texts) == 3 and all(len(t) <= 2000 for t in texts)


async def test_expired_token_is_refreshed_once_for_many_concurrent_replies(
        zalo_config, zalo_server, store):
    store.seed_token(zalo_config.oa_key, "access-old", "refresh-1")  # expired access token
    output = ZaloOutput(zalo_config, store)
    await asyncio.gather(*[output.send_text_message(f"u{i}", f"tin {i}") for i in range(8)])
    assert len(zalo_server.calls("oauth/refresh")) == 1
    refresh = zalo_server.calls("oauth/refresh")[0]
    assert refresh.params == {"refresh_token": "refresh-1", "app_id": "app-123",
                              "grant_type": "refresh_token"}
    assert refresh.headers["secret_key"] == "app-secret"
    assert sorted(zalo_server.texts()) == sorted(f"tin {i}" for i in range(8))
    row = store.token(zalo_config.oa_key)
    assert (row.access_token, row.refresh_token, row.version) == ("access-2", "refresh-2", 2)


async def test_refresh_is_single_flight_across_instances(zalo_config, zalo_server,
                                                         channel_db_url, monkeypatch):
    """Two instances (own engines, no shared asyncio lock): the DB lease lets one refresh."""
    monkeypatch.setattr(zalo_module, "_refresh_lock", lambda _key: asyncio.Lock())
    new_store(channel_db_url).seed_token(zalo_config.oa_key, "access-old", "refresh-1")
    clients = [ZaloClient(zalo_config, new_store(channel_db_url)) for _ in range(2)]
    await asyncio.gather(*[clients[i % 2].send(f"u{i}", {"text": f"m{i}"}) for i in range(6)])
    assert len(zalo_server.calls("oauth/refresh")) == 1
    assert len(zalo_server.messages()) == 6


async def test_window_error_logs_and_opens_a_ticket(zalo_config, zalo_server, store,
                                                    monkeypatch, caplog):
    opened: list[dict] = []
    monkeypatch.setattr(channel_common, "_handoff_opener", lambda **kwargs: opened.append(kwargs))
    zalo_server.closed_window.add("u8")
    output = ZaloOutput(zalo_config, store)
    await output.send_text_message("zalo-u8", "Dạ em gửi kết quả ạ")
    await output.send_text_message("zalo-u8", "Anh/chị cần gì thêm không ạ")
    assert zalo_server.messages("u8") == []
    assert "48-hour" in caplog.text
    assert len(opened) == 1  # one ticket per conversation, not per message
    ticket = opened[0]
    assert ticket["conversation_id"] == "zalo-u8" and ticket["reason"] == "zalo_window"
    assert ticket["channel"] == "zalo" and ticket["user_id"] == "u8"
    assert ticket["transcript"] == [{"role": "bot", "text": "Dạ em gửi kết quả ạ"}]
    from bot.handoff import tickets as real

    inspect.signature(real.open_unreachable).bind(**ticket)  # the hand-off contract holds
    assert ticket["reason"] in real.REASONS and isinstance(ticket["priority"], int)


async def test_window_error_without_a_connected_desk_does_not_crash(zalo_config, zalo_server,
                                                                    store, monkeypatch):
    monkeypatch.setattr(channel_common, "_handoff_opener", None)  # nothing connected
    zalo_server.closed_window.add("u8")
    await ZaloOutput(zalo_config, store).send_text_message("u8", "Dạ")


async def test_window_error_with_a_failing_desk_does_not_crash(zalo_config, zalo_server,
                                                               store, monkeypatch):
    def opener(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(channel_common, "_handoff_opener", opener)
    zalo_server.closed_window.add("u8")
    await ZaloOutput(zalo_config, store).send_text_message("u8", "Dạ")


async def test_outbound_send_text(zalo_server, zalo_config, monkeypatch, channel_db_url):
    from bot.channels import outbound

    for key, value in {"ZALO_APP_ID": "app-123", "ZALO_OA_SECRET_KEY": "oa-secret-key",
                       "ZALO_ACCESS_TOKEN": "access-1", "ZALO_REFRESH_TOKEN": "refresh-1",
                       "ZALO_API_BASE_URL": zalo_server.url,
                       "ZALO_OAUTH_BASE_URL": zalo_server.url}.items():
        monkeypatch.setenv(key, value)
    st = new_store(channel_db_url)
    await outbound.send_text("zalo", "zalo-u1", "Dạ nhân viên đã xử lý xong ạ", store=st)
    assert zalo_server.texts("u1") == ["Dạ nhân viên đã xử lý xong ạ"]
    zalo_server.closed_window.add("u2")
    monkeypatch.setitem(sys.modules, "bot.handoff.tickets", None)
    with pytest.raises(outbound.WindowClosed):
        await outbound.send_text("zalo", "u2", "Dạ", store=st)


def test_output_channel_name(zalo_channel):
    assert zalo_channel.get_output_channel().name() == "zalo"
    assert ZaloInput(ZaloConfig(app_id=None, oa_secret_key=None)).get_output_channel() is None


async def test_one_users_messages_reach_rasa_in_arrival_order(zalo_channel):
    rec = Recorder()
    texts = [f"tin nhắn số {i}" for i in range(12)]
    for text in texts:  # delivered back to back, processed in the background
        header, body = zalo_signed(zalo_event(text=text, user_id="u-order"))
        assert (await zalo_channel.handle_request(header, body, rec))[0] == 200
    await zalo_channel.drain()
    assert [m.text for m in rec.messages] == texts
