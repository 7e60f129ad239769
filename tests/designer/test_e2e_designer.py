"""END-TO-END in a real headless browser: a Telegram customer's message the assistant does
not understand (the real test model, the real Rasa server writing to a SQLite tracker
store) shows up in the designers' inbox; a designer logs in, filters the fallbacks, opens
the conversation (masked), corrects the intent, sees the pending change and saves the
conversation as a test story; `bot data apply` writes the example into the right
data/nlu topic file and the story into tests/stories; `bot data validate` (rasa data
validate + lint) accepts the result.

Runs `bot serve rasa` (TEST_MODEL), `bot serve actions`, `bot handoff serve` on a copy of
the repository's data (BOT_DESIGNER_ROOT), and Debian's chromium through selenium.
Skipped with the reason when TEST_MODEL, chromium/chromedriver or selenium is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.channels.fakes import FakeTelegram
from tests.designer.conftest import REPO
from tests.handoff.test_e2e_console import (  # noqa: F401 - `browser` is a fixture
    SECRET,
    WAIT_S,
    _requirements,
    browser,
)
from tests.servers import (
    BIN,
    Processes,
    action_server_command,
    free_port,
    rasa_server_command,
    seed_database,
    stack_env,
    write_endpoints,
)

DESIGNER, PASSWORD = "mai", "mat-khau-cua-mai"
NOT_UNDERSTOOD = "tiệm sim gần đây"  # the test model falls back on it (find_store 0.21)
pytestmark = pytest.mark.slow


def _wait(driver: Any, condition: Callable[[Any], Any], what: str, stack: Stack) -> Any:
    """Wait for `condition`; an element re-rendered meanwhile is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.25,
                             ignored_exceptions=(StaleElementReferenceException,)
                             ).until(condition)
    except TimeoutException:
        pytest.fail(f"designer page: {what} did not happen\n" + stack.log_tail())


