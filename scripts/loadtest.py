"""Load test of one instance and of the stack: `make loadtest` (LOADTEST_ARGS=...), or
`python scripts/loadtest.py --targets single,stack --reference --users 20,100,300
--think-modes 0,10`; soak: `make soak` (`--soak MINUTES`).

What it does (a benchmark, not a test: it never fails on slowness, it measures):
- targets (`--targets`), one after the other in the same run:
  `single` starts `bot serve actions` and `bot serve rasa` (newest model of `models/`,
  trained with `make train` when there is none; credentials with only `rest:` in a
  temporary file; the tracker store of endpoints.yml on a temporary SQLite database unless
  TRACKER_DB_URL is set) on a freshly upgraded and seeded subscriber database;
  `stack` starts the layout of scripts/stack.py (HAProxy, 2 Rasa, 2 action servers,
  hand-off; PostgreSQL tracker store and subscribers in a fresh database `bot_loadtest`
  on STACK_POSTGRES_URL's server, Redis lock store on STACK_REDIS_URL) and plays through
  the balancer; `--reference` then plays the same steps against the stock `rasa init` bot
  (trained once into .cache/stock-init/); all with BOT_ENV=test, BOT_OTP_FIXED_CODE=123456
  so OTP flows are deterministic — or targets a running instance with `--url` (its
  BOT_DB_URL must then be given with `--db-url`);
- plays simulated customers over the REST webhook (aiohttp, loopback only, bounded in count
  and time): each one plays realistic 6-turn Vietnamese conversations back to back, a new
  sender id per conversation; for every think time of `--think-modes` (0 = closed loop,
  saturation; else users thinking 0.5-1.5x that many seconds between turns) every step of
  `--users`. OTP flows ("kiểm tra thông tin thuê bao" -> number -> code -> balance ->
  stores -> thanks) use the seeded subscribers' numbers under the operator's OTP limits
  (bot/operator.yml: one code per number per resend cool-down, a few per hour), so a number
  is reused only when its cool-down is over; when none is free the customer plays a
  conversation without OTP (stores, FAQ, balance question, greeting) and the report says so;
- `--soak MINUTES`: the stack only, `--soak-users` thinking `--soak-think` s for MINUTES,
  the RSS of every process sampled every `--soak-sample` s: memory growth per process;
- prints and writes `reports/loadtest-<timestamp>.md` (+ .json): per target and step users,
  turns, turns/s, p50/p95/p99/max per turn, p50 of early (turns 1-2) vs late (turns 5-6)
  turns, errors, the conversation mix, CPU ms per turn of every server process and of the
  load driver; `--profile` records the (first) Rasa process and action server with
  py-spy during the last step (`pip install py-spy`, measuring only), keeps the top of
  each profile in the report and the raw stacks beside it (`profile-*.txt`).

The machine's cores are shared: the servers run under `nice` (`--nice`), and the report
records the load average before each step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.servers import (  # noqa: E402  (the repo on sys.path first)
    TEST_SECRETS,
    Processes,
    stack_env,
    write_endpoints,
)
from tests.servers import free_port as any_free_port  # noqa: E402

# `--ports LOW-HIGH`: the servers this script starts listen only there (a machine shared
# with other work that owns fixed port ranges); None: any free port.
PORT_RANGE: tuple[int, int] | None = None


def free_port() -> int:
    """A port nothing listens on, from `--ports` when given."""
    if PORT_RANGE is None:
        return any_free_port()
    import socket

    low, high = PORT_RANGE
    for port in range(low, high + 1):
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise SystemExit(f"--ports {low}-{high}: no free port left")


_PORTS_GIVEN: set[int] = set()

OTP_CODE = "123456"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Realistic 6-turn conversations (what customers type, with and without diacritics).
# "{number}" / "{code}" are filled per conversation.
OTP_CONVERSATIONS = [
    ["kiểm tra thông tin thuê bao", "{number}", "{code}", "tài khoản còn bao nhiêu",
     "cửa hàng ở quận 3", "cảm ơn"],
    ["kiem tra thong tin thue bao", "so cua toi la {number}", "ma la {code}",
     "tai khoan con bao nhieu tien", "cua hang o quan 1", "cam on em"],
    ["tài khoản của tôi còn bao nhiêu tiền?", "{number}", "{code}",
     "lịch sử nạp tiền của tôi", "tìm điểm giao dịch tại Hà Nội", "cảm ơn nhé"],
]
PLAIN_CONVERSATIONS = [
    ["chào em", "cửa hàng gần nhất ở quận 3 ở đâu?", "tìm điểm giao dịch tại Hà Nội",
     "nghị định 49 nói về cái gì vậy", "gửi ảnh CCCD lên có an toàn không", "cảm ơn"],
    ["chao em", "cua hang o quan 1", "vi sao nha mang bat chuan hoa thong tin",
     "cửa hàng ở quận 3", "ai được xem ảnh chân dung của tôi", "tạm biệt em nhé"],
]


# ----------------------------------------------------------------------------- numbers
class NumberPool:
    """Demo numbers under the OTP limits: a number is handed out again only after the
    resend cool-down, and at most `per_hour` times an hour."""

    def __init__(self, numbers: list[str], cooldown_s: float, per_hour: int) -> None:
        self.numbers = list(numbers)
        random.shuffle(self.numbers)
        self.cooldown_s, self.per_hour = cooldown_s, per_hour
        self.uses: dict[str, list[float]] = {n: [] for n in self.numbers}
        self.index = 0

    def take(self) -> str | None:
        now = time.monotonic()
        for _ in range(len(self.numbers)):
            number = self.numbers[self.index]
            self.index = (self.index + 1) % len(self.numbers)
            uses = [t for t in self.uses[number] if now - t < 3600]
            self.uses[number] = uses
            if len(uses) < self.per_hour and (not uses or now - uses[-1] > self.cooldown_s):
                uses.append(now)
                return number
        return None


def subscriber_numbers(db_url: str) -> list[str]:
    """Active subscribers of the seeded database (SQLite or any SQLAlchemy URL)."""
    query = "SELECT msisdn FROM subscribers WHERE status = 'active' ORDER BY msisdn"
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            return [row[0] for row in conn.execute(query)]
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def otp_limits() -> tuple[float, int]:
    otp = yaml.safe_load((REPO / "bot" / "operator.yml").read_text(encoding="utf-8"))["otp"]
    per_hour = min(int(otp["per_number_sms_per_hour"]), int(otp["per_number_sms_per_day"]))
    return float(otp["resend_cooldown_seconds"]) + 2.0, per_hour


# ------------------------------------------------------------------------------ driver
@dataclass
class Step:
    users: int
    think_s: float
    duration_s: float
    load_before: str = ""
    turns: int = 0
    errors: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    by_turn: dict[int, list[float]] = field(default_factory=dict)
    conversations: Counter = field(default_factory=Counter)
    empty_replies: int = 0
    otp_rejected: int = 0
    elapsed_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    turns_per_conversation: int = 6

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies)

        def pct(values: list[float], q: float) -> float:
            if not values:
                return float("nan")
            return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000

        early = sorted(x for t in (1, 2) for x in self.by_turn.get(t, []))
        last = max(self.by_turn, default=6)
        late = sorted(x for t in (last - 1, last) for x in self.by_turn.get(t, []))
        return {
            "users": self.users, "think_s": self.think_s, "duration_s": round(self.elapsed_s, 1),
            "turns": self.turns, "turns_per_s": round(self.turns / self.elapsed_s, 2)
            if self.elapsed_s else 0.0,
            "p50_ms": round(pct(lat, 0.50), 1), "p95_ms": round(pct(lat, 0.95), 1),
            "p99_ms": round(pct(lat, 0.99), 1), "max_ms": round(pct(lat, 1.0), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
            "early_p50_ms": round(pct(early, 0.5), 1), "late_p50_ms": round(pct(late, 0.5), 1),
            "errors": self.errors, "error_kinds": dict(self.error_kinds),
            "empty_replies": self.empty_replies, "otp_rejected": self.otp_rejected,
            "conversations": dict(self.conversations), "load_before": self.load_before,
            "p50_ms_by_turn": {t: round(pct(sorted(v), 0.5), 1)
                               for t, v in sorted(self.by_turn.items())},
            "cpu_ms_per_turn": {name: round(1000 * cpu / self.turns, 1) if self.turns else None
                                for name, cpu in self.cpu_s.items()},
        }


# What the assistant says when it refuses a code (a reply to the OTP turn that asks again).
OTP_REJECTED = re.compile(r"(không đúng|sai|hết hạn|quá số lần|thử lại sau)", re.IGNORECASE)


async def play(session, url: str, step: Step, pool: NumberPool, stop_at: float,
               timeout_s: float, user_no: int) -> None:
    import aiohttp

    rng = random.Random(user_no)
    while time.monotonic() < stop_at:
        number = pool.take()
        if number is not None:
            script, kind = rng.choice(OTP_CONVERSATIONS), "otp"
        else:
            script, kind = rng.choice(PLAIN_CONVERSATIONS), "plain (no free number)"
        step.conversations[kind] += 1
        sender = f"load-{uuid.uuid4().hex}"
        if step.turns_per_conversation > len(script):  # a long session: more questions
            extra = [t for conv in PLAIN_CONVERSATIONS for t in conv[1:-1]]
            script = script[:-1] + [extra[i % len(extra)] for i in range(
                step.turns_per_conversation - len(script))] + script[-1:]
        for turn_no, template in enumerate(script, start=1):
            if time.monotonic() >= stop_at:
                return
            text = template.format(number=number or "", code=OTP_CODE)
            started = time.perf_counter()
            try:
                while True:
                    async with session.post(url, json={"sender": sender, "message": text},
                                            timeout=aiohttp.ClientTimeout(total=timeout_s)
                                            ) as resp:
                        body = await resp.read()
                        status = resp.status
                        wait = retry_after_s(resp.headers.get("Retry-After"))
                    # Refused at once by admission control: sent again when the server says
                    # (the turn's latency counts the wait), within the step.
                    if status != 503 or wait is None or time.monotonic() + wait >= stop_at:
                        break
                    step.error_kinds["503 Retry-After (sent again, not an error)"] += 1
                    await asyncio.sleep(wait)
            except asyncio.TimeoutError:
                step.errors += 1
                step.error_kinds["timeout"] += 1
                break
            except aiohttp.ClientError as exc:
                step.errors += 1
                step.error_kinds[type(exc).__name__] += 1
                await asyncio.sleep(0.5)
                break
            elapsed = time.perf_counter() - started
            if status != 200:
                step.errors += 1
                step.error_kinds[f"http {status}"] += 1
                await asyncio.sleep(0.5)  # as after a connection error: no hot loop
                break
            step.turns += 1
            step.latencies.append(elapsed)
            step.by_turn.setdefault(turn_no, []).append(elapsed)
            try:
                replies = json.loads(body)
            except ValueError:
                replies = None
            if not replies:
                step.empty_replies += 1
            elif kind == "otp" and "{code}" in template and OTP_REJECTED.search(
                    " ".join(str(r.get("text", "")) for r in replies)):
                step.otp_rejected += 1
            if step.think_s:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * step.think_s)


def retry_after_s(value: str | None, cap: float = 30.0) -> float | None:
    """Seconds of a Retry-After header (seconds form), capped; None when absent/invalid."""
    try:
        return min(max(float(value), 0.0), cap) if value is not None else None
    except ValueError:
        return None


async def run_step(url: str, step: Step, pool: NumberPool, timeout_s: float,
                   ramp_s: float, background: tuple = ()) -> Step:
    """Play `step` against `url`; `background`: coroutine functions of the stop time run
    alongside (the soak's memory sampler)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=step.users + 5)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.monotonic()
        stop_at = start + step.duration_s

        async def user(no: int) -> None:
            if ramp_s and step.users > 1:
                await asyncio.sleep(ramp_s * no / step.users)
            await play(session, url, step, pool, stop_at, timeout_s, no)

        tasks = [asyncio.create_task(user(i)) for i in range(step.users)]
        side = [asyncio.create_task(b(stop_at)) for b in background]
        # Bounded in time: requests in flight get their timeout, then everything stops.
        done, pending = await asyncio.wait(tasks, timeout=step.duration_s + timeout_s + 5)
        for task in [*pending, *side]:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                step.errors += 1
                step.error_kinds[type(task.exception()).__name__] += 1
        step.elapsed_s = min(time.monotonic(), stop_at) - start
    return step


# ----------------------------------------------------------------------------- servers
def newest_model() -> Path:
    models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        print("No model in models/: make train", flush=True)
        subprocess.run(["make", "train"], cwd=REPO, check=True)
        models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1]


