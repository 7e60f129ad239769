"""`bot` command line: each package registers its own sub-commands.

    bot db upgrade|seed|...        (bot.backend.cli)
    bot nlu eval|benchmark|lint    (bot.nlu.cli)
    bot telegram poll ...          (bot.channels.cli)
    bot handoff ...                (bot.handoff.cli)
    bot review ..., bot media purge (bot.handoff.review_cli: the Decree-49 review desk)
    bot data add-example|apply|validate ...  (bot.designer.cli)
    bot serve rasa|shell|actions   (bot.serve: the servers, secrets checked, loopback)
    bot secrets env                (bot.serve: development secrets as `export` lines)
    bot wait-port PORT             wait until a local TCP port accepts connections
"""

from __future__ import annotations

import argparse
import importlib
import socket
import sys
import time
from collections.abc import Sequence

# Modules that define `register(subparsers)`; a missing one is skipped.
_COMMAND_MODULES = ("bot.backend.cli", "bot.nlu.cli", "bot.channels.cli", "bot.handoff.cli",
                    "bot.handoff.review_cli", "bot.serve",
                    "bot.designer.cli")  # bot data ... (designers' pending changes)


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 120.0) -> bool:
    """Block until host:port accepts a TCP connection, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _cmd_wait_port(args: argparse.Namespace) -> int:
    if wait_port(args.port, args.host, args.timeout):
        return 0
    print(f"Nothing answers on {args.host}:{args.port} after {args.timeout:.0f} s", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    wp = sub.add_parser("wait-port", help="wait until a local port accepts connections")
    wp.add_argument("port", type=int)
    wp.add_argument("--host", default="127.0.0.1")
    wp.add_argument("--timeout", type=float, default=120.0)
    wp.set_defaults(func=_cmd_wait_port)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    rasa_mode = getattr(args, "rasa_mode", None)
    if rasa_mode:  # `bot serve rasa|shell`: unknown options go on to Rasa's own CLI
        from bot.serve import serve_rasa

        return serve_rasa(args, extra, shell=rasa_mode == "shell")
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
