"""Compare intent-classifier variants quickly (no Rasa training loop):

    python -m bot.nlu.compare [--data data/nlu] [--holdout tests/nlu/holdout.yml]

For each variant: 5-fold cross-validated accuracy on the training data (used to choose),
hold-out accuracy (reported), training time on all data and per-message predict time.
Labels are full retrieval intents ('faq/decree_49'), as in `bot nlu eval`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from bot.nlu.classifier import IntentFeatures
from bot.nlu.normalize import folded_features_text, normalize_text

BASE = {"C": 20.0, "char_ngram_range": [2, 5], "accented_words": True,
        "tokenization": "syllables"}

VARIANTS: dict[str, dict[str, Any]] = {
    "ours: LR, normalised + folded, syllables": {},
    "ours + pyvi word segments": {"tokenization": "pyvi"},
    "no normaliser (raw lower-case text)": {"raw": True},
    "word 1-3-grams": {"word_ngram_max": 3},
    "no char n-grams": {"char_ngram_range": None},
    "no accented word view": {"accented_words": False},
    "LR C=5": {"C": 5.0},
    "LR C=100": {"C": 100.0},
    "linear SVM (calibrated)": {"model": "svm"},
}


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
    return LogisticRegression(C=cfg["C"], max_iter=2000, class_weight="balanced")


def fit_predict(cfg: dict[str, Any], train_x: list[str], train_y: list[str]
                ) -> tuple[Callable[[list[str]], list[str]], float]:
    t0 = time.perf_counter()
    folded, norm = _texts(train_x, cfg.get("raw", False))
    feats = IntentFeatures({**BASE, **cfg})
    model = _model(cfg)
    model.fit(feats.fit_transform(folded, norm), train_y)
    seconds = time.perf_counter() - t0

    def predict(xs: list[str]) -> list[str]:
        f, n = _texts(xs, cfg.get("raw", False))
        return list(model.predict(feats.transform(f, n)))

    return predict, seconds


def fallback_table(x: list[str], y: list[str]) -> None:
    """Cross-validated confidences of our classifier -> what each threshold would do."""
    cfg = dict(BASE)
    top, second, ok = [], [], []
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        folded, norm = _texts([x[i] for i in tr], False)
        feats = IntentFeatures(cfg)
        model = _model(cfg).fit(feats.fit_transform(folded, norm), [y[i] for i in tr])
        f, n = _texts([x[i] for i in te], False)
        probas = model.predict_proba(feats.transform(f, n))
        intents = sorted({c.split("/")[0] for c in model.classes_})
        for i, row in zip(te, probas, strict=True):
            summed = dict.fromkeys(intents, 0.0)
            for label, p in zip(model.classes_, row, strict=True):
                summed[label.split("/")[0]] += float(p)
            ranked = sorted(summed.items(), key=lambda kv: -kv[1])
            top.append(ranked[0][1])
            second.append(ranked[1][1])
            ok.append(ranked[0][0] == y[i].split("/")[0])
    t, s2, good = np.array(top), np.array(second), np.array(ok)
    print(f"\n{len(t)} CV predictions, {int((~good).sum())} wrong")
    print("| threshold | correct answers lost to fallback | wrong answers caught |")
    print("|---|---|---|")
    for th in (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        lost = float(np.mean(t[good] < th)) if good.any() else 0.0
        caught = float(np.mean(t[~good] < th)) if (~good).any() else 0.0
        print(f"| {th} | {lost:.1%} | {caught:.1%} |")
    print("| ambiguity (top1 - top2 <) | correct lost | wrong caught |")
    for th in (0.02, 0.05, 0.1):
        m = t - s2
        print(f"| {th} | {float(np.mean(m[good] < th)):.1%} | "
              f"{float(np.mean(m[~good] < th)) if (~good).any() else 0.0:.1%} |")


def load(path: str) -> tuple[list[str], list[str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    msgs = [m for m in load_data(path).training_examples if m.get("text") and m.get("intent")]
    return ([m.get("text") for m in msgs],
            [m.get("intent_response_key") or m.get("intent") for m in msgs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/nlu")
    ap.add_argument("--holdout", default="tests/nlu/holdout.yml")
    ap.add_argument("--only", default=None, help="substring of a variant name")
    ap.add_argument("--fallback", action="store_true", help="threshold table only")
    args = ap.parse_args()
    x, y = load(args.data)
    if args.fallback:
        fallback_table(x, y)
        return
    hx, hy = load(args.holdout)
    print("| variant | CV accuracy (data) | hold-out accuracy | train s | predict ms/msg |")
    print("|---|---|---|---|---|")
    for name, cfg in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        cfg = {**BASE, **cfg}
        correct = 0
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            predict, _ = fit_predict(cfg, [x[i] for i in tr], [y[i] for i in tr])
            correct += sum(p == y[i] for p, i in zip(predict([x[i] for i in te]), te,
                                                      strict=True))
        predict, seconds = fit_predict(cfg, x, y)
        t0 = time.perf_counter()
        for t in hx[:200]:
            predict([t])
        per_msg = (time.perf_counter() - t0) / min(200, len(hx)) * 1000
        acc = float(np.mean([p == g for p, g in zip(predict(hx), hy, strict=True)]))
        print(f"| {name} | {correct / len(x):.1%} | {acc:.1%} | {seconds:.1f} | "
              f"{per_msg:.2f} |", flush=True)


if __name__ == "__main__":
    main()