def wait_ok(url: str, procs: Processes, name: str, timeout: float) -> None:
    if not procs.wait(name, url, timeout):
        raise SystemExit(f"{name} did not start:\n{procs.log_tail()}")


@dataclass
class Target:
    """What the load is played against: its base URL, the subscriber database its numbers
    come from, the processes whose CPU and memory are measured, how to stop it."""
    name: str
    url: str
    db_url: str | None
    pids: dict[str, int]
    stop: Callable[[], object]
    description: str


def start_single(tmp: Path, args: argparse.Namespace) -> Target:
    """One `bot serve rasa` + one `bot serve actions` (SQL tracker store on SQLite unless
    TRACKER_DB_URL is set; subscribers on SQLite), REST only."""
    tmp.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{tmp / 'subscribers.db'}"
    env = stack_env(BOT_DB_URL=db_url, BOT_OTP_FIXED_CODE=OTP_CODE,
                    TRACKER_DB_URL=os.environ.get("TRACKER_DB_URL")
                    or f"sqlite:///{tmp / 'tracker.db'}",
                    LOG_LEVEL="WARNING",
                    BOT_RASA_PATCHES="off" if args.no_patches else "on")
    bin_dir = REPO / ".venv" / "bin"
    for cmd in (["db", "upgrade"], ["db", "seed"]):
        subprocess.run([str(bin_dir / "bot"), *cmd], env=env, cwd=REPO, check=True,
                       capture_output=True)
    actions_port, rasa_port = free_port(), free_port()
    credentials = tmp / "credentials.yml"
    credentials.write_text("rest:\n")
    # The tracker store of endpoints.yml (its class may be renamed; read it, do not name it).
    ours = yaml.safe_load((REPO / "endpoints.yml").read_text(encoding="utf-8")) or {}
    more = {"tracker_store": ours["tracker_store"]} if "tracker_store" in ours else {}
    endpoints = write_endpoints(tmp / "endpoints.yml", actions_port, **more)
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    procs = Processes(tmp, env)
    procs.start("actions", [*nice, str(bin_dir / "bot"), "serve", "actions",
                            "--port", str(actions_port)])
    wait_ok(f"http://127.0.0.1:{actions_port}/health", procs, "actions", 60)
    procs.start("rasa", [*nice, str(bin_dir / "bot"), "serve", "rasa", "--model",
                         str(args.model), "--port", str(rasa_port), "--credentials",
                         str(credentials), "--endpoints", str(endpoints)])
    wait_ok(f"http://127.0.0.1:{rasa_port}/", procs, "rasa", 300)
    store = "TRACKER_DB_URL" if os.environ.get("TRACKER_DB_URL") else "SQLite"
    # nice execs the server, so the child's pid is the Python process
    return Target("single", f"http://127.0.0.1:{rasa_port}", db_url,
                  {name: p.pid for name, p in procs.procs.items()}, procs.stop,
                  f"one bot serve rasa + one bot serve actions (nice {args.nice}), REST, "
                  f"SQL tracker store on {store}, subscribers on SQLite")


