"""END-TO-END in a real headless browser: a Telegram customer asks for a person, the ticket
appears in the agent console, the agent replies, the reply reaches the customer through the
fake Telegram server, the agent hands back, and the assistant answers the next message.
A second test hands a customer from the call-center API to the assistant.

Runs a real `rasa run` (TEST_MODEL, HTTP API with an auth token, our Telegram channel
pointed at the channels' fake Bot API server from tests/channels/fakes.py), a real action
server, the hand-off server (`bot handoff serve`), and Debian's chromium driven by selenium
through /usr/bin/chromedriver. Skipped with the reason when TEST_MODEL is unset, chromium /
chromedriver are missing (scripts/install-browser.sh installs them) or selenium is not
installed (dev extra).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.texts import text
from tests.channels.fakes import FakeTelegram
from tests.servers import (
    BIN,
    REPO,
    action_server_command,
    free_port,
    rasa_server_command,
    rasa_token_query,
    seed_database,
    stack_env,
    wait_http,
    write_endpoints,
)

CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1280,900")
SECRET = "handoff-e2e-secret"
CRM_TOKEN = "handoff-e2e-crm-token-0123456789"
AGENT, PASSWORD = "lan", "mat-khau-cua-lan"
WAIT_S = 60.0

pytestmark = pytest.mark.slow


def _http(url: str, body: Any = None, headers: dict[str, str] | None = None,
          timeout: float = 120) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")




def _requirements() -> str:
    """Why the test cannot run here, or '' when it can."""
    model = os.environ.get("TEST_MODEL")
    if not model:
        return ("TEST_MODEL is not set: the console end-to-end test needs a trained test model "
                "(run `make test-py`, which builds and exports it)")
    if not Path(model).is_file():
        return f"TEST_MODEL={model} does not exist (run `make test-py`)"
    return browser_missing()


def browser_missing() -> str:
    """Why no headless browser can run here, or '' when it can."""
    if not Path(CHROMIUM).is_file() or not shutil.which("chromedriver"):
        return ("chromium or chromedriver is missing: run scripts/install-browser.sh "
                "(Debian's chromium + chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return ""


def start_chrome() -> Any:
    """Debian's chromium, headless, driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                            options=options)


@dataclass
class Stack:
    rasa_url: str
    console_url: str
    telegram: FakeTelegram
    logs: dict[str, Path]
    tmp: Path
    db_url: str

    def log_tail(self) -> str:
        return "\n".join(f"--- {name} ---\n" + path.read_text(errors="replace")[-4000:]
                         for name, path in self.logs.items() if path.exists())


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    model = os.environ["TEST_MODEL"]
    tmp = tmp_path_factory.mktemp("handoff-e2e")
    telegram = FakeTelegram().start()
    db_url = f"sqlite:///{tmp / 'bot.db'}"
    actions_port, rasa_port, console_port = free_port(), free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    env = stack_env(BOT_OTP_FIXED_CODE="123456", BOT_DB_URL=db_url,
                    # the hand-off server: Rasa's HTTP API (JWT), Telegram for agent replies
                    HANDOFF_RASA_URL=rasa_url, HANDOFF_API_TOKENS=f"crm={CRM_TOKEN}",
                    HANDOFF_SYNC_INTERVAL="1", TELEGRAM_TOKEN=telegram.token,
                    TELEGRAM_API_BASE_URL=telegram.base_url,
                    BOT_MEDIA_DIR=str(tmp / "media"))  # customer photos (bot/media)
    seed_database(env)
    subprocess.run([str(BIN / "bot"), "handoff", "add-agent", AGENT, "--password-stdin"],
                   input=PASSWORD + "\n", text=True, env=env, cwd=REPO, check=True,
                   capture_output=True)
    (tmp / "credentials.yml").write_text(json.dumps({
        "bot.channels.telegram.TelegramInput": {
            "token": telegram.token, "secret_token": SECRET, "base_url": telegram.base_url,
            "base_file_url": telegram.base_file_url}}))
    endpoints = write_endpoints(tmp / "endpoints.yml", actions_port)
    logs = {name: tmp / f"{name}.log" for name in ("actions", "rasa", "handoff")}
    commands = {
        "actions": action_server_command(actions_port),
        "rasa": rasa_server_command(model, rasa_port, tmp / "credentials.yml", endpoints),
        "handoff": [str(BIN / "bot"), "handoff", "serve", "--port", str(console_port)],
    }
    procs: dict[str, subprocess.Popen] = {}
    result = Stack(rasa_url, f"http://127.0.0.1:{console_port}", telegram, logs, tmp, db_url)
    try:
        for name, command in commands.items():
            with open(logs[name], "w") as out:
                procs[name] = subprocess.Popen(command, env=env, cwd=REPO, stdout=out,
                                               stderr=subprocess.STDOUT)
        ready = (wait_http(f"http://127.0.0.1:{actions_port}/health", procs["actions"], 120)
                 and wait_http(f"{result.console_url}/healthz", procs["handoff"], 60)
                 and wait_http(f"{rasa_url}/status?{rasa_token_query()}", procs["rasa"], 420))
        if not ready:
            pytest.fail("a server did not start:\n" + result.log_tail())
        yield result
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        telegram.stop()


