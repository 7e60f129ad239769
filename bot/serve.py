"""Launchers of our servers: `bot serve rasa | shell | actions`.

Each one, before it binds a port:
- checks its secrets (bot.secrets: present, >= 32 random characters, no placeholder);
- binds 127.0.0.1 unless `--host` / `BOT_RASA_HOST` / `BOT_ACTIONS_HOST` says otherwise;
- caps request bodies (`limits.max_request_bytes` in bot/operator.yml);
- redacts personal data from every log line (bot.privacy).

`bot serve rasa` is `rasa run --enable-api` with the API protected twice: the auth token
(`RASA_AUTH_TOKEN`, `?token=` for operators' tools) and JWT in the `Authorization` header
(`RASA_JWT_SECRET`, HS256, used by the hand-off service). With `BOT_ENV=prod` it refuses
channels that let a client choose the conversation and its metadata (REST, socket.io,
callback): those are for development and tests only.

`bot serve actions` is the rasa-sdk action server behind a shared secret: every request but
`/health` must carry `X-Action-Token: $ACTION_SERVER_TOKEN` (checked in constant time);
Rasa sends it from the `headers` of `action_endpoint` in endpoints.yml.

Both also answer `/healthz`, `/readyz` and `/metrics` (bot.health: liveness, readiness,
Prometheus behind METRICS_TOKEN); Rasa times every customer message (bot.metrics).
"""

from __future__ import annotations

import argparse
import functools
import hmac
import logging
import os
import sys
from typing import Any

import yaml

from bot import admission, health, metrics, secrets, settings
from bot.brand import operator
from bot.privacy import install_log_redaction

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
ACTION_TOKEN_HEADER = "X-Action-Token"
JWT_METHOD = "HS256"
# Input channels whose client names the conversation and sends free metadata.
DEVELOPMENT_CHANNELS = frozenset({"rest", "socketio", "callback", "cmdline"})


def max_request_bytes() -> int:
    return int(operator()["limits"]["max_request_bytes"])


def channel_names(credentials_path: str | None) -> list[str]:
    """The channel keys of a credentials file (`rest`, `bot.channels.telegram.TelegramInput`)."""
    if not credentials_path or not os.path.exists(credentials_path):
        return []
    with open(credentials_path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return [str(key) for key in data] if isinstance(data, dict) else []


def development_channels(names: list[str]) -> list[str]:
    """The development-only channels among `names` (by key or by class path)."""
    found = []
    for name in names:
        short = name.rsplit(".", 1)[-1].lower()
        if name.lower() in DEVELOPMENT_CHANNELS or short in {"restinput", "socketioinput",
                                                              "callbackinput", "cmdlineinput"}:
            found.append(name)
    return found


def check_credentials(credentials_path: str | None) -> None:
    """In production, refuse the channels that let a client choose the conversation."""
    dev_only = development_channels(channel_names(credentials_path))
    if settings.env() == "prod" and dev_only:
        raise SystemExit(
            f"BOT_ENV=prod: {credentials_path} enables {', '.join(dev_only)}, a development "
            f"channel whose clients choose the conversation id and its metadata. Use "
            f"deploy/credentials.prod.yml (Telegram and Zalo only).")


def check_log_level(extra: list[str]) -> None:
    """Rasa's debug log lines hold what customers type and the slots (names, ID numbers):
    development only."""
    debug = {"--debug", "-vv"} & set(extra) or os.environ.get("LOG_LEVEL", "").upper() == "DEBUG"
    if settings.env() == "prod" and debug:
        raise SystemExit("BOT_ENV=prod: debug logging writes conversation text and slots "
                         "(personal data) to the log; use INFO (docs/security.md).")


def _common_setup() -> None:
    install_log_redaction()
    # Sanic reads SANIC_* variables into its config when an app is created.
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(max_request_bytes()))


