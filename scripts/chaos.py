"""Chaos run of the production stack: `make chaos` (CHAOS_ARGS=...), or
`python scripts/chaos.py --duration 150 --users 30`.

What it does (bounded in time, loopback only; a benchmark that prints, not a test):
- starts the stack of scripts/stack.py with `--own-services` (a dedicated redis-server and a
  dedicated PostgreSQL cluster from Debian's binaries under .data/chaos/, so both can be
  stopped without touching the machine's services), fixed OTP; `--config PATH` (or
  STACK_CONFIG) takes the ports from another stack configuration (a second stack beside
  one already running), else free ports are picked;
- `--channel inbox` (default): the customers are Telegram and Zalo users (half each) of the
  real channels, whose APIs are the local fake servers of the tests (tests/channels/
  fakes.py). Each message is a provider webhook (Telegram update / signed Zalo event)
  posted through HAProxy until it is accepted (a non-200 is posted again with backoff, as
  the providers do); the customer then waits for the answer to arrive at the fake server
  (`--answer-timeout`) before the next message. Counts: sent (accepted webhooks),
  answered (a reply reached the fake server), lost (never in the conversation, or still
  not done in the inbox at the end), duplicated (in the conversation twice, or more sends
  at the fake server than the outbox recorded), rows parked;
- `--channel rest`: the REST channel instead. Every message carries a unique id in its
  REST metadata; a message that fails (connection error, timeout, HTTP error; a 503's
  Retry-After is honoured) is delivered again with backoff until it is answered or
  `--drain` s after the end (REST has no idempotency key: a redelivery is a new message);
- meanwhile, one after the other: SIGKILL rasa-1 (restarted), SIGKILL actions-1
  (restarted), restart Redis, stop PostgreSQL for `--pg-outage` s, and redeliver
  `--redeliver` already answered messages (a provider sending a webhook twice);
- then reads every conversation back from the tracker store (Rasa's API through HAProxy)
  and counts: messages sent, answered, lost (never in the conversation), duplicated (in the
  conversation more than once), conversations that continued to their last turn; prints
  and writes reports/chaos-<timestamp>.md (+ .json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import loadtest  # noqa: E402  (scripts/ on sys.path)
import stack as stack_script  # noqa: E402

from tests.servers import TEST_SECRETS, free_port  # noqa: E402

CHAOS_DIR = REPO / ".data" / "chaos"


@dataclass
class Message:
    id: str
    sender: str
    text: str
    attempts: int = 0
    answered: bool = False  # HTTP 200 with at least one reply
    empty: bool = False  # HTTP 200 without any reply (the turn failed inside Rasa)
    errors: Counter = field(default_factory=Counter)
    redelivered: int = 0
    sent_at: float = 0.0  # s since the start of the load, first delivery


@dataclass
class Run:
    messages: dict[str, Message] = field(default_factory=dict)
    conversations: dict[str, list[str]] = field(default_factory=dict)  # sender -> ids
    completed: set[str] = field(default_factory=set)
    events: list[tuple[float, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        at = time.monotonic() - self.started
        self.events.append((round(at, 1), what))
        print(f"[{at:6.1f} s] {what}", flush=True)


async def deliver(session: Any, url: str, msg: Message, deadline: float,
                  timeout_s: float) -> bool:
    """POST the message until Rasa takes it (HTTP 200) or the deadline passes (same id every
    time); True when taken."""
    import aiohttp

    backoff = 0.5
    if not msg.sent_at:
        msg.sent_at = time.monotonic()
    while time.monotonic() < deadline:
        msg.attempts += 1
        try:
            async with session.post(url, json={"sender": msg.sender, "message": msg.text,
                                               "metadata": {"chaos_id": msg.id}},
                                    timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                body = await resp.read()
                if resp.status == 200:  # taken: a channel would not deliver it again
                    msg.answered = bool(json.loads(body or b"[]"))
                    msg.empty = not msg.answered
                    return True
                msg.errors[f"http {resp.status}"] += 1
                retry_after = loadtest.retry_after_s(resp.headers.get("Retry-After"))
                if retry_after is not None:  # the server said when: no faster than that
                    await asyncio.sleep(retry_after)
                    continue
        except asyncio.TimeoutError:
            msg.errors["timeout"] += 1
        except (aiohttp.ClientError, ValueError) as exc:
            msg.errors[type(exc).__name__] += 1
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
    return False



async def customer(session: Any, url: str, run: Run, pool: loadtest.NumberPool,
                   stop_at: float, deadline: float, args: argparse.Namespace, no: int) -> None:
    rng = random.Random(no)
    await asyncio.sleep(rng.uniform(0, args.think))
    while time.monotonic() < stop_at:
        number = pool.take()
        script = rng.choice(loadtest.OTP_CONVERSATIONS if number
                            else loadtest.PLAIN_CONVERSATIONS)
        sender = f"chaos-{uuid.uuid4().hex[:12]}"
        run.conversations[sender] = []
        for template in script:
            msg = Message(uuid.uuid4().hex, sender,
                          template.format(number=number or "", code=loadtest.OTP_CODE))
            run.messages[msg.id] = msg
            run.conversations[sender].append(msg.id)
            if not await deliver(session, url, msg, deadline, args.timeout) or msg.empty:
                break  # no answer: the conversation did not continue
            await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)
        else:
            run.completed.add(sender)
            continue
        # a customer left without an answer comes back later, not at once
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)


async def faults(cluster: stack_script.Stack, run: Run, args: argparse.Namespace,
                 session: Any, url: str) -> None:
    """The fault schedule, one every `--gap` s after `--warmup` s."""
    await asyncio.sleep(args.warmup)
    plan = [f.strip() for f in args.faults.split(",") if f.strip()]
    for i, fault in enumerate(plan):
        if i:
            await asyncio.sleep(args.gap)
        if fault in ("rasa", "actions"):
            name = f"{fault}-1"
            run.note(f"SIGKILL {name}")
            cluster.kill(name, signal.SIGKILL)
            await asyncio.sleep(3)
            run.note(f"restarting {name}")
            await asyncio.to_thread(cluster.restart, name, False)
            asyncio.create_task(until_ready(cluster, name, run))
        elif fault == "redis":
            run.note("stopping Redis (lock store)")
            cluster.kill("redis", signal.SIGTERM)
            await asyncio.sleep(2)
            await asyncio.to_thread(cluster.start_own_redis)
            run.note("Redis restarted")
        elif fault == "postgres":
            run.note(f"stopping PostgreSQL for {args.pg_outage:.0f} s")
            await asyncio.to_thread(cluster.postgres_ctl, "stop")
            await asyncio.sleep(args.pg_outage)
            await asyncio.to_thread(cluster.postgres_ctl, "start")
            run.note("PostgreSQL started again")
        elif fault == "redeliver" and isinstance(run, InboxRun):
            await redeliver_webhooks(session, url, run, args.redeliver, args.timeout)
        elif fault == "redeliver":
            answered = [m for m in run.messages.values() if m.answered]
            chosen = random.Random(7).sample(answered, min(args.redeliver, len(answered)))
            run.note(f"redelivering {len(chosen)} answered messages (same id)")
            for msg in chosen:
                msg.redelivered += 1
                copy = Message(msg.id, msg.sender, msg.text)
                await deliver(session, url, copy, time.monotonic() + 30, args.timeout)
        else:
            raise SystemExit(f"unknown fault {fault!r}")


async def until_ready(cluster: stack_script.Stack, name: str, run: Run) -> None:
    started = time.monotonic()
    proc = cluster.proc(name)
    while time.monotonic() - started < 600:
        if proc.ready_url and await asyncio.to_thread(stack_script.http_status,
                                                      proc.ready_url) == 200:
            run.note(f"{name} ready again after {time.monotonic() - started:.0f} s")
            return
        await asyncio.sleep(1)


async def drive(cluster: stack_script.Stack, args: argparse.Namespace, run: Run,
                pool: loadtest.NumberPool) -> None:
    import aiohttp

    url = f"{cluster.url}/webhooks/rest/webhook"
    stop_at = time.monotonic() + args.duration
    deadline = stop_at + args.drain
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=args.users + 10)) as session:
        chaos = asyncio.create_task(faults(cluster, run, args, session, url))
        users = [asyncio.create_task(customer(session, url, run, pool, stop_at, deadline,
                                              args, i)) for i in range(args.users)]
        await asyncio.wait(users, timeout=args.duration + args.drain + args.timeout + 10)
        await asyncio.wait([chaos], timeout=60)
        if not chaos.done():
            run.note("the fault schedule did not finish within the run")
        for task in [*users, chaos]:
            task.cancel()


def user_events(cluster: stack_script.Stack, conversation: str) -> list[dict]:
    """The customer messages of one conversation, read back from the tracker store."""
    import urllib.request

    token = TEST_SECRETS["RASA_AUTH_TOKEN"]
    with urllib.request.urlopen(f"{cluster.url}/conversations/{conversation}/tracker?"
                                f"token={token}", timeout=30) as resp:
        tracker = json.loads(resp.read())
    return [e for e in tracker.get("events", []) if e.get("event") == "user"]


def stored_ids(cluster: stack_script.Stack, senders: list[str]) -> Counter:
    """How many times each message id is in its conversation (tracker store via Rasa)."""
    return Counter(chaos_id for sender in senders for event in user_events(cluster, sender)
                   if (chaos_id := (event.get("metadata") or {}).get("chaos_id")))


def last_fault(run: Run, at: float) -> str:
    """The fault event last noted before `at` (s since start), or 'before any fault'."""
    faults = [(t, what) for t, what in run.events if not what.startswith(("load", "Redis r",
                                                                          "restarting"))]
    before = [what for t, what in faults if t <= at]
    return before[-1] if before else "before any fault"


def summarise(run: Run, seen: Counter) -> dict[str, Any]:
    msgs = list(run.messages.values())
    for m in msgs:
        m.sent_at = m.sent_at - run.started if m.sent_at else 0.0
    lost = [m for m in msgs if seen.get(m.id, 0) == 0]
    dup = [m for m in msgs if seen.get(m.id, 0) > 1]
    redelivered = [m for m in msgs if m.redelivered]
    errors: Counter = Counter()
    for m in msgs:
        errors.update(m.errors)
    return {
        "messages sent": len(msgs),
        "answered": sum(m.answered for m in msgs),
        "taken but answered with nothing (HTTP 200, no reply)": sum(m.empty for m in msgs),
        "never taken (every delivery failed until the deadline)":
            sum(not m.answered and not m.empty for m in msgs),
        "delivered more than once by the client (retries)": sum(m.attempts > 1 for m in msgs),
        "lost (not in the conversation)": len(lost),
        "lost although answered": sum(m.answered for m in lost),
        "duplicated (in the conversation twice or more)": len(dup),
        "duplicated after a retry of a failed delivery": sum(not m.redelivered for m in dup),
        "redelivered webhooks (already answered)": len(redelivered),
        "redelivered webhooks processed again": sum(seen.get(m.id, 0) > 1 for m in redelivered),
        "conversations": len(run.conversations),
        "conversations that continued to their last turn": len(run.completed),
        "conversations cut short (a turn never answered)":
            sum(1 for s, ids in run.conversations.items()
                if s not in run.completed and ids and not run.messages[ids[-1]].answered),
        "client-side failures by kind": dict(errors),
        "lost, by the last event before the message was sent":
            dict(Counter(last_fault(run, m.sent_at) for m in lost)),
        "answered with nothing, by the last event before":
            dict(Counter(last_fault(run, m.sent_at) for m in msgs if m.empty)),
    }


def markdown(meta: dict[str, Any], summary: dict[str, Any], events: list[tuple[float, str]],
             logs: dict[str, str]) -> str:
    lines = ["# Chaos run of the stack", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "## Counts", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary.items()]
    lines += ["", "## Timeline", ""] + [f"- {at} s: {what}" for at, what in events]
    if logs:
        lines += ["", "## Error lines in the logs (last few per process)", ""]
        for name, text in logs.items():
            lines += [f"### {name}", "", "```", text.rstrip(), "```", ""]
    return "\n".join(lines) + "\n"


def error_lines(cluster: stack_script.Stack, limit: int = 6) -> dict[str, str]:
    found = {}
    for path in sorted(cluster.logs.glob("*.log")):
        lines = [line[:300] for line in path.read_text(errors="replace").splitlines()
                 if " ERROR " in line or "Traceback" in line or "[ALERT]" in line]
        if lines:
            found[path.stem] = f"({len(lines)} lines)\n" + "\n".join(lines[-limit:])
    return found


# ------------------------------------------------------------------ through the inbox
TG_SECRET = "chaos-telegram-secret"
ZALO_APP_ID, ZALO_OA_SECRET, ZALO_APP_SECRET = "chaos-app", "chaos-oa-secret", "chaos-secret"
NOTICES = ("utter_assistant_unavailable", "utter_channel_error",
           "utter_handoff_awaiting_agent")


@dataclass
class Fakes:
    """The fake provider APIs and what the customers of each channel have received."""

    telegram: Any
    zalo: Any
    notices: set[str]

    def replies(self, channel: str, user: str) -> list[str]:
        """Texts delivered to `user` that are answers (not the polite notices)."""
        sent = (self.telegram.delivered_texts(user) if channel == TELEGRAM_CHANNEL
                else self.zalo.texts(user))
        return [t for t in sent if t not in self.notices]

    def sends(self, channel: str, user: str) -> int:
        """Every delivered send to `user` (notices included)."""
        if channel == TELEGRAM_CHANNEL:
            return len([r for r in self.telegram.calls("sendMessage")
                        + self.telegram.calls("sendPhoto")
                        if not r.params.get("_refused")
                        and str(r.params.get("chat_id")) == str(user)])
        return len(self.zalo.messages(user))


TELEGRAM_CHANNEL, ZALO_CHANNEL = "telegram", "zalo"


def start_fakes(layout: dict[str, Any]) -> Fakes:
    from bot.texts import text
    from tests.channels.fakes import FakeTelegram, FakeZalo

    ports = layout.get("fakes") or {}
    telegram, zalo = FakeTelegram(), FakeZalo(secret_key=ZALO_APP_SECRET)
    telegram.port, zalo.port = int(ports.get("telegram", 0)), int(ports.get("zalo", 0))
    telegram.start()
    zalo.start()
    notices = {text(name, channel) for name in NOTICES for channel in ("telegram_ptb", "zalo")}
    return Fakes(telegram, zalo, notices)


def inbox_credentials(fakes: Fakes) -> str:
    """credentials.yml of the chaos stack: Telegram and Zalo on the fakes (+ REST)."""
    return json.dumps({
        "rest": None,
        "bot.channels.telegram.TelegramInput": {
            "token": fakes.telegram.token, "secret_token": TG_SECRET,
            "base_url": fakes.telegram.base_url, "base_file_url": fakes.telegram.base_file_url},
        "bot.channels.zalo.ZaloInput": {
            "app_id": ZALO_APP_ID, "oa_secret_key": ZALO_OA_SECRET,
            "app_secret_key": ZALO_APP_SECRET, "access_token": fakes.zalo.access_token,
            "refresh_token": fakes.zalo.refresh_token, "api_base_url": fakes.zalo.url,
            "oauth_base_url": fakes.zalo.url},
    })


@dataclass
class Webhook:
    """One customer message as its provider delivers it (same body on every redelivery)."""

    channel: str
    user: str
    external_id: str  # the inbox key: Telegram `<bot id>:<update_id>`, Zalo msg_id
    body: bytes
    headers: dict[str, str]

    @property
    def url_path(self) -> str:
        return ("/webhooks/telegram_ptb/webhook" if self.channel == TELEGRAM_CHANNEL
                else "/webhooks/zalo/webhook")

    @property
    def message_id(self) -> str:
        """The Rasa message id the inbox worker gives it (bot/channels/worker.py)."""
        return f"{self.channel}:{self.external_id}"


_update_ids = iter(range(1, 10**9))


def webhook(channel: str, user: str, text: str, fakes: Fakes) -> Webhook:
    import hashlib

    if channel == TELEGRAM_CHANNEL:
        update_id = next(_update_ids)
        body = json.dumps({"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()),
            "chat": {"id": int(user), "type": "private"},
            "from": {"id": int(user), "is_bot": False, "first_name": "Khách"},
            "text": text}}, ensure_ascii=False).encode()
        bot_id = fakes.telegram.token.split(":")[0]
        return Webhook(channel, user, f"{bot_id}:{update_id}", body,
                       {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    msg_id = f"chaos{uuid.uuid4().hex[:16]}"
    timestamp = str(int(time.time() * 1000))
    body = json.dumps({"app_id": ZALO_APP_ID, "user_id_by_app": f"app-{user}",
                       "event_name": "user_send_text", "sender": {"id": user},
                       "recipient": {"id": "oa-chaos"},
                       "message": {"msg_id": msg_id, "text": text},
                       "timestamp": timestamp}, ensure_ascii=False).encode()
    mac = hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode()
                         + ZALO_OA_SECRET.encode()).hexdigest()
    return Webhook(channel, user, msg_id, body, {"X-ZEvent-Signature": f"mac={mac}"})


async def post_webhook(session: Any, base: str, hook: Webhook, msg: Message,
                       deadline: float, timeout_s: float) -> bool:
    """POST the webhook until it is accepted (200: stored, or a duplicate) or the deadline
    passes; non-200 and errors are posted again with backoff (Retry-After honoured)."""
    import aiohttp

    backoff = 0.5
    if not msg.sent_at:
        msg.sent_at = time.monotonic()
    while time.monotonic() < deadline:
        msg.attempts += 1
        try:
            async with session.post(base + hook.url_path, data=hook.body,
                                    headers={"Content-Type": "application/json",
                                             **hook.headers},
                                    timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                await resp.read()
                if resp.status == 200:
                    return True
                msg.errors[f"http {resp.status}"] += 1
                retry_after = loadtest.retry_after_s(resp.headers.get("Retry-After"))
                if retry_after is not None:
                    await asyncio.sleep(retry_after)
                    continue
        except asyncio.TimeoutError:
            msg.errors["timeout"] += 1
        except (aiohttp.ClientError, ValueError) as exc:
            msg.errors[type(exc).__name__] += 1
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
    return False


@dataclass
class InboxRun(Run):
    hooks: dict[str, Webhook] = field(default_factory=dict)  # message id -> webhook
    waited: list[float] = field(default_factory=list)  # s from accepted to first reply


async def inbox_customer(session: Any, base: str, run: InboxRun, fakes: Fakes,
                         pool: loadtest.NumberPool, stop_at: float, deadline: float,
                         args: argparse.Namespace, no: int) -> None:
    rng = random.Random(no)
    channel = TELEGRAM_CHANNEL if no % 2 == 0 else ZALO_CHANNEL
    await asyncio.sleep(rng.uniform(0, args.think))
    while time.monotonic() < stop_at:
        number = pool.take()
        script = rng.choice(loadtest.OTP_CONVERSATIONS if number
                            else loadtest.PLAIN_CONVERSATIONS)
        user = (str(rng.randint(10**9, 2 * 10**9)) if channel == TELEGRAM_CHANNEL
                else f"chaos-{uuid.uuid4().hex[:12]}")
        conversation = f"{'tg' if channel == TELEGRAM_CHANNEL else 'zalo'}-{user}"
        run.conversations[conversation] = []
        for template in script:
            hook = webhook(channel, user, template.format(number=number or "",
                                                          code=loadtest.OTP_CODE), fakes)
            msg = Message(hook.message_id, conversation, template)
            run.messages[msg.id], run.hooks[msg.id] = msg, hook
            run.conversations[conversation].append(msg.id)
            before = len(fakes.replies(channel, user))
            if not await post_webhook(session, base, hook, msg, deadline, args.timeout):
                break  # never accepted: the customer gives up
            accepted = time.monotonic()
            wait_until = min(deadline, accepted + args.answer_timeout)
            while time.monotonic() < wait_until and len(fakes.replies(channel, user)) <= before:
                await asyncio.sleep(0.2)
            if len(fakes.replies(channel, user)) <= before:
                break  # no answer in time: the conversation did not continue (yet)
            msg.answered = True
            run.waited.append(time.monotonic() - accepted)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)
        else:
            run.completed.add(conversation)
            continue
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)


async def redeliver_webhooks(session: Any, base: str, run: InboxRun, count: int,
                             timeout_s: float) -> None:
    answered = [m for m in run.messages.values() if m.answered]
    chosen = random.Random(7).sample(answered, min(count, len(answered)))
    run.note(f"redelivering {len(chosen)} answered webhooks (same provider id)")
    for msg in chosen:
        msg.redelivered += 1
        copy = Message(msg.id, msg.sender, msg.text)
        await post_webhook(session, base, run.hooks[msg.id], copy, time.monotonic() + 30,
                           timeout_s)


async def drive_inbox(cluster: stack_script.Stack, args: argparse.Namespace, run: InboxRun,
                      pool: loadtest.NumberPool, fakes: Fakes) -> None:
    import aiohttp

    stop_at = time.monotonic() + args.duration
    deadline = stop_at + args.drain
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=args.users + 10)) as session:
        chaos = asyncio.create_task(faults(cluster, run, args, session, cluster.url))
        users = [asyncio.create_task(inbox_customer(session, cluster.url, run, fakes, pool,
                                                    stop_at, deadline, args, i))
                 for i in range(args.users)]
        await asyncio.wait(users, timeout=args.duration + args.drain + args.timeout + 10)
        await asyncio.wait([chaos], timeout=60)
        if not chaos.done():
            run.note("the fault schedule did not finish within the run")
        for task in [*users, chaos]:
            task.cancel()


def inbox_state(postgres_url: str) -> tuple[dict[str, tuple[str, int]], dict[tuple[str, str], int]]:
    """The inbox rows (message id -> status, attempts) and the outbox's sends per
    (channel, user) that were (or may have been) delivered."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT channel, external_id, status, attempts FROM channel_inbox")).all()
            sends = conn.execute(sa.text(
                "SELECT channel, user_id, count(*) FROM channel_outbox "
                "WHERE status IN ('sent', 'unknown') GROUP BY channel, user_id")).all()
    finally:
        engine.dispose()
    return ({f"{c}:{e}": (s, a) for c, e, s, a in rows},
            {(c, u): int(n) for c, u, n in sends})


