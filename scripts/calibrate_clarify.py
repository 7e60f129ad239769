"""Choose when the assistant asks "which of these did you mean?" instead of guessing.

    .venv/bin/python scripts/calibrate_clarify.py [--budget 0.05] [--data data/nlu]
        [--holdout tests/nlu/holdout.yml] [--config config.yml]

The assistant asks (bot.nlu.clarify.ClarifyFallbackClassifier -> the clarifying question of
actions/fallback.py) when the top intent's confidence is below `threshold`, or the top two
are closer than `ambiguity_threshold`, or the second has at least `ratio_threshold` of the
top one's confidence (bot.nlu.clarify.asks). This script computes 5-fold cross-validated
confidences of our intent classifier (its settings in config.yml) on the training data,
tries every triple on a grid, and picks the one that catches the most wrong guesses while
asking a needless question (the guess was right) for at most `--budget` of the messages,
among the rules that ask on issue 12's example (top 0.4, second 0.2) and not on a
confident answer (bot.nlu.compare.MUST_ASK / MUST_NOT_ASK). It prints the chosen values,
the rate of needless questions and of wrong guesses caught, on the cross-validation and
on the hold-out (classifier trained on all the data), next to the values config.yml has
now. Put the values into config.yml and the numbers into docs/nlu.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.nlu.compare import (  # noqa: E402
    MUST_ASK,
    Fitted,
    choose,
    configured_rule,
    cross_validated,
    load,
    pipeline_config,
    rates,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--data", default="data/nlu")
    ap.add_argument("--holdout", default="tests/nlu/holdout.yml")
    ap.add_argument("--config", default="config.yml")
    ap.add_argument("--budget", type=float, default=0.05,
                    help="largest share of messages that may get a needless question")
    ap.add_argument("--free", action="store_true",
                    help="do not require a question on issue 12's example (0.4 vs 0.2)")
    args = ap.parse_args()
    cfg = pipeline_config(args.config)
    x, y = load(args.data)
    cv = cross_validated(cfg, x, y)
    rule = choose(cv, args.budget, () if args.free else MUST_ASK)
    now = configured_rule(args.config)
    print(f"training data: {len(x)} messages, {int((~cv.ok).sum())} wrong CV guesses "
          f"(CV accuracy of the top intent {float(np.mean(cv.ok)):.1%})")
    print(f"chosen: threshold {rule[0]}, ambiguity_threshold {rule[1]}, ratio_threshold "
          f"{rule[2]} (budget {args.budget:.0%})")
    print("| data | threshold | ambiguity | ratio | needless questions | wrong guesses caught |"
          " wrong guesses acted on |")
    print("|---|---|---|---|---|---|---|")
    hx, hy = load(args.holdout)
    held = Fitted(cfg, x, y).predict(hx, hy)
    for name, p in (("5-fold CV", cv), ("hold-out", held)):
        for r in dict.fromkeys((now, rule)):
            needless, caught, acted = rates(p, r)
            ratio = "off" if r[2] > 1 else r[2]
            wrong = int((~p.ok).sum())
            shown = f"{caught:.1%} of {wrong}" if wrong else "(no wrong guess)"
            print(f"| {name} | {r[0]} | {r[1]} | {ratio} | {needless:.1%} | {shown} | "
                  f"{acted:.1%} |")


if __name__ == "__main__":
    main()
