"""Multi-turn customer conversations (conversations.yml) played against the trained model
in-process (Rasa's Agent) and a real action server on a seeded database; each one
asserts what was said, what must not be said, and the backend state afterwards.

Used by tests/conversations/test_conversations.py (pytest, `make test`) and by
scripts/eval_conversations.py (`make eval-conversations`: task success and turns per
task against the call-center script's steps)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.backend_helpers import pending_registrations
from tests.servers import (
    ACTION_TOKEN_HEADER,
    NLG_CLASS,
    TEST_SECRETS,
    action_server_command,
    free_port,
    processes,
    seed_database,
    stack_env,
)

CONVERSATIONS = Path(__file__).with_name("conversations.yml")
OTP = "123456"
STYLES = ("diacritics", "plain", "teencode", "chatty")


@dataclass(frozen=True)
class Turn:
    user: str
    says: tuple[str, ...] = ()
    not_says: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None
    bubbles: int | None = None  # how many messages the answer must be (one thought, one)
    new_words: bool = False     # the answer must not repeat the previous answer word for word


@dataclass(frozen=True)
class Conversation:
    id: str
    style: str
    task: str
    number: str | None
    telegram: bool              # the number is proven by a Telegram contact (no OTP)
    turns: tuple[Turn, ...]
    given: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def sender(self) -> str:
        return f"tg-{self.id}" if self.telegram else f"conv-{self.id}"


@dataclass
class Outcome:
    conversation: Conversation
    failures: list[str]
    transcript: list[tuple[str, str]]

    @property
    def ok(self) -> bool:
        return not self.failures


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def load(path: Path = CONVERSATIONS) -> tuple[list[Conversation], dict[str, int]]:
    """The conversations and the call-center script's steps per task."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    conversations = []
    for item in raw["conversations"]:
        turns = tuple(Turn(user=str(t["user"]), says=_strings(t.get("says")),
                           not_says=_strings(t.get("not_says")), metadata=t.get("metadata"),
                           bubbles=t.get("bubbles"), new_words=bool(t.get("new_words")))
                      for t in item["turns"])
        conversations.append(Conversation(
            id=item["id"], style=item["style"], task=item["task"],
            number=str(item["number"]) if item.get("number") else None,
            telegram=bool(item.get("telegram")), turns=turns,
            given=item.get("given") or {}, expect=item.get("expect") or {}))
    return conversations, dict(raw["script_steps"])


class Player:
    """Plays conversations through the Agent; the backend is read directly for checks."""

    def __init__(self, agent: Any, backend: Any) -> None:
        self.agent, self.backend = agent, backend
        self.loop = asyncio.new_event_loop()
        self.bubbles = 0  # messages of the latest answer

    def say(self, sender: str, text: str, metadata: dict | None = None) -> str:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        channel = CollectingOutputChannel()
        self.loop.run_until_complete(self.agent.handle_message(
            UserMessage(text, channel, sender, metadata=metadata)))
        parts = []
        self.bubbles = len(channel.messages)
        for message in channel.messages:
            parts.append(message.get("text") or "")
            parts += [b.get("title", "") for b in message.get("buttons") or []]
        return "\n".join(parts)

    def active(self, number: str) -> set[str]:
        return {s.code for s in self.backend.vas.active_subscriptions(number)}

    def prepare(self, c: Conversation) -> None:
        vas = self.backend.vas
        if c.number and c.telegram:
            self.backend.identity.record(c.sender, c.number, "telegram_contact")
        for code in _strings(c.given.get("active")):
            if code not in self.active(c.number or ""):
                vas.request_registration(c.number, code, "test")
                vas.confirm_registration(c.number, code)
        for code in _strings(c.given.get("inactive")):
            if code in self.active(c.number or ""):
                vas.cancel(c.number, code, "test")

    def play(self, c: Conversation) -> Outcome:
        self.prepare(c)
        failures: list[str] = []
        transcript: list[tuple[str, str]] = []
        for n, turn in enumerate(c.turns, 1):
            answer = self.say(c.sender, turn.user, turn.metadata)
            transcript.append((turn.user, answer))
            folded = answer.lower()
            failures += [f"turn {n}: expected {s!r}" for s in turn.says
                         if s.lower() not in folded]
            failures += [f"turn {n}: must not say {s!r}" for s in turn.not_says
                         if s.lower() in folded]
            if turn.bubbles is not None and self.bubbles != turn.bubbles:
                failures.append(f"turn {n}: {self.bubbles} messages, expected {turn.bubbles}")
            if turn.new_words and len(transcript) > 1 and answer == transcript[-2][1]:
                failures.append(f"turn {n}: the previous answer repeated word for word")
        failures += self.check_state(c)
        return Outcome(c, failures, transcript)

    def check_state(self, c: Conversation) -> list[str]:
        e, number, failures = c.expect, c.number or "", []
        active = self.active(number) if number else set()
        for code in _strings(e.get("active")):
            if code not in active:
                failures.append(f"{code} should be active")
        for code in _strings(e.get("inactive")):
            if code in active:
                failures.append(f"{code} should not be active")
        if "pending" in e:
            pending = sorted(p.code for p in pending_registrations(self.backend, number))
            if pending != sorted(_strings(e["pending"])):
                failures.append(f"pending registrations {pending} != {e['pending']}")
        if "update_request" in e:
            latest = self.backend.update_requests.latest(number)
            status = latest.status if latest else None
            if status != e["update_request"]:
                failures.append(f"update request {status} != {e['update_request']}")
        if "occupation" in e:
            code = self.backend.subscribers.get(number).occupation_code
            if code != e["occupation"]:
                failures.append(f"occupation {code} != {e['occupation']}")
        return failures


@contextmanager
def player(tmp: Path, model: str) -> Iterator[Player]:
    """An action server on a fresh seeded database and the model loaded in-process."""
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    from bot.backend import Backend

    db_url = f"sqlite:///{tmp / 'subscribers.db'}"
    env = stack_env(BOT_OTP_FIXED_CODE=OTP, BOT_DB_URL=db_url, BOT_FIXED_LOCAL_TIME="10:00")
    seed_database(env)
    port = free_port()
    with processes(tmp, env) as procs:
        procs.start("actions", action_server_command(port))
        if not procs.wait("actions", f"http://127.0.0.1:{port}/health", 120):
            raise RuntimeError("the action server did not start:\n" + procs.log_tail())
        agent = Agent.load(model, action_endpoint=EndpointConfig(
            f"http://127.0.0.1:{port}/webhook",
            headers={ACTION_TOKEN_HEADER: TEST_SECRETS["ACTION_SERVER_TOKEN"]}),
            generator=EndpointConfig(type=NLG_CLASS))
        backend = Backend(db_url)
        try:
            yield Player(agent, backend)
        finally:
            backend.dispose()
