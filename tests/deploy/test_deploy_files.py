"""deploy/: the stack layout, the HAProxy configuration it writes and the docker-compose file
describe the same processes; the balancer configuration is valid and keeps /metrics
inside. (No image is pulled or built here.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.servers import REPO

sys.path.insert(0, str(REPO / "scripts"))
import stack as stack_script  # noqa: E402  (scripts/ is not a package)

COMPOSE = REPO / "deploy" / "docker-compose.yml"
SECRETS = {name: f"{name.lower()}-value-0123456789abcdefghijklmnop" for name in (
    "RASA_AUTH_TOKEN", "RASA_JWT_SECRET", "ACTION_SERVER_TOKEN", "METRICS_TOKEN",
    "POSTGRES_PASSWORD", "REDIS_PASSWORD", "HANDOFF_API_TOKENS")}


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"],
                                 capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_the_compose_balancer_config_is_the_one_the_stack_writes():
    layout = stack_script.load_layout()
    assert (REPO / "deploy" / "haproxy.compose.cfg").read_text() == \
        stack_script.compose_haproxy_cfg(layout), "run: scripts/stack.py config --compose"


def test_compose_has_the_layout_of_the_stack():
    layout = stack_script.load_layout()
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {f"rasa-{i}" for i in range(1, len(layout["ports"]["rasa"]) + 1)} <= set(services)
    assert {f"actions-{i}" for i in range(1, len(layout["ports"]["actions"]) + 1)} <= set(
        services)
    assert {"balancer", "handoff", "postgres", "redis"} <= set(services)
    # only the balancer and the console are published, on the host's loopback
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert set(published) == {"balancer", "handoff"}
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports)


@pytest.mark.parametrize("compose", [False, True])
def test_haproxy_accepts_the_configuration(tmp_path, compose):
    haproxy = stack_script.haproxy_binary()
    if haproxy is None:
        pytest.skip(stack_script.HAPROXY_HELP)
    layout = stack_script.load_layout()
    text = (stack_script.compose_haproxy_cfg(layout) if compose
            else stack_script.Stack(tmp_path, layout).haproxy_cfg())
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # /metrics is refused on both frontends; only a refused connection is retried
    assert text.count("deny deny_status 403 if { path_beg /metrics }") == 2
    assert "retry-on conn-failure\n" in text and "http-reuse never" in text


def test_the_stack_binds_loopback_only(tmp_path):
    layout = stack_script.load_layout()
    assert layout["host"] == "127.0.0.1"
    text = stack_script.Stack(tmp_path, layout).haproxy_cfg()
    binds = [line.split()[1] for line in text.splitlines() if line.strip().startswith("bind")]
    assert binds and all(b.startswith("127.0.0.1:") for b in binds)
    for proc in stack_script.Stack(tmp_path, layout).processes():
        if "--host" in proc.command:
            assert proc.command[proc.command.index("--host") + 1] == "127.0.0.1"


def test_docker_compose_config_is_valid_and_needs_every_secret(tmp_path):
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {**os.environ, **SECRETS}
    ok = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    env.pop("ACTION_SERVER_TOKEN")
    missing = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "ACTION_SERVER_TOKEN" in missing.stderr
