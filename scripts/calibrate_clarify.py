"""Choose when the assistant asks "which of these did you mean?" instead of guessing.

    .venv/bin/python scripts/calibrate_clarify.py [--budget 0.03] [--data data/nlu]
        [--holdout tests/nlu/holdout.yml]

The assistant asks (FallbackClassifier -> the clarifying question of
actions/fallback.py) when the top intent's confidence is below `threshold` or the top
two are closer than `ambiguity_threshold`. This script computes 5-fold cross-validated
confidences of our intent classifier on the training data, tries every pair of values
on a grid, and picks the pair that catches the most wrong guesses while asking a needless
question (the guess was right) for at most `--budget` of the messages. It prints the
chosen pair, the rate of needless questions and of wrong guesses caught, on the
cross-validation and on the hold-out (classifier trained on all the data). Put the pair
into config.yml (FallbackClassifier) and the numbers into docs/nlu.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.nlu.classifier import IntentFeatures  # noqa: E402
from bot.nlu.compare import BASE, _model, _texts, load  # noqa: E402

THRESHOLDS = [round(0.20 + 0.05 * i, 2) for i in range(9)]      # 0.20 .. 0.60
AMBIGUITIES = [round(0.02 * i, 2) for i in range(16)]           # 0.00 .. 0.30


def _ranked(model, feats, texts: list[str]) -> list[list[tuple[str, float]]]:
    """Per message: (intent, confidence) best first, faq sub-intents summed into faq."""
    folded, norm = _texts(texts, False)
    probas = model.predict_proba(feats.transform(folded, norm))
    intents = sorted({c.split("/")[0] for c in model.classes_})
    out = []
    for row in probas:
        summed = dict.fromkeys(intents, 0.0)
        for label, p in zip(model.classes_, row, strict=True):
            summed[label.split("/")[0]] += float(p)
        out.append(sorted(summed.items(), key=lambda kv: -kv[1]))
    return out


def _fit(texts: list[str], labels: list[str]):
    folded, norm = _texts(texts, False)
    feats = IntentFeatures(dict(BASE))
    model = _model(dict(BASE)).fit(feats.fit_transform(folded, norm), labels)
    return model, feats


def _arrays(ranked: list[list[tuple[str, float]]], gold: list[str]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    top = np.array([r[0][1] for r in ranked])
    margin = np.array([r[0][1] - r[1][1] for r in ranked])
    ok = np.array([r[0][0] == g.split("/")[0] for r, g in zip(ranked, gold, strict=True)])
    return top, margin, ok


def cross_validated(x: list[str], y: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ranked: list = [None] * len(x)
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        model, feats = _fit([x[i] for i in tr], [y[i] for i in tr])
        for i, r in zip(te, _ranked(model, feats, [x[i] for i in te]), strict=True):
            ranked[i] = r
    return _arrays(ranked, y)


def rates(top, margin, ok, threshold: float, ambiguity: float) -> tuple[float, float, float]:
    """(needless questions / all messages, wrong guesses caught / wrong guesses,
    wrong guesses acted on / all messages)."""
    asks = (top < threshold) | (margin < ambiguity)
    needless = float(np.mean(asks & ok))
    caught = float(np.mean(asks[~ok])) if (~ok).any() else 1.0
    acted_wrong = float(np.mean(~asks & ~ok))
    return needless, caught, acted_wrong


def choose(top, margin, ok, budget: float) -> tuple[float, float]:
    best: tuple[float, float, float, float] | None = None  # caught, -needless, th, amb
    for th in THRESHOLDS:
        for amb in AMBIGUITIES:
            needless, caught, _ = rates(top, margin, ok, th, amb)
            if needless > budget:
                continue
            key = (caught, -needless, th, amb)
            if best is None or key[:2] > best[:2]:
                best = key
    assert best is not None, "no pair within the budget"
    return best[2], best[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/nlu")
    ap.add_argument("--holdout", default="tests/nlu/holdout.yml")
    ap.add_argument("--budget", type=float, default=0.03,
                    help="largest share of messages that may get a needless question")
    args = ap.parse_args()
    x, y = load(args.data)
    top, margin, ok = cross_validated(x, y)
    th, amb = choose(top, margin, ok, args.budget)
    print(f"training data: {len(x)} messages, {int((~ok).sum())} wrong CV guesses")
    print(f"chosen: threshold {th}, ambiguity_threshold {amb} (budget {args.budget:.0%})")
    print("| data | threshold | ambiguity | needless questions | wrong guesses caught |"
          " wrong guesses acted on |")
    print("|---|---|---|---|---|---|")
    hx, hy = load(args.holdout)
    model, feats = _fit(x, y)
    h_top, h_margin, h_ok = _arrays(_ranked(model, feats, hx), hy)
    for name, arrays in (("5-fold CV", (top, margin, ok)), ("hold-out", (h_top, h_margin, h_ok))):
        for t, a in ((0.25, 0.02), (th, amb)):
            needless, caught, acted = rates(*arrays, t, a)
            print(f"| {name} | {t} | {a} | {needless:.1%} | {caught:.1%} | {acted:.1%} |")


if __name__ == "__main__":
    main()
