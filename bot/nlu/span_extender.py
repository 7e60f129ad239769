"""Second pass on the NER's span boundaries: extend a span by the tokens after it.

The transition-based NER tends to stop a name it has never seen after its first syllable
when the next syllable is a word it knows on its own ("ninh" for "ninh ba", "tây" for
"tây an", "thành phố tây" for "thành phố tây an"). `SpanExtender` decides, token by token,
whether the token after a span belongs to it: a logistic regression over the span's type
and last word, the next two words, and how the training data uses them (how often the
next word is inside a span, how often a span ends just before the next words).

Training needs no NER output: every annotated span of two or more tokens, cut before its
last token, is an example of "extend", and every annotated span followed by a token
outside it is an example of "stop". The word statistics of each example are counted on
the other folds of the training data (jackknife), so a word's own spans do not vouch
for it, as at run time for an unseen name. A span never grows into the next span.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any


def _words(words: Sequence[str]) -> list[str]:
    from bot.nlu.spacy_ner import _role_words

    return _role_words(words, "norm")


def base_type(label: str) -> str:
    from bot.nlu.spacy_ner import base_label

    return base_label(label)


class WordStats:
    """How the training data uses each word: in total, inside a span, right after a span."""

    def __init__(self, samples: Sequence[Any]) -> None:
        self.total: Counter[str] = Counter()
        self.inside: Counter[str] = Counter()
        self.after: Counter[str] = Counter()
        for s in samples:
            w = _words(s.words)
            covered = [False] * len(w)
            for a, b, _ in s.spans:
                covered[a:b] = [True] * (b - a)
                self.after[w[b] if b < len(w) else "</s>"] += 1
            for word, inside in zip(w, covered, strict=True):
                self.total[word] += 1
                self.inside[word] += inside
        self.total["</s>"] += len(samples)

    def share(self, counter: Counter[str], word: str) -> str:
        """The share of the word's uses, in buckets: 0 / lo / mid / hi."""
        value = counter[word] / max(1, self.total[word])
        return "0" if value == 0 else ("lo" if value < 0.1 else ("mid" if value < 0.5 else "hi"))


class SpanExtender:
    """Extends spans to the right by at most `max_steps` tokens (see the module docstring)."""

    def __init__(self, c: float = 0.3, threshold: float = 0.7, folds: int = 5,
                 max_steps: int = 2, seed: int = 42) -> None:
        self.c = c
        self.threshold = threshold
        self.folds = folds
        self.max_steps = max_steps
        self.seed = seed
        self.stats: WordStats | None = None
        self.vectorizer: Any = None
        self.model: Any = None

    @staticmethod
    def features(w: Sequence[str], a: int, b: int, typ: str, stats: WordStats
                 ) -> dict[str, float]:
        """Should token `b` join the span [a, b) of type `typ`? (`w`: normalised words)"""
        def at(i: int) -> str:
            return w[i] if i < len(w) else "</s>"

        w1, w2 = at(b), at(b + 1)
        inside = stats.share(stats.inside, w1)
        return {"bias": 1.0, f"type={typ}": 1.0, f"last={w[b - 1]}": 1.0,
                f"w1={w1}": 1.0, f"w2={w2}": 1.0, f"t|w2={typ}|{w2}": 1.0,
                f"len={min(b - a, 4)}": 1.0, f"w1unseen={stats.total[w1] == 0}": 1.0,
                f"w1in={inside}": 1.0, f"t|w1in={typ}|{inside}": 1.0,
                f"w1after={stats.share(stats.after, w1)}": 1.0,
                f"w2after={stats.share(stats.after, w2)}": 1.0}

    def _examples(self, samples: Sequence[Any], stats: WordStats
                  ) -> tuple[list[dict[str, float]], list[int]]:
        x: list[dict[str, float]] = []
        y: list[int] = []
        for s in samples:
            w = _words(s.words)
            starts = {a for a, _, _ in s.spans}
            for a, b, label in s.spans:
                typ = base_type(label)
                if b - a >= 2:
                    x.append(self.features(w, a, b - 1, typ, stats))
                    y.append(1)
                if b < len(w) and b not in starts:
                    x.append(self.features(w, a, b, typ, stats))
                    y.append(0)
        return x, y

    def fit(self, samples: Sequence[Any]) -> SpanExtender:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        order = list(range(len(samples)))
        random.Random(self.seed).shuffle(order)
        fold_of = {idx: n % max(2, self.folds) for n, idx in enumerate(order)}
        x: list[dict[str, float]] = []
        y: list[int] = []
        for k in range(max(2, self.folds)):
            stats = WordStats([s for i, s in enumerate(samples) if fold_of[i] != k])
            fx, fy = self._examples([s for i, s in enumerate(samples) if fold_of[i] == k],
                                    stats)
            x += fx
            y += fy
        if len(set(y)) < 2:  # no multi-token span, or none followed by a word
            return self
        self.stats = WordStats(samples)
        self.vectorizer = DictVectorizer()
        self.model = LogisticRegression(C=self.c, max_iter=3000)
        self.model.fit(self.vectorizer.fit_transform(x), y)
        return self

    @property
    def trained(self) -> bool:
        return self.model is not None

    def extend(self, words: Sequence[str], spans: Sequence[tuple[int, int, str]]
               ) -> list[tuple[int, int, str]]:
        """The spans, left to right, each extended to the right where the model says so."""
        out = sorted(spans)
        if self.model is None or self.stats is None or not out:
            return out
        w = _words(words)
        for k, (a, b, label) in enumerate(out):
            limit = out[k + 1][0] if k + 1 < len(out) else len(w)
            for _ in range(self.max_steps):
                if b >= limit:
                    break
                x = self.vectorizer.transform([self.features(w, a, b, base_type(label),
                                                             self.stats)])
                if self.model.predict_proba(x)[0, 1] < self.threshold:
                    break
                b += 1
            out[k] = (a, b, label)
        return out