# ------------------------------------------------------------------------------ rasa
def _with_auth(serve: Any, auth_token: str | None, jwt_secret: str | None) -> Any:
    """Rasa's serve_application with our secrets passed in-process (not on the command
    line, where `ps` would show them)."""

    @functools.wraps(serve)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        kwargs["auth_token"] = auth_token
        kwargs["jwt_secret"] = jwt_secret
        kwargs["jwt_method"] = JWT_METHOD if jwt_secret else None
        return serve(*args, **kwargs)

    return wrapped


def _timed_turns(app: Any) -> None:
    """Time every customer message the loaded agent handles (bot_turn_seconds) and bound
    the turns in progress (bot/admission.py): the channels call
    `app.ctx.agent.handle_message`, so the instance is wrapped once loaded."""
    slots = admission.admission()

    async def wrap(app_: Any, _loop: Any) -> None:
        agent = getattr(app_.ctx, "agent", None)
        if agent is None or getattr(agent, "_bot_timed", False):
            return
        handle = agent.handle_message

        async def handle_message(message: Any) -> Any:
            async with slots.turn():  # bot/admission.py: refused at once when full
                with metrics.TURN_SECONDS.labels(
                        channel=getattr(message, "input_channel", None) or "unknown").time():
                    return await handle(message)

        agent.handle_message = handle_message
        agent._bot_timed = True

    app.register_listener(wrap, "after_server_start")


def _with_probes(configure: Any) -> Any:
    """Rasa's configure_app, plus /healthz, /readyz, /metrics (bot.health) and turn timing."""

    @functools.wraps(configure)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        app = configure(*args, **kwargs)
        health.add_sanic_routes(app, lambda: health.rasa_checks(getattr(app.ctx, "agent", None)))
        _timed_turns(app)
        return app

    return wrapped


def _rasa_argv(args: argparse.Namespace, extra: list[str], shell: bool) -> list[str]:
    argv = ["rasa", "shell" if shell else "run", "--interface", args.host, "--port",
            str(args.port), "--endpoints", args.endpoints, "--model", args.model]
    if not shell:
        argv += ["--enable-api", "--credentials", args.credentials]
    return argv + extra


def serve_rasa(args: argparse.Namespace, extra: list[str], shell: bool = False) -> int:
    if shell:
        auth_token = jwt_secret = None  # no HTTP API in the shell
    else:
        auth_token = secrets.require("RASA_AUTH_TOKEN")
        jwt_secret = secrets.require("RASA_JWT_SECRET")
        check_credentials(args.credentials)
        secrets.require("BOT_MEDIA_KEY")  # the channels store customer photos (bot/media)
    check_log_level(extra)
    secrets.require("ACTION_SERVER_TOKEN")  # endpoints.yml sends it to the action server
    _common_setup()
    from bot.handoff.tickets import connect_channels

    connect_channels()  # the channels hand unreachable customers to the human desk
    from bot.campaigns.replies import connect_channels as connect_campaigns

    connect_campaigns()  # campaign opt-outs and replies are seen before the assistant
    import rasa.__main__  # after the checks: importing Rasa takes seconds
    import rasa.core.run

    from bot import rasa_patches

    rasa_patches.apply()  # the one documented module of patches to Rasa
    if shell:
        from bot import shell as terminal

        terminal.install()  # numbered buttons, no garbled Vietnamese (bot/shell.py)

    rasa.core.run.serve_application = _with_auth(rasa.core.run.serve_application,
                                                 auth_token, jwt_secret)
    rasa.core.run.configure_app = _with_probes(rasa.core.run.configure_app)
    sys.argv = _rasa_argv(args, extra, shell)
    rasa.__main__.main()
    return 0


