"""Our channels inside a real `rasa run` (a tiny keyword model trained from
tests/channels/rasa_smoke, independent of the real dialogue): webhook routes, secret,
dedup, the inbox worker started with the server, contact metadata in the tracker,
request_contact keyboard, buttons, Zalo token refresh, and
`trigger_intent?output_channel=telegram_ptb|zalo`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.conftest import APP_ID, APP_SECRET, OA_SECRET, zalo_signed
from tests.channels.fakes import FakeTelegram, FakeZalo
from tests.channels.test_e2e import REPO, _post
from tests.servers import free_port, rasa_server_command, rasa_token_query, stack_env, wait_http

BIN = Path(sys.executable).parent
SMOKE = Path(__file__).with_name("rasa_smoke")
SECRET = "smoke-secret"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rasa(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("rasa-smoke")
    env = stack_env(BOT_DB_URL=f"sqlite:///{tmp / 'channels.db'}")
    train = subprocess.run(
        [str(BIN / "rasa"), "train", "--config", str(SMOKE / "config.yml"), "--domain",
         str(SMOKE / "domain.yml"), "--data", str(SMOKE / "data"), "--out", str(tmp),
         "--fixed-model-name", "smoke"], env=env, cwd=tmp, capture_output=True, text=True)
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]
    subprocess.run([str(BIN / "bot"), "db", "upgrade"], env=env, cwd=REPO, check=True,
                   capture_output=True)
    telegram, zalo = FakeTelegram().start(), FakeZalo(secret_key=APP_SECRET).start()
    (tmp / "credentials.yml").write_text(json.dumps({
        "bot.channels.telegram.TelegramInput": {
            "token": telegram.token, "secret_token": SECRET, "base_url": telegram.base_url},
        "bot.channels.zalo.ZaloInput": {
            "app_id": APP_ID, "oa_secret_key": OA_SECRET, "app_secret_key": APP_SECRET,
            "access_token": "expired-token", "refresh_token": zalo.refresh_token,
            "api_base_url": zalo.url, "oauth_base_url": zalo.url}}))
    (tmp / "endpoints.yml").write_text("{}\n")  # in-memory tracker store, no action server
    port = free_port()
    log = tmp / "rasa.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            rasa_server_command(str(tmp / "smoke.tar.gz"), port, tmp / "credentials.yml",
                                tmp / "endpoints.yml"),
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        if not wait_http(f"{url}/webhooks/zalo/", proc, 300):
            pytest.fail("rasa run did not start:\n" + log.read_text()[-3000:])
        yield {"url": url, "telegram": telegram, "zalo": zalo, "db_url": env["BOT_DB_URL"]}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        telegram.stop()
        zalo.stop()


def _tg_update(update_id: int, chat_id: int, **message) -> bytes:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Lan"}, **message}}).encode()


def _api(rasa: dict, path: str, body: dict | None = None) -> dict:
    sep = "&" if "?" in path else "?"
    request = urllib.request.Request(
        f"{rasa['url']}{path}{sep}{rasa_token_query()}",
        method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def test_telegram_inside_rasa(rasa):
    telegram: FakeTelegram = rasa["telegram"]
    hook = f"{rasa['url']}/webhooks/telegram_ptb/webhook"
    header = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    first = _tg_update(1, 77, text="chao")
    assert _post(hook, first, {}) == 403
    assert _post(hook, first, header) == 200
    assert _post(hook, first, header) == 200  # re-delivery: not processed again
    # answered at once; the inbox worker running in the Rasa process answers after
    telegram.wait_for("sendMessage", 2, timeout=30)
    time.sleep(0.5)
    assert telegram.sent_texts(77) == ["Dạ em chào anh/chị",
                                       "Anh/chị cho em xin số điện thoại ạ"]
    ask = telegram.calls("sendMessage")[1].params
    assert ask["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    contact = {"phone_number": "84901000001", "first_name": "Lan", "user_id": 77}
    assert _post(hook, _tg_update(2, 77, contact=contact), header) == 200
    telegram.wait_for("sendMessage", 3, timeout=30)
    answer = telegram.calls("sendMessage")[-1].params
    assert answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/greet"

    events = _api(rasa, "/conversations/tg-77/tracker")["events"]
    users = [e for e in events if e["event"] == "user"]
    assert [u["text"] for u in users] == ["chao", '/inform{"phone_number":"0901000001"}']
    # the own contact is proved server-side (identity ledger), never in message metadata
    assert "verified_msisdn" not in users[1]["metadata"]
    assert users[1]["metadata"]["channel"] == "telegram"
    from bot.backend import Backend

    backend = Backend(rasa["db_url"])
    try:
        assert backend.identity.verified_number("tg-77") == "0901000001"
    finally:
        backend.dispose()
    assert users[1]["input_channel"] == "telegram_ptb"

    before = len(telegram.sent_texts(77))
    _api(rasa, "/conversations/tg-77/trigger_intent?output_channel=telegram_ptb",
         {"name": "greet"})
    assert telegram.sent_texts(77)[before:] == ["Dạ em chào anh/chị",
                                                "Anh/chị cho em xin số điện thoại ạ"]


def test_zalo_inside_rasa(rasa):
    zalo: FakeZalo = rasa["zalo"]
    hook = f"{rasa['url']}/webhooks/zalo/webhook"
    event = {"app_id": APP_ID, "event_name": "user_send_text", "sender": {"id": "zu"},
             "recipient": {"id": "oa"}, "message": {"msg_id": "m1", "text": "chao"},
             "timestamp": str(int(time.time() * 1000))}
    header, body = zalo_signed(event)
    assert _post(hook, body, {"X-ZEvent-Signature": "mac=bad"}) == 403
    assert _post(hook, body, {"X-ZEvent-Signature": header}) == 200
    assert _post(hook, body, {"X-ZEvent-Signature": header}) == 200
    deadline = time.monotonic() + 30
    while len(zalo.texts("zu")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    assert zalo.texts("zu") == ["Dạ em chào anh/chị", "Anh/chị cho em xin số điện thoại ạ"]
    assert len(zalo.calls("oauth/refresh")) == 1  # the configured token had expired

    _api(rasa, "/conversations/zalo-zu/trigger_intent?output_channel=zalo", {"name": "inform"})
    last = zalo.messages("zu")[-1]
    assert last["text"] == "Dạ em đã nhận"
    assert last["attachment"]["payload"]["buttons"][0]["payload"] == "/greet"
