"""The production stack on this machine: `make stack` / `make stack-stop` /
`python scripts/stack.py status`.

Layout (deploy/stack.yml): HAProxy (Debian's package; `scripts/install-haproxy.sh`) on
127.0.0.1 in front of two `bot serve rasa` instances, a second HAProxy frontend in front of
two `bot serve actions` servers (Rasa's action endpoint), the hand-off service
(`bot handoff serve`), conversations in PostgreSQL (SQL tracker store), one lock per
conversation in Redis (lock store) — the machine's PostgreSQL (a database `bot_stack`
created when missing) and Redis, or with `--own-services` a dedicated redis-server and
PostgreSQL cluster under .data/stack/ (used by `make chaos`, which restarts them).
Rasa reads deploy/endpoints.prod.yml (TRACKER_DB_URL, LOCK_STORE_URL, ACTION_ENDPOINT_URL).

`--config PATH` (or STACK_CONFIG) names another file of the same shape as deploy/stack.yml
(other ports and databases: a second stack beside the first, e.g. with `--dir` elsewhere).
STACK_POSTGRES_URL / STACK_REDIS_URL override the machine's services of the configuration.
Secrets come from `bot secrets env` (.data/secrets.env) unless already in the environment;
logs, pids and the generated haproxy.cfg are under .data/stack/ (never a secret on a
command line or in a file there). `stop` sends SIGTERM to every process group, SIGKILL after
`timeouts.stop_seconds`. Everything binds 127.0.0.1.

The `Stack` class is also what scripts/loadtest.py, scripts/chaos.py and
tests/deploy/test_stack.py use (other ports, another data directory).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
LAYOUT_FILE = REPO / "deploy" / "stack.yml"
DEFAULT_DIR = REPO / ".data" / "stack"
HAPROXY_HELP = ("haproxy is not installed: run `scripts/install-haproxy.sh` as root "
                "(or `sudo apt-get install -y haproxy`)")


def haproxy_binary() -> str | None:
    found = shutil.which("haproxy")
    if found:
        return found
    return "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None


def layout_file(path: Path | str | None = None) -> Path:
    """The stack configuration: `path`, else STACK_CONFIG, else deploy/stack.yml."""
    return Path(path or os.environ.get("STACK_CONFIG") or LAYOUT_FILE)


def load_layout(path: Path | str | None = None) -> dict[str, Any]:
    """deploy/stack.yml, or another file of the same shape (other ports, databases: a
    second stack next to the first)."""
    return yaml.safe_load(layout_file(path).read_text(encoding="utf-8"))


def secrets_env() -> dict[str, str]:
    """The servers' secrets: `bot secrets env` (the environment's win, else .data/secrets.env)."""
    out = subprocess.run([str(BIN / "bot"), "secrets", "env"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            name, _, value = parts[1].partition("=")
            values[name] = value
    return values


def with_database(url: str, database: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{database}"))


def ensure_database(url: str) -> None:
    """CREATE DATABASE when the PostgreSQL database of `url` does not exist."""
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    conn = psycopg2.connect(with_database(url, "postgres"), connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def http_status(url: str, timeout: float = 3.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child is not alive
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def haproxy_config(b: dict[str, Any], bind_host: str, rasa_port: int, actions_port: int,
                   rasa: list[str], actions: list[str], compose: bool = False) -> str:
    """haproxy.cfg of the stack: the Rasa frontend and the action-server frontend, each
    balancing over servers that pass GET /readyz. `make stack` writes it under .data/stack/;
    deploy/haproxy.compose.cfg is the same for docker compose (`stack.py config --compose`)."""
    check = f"inter {b['check_interval']} fall {b['fall']} rise {b['rise']}"

    def servers(prefix: str, addresses: list[str]) -> str:
        return "\n".join(f"  server {prefix}-{i} {address} check {check}"
                         for i, address in enumerate(addresses, start=1))

    source = "`scripts/stack.py config --compose`" if compose else "scripts/stack.py"
    # In compose the servers are service names, resolved by Docker's DNS (a server whose
    # container is not up yet starts "down" instead of failing the configuration).
    resolvers = ("\nresolvers docker\n  nameserver dns 127.0.0.11:53\n" if compose else "")
    default_server = ("  default-server init-addr last,libc,none resolvers docker\n"
                      if compose else "")
    return f"""# Written by {source} from deploy/stack.yml: do not edit.
