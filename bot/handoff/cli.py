"""`bot handoff ...`: agent accounts, the console/API server, the ticket queue.

    bot handoff add-agent NAME [--password-stdin]
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

DEFAULT_HOST = "127.0.0.1"


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
            print("Lỗi: RASA_JWT_SECRET chưa được đặt. Rasa phải chạy với --jwt-secret và "
                  "máy chủ hand-off xác thực bằng JWT (docs/handoff.md).", file=sys.stderr)
            return 2
        if not os.environ.get("RASA_AUTH_TOKEN"):
            print("Cảnh báo: chưa đặt RASA_JWT_SECRET lẫn RASA_AUTH_TOKEN; Rasa sẽ từ chối.",
                  file=sys.stderr)
        else:
            print(f"Cảnh báo: RASA_JWT_SECRET chưa được đặt; dùng RASA_AUTH_TOKEN trong URL "
                  f"(chỉ cho phép khi BOT_ENV={settings.env()}).", file=sys.stderr)
    host = (args.host or "").strip() or DEFAULT_HOST
    if not _is_loopback(host):
        print(f"Cảnh báo: máy chủ hand-off lắng nghe trên {host}, không chỉ 127.0.0.1; đặt "
              "HANDOFF_COOKIE_SECURE=1 sau HTTPS và HANDOFF_TRUSTED_PROXIES nếu có proxy.",
              file=sys.stderr)
    try:
        app = app_from_env()
    except ValueError as exc:  # HANDOFF_API_TOKENS, HANDOFF_TRUSTED_PROXIES
        print(f"Lỗi cấu hình: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=host, port=args.port, print=None)
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
    p.add_argument("--host", default=os.environ.get("HANDOFF_HOST") or DEFAULT_HOST,
                   help="address to listen on (default 127.0.0.1, or HANDOFF_HOST)")
    p.add_argument("--port", type=int, default=int(os.environ.get("HANDOFF_PORT", "5006")))
    p.set_defaults(func=_serve)
