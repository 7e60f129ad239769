"""`bot handoff ...`: agent accounts, the console/API server, the ticket queue.

    bot handoff add-agent NAME [--role agent|reviewer|designer|campaigns ...] [--password-stdin]
    bot handoff set-roles NAME ROLE [ROLE ...]
    bot handoff set-password NAME [--password-stdin]
    bot handoff disable-agent NAME
    bot handoff agents
    bot handoff serve [--host 127.0.0.1] [--port 5006]   (loopback unless configured)
    bot handoff queue
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import os
import sys

from bot.handoff.accounts import ROLES
from bot.handoff.texts import handoff_texts

DEFAULT_HOST = "127.0.0.1"


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(handoff_texts("cli.password"))
    if getpass.getpass(handoff_texts("cli.password_again")) != first:
        raise SystemExit(handoff_texts("cli.password_mismatch"))
    return first


def _add_agent(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import DEFAULT_ROLES, AccountError, AgentAccounts

    try:
        agent = AgentAccounts().add_agent(args.name, _read_password(args),
                                          roles=args.role or DEFAULT_ROLES)
    except AccountError as exc:
        print(handoff_texts("cli.error", error=exc), file=sys.stderr)
        return 1
    print(handoff_texts("cli.agent_added", name=agent.name,
                        roles=", ".join(sorted(agent.roles))))
    return 0


def _set_password(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        AgentAccounts().set_password(args.name, _read_password(args))
    except AccountError as exc:
        print(handoff_texts("cli.error", error=exc), file=sys.stderr)
        return 1
    print(handoff_texts("cli.password_changed", name=args.name))
    return 0


def _set_roles(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        agent = AgentAccounts().set_roles(args.name, args.roles)
    except AccountError as exc:
        print(handoff_texts("cli.error", error=exc), file=sys.stderr)
        return 1
    print(handoff_texts("cli.roles_changed", name=agent.name,
                        roles=", ".join(sorted(agent.roles))))
    return 0


def _disable_agent(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        AgentAccounts().disable_agent(args.name)
    except AccountError as exc:
        print(handoff_texts("cli.error", error=exc), file=sys.stderr)
        return 1
    print(handoff_texts("cli.agent_disabled", name=args.name))
    return 0


def _agents(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AgentAccounts

    for agent in AgentAccounts().agents():
        state = handoff_texts("cli.agent_active" if agent.active else "cli.agent_inactive")
        print(handoff_texts("cli.agent_line", name=agent.name, state=state,
                            roles=",".join(sorted(agent.roles))))
    return 0


def _queue(args: argparse.Namespace) -> int:
    from bot.handoff.tickets import get_ticket_store

    for t in get_ticket_store().queue():
        print(handoff_texts("cli.queue_line", id=t.id, priority=t.priority, status=t.status,
                            reason=t.reason, agent=t.agent or "-",
                            created=f"{t.created_at:%Y-%m-%d %H:%M}"))
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot import settings
    from bot.handoff.app import app_from_env
    from bot.handoff.rasa_client import QUERY_TOKEN_ENVS
    from bot.privacy import install_log_redaction

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    install_log_redaction()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not os.environ.get("RASA_JWT_SECRET"):
        if settings.env() not in QUERY_TOKEN_ENVS:
            print(handoff_texts("cli.no_jwt_secret"), file=sys.stderr)
            return 2
        if not os.environ.get("RASA_AUTH_TOKEN"):
            print(handoff_texts("cli.no_rasa_auth"), file=sys.stderr)
        else:
            print(handoff_texts("cli.query_token", env=settings.env()), file=sys.stderr)
    host = (args.host or "").strip() or DEFAULT_HOST
    if not _is_loopback(host):
        print(handoff_texts("cli.not_loopback", host=host), file=sys.stderr)
    try:
        app = app_from_env()
    except ValueError as exc:  # HANDOFF_API_TOKENS, HANDOFF_TRUSTED_PROXIES
        print(handoff_texts("cli.config_error", error=exc), file=sys.stderr)
        return 2
    web.run_app(app, host=host, port=args.port, print=None)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("handoff", help="hand-off: agent console, call-center API")
    sub = parser.add_subparsers(dest="handoff_command", required=True)

    p = sub.add_parser("add-agent", help="create a personal console account")
    p.add_argument("name")
    p.add_argument("--role", action="append", choices=ROLES,
                   help="a console role (repeatable; default: agent)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.set_defaults(func=_add_agent)

    p = sub.add_parser("set-password", help="change an agent's password (ends sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_set_password)

    p = sub.add_parser("set-roles", help="replace an account's roles (ends its sessions)")
    p.add_argument("name")
    p.add_argument("roles", nargs="+", choices=ROLES)
    p.set_defaults(func=_set_roles)

    p = sub.add_parser("disable-agent", help="disable an account at once (ends sessions)")
    p.add_argument("name")
    p.set_defaults(func=_disable_agent)

    p = sub.add_parser("agents", help="list agent accounts")
    p.set_defaults(func=_agents)

    p = sub.add_parser("queue", help="print the active tickets, urgent first")
    p.set_defaults(func=_queue)

    p = sub.add_parser("serve", help="run the agent console and the call-center API")
    p.add_argument("--host", default=os.environ.get("HANDOFF_HOST") or DEFAULT_HOST,
                   help="address to listen on (default 127.0.0.1, or HANDOFF_HOST)")
    p.add_argument("--port", type=int, default=int(os.environ.get("HANDOFF_PORT", "5006")))
    p.set_defaults(func=_serve)
