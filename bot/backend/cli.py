"""`bot db ...`: upgrade, seed, sms, reset, status."""

from __future__ import annotations

import argparse
import sys
import time

from bot import database, settings
from bot.clock import to_local


def _url(args: argparse.Namespace) -> str:
    return args.db_url or settings.db_url()


def _cmd_upgrade(args: argparse.Namespace) -> int:
    database.upgrade(_url(args), args.revision)
    print(f"Database at revision {', '.join(database.current_heads(_url(args))) or 'base'}.")
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from bot.backend import Backend
    from bot.backend.seed import seed

    backend = Backend(_url(args))
    try:
        report = seed(backend)
    finally:
        backend.dispose()
    print(f"Seeded {report.subscribers} subscribers, {report.services} services, "
          f"{report.shops} shops, {report.subscriptions} subscriptions, "
          f"{report.topups} top-ups in {report.seconds:.2f} s.")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    database.drop_all(_url(args))
    database.upgrade(_url(args))
    print("Database emptied and upgraded.")
    if not args.no_seed:
        return _cmd_seed(args)
    return 0


def _cmd_sms(args: argparse.Namespace) -> int:
    from bot.backend import Backend
    from bot.text import normalize_msisdn

    number = None
    if args.number:
        number = normalize_msisdn(args.number)
        if number is None:
            print("Not a Vietnamese mobile number.", file=sys.stderr)
            return 2
    backend = Backend(_url(args))
    try:
        if not args.follow:
            # A listing: pending messages as they are, sent ones with their codes masked.
            rows = backend.sms.outbox(number)
            for row in rows[-args.last:] if args.last else rows:
                _print_sms(row)
            return 0
        # The demo gateway: --last N first shows N messages already sent (codes masked),
        # then every pending message is "sent" by printing it, readable, exactly once;
        # dispatch_sms then masks the code in the stored copy.
        if args.last:
            for row in backend.sms.outbox(number, status="sent")[-args.last:]:
                _print_sms(row)
        while True:
            if not backend.sms.dispatch(_print_sms, msisdn=number):
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        backend.dispose()
    return 0


def _print_sms(row) -> None:
    local = to_local(row.created_at)
    print(f"[SMS {local:%H:%M:%S} -> {row.msisdn}] {row.text}", flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="subscriber database: upgrade, seed, sms, reset")
    parser.add_argument("--db-url", help="SQLAlchemy URL (default: BOT_DB_URL or .data/)")
    sub = parser.add_subparsers(dest="db_command", required=True)

    up = sub.add_parser("upgrade", help="apply the Alembic migrations (upgrade heads)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(func=_cmd_upgrade)

    sd = sub.add_parser("seed", help="load the deterministic demo data (idempotent)")
    sd.set_defaults(func=_cmd_seed)

    sms = sub.add_parser("sms", help="print the SMS outbox (demo OTP codes)")
    sms.add_argument("--follow", "-f", action="store_true",
                     help="demo SMS gateway: print each pending message once (readable), "
                          "then mark it sent with its code masked")
    sms.add_argument("--number", "-n", help="only this phone number")
    sms.add_argument("--last", type=int, default=0,
                     help="show only the last N messages (with --follow: N already sent, "
                          "before new ones)")
    sms.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    sms.set_defaults(func=_cmd_sms)

    rs = sub.add_parser("reset", help="drop every table, upgrade and seed again (tests)")
    rs.add_argument("--no-seed", action="store_true", help="leave the tables empty")
    rs.set_defaults(func=_cmd_reset)
