"""`bot telegram ...` and `bot zalo ...`: development polling and operator helpers.

    bot telegram poll [--rasa-url http://localhost:5005]   relay getUpdates -> Rasa webhook
    bot telegram set-webhook --url https://bot.example.vn/webhooks/telegram_ptb/webhook
    bot telegram delete-webhook | me
    bot zalo set-token --access-token ... --refresh-token ...
    bot zalo sign FILE.json                                  print a signed curl (testing)
    bot channels inbox [--status parked|pending|all] [--channel telegram|zalo]
    bot channels replay ID... | --parked                    parked messages processed again
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bot.texts import Messages

logger = logging.getLogger(__name__)

CLI_TEXTS = Messages(Path(__file__).with_name("cli_texts.yml"))


def register(subparsers: Any) -> None:
    tg = subparsers.add_parser("telegram", help="Telegram channel: polling, webhook set-up")
    tsub = tg.add_subparsers(dest="telegram_command", required=True)
    poll = tsub.add_parser("poll", help="development: getUpdates and relay each update to "
                                        "the Rasa server's telegram_ptb webhook")
    poll.add_argument("--rasa-url", default="http://localhost:5005")
    poll.add_argument("--timeout", type=int, default=25, help="long-poll seconds")
    poll.add_argument("--once", action="store_true", help="one getUpdates round, then exit")
    poll.set_defaults(func=_cmd_poll)
    hook = tsub.add_parser("set-webhook", help="register the public webhook URL")
    hook.add_argument("--url", required=True,
                      help="https://<host>[:443|80|88|8443]/webhooks/telegram_ptb/webhook")
    hook.add_argument("--drop-pending", action="store_true")
    hook.set_defaults(func=_cmd_set_webhook)
    tsub.add_parser("delete-webhook", help="remove the webhook (needed for polling)"
                    ).set_defaults(func=_cmd_delete_webhook)
    tsub.add_parser("me", help="check the token (getMe)").set_defaults(func=_cmd_me)

    zl = subparsers.add_parser("zalo", help="Zalo OA channel helpers")
    zsub = zl.add_subparsers(dest="zalo_command", required=True)
    tok = zsub.add_parser("set-token", help="store the OA access/refresh tokens in the DB")
    tok.add_argument("--access-token", required=True)
    tok.add_argument("--refresh-token", required=True)
    tok.set_defaults(func=_cmd_zalo_set_token)
    sign = zsub.add_parser("sign", help="print a curl command posting a signed event")
    sign.add_argument("file", help="event JSON file ('timestamp' is set to now)")
    sign.add_argument("--url", default="http://localhost:5005/webhooks/zalo/webhook")
    sign.set_defaults(func=_cmd_zalo_sign)

    ch = subparsers.add_parser("channels", help="channel inbox: pending and parked messages")
    csub = ch.add_subparsers(dest="channels_command", required=True)
    inbox = csub.add_parser("inbox", help="list the inbox rows not done (parked first to "
                                          "look at), with counts per channel")
    inbox.add_argument("--status", choices=["parked", "pending", "all"], default="all")
    inbox.add_argument("--channel", choices=["telegram", "zalo"])
    inbox.add_argument("--limit", type=int, default=100)
    inbox.set_defaults(func=_cmd_inbox)
    replay = csub.add_parser("replay", help="make parked (or pending) messages due again")
    replay.add_argument("ids", nargs="*", type=int)
    replay.add_argument("--parked", action="store_true", help="every parked message")
    replay.set_defaults(func=_cmd_replay)


def _telegram_config():
    from bot.channels.telegram import TelegramConfig

    config = TelegramConfig.from_credentials()
    if not config.configured:
        print("TELEGRAM_TOKEN is not set.", file=sys.stderr)
        raise SystemExit(2)
    return config


async def relay_updates(config: Any, rasa_url: str, timeout: int = 25,
                        once: bool = False) -> int:
    """getUpdates against config.base_url; POST each raw update to the Rasa webhook with
    the secret header. The offset only moves past an update Rasa accepted (200) or
    refused as malformed (4xx), so nothing is lost when Rasa is down."""
    import aiohttp
    from telegram import Bot

    from bot.channels.telegram import SECRET_HEADER

    if not config.secret_token:
        print("TELEGRAM_SECRET_TOKEN is not set (the Rasa webhook requires it).",
              file=sys.stderr)
        return 2
    url = f"{rasa_url.rstrip('/')}/webhooks/telegram_ptb/webhook"
    relayed = 0
    async with Bot(config.token, base_url=config.base_url) as bot:
        await bot.delete_webhook()
        offset: int | None = None
        async with aiohttp.ClientSession() as session:
            while True:
                kwargs: dict[str, Any] = {"timeout": timeout}
                if offset is not None:
                    kwargs["offset"] = offset
                with warnings.catch_warnings():  # raw JSON on purpose: relayed as is
                    warnings.simplefilter("ignore")
                    updates = await bot.do_api_request("getUpdates", api_kwargs=kwargs,
                                                       read_timeout=timeout + 10)
                for update in updates or []:
                    try:
                        async with session.post(url, json=update, headers={
                                SECRET_HEADER: config.secret_token}) as resp:
                            status = resp.status
                    except aiohttp.ClientError as exc:
                        logger.warning("Rasa not reachable at %s: %s", url, exc)
                        status = 0
                    if status == 200 or 400 <= status < 500:
                        if status != 200:
                            logger.warning("Update %s refused (%s)", update.get("update_id"),
                                           status)
                        offset = int(update["update_id"]) + 1
                        relayed += 1
                    else:
                        await asyncio.sleep(2)
                        break  # the same update is fetched again
                if once:
                    return relayed


def _cmd_poll(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = _telegram_config()
    print(f"Polling {config.base_url}… relaying to {args.rasa_url} (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(relay_updates(config, args.rasa_url, args.timeout, args.once))
    return 0


def _cmd_set_webhook(args: argparse.Namespace) -> int:
    from telegram import Bot

    config = _telegram_config()
    if not config.secret_token:
        print("Set TELEGRAM_SECRET_TOKEN first (1-256 chars of A-Z a-z 0-9 _ -).",
              file=sys.stderr)
        return 2

    async def run() -> bool:
        async with Bot(config.token, base_url=config.base_url) as bot:
            return await bot.set_webhook(url=args.url, secret_token=config.secret_token,
                                         drop_pending_updates=args.drop_pending,
                                         allowed_updates=["message", "callback_query"])

    ok = asyncio.run(run())
    print("Webhook set." if ok else "Telegram refused the webhook.")
    return 0 if ok else 1


def _cmd_delete_webhook(args: argparse.Namespace) -> int:
    from telegram import Bot

    config = _telegram_config()

    async def run() -> bool:
        async with Bot(config.token, base_url=config.base_url) as bot:
            return await bot.delete_webhook()

    print("Webhook deleted." if asyncio.run(run()) else "Telegram refused.")
    return 0


def _cmd_me(args: argparse.Namespace) -> int:
    from telegram import Bot

    config = _telegram_config()

    async def run() -> Any:
        async with Bot(config.token, base_url=config.base_url) as bot:
            return await bot.get_me()

    me = asyncio.run(run())
    print(f"@{me.username} (id {me.id})")
    return 0


def _cmd_zalo_set_token(args: argparse.Namespace) -> int:
    from bot.channels.store import ChannelStore
    from bot.channels.zalo import ZaloConfig

    config = ZaloConfig.from_credentials()
    store = ChannelStore()
    if not store.seed_token(config.oa_key, args.access_token, args.refresh_token):
        row = store.token(config.oa_key)
        if row is None:  # removed between the two calls
            print("Could not store the Zalo OA tokens; try again.", file=sys.stderr)
            return 1
        store.save_refreshed(config.oa_key, row.version, args.access_token,
                             args.refresh_token)
    print(f"Zalo OA tokens stored for {config.oa_key}.")
    return 0


def _cmd_zalo_sign(args: argparse.Namespace) -> int:
    import shlex

    from bot.channels.zalo import SIGNATURE_HEADER, ZaloConfig, signature

    config = ZaloConfig.from_credentials()
    if not (config.app_id and config.oa_secret_key):
        print("ZALO_APP_ID and ZALO_OA_SECRET_KEY must be set.", file=sys.stderr)
        return 2
    with open(args.file, encoding="utf-8") as fh:
        event = json.load(fh)
    event["timestamp"] = str(int(time.time() * 1000))
    event.setdefault("app_id", config.app_id)
    body = json.dumps(event, ensure_ascii=False)
    mac = signature(config.app_id, body.encode(), event["timestamp"], config.oa_secret_key)
    print(f"curl -X POST {shlex.quote(args.url)} -H 'Content-Type: application/json' "
          f"-H '{SIGNATURE_HEADER}: mac={mac}' --data-binary {shlex.quote(body)}")
    return 0


def _cmd_inbox(args: argparse.Namespace) -> int:
    from bot.channels.inbox_store import PARKED, PENDING, PROCESSING, InboxStore

    store = InboxStore()
    statuses = {"parked": (PARKED,), "pending": (PENDING, PROCESSING),
                "all": (PARKED, PENDING, PROCESSING)}[args.status]
    rows = store.items(statuses, args.channel, args.limit)
    if not rows:
        print(CLI_TEXTS("inbox.empty"))
    else:
        print(CLI_TEXTS("inbox.header"))
        for row in rows:
            print(CLI_TEXTS("inbox.row", id=row.id, channel=row.channel,
                            external_id=row.external_id, user=row.user_key,
                            status=row.status, attempts=row.attempts,
                            next_attempt=row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S"),
                            error=row.last_error or "-"))
    counts = store.counts()
    for channel in sorted({key[0] for key in counts}):
        print(CLI_TEXTS("inbox.counts", channel=channel,
                        pending=counts.get((channel, PENDING), 0)
                        + counts.get((channel, PROCESSING), 0),
                        parked=counts.get((channel, PARKED), 0)))
    if counts:
        print(CLI_TEXTS("inbox.replay_hint"))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from bot.channels.inbox_store import InboxStore

    if not args.ids and not args.parked:
        print(CLI_TEXTS("replay.nothing"), file=sys.stderr)
        return 2
    count = InboxStore().replay(args.ids, all_parked=args.parked)
    print(CLI_TEXTS("replay.done", count=count))
    return 0