global
  maxconn {b['maxconn']}
  log stderr format short local0 {b.get('log_level', 'warning')}
{resolvers}
defaults
  mode http
  log global
  option httplog
  timeout connect {b['timeout_connect']}
  timeout client {b['timeout_server']}
  timeout server {b['timeout_server']}
  timeout http-request 10s
  timeout check {b['check_timeout']}
  # A request is retried on the other instance only when it never reached the first one
  # (connection refused): a message is never processed twice by the balancer.
  retries 3
  option redispatch 1
  retry-on conn-failure
  # A new server connection per request: a request never goes out on a kept-alive
  # connection to an instance that has just died (that would be a 502, not a retry).
  http-reuse never

frontend rasa
  bind {bind_host}:{rasa_port}
  # Never public: metrics (token anyway) stay inside.
  http-request deny deny_status 403 if {{ path_beg /metrics }}
  default_backend rasa

backend rasa
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{default_server}{servers('rasa', rasa)}

frontend actions
  bind {bind_host}:{actions_port}
  http-request deny deny_status 403 if {{ path_beg /metrics }}
  default_backend actions

backend actions
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{default_server}{servers('actions', actions)}
"""


def compose_haproxy_cfg(layout: dict[str, Any]) -> str:
    """deploy/haproxy.compose.cfg: the same balancer, the compose services as servers."""
    ports = layout["ports"]
    return haproxy_config(layout["balancer"], "0.0.0.0", ports["balancer"],
                          ports["actions_balancer"],
                          [f"rasa-{i}:5005" for i in range(1, len(ports["rasa"]) + 1)],
                          [f"actions-{i}:5055" for i in range(1, len(ports["actions"]) + 1)],
                          compose=True)


@dataclass
class Proc:
    name: str
    command: list[str]
    ready_url: str | None
    env: dict[str, str] = field(default_factory=dict)


class Stack:
    """The processes of the stack, their pid files and logs under `directory`."""

    def __init__(self, directory: Path = DEFAULT_DIR, layout: dict[str, Any] | None = None,
                 *, model: str = "models", credentials: str = "credentials.yml",
                 own_services: bool = False, nice: int = 0,
                 extra_env: dict[str, str] | None = None,
                 secrets: dict[str, str] | None = None) -> None:
        self.dir = directory
        self.secrets = secrets  # None: `bot secrets env`
        self.layout = layout or load_layout()
        self.model, self.credentials = model, credentials
        self.own_services, self.nice = own_services, nice
        self.extra_env = dict(extra_env or {})
        self.host = self.layout["host"]
        self.ports = self.layout["ports"]
        self.logs, self.pids = self.dir / "logs", self.dir / "pids"
        own = self.layout["own_services"]
        if own_services:
            self.postgres_url = (f"postgresql://postgres@127.0.0.1:{own['postgres_port']}/"
                                 f"{urlparse(self.layout['postgres_url']).path.lstrip('/')}")
            db = urlparse(self.layout["redis_url"]).path.lstrip("/") or "1"
            self.redis_url = f"redis://127.0.0.1:{own['redis_port']}/{db}"
        else:
            self.postgres_url = os.environ.get("STACK_POSTGRES_URL") or self.layout["postgres_url"]
            self.redis_url = os.environ.get("STACK_REDIS_URL") or self.layout["redis_url"]

    # ----------------------------------------------------------------------- urls
    @property
    def url(self) -> str:
        """The load balancer in front of the Rasa instances."""
        return f"http://{self.host}:{self.ports['balancer']}"

    def rasa_urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.ports["rasa"]]

    def actions_urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.ports["actions"]]

    @property
    def handoff_url(self) -> str:
        return f"http://{self.host}:{self.ports['handoff']}"

    # ------------------------------------------------------------------ processes
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.secrets if self.secrets is not None else secrets_env())
        env.update({
            "BOT_DB_URL": self.postgres_url,
            "TRACKER_DB_URL": self.postgres_url,
            "LOCK_STORE_URL": self.redis_url,
            "ACTION_ENDPOINT_URL": f"http://{self.host}:{self.ports['actions_balancer']}/webhook",
            "HANDOFF_RASA_URL": self.url,
            "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONHASHSEED": "0",
        })
        env.update(self.extra_env)
        return env

    def processes(self) -> list[Proc]:
        bot, host = str(BIN / "bot"), self.host
        nice = ["nice", "-n", str(self.nice)] if self.nice else []
        procs = []
        for i, port in enumerate(self.ports["actions"], start=1):
            procs.append(Proc(f"actions-{i}", [*nice, bot, "serve", "actions", "--host", host,
                                               "--port", str(port)],
                              f"http://{host}:{port}/readyz"))
        procs.append(Proc("handoff", [*nice, bot, "handoff", "serve", "--host", host,
                                      "--port", str(self.ports["handoff"])],
                          f"{self.handoff_url}/readyz"))
        for i, port in enumerate(self.ports["rasa"], start=1):
            procs.append(Proc(f"rasa-{i}", [
                *nice, bot, "serve", "rasa", "--host", host, "--port", str(port),
                "--model", self.model, "--credentials", self.credentials,
                "--endpoints", str(REPO / "deploy" / "endpoints.prod.yml")],
                f"http://{host}:{port}/readyz"))
        haproxy = haproxy_binary() or "haproxy"
        procs.append(Proc("haproxy", [haproxy, "-db", "-f", str(self.dir / "haproxy.cfg")],
                          f"{self.url}/readyz"))
        return procs

    def proc(self, name: str) -> Proc:
        return next(p for p in self.processes() if p.name == name)

    def pid(self, name: str) -> int | None:
        path = self.pids / f"{name}.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def spawn(self, proc: Proc, env: dict[str, str]) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{proc.name}.log", "a") as log:
            child = subprocess.Popen(proc.command, cwd=REPO, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        (self.pids / f"{proc.name}.pid").write_text(str(child.pid))
        return child.pid

    def wait_ready(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = {p.name: p for p in self.processes() if p.name in names}
        while waiting and time.monotonic() < deadline:
            for name, proc in list(waiting.items()):
                pid = self.pid(name)
                if pid is None or not alive(pid):
                    raise SystemExit(f"{name} exited while starting; its log:\n"
                                     + self.log_tail(name))
                if proc.ready_url is None or http_status(proc.ready_url) == 200:
                    del waiting[name]
            time.sleep(1)
        if waiting:
            raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(waiting)}\n"
                             + "\n".join(self.log_tail(n) for n in waiting))

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
        return f"--- {path}\n{text}"

    # ------------------------------------------------------------- own services
    def _postgres_bin(self, tool: str) -> str:
        return str(Path(self.layout["own_services"]["postgres_bin"]) / tool)

    def _as_postgres(self, command: list[str]) -> list[str]:
        return command if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *command]

    def start_own_redis(self) -> None:
        data = self.dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        port = self.layout["own_services"]["redis_port"]
        self.spawn(Proc("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                  "--dir", str(data), "--save", "", "--appendonly", "no"],
                        None), dict(os.environ))
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.2)
        raise SystemExit("own redis-server did not start:\n" + self.log_tail("redis"))

    def postgres_ctl(self, action: str) -> None:
        """initdb when needed, then pg_ctl start | stop of the stack's own cluster."""
        data = self.dir / "postgres"
        own = self.layout["own_services"]
        if action == "start" and not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(data, "postgres", "postgres")
            subprocess.run(self._as_postgres([self._postgres_bin("initdb"), "-D", str(data),
                                              "-A", "trust", "-U", "postgres"]),
                           check=True, capture_output=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.dir / "postgres" / "server.log"
        if action == "start":
            command = [self._postgres_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                       "-o", f"-p {own['postgres_port']} -k {data} -c listen_addresses=127.0.0.1",
                       "start"]
        else:
            command = [self._postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(self._as_postgres(command), check=action == "start",
                       capture_output=True)

    # ------------------------------------------------------------------- haproxy
    def haproxy_cfg(self) -> str:
        host = self.host
        return haproxy_config(
            self.layout["balancer"], host, self.ports["balancer"],
            self.ports["actions_balancer"],
            [f"{host}:{p}" for p in self.ports["rasa"]],
            [f"{host}:{p}" for p in self.ports["actions"]])

    # ---------------------------------------------------------------- commands
    def start(self, timeout: float | None = None) -> None:
        haproxy = haproxy_binary()
        if haproxy is None:
            raise SystemExit(HAPROXY_HELP)
        running = [n for n in self.names() if (pid := self.pid(n)) and alive(pid)]
        if running:
            raise SystemExit(f"already running: {', '.join(running)} (make stack-stop)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.own_services:
            self.start_own_redis()
            self.postgres_ctl("start")
        ensure_database(self.postgres_url)
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(self.haproxy_cfg())
        subprocess.run([haproxy, "-c", "-q", "-f", str(cfg)], check=True)
        env = self.env()
        for command in (["db", "upgrade"], ["db", "seed"]):
            subprocess.run([str(BIN / "bot"), *command], cwd=REPO, env=env, check=True,
                           capture_output=True)
        timeouts = self.layout["timeouts"]
        for proc in self.processes():
            self.spawn(proc, env)
        # the balancer is ready when a Rasa instance is: wait for it with them
        self.wait_ready([p.name for p in self.processes()
                         if not p.name.startswith(("rasa", "haproxy"))],
                        timeouts["process_ready_seconds"])
        self.wait_ready([p.name for p in self.processes()],
                        timeout or timeouts["rasa_ready_seconds"])

    def names(self) -> list[str]:
        extra = ["redis"] if self.own_services else []
        return [p.name for p in self.processes()] + extra

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        pid = self.pid(name)
        if pid is not None and alive(pid):
            try:
                os.killpg(pid, sig)
            except OSError:
                os.kill(pid, sig)

    def restart(self, name: str, wait: bool = True) -> None:
        self.spawn(self.proc(name), self.env())
        if wait:
            self.wait_ready([name], self.layout["timeouts"]["rasa_ready_seconds"])

    def stop(self) -> list[str]:
        """SIGTERM every process (Rasa last in, first out), SIGKILL the ones still there."""
        stopped = []
        order = ["haproxy", *[n for n in self.names() if n.startswith("rasa")], "handoff",
                 *[n for n in self.names() if n.startswith("actions")], "redis"]
        for name in order:
            pid = self.pid(name)
            if pid is not None and alive(pid):
                self.kill(name, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + self.layout["timeouts"]["stop_seconds"]
        for name in stopped:
            pid = self.pid(name)
            while pid and alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid and alive(pid):
                self.kill(name, signal.SIGKILL)
        for name in order:
            (self.pids / f"{name}.pid").unlink(missing_ok=True)
        if self.own_services or (self.dir / "postgres" / "postmaster.pid").exists():
            self.postgres_ctl("stop")
        return stopped

    def status(self) -> list[dict[str, Any]]:
        rows = []
        for proc in self.processes():
            pid = self.pid(proc.name)
            rows.append({"name": proc.name, "pid": pid,
                         "running": bool(pid and alive(pid)),
                         "ready": http_status(proc.ready_url) == 200 if proc.ready_url else None,
                         "url": proc.ready_url})
        return rows


# ---------------------------------------------------------------------------- cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "config"])
    parser.add_argument("--config", type=Path, default=None,
                        help="stack configuration (default: $STACK_CONFIG or deploy/stack.yml)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--model", default=os.environ.get("STACK_MODEL", "models"))
    parser.add_argument("--credentials", default="credentials.yml")
    parser.add_argument("--own-services", action="store_true",
                        help="a dedicated redis-server and PostgreSQL under --dir")
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--compose", action="store_true",
                        help="config: the haproxy.cfg of deploy/docker-compose.yml")
    args = parser.parse_args(argv)
    state = args.dir / "state.json"
    if args.command != "start" and state.exists():  # stop/status what was started
        args.own_services = json.loads(state.read_text()).get("own_services", False)
    stack = Stack(args.dir, load_layout(args.config), model=args.model,
                  credentials=args.credentials,
                  own_services=args.own_services, nice=args.nice)
    if args.command == "config":
        print(compose_haproxy_cfg(stack.layout) if args.compose else stack.haproxy_cfg(),
              end="")
        return 0
    if args.command == "start":
        print(f"Starting the stack (logs: {stack.logs}) ...", flush=True)
        args.dir.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"own_services": args.own_services}))
        try:
            stack.start()
        except BaseException:
            stack.stop()
            raise
        print(f"Ready: {stack.url} (Rasa via HAProxy), hand-off {stack.handoff_url}/console/,"
              f" conversations {urlparse(stack.postgres_url).path.lstrip('/')} on "
              f"PostgreSQL :{urlparse(stack.postgres_url).port}, locks Redis "
              f":{urlparse(stack.redis_url).port}. Stop: make stack-stop")
        return 0
    if args.command == "stop":
        stopped = stack.stop()
        state.unlink(missing_ok=True)
        print("stopped: " + (", ".join(stopped) or "nothing was running"))
        return 0
    rows = stack.status()
    for row in rows:
        print(f"{row['name']:10} pid {row['pid'] or '-':>7}  "
              f"{'running' if row['running'] else 'stopped':8} "
              f"{'ready' if row['ready'] else 'not ready':9} {row['url'] or ''}")
    return 0 if all(r["running"] and r["ready"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
