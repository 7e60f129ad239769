"""Photos fetched from the fake Telegram and Zalo servers into the media store: encrypted on
disk, EXIF gone; a file that is not an image, too large, from a host that is not Zalo's,
or missing is refused with a problem code the update form answers."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.channels.media import fetch_zalo_photos, zalo_url_allowed
from bot.media import media_store, parse_ref
from tests.channels.conftest import SECRET, Recorder, raw, tg_message_update, zalo_event
from tests.channels.test_zalo import deliver
from tests.media.photos import NOT_AN_IMAGE, jpeg_with_gps


def _photo_update(file_id: str) -> bytes:
    return raw(tg_message_update(photo=[{"file_id": file_id, "file_unique_id": file_id,
                                         "width": 640, "height": 480}]))


def _on_disk(ref: str, tmp_path) -> bytes:
    key = parse_ref(ref)[0]
    return (tmp_path / "media" / key[:2] / key).read_bytes()


async def test_telegram_photo_is_encrypted_on_disk_and_loses_its_exif(tg_channel, telegram,
                                                                      tmp_path):
    original = jpeg_with_gps()
    telegram.add_file("ph-1", original)
    rec = Recorder()
    status, _ = await tg_channel.handle_request(SECRET, _photo_update("ph-1"), rec)
    assert status == 200
    [ref] = rec.messages[0].metadata["photos"]
    assert telegram.calls("download")[0].params == {"file_id": "ph-1"}
    at_rest = _on_disk(ref, tmp_path)
    assert original not in at_rest and b"PhoneMaker" not in at_rest and b"JFIF" not in at_rest
    data, mime = media_store().load(ref)
    assert mime == "image/jpeg" and b"PhoneMaker" not in data
    assert len(Image.open(io.BytesIO(data)).getexif()) == 0


@pytest.mark.parametrize("content, problem", [(NOT_AN_IMAGE, "not_image"),
                                              (jpeg_with_gps(120, 90), "too_small")])
async def test_telegram_file_refused_by_content(tg_channel, telegram, content, problem,
                                                tmp_path):
    telegram.add_file("bad", content)
    rec = Recorder()
    await tg_channel.handle_request(SECRET, raw(tg_message_update(document={
        "file_id": "bad", "file_unique_id": "b", "mime_type": "image/jpeg"})), rec)
    [msg] = rec.messages
    assert msg.metadata["photos"] == [] and msg.metadata["photo_problem"] == problem
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*/*"))


async def test_telegram_too_large_is_refused_before_download(tg_channel, telegram, monkeypatch):
    monkeypatch.setattr("bot.channels.media.media_settings",
                        lambda: {"max_bytes": 1000, "fetch_timeout_s": 5})
    telegram.add_file("big", jpeg_with_gps())
    rec = Recorder()
    await tg_channel.handle_request(SECRET, _photo_update("big"), rec)
    assert rec.messages[0].metadata["photo_problem"] == "too_large"
    assert telegram.calls("download") == []


async def test_telegram_unknown_file_asks_again(tg_channel, telegram):
    rec = Recorder()
    status, _ = await tg_channel.handle_request(SECRET, _photo_update("gone"), rec)
    assert status == 200
    assert rec.messages[0].metadata["photo_problem"] == "fetch_failed"


async def test_zalo_image_is_fetched_and_encrypted(zalo_channel, zalo_server, monkeypatch,
                                                   tmp_path):
    monkeypatch.setenv("ZALO_MEDIA_HOSTS", "127.0.0.1")
    original = jpeg_with_gps(800, 600)
    event = zalo_event("user_send_image", text="", user_id="u9")
    event["message"]["attachments"] = [{"type": "image", "payload": {
        "url": zalo_server.media_url("front.jpg", original)}}]
    rec = Recorder()
    await deliver(zalo_channel, event, rec)
    [ref] = rec.messages[0].metadata["photos"]
    assert zalo_server.calls("media")[0].params == {"name": "front.jpg"}
    assert original not in _on_disk(ref, tmp_path)
    data, _ = media_store().load(ref)
    assert Image.open(io.BytesIO(data)).size == (800, 600) and b"PhoneMaker" not in data


async def test_zalo_not_an_image_and_too_large(zalo_server, monkeypatch):
    monkeypatch.setenv("ZALO_MEDIA_HOSTS", "127.0.0.1")
    metadata = {"photos": [zalo_server.media_url("doc.jpg", NOT_AN_IMAGE)]}
    await fetch_zalo_photos(metadata)
    assert metadata == {"photos": [], "photo_problem": "not_image"}
    monkeypatch.setattr("bot.channels.media.media_settings",
                        lambda: {"max_bytes": 1000, "fetch_timeout_s": 5})
    metadata = {"photos": [zalo_server.media_url("big.jpg", jpeg_with_gps())]}
    await fetch_zalo_photos(metadata)
    assert metadata["photo_problem"] == "too_large"


async def test_zalo_url_outside_zalo_hosts_is_never_fetched(zalo_server, monkeypatch):
    """The attack: an event pointing the fetch at an internal address."""
    monkeypatch.delenv("ZALO_MEDIA_HOSTS", raising=False)
    url = zalo_server.media_url("x.jpg", jpeg_with_gps())
    metadata = {"photos": [url]}
    await fetch_zalo_photos(metadata)
    assert metadata["photo_problem"] == "fetch_failed"
    assert zalo_server.calls("media") == []
    assert zalo_url_allowed("https://s120-ava-talk.zadn.vn/a/b.jpg")
    assert not zalo_url_allowed("http://s120.zadn.vn/a.jpg")  # plain http
    assert not zalo_url_allowed("https://zadn.vn.evil.example/a.jpg")
    assert not zalo_url_allowed("file:///etc/passwd")
