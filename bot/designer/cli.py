"""`bot data ...`: designers' safe edits from the terminal (registered by bot.cli).

    bot data add-example INTENT "text" [--entity 'service=nhạc chờ[=FUNRING]' ...]
    bot data add-response utter_name "text"
    bot data list | show ID | apply ID... | apply --all | discard ID...
    bot data validate [--no-rasa]            (make validate)

Every addition becomes a pending change (.data/designer/changes/, checked like the
console's corrections); `apply` writes it into data/, domain.yml or tests/stories/.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.designer.texts import designer_texts

if TYPE_CHECKING:
    from bot.designer.changes import Change, ChangeStore, Flag
    from bot.designer.conversations import Entity


def _author() -> str:
    try:
        return "cli:" + (os.environ.get("USER") or getpass.getuser())
    except Exception:  # noqa: BLE001 - no user name: still an author
        return "cli"


def _store(args: argparse.Namespace) -> ChangeStore:
    from bot.designer.changes import ChangeStore

    return ChangeStore(Path(args.root) if args.root else None)


def _print_flags(flags: Sequence[Flag]) -> None:
    for flag in flags:
        level = designer_texts(f"cli.level_{flag.level}")
        print(designer_texts("cli.flag", level=level, message=flag.message))


def parse_entity(text: str, spec: str) -> Entity:
    """`name=span[=value]` -> an Entity on `text` (ValueError when the span is not there)."""
    from bot.designer.conversations import Entity

    parts = spec.split("=", 2)
    if len(parts) < 2 or not parts[0].strip() or not parts[1]:
        raise ValueError(designer_texts("cli.entity_format"))
    name, span = parts[0].strip(), parts[1]
    start = text.find(span)
    if start < 0:
        raise ValueError(designer_texts("errors.span_missing", span=span, entity=name))
    value = parts[2] if len(parts) == 3 else span
    return Entity(name, value, start, start + len(span))


def _add_example(args: argparse.Namespace) -> int:
    try:
        entities = [parse_entity(args.text, spec) for spec in args.entity or []]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    store = _store(args)
    change = store.propose_example(args.intent, args.text, entities, _author())
    return _report(store, change)


def _add_response(args: argparse.Namespace) -> int:
    store = _store(args)
    return _report(store, store.propose_response(args.name, args.text, _author()))


def _report(store: ChangeStore, change: Change) -> int:
    print(designer_texts("cli.proposed", id=change.id, kind=change.kind,
                         path=store._path(change.id)))
    print(store.diff(change), end="")
    _print_flags(change.flags)
    return 1 if change.blocked else 0


def _list(args: argparse.Namespace) -> int:
    pending = _store(args).pending()
    if not pending:
        print(designer_texts("cli.none_pending"))
    for change in pending:
        what = (change.body.get("intent") or change.body.get("response") or "story")
        text = str(change.body.get("text") or "")
        print(designer_texts("cli.pending_line", id=change.id, kind=change.kind,
                             author=change.author, what=f"{what}: {text}"[:90]))
        _print_flags(change.flags)
    return 0


def _show(args: argparse.Namespace) -> int:
    from bot.designer.changes import ChangeError

    store = _store(args)
    try:
        change = store.get(args.id)
    except ChangeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(store.diff(change), end="")
    _print_flags(store.recheck(change, store.pending()))
    return 0


def _apply(args: argparse.Namespace) -> int:
    from bot.designer.changes import ChangeError

    store = _store(args)
    ids = [c.id for c in store.pending()] if args.all else args.ids
    failed = 0
    for change_id in ids:
        try:
            change, where = store.apply(change_id, force=args.force)
        except ChangeError as exc:
            print(designer_texts("cli.apply_failed", message=exc), file=sys.stderr)
            failed += 1
            continue
        print(designer_texts("cli.applied", id=change.id, where=where))
    if len(ids) > failed:
        print(designer_texts("cli.next_steps"))
    return 1 if failed else 0


def _discard(args: argparse.Namespace) -> int:
    from bot.designer.changes import ChangeError

    store = _store(args)
    for change_id in args.ids:
        try:
            store.discard(change_id)
        except ChangeError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(designer_texts("cli.discarded", id=change_id))
    return 0


def _validate(args: argparse.Namespace) -> int:
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # libraries' notices
    from bot.designer.config import repo_root
    from bot.designer.validate import validate

    root = Path(args.root).resolve() if args.root else repo_root()
    return 1 if validate(root, rasa=not args.no_rasa, all_notes=args.all_notes) else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = subparsers.add_parser("data", help="designers: add examples/responses as "
                                              "pending changes, apply them, validate")
    data.add_argument("--root", default=None,
                      help="repository to edit (default: this one, or BOT_DESIGNER_ROOT)")
    sub = data.add_subparsers(dest="data_command", required=True)
    ex = sub.add_parser("add-example", help="propose an NLU example for an intent")
    ex.add_argument("intent")
    ex.add_argument("text")
    ex.add_argument("--entity", action="append", metavar="NAME=SPAN[=VALUE]")
    ex.set_defaults(func=_add_example)
    re_ = sub.add_parser("add-response", help="propose a new variation of a domain response")
    re_.add_argument("name")
    re_.add_argument("text")
    re_.set_defaults(func=_add_response)
    sub.add_parser("list", help="pending changes").set_defaults(func=_list)
    sh = sub.add_parser("show", help="one pending change and its checks")
    sh.add_argument("id")
    sh.set_defaults(func=_show)
    ap = sub.add_parser("apply", help="write pending changes into data/, domain.yml, tests/")
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--force", action="store_true", help="apply despite errors")
    ap.set_defaults(func=_apply)
    di = sub.add_parser("discard", help="drop pending changes")
    di.add_argument("ids", nargs="+")
    di.set_defaults(func=_discard)
    va = sub.add_parser("validate", help="make validate: rasa data validate + lint + "
                                         "pending changes, explained in Vietnamese")
    va.add_argument("--no-rasa", action="store_true", help="skip rasa data validate")
    va.add_argument("--all-notes", action="store_true", help="every note, not 3 of each kind")
    va.set_defaults(func=_validate)