def stored_message_ids(cluster: stack_script.Stack, conversations: list[str]) -> Counter:
    """How many times each Rasa message id is in its conversation."""
    return Counter(event["message_id"] for conversation in conversations
                   for event in user_events(cluster, conversation) if event.get("message_id"))


def summarise_inbox(run: InboxRun, seen: Counter, rows: dict[str, tuple[str, int]],
                    outbox: dict[tuple[str, str], int], fakes: Fakes) -> dict[str, Any]:
    msgs = list(run.messages.values())
    for m in msgs:
        m.sent_at = m.sent_at - run.started if m.sent_at else 0.0
    accepted = [m for m in msgs if m.id in rows]
    not_done = [m for m in accepted if rows[m.id][0] != "done"]
    lost = [m for m in accepted if seen.get(m.id, 0) == 0 or rows[m.id][0] != "done"]
    dup = [m for m in accepted if seen.get(m.id, 0) > 1]
    users = {(h.channel, h.user) for h in run.hooks.values()}
    extra_sends = {u: fakes.sends(*u) - outbox.get(u, 0) for u in users}
    errors: Counter = Counter()
    for m in msgs:
        errors.update(m.errors)
    waited = sorted(run.waited)
    redelivered = [m for m in msgs if m.redelivered]
    return {
        "webhooks sent (messages)": len(msgs),
        "accepted (stored in the inbox)": len(accepted),
        "never accepted until the deadline": len(msgs) - len(accepted),
        "answered while the customer waited (a reply reached the fake server)":
            sum(m.answered for m in msgs),
        "accepted but no reply while the customer waited (--answer-timeout)":
            sum(not m.answered for m in accepted),
        "lost (accepted, but not in the conversation or not done at the end)": len(lost),
        "duplicated (in the conversation twice or more)": len(dup),
        "sends at the fake servers beyond the outbox's (duplicate sends)":
            sum(max(0, n) for n in extra_sends.values()),
        "inbox rows not done at the end, by status":
            dict(Counter(rows[m.id][0] for m in not_done)),
        "inbox rows retried (attempts > 1)": sum(1 for m in accepted if rows[m.id][1] > 1),
        "redelivered webhooks (already answered)": len(redelivered),
        "redelivered webhooks processed again": sum(seen.get(m.id, 0) > 1 for m in redelivered),
        "conversations": len(run.conversations),
        "conversations that continued to their last turn": len(run.completed),
        "webhook posts retried by the client": sum(m.attempts > 1 for m in msgs),
        "client-side failures by kind": dict(errors),
        "wait for the first reply p50 / p95 / max s": (
            f"{waited[len(waited) // 2]:.1f} / {waited[int(len(waited) * 0.95)]:.1f} / "
            f"{waited[-1]:.1f}" if waited else "-"),
        "lost, by the last event before the message was sent":
            dict(Counter(last_fault(run, m.sent_at) for m in lost)),
    }


