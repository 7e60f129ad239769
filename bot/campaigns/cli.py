"""`bot campaign create|list|start|pause|resume|run-once|run|report|export-sms`
(docs/campaigns.md).

    bot campaign create "Nhắc NĐ49 tháng 12" --deadline 31/12/2026 --missing portrait_photo \
        --province "Hà Nội" --one-way-blocked no --channels telegram,zalo --rate 30
    bot campaign start 1
    bot campaign run 1            # a pass every minute until the campaign ends (or Ctrl-C)
    bot campaign report 1
    bot campaign export-sms 1 --out sms-1.csv
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bot.campaigns.engine import CampaignEngine, PassResult
from bot.campaigns.forms import DEFAULT_RESPONSE, campaign_from_values
from bot.campaigns.models import DONE, SMS
from bot.campaigns.report import build_report
from bot.campaigns.store import CampaignStore, CampaignView, NewCampaign
from bot.campaigns.texts import campaign_texts


def new_campaign(args: argparse.Namespace) -> NewCampaign:
    return campaign_from_values(
        name=args.name, deadline=args.deadline, missing=(args.missing or "").split(","),
        province=args.province, one_way=args.one_way_blocked,
        channels=args.channels.split(","), starts=args.starts, ends=args.ends,
        rate=args.rate, response=args.response, by=args.by)


def _status(code: str) -> str:
    return campaign_texts.table("statuses").get(code, code)


def _campaign(store: CampaignStore, campaign_id: int) -> CampaignView:
    found = store.get(campaign_id)
    if found is None:
        raise SystemExit(campaign_texts("cli.not_found", id=campaign_id))
    return found


def _create(args: argparse.Namespace) -> int:
    try:
        new = new_campaign(args)
    except ValueError as exc:
        print(campaign_texts("cli.bad_value", message=exc), file=sys.stderr)
        return 2
    campaign_id = CampaignStore().create(new)
    print(campaign_texts("cli.created", id=campaign_id, name=new.name))
    return 0


def _list(args: argparse.Namespace) -> int:
    found = CampaignStore().all()
    if not found:
        print(campaign_texts("cli.empty"))
    for c in found:
        print(campaign_texts("cli.row", id=c.id, name=c.name, status=_status(c.status),
                             channels=",".join(c.channels), deadline=c.deadline or "-",
                             rate=c.rate_per_minute))
    return 0


def _change(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        engine = CampaignEngine()
        _campaign(engine.store, args.id)
        done = getattr(engine, action)(args.id)
        status = _status(_campaign(engine.store, args.id).status)
        key = "cli.changed" if done else "cli.not_changed"
        print(campaign_texts(key, id=args.id, status=status))
        return 0 if done else 1
    return run


def print_pass(result: PassResult, engine: CampaignEngine) -> None:
    print(campaign_texts("cli.pass", targeted=result.targeted, sent=result.sent,
                         failed=result.failed))
    for reason, count in sorted(result.skipped.items()):
        print(campaign_texts("cli.skipped", reason=reason, count=count))
    if result.idle_reason:
        print(campaign_texts(f"idle.{result.idle_reason}", opens=engine.rules.opens,
                             closes=engine.rules.closes))


def _run_once(args: argparse.Namespace) -> int:
    engine = CampaignEngine()
    _campaign(engine.store, args.id)
    print_pass(asyncio.run(engine.run_once(args.id)), engine)
    return 0


def _run(args: argparse.Namespace) -> int:
    """A pass every `--interval` seconds (the send rate is per minute) until the campaign
    has ended; a paused campaign waits."""
    engine = CampaignEngine()
    _campaign(engine.store, args.id)

    async def loop() -> None:
        while True:
            result = await engine.run_once(args.id)
            if result.sent or result.failed:
                print_pass(result, engine)
            if result.idle_reason == "ended":
                engine.store.set_status(args.id, DONE, ("running", "paused"))
                print_pass(result, engine)
                return
            await asyncio.sleep(args.interval)

    try:
        asyncio.run(loop())
    except KeyboardInterrupt:
        return 130
    return 0


def _report(args: argparse.Namespace) -> int:
    store = CampaignStore()
    campaign = _campaign(store, args.id)
    report = build_report(store, args.id)
    labels = campaign_texts.table("report")
    print(campaign_texts("cli.report_title", id=campaign.id, name=campaign.name,
                         status=_status(campaign.status)))
    for key, value in report.rows():
        print(campaign_texts("cli.report_line", label=labels[key], value=value))
        if key == "failed":
            for reason, count in sorted(report.failed_reasons.items()):
                print(campaign_texts("cli.failed_reason", reason=reason, count=count))
    if report.by_day:
        print(campaign_texts("cli.by_day_title"))
        for day, row in report.by_day.items():
            print(campaign_texts("cli.by_day_line", day=day, sent=row.sent,
                                 replied=row.replied, submitted=row.submitted,
                                 approved=row.approved))
    return 0


def export_sms(engine: CampaignEngine, campaign_id: int, path: Path) -> int:
    """Write the numbers to reach by SMS (no verified chat, Zalo window closed), without
    those who opted out, as CSV (msisdn, reason, deadline); the file is readable by its
    owner only. Targeting runs first, so a draft campaign can be exported too."""
    campaign = _campaign(engine.store, campaign_id)
    engine.target(campaign)
    rows = [d for d in engine.store.deliveries(campaign_id, (SMS,))
            if not engine.store.opted_out(d.msisdn)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["msisdn", "reason", "deadline"])
        for d in rows:
            writer.writerow([d.msisdn, d.reason or "", campaign.deadline])
    return len(rows)


def _export_sms(args: argparse.Namespace) -> int:
    path = Path(args.out or f"campaign-{args.id}-sms.csv")
    count = export_sms(CampaignEngine(), args.id, path)
    print(campaign_texts("cli.exported", count=count, path=path))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("campaign", help="Decree-49 campaigns (docs/campaigns.md)")
    sub = parser.add_subparsers(dest="campaign_command", required=True)
    create = sub.add_parser("create", help="a new campaign (draft)")
    create.add_argument("name")
    create.add_argument("--deadline", required=True, help="shown to customers, e.g. 31/12/2026")
    create.add_argument("--missing", help="comma-separated Decree-49 item codes (any of)")
    create.add_argument("--province")
    create.add_argument("--one-way-blocked", choices=["yes", "no", "any"], default="any")
    create.add_argument("--channels", default="telegram,zalo")
    create.add_argument("--starts", help="local time, e.g. '2026-12-01 07:00'")
    create.add_argument("--ends", help="local time")
    create.add_argument("--rate", type=int, default=30, help="messages per minute")
    create.add_argument("--response", default=DEFAULT_RESPONSE, help="domain.yml response")
    create.add_argument("--by", default="", help="the operator creating it")
    create.set_defaults(func=_create)
    sub.add_parser("list").set_defaults(func=_list)
    for action in ("start", "pause", "resume"):
        cmd = sub.add_parser(action)
        cmd.add_argument("id", type=int)
        cmd.set_defaults(func=_change(action))
    once = sub.add_parser("run-once", help="one pass: target, then send what is due")
    once.add_argument("id", type=int)
    once.set_defaults(func=_run_once)
    run = sub.add_parser("run", help="a pass every --interval seconds until the end")
    run.add_argument("id", type=int)
    run.add_argument("--interval", type=float, default=60.0)
    run.set_defaults(func=_run)
    report = sub.add_parser("report")
    report.add_argument("id", type=int)
    report.set_defaults(func=_report)
    export = sub.add_parser("export-sms", help="CSV of the numbers for the SMS system")
    export.add_argument("id", type=int)
    export.add_argument("--out")
    export.set_defaults(func=_export_sms)
