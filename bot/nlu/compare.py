"""Compare intent-classifier variants quickly (no Rasa training loop):

    python -m bot.nlu.compare [--data data/nlu] [--holdout tests/nlu/holdout.yml]
        [--config config.yml] [--only NAME] [--set KEY=VALUE ...] [--budget 0.05]

Each variant changes the LinearIntentClassifier settings of config.yml. For each: 5-fold
cross-validated accuracy on the training data (used to choose), the clarify rule
calibrated on those CV confidences (bot.nlu.clarify, same choice as
scripts/calibrate_clarify.py), and on the hold-out (classifier trained on all the data)
the accuracy of the top intent and the accuracy when a clarifying question counts as
wrong, overall and per style: what the whole model scores on the hold-out (`bot nlu eval
--whole`) up to the faq sub-intent, which there is the ResponseSelector's. Labels are full
retrieval intents ('faq/decree_49'); the clarify rule sees faq summed, as in the model.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from bot.nlu.clarify import asks
from bot.nlu.classifier import IntentFeatures
from bot.nlu.modeling import parse_settings
from bot.nlu.normalize import folded_features_text, normalize_text

_CLASSIFIER = "bot.nlu.classifier.LinearIntentClassifier"
FALLBACKS = ("bot.nlu.clarify.ClarifyFallbackClassifier", "FallbackClassifier")

VARIANTS: dict[str, dict[str, Any]] = {
    "config.yml": {},
    "+ pyvi word segments": {"tokenization": "pyvi"},
    "no normaliser (raw lower-case text)": {"raw": True},
    "word 1-3-grams": {"word_ngram_max": 3},
    "no char n-grams": {"char_ngram_range": None},
    "char 1-5": {"char_ngram_range": [1, 5]},
    "char 2-6": {"char_ngram_range": [2, 6]},
    "char 3-5": {"char_ngram_range": [3, 5]},
    "no accented word view": {"accented_words": False},
    "LR C=5": {"C": 5.0},
    "LR C=50": {"C": 50.0},
    "LR C=100": {"C": 100.0},
    "no class weights": {"class_weight": None},
    "linear SVM (calibrated)": {"model": "svm"},
}

Rule = tuple[float, float, float]  # threshold, ambiguity_threshold, ratio_threshold
THRESHOLDS = [round(0.20 + 0.05 * i, 2) for i in range(9)]        # 0.20 .. 0.60
AMBIGUITIES = [round(0.02 * i, 2) for i in range(16)]             # 0.00 .. 0.30
RATIOS = [round(0.30 + 0.05 * i, 2) for i in range(11)] + [1.01]  # 0.30 .. 0.80, off
# Issue 12: "0.4 ahead of 0.2" must get a question; a confident answer must not.
MUST_ASK: tuple[tuple[float, float], ...] = ((0.4, 0.2),)
MUST_NOT_ASK: tuple[tuple[float, float], ...] = ((0.9, 0.05), (0.8, 0.1))


def pipeline_config(config_path: str = "config.yml") -> dict[str, Any]:
    """The LinearIntentClassifier settings of config.yml over its defaults (what is
    deployed): the base every variant changes."""
    import yaml

    from bot.nlu.classifier import LinearIntentClassifier

    with open(config_path, encoding="utf-8") as fh:
        pipeline = yaml.safe_load(fh).get("pipeline") or []
    settings: dict[str, Any] = next((c for c in pipeline if c.get("name") == _CLASSIFIER), {})
    return {**LinearIntentClassifier.get_default_config(),
            **{k: v for k, v in settings.items() if k != "name"}}


def configured_rule(config_path: str = "config.yml") -> Rule:
    """The clarify rule config.yml has now."""
    import yaml

    with open(config_path, encoding="utf-8") as fh:
        pipeline = yaml.safe_load(fh).get("pipeline") or []
    [comp] = [c for c in pipeline if c.get("name") in FALLBACKS]
    return (float(comp["threshold"]), float(comp["ambiguity_threshold"]),
            float(comp.get("ratio_threshold", 1.01)))


def _texts(texts: list[str], raw: bool) -> tuple[list[str], list[str]]:
    if raw:
        low = [t.lower() for t in texts]
        return low, low
    norm = [normalize_text(t) for t in texts]
    return [folded_features_text(n) for n in norm], norm


def _model(cfg: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    if cfg.get("model") == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        return CalibratedClassifierCV(LinearSVC(C=1.0, class_weight="balanced"), cv=3)
    return LogisticRegression(C=cfg["C"], max_iter=cfg.get("max_iter", 2000),
                              class_weight=cfg.get("class_weight", "balanced"))


@dataclass
class Predictions:
    """Per message: the full label predicted ('faq/xxx'), and the confidences of the top
    two intents with faq summed (what the clarify rule sees) and whether the top one is
    the gold intent."""

    label: np.ndarray
    top: np.ndarray
    second: np.ndarray
    ok: np.ndarray


class Fitted:
    def __init__(self, cfg: dict[str, Any], x: list[str], y: list[str]) -> None:
        t0 = time.perf_counter()
        self.cfg = cfg
        folded, norm = _texts(x, cfg.get("raw", False))
        self.feats = IntentFeatures(cfg)
        self.model = _model(cfg).fit(self.feats.fit_transform(folded, norm), y)
        self.seconds = time.perf_counter() - t0

    def predict(self, texts: list[str], gold: list[str]) -> Predictions:
        folded, norm = _texts(texts, self.cfg.get("raw", False))
        probas = self.model.predict_proba(self.feats.transform(folded, norm))
        classes = list(self.model.classes_)
        intents = sorted({c.split("/")[0] for c in classes})
        column = {name: [i for i, c in enumerate(classes) if c.split("/")[0] == name]
                  for name in intents}
        summed = np.stack([probas[:, column[n]].sum(axis=1) for n in intents], axis=1)
        order = np.argsort(-summed, axis=1)
        rows = np.arange(len(texts))
        best = np.array(intents)[order[:, 0]]
        return Predictions(
            label=np.array(classes)[probas.argmax(axis=1)],
            top=summed[rows, order[:, 0]], second=summed[rows, order[:, 1]],
            ok=best == np.array([g.split("/")[0] for g in gold]))


def cross_validated(cfg: dict[str, Any], x: list[str], y: list[str]) -> Predictions:
    out = Predictions(label=np.empty(len(x), dtype=object), top=np.zeros(len(x)),
                      second=np.zeros(len(x)), ok=np.zeros(len(x), dtype=bool))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        fitted = Fitted(cfg, [x[i] for i in tr], [y[i] for i in tr])
        p = fitted.predict([x[i] for i in te], [y[i] for i in te])
        out.label[te], out.top[te], out.second[te], out.ok[te] = p.label, p.top, p.second, p.ok
    return out


def rates(p: Predictions, rule: Rule) -> tuple[float, float, float]:
    """(needless questions / all messages, wrong guesses caught / wrong guesses,
    wrong guesses acted on / all messages)."""
    ask = asks(p.top, p.second, *rule)
    needless = float(np.mean(ask & p.ok))
    caught = float(np.mean(ask[~p.ok])) if (~p.ok).any() else 1.0
    acted_wrong = float(np.mean(~ask & ~p.ok))
    return needless, caught, acted_wrong


def _allowed(must_ask: tuple[tuple[float, float], ...],
             must_not_ask: tuple[tuple[float, float], ...]) -> list[Rule]:
    return [rule for rule in ((th, amb, ra) for th in THRESHOLDS for amb in AMBIGUITIES
                              for ra in RATIOS)
            if all(asks(t, s, *rule) for t, s in must_ask)
            and not any(asks(t, s, *rule) for t, s in must_not_ask)]


def choose(p: Predictions, budget: float,
           must_ask: tuple[tuple[float, float], ...] = MUST_ASK,
           must_not_ask: tuple[tuple[float, float], ...] = MUST_NOT_ASK) -> Rule:
    """The rule that catches the most wrong guesses with at most `budget` needless
    questions, among those that ask on every `must_ask` pair (top, second) and on no
    `must_not_ask` pair. Ties: fewer needless questions, then no ratio, lower values.
    When no rule keeps within the budget: the one with the fewest needless questions."""
    scored = []
    for rule in _allowed(must_ask, must_not_ask):
        needless, caught, _ = rates(p, rule)
        scored.append(((caught, -needless, rule[2], -rule[0], -rule[1]), needless, rule))
    if not scored:
        raise ValueError("no rule satisfies must_ask / must_not_ask")
    within = [item for item in scored if item[1] <= budget]
    if within:
        return max(within)[2]
    return min(scored, key=lambda item: (item[1], tuple(-v for v in item[0])))[2]


def accuracy(p: Predictions, gold: list[str], rule: Rule | None = None) -> np.ndarray:
    """Per message: right full label, and (with a rule) no clarifying question."""
    right = p.label == np.array(gold, dtype=object)
    if rule is not None:
        right &= ~asks(p.top, p.second, *rule)
    return right


def load(path: str) -> tuple[list[str], list[str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    msgs = [m for m in load_data(path).training_examples if m.get("text") and m.get("intent")]
    return ([m.get("text") for m in msgs],
            [m.get("intent_response_key") or m.get("intent") for m in msgs])


def main() -> None:
    from bot.nlu.evaluate import load_examples

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--data", default="data/nlu")
    ap.add_argument("--holdout", default="tests/nlu/holdout.yml")
    ap.add_argument("--config", default="config.yml",
                    help="the variants change the classifier settings of this config")
    ap.add_argument("--only", default=None,
                    help="variants whose name contains one of these comma-separated strings")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="one more variant: config.yml's classifier with these settings")
    ap.add_argument("--budget", type=float, default=0.05,
                    help="needless-question budget of the calibrated clarify rule")
    ap.add_argument("--errors", action="store_true",
                    help="list the hold-out messages each variant gets wrong or asks about")
    args = ap.parse_args()
    x, y = load(args.data)
    holdout = load_examples(args.holdout)
    hx, hy = [e.text for e in holdout], [e.intent for e in holdout]
    styles = sorted({e.style for e in holdout})
    base = pipeline_config(args.config)
    variants = dict(VARIANTS)
    if args.set:
        variants = {"--set " + " ".join(args.set): parse_settings(args.set)}
    print(f"training data: {len(x)} messages; hold-out: {len(hx)}; clarify budget "
          f"{args.budget:.0%}", flush=True)
    print("| variant | CV accuracy | clarify rule (CV) | CV needless / caught | hold-out | "
          "hold-out, a question counts wrong | " + " / ".join(styles) + " | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, change in variants.items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        cfg = {**base, **change}
        cv = cross_validated(cfg, x, y)
        rule = choose(cv, args.budget)
        needless, caught, _ = rates(cv, rule)
        fitted = Fitted(cfg, x, y)
        p = fitted.predict(hx, hy)
        plain, strict = accuracy(p, hy), accuracy(p, hy, rule)
        per_style = " / ".join(
            f"{np.mean([s for s, e in zip(strict, holdout, strict=True) if e.style == st]):.1%}"
            for st in styles)
        ratio = "off" if rule[2] > 1 else rule[2]
        print(f"| {name} | {np.mean(accuracy(cv, y)):.1%} | {rule[0]} / {rule[1]} / {ratio} | "
              f"{needless:.1%} / {caught:.1%} | {np.mean(plain):.1%} | {np.mean(strict):.1%} | "
              f"{per_style} | {fitted.seconds:.1f} |", flush=True)
        if args.errors:
            ask = asks(p.top, p.second, *rule)
            for i in np.flatnonzero(~strict):
                why = "asks" if ask[i] else f"-> {p.label[i]}"
                print(f"    [{holdout[i].style}] {hy[i]} {why} ({p.top[i]:.2f} / "
                      f"{p.second[i]:.2f}): {hx[i]}")


if __name__ == "__main__":
    main()