@pytest.fixture
def browser(stack: Stack) -> Iterator[Any]:
    driver = start_chrome()
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        try:
            driver.save_screenshot(str(stack.tmp / "console.png"))
        finally:
            driver.quit()


class Customer:
    """A Telegram user talking to the bot through the fake Bot API server."""

    update_ids = iter(range(800_000, 900_000))

    def __init__(self, stack: Stack, chat_id: int) -> None:
        self.stack, self.chat_id = stack, chat_id

    def received(self) -> list[str]:
        return self.stack.telegram.sent_texts(self.chat_id)

    def say(self, text: str) -> None:
        self.send(text=text)

    def send(self, **message: Any) -> None:
        """A message of this user (text, photo, contact ...) through the webhook."""
        update_id = next(self.update_ids)
        update = {"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()), **message,
            "chat": {"id": self.chat_id, "type": "private"},
            "from": {"id": self.chat_id, "is_bot": False, "first_name": "Minh"}}}
        self._post(update)

    def click(self, data: str) -> None:
        update_id = next(self.update_ids)
        self._post({"update_id": update_id, "callback_query": {
            "id": f"cq{update_id}", "chat_instance": "ci", "data": data,
            "from": {"id": self.chat_id, "is_bot": False, "first_name": "Minh"},
            "message": {"message_id": 1, "date": int(time.time()), "text": "menu",
                        "chat": {"id": self.chat_id, "type": "private"}}}})

    def _post(self, update: dict[str, Any]) -> None:
        status, _ = _http(f"{self.stack.rasa_url}/webhooks/telegram_ptb/webhook", update,
                          {"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert status == 200, f"webhook answered {status}"

    def wait_for(self, predicate: Callable[[list[str]], bool], what: str,
                 timeout: float = WAIT_S) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.received()
            if predicate(texts):
                return texts
            time.sleep(0.2)
        pytest.fail(f"customer never received {what}; got {self.received()}\n"
                    + self.stack.log_tail())


def _wait(driver: Any, condition: Callable[[Any], Any], what: str, stack: Stack,
          timeout: float = WAIT_S) -> Any:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # a re-rendered element found a moment ago may be gone: look again
        return WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(condition)
    except TimeoutException:
        pytest.fail(f"console: {what} did not happen\n" + stack.log_tail())


def _login(browser: Any, stack: Stack) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{stack.console_url}/console/")
    _wait(browser, lambda d: d.find_element(By.ID, "login-name").is_displayed(),
          "login form shown", stack)
    browser.find_element(By.ID, "login-name").send_keys(AGENT)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    _wait(browser, lambda d: d.find_element(By.ID, "desk-view").is_displayed(),
          "the desk after login", stack)


def test_customer_to_agent_and_back(stack: Stack, browser):
    from selenium.webdriver.common.by import By

    customer = Customer(stack, chat_id=5150)
    customer.say("cho em gặp tổng đài viên")
    texts = customer.wait_for(lambda t: any("tổng đài viên (mã yêu cầu #" in x for x in t),
                              "the hand-off notice")
    notice = next(x for x in texts if "mã yêu cầu #" in x)
    ticket_id = int(notice.split("mã yêu cầu #", 1)[1].split(")", 1)[0])

    # While the human owns the chat and no agent has answered, the customer is told once that
    # an agent will reply (rate-limited: a second message gets nothing); nothing is lost.
    before = len(customer.received())
    customer.say("em bị trừ tiền oan 3 lần rồi")
    customer.wait_for(lambda t: len(t) > before, "the awaiting-agent line")
    customer.say("alo")
    time.sleep(3)
    assert customer.received()[before:] == [text("utter_handoff_awaiting_agent", "telegram_ptb")]

    _login(browser, stack)
    item = _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f"#queue .ticket-item[data-id='{ticket_id}']"), "ticket in queue",
        stack)[0]
    assert "Khách muốn gặp tổng đài viên" in item.text and "chờ" in item.text
    item.click()
    _wait(browser, lambda d: "em bị trừ tiền oan 3 lần rồi" in d.find_element(
        By.ID, "transcript").text, "customer's message during the pause in the transcript",
        stack)
    transcript = browser.find_element(By.ID, "transcript").text
    assert "cho em gặp tổng đài viên" in transcript
    assert f"Yêu cầu #{ticket_id}" in browser.find_element(By.ID, "ticket-title").text

    reply = "Dạ em là Lan, em kiểm tra ngay cho anh/chị ạ."
    browser.find_element(By.ID, "reply-text").send_keys(reply)
    browser.find_element(By.ID, "reply-send").click()
    customer.wait_for(lambda t: reply in t, "the agent's reply")
    _wait(browser, lambda d: reply in d.find_element(By.ID, "transcript").text,
          "the reply in the transcript", stack)
    assert f"Đang xử lý ({AGENT})" == browser.find_element(By.ID, "ticket-status").text

    browser.find_element(By.ID, "btn-handback").click()
    customer.wait_for(lambda t: any("chuyển anh/chị lại cho trợ lý ảo" in x for x in t),
                      "the hand-back notice")
    _wait(browser, lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"#queue .ticket-item[data-id='{ticket_id}']"),
        "ticket leaves the queue", stack)
    assert "Đã trả lại trợ lý" in browser.find_element(By.ID, "closed").text

    # The assistant answers the next message again.
    before = len(customer.received())
    customer.say("xin chào")
    texts = customer.wait_for(lambda t: len(t) > before, "an answer from the assistant")
    assert reply not in texts[before:]

    status, tracker = _http(f"{stack.rasa_url}/conversations/tg-5150/tracker"
                            f"?{rasa_token_query()}")
    assert status == 200
    kinds = [e["event"] for e in tracker["events"]]
    assert "pause" in kinds and "resume" in kinds
    assert kinds.index("resume") > kinds.index("pause")