@dataclass
class Stack:
    console_url: str
    rasa_url: str
    telegram: FakeTelegram
    root: Path
    env: dict[str, str]
    procs: Processes

    def log_tail(self) -> str:
        return self.procs.log_tail()

    @property
    def tmp(self) -> Path:  # where the shared `browser` fixture leaves its screenshot
        return self.procs.directory


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    import os

    tmp = tmp_path_factory.mktemp("designer-e2e")
    root = tmp / "repo"
    shutil.copytree(REPO / "data", root / "data")
    shutil.copytree(REPO / "tests" / "stories", root / "tests" / "stories")
    for name in ("domain.yml", "config.yml"):
        shutil.copyfile(REPO / name, root / name)
    telegram = FakeTelegram().start()
    actions_port, rasa_port, console_port = free_port(), free_port(), free_port()
    env = stack_env(BOT_OTP_FIXED_CODE="123456", BOT_DB_URL=f"sqlite:///{tmp / 'bot.db'}",
                    TRACKER_DB_URL=f"sqlite:///{tmp / 'tracker.db'}",
                    BOT_DESIGNER_ROOT=str(root), HANDOFF_RASA_URL=f"http://127.0.0.1:{rasa_port}",
                    HANDOFF_SYNC_INTERVAL="0", TELEGRAM_TOKEN=telegram.token,
                    TELEGRAM_API_BASE_URL=telegram.base_url)
    env.pop("BOT_DESIGNER_CHANGES_DIR", None)
    seed_database(env)
    subprocess.run([str(BIN / "bot"), "handoff", "add-agent", DESIGNER, "--role", "designer",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=REPO,
                   check=True, capture_output=True)
    (tmp / "credentials.yml").write_text(json.dumps({
        "bot.channels.telegram.TelegramInput": {
            "token": telegram.token, "secret_token": SECRET, "base_url": telegram.base_url}}))
    endpoints = write_endpoints(tmp / "endpoints.yml", actions_port, tracker_store={
        "type": "bot.rasa_stores.UrlSQLTrackerStore"})
    procs = Processes(tmp, env)
    result = Stack(f"http://127.0.0.1:{console_port}", f"http://127.0.0.1:{rasa_port}",
                   telegram, root, env, procs)
    try:
        procs.start("actions", action_server_command(actions_port))
        procs.start("rasa", rasa_server_command(os.environ["TEST_MODEL"], rasa_port,
                                                tmp / "credentials.yml", endpoints))
        procs.start("handoff", [str(BIN / "bot"), "handoff", "serve", "--port",
                                str(console_port)])
        from tests.servers import rasa_token_query

        ready = (procs.wait("actions", f"http://127.0.0.1:{actions_port}/health", 120)
                 and procs.wait("handoff", f"{result.console_url}/healthz", 60)
                 and procs.wait("rasa", f"{result.rasa_url}/status?{rasa_token_query()}", 420))
        if not ready:
            pytest.fail("a server did not start:\n" + procs.log_tail())
        yield result
    finally:
        procs.stop()
        telegram.stop()


def _customer_says(stack: Stack, chat_id: int, text: str, update_id: int) -> None:
    from tests.handoff.test_e2e_console import _http

    update = {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Minh"}}}
    before = len(stack.telegram.sent_texts(chat_id))
    status, _ = _http(f"{stack.rasa_url}/webhooks/telegram_ptb/webhook", update,
                      {"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert status == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(stack.telegram.sent_texts(chat_id)) > before:
            return
        time.sleep(0.2)
    pytest.fail(f"no answer to {text!r}\n" + stack.log_tail())


def _bot_data(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bot"), "data", *args], env=stack.env, cwd=REPO,
                          text=True, capture_output=True, timeout=300)


def test_designer_corrects_a_fallback_and_applies_it(stack: Stack, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    chat = 7170
    _customer_says(stack, chat, NOT_UNDERSTOOD, 910_001)
    # The assistant did not understand: it asks (one likely task, or two or three of them).
    asked = ("có phải anh/chị muốn", "cần việc nào", "đang cần việc nào")
    assert any(q in t for t in stack.telegram.sent_texts(chat) for q in asked), \
        stack.telegram.sent_texts(chat)
    _customer_says(stack, chat, "tìm cửa hàng gần nhà", 910_002)
    _customer_says(stack, chat, "quận 3", 910_003)

    browser.get(f"{stack.console_url}/console/designer/")
    _wait(browser, lambda d: d.find_element(By.ID, "login-name").is_displayed(),
          "login form", stack)
    browser.find_element(By.ID, "login-name").send_keys(DESIGNER)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    _wait(browser, lambda d: d.find_element(By.ID, "designer-view").is_displayed(),
          "the designer page after login", stack)
    Select(browser.find_element(By.ID, "f-outcome")).select_by_value("fallback")
    browser.find_element(By.ID, "f-apply").click()
    _wait(browser, lambda d: "outcome=fallback" in (
        d.find_element(By.ID, "inbox").get_attribute("data-query") or ""),
        "the filtered inbox", stack)
    item = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#inbox .conv-item"),
                 "the fallback conversation in the inbox", stack)[0]
    assert NOT_UNDERSTOOD in item.text and "Telegram" in item.text
    assert item.get_attribute("data-outcome") == "fallback"
    item.click()
    message = _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, "#conv-messages li.msg.user.fallback"), "the fallback message",
        stack)[0]
    assert NOT_UNDERSTOOD in message.text and "không hiểu" in message.text
    message.find_element(By.CSS_SELECTOR, "button.correct").click()
    form = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "form.correction"),
                 "the correction form", stack)[0]
    assert form.find_element(By.CSS_SELECTOR, ".corr-text").get_attribute("value") == \
        NOT_UNDERSTOOD
    Select(form.find_element(By.CSS_SELECTOR, ".corr-intent")).select_by_value("find_store")
    form.find_element(By.CSS_SELECTOR, ".corr-save").click()
    text = _wait(browser, lambda d: next((r.text for r in d.find_elements(
        By.CSS_SELECTOR, "form.correction .change-result") if "chờ duyệt" in r.text), None),
        "the pending change", stack)
    assert "data/nlu/06_stores.yml" in text and f"- {NOT_UNDERSTOOD}" in text
    assert not browser.find_elements(By.CSS_SELECTOR, "form.correction .flag.error"), text

    browser.find_element(By.ID, "save-story").click()
    story = _wait(browser, lambda d: d.find_element(By.ID, "story-result").text
                  if "intent: find_store" in d.find_element(By.ID, "story-result").text
                  else None, "the story change", stack)
    assert NOT_UNDERSTOOD in story and "action_find_stores" in story
    browser.find_element(By.ID, "tab-changes").click()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#changes li.change")) == 2,
          "two pending changes", stack)
    # metrics of the period: the intent the NLU ranked best for the message it did not
    # understand (whichever the model's guess was) has one fallback
    browser.find_element(By.ID, "tab-metrics").click()
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, "#metrics-table tbody tr[data-intent='find_store']"),
        "find_store in the metrics table", stack)
    fallbacks = [row.find_elements(By.TAG_NAME, "td")[2].text for row in
                 browser.find_elements(By.CSS_SELECTOR, "#metrics-table tbody tr[data-intent]")]
    assert sum("(1)" in cell for cell in fallbacks) == 1, fallbacks  # one fallback
    assert browser.find_elements(By.CSS_SELECTOR, "#metrics-chart svg rect.bar-fallback")
    # nothing reached data/ before review
    stores = stack.root / "data/nlu/06_stores.yml"
    assert NOT_UNDERSTOOD not in stores.read_text(encoding="utf-8")

    applied = _bot_data(stack, "apply", "--all")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    lines = stores.read_text(encoding="utf-8").splitlines()
    number = lines.index(f"    - {NOT_UNDERSTOOD}") + 1
    assert f"data/nlu/06_stores.yml:{number}" in applied.stdout
    intents = [line for line in lines[:number] if line.startswith("- intent:")]
    assert intents[-1] == "- intent: find_store"
    saved = (stack.root / "tests/stories/test_designer.yml").read_text(encoding="utf-8")
    assert f"      {NOT_UNDERSTOOD}\n    intent: find_store" in saved
    checked = _bot_data(stack, "validate", "--no-rasa")  # rasa: test_validate.py
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "make validate: dữ liệu hợp lệ." in checked.stdout

    from bot.backend import Backend

    backend = Backend(stack.env["BOT_DB_URL"])
    try:
        actions = [(a.actor, a.action) for a in backend.audit.recent()]
    finally:
        backend.dispose()
    assert ("designer:mai", "designer_view_inbox") in actions
    assert any(actor == "designer:mai" and action.startswith("designer_view_conversation:")
               for actor, action in actions)


