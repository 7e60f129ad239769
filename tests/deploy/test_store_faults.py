"""The attack: a real `bot serve rasa` whose lock store (Redis) is down, then whose
conversation store (PostgreSQL, reached through a TCP relay the test cuts) is down. Rasa
must refuse the turn (503 + Retry-After, nothing stored, nothing answered) instead of
answering 200 with nothing or from an empty conversation; once the store is back, the
redelivered message is answered and stored once (bot/rasa_patches.py section 12).

Needs TEST_MODEL (a trained model .tar.gz), TEST_POSTGRES_URL and redis-server; skipped
otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import (
    action_server_command,
    free_port,
    processes,
    rasa_server_command,
    rasa_token_query,
    seed_database,
    stack_env,
    write_endpoints,
)

pytestmark = pytest.mark.slow


class Relay:
    """A TCP relay to PostgreSQL that the test can cut (every connection closed, new ones
    refused) and restore: the database "down" without touching the machine's server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True


@dataclass
class Server:
    url: str
    redis_port: int
    relay: Relay


def post(url: str, sender: str, text: str) -> tuple[int, object, str | None]:
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", method="POST",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers.get("Retry-After")


def user_texts(url: str, sender: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/conversations/{sender}/tracker?{rasa_token_query()}",
                                timeout=30) as resp:
        events = json.loads(resp.read())["events"]
    return [e["text"] for e in events if e["event"] == "user"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    from sqlalchemy.engine import make_url

    model = os.environ.get("TEST_MODEL")
    pg_url = os.environ.get("TEST_POSTGRES_URL")
    if not model or not Path(model).is_file():
        pytest.skip("TEST_MODEL (a trained model) is needed")
    if not pg_url:
        pytest.skip("TEST_POSTGRES_URL is needed (the conversation store)")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    tmp = tmp_path_factory.mktemp("store-faults")
    relay = Relay(make_url(pg_url).port or 5432)
    tracker_url = make_url(pg_url).set(host="127.0.0.1", port=relay.port)
    redis_port, actions_port, rasa_port = free_port(), free_port(), free_port()
    env = stack_env(BOT_DB_URL=f"sqlite:///{tmp / 'subscribers.db'}",
                    TRACKER_DB_URL=tracker_url.render_as_string(hide_password=False),
                    LOCK_STORE_URL=f"redis://127.0.0.1:{redis_port}/3")
    seed_database(env)
    endpoints = write_endpoints(
        tmp / "endpoints.yml", actions_port,
        tracker_store={"type": "bot.rasa_stores.UrlSQLTrackerStore"},
        lock_store={"type": "bot.rasa_stores.UrlRedisLockStore", "key_prefix": "faults"})
    (tmp / "credentials.yml").write_text("rest:\n")
    with processes(tmp, env) as procs:
        procs.start("actions", action_server_command(actions_port))
        procs.start("rasa", rasa_server_command(model, rasa_port, tmp / "credentials.yml",
                                                endpoints))
        url = f"http://127.0.0.1:{rasa_port}"
        if not (procs.wait("actions", f"http://127.0.0.1:{actions_port}/health", 120)
                and procs.wait("rasa", f"{url}/healthz", 420)):
            pytest.fail("servers did not start:\n" + procs.log_tail())
        yield Server(url, redis_port, relay)
    relay.listener.close()


def answered_once(server: Server, sender: str, text: str) -> None:
    """The client redelivers until the turn is taken (a pooled connection broken by the
    outage may refuse one more turn), then the message is in the conversation once."""
    for _ in range(5):
        status, body, retry_after = post(server.url, sender, text)
        if status == 200:
            assert body, "answered with nothing"
            return
        assert (status, retry_after) == (503, "2"), body
        time.sleep(2)
    pytest.fail("not answered after the store came back")


def test_lock_store_down_refuses_the_turn_then_the_redelivery_is_answered_once(server):
    sender = f"faults-lock-{uuid.uuid4().hex[:8]}"
    status, body, retry_after = post(server.url, sender, "xin chào")
    assert (status, retry_after) == (503, "2"), body  # Rasa's own: 200 and []
    assert user_texts(server.url, sender) == []  # nothing stored
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port",
                              str(server.redis_port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(server.redis_port), "ping"],
                              capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        answered_once(server, sender, "xin chào")
        assert user_texts(server.url, sender) == ["xin chào"]

        # The conversation store is down: 503, the turn is kept nowhere (Rasa's own would
        # answer from an empty conversation and keep the turn in memory).
        server.relay.cut()
        try:
            status, body, retry_after = post(server.url, sender, "cảm ơn")
            assert (status, retry_after) == (503, "2"), body
        finally:
            server.relay.restore()
        answered_once(server, sender, "cảm ơn")
        assert user_texts(server.url, sender) == ["xin chào", "cảm ơn"]
    finally:
        redis.terminate()
        redis.wait(10)