def start_cluster(tmp: Path, args: argparse.Namespace) -> Target:
    """The production stack of scripts/stack.py (2 Rasa + 2 action servers behind HAProxy,
    PostgreSQL tracker store and subscribers in a fresh database, Redis lock store)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import stack as stack_script

    if stack_script.haproxy_binary() is None:
        raise SystemExit(stack_script.HAPROXY_HELP)
    layout = stack_script.load_layout()
    layout["ports"] = {"balancer": free_port(), "actions_balancer": free_port(),
                       "rasa": [free_port(), free_port()],
                       "actions": [free_port(), free_port()], "handoff": free_port()}
    base = os.environ.get("STACK_POSTGRES_URL") or layout["postgres_url"]
    db_url = stack_script.with_database(base, "bot_loadtest")
    reset_database(db_url)
    credentials = tmp / "credentials.yml"
    tmp.mkdir(parents=True, exist_ok=True)
    credentials.write_text("rest:\n")
    os.environ["STACK_POSTGRES_URL"] = db_url
    cluster = stack_script.Stack(
        tmp, layout, model=str(args.model), credentials=str(credentials), nice=args.nice,
        secrets=dict(TEST_SECRETS),
        extra_env={"BOT_ENV": "test", "BOT_OTP_FIXED_CODE": OTP_CODE, "LOG_LEVEL": "WARNING",
                   "BOT_RASA_PATCHES": "off" if args.no_patches else "on"})
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    pids = {name: pid for name in cluster.names() if (pid := cluster.pid(name))}
    return Target("stack", cluster.url, db_url, pids, cluster.stop,
                  f"scripts/stack.py: HAProxy -> 2 x bot serve rasa -> HAProxy -> 2 x bot serve "
                  f"actions (nice {args.nice}), PostgreSQL tracker store + subscribers "
                  f"(fresh database), Redis lock store ({cluster.redis_url.rsplit('/', 1)[0]})")


def reset_database(url: str) -> None:
    """DROP and CREATE the PostgreSQL database of `url` (a fresh one for every run: the OTP
    limits count per number)."""
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    conn = psycopg2.connect(admin, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


STOCK_DIR = REPO / ".cache" / "stock-init"


def start_stock(tmp: Path, args: argparse.Namespace) -> Target:
    """The stock `rasa init` bot (trained once into .cache/stock-init), `rasa run` with its
    own REST channel and in-memory tracker store: the reference."""
    bin_dir = REPO / ".venv" / "bin"
    env = stack_env(LOG_LEVEL="WARNING")
    if not list((STOCK_DIR / "models").glob("*.tar.gz")):
        print(f"Training the stock rasa init bot into {STOCK_DIR} (once) ...", flush=True)
        STOCK_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(bin_dir / "rasa"), "init", "--no-prompt", "--init-dir", "."],
                       cwd=STOCK_DIR, env=env, check=True, capture_output=True)
    port = free_port()
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    procs = Processes(tmp, env)
    tmp.mkdir(parents=True, exist_ok=True)
    procs.start("rasa", [*nice, str(bin_dir / "rasa"), "run", "--interface", "127.0.0.1",
                         "--port", str(port), "--model", str(STOCK_DIR / "models"),
                         "--credentials", str(STOCK_DIR / "credentials.yml"),
                         "--endpoints", str(STOCK_DIR / "endpoints.yml")])
    wait_ok(f"http://127.0.0.1:{port}/", procs, "rasa", 300)
    return Target("stock rasa init", f"http://127.0.0.1:{port}", None,
                  {name: p.pid for name, p in procs.procs.items()}, procs.stop,
                  f"stock `rasa init` bot (rasa run, nice {args.nice}, in-memory tracker store, "
                  "no action server)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ------------------------------------------------------------------------------ report
def markdown(title: str, meta: dict[str, object], rows: list[dict[str, object]],
             profile: str | None, extra: str = "") -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "| target | users | think s | turns | turns/s | p50 ms | p95 ms | p99 ms | "
              "max ms | early p50 (turns 1-2) | late p50 (last 2) | errors | empty | "
              "OTP refused | conversations | load avg before | CPU ms/turn |",
              "|" + "---|" * 17]
    for r in rows:
        conv = ", ".join(f"{k} {v}" for k, v in r["conversations"].items())  # type: ignore[union-attr]
        errs = f"{r['errors']} {r['error_kinds'] or ''}".strip()
        cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_turn"].items()) or "-"  # type: ignore[union-attr]
        lines.append(f"| {r.get('target', '-')} | {r['users']} | {r['think_s']} | {r['turns']} | "
                     f"{r['turns_per_s']} | "
                     f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                     f"{r['early_p50_ms']} | {r['late_p50_ms']} | {errs} | "
                     f"{r['empty_replies']} | {r['otp_rejected']} | {conv} | "
                     f"{r['load_before']} | {cpu} |")
    lines += ["", "p50 ms by turn index (turn 1 = first message of a conversation):", ""]
    for r in rows:
        curve = ", ".join(f"{t}: {v}" for t, v in r["p50_ms_by_turn"].items())  # type: ignore[union-attr]
        lines.append(f"- {r.get('target', '-')}, {r['users']} users, think {r['think_s']} s: "
                     f"{curve}")
    if extra:
        lines += ["", extra.rstrip()]
    if profile:
        lines += ["", "## Profiles of the Rasa process and the action server (py-spy, one "
                  "step)", "", "```", profile.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def memory_table(samples: list[tuple[float, dict[str, float | None]]]) -> str:
    """Memory growth per process from (seconds since start, {process: RSS MB}) samples:
    first sample after warm-up, last, growth and growth per hour."""
    if len(samples) < 2:
        return "## Memory\n\n(fewer than two samples)\n"
    (t0, first), (t1, last) = samples[0], samples[-1]
    hours = max((t1 - t0) / 3600, 1e-9)
    lines = ["## Memory (RSS) per process", "",
             f"{len(samples)} samples over {(t1 - t0) / 60:.1f} min (first sample after the "
             "warm-up step)", "",
             "| process | first MB | last MB | max MB | growth MB | growth MB/h |",
             "|---|---|---|---|---|---|"]
    for name in first:
        values = [s[name] for _, s in samples if s.get(name) is not None]
        a, b = first.get(name), last.get(name)
        if a is None or b is None or not values:
            lines.append(f"| {name} | {a} | {b} | - | (process gone) | - |")
            continue
        lines.append(f"| {name} | {a:.0f} | {b:.0f} | {max(values):.0f} | {b - a:+.1f} | "
                     f"{(b - a) / hours:+.1f} |")
    return "\n".join(lines) + "\n"


# Frames every request passes through (event loop, server, launcher): not informative.
OUTER_FRAMES = (r"\(asyncio/|\(threading\.py|<module>|run_forever|_run_once|_run \(|\(uvloop|"
                r"\(sanic/|bot/cli\.py|bot/serve\.py|rasa/api\.py|rasa/core/run\.py|"
                r"rasa/__main__\.py|rasa/cli/run\.py|connection_task|handle_request|"
                r"channels/rest\.py|channels/channel\.py")


def profile_top(raw: Path, limit: int) -> str:
    """Top functions of a py-spy `--format raw` (collapsed stacks) file: self and
    cumulative share of samples."""
    own: Counter = Counter()
    total_in: Counter = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total_in[frame] += n
    if not samples:
        return "(no samples)"

    def short(frame: str) -> str:
        return re.sub(r"/[^ ]*/site-packages/", "", frame).replace(str(REPO) + "/", "")

    out = [f"{samples} samples", "", "cumulative (share of samples with the function on the "
           "stack):"]
    interesting = [(f, n) for f, n in total_in.most_common()
                   if not re.search(OUTER_FRAMES, f)]
    out += [f"{100 * n / samples:5.1f}%  {short(f)}" for f, n in interesting[:limit]]
    out += ["", "self (share of samples in the function itself):"]
    out += [f"{100 * n / samples:5.1f}%  {short(f)}" for f, n in own.most_common(limit)]
    return "\n".join(out)


# -------------------------------------------------------------------------------- main
STARTERS = {"single": start_single, "stack": start_cluster}


def play_target(target: Target, args: argparse.Namespace, steps: list[int],
                thinks: list[float], tmp: Path) -> tuple[list[dict[str, object]], str | None]:
    """Every (think time, users) step against one target; rows of the report."""
    url = f"{target.url}/webhooks/rest/webhook"
    numbers = (subscriber_numbers(target.db_url) if target.db_url
               else subscriber_numbers(args.reference_numbers_db))
    cooldown_s, per_hour = otp_limits()
    pool = NumberPool(numbers, cooldown_s, per_hour)
    print(f"[{target.name}] {len(numbers)} subscriber numbers; OTP: one code per number every "
          f"{cooldown_s:.0f} s, {per_hour} an hour", flush=True)
    if args.warmup:
        asyncio.run(run_step(url, Step(1, 0.0, args.warmup), pool, args.timeout, 0))
    rows, profile_text = [], None
    plan = [(think, users) for think in thinks for users in steps]
    for i, (think, users) in enumerate(plan):
        step = Step(users, think, args.duration if not think else args.think_duration,
                    turns_per_conversation=args.turns,
                    load_before=" ".join(f"{x:.1f}" for x in os.getloadavg()))
        spies: list[tuple[str, subprocess.Popen, Path]] = []
        profiled = (users == args.profile_users if args.profile_users else i == len(plan) - 1)
        if args.profile and profiled and target.name != "stock rasa init":
            spy_bin = shutil.which("py-spy") or str(REPO / ".venv" / "bin" / "py-spy")
            # the first Rasa process and the first action server
            for kind in ("rasa", "actions"):
                found = next(((n, p) for n, p in target.pids.items() if n.startswith(kind)),
                             None)
                if found is None:
                    continue
                name, pid = found
                raw = tmp / f"profile-{name}.txt"
                with open(tmp / f"py-spy-{name}.log", "w") as spy_log:
                    spies.append((name, subprocess.Popen(
                        [spy_bin, "record", "--pid", str(pid), "--format", "raw", "--rate",
                         "100", "--duration", str(int(step.duration_s)), "--output",
                         str(raw), "--nonblocking"], stdout=subprocess.DEVNULL,
                        stderr=spy_log), raw))
        cpu_before = {name: cpu_seconds(p) for name, p in target.pids.items()}
        own_before = os.times()
        asyncio.run(run_step(url, step, pool, args.timeout, args.ramp))
        own_after = os.times()
        step.cpu_s = {name: cpu_seconds(p) - cpu_before[name] for name, p in target.pids.items()}
        step.cpu_s["all servers"] = sum(step.cpu_s.values())
        step.cpu_s["load driver"] = (own_after.user + own_after.system
                                     - own_before.user - own_before.system)
        row = {"target": target.name, **step.summary()}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        sections = []
        for name, spy, raw in spies:
            try:
                spy.wait(step.duration_s + 30)
            except subprocess.TimeoutExpired:
                spy.terminate()
            title = f"### {name} ({users} users, think {think} s)"
            if raw.exists():
                sections.append(f"{title}\n\n{profile_top(raw, args.profile_top)}")
                args.report_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(raw, args.report_dir / (f"profile-{datetime.now():%Y%m%d-%H%M%S}"
                                                    f"-{name}.txt"))
            else:
                sections.append(f"{title}\n\npy-spy failed: "
                                + (tmp / f"py-spy-{name}.log").read_text()[-500:])
        if sections:
            profile_text = "\n\n".join(sections)
    return rows, profile_text


def soak(target: Target, args: argparse.Namespace) -> tuple[list[dict[str, object]], str]:
    """`--soak MINUTES` at moderate load (`--soak-users` thinking `--soak-think` s): one long
    step; RSS of every process sampled every `--soak-sample` s."""
    url = f"{target.url}/webhooks/rest/webhook"
    assert target.db_url
    cooldown_s, per_hour = otp_limits()
    pool = NumberPool(subscriber_numbers(target.db_url), cooldown_s, per_hour)
    print(f"[soak] warm-up {args.warmup:.0f} s, then {args.soak:.0f} min of "
          f"{args.soak_users} users thinking {args.soak_think} s", flush=True)
    asyncio.run(run_step(url, Step(args.soak_users, args.soak_think, max(args.warmup, 30)),
                         pool, args.timeout, args.ramp))
    samples: list[tuple[float, dict[str, float | None]]] = []
    started = time.monotonic()

    async def sampler(stop_at: float) -> None:
        while True:
            samples.append((time.monotonic() - started,
                            {name: rss_mb(pid) for name, pid in target.pids.items()}))
            if time.monotonic() >= stop_at:
                return
            await asyncio.sleep(min(args.soak_sample, max(0.1, stop_at - time.monotonic())))

    step = Step(args.soak_users, args.soak_think, args.soak * 60,
                turns_per_conversation=args.turns,
                load_before=" ".join(f"{x:.1f}" for x in os.getloadavg()))
    cpu_before = {name: cpu_seconds(p) for name, p in target.pids.items()}
    asyncio.run(run_step(url, step, pool, args.timeout, args.ramp, background=(sampler,)))
    samples.append((time.monotonic() - started,
                    {name: rss_mb(pid) for name, pid in target.pids.items()}))
    step.cpu_s = {name: cpu_seconds(p) - cpu_before[name] for name, p in target.pids.items()}
    row = {"target": f"{target.name} (soak)", **step.summary()}
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return [row], memory_table(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1,20", help="comma-separated steps (1,20,100,300)")
    parser.add_argument("--duration", type=float, default=45.0,
                        help="seconds per closed-loop step")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean think time between turns, s (0 = closed loop, saturation)")
    parser.add_argument("--think-modes", help="comma-separated think times, each a series of "
                                              "steps (e.g. 0,10: saturation, then users "
                                              "thinking ~10 s); default: --think")
    parser.add_argument("--think-duration", type=float,
                        help="seconds per step with think time (default: --duration)")
    parser.add_argument("--targets", default="single",
                        help="comma-separated: single (one Rasa + one action server), stack "
                             "(scripts/stack.py behind HAProxy)")
    parser.add_argument("--reference", action="store_true",
                        help="also play every step against the stock `rasa init` bot")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="soak mode: the stack at moderate load for MINUTES, memory growth "
                             "per process (make soak: 30)")
    parser.add_argument("--soak-users", type=int, default=30)
    parser.add_argument("--soak-think", type=float, default=3.0)
    parser.add_argument("--soak-sample", type=float, default=30.0,
                        help="seconds between memory samples")
    parser.add_argument("--turns", type=int, default=6,
                        help="turns per conversation (> 6: a long session, extra questions "
                             "before the thanks; early vs late turns compared)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-turn timeout, s")
    parser.add_argument("--ramp", type=float, default=2.0, help="ramp-up seconds per step")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of single-user traffic before the steps (not reported)")
    parser.add_argument("--url", help="target a running Rasa (loopback only) instead of "
                                      "starting one; needs --db-url")
    parser.add_argument("--db-url", help="subscriber database of the --url instance")
    parser.add_argument("--model", type=Path, help="model (default: newest in models/)")
    parser.add_argument("--no-patches", action="store_true",
                        help="start Rasa with BOT_RASA_PATCHES=off (A/B against bot/rasa_patches)")
    parser.add_argument("--nice", type=int, default=10, help="nice level of the servers")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy record the Rasa process during the last step")
    parser.add_argument("--profile-users", type=int,
                        help="the step to profile (default: the last)")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--label", default="", help="name in the report (e.g. baseline)")
    parser.add_argument("--report-dir", type=Path, default=REPO / "reports")
    parser.add_argument("--max-users", type=int, default=500)
    parser.add_argument("--ports", metavar="LOW-HIGH",
                        help="the started servers listen on ports of this range only "
                             "(default: any free port)")
    args = parser.parse_args(argv)
    if args.ports:
        global PORT_RANGE
        low, _, high = args.ports.partition("-")
        PORT_RANGE = (int(low), int(high or low))

    steps = [int(u) for u in args.users.split(",") if u.strip()]
    if not steps or max(steps) > args.max_users or min(steps) < 1:
        parser.error(f"--users: between 1 and {args.max_users}")
    if args.duration > 600 or (args.think_duration or 0) > 600:
        parser.error("--duration: at most 600 s per step")
    if args.soak is not None and not 0 < args.soak <= 240:
        parser.error("--soak: between 0 and 240 minutes")
    thinks = ([float(t) for t in args.think_modes.split(",")] if args.think_modes
              else [args.think])
    args.think_duration = args.think_duration or args.duration
    targets = ["stack"] if args.soak else [t.strip() for t in args.targets.split(",") if t]
    unknown = set(targets) - set(STARTERS)
    if unknown:
        parser.error(f"--targets: unknown {', '.join(sorted(unknown))}")

    tmp = Path(tempfile.mkdtemp(prefix="loadtest-"))
    rows: list[dict[str, object]] = []
    profile_text, extra, described = None, "", []
    try:
        if args.url:
            host = urlparse(args.url).hostname
            if host not in LOOPBACK_HOSTS:
                parser.error("--url: loopback only")
            if not args.db_url:
                parser.error("--url needs --db-url (the instance's BOT_DB_URL)")
            running = Target("url", args.url.rstrip("/"), args.db_url, {}, lambda: None,
                             args.url)
            rows, profile_text = play_target(running, args, steps, thinks, tmp)
            described.append(running.description)
        else:
            args.model = args.model or newest_model()
            args.reference_numbers_db = None
            for name in targets:
                print(f"Starting {name} ({args.model.name}) in {tmp / name} ...", flush=True)
                target = STARTERS[name](tmp / name, args)
                described.append(f"{name}: {target.description}")
                try:
                    if args.soak:
                        got, extra = soak(target, args)
                    else:
                        got, prof = play_target(target, args, steps, thinks, tmp)
                        profile_text = prof or profile_text
                    rows += got
                    args.reference_numbers_db = args.reference_numbers_db or target.db_url
                finally:
                    target.stop()
            if args.reference and not args.soak:
                if args.reference_numbers_db is None:
                    parser.error("--reference needs a target of ours first (numbers)")
                print("Starting the stock rasa init bot ...", flush=True)
                target = start_stock(tmp / "stock", args)
                described.append(f"reference: {target.description}")
                try:
                    got, _ = play_target(target, args, steps, thinks, tmp)
                    rows += got
                finally:
                    target.stop()

        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        label = f"-{args.label}" if args.label else ("-soak" if args.soak else "")
        args.report_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "date": datetime.now().isoformat(timespec="seconds"),
            "label": args.label or "-",
            "targets": "; ".join(described),
            "model": args.model.name if args.model else "-",
            "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                  capture_output=True, text=True).stdout.strip(),
            "machine": f"{os.cpu_count()} cores, shared with other workers during the run "
                       "(load average before each step; CPU ms per turn of each process is "
                       "the figure that does not depend on them)",
            "conversations": f"{args.turns} turns, new sender each; OTP flows on seeded numbers "
                             "(per-number cool-down respected), else store/FAQ flows",
            "duration per step": (f"soak {args.soak:.0f} min, {args.soak_users} users thinking "
                                  f"{args.soak_think} s" if args.soak else
                                  f"{args.duration:.0f} s closed loop, {args.think_duration:.0f}"
                                  f" s with think time (+ {args.warmup:.0f} s warm-up)"),
            "think time": ", ".join(f"{t} s (x0.5-1.5)" if t else "none (closed loop)"
                                    for t in thinks),
            "bot/rasa_patches": "off (BOT_RASA_PATCHES=off)" if args.no_patches else "on",
        }
        title = "Soak test" if args.soak else "Load test"
        text = markdown(f"{title}{(' — ' + args.label) if args.label else ''}", meta, rows,
                        profile_text, extra)
        report = args.report_dir / f"loadtest-{stamp}{label}.md"
        report.write_text(text, encoding="utf-8")
        report.with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "steps": rows, "profile": profile_text, "extra": extra},
            ensure_ascii=False, indent=1), encoding="utf-8")
        print(text)
        print(f"Report: {report}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
