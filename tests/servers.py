"""Helpers for tests that start real servers (rasa run, rasa run actions, bot handoff serve)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float, interval: float = 0.5) -> bool:
    """True once `url` answers 200; False when `proc` exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    return False


# --------------------------------------------------------------------------------------
# Our servers as subprocesses, started the way production starts them (`bot serve ...`):
# secrets checked, loopback only, the action server behind its token.

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"

# Strong, fixed test secrets (never used outside tests).
TEST_SECRETS = {
    "RASA_AUTH_TOKEN": "test-rasa-token-3f9c2b7e41d05a86c1e9b0f4d7a2",
    "RASA_JWT_SECRET": "test-jwt-secret-8e1d4c9a7b3f2e6015c8d9a4b7e3",
    "ACTION_SERVER_TOKEN": "test-action-token-5a7c9e1b3d2f4086a9c7e5b1d3f2",
    "BOT_MEDIA_KEY": "test-media-key-7d2e9a4c1b8f3e6a05d9c2b7e4f1",
}
ACTION_TOKEN_HEADER = "X-Action-Token"


def stack_env(**extra: str) -> dict[str, str]:
    """The environment for our servers in a test: no real channel settings, test mode,
    the test secrets, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update({"BOT_ENV": "test", "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", **TEST_SECRETS})
    env.update(extra)
    return env


def seed_database(env: dict[str, str]) -> None:
    for args in (["db", "upgrade"], ["db", "seed"]):
        subprocess.run([str(BIN / "bot"), *args], env=env, cwd=REPO, check=True,
                       capture_output=True)


NLG_CLASS = "bot.nlg.VariedResponses"  # as in endpoints.yml


def write_endpoints(path: Path, actions_port: int, **more: object) -> Path:
    """endpoints.yml for a test: the action server with its token (JSON is YAML)."""
    path.write_text(json.dumps({"action_endpoint": {
        "url": f"http://127.0.0.1:{actions_port}/webhook",
        "headers": {ACTION_TOKEN_HEADER: TEST_SECRETS["ACTION_SERVER_TOKEN"]}},
        "nlg": {"type": NLG_CLASS}, **more}))
    return path


def action_server_command(port: int) -> list[str]:
    return [str(BIN / "bot"), "serve", "actions", "--port", str(port)]


def rasa_server_command(model: str, port: int, credentials: Path, endpoints: Path) -> list[str]:
    return [str(BIN / "bot"), "serve", "rasa", "--model", model, "--port", str(port),
            "--credentials", str(credentials), "--endpoints", str(endpoints)]


def rasa_token_query() -> str:
    return f"token={TEST_SECRETS['RASA_AUTH_TOKEN']}"


class Processes:
    """Named server subprocesses with a log file each; stopped on exit."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory, self.env = directory, env
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        self.logs[name] = self.directory / f"{name}.log"
        with open(self.logs[name], "w") as out:
            self.procs[name] = subprocess.Popen(command, env=self.env, cwd=REPO, stdout=out,
                                                stderr=subprocess.STDOUT)
        return self.procs[name]

    def wait(self, name: str, url: str, timeout: float) -> bool:
        return wait_http(url, self.procs[name], timeout)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {name}.log\n{path.read_text(errors='replace')[-chars:]}"
                         for name, path in self.logs.items() if path.exists())

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def processes(directory: Path, env: dict[str, str]) -> Iterator[Processes]:
    procs = Processes(directory, env)
    try:
        yield procs
    finally:
        procs.stop()


def listening_addresses(port: int) -> set[str]:
    """The local IPv4 addresses a TCP socket listens on for `port` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, hex_port = local.rpartition(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            if len(address) == 8:
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
            else:
                found.add("::" if set(address) == {"0"} else address)
    return found
