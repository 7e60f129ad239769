"""END-TO-END in a real headless browser: a reviewer signs in to the review desk of a real
`bot handoff serve`, opens a Decree-49 update request, sees the customer's photos
(decrypted by the server from the encrypted media store), rejects it with a reason, then
approves a second one; the customer's outcome reaches the fake Telegram server and the
approval changes the subscriber in the backend.

Needs Debian's chromium + chromedriver (scripts/install-browser.sh) and selenium (dev
extra); skipped with the reason otherwise. No Rasa model is needed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.backend import Backend
from bot.media.crypto import Cipher
from bot.media.storage import LocalDirectory
from bot.media.store import MediaStore
from tests.channels.fakes import FakeTelegram
from tests.handoff.test_e2e_console import browser_missing, start_chrome
from tests.media.photos import jpeg_with_gps, png
from tests.servers import BIN, REPO, TEST_SECRETS, free_port, seed_database, stack_env, wait_http

REVIEWER, PASSWORD = "duyet", "mat-khau-cua-duyet"
WAIT_S = 30.0


@dataclass
class Desk:
    url: str
    backend: Backend
    media: MediaStore
    telegram: FakeTelegram
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[Desk]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("review-e2e")
    telegram = FakeTelegram().start()
    db_url = f"sqlite:///{tmp / 'bot.db'}"
    port = free_port()
    env = stack_env(BOT_DB_URL=db_url, BOT_MEDIA_DIR=str(tmp / "media"),
                    HANDOFF_SYNC_INTERVAL="0", TELEGRAM_TOKEN=telegram.token,
                    TELEGRAM_API_BASE_URL=telegram.base_url)
    seed_database(env)
    subprocess.run([str(BIN / "bot"), "handoff", "add-agent", REVIEWER, "--role", "reviewer",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=REPO,
                   check=True, capture_output=True)
    log = tmp / "handoff.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "bot"), "handoff", "serve", "--port", str(port)],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    backend = Backend(db_url)
    media = MediaStore(LocalDirectory(tmp / "media"), Cipher(TEST_SECRETS["BOT_MEDIA_KEY"]))
    result = Desk(f"http://127.0.0.1:{port}", backend, media, telegram, log)
    try:
        if not wait_http(f"{result.url}/healthz", proc, 60):
            pytest.fail("the hand-off server did not start:\n" + result.log_tail())
        yield result
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        backend.dispose()
        telegram.stop()


@pytest.fixture
def browser(desk: Desk, tmp_path) -> Iterator[Any]:
    driver = start_chrome()
    try:
        yield driver
    finally:
        try:
            driver.save_screenshot(str(tmp_path / "review.png"))
        finally:
            driver.quit()


def _wait(driver: Any, condition: Callable[[Any], Any], what: str, desk: Desk) -> Any:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # a re-rendered element found a moment ago may be gone: look again
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.25, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(condition)
    except TimeoutException:
        pytest.fail(f"review desk: {what} did not happen\n" + desk.log_tail())


def _submit(desk: Desk, msisdn: str, chat_id: int) -> int:
    photos = {"id_front": desk.media.save_photo(jpeg_with_gps(900, 600)).ref,
              "id_back": desk.media.save_photo(png(900, 600)).ref,
              "portrait": desk.media.save_photo(jpeg_with_gps(480, 640, (90, 60, 30))).ref}
    request = desk.backend.update_requests.submit(
        msisdn, {"full_name": "Đặng Thu Hà"}, photos, "telegram",
        conversation_id=f"tg-{chat_id}")
    assert request is not None
    return request.id


def _open(browser: Any, desk: Desk, request_id: int) -> None:
    from selenium.webdriver.common.by import By

    item = _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f"#queue .ticket-item[data-id='{request_id}']"),
        f"request #{request_id} in the queue", desk)[0]
    assert "còn 47 giờ" in item.text or "còn 48 giờ" in item.text  # the 48 h countdown
    item.click()
    _wait(browser, lambda d: f"#{request_id}" in d.find_element(By.ID, "request-title").text,
          f"request #{request_id} opened", desk)
    # Every photo really loaded (decrypted by the server, drawn by the browser).
    _wait(browser, lambda d: d.execute_script(
        "const imgs = [...document.querySelectorAll('#photos img')];"
        "return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0);"),
        "the three photos shown", desk)


def test_reviewer_rejects_then_approves(desk: Desk, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    rejected = _submit(desk, "0901000003", 7001)
    approved = _submit(desk, "0901000011", 7002)

    browser.get(f"{desk.url}/console/review/")
    _wait(browser, lambda d: d.find_element(By.ID, "login-name").is_displayed(),
          "login form shown", desk)
    browser.find_element(By.ID, "login-name").send_keys(REVIEWER)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    _wait(browser, lambda d: d.find_element(By.ID, "desk-view").is_displayed(),
          "the review desk after login", desk)

    _open(browser, desk, rejected)
    fields = browser.find_element(By.ID, "fields").text
    assert "Đặng Thu Hà" in fields
    assert "0901000003" not in browser.find_element(By.ID, "request-title").text
    Select(browser.find_element(By.ID, "reject-reason")).select_by_value("photo_unreadable")
    browser.find_element(By.ID, "btn-reject").click()
    _wait(browser, lambda d: "Đã từ chối" in d.find_element(By.ID, "notice").text,
          "the rejection confirmed", desk)
    assert "Telegram" in browser.find_element(By.ID, "notice").text
    deadline = time.monotonic() + WAIT_S
    while not desk.telegram.sent_texts(7001) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "chưa được duyệt vì ảnh chụp bị mờ" in desk.telegram.sent_texts(7001)[0]
    _wait(browser, lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"#queue .ticket-item[data-id='{rejected}']"),
        "the rejected request left the queue", desk)

    _open(browser, desk, approved)
    browser.find_element(By.ID, "btn-approve").click()
    _wait(browser, lambda d: "Đã duyệt" in d.find_element(By.ID, "notice").text,
          "the approval confirmed", desk)
    subscriber = desk.backend.subscribers.get("0901000011")
    assert subscriber.status == "active" and subscriber.full_name == "Đặng Thu Hà"
    assert desk.backend.subscribers.decree49_status("0901000011").complete
    assert "mở lại chiều gọi đi" in desk.telegram.sent_texts(7002)[0]
    assert desk.backend.update_requests.get(rejected).reject_reason == "photo_unreadable"
