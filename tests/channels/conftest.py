"""Fixtures of the channel tests: a migrated SQLite DB, fake Telegram/Zalo servers,
a recording `on_new_message` callback."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from bot.channels.store import ChannelStore
from bot.channels.telegram import TelegramConfig, TelegramInput
from bot.channels.zalo import ZaloConfig, ZaloInput
from tests.channels.fakes import FakeTelegram, FakeZalo

SECRET = "s3cret-token"
APP_ID = "app-123"
OA_SECRET = "oa-secret-key"
APP_SECRET = "app-secret"


@pytest.fixture
def channel_db_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated SQLite database; also the backend's (`get_backend()`: the identity ledger
    the Telegram channel records a shared contact in)."""
    from bot import database as db
    from bot.backend import set_backend

    url = f"sqlite:///{tmp_path / 'channels.db'}"
    db.upgrade(url)
    monkeypatch.setenv("BOT_DB_URL", url)
    yield url
    set_backend(None, url)


def ledger(db_url: str):
    """The backend (identity ledger) of that database."""
    from bot.backend import get_backend

    assert get_backend().db_url == db_url
    return get_backend()


def new_store(db_url: str) -> ChannelStore:
    """A store with its own engine: what a second instance (process) would have."""
    from bot.database import make_engine

    return ChannelStore(make_engine(db_url))


@pytest.fixture
def store(channel_db_url) -> ChannelStore:
    return new_store(channel_db_url)


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def telegram(fake_telegram) -> FakeTelegram:
    fake_telegram.clear()
    with fake_telegram._lock:
        fake_telegram.updates.clear()
    return fake_telegram


@pytest.fixture
def tg_config(telegram) -> TelegramConfig:
    return TelegramConfig(token=telegram.token, secret_token=SECRET,
                          base_url=telegram.base_url, base_file_url=telegram.base_file_url)


@pytest.fixture
def tg_channel(tg_config, store) -> TelegramInput:
    return TelegramInput(tg_config, store)


@pytest.fixture
def zalo_server() -> Iterator[FakeZalo]:
    server = FakeZalo(secret_key=APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def zalo_config(zalo_server) -> ZaloConfig:
    return ZaloConfig(app_id=APP_ID, oa_secret_key=OA_SECRET, app_secret_key=APP_SECRET,
                      access_token=zalo_server.access_token,
                      refresh_token=zalo_server.refresh_token,
                      api_base_url=zalo_server.url, oauth_base_url=zalo_server.url,
                      retry_delays_s=(0.0, 0.0))


@pytest.fixture
def zalo_channel(zalo_config, store) -> ZaloInput:
    return ZaloInput(zalo_config, store)


class Recorder:
    """A fake `on_new_message`: records messages, optionally answers through the channel."""

    def __init__(self, reply: dict[str, Any] | None = None, fail_times: int = 0) -> None:
        self.messages: list[UserMessage] = []
        self.reply = reply
        self.fail_times = fail_times

    async def __call__(self, message: UserMessage) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("simulated Rasa failure")
        self.messages.append(message)
        if self.reply is not None:
            await message.output_channel.send_response(message.sender_id, dict(self.reply))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


# -- Telegram update builders ------------------------------------------------------------
_update_ids = iter(range(10_000, 10**9))


def tg_user(user_id: int = 42) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Lan"}


def tg_message_update(chat_id: int = 42, update_id: int | None = None, **message: Any
                      ) -> dict[str, Any]:
    body = {"message_id": 1, "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"}, "from": tg_user(chat_id)}
    body.update(message)
    return {"update_id": update_id or next(_update_ids), "message": body}


def tg_click_update(data: str, chat_id: int = 42) -> dict[str, Any]:
    return {"update_id": next(_update_ids), "callback_query": {
        "id": f"cq{chat_id}", "from": tg_user(chat_id), "chat_instance": "ci", "data": data,
        "message": {"message_id": 7, "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"}, "text": "menu"}}}


def raw(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


# -- Zalo event builders -------------------------------------------------------------------
_msg_ids = iter(range(1, 10**9))


def zalo_event(event_name: str = "user_send_text", user_id: str = "u1", text: str = "xin chào",
               msg_id: str | None = None, timestamp_ms: int | None = None,
               **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "app_id": APP_ID, "user_id_by_app": "ub1", "event_name": event_name,
        "sender": {"id": user_id}, "recipient": {"id": "oa1"},
        "message": {"msg_id": msg_id or f"msg{next(_msg_ids)}", "text": text},
        "timestamp": str(timestamp_ms or int(time.time() * 1000)),
    }
    event.update(extra)
    return event


def sign_raw(body: bytes, timestamp: str, secret: str = OA_SECRET) -> str:
    """The X-ZEvent-Signature header of these exact bytes."""
    mac = hashlib.sha256(APP_ID.encode() + body + timestamp.encode()
                         + secret.encode()).hexdigest()
    return f"mac={mac}"


def zalo_signed(event: dict[str, Any], secret: str = OA_SECRET) -> tuple[str, bytes]:
    body = raw(event)
    return sign_raw(body, event["timestamp"], secret), body