async def wait_inbox_done(postgres_url: str, ids: list[str], timeout_s: float) -> None:
    """Until every accepted message is done (or parked), at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            rows, _ = await asyncio.to_thread(inbox_state, postgres_url)
        except Exception:
            rows = {}
        if rows and all(rows[i][0] in ("done", "parked") for i in ids if i in rows):
            return
        await asyncio.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--think", type=float, default=1.0, help="mean s between turns")
    parser.add_argument("--duration", type=float, default=150.0, help="s of new traffic")
    parser.add_argument("--drain", type=float, default=90.0,
                        help="s after the end during which failed messages are redelivered")
    parser.add_argument("--warmup", type=float, default=15.0, help="s before the first fault")
    parser.add_argument("--gap", type=float, default=20.0, help="s between faults")
    parser.add_argument("--faults", default="rasa,actions,redis,postgres,redeliver")
    parser.add_argument("--pg-outage", type=float, default=10.0)
    parser.add_argument("--redeliver", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=20.0, help="per-delivery timeout, s")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--keep-logs", action="store_true", help=f"keep {CHAOS_DIR}")
    parser.add_argument("--report-dir", type=Path, default=REPO / "reports")
    parser.add_argument("--channel", choices=["inbox", "rest"], default="inbox",
                        help="inbox: Telegram + Zalo through their inbox (fake provider "
                             "APIs); rest: Rasa's REST channel")
    parser.add_argument("--answer-timeout", type=float, default=90.0,
                        help="inbox: s a customer waits for the answer to a message")
    parser.add_argument("--config", type=Path, default=None,
                        help="stack configuration with the ports to use (default: "
                             "$STACK_CONFIG, else deploy/stack.yml with free ports)")
    args = parser.parse_args(argv)
    if args.duration + args.drain > 900 or args.users > 300:
        parser.error("bounded: --duration + --drain <= 900 s, --users <= 300")
    if stack_script.haproxy_binary() is None:
        raise SystemExit(stack_script.HAPROXY_HELP)
    model = args.model or loadtest.newest_model()

    shutil.rmtree(CHAOS_DIR, ignore_errors=True)
    config = args.config or os.environ.get("STACK_CONFIG")
    layout = stack_script.load_layout(config)
    if not config:  # deploy/stack.yml's ports may be in use by `make stack`: free ones
        layout["ports"] = {"balancer": free_port(), "actions_balancer": free_port(),
                           "rasa": [free_port(), free_port()],
                           "actions": [free_port(), free_port()], "handoff": free_port()}
        layout["own_services"].update(redis_port=free_port(), postgres_port=free_port())
    credentials = CHAOS_DIR / "credentials.yml"
    CHAOS_DIR.mkdir(parents=True, exist_ok=True)
    fakes = start_fakes(layout) if args.channel == "inbox" else None
    credentials.write_text(inbox_credentials(fakes) if fakes else "rest:\n")
    cluster = stack_script.Stack(
        CHAOS_DIR, layout, model=str(model), credentials=str(credentials), own_services=True,
        nice=args.nice, secrets=dict(TEST_SECRETS),
        extra_env={"BOT_ENV": "test", "BOT_OTP_FIXED_CODE": loadtest.OTP_CODE,
                   "LOG_LEVEL": "WARNING"})
    run = Run()
    try:
        print(f"Starting the stack with its own Redis and PostgreSQL in {CHAOS_DIR} ...",
              flush=True)
        cluster.start()
        cooldown_s, per_hour = loadtest.otp_limits()
        pool = loadtest.NumberPool(loadtest.subscriber_numbers(cluster.postgres_url),
                                   cooldown_s, per_hour)
        run = InboxRun() if fakes else Run()
        run.note(f"load: {args.users} customers ({args.channel}) for {args.duration:.0f} s "
                 f"(+ {args.drain:.0f} s redelivery)")
        if isinstance(run, InboxRun) and fakes is not None:
            asyncio.run(drive_inbox(cluster, args, run, pool, fakes))
            run.note("load over; waiting for the inbox to finish")
            asyncio.run(wait_inbox_done(cluster.postgres_url, list(run.messages), 120))
            run.note("reading every conversation back")
            cluster.wait_ready(["haproxy"], 120)
            rows, outbox = inbox_state(cluster.postgres_url)
            seen = stored_message_ids(cluster, list(run.conversations))
            summary = summarise_inbox(run, seen, rows, outbox, fakes)
        else:
            asyncio.run(drive(cluster, args, run, pool))
            run.note("load over; reading every conversation back")
            # wait for the restarted processes so the count reads the real store
            cluster.wait_ready(["haproxy"], 120)
            seen = stored_ids(cluster, list(run.conversations))
            summary = summarise(run, seen)
        logs = error_lines(cluster)
    finally:
        cluster.stop()
        if fakes is not None:
            fakes.telegram.stop()
            fakes.zalo.stop()
        if not args.keep_logs:
            shutil.rmtree(CHAOS_DIR / "postgres", ignore_errors=True)
    meta = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True).stdout.strip(),
        "model": model.name,
        "stack": "scripts/stack.py --own-services: HAProxy -> 2 Rasa -> HAProxy -> 2 action "
                 "servers, own PostgreSQL (pg_ctl) + own redis-server",
        "channel": ("Telegram + Zalo webhooks through the inbox (fake provider APIs)"
                    if fakes else "REST"),
        "load": f"{args.users} customers, think ~{args.think} s, {args.duration:.0f} s, "
                f"failed deliveries retried with backoff for up to {args.drain:.0f} s more",
        "faults": args.faults, "machine": "2 cores shared with other workers",
    }
    text = markdown(meta, summary, run.events, logs)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    report = args.report_dir / f"chaos-{datetime.now():%Y%m%d-%H%M%S}.md"
    report.write_text(text, encoding="utf-8")
    report.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "timeline": run.events}, ensure_ascii=False,
        indent=1), encoding="utf-8")
    print(text)
    print(f"Report: {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