def test_call_center_hands_customer_to_assistant(stack: Stack, browser):
    from selenium.webdriver.common.by import By

    from bot.backend import Backend

    customer = Customer(stack, chat_id=6160)
    customer.say("xin chào")  # the customer has a chat with the bot
    customer.wait_for(lambda t: len(t) >= 1, "a greeting")
    before = len(customer.received())
    status, body = _http(f"{stack.console_url}/api/v1/assistant-handoffs", {
        "channel": "telegram", "user_id": "6160", "goal": "update_subscriber_info",
        "verified_msisdn": "0901000002", "notes": "Khách gọi 1090, thiếu ảnh chân dung."},
        {"Authorization": "Bearer wrong-token-0123456789"})
    assert status == 401
    status, body = _http(f"{stack.console_url}/api/v1/assistant-handoffs", {
        "channel": "telegram", "user_id": "6160", "goal": "update_subscriber_info",
        "verified_msisdn": "0901000002", "notes": "Khách gọi 1090, thiếu ảnh chân dung."},
        {"Authorization": f"Bearer {CRM_TOKEN}"})
    assert status == 202, body
    assert body["conversation_id"] == "tg-6160"
    customer.wait_for(lambda t: len(t) > before, "the assistant starting the flow")
    status, tracker = _http(f"{stack.rasa_url}/conversations/tg-6160/tracker"
                            f"?{rasa_token_query()}")
    assert tracker["slots"]["verified_msisdn"] == "0901000002"
    assert tracker["slots"]["identity_verified"] is True  # no OTP asked again
    intents = [e.get("parse_data", {}).get("intent", {}).get("name")
               for e in tracker["events"] if e["event"] == "user"]
    assert intents[-1] == "update_subscriber_info"

    # The customer, verified by the call center, now asks for a person: the agent sees
    # the masked profile, and that view is in the audit log.
    customer.say("cho em gặp tổng đài viên")
    texts = customer.wait_for(lambda t: any("mã yêu cầu #" in x for x in t[before:]),
                              "the hand-off notice")
    notice = next(x for x in texts[before:] if "mã yêu cầu #" in x)
    ticket_id = int(notice.split("mã yêu cầu #", 1)[1].split(")", 1)[0])
    _login(browser, stack)
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f"#queue .ticket-item[data-id='{ticket_id}']"), "ticket in queue",
        stack)[0].click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#profile tbody tr"),
          "the masked profile", stack)
    backend = Backend(stack.db_url)
    try:
        subscriber = backend.subscribers.get("0901000002")
        page = browser.find_element(By.ID, "ticket").text
        assert "090***0002" in page and "0901000002" not in page
        assert subscriber.full_name not in page and subscriber.id_number not in page
        assert subscriber.id_number[-3:] in browser.find_element(By.ID, "profile").text
        audit = [(a.actor, a.action, a.subscriber_id) for a in backend.audit.recent()]
        assert (f"agent:{AGENT}", "handoff_view_profile", subscriber.id) in audit
        assert ("api:crm", "handoff_to_assistant", subscriber.id) in audit
    finally:
        backend.dispose()