# --------------------------------------------------------------------------- actions
ACTION_KEEP_ALIVE_S = 15
def protect_action_server(app: Any, token: str) -> None:
    """Every request but /health and the probes (bot.health: /metrics has its own token)
    needs the shared secret; errors never echo the request (the tracker it carries holds
    personal data)."""
    from sanic import response

    expected = token.encode("utf-8")

    @app.middleware("request")
    async def check_token(request: Any) -> Any:
        if request.path == "/health" or request.path in health.PROBE_PATHS:
            return None
        given = (request.headers.get(ACTION_TOKEN_HEADER) or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    from bot.rasa_patches import DomainUnknown

    @app.exception(DomainUnknown)
    async def domain_unknown(request: Any, exception: Exception) -> Any:
        # Rasa resends the call with its domain (bot/rasa_patches.py section 8).
        return response.json({"error": "domain unknown"}, status=DomainUnknown.status)

    @app.exception(Exception)
    async def failed(request: Any, exception: Exception) -> Any:
        logger.error("action server request failed: %s", type(exception).__name__)
        return response.json({"error": "internal error"}, status=500)


def action_runtime() -> Any:
    """How our actions run (bot/rasa_patches.py section 4): in threads, with a deadline,
    a backend that is down answered with one polite response (bot/operator.yml)."""
    import sqlalchemy.exc as sa_exc

    from bot import rasa_patches
    from bot.brand import operator, response_variables

    section = operator()["action_server"]
    return rasa_patches.ActionRuntime(
        threads=int(section["threads"]), timeout_s=float(section["action_timeout_seconds"]),
        unavailable=(sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                     sa_exc.DisconnectionError, ConnectionError, TimeoutError),
        response="utter_backend_unavailable", variables=response_variables)


def action_app(token: str, package: str = "actions") -> Any:
    from rasa_sdk.endpoint import create_app

    from bot import rasa_patches

    rasa_patches.apply_action_runtime(action_runtime())
    app = create_app(package, cors_origins=None)
    # Rasa keeps its connections to us open (bot/rasa_patches.py KEEP_ALIVE_S, shorter).
    app.config.KEEP_ALIVE_TIMEOUT = ACTION_KEEP_ALIVE_S
    app.config.REQUEST_MAX_SIZE = max_request_bytes()
    protect_action_server(app, token)

    def checks() -> dict[str, health.Check]:
        from bot.database.engine import engine_for

        return {"database": health.sql_check(engine_for())}

    health.add_sanic_routes(app, checks)
    return app


def serve_actions(args: argparse.Namespace) -> int:
    token = secrets.require("ACTION_SERVER_TOKEN")
    _common_setup()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    app = action_app(token, args.actions)
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=1, access_log=False,
            motd=False)
    return 0


# ------------------------------------------------------------------------------- cli
def _secrets_env(_: argparse.Namespace) -> int:
    sys.stdout.write(secrets.shell_exports())
    sys.stderr.write(f"Development secrets: {secrets.secrets_file()} (mode 0600)\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run a server (rasa, shell, actions)")
    sub = serve.add_subparsers(dest="server", required=True)

    def rasa_args(parser: argparse.ArgumentParser, default_port: int) -> None:
        parser.add_argument("--host", default=os.environ.get("BOT_RASA_HOST", LOOPBACK))
        parser.add_argument("--port", type=int, default=default_port)
        parser.add_argument("--model", default="models")
        parser.add_argument("--endpoints", default="endpoints.yml")

    p = sub.add_parser("rasa", help="Rasa server with the HTTP API (token + JWT) and the "
                                    "channels of --credentials; other args go to rasa run")
    rasa_args(p, 5005)
    p.add_argument("--credentials", default="credentials.yml")
    p.set_defaults(func=None, rasa_mode="run")

    p = sub.add_parser("shell", help="chat in the terminal (rasa shell on 127.0.0.1)")
    rasa_args(p, 5005)
    p.set_defaults(func=None, rasa_mode="shell")

    p = sub.add_parser("actions", help="action server behind ACTION_SERVER_TOKEN")
    p.add_argument("--host", default=os.environ.get("BOT_ACTIONS_HOST", LOOPBACK))
    p.add_argument("--port", type=int, default=5055)
    p.add_argument("--actions", default="actions")
    p.set_defaults(func=serve_actions)

    sec = subparsers.add_parser("secrets", help="development secrets")
    sec_sub = sec.add_subparsers(dest="secrets_cmd", required=True)
    p = sec_sub.add_parser("env", help="print `export` lines (creates .data/secrets.env)")
    p.set_defaults(func=_secrets_env)
