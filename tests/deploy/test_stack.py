"""The production stack's wiring (scripts/stack.py): two Rasa instances behind HAProxy share
one conversation through the PostgreSQL tracker store and the Redis lock store; every
process answers /healthz and /readyz; /metrics needs the token, is refused through the load
balancer, and its counters move when a turn happens.

Needs haproxy (`make haproxy`), TEST_MODEL, TEST_POSTGRES_URL and TEST_REDIS_URL; skips
with the reason otherwise. Load, chaos and soak runs are scripts (scripts/loadtest.py,
scripts/chaos.py), not tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import REPO, TEST_SECRETS, free_port

sys.path.insert(0, str(REPO / "scripts"))
import stack as stack_script  # noqa: E402  (scripts/ is not a package)

OTP = "135790"
METRICS_TOKEN = "test-metrics-token-6d2b9f4e1a7c3058b2e4d6f8a1c3"


def _model() -> str:
    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).is_file():
        pytest.skip("TEST_MODEL is not set or missing (make .cache/models-test/.trained)")
    return model


def call(method: str, url: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            payload, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload or b"null")
    except ValueError:
        return status, payload.decode(errors="replace")


def say(base: str, sender: str, text: str) -> str:
    status, answer = call("POST", f"{base}/webhooks/rest/webhook",
                          {"sender": sender, "message": text})
    assert status == 200, (status, answer)
    return "\n".join(m.get("text") or "" for m in answer or [])


def say_redelivered(base: str, sender: str, text: str, attempts: int = 3) -> str:
    """`say`, delivered again after a 502/503 (as the channels' inbox does)."""
    for _ in range(attempts - 1):
        status, answer = call("POST", f"{base}/webhooks/rest/webhook",
                              {"sender": sender, "message": text})
        if status not in (502, 503):
            assert status == 200, (status, answer)
            return "\n".join(m.get("text") or "" for m in answer or [])
        time.sleep(1)
    return say(base, sender, text)


def metric(base: str, name: str, token: str | None = METRICS_TOKEN) -> float:
    """The sum of every sample of `name` at `base`/metrics."""
    status, text = call("GET", f"{base}/metrics",
                        headers={"Authorization": f"Bearer {token}"} if token else None)
    assert status == 200, (status, text)
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", re.M)
    return sum(float(v) for v in pattern.findall(text))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_url: str, redis_url: str) -> Iterator[Any]:
    if stack_script.haproxy_binary() is None:
        pytest.skip(stack_script.HAPROXY_HELP)
    model = _model()
    tmp = tmp_path_factory.mktemp("stack")
    layout = stack_script.load_layout()
    layout["balancer"]["log_level"] = "info"  # every request in haproxy.log, for a failure
    layout["ports"] = {"balancer": free_port(), "actions_balancer": free_port(),
                       "rasa": [free_port(), free_port()],
                       "actions": [free_port(), free_port()], "handoff": free_port()}
    credentials = tmp / "credentials.yml"
    credentials.write_text("rest:\n")
    os.environ["STACK_POSTGRES_URL"], os.environ["STACK_REDIS_URL"] = postgres_url, redis_url
    try:
        result = stack_script.Stack(
            tmp, layout, model=model, credentials=str(credentials),
            secrets={**TEST_SECRETS, "METRICS_TOKEN": METRICS_TOKEN},
            extra_env={"BOT_ENV": "test", "BOT_OTP_FIXED_CODE": OTP, "LOG_LEVEL": "INFO",
                       "HANDOFF_SYNC_INTERVAL": "0"})
    finally:
        del os.environ["STACK_POSTGRES_URL"], os.environ["STACK_REDIS_URL"]
    try:
        result.start(timeout=420)
        # OTP limits count per number across runs on the same database: fresh numbers
        import sqlalchemy as sa

        engine = sa.create_engine(postgres_url)
        with engine.connect() as conn:
            result.numbers = [r[0] for r in conn.execute(sa.text(
                "SELECT msisdn FROM subscribers WHERE status = 'active'"))]
        engine.dispose()
        random.shuffle(result.numbers)
        yield result
    except SystemExit as exc:  # a process did not start: fail with its log
        pytest.fail(str(exc))
    finally:
        result.stop()


def test_one_conversation_alternates_between_the_two_instances(stack):
    """Each turn of an OTP flow goes to the other instance: the second one knows what the
    first asked (shared tracker store), and the code asked on one verifies on the other."""
    first, second = stack.rasa_urls()
    sender = f"stack-{os.urandom(4).hex()}"
    assert "mã OTP" in say(first, sender, "kiểm tra thông tin thuê bao") + say(
        second, sender, stack.numbers.pop())
    assert "xác minh xong" in say(first, sender, OTP)
    assert metric(first, "bot_turn_seconds_count") >= 2
    assert metric(second, "bot_turn_seconds_count") >= 1


