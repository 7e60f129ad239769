"""`bot handoff ...`: agent accounts, the console/API server, the ticket queue.

    bot handoff add-agent NAME [--password-stdin]
    bot handoff set-password NAME [--password-stdin]
    bot handoff disable-agent NAME
    bot handoff agents
    bot handoff serve [--host 127.0.0.1] [--port 5006]
    bot handoff queue
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise SystemExit("Hai lần nhập mật khẩu không khớp.")
    return first


def _add_agent(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        agent = AgentAccounts().add_agent(args.name, _read_password(args))
    except AccountError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    print(f"Đã tạo tài khoản tổng đài viên {agent.name}.")
    return 0


def _set_password(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        AgentAccounts().set_password(args.name, _read_password(args))
    except AccountError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    print(f"Đã đổi mật khẩu của {args.name}; các phiên đăng nhập cũ đã bị hủy.")
    return 0


def _disable_agent(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AccountError, AgentAccounts

    try:
        AgentAccounts().disable_agent(args.name)
    except AccountError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    print(f"Đã khóa tài khoản {args.name} và hủy mọi phiên đăng nhập.")
    return 0


def _agents(args: argparse.Namespace) -> int:
    from bot.handoff.accounts import AgentAccounts

    for agent in AgentAccounts().agents():
        print(f"{agent.name}\t{'hoạt động' if agent.active else 'đã khóa'}")
    return 0


def _queue(args: argparse.Namespace) -> int:
    from bot.handoff.tickets import get_store

    for t in get_store().queue():
        print(f"#{t.id}\tưu tiên {t.priority}\t{t.status}\t{t.reason}\t{t.agent or '-'}\t"
              f"{t.created_at:%Y-%m-%d %H:%M}Z")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.handoff.app import app_from_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not os.environ.get("RASA_AUTH_TOKEN"):
        print("Cảnh báo: RASA_AUTH_TOKEN chưa được đặt; Rasa phải chạy với --auth-token.",
              file=sys.stderr)
    web.run_app(app_from_env(), host=args.host, port=args.port, print=None)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("handoff", help="hand-off: agent console, call-center API")
    sub = parser.add_subparsers(dest="handoff_command", required=True)

    p = sub.add_parser("add-agent", help="create a personal agent account")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.set_defaults(func=_add_agent)

    p = sub.add_parser("set-password", help="change an agent's password (ends sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_set_password)

    p = sub.add_parser("disable-agent", help="disable an account at once (ends sessions)")
    p.add_argument("name")
    p.set_defaults(func=_disable_agent)

    p = sub.add_parser("agents", help="list agent accounts")
    p.set_defaults(func=_agents)

    p = sub.add_parser("queue", help="print the active tickets, urgent first")
    p.set_defaults(func=_queue)

    p = sub.add_parser("serve", help="run the agent console and the call-center API")
    p.add_argument("--host", default=os.environ.get("HANDOFF_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("HANDOFF_PORT", "5006")))
    p.set_defaults(func=_serve)
