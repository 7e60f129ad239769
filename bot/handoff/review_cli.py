"""`bot review list|show|approve|reject` and `bot media purge` (the review desk from a
terminal; what the console's review page does, with the same audit and the same message to
the customer).

    bot review list
    bot review show 12 --reviewer lan
    bot review approve 12 --reviewer lan
    bot review reject 12 --reviewer lan --reason photo_unreadable
    bot review reject 12 --reviewer lan --reason other --note "Ảnh mặt sau bị lóa"
    bot media purge            # daily: photos of requests decided > media.retention_days ago

`--reviewer` names a console account with the `reviewer` role (audited as that account).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.backend.update_requests import ReviewConflict, reject_reasons
from bot.clock import format_local
from bot.handoff.review import ReviewDesk, ReviewError, hours_left
from bot.handoff.review_routes import review_texts
from bot.privacy import mask_msisdn


def _label(table: str, code: object) -> str:
    return review_texts.table(table).get(str(code), str(code))


def _reviewer(name: str) -> str:
    from bot.handoff.accounts import AgentAccounts

    for agent in AgentAccounts().agents():
        if agent.name == name and agent.active and agent.has_role("reviewer"):
            return agent.name
    raise SystemExit(review_texts("cli.error", message=f"no reviewer account {name!r} "
                                                       "(bot handoff add-agent --role reviewer)"))


def _list(args: argparse.Namespace) -> int:
    desk = ReviewDesk()
    now = desk.backend.now()
    pending = desk.queue()
    if not pending:
        print(review_texts("cli.empty"))
    for view in pending:
        left = (review_texts("cli.overdue") if now > view.due_at
                else review_texts("cli.left", hours=hours_left(view.due_at, now)))
        print(review_texts("cli.row", id=view.id, submitted=format_local(view.submitted_at),
                           due=format_local(view.due_at), left=left,
                           channel=_label("channels", view.channel)))
    return 0


def _show(args: argparse.Namespace) -> int:
    desk = ReviewDesk()
    try:
        found = desk.show(args.id, _reviewer(args.reviewer))
    except ReviewError as exc:
        print(review_texts(f"errors.{exc.code}"), file=sys.stderr)
        return 1
    r = found.request
    print(review_texts("cli.header", id=r.id, status=_label("statuses", r.status),
                       submitted=format_local(r.submitted_at), due=format_local(r.due_at),
                       channel=_label("channels", r.channel)))
    print(review_texts("cli.submitted"))
    for code, value in found.fields.items():
        print(f"  {_label('fields', code)}: {value}")
    print(review_texts("cli.current"))
    for code, value in found.current.items():
        shown = mask_msisdn(value) if code == "msisdn" else _label("values", value)
        print(f"  {_label('current', code)}: {shown}")
    print(review_texts("cli.photos", photos=", ".join(_label("photos", k) for k in found.photos)
                       or review_texts("cli.none")))
    history = ", ".join(f"#{h.id} {_label('statuses', h.status)}" for h in found.history)
    print(review_texts("cli.history", history=history or review_texts("cli.none")))
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:
    desk = ReviewDesk()
    reviewer = _reviewer(args.reviewer)
    current = desk.backend.update_requests.get(args.id)
    if current is None:
        print(review_texts("errors.not_found"), file=sys.stderr)
        return 1
    try:
        decision, via = asyncio.run(desk.decide(
            args.id, reviewer, current.version, approve,
            reason=getattr(args, "reason", None), note=getattr(args, "note", None)))
    except ReviewError as exc:
        print(review_texts(f"errors.{exc.code}"), file=sys.stderr)
        return 1
    except ReviewConflict as exc:
        print(review_texts("cli.conflict", id=args.id, reviewer=exc.current.decided_by or "-",
                           status=_label("statuses", exc.current.status)), file=sys.stderr)
        return 1
    print(review_texts("cli.decided", id=args.id,
                       status=_label("statuses", decision.request.status),
                       via=_label("channels", via)))
    return 0


def _purge(args: argparse.Namespace) -> int:
    requests, files = ReviewDesk().purge_media()
    print(review_texts("cli.purged", requests=requests, files=files))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("review", help="Decree-49 update requests: the review desk")
    sub = parser.add_subparsers(dest="review_command", required=True)
    p = sub.add_parser("list", help="pending requests, overdue first")
    p.set_defaults(func=_list)
    for name, helptext in (("show", "one request (audited)"), ("approve", "approve a request"),
                           ("reject", "reject a request with a reason")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.add_argument("--reviewer", required=True,
                       help="your console account (role reviewer)")
        if name == "reject":
            p.add_argument("--reason", required=True, choices=reject_reasons())
            p.add_argument("--note", default=None, help="for the customer (reason other)")
        p.set_defaults(func={"show": _show,
                             "approve": lambda a: _decide(a, True),
                             "reject": lambda a: _decide(a, False)}[name])

    media = subparsers.add_parser("media", help="customer photos (bot/media)")
    msub = media.add_subparsers(dest="media_command", required=True)
    p = msub.add_parser("purge", help="delete photos of requests decided long enough ago")
    p.set_defaults(func=_purge)
