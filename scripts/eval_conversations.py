"""Task success and turns per task of the customer conversations (tests/conversations).

    .venv/bin/python scripts/eval_conversations.py --model .cache/models-test/test.tar.gz

Plays every conversation of tests/conversations/conversations.yml against the model and a
real action server on a fresh seeded database, then prints the task success rate (overall,
per style, per task) and the customer's turns per task next to the steps the call-center
script (seed 002) needs for it. Failed conversations are listed with their first failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conversations.harness import STYLES, load, player  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=".cache/models-test/test.tar.gz")
    args = ap.parse_args()
    conversations, steps = load()
    with tempfile.TemporaryDirectory() as tmp, player(Path(tmp), args.model) as p:
        outcomes = [p.play(c) for c in conversations]
    ok = [o for o in outcomes if o.ok]
    print(f"task success: {len(ok)}/{len(outcomes)} = {len(ok) / len(outcomes):.1%}")
    print("\n| style | conversations | success |\n|---|---|---|")
    for style in STYLES:
        mine = [o for o in outcomes if o.conversation.style == style]
        good = sum(o.ok for o in mine)
        print(f"| {style} | {len(mine)} | {good / max(len(mine), 1):.1%} |")
    by_task: dict[str, list] = defaultdict(list)
    for o in outcomes:
        by_task[o.conversation.task].append(o)
    print("\n| task | conversations | success | customer turns (mean) | script steps |")
    print("|---|---|---|---|---|")
    for task, items in sorted(by_task.items()):
        turns = sum(len(o.conversation.turns) for o in items) / len(items)
        good = sum(o.ok for o in items) / len(items)
        print(f"| {task} | {len(items)} | {good:.0%} | {turns:.1f} | {steps.get(task, '?')} |")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print("\nfailed:")
        for o in failed:
            print(f"- {o.conversation.id}: {o.failures[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
