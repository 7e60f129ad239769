"""Attacks on the assistant, each kept as a regression test (docs/security.md).

`stack`: the real servers as production starts them (`bot serve actions`, `bot serve rasa`,
`bot handoff serve`) on a seeded throw-away database, with the development REST channel
enabled (as on a developer's machine: the attacks below must fail even there)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.channels.conftest import APP_SECRET
from tests.channels.fakes import FakeTelegram, FakeZalo
from tests.servers import (
    BIN,
    REPO,
    Processes,
    action_server_command,
    free_port,
    processes,
    rasa_server_command,
    rasa_token_query,
    seed_database,
    stack_env,
    write_endpoints,
)

OTP = "246810"
AGENT, PASSWORD = "lan", "mat-khau-rat-dai-2026"
CRM_TOKEN = "crm-token-7f3a9c1e5b2d4f6a8c0e"


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    handoff_url: str
    ports: dict[str, int]
    procs: Processes
    db_url: str
    tmp: Path

    def say(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> str:
        """One message through the REST channel; the bot's texts joined by new lines."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        status, answer = request("POST", f"{self.rasa_url}/webhooks/rest/webhook", body)
        assert status == 200, (status, answer)
        return "\n".join(m.get("text") or "" for m in answer or [])

    def logs(self) -> dict[str, str]:
        return {name: path.read_text(errors="replace") for name, path in self.procs.logs.items()}


def request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
            raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload or b"null")
    except ValueError:
        return status, payload.decode(errors="replace")


def _model() -> str:
    model = os.environ.get("TEST_MODEL")
    if not model:
        pytest.skip("TEST_MODEL is not set (run `make test-py`, which trains and exports it)")
    if not Path(model).is_file():
        pytest.skip(f"TEST_MODEL={model} does not exist (run `make .cache/models-test/.trained`)")
    return model


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    model = _model()
    tmp = tmp_path_factory.mktemp("security-stack")
    db_url = f"sqlite:///{tmp / 'bot.db'}"
    ports = {name: free_port() for name in ("actions", "rasa", "handoff")}
    rasa_url = f"http://127.0.0.1:{ports['rasa']}"
    env = stack_env(BOT_DB_URL=db_url, BOT_OTP_FIXED_CODE=OTP, BOT_FIXED_LOCAL_TIME="10:00",
                    HANDOFF_RASA_URL=rasa_url, HANDOFF_API_TOKENS=f"crm={CRM_TOKEN}",
                    HANDOFF_SYNC_INTERVAL="1", LOG_LEVEL="INFO")
    seed_database(env)
    subprocess.run([str(BIN / "bot"), "handoff", "add-agent", AGENT, "--password-stdin"],
                   input=PASSWORD + "\n", text=True, env=env, cwd=REPO, check=True,
                   capture_output=True)
    credentials = tmp / "credentials.yml"
    credentials.write_text("rest:\n")
    endpoints = write_endpoints(tmp / "endpoints.yml", ports["actions"])
    with processes(tmp, env) as procs:
        procs.start("actions", action_server_command(ports["actions"]))
        procs.start("rasa", rasa_server_command(model, ports["rasa"], credentials, endpoints))
        procs.start("handoff", [str(BIN / "bot"), "handoff", "serve", "--port",
                                str(ports["handoff"])])
        result = Stack(rasa_url, f"http://127.0.0.1:{ports['actions']}",
                       f"http://127.0.0.1:{ports['handoff']}", ports, procs, db_url, tmp)
        ready = (procs.wait("actions", f"{result.actions_url}/health", 120)
                 and procs.wait("handoff", f"{result.handoff_url}/healthz", 60)
                 and procs.wait("rasa", f"{rasa_url}/status?{rasa_token_query()}", 420))
        if not ready:
            pytest.fail("a server did not start:\n" + procs.log_tail())
        yield result


@pytest.fixture(scope="module")
def telegram_api() -> Iterator[FakeTelegram]:
    """A local fake of Telegram's Bot API."""
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def zalo_api() -> Iterator[FakeZalo]:
    """A local fake of Zalo's OA API."""
    server = FakeZalo(secret_key=APP_SECRET).start()
    yield server
    server.stop()
