"""END-TO-END in a real headless browser: an operator with the `campaigns` role signs in
to the campaigns page of a real `bot handoff serve`, creates a campaign, starts it; a pass
runs (in the test, fake clock and recording sender); the operator sees the numbers in the
report table, then pauses the campaign, which stops the next pass.

Needs Debian's chromium + chromedriver (scripts/install-browser.sh) and selenium (dev
extra); skipped with the reason otherwise. No Rasa model is needed.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.backend import Backend
from bot.campaigns.engine import CampaignEngine
from bot.campaigns.rules import CampaignRules
from bot.campaigns.store import CampaignStore
from bot.channels.store import ChannelStore
from tests.campaigns.conftest import RecordingSender
from tests.conftest import FakeClock
from tests.handoff.test_e2e_console import browser_missing, start_chrome
from tests.servers import BIN, REPO, free_port, seed_database, stack_env, wait_http

OPERATOR, PASSWORD = "vanhanh", "mat-khau-cua-van-hanh"
WAIT_S = 30.0


@dataclass
class Console:
    url: str
    db_url: str
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("campaigns-e2e")
    db_url = f"sqlite:///{tmp / 'bot.db'}"
    port = free_port()
    env = stack_env(BOT_DB_URL=db_url, HANDOFF_SYNC_INTERVAL="0")
    seed_database(env)
    subprocess.run([str(BIN / "bot"), "handoff", "add-agent", OPERATOR, "--role", "campaigns",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=REPO,
                   check=True, capture_output=True)
    log = tmp / "handoff.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "bot"), "handoff", "serve", "--port", str(port)],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    result = Console(f"http://127.0.0.1:{port}", db_url, log)
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


@pytest.fixture
def browser(console: Console, tmp_path) -> Iterator[Any]:
    driver = start_chrome()
    try:
        yield driver
    finally:
        try:
            driver.save_screenshot(str(tmp_path / "campaigns.png"))
        finally:
            driver.quit()


def _wait(driver: Any, condition: Callable[[Any], Any], what: str, console: Console) -> Any:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # The page re-renders its table: an element found a moment ago may be gone.
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.25, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(condition)
    except TimeoutException:
        pytest.fail(f"campaigns page: {what} did not happen\n" + console.log_tail())


def _pass(console: Console, campaign_id: int, sender: RecordingSender) -> int:
    """One pass of the engine on the server's database at 10:00 local."""
    clock = FakeClock()
    backend = Backend(console.db_url, clock=clock)
    try:
        channels = ChannelStore(backend.engine, clock)
        channels.touch_link("telegram", "4242", "0901000002")  # a chat that proved it
        engine = CampaignEngine(CampaignStore(backend.engine, clock), backend, channels,
                                sender, CampaignRules.from_operator(), clock)
        return asyncio.run(engine.run_once(campaign_id)).sent
    finally:
        backend.dispose()


def test_operator_creates_starts_reads_the_report_and_pauses(console: Console, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{console.url}/console/campaigns/")
    _wait(browser, lambda d: d.find_element(By.ID, "login-name").is_displayed(),
          "login form shown", console)
    browser.find_element(By.ID, "login-name").send_keys(OPERATOR)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    _wait(browser, lambda d: d.find_element(By.ID, "desk-view").is_displayed(),
          "the campaigns page after login", console)

    browser.find_element(By.ID, "c-name").send_keys("Nhắc ảnh chân dung TP HCM")
    browser.find_element(By.ID, "c-deadline").send_keys("31/12/2026")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".c-item[value='portrait_photo']"),
          "the Decree-49 items offered", console)[0].click()
    browser.find_element(By.ID, "c-province").send_keys("TP Hồ Chí Minh")
    Select(browser.find_element(By.ID, "c-one-way")).select_by_value("no")
    browser.find_element(By.ID, "c-zalo").click()  # Telegram only
    browser.find_element(By.ID, "create-submit").click()
    row = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#campaigns tr[data-id='1']"),
                "the new campaign listed", console)[0]
    assert "Nháp" in row.text and "Nhắc ảnh chân dung TP HCM" in row.text

    row.find_element(By.CSS_SELECTOR, "button.action-start").click()
    _wait(browser, lambda d: "Đang chạy" in d.find_element(
        By.CSS_SELECTOR, "#campaigns tr[data-id='1'] .status").text, "campaign started", console)

    sender = RecordingSender()
    assert _pass(console, 1, sender) == 1
    assert sender.users() == ["4242"] and "31/12/2026" in sender.sent[0]["text"]

    browser.find_element(By.CSS_SELECTOR, "#campaigns tr[data-id='1'] .action-report").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#report-rows tr[data-key='sent']"),
          "the report table", console)
    values = {tr.get_attribute("data-key"): tr.find_element(By.CSS_SELECTOR, "td").text
              for tr in browser.find_elements(By.CSS_SELECTOR, "#report-rows tr[data-key]")}
    assert values["sent"] == "1" and values["delivered"] == "1"
    assert int(values["targeted"]) > int(values["on_chat"]) == 1
    assert "0901000002" not in browser.find_element(By.ID, "report").text
    assert browser.find_elements(By.CSS_SELECTOR, "#report-days tbody tr")

    browser.find_element(By.CSS_SELECTOR, "#campaigns tr[data-id='1'] button.action-pause").click()
    _wait(browser, lambda d: "Tạm dừng" in d.find_element(
        By.CSS_SELECTOR, "#campaigns tr[data-id='1'] .status").text, "campaign paused", console)
    assert _pass(console, 1, sender) == 0 and len(sender.sent) == 1