def test_concurrent_messages_of_one_conversation_on_both_instances_are_all_kept(stack):
    """Two messages of one conversation at the same moment, one per instance: the Redis
    lock serialises them, so the tracker holds both (none lost, none twice)."""
    first, second = stack.rasa_urls()
    sender = f"race-{os.urandom(4).hex()}"
    say(first, sender, "chào em")

    async def both() -> None:
        await asyncio.gather(*(asyncio.to_thread(say, url, sender, text) for url, text in
                               ((first, "cửa hàng ở quận 3"), (second, "cảm ơn"),
                                (first, "tìm điểm giao dịch tại Hà Nội"), (second, "chào em"))))

    asyncio.run(both())
    status, tracker = call("GET", f"{first}/conversations/{sender}/tracker?"
                                  f"token={TEST_SECRETS['RASA_AUTH_TOKEN']}")
    assert status == 200
    texts = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert sorted(texts) == sorted(["chào em", "cửa hàng ở quận 3", "cảm ơn",
                                    "tìm điểm giao dịch tại Hà Nội", "chào em"])
    # each message was answered before the next one was taken (no interleaved turns)
    kinds = [e["event"] for e in tracker["events"] if e.get("event") in ("user", "bot")]
    assert kinds[-1] == "bot"
    assert all(not (a == b == "user") for a, b in zip(kinds, kinds[1:], strict=False))


def test_the_balancer_spreads_turns_over_both_instances(stack):
    before = [metric(u, "bot_turn_seconds_count") for u in stack.rasa_urls()]
    sender = f"lb-{os.urandom(4).hex()}"
    for text in ("chào em", "cửa hàng ở quận 3", "cảm ơn", "chào em"):
        assert say(stack.url, sender, text)
    after = [metric(u, "bot_turn_seconds_count") for u in stack.rasa_urls()]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2]


def test_every_process_is_alive_and_ready(stack):
    urls = [*stack.rasa_urls(), *stack.actions_urls(), stack.handoff_url, stack.url]
    for base in urls:
        assert call("GET", f"{base}/healthz")[0] == 200, base
        status, body = call("GET", f"{base}/readyz")
        assert status == 200 and body["ready"] is True, (base, body)
    status, body = call("GET", f"{stack.rasa_urls()[0]}/readyz")
    assert body["checks"] == {"model": "ok", "tracker_store": "ok", "lock_store": "ok"}


def test_metrics_need_the_token_and_are_refused_through_the_balancer(stack):
    for base in [*stack.rasa_urls(), *stack.actions_urls(), stack.handoff_url]:
        assert call("GET", f"{base}/metrics")[0] == 401, base
        assert call("GET", f"{base}/metrics", headers={
            "Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"})[0] == 401, base
        assert call("GET", f"{base}/metrics", headers={
            "Authorization": f"Basic {METRICS_TOKEN}"})[0] == 401, base
        assert metric(base, "python_gc_objects_collected_total") > 0
    # through HAProxy every caller looks like 127.0.0.1: refused even with the token
    assert call("GET", f"{stack.url}/metrics",
                headers={"Authorization": f"Bearer {METRICS_TOKEN}"})[0] == 403
    assert call("GET", f"http://127.0.0.1:{stack.ports['actions_balancer']}/metrics",
                headers={"Authorization": f"Bearer {METRICS_TOKEN}"})[0] == 403


def test_otp_counter_moves_when_a_code_is_sent(stack):
    def sent() -> float:
        return sum(metric(u, "bot_otp_sent_total") for u in stack.actions_urls())

    before = sent()
    sender = f"otp-{os.urandom(4).hex()}"
    say(stack.url, sender, "kiểm tra thông tin thuê bao")
    assert "mã OTP" in say(stack.url, sender, stack.numbers.pop())
    assert sent() == before + 1


def test_a_killed_instance_is_taken_out_and_the_conversation_continues(stack):
    """Last: it kills rasa-2. HAProxy retries a refused connection on the other instance
    (the health check then takes the dead one out)."""
    sender = f"kill-{os.urandom(4).hex()}"
    say(stack.url, sender, "kiểm tra thông tin thuê bao")
    pid = stack.pid("rasa-2")
    stack.kill("rasa-2", signal.SIGKILL)
    deadline = time.monotonic() + 30
    while stack_script.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # The balancer retries only a refused connection, never a request that may have been
    # read: a request caught by the dying instance is a 502, which a channel's inbox
    # delivers again (at most twice here); the conversation goes on on the other instance.
    assert "mã OTP" in say_redelivered(stack.url, sender, stack.numbers.pop())
    assert "xác minh xong" in say_redelivered(stack.url, sender, OTP)