def test_the_story_passes_after_retraining(stack: Stack):
    """After `bot data apply` (previous test): retrain the test model on the changed data
    and run the saved story with `rasa test core --e2e --fail-on-prediction-errors`.
    Retraining takes minutes on the shared CI machine: only with DESIGNER_RETRAIN=1."""
    import os

    if os.environ.get("DESIGNER_RETRAIN") != "1":
        pytest.skip("retraining the test model takes ~4-6 minutes here: DESIGNER_RETRAIN=1")
    story_file = stack.root / "tests/stories/test_designer.yml"
    if not story_file.exists():
        pytest.skip("the browser test did not save a story")
    config = stack.root / "config-test.yml"
    config.write_text(subprocess.run(
        [str(BIN / "python"), str(REPO / "scripts/test-config.py"), str(REPO / "config.yml")],
        capture_output=True, text=True, check=True).stdout, encoding="utf-8")
    env = {**stack.env, "RASA_CACHE_DIRECTORY": str(stack.procs.directory / "rasa-cache")}
    trained = subprocess.run(
        [str(BIN / "rasa"), "train", "--config", str(config), "--domain", "domain.yml",
         "--data", "data", "--out", "models", "--fixed-model-name", "retrained"],
        cwd=stack.root, env=env, capture_output=True, text=True, timeout=1800)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    tested = subprocess.run(
        [str(BIN / "rasa"), "test", "core", "--model", "models/retrained.tar.gz", "--stories",
         str(story_file), "--out", "results", "--e2e", "--fail-on-prediction-errors"],
        cwd=stack.root, env=env, capture_output=True, text=True, timeout=900)
    failed = stack.root / "results" / "failed_test_stories.yml"
    assert tested.returncode == 0, (failed.read_text(encoding="utf-8") if failed.exists()
                                    else tested.stdout[-3000:] + tested.stderr[-3000:])
