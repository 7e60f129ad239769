"""The action server's runtime (bot/rasa_patches.py section 4, wired by `bot serve
actions`): actions run off the event loop, with a deadline, and a backend that is down
gets one polite response with no events instead of an error."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor, ActionNotFoundException

from bot import rasa_patches
from bot.serve import action_runtime


class Sleeper(Action):
    """Blocks its thread like a slow synchronous database call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.threads: list[str] = []

    def name(self) -> str:
        return "action_sleep"

    async def run(self, dispatcher, tracker, domain):
        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        dispatcher.utter_message(text="done")
        return [{"event": "slot", "name": "done", "value": True, "timestamp": None}]


class Broken(Action):
    def name(self) -> str:
        return "action_broken"

    async def run(self, dispatcher, tracker, domain):
        raise ValueError("a bug, not an outage")


def call(name: str, sender: str = "tg-1") -> dict:
    return {"next_action": name, "sender_id": sender,
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": {},
                        "events": [], "paused": False, "followup_action": None,
                        "active_loop": {}, "latest_action_name": None},
            "domain": {}}


@pytest.fixture
def runtime():
    def apply(timeout_s: float = 5.0):
        base = action_runtime()
        rasa_patches.apply_action_runtime(rasa_patches.ActionRuntime(
            threads=4, timeout_s=timeout_s, unavailable=base.unavailable,
            response=base.response, variables=base.variables))
    yield apply
    rasa_patches.revert()


async def test_a_slow_action_does_not_block_other_work(runtime):
    runtime()
    executor, sleeper = ActionExecutor(), Sleeper(0.4)
    executor.register_action(sleeper)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(executor.run(call("action_sleep")),
                                   executor.run(call("action_sleep", "tg-2")))
    task.cancel()
    assert all(r["events"][0]["name"] == "done" for r in results)
    assert results[0]["responses"][0]["text"] == "done"
    assert all(name.startswith("action") for name in sleeper.threads)
    assert threading.current_thread().name not in sleeper.threads
    assert ticks >= 10  # the loop kept running while both actions slept


async def test_without_the_runtime_a_slow_action_blocks_the_loop():
    # The problem the runtime solves (and proof that the test above can fail).
    executor = ActionExecutor()
    executor.register_action(Sleeper(0.3))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await executor.run(call("action_sleep"))
    task.cancel()
    assert ticks <= 1


async def test_an_action_past_its_deadline_gets_the_polite_answer(runtime):
    runtime(timeout_s=0.1)
    executor = ActionExecutor()
    executor.register_action(Sleeper(0.5))
    result = await executor.run(call("action_sleep"))
    assert result["events"] == []
    [message] = result["responses"]
    assert message["response"] == "utter_backend_unavailable"
    assert message["hotline"] == "9090"


async def test_a_database_that_is_down_gets_the_polite_answer(runtime, monkeypatch):
    """A real action against a PostgreSQL port where nothing listens."""
    from bot import backend as backend_module

    monkeypatch.setenv("BOT_DB_URL", "postgresql://postgres@127.0.0.1:9/nothing")
    monkeypatch.setattr(backend_module, "_instances", {})
    runtime()
    executor = ActionExecutor()
    from actions.account import ActionCheckBalance

    executor.register_action(ActionCheckBalance())
    result = await executor.run(call("action_check_balance"))
    assert result == {"events": [], "responses": [
        {**result["responses"][0], "response": "utter_backend_unavailable"}]}
    assert result["responses"][0]["template"] == "utter_backend_unavailable"


async def test_bugs_and_unknown_actions_still_fail(runtime):
    runtime()
    executor = ActionExecutor()
    executor.register_action(Broken())
    with pytest.raises(ValueError):
        await executor.run(call("action_broken"))
    with pytest.raises(ActionNotFoundException):
        await executor.run(call("action_nobody_wrote"))


def test_the_response_exists_in_the_domain_with_its_variables():
    from bot.texts import text

    line = text("utter_backend_unavailable", None)
    assert "9090" in line and "{" not in line


def test_database_calls_have_timeouts_from_the_operator_profile():
    """PostgreSQL sessions carry the statement timeout and a connect timeout; SQLite waits
    for a lock as long as configured (bot/operator.yml `database`)."""
    import os

    from sqlalchemy import text as sql

    from bot.database.engine import database_timeouts, make_engine

    limits = database_timeouts()
    sqlite = make_engine("sqlite://", pooled=False)
    with sqlite.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == \
            int(limits["sqlite_busy_timeout_seconds"] * 1000)
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL not set (.ci/run sets it): PostgreSQL timeouts")
    engine = make_engine(url, pooled=False)
    with engine.connect() as conn:
        shown = conn.execute(sql("SHOW statement_timeout")).scalar()
    assert shown == f"{int(limits['statement_timeout_seconds'] * 1000)}ms" or \
        shown == f"{int(limits['statement_timeout_seconds'])}s"
    pooled = make_engine(url)
    assert pooled.pool.timeout() == limits["pool_timeout_seconds"]
