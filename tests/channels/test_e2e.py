"""END-TO-END over each channel: a customer asks for their subscriber information, proves
ownership and gets the masked information, through a real `rasa run` (test model, our
credentials pointing at the fake Telegram/Zalo servers) and a real action server.

Needs TEST_MODEL (set by `make test-py`: a trained test model .tar.gz); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.channels.conftest import APP_ID, APP_SECRET, OA_SECRET, zalo_signed
from tests.channels.fakes import FakeTelegram, FakeZalo
from tests.servers import (
    REPO,
    action_server_command,
    free_port,
    rasa_server_command,
    seed_database,
    stack_env,
    wait_http,
    write_endpoints,
)

SECRET = "e2e-secret"
DEMO_NUMBER = "0901000001"  # complete information (docs/demo-numbers.md)
# Other complete demo numbers, so that the tests do not hit the 60 s OTP resend cool-down
# of one number.
ZALO_NUMBER = "0901000015"
CONTACT_NUMBER = "0901000010"
OTP = "123456"
MASKED_ID = re.compile(r"\*{3,}\d{3}")
TURN_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slow




@dataclass
class Stack:
    rasa_url: str
    telegram: FakeTelegram
    zalo: FakeZalo
    db_url: str
    logs: dict[str, Path]
    procs: list[subprocess.Popen]
    actions_port: int
    env: dict[str, str]

    def stop_actions(self) -> None:
        self.procs[0].terminate()
        self.procs[0].wait(20)

    def start_actions(self) -> None:
        with open(self.logs["actions"], "a") as out:
            self.procs[0] = subprocess.Popen(
                action_server_command(self.actions_port), env=self.env, cwd=REPO,
                stdout=out, stderr=subprocess.STDOUT)
        if not wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], 120):
            pytest.fail("the action server did not start again:\n" + self.log_tail())

    def log_tail(self) -> str:
        return "\n".join(f"--- {name} ---\n" + path.read_text(errors="replace")[-3000:]
                         for name, path in self.logs.items() if path.exists())


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    model = os.environ.get("TEST_MODEL")
    if not model:
        pytest.skip("TEST_MODEL is not set: the channel end-to-end test needs a trained test "
                    "model (run `make test-py`, which builds and exports it)")
    if not Path(model).is_file():
        pytest.skip(f"TEST_MODEL={model} does not exist (run `make .cache/models-test/.trained`)")
    tmp = tmp_path_factory.mktemp("channels-e2e")
    telegram, zalo = FakeTelegram().start(), FakeZalo(secret_key=APP_SECRET).start()
    db_url = f"sqlite:///{tmp / 'subscribers.db'}"
    env = stack_env(BOT_OTP_FIXED_CODE=OTP, BOT_DB_URL=db_url)
    seed_database(env)
    actions_port, rasa_port = free_port(), free_port()
    (tmp / "credentials.yml").write_text(json.dumps({
        "bot.channels.telegram.TelegramInput": {
            "token": telegram.token, "secret_token": SECRET, "base_url": telegram.base_url,
            "retry_delays_s": ",".join(["1"] * 10 + ["3"] * 30)},
        "bot.channels.zalo.ZaloInput": {
            "app_id": APP_ID, "oa_secret_key": OA_SECRET, "app_secret_key": APP_SECRET,
            "access_token": zalo.access_token, "refresh_token": zalo.refresh_token,
            "api_base_url": zalo.url, "oauth_base_url": zalo.url, "retry_delays_s": "0"},
    }))
    endpoints = write_endpoints(tmp / "endpoints.yml", actions_port)
    logs = {"actions": tmp / "actions.log", "rasa": tmp / "rasa.log"}
    procs: list[subprocess.Popen] = []
    try:
        with open(logs["actions"], "w") as out:
            procs.append(subprocess.Popen(
                action_server_command(actions_port), env=env, cwd=REPO, stdout=out,
                stderr=subprocess.STDOUT))
        with open(logs["rasa"], "w") as out:
            procs.append(subprocess.Popen(
                rasa_server_command(model, rasa_port, tmp / "credentials.yml", endpoints),
                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT))
        result = Stack(f"http://127.0.0.1:{rasa_port}", telegram, zalo, db_url, logs, procs,
                       actions_port, env)
        if not (wait_http(f"http://127.0.0.1:{actions_port}/health", procs[0], 120)
                and wait_http(f"{result.rasa_url}/webhooks/telegram_ptb/", procs[1], 420)):
            pytest.fail("rasa or the action server did not start:\n" + result.log_tail())
        yield result
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        telegram.stop()
        zalo.stop()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_new(read, before: int, stack: Stack, what: str) -> list:
    """Wait until the bot has answered (new messages, then 2 s of silence)."""
    deadline = time.monotonic() + TURN_TIMEOUT_S
    count, quiet_since = before, time.monotonic()
    while time.monotonic() < deadline:
        now_count = len(read())
        if now_count != count:
            count, quiet_since = now_count, time.monotonic()
        elif count > before and time.monotonic() - quiet_since > 2.0:
            return read()[before:]
        time.sleep(0.2)
    pytest.fail(f"no bot answer to {what!r}:\n" + stack.log_tail())


def _real_id_number(db_url: str, msisdn: str = DEMO_NUMBER) -> str:
    from bot.backend import Backend

    backend = Backend(db_url)
    try:
        return backend.subscribers.get(msisdn).id_number
    finally:
        backend.dispose()


class TelegramCustomer:
    """A Telegram user writing to the bot through the Rasa webhook (fake Bot API behind)."""

    def __init__(self, stack: Stack, chat_id: int) -> None:
        self.stack, self.chat_id = stack, chat_id
        self.url = f"{stack.rasa_url}/webhooks/telegram_ptb/webhook"
        self.update_id = chat_id * 1000

    def sent(self) -> list:
        return [c for c in self.stack.telegram.calls("sendMessage")
                if c.params.get("chat_id") == str(self.chat_id)]

    def send(self, what: str, **message) -> list:
        self.update_id += 1
        update = {"update_id": self.update_id, "message": {
            "message_id": self.update_id, "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private"},
            "from": {"id": self.chat_id, "is_bot": False, "first_name": "Lan"}, **message}}
        before = len(self.sent())
        status = _post(self.url, json.dumps(update).encode(), {
            "X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert status == 200, f"webhook answered {status}"
        return _wait_new(self.sent, before, self.stack, what)

    def say(self, text: str) -> list:
        return self.send(text, text=text)


def _texts(calls: list) -> str:
    return " ".join(str(c.params.get("text")) for c in calls)


def test_telegram_customer_checks_subscriber_info(stack: Stack):
    customer = TelegramCustomer(stack, 7001)
    assert _post(customer.url, b"{}", {"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
    customer.say("kiem tra thong tin thue bao")
    customer.say(DEMO_NUMBER)
    shown = _texts(customer.say(OTP))
    real_id = _real_id_number(stack.db_url)
    assert MASKED_ID.search(shown) and real_id[-3:] in shown, shown
    assert real_id not in _texts(customer.sent())


def test_telegram_offers_share_my_number_button(stack: Stack):
    """The dialogue marks the phone-number question with custom `{"request_contact": true}`
    (docs/channels.md); the channel turns it into a reply keyboard button."""
    asked = TelegramCustomer(stack, 7002).say("kiem tra thong tin thue bao")
    markups = [c.params.get("reply_markup") or {} for c in asked]
    assert any(b.get("request_contact") for m in markups for row in m.get("keyboard", [])
               for b in row), f"no share-my-number button in {[c.params for c in asked]}"


def test_telegram_own_contact_skips_the_otp(stack: Stack):
    customer = TelegramCustomer(stack, 7003)
    customer.say("kiem tra thong tin thue bao")
    contact = {"phone_number": "+84" + CONTACT_NUMBER[1:], "first_name": "Lan",
               "user_id": customer.chat_id}
    shown = _texts(customer.send("contact", contact=contact))
    real_id = _real_id_number(stack.db_url, CONTACT_NUMBER)
    assert MASKED_ID.search(shown) and real_id[-3:] in shown, shown
    assert OTP not in shown


def test_zalo_customer_checks_subscriber_info(stack: Stack):
    user_id = "zalo-e2e-user"
    url = f"{stack.rasa_url}/webhooks/zalo/webhook"
    texts = lambda: stack.zalo.texts(user_id)  # noqa: E731
    counter = iter(range(1, 1000))

    def say(text: str) -> list:
        event = {"app_id": APP_ID, "user_id_by_app": "ub", "event_name": "user_send_text",
                 "sender": {"id": user_id}, "recipient": {"id": "oa"},
                 "message": {"msg_id": f"e2e-{next(counter)}-{time.time()}", "text": text},
                 "timestamp": str(int(time.time() * 1000))}
        header, body = zalo_signed(event)
        before = len(texts())
        assert _post(url, body, {"X-ZEvent-Signature": header}) == 200
        return _wait_new(texts, before, stack, text)

    assert _post(url, b'{"timestamp": "1"}', {"X-ZEvent-Signature": "mac=00"}) == 403
    say("kiem tra thong tin thue bao")
    say(ZALO_NUMBER)
    shown = " ".join(say(OTP))
    real_id = _real_id_number(stack.db_url, ZALO_NUMBER)
    assert MASKED_ID.search(shown) and real_id[-3:] in shown, shown
    assert real_id not in " ".join(texts())


def test_action_server_down_polite_line_then_answered_when_back(stack: Stack):
    """The action server is down: the customer gets one polite line at once, nothing half
    written; the stored message is answered, once, when the action server is back."""
    from bot.texts import text

    unavailable = text("utter_assistant_unavailable", "telegram_ptb")
    stack.stop_actions()
    try:
        customer = TelegramCustomer(stack, 7009)
        first = [c.params.get("text") for c in customer.say("kiem tra thong tin thue bao")]
        assert first == [unavailable], first
    finally:
        stack.start_actions()
    answer = [c.params.get("text") for c in _wait_new(customer.sent, 1, stack, "the answer")]
    assert answer and unavailable not in answer, answer
    assert [c.params.get("text") for c in customer.sent()].count(unavailable) == 1