def test_photo_in_chat_to_review_outcome_and_status(stack: Stack, monkeypatch):
    """Decree 49 end to end through the real Rasa and action servers: the customer sends a
    portrait on Telegram, the channel stores it encrypted, the form takes it, the request is
    submitted; the back office approves it (the review desk's service, as the console
    does); the customer is told on Telegram and the status question says approved."""
    import asyncio

    from bot.backend import Backend
    from bot.handoff.review import ReviewDesk
    from bot.media import parse_ref
    from tests.media.photos import jpeg_with_gps

    customer = Customer(stack, chat_id=5160)
    customer.send(contact={"phone_number": "0901000002", "first_name": "Minh",
                           "user_id": 5160})  # the customer's own number: verified
    customer.wait_for(lambda t: len(t) >= 1, "an answer to the shared contact")
    customer.say("cập nhật ảnh chân dung")
    customer.wait_for(lambda t: any("Anh/chị muốn cách nào" in x for x in t),
                      "the choice of update method")
    customer.click('/update_subscriber_info{"update_method": "chat"}')
    customer.wait_for(lambda t: any("ảnh chân dung của chủ thuê bao" in x for x in t),
                      "the request for a portrait")
    stack.telegram.add_file("portrait-5160", jpeg_with_gps(600, 800))
    customer.send(photo=[{"file_id": "portrait-5160", "file_unique_id": "p5160",
                          "width": 600, "height": 800}])
    customer.wait_for(lambda t: any("kiểm tra lại thông tin" in x for x in t),
                      "the summary to confirm")
    customer.click("/affirm")
    texts = customer.wait_for(lambda t: any("mã hồ sơ" in x for x in t), "the submission")
    assert any("ngay trong cuộc trò chuyện này" in x for x in texts)

    backend = Backend(stack.db_url)
    try:
        request = backend.update_requests.latest("0901000002")
        assert request.status == "pending" and request.conversation_id == "tg-5160"
        detail = backend.update_requests.detail(request.id)
        key = parse_ref(detail.photos["portrait"])[0]
        at_rest = (stack.tmp / "media" / key[:2] / key).read_bytes()
        assert b"PhoneMaker" not in at_rest and b"JFIF" not in at_rest  # encrypted
        for name, value in (("TELEGRAM_TOKEN", stack.telegram.token),
                            ("TELEGRAM_API_BASE_URL", stack.telegram.base_url)):
            monkeypatch.setenv(name, value)
        _, via = asyncio.run(ReviewDesk(backend=backend).decide(
            request.id, "lan", request.version, approve=True))
        assert via == "telegram"
        assert backend.subscribers.get("0901000002").has_portrait_photo
    finally:
        backend.dispose()
    customer.wait_for(lambda t: any("đã được duyệt" in x and "mã hồ sơ" in x for x in t),
                      "the approval on Telegram")
    before = len(customer.received())
    customer.say("hồ sơ cập nhật của tôi duyệt chưa")
    customer.wait_for(lambda t: any("đã được duyệt" in x for x in t[before:]),
                      "the status: approved")
