"""A learned entity recogniser on spaCy 3.4 (blank, trained here; no downloaded weights).

Pure spaCy/thinc code, no Rasa: `bot.nlu.learned_entities` wraps it as a graph component
and `bot nlu benchmark` uses it through that component.

Input: our own tokens (syllables of the original text, as `VietnameseTokenizer` or the
benchmark's plain split gives them), the predicted intent and the list tags of the rules;
spaCy's tokenizer is never used (docs are built from the words).

Features, one hash-embedding table each (`features` in the config):

- `norm`: the token normalised, diacritics kept (lower case, tone placement, squeezed
  repeats, teencode expanded: bot.nlu.normalize.normalize_token);
- `folded`: the same without diacritics, digits reduced to their shape ("0000");
- `prefix` / `suffix`: first / last 3 characters of `norm` (onset, rhyme + tone);
- `shape`: spaCy's shape of the token as typed ("Xxx", "dddd");
- `list`: B-/I- tag of a list match (gazetteer, catalog, numbers of the rules, or a
  lexicon of the training data), "O" otherwise;
- `intent`: the intent of the message (gold when training, predicted when parsing; with
  `intent_dropout` some training messages get "?" so a wrong or missing intent hurts less).

Encoder: spaCy's residual CNN (MaxoutWindowEncoder: `width`, `depth`, `window`).
Decoder (`decoder`): "ner" = spaCy's transition-based EntityRecognizer (BILUO moves,
always well-formed spans) or "tagger" = per-token softmax over "bio" or "biluo" tags.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu.span_extender import SpanExtender

FEATURES_KEY = "bot_features"
ALL_FEATURES = ("norm", "folded", "prefix", "suffix", "shape", "list", "intent")

DEFAULTS: dict[str, Any] = {
    "decoder": "ner",  # "ner" (transition-based, BILUO moves) or "tagger"
    "tags": "bio",  # tagger only: "bio" or "biluo"
    "width": 128,
    "depth": 4,
    # tokens on each side that each CNN layer sees (4 layers, window 1: 4 on each side)
    "window": 1,
    "maxout_pieces": 3,
    # "mean": each token also sees the mean of the sentence's vectors (after the CNN),
    # residual; "none": the CNN's window only
    "context": "none",
    # layers of a bidirectional LSTM (thinc's own, CPU) after the CNN; 0: none
    "lstm_depth": 0,
    "hidden_width": 64,  # ner only: the transition model's hidden layer
    "rows": 5000,  # rows of each hash-embedding table
    "features": list(ALL_FEATURES),
    "epochs": 10,
    # at least this many updates, whatever the data size: small training sets (a new slot,
    # the benchmark sample) get more epochs; PhoATIS and our data have far more already
    "min_updates": 300,
    "dropout": 0.3,
    "batch_size": [32, 128],  # compounding from the first to the second
    "learn_rate": 0.001,
    "use_averages": True,
    "intent_dropout": 0.1,
    # share of training messages (drawn again each epoch) whose list tags are hidden:
    # without it the model trusts the lists alone and never finds what they miss
    "list_dropout": 0.3,
    # words seen fewer than `min_word_count` times in training are UNKNOWN (at run time
    # too: unseen words get the trained UNKNOWN row, not a mix of other words' rows), and
    # each epoch this share of training tokens is made UNKNOWN: the model learns to find
    # names it has never seen from their context, affixes and shape
    "min_word_count": 1,
    "word_dropout": 0.1,
    "seed": 42,
    # list feature from the training data: the entity texts seen in training, tagged with
    # their type (the label after its last "."); training messages get a lexicon built
    # from the other `lexicon_folds` folds, so the feature is as incomplete as at run time
    "lexicon": True,
    "lexicon_folds": 5,
    # labels "role.type" ("fromloc.city_name"): "relabel" = the NER predicts the full
    # label, then the role model re-predicts the role; "split" = the NER learns types
    # only and the role model adds the role; "none" = the NER's label as it is
    "roles": "relabel",
    # "crf": SpanRoleCRF, all the spans of a sentence together; "linear": RoleClassifier,
    # one span at a time
    "role_model": "crf",
    "role_window": 12,
    # SpanRoleCRF's labels: "direction" (arrive/depart/fromloc/..., shared by every type)
    # or "full" (one CRF label per full label)
    "role_labels": "direction",
    # second pass on the span boundaries: bot.nlu.span_extender.SpanExtender extends a
    # span by the next token(s) where that token belongs to it ("ninh" -> "ninh ba")
    "extend_spans": True,
    # NERs trained with seeds seed, seed + 1, ...; a span is kept when more than half of
    # them find it (same boundaries and type). One NER's spans move by +-0.5 slot F1 from
    # run to run on PhoATIS; the vote of three is steadier and better (docs/nlu.md)
    "ensemble": 3,
    # processes training the ensemble's NERs at the same time (1: one after the other)
    "ensemble_processes": 2,
}


@dataclass
class Sample:
    """One message: its tokens, and what is known about it."""

    words: list[str]
    spaces: list[bool] | None = None
    intent: str | None = None
    lists: list[str] | None = None  # per-token list tag ("B-location", "O", ...)
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # token [start, end)


# --------------------------------------------------------------------------- features
def _shape(word: str) -> str:
    from spacy.lang.lex_attrs import word_shape

    return word_shape(word)


UNKNOWN = "<unk>"
WORD_FEATURES = ("norm", "folded")  # what `vocabulary` and `word_dropout` apply to


def token_strings(sample: Sample, features: Sequence[str], teencode: dict[str, str],
                  intent: str | None,
                  vocabulary: frozenset[str] | None = None) -> list[list[str]]:
    """Per token, the string value of each feature column. A normal or folded form
    outside `vocabulary` (those of the training words) is UNKNOWN; affixes and shape
    stay."""
    from bot.nlu.normalize import folded_features_text, normalize_token

    def known(form: str) -> str:
        return form if vocabulary is None or form in vocabulary else UNKNOWN

    rows = []
    for i, word in enumerate(sample.words):
        norm = normalize_token(word, teencode)
        row = []
        for name in features:
            if name == "norm":
                row.append(known(norm))
            elif name == "folded":
                row.append(known(folded_features_text(norm)))
            elif name == "prefix":
                row.append(norm[:3])
            elif name == "suffix":
                row.append(norm[-3:])
            elif name == "shape":
                row.append(_shape(word))
            elif name == "list":
                row.append(sample.lists[i] if sample.lists else "O")
            elif name == "intent":
                row.append(intent or "?")
            else:
                raise ValueError(f"unknown feature {name!r} (known: {ALL_FEATURES})")
        rows.append(row)
    return rows


def feature_array(sample: Sample, features: Sequence[str], teencode: dict[str, str],
                  intent: str | None, vocabulary: frozenset[str] | None = None) -> np.ndarray:
    from spacy.strings import hash_string  # type: ignore[attr-defined]  # Cython, no stub

    strings = token_strings(sample, features, teencode, intent, vocabulary)
    arr = np.zeros((len(sample.words), max(1, len(features))), dtype="uint64")
    for i, row in enumerate(strings):
        for j, value in enumerate(row):
            arr[i, j] = hash_string(str(value))
    return arr


# --------------------------------------------------------------------------- lexicon
def lexicon_key(words: Sequence[str]) -> str:
    from bot.nlu.entities import alias_key

    return alias_key(" ".join(words))


class Lexicon:
    """Entity texts of the training data -> type; tags token windows, longest first."""

    max_words = 8

    def __init__(self, entries: dict[str, str] | None = None) -> None:
        self.entries = dict(entries or {})

    @classmethod
    def from_samples(cls, samples: Iterable[Sample]) -> Lexicon:
        from collections import Counter

        counts: dict[str, Counter[str]] = {}
        for s in samples:
            for start, end, label in s.spans:
                key = lexicon_key(s.words[start:end])
                if key:
                    counts.setdefault(key, Counter())[label.rsplit(".", 1)[-1]] += 1
        return cls({k: c.most_common(1)[0][0] for k, c in counts.items()})

    def tag(self, words: Sequence[str], tags: Sequence[str] | None = None) -> list[str]:
        """B-/I- tags of lexicon matches where `tags` (e.g. the rules') say "O"."""
        out = list(tags) if tags is not None else ["O"] * len(words)
        keys = [lexicon_key([w]) for w in words]
        i = 0
        while i < len(words):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                if any(t != "O" for t in out[i:i + n]) or not all(keys[i:i + n]):
                    continue
                label = self.entries.get(" ".join(keys[i:i + n]))
                if label is not None:
                    out[i:i + n] = [f"B-{label}"] + [f"I-{label}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        return out


def with_lexicon(samples: Sequence[Sample], lexicon: Lexicon) -> list[Sample]:
    return [Sample(s.words, s.spaces, s.intent, lexicon.tag(s.words, s.lists), s.spans)
            for s in samples]


def jackknife_lexicon(samples: Sequence[Sample], folds: int, seed: int) -> list[Sample]:
    """Each sample tagged with a lexicon built from the other folds."""
    if folds < 2:
        return with_lexicon(samples, Lexicon.from_samples(samples))
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    fold_of = {idx: n % folds for n, idx in enumerate(order)}
    out: list[Sample | None] = [None] * len(samples)
    for k in range(folds):
        lex = Lexicon.from_samples(s for i, s in enumerate(samples) if fold_of[i] != k)
        for i, s in enumerate(samples):
            if fold_of[i] == k:
                out[i] = Sample(s.words, s.spaces, s.intent, lex.tag(s.words, s.lists), s.spans)
    return [s for s in out if s is not None]


# --------------------------------------------------------------------------- roles
def base_label(label: str) -> str:
    """'fromloc.city_name' -> 'city_name': the type; the part before the dot is its role."""
    return label.rsplit(".", 1)[-1]


def role_direction(label: str) -> str:
    """'arrive_date.day_name' -> 'arrive', 'fromloc.city_name' -> 'fromloc', a label
    without a role -> '-'."""
    if "." not in label:
        return "-"
    return label.rsplit(".", 1)[0].split("_", 1)[0]


def _role_words(words: Sequence[str], forms: str) -> list[str]:
    from bot.nlu.entities import alias_key
    from bot.nlu.normalize import normalize_token

    if forms == "folded":
        return [alias_key(x) or x.lower() for x in words]
    return [normalize_token(x, {}) for x in words]


def _near_features(f: dict[str, float], w: Sequence[str], a: int, b: int, window: int,
                   bag: bool = False) -> None:
    """The 1-3 words on each side of the span [a, b), and the words up to `window` tokens
    to its left in distance buckets (near / middle / far), with bigrams."""
    for i in range(1, 4):
        f[f"L{i}={w[a - i] if a - i >= 0 else '<s>'}"] = 1.0
        f[f"R{i}={w[b - 1 + i] if b - 1 + i < len(w) else '</s>'}"] = 1.0
    for j in range(max(0, a - window), a):
        d = a - j
        bucket = "n" if d <= 3 else ("m" if d <= 7 else "f")
        f[f"L{bucket}={w[j]}"] = 1.0
        if bag:
            f[f"Lbag={w[j]}"] = 1.0
        if j > 0:
            f[f"L{bucket}2={w[j - 1]}_{w[j]}"] = 1.0


class RoleClassifier:
    """Re-labels a span among the labels that share its type ("fromloc.city_name" vs
    "toloc.city_name"), from the words around it: logistic regression per type over the
    1-3 words on each side, the words up to `window` tokens to the left (in distance
    buckets, with bigrams), a few to the right, the span's words, the intent, and the
    labels of the spans before it. One span at a time (`role_model: linear`); the
    default is `SpanRoleCRF`, which decides all the spans of a sentence together."""

    def __init__(self, window: int = 12, c: float = 5.0, forms: str = "norm") -> None:
        self.window = window
        self.c = c
        self.forms = forms  # word form of the features: "norm" (diacritics kept) or "folded"
        self.models: dict[str, Any] = {}  # type -> (DictVectorizer, LogisticRegression)

    def features(self, words: Sequence[str], spans: Sequence[tuple[int, int, str]], k: int,
                 intent: str | None) -> dict[str, float]:
        w = _role_words(words, self.forms)
        a, b, label = spans[k]
        f: dict[str, float] = {f"intent={intent or '?'}": 1.0}
        _near_features(f, w, a, b, self.window, bag=True)
        for j in range(b, min(len(w), b + 7)):
            f[f"Rbag={w[j]}"] = 1.0
        for x in w[a:b]:
            f[f"in={x}"] = 1.0
        f["first" if k == 0 else "later"] = 1.0
        if k:
            f[f"prev={spans[k - 1][2]}"] = 1.0
            same = [s[2] for s in spans[:k] if base_label(s[2]) == base_label(label)]
            f[f"n_same={min(len(same), 3)}"] = 1.0
            if same:
                f[f"prev_same={same[-1]}"] = 1.0
        return f

    def fit(self, samples: Sequence[Sample]) -> RoleClassifier:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        rows: dict[str, tuple[list[dict[str, float]], list[str]]] = {}
        for s in samples:
            spans = sorted(s.spans)
            for k, (_, _, label) in enumerate(spans):
                x, y = rows.setdefault(base_label(label), ([], []))
                x.append(self.features(s.words, spans, k, s.intent))
                y.append(label)
        for typ, (x, y) in rows.items():
            if len(set(y)) < 2:
                continue
            vec = DictVectorizer()
            model = LogisticRegression(C=self.c, max_iter=2000)
            model.fit(vec.fit_transform(x), y)
            self.models[typ] = (vec, model)
        return self

    @property
    def trained(self) -> bool:
        return bool(self.models)

    def relabel(self, words: Sequence[str], spans: Sequence[tuple[int, int, str]],
                intent: str | None) -> list[tuple[int, int, str]]:
        """The spans, left to right, each with its role re-predicted (labels of the
        spans before it as re-predicted)."""
        out = sorted(spans)
        for k, (a, b, label) in enumerate(out):
            found = self.models.get(base_label(label))
            if found is None:
                continue
            vec, model = found
            out[k] = (a, b, str(model.predict(vec.transform(
                [self.features(words, out, k, intent)]))[0]))
        return out


class SpanRoleCRF:
    """Roles decided over the whole sentence: a linear-chain CRF (crfsuite) whose sequence
    is the sentence's spans, left to right. Its labels (`labels`):

    - "direction" (default): the role's direction, shared by every type: "arrive" for
      arrive_date.* and arrive_time.*, "depart", "return", "fromloc", "toloc", "stoploc",
      "-" for a label without a role. What tells a direction ("hạ cánh vào ...", "và đến
      X vào ...") is learned once for all the types instead of once per full label (each
      of arrive_date.day_number, arrive_date.month_name, arrive_time.time ... had to learn
      it from its own few examples). The span's label is then its type's label of that
      direction (the best direction its type has, by the marginals);
    - "full": the full labels ("fromloc.city_name").

    Each span sees its type, its words, the 1-3 words on each side (also joined with its
    type), the words between it and the span before, the words up to `window` tokens to
    the left in distance buckets, every other word of the sentence (before / after it),
    the intent, how many spans of its type come before, and the types and left words of
    the two spans before it; the CRF's transitions learn which roles follow which
    ("fromloc" then "toloc", "depart" then "arrive"). A span keeps its type, so the NER's
    boundaries and types are never changed here."""

    def __init__(self, window: int = 12, c1: float = 0.05, c2: float = 0.01,
                 max_iterations: int = 150, labels: str = "direction") -> None:
        if labels not in ("direction", "full"):
            raise ValueError(f"labels must be 'direction' or 'full', not {labels!r}")
        self.window = window
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.labels = labels
        self.crf: Any = None
        self.types: frozenset[str] = frozenset()  # types with more than one label
        # type -> {CRF label: full label}, e.g. "day_name" -> {"arrive": "arrive_date.day_name"}
        self.label_of: dict[str, dict[str, str]] = {}

    def crf_label(self, label: str) -> str:
        """The CRF's label of a full label: itself, or its direction."""
        if getattr(self, "labels", "full") == "full":
            return label
        return role_direction(label)

    def features(self, words: Sequence[str], spans: Sequence[tuple[int, int, str]],
                 intent: str | None) -> list[dict[str, float]]:
        w = _role_words(words, "norm")

        def at(i: int) -> str:
            return w[i] if 0 <= i < len(w) else ("<s>" if i < 0 else "</s>")

        out = []
        for k, (a, b, label) in enumerate(spans):
            t = base_label(label)
            f: dict[str, float] = {"bias": 1.0, f"type={t}": 1.0,
                                   f"intent={intent or '?'}": 1.0,
                                   f"t|intent={t}|{intent or '?'}": 1.0,
                                   f"text={' '.join(w[a:b])}": 1.0,
                                   f"t|L12={t}|{at(a - 2)}_{at(a - 1)}": 1.0,
                                   f"start={at(0)}_{at(1)}": 1.0,
                                   "first" if k == 0 else "later": 1.0}
            for x in w[a:b]:
                f[f"in={x}"] = 1.0
            _near_features(f, w, a, b, self.window)
            for i in range(1, 4):
                f[f"t|L{i}={t}|{at(a - i)}"] = 1.0
            for j in range(spans[k - 1][1] if k else 0, a):
                f[f"gap={w[j]}"] = 1.0
                f[f"t|gap={t}|{w[j]}"] = 1.0
            for j in range(b, min(len(w), b + 7)):
                f[f"Rbag={w[j]}"] = 1.0
            for j, x in enumerate(w):
                if j < a or j >= b:
                    f[f"S{'<' if j < a else '>'}={x}"] = 1.0
            if k == len(spans) - 1:
                f["last"] = 1.0
            f[f"ntype={min(3, sum(base_label(s[2]) == t for s in spans))}"] = 1.0
            f[f"ktype={min(3, sum(base_label(s[2]) == t for s in spans[:k]))}"] = 1.0
            for q in range(max(0, k - 2), k):
                pa, _, pl = spans[q]
                d, pt = k - q, base_label(pl)
                f[f"p{d}type={pt}"] = 1.0
                f[f"t|p{d}L1={t}|{pt}|{at(pa - 1)}"] = 1.0
                f[f"t|p{d}L12={t}|{pt}|{at(pa - 2)}_{at(pa - 1)}"] = 1.0
            if k + 1 < len(spans):
                na, _, nl = spans[k + 1]
                f[f"t|n1L1={t}|{base_label(nl)}|{at(na - 1)}"] = 1.0
            out.append(f)
        return out

    def fit(self, samples: Sequence[Sample]) -> SpanRoleCRF:
        import sklearn_crfsuite

        labels: dict[str, set[str]] = {}
        for s in samples:
            for _, _, label in s.spans:
                labels.setdefault(base_label(label), set()).add(label)
        self.types = frozenset(t for t, ls in labels.items() if len(ls) > 1)
        if not self.types:
            return self
        self.label_of = {t: {self.crf_label(label): label for label in sorted(ls)}
                         for t, ls in labels.items()}
        x, y = [], []
        for s in samples:
            spans = sorted(s.spans)
            if spans:
                x.append(self.features(s.words, spans, s.intent))
                y.append([self.crf_label(label) for _, _, label in spans])
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=self.c1, c2=self.c2,
                                        max_iterations=self.max_iterations,
                                        all_possible_transitions=True)
        self.crf.fit(x, y)
        return self

    @property
    def trained(self) -> bool:
        return self.crf is not None

    def relabel(self, words: Sequence[str], spans: Sequence[tuple[int, int, str]],
                intent: str | None) -> list[tuple[int, int, str]]:
        """The spans, left to right, with the best label of their own type."""
        out = sorted(spans)
        if self.crf is None or not any(base_label(s[2]) in self.types for s in out):
            return out
        x = self.features(words, out, intent)
        best = self.crf.predict_single(x)
        marginals = self.crf.predict_marginals_single(x)
        # models saved before `labels` existed predicted full labels
        label_of = getattr(self, "label_of", None) or {}
        for k, ((a, b, label), y, m) in enumerate(zip(out, best, marginals, strict=True)):
            typ = base_label(label)
            if typ not in self.types:
                continue
            options = label_of.get(typ) or {lab: lab for lab in m if base_label(lab) == typ}
            if y not in options:  # the best sequence gives this span a label its type lacks
                y = max((lab for lab in options if lab in m), key=lambda lab: m[lab],
                        default=None)
            out[k] = (a, b, options[y] if y is not None else label)
        return out


# --------------------------------------------------------------------------- model
def _register() -> None:
    """Register our spaCy architecture (idempotent; needed before loading a model)."""
    from spacy.util import registry

    if "bot.VietTok2Vec.v1" in registry.architectures:
        return
    registry.architectures.register("bot.VietTok2Vec.v1", func=viet_tok2vec)


def _extract_forward(model: Any, docs: list[Any], is_train: bool) -> tuple[list[Any], Callable]:
    out = []
    for doc in docs:
        if hasattr(doc, "user_data"):
            arr = doc.user_data[FEATURES_KEY]
        else:  # a Span
            arr = doc.doc.user_data[FEATURES_KEY][doc.start:doc.end]
        out.append(model.ops.asarray2i(arr, dtype="uint64"))
    return out, lambda d_features: []


def _context_forward(model: Any, xs: list[Any], is_train: bool) -> tuple[list[Any], Callable]:
    xp = model.ops.xp
    ys = [xp.hstack([x, xp.repeat(x.mean(axis=0, keepdims=True), x.shape[0], axis=0)])
          if x.shape[0] else xp.zeros((0, x.shape[1] * 2), dtype=x.dtype) for x in xs]

    def backprop(dys: list[Any]) -> list[Any]:
        dxs = []
        for dy, x in zip(dys, xs, strict=True):
            w = x.shape[1]
            n = max(1, x.shape[0])
            dxs.append(dy[:, :w] + dy[:, w:].sum(axis=0, keepdims=True) / n)
        return dxs

    return ys, backprop


def sentence_context(width: int) -> Any:
    """Residual: token vector + the sentence mean -> Maxout -> width."""
    from thinc.api import Maxout, Model, chain, residual, with_array

    return residual(chain(Model("sentence_context", _context_forward),
                          with_array(Maxout(width, width * 2, nP=3, dropout=0.0,
                                            normalize=True))))


def viet_tok2vec(width: int, depth: int, window_size: int, maxout_pieces: int,
                 n_features: int, rows: int, context: str = "none",
                 lstm_depth: int = 0) -> Any:
    """Hash embeddings of our precomputed feature columns + spaCy's residual CNN."""
    from spacy.ml.models.tok2vec import MaxoutWindowEncoder, build_Tok2Vec_model
    from thinc.api import (
        HashEmbed,
        Maxout,
        Model,
        chain,
        concatenate,
        list2ragged,
        ragged2list,
        with_array,
    )

    embeddings: list[Any] = [HashEmbed(width, rows, column=i, seed=8 + i, dropout=0.0)
                             for i in range(n_features)]
    embed: Any = chain(
        Model("viet_features", _extract_forward),
        list2ragged(),
        with_array(concatenate(*embeddings)),
        with_array(Maxout(width, width * n_features, nP=3, dropout=0.0, normalize=True)),
        ragged2list(),
    )
    encode = MaxoutWindowEncoder(width, window_size, maxout_pieces, depth)
    if context == "mean":
        from thinc.api import chain

        cnn = encode
        encode = chain(cnn, sentence_context(width))
        encode.set_dim("nO", width)
    elif context != "none":
        raise ValueError(f"context must be 'none' or 'mean', not {context!r}")
    if lstm_depth:
        from thinc.api import LSTM, chain, residual, with_padded

        cnn = encode
        encode = chain(cnn, residual(with_padded(LSTM(width, width, bi=True,
                                                      depth=lstm_depth))))
        encode.set_dim("nO", width)
    return build_Tok2Vec_model(embed, encode)


def build_nlp(cfg: dict[str, Any]) -> Any:
    import spacy

    _register()
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    tok2vec = {"@architectures": "bot.VietTok2Vec.v1", "width": cfg["width"],
               "depth": cfg["depth"], "window_size": cfg["window"],
               "maxout_pieces": cfg["maxout_pieces"],
               "n_features": max(1, len(cfg["features"])), "rows": cfg["rows"],
               "context": cfg["context"], "lstm_depth": cfg["lstm_depth"]}
    if cfg["decoder"] == "ner":
        nlp.add_pipe("ner", config={"model": {
            "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner",
            "extra_state_tokens": False, "hidden_width": cfg["hidden_width"],
            "maxout_pieces": 2, "use_upper": True, "nO": None, "tok2vec": tok2vec}})
    elif cfg["decoder"] == "tagger":
        nlp.add_pipe("tagger", config={"model": {
            "@architectures": "spacy.Tagger.v2", "nO": None, "normalize": False,
            "tok2vec": tok2vec}})
    else:
        raise ValueError(f"decoder must be 'ner' or 'tagger', not {cfg['decoder']!r}")
    return nlp


# --------------------------------------------------------------------------- tags
def spans_to_tags(n: int, spans: Iterable[tuple[int, int, str]], scheme: str) -> list[str]:
    tags = ["O"] * n
    for start, end, label in spans:
        if any(t != "O" for t in tags[start:end]):
            continue
        for i in range(start, end):
            if scheme == "biluo" and end - start == 1:
                prefix = "U"
            elif i == start:
                prefix = "B"
            elif scheme == "biluo" and i == end - 1:
                prefix = "L"
            else:
                prefix = "I"
            tags[i] = f"{prefix}-{label}"
    return tags


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO or BILUO tags -> spans; a stray I-/L- starts a span (as conlleval does)."""
    spans: list[tuple[int, int, str]] = []
    label, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = tag.partition("-")
        continues = prefix in ("I", "L") and typ == label
        if label is not None and not continues:
            spans.append((start, i, label))
            label = None
        if prefix in ("B", "I", "L", "U") and not continues:
            label, start = typ, i
        if prefix in ("L", "U") and label is not None:
            spans.append((start, i + 1, label))
            label = None
    return spans


# --------------------------------------------------------------------------- train / run
def training_epochs(n_examples: int, epochs: int, min_updates: int, lo: float,
                    hi: float) -> int:
    """`epochs`, or more when that many epochs of batches (compounding from `lo` to `hi`)
    would make fewer than `min_updates` updates."""
    from spacy.util import compounding, minibatch

    per_epoch = sum(1 for _ in minibatch(range(n_examples), size=compounding(lo, hi, 1.01)))
    if per_epoch == 0:
        return epochs
    return max(epochs, -(-min_updates // per_epoch))


class LearnedNER:
    """Trained spaCy pipelines (`members`: one, or an ensemble that votes) plus how to
    build their input docs and the second passes on their spans."""

    def __init__(self, cfg: dict[str, Any], teencode: dict[str, str] | None = None,
                 nlp: Any = None) -> None:
        from bot.nlu.normalize import load_teencode

        self.cfg = {**DEFAULTS, **cfg}
        self.teencode = load_teencode() if teencode is None else teencode
        self.members: list[Any] = [nlp] if nlp is not None else []
        self.lexicon: Lexicon | None = None
        self.roles: RoleClassifier | SpanRoleCRF | None = None
        self.extender: SpanExtender | None = None
        self.vocabulary: frozenset[str] | None = None

    @property
    def nlp(self) -> Any:
        """The first (or only) pipeline."""
        return self.members[0] if self.members else None

    def features(self, sample: Sample, intent: str | None = None) -> np.ndarray:
        return feature_array(sample, self.cfg["features"], self.teencode,
                             sample.intent if intent is None else intent, self.vocabulary)

    def make_doc(self, sample: Sample, intent: str | None = None, nlp: Any = None,
                 features: np.ndarray | None = None) -> Any:
        from spacy.tokens import Doc

        spaces = sample.spaces if sample.spaces is not None else [True] * len(sample.words)
        doc = Doc((nlp or self.nlp).vocab, words=sample.words, spaces=spaces)
        doc.user_data[FEATURES_KEY] = (self.features(sample, intent) if features is None
                                       else features)
        return doc

    def _example(self, sample: Sample, nlp: Any) -> Any:
        from spacy.tokens import Span
        from spacy.training import Example

        predicted = self.make_doc(sample, nlp=nlp)
        reference = self.make_doc(sample, nlp=nlp)
        if self.cfg["decoder"] == "ner":
            ents: list[Any] = []
            used: set[int] = set()
            for start, end, label in sorted(sample.spans):
                if used & set(range(start, end)):
                    continue
                used |= set(range(start, end))
                ents.append(Span(reference, start, end, label=label))
            reference.ents = ents
        else:
            for token, tag in zip(reference, spans_to_tags(len(sample.words), sample.spans,
                                                            self.cfg["tags"]), strict=True):
                token.tag_ = tag
        return Example(predicted, reference)

    def train(self, samples: Sequence[Sample], log: Callable[[str], None] | None = None,
              on_epoch: Callable[[int, LearnedNER], None] | None = None) -> LearnedNER:
        """Train from scratch: the second passes, then the `ensemble` NERs (in
        `ensemble_processes` processes at once). `on_epoch(epoch, self)` runs after each
        epoch with the averaged parameters in place (for learning curves; it makes the
        NERs train one after the other)."""
        cfg = self.cfg
        samples = [s for s in samples if s.words]
        self.extender = None
        if cfg["extend_spans"]:
            self.extender = SpanExtender(seed=cfg["seed"]).fit(samples)
            if not self.extender.trained:
                self.extender = None
        if cfg["roles"] in ("relabel", "split"):
            self.roles = (SpanRoleCRF(cfg["role_window"], labels=cfg["role_labels"])
                          if cfg["role_model"] == "crf"
                          else RoleClassifier(cfg["role_window"])).fit(samples)
            if not self.roles.trained:
                self.roles = None
            elif cfg["roles"] == "split":
                samples = [Sample(s.words, s.spaces, s.intent, s.lists,
                                  [(a, b, base_label(t)) for a, b, t in s.spans])
                           for s in samples]
        elif cfg["roles"] != "none":
            raise ValueError(f"roles must be 'relabel', 'split' or 'none', not {cfg['roles']!r}")
        if cfg["min_word_count"] > 0:
            from collections import Counter

            from bot.nlu.normalize import folded_features_text, normalize_token

            counts: Counter[str] = Counter()
            for s in samples:
                for w in s.words:
                    norm = normalize_token(w, self.teencode)
                    counts[norm] += 1
                    counts[folded_features_text(norm)] += 1
            self.vocabulary = frozenset(w for w, n in counts.items()
                                        if n >= cfg["min_word_count"])
        if cfg["lexicon"]:
            self.lexicon = Lexicon.from_samples(samples)
            samples = jackknife_lexicon(samples, cfg["lexicon_folds"], cfg["seed"])
        seeds = [cfg["seed"] + k for k in range(max(1, int(cfg["ensemble"])))]
        processes = min(len(seeds), max(1, int(cfg["ensemble_processes"])))
        if processes == 1 or on_epoch is not None:
            self.members = []
            for k, seed in enumerate(seeds):
                self.members.append(self._fit_pipeline(
                    samples, seed, _prefixed(log, f"NER {k + 1}/{len(seeds)}: ")
                    if len(seeds) > 1 else log, on_epoch))
        else:
            self.members = _train_in_processes(self, samples, seeds, processes, log)
        return self

    def _fit_pipeline(self, samples: Sequence[Sample], seed: int,
                      log: Callable[[str], None] | None = None,
                      on_epoch: Callable[[int, LearnedNER], None] | None = None) -> Any:
        """One NER trained on the prepared samples with this seed; returns its pipeline
        (averaged parameters)."""
        from spacy.strings import hash_string  # type: ignore[attr-defined]
        from spacy.util import compounding, fix_random_seed, minibatch
        from thinc.api import Adam

        cfg = self.cfg
        fix_random_seed(seed)
        rng = random.Random(seed)
        nlp = build_nlp(cfg)
        done = self.members
        self.members = [nlp]  # what on_epoch's predictions use
        examples = [self._example(s, nlp) for s in samples]
        nlp.initialize(lambda: examples)
        optimizer = Adam(learn_rate=cfg["learn_rate"], L2=1e-6, grad_clip=1.0,
                         use_averages=cfg["use_averages"])
        full = [eg.predicted.user_data[FEATURES_KEY] for eg in examples]
        features = list(cfg["features"])
        hidden = []  # (column, value when hidden, probability)
        if "intent" in features and cfg["intent_dropout"] > 0:
            hidden.append((features.index("intent"), hash_string("?"), cfg["intent_dropout"]))
        if "list" in features and cfg["list_dropout"] > 0:
            hidden.append((features.index("list"), hash_string("O"), cfg["list_dropout"]))
        word_cols = [features.index(f) for f in WORD_FEATURES if f in features]
        unknown = hash_string(UNKNOWN)
        token_rng = np.random.default_rng(seed)
        order = list(range(len(examples)))
        lo, hi = cfg["batch_size"]
        epochs = training_epochs(len(examples), cfg["epochs"], cfg["min_updates"], lo, hi)
        for epoch in range(epochs):
            t0 = time.perf_counter()
            rng.shuffle(order)
            if hidden or (word_cols and cfg["word_dropout"] > 0):
                for i, eg in enumerate(examples):
                    arr = full[i].copy()
                    for col, value, p in hidden:
                        if rng.random() < p:
                            arr[:, col] = value
                    if word_cols and cfg["word_dropout"] > 0:
                        drop = token_rng.random(arr.shape[0]) < cfg["word_dropout"]
                        for col in word_cols:
                            arr[drop, col] = unknown
                    eg.predicted.user_data[FEATURES_KEY] = arr
            losses: dict[str, float] = {}
            for batch in minibatch([examples[i] for i in order], size=compounding(lo, hi, 1.01)):
                nlp.update(batch, drop=cfg["dropout"], sgd=optimizer, losses=losses)
            if log:
                log(f"epoch {epoch + 1}/{epochs}: loss "
                    f"{sum(losses.values()):.1f} ({time.perf_counter() - t0:.1f} s)")
            if on_epoch is not None:
                for i, eg in enumerate(examples):
                    eg.predicted.user_data[FEATURES_KEY] = full[i]
                if cfg["use_averages"]:
                    with nlp.use_params(optimizer.averages):
                        on_epoch(epoch + 1, self)
                else:
                    on_epoch(epoch + 1, self)
        for i, eg in enumerate(examples):
            eg.predicted.user_data[FEATURES_KEY] = full[i]
        if cfg["use_averages"]:
            # the averaged parameters generalise better than the last ones
            with nlp.use_params(optimizer.averages):
                nlp = _frozen_copy(nlp)
        self.members = done
        return nlp

    def predict(self, samples: Sequence[Sample],
                intents: Sequence[str | None] | None = None) -> list[list[tuple[int, int, str]]]:
        """Token spans [start, end) with their label, per sample."""
        assert self.members, "not trained"
        out: list[list[tuple[int, int, str]]] = []
        todo = [(i, s) for i, s in enumerate(samples) if s.words]
        if self.lexicon is not None:
            todo = [(i, Sample(s.words, s.spaces, s.intent, self.lexicon.tag(s.words, s.lists)))
                    for i, s in todo]
        arrays = [self.features(s, intents[i] if intents is not None else None)
                  for i, s in todo]
        votes: list[list[list[tuple[int, int, str]]]] = [[] for _ in todo]
        for nlp in self.members:
            docs = [self.make_doc(s, nlp=nlp, features=arr)
                    for (_, s), arr in zip(todo, arrays, strict=True)]
            for _, proc in nlp.pipeline:
                docs = list(proc.pipe(docs))
            for k, ((_, sample), doc) in enumerate(zip(todo, docs, strict=True)):
                if self.cfg["decoder"] == "ner":
                    spans = [(e.start, e.end, e.label_) for e in doc.ents]
                else:
                    spans = tags_to_spans([t.tag_ for t in doc])
                if self.extender is not None and spans:
                    spans = self.extender.extend(sample.words, spans)
                votes[k].append(spans)
        found: dict[int, list[tuple[int, int, str]]] = {}
        for (i, sample), member_spans in zip(todo, votes, strict=True):
            found[i] = vote(member_spans)
            if self.roles is not None and found[i]:
                intent = intents[i] if intents is not None else sample.intent
                found[i] = self.roles.relabel(sample.words, found[i], intent)
        for i in range(len(samples)):
            out.append(found.get(i, []))
        return out

    def to_disk(self, path: Path) -> None:
        import json

        assert self.members, "not trained"
        path.mkdir(parents=True, exist_ok=True)
        for k, nlp in enumerate(self.members):
            nlp.to_disk(path / ("spacy" if k == 0 else f"spacy_{k}"))
        if self.roles is not None:
            import joblib

            joblib.dump(self.roles, path / "roles.joblib")
        if self.extender is not None:
            import joblib

            joblib.dump(self.extender, path / "extender.joblib")
        (path / "learned_ner.json").write_text(json.dumps(
            {"config": self.cfg, "lexicon": self.lexicon.entries if self.lexicon else None,
             "vocabulary": sorted(self.vocabulary) if self.vocabulary is not None else None},
            ensure_ascii=False), encoding="utf-8")

    @classmethod
    def from_disk(cls, path: Path, teencode: dict[str, str] | None = None) -> LearnedNER:
        import json

        import spacy

        _register()
        state = json.loads((path / "learned_ner.json").read_text(encoding="utf-8"))
        nlp = spacy.load(path / "spacy")
        ner = cls(state["config"], teencode, nlp)
        k = 1
        while (path / f"spacy_{k}").is_dir():
            ner.members.append(spacy.load(path / f"spacy_{k}"))
            k += 1
        if state.get("lexicon") is not None:
            ner.lexicon = Lexicon(state["lexicon"])
        if state.get("vocabulary") is not None:
            ner.vocabulary = frozenset(state["vocabulary"])
        if (path / "roles.joblib").exists():
            import joblib

            # our own file, written by to_disk() when this model was trained
            ner.roles = joblib.load(path / "roles.joblib")
        if (path / "extender.joblib").exists():
            import joblib

            # our own file, written by to_disk() when this model was trained
            ner.extender = joblib.load(path / "extender.joblib")
        return ner


def _prefixed(log: Callable[[str], None] | None, prefix: str
              ) -> Callable[[str], None] | None:
    if log is None:
        return None
    return lambda message: log(prefix + message)


def vote(member_spans: Sequence[Sequence[tuple[int, int, str]]]
         ) -> list[tuple[int, int, str]]:
    """The spans that more than half of the members found (same boundaries and type),
    most votes first where two overlap; a span's label is that of the first member that
    found it. One member: its spans."""
    from collections import Counter

    counts: Counter[tuple[int, int, str]] = Counter()
    label: dict[tuple[int, int, str], str] = {}
    for spans in member_spans:
        for a, b, t in spans:
            key = (a, b, base_label(t))
            counts[key] += 1
            label.setdefault(key, t)
    kept: list[tuple[int, int, str]] = []
    used: set[int] = set()
    for (a, b, t), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if 2 * n > len(member_spans) and not used & set(range(a, b)):
            kept.append((a, b, label[(a, b, t)]))
            used |= set(range(a, b))
    return sorted(kept)


def _train_member(cfg: dict[str, Any], teencode: dict[str, str],
                  vocabulary: frozenset[str] | None, samples: Sequence[Sample],
                  seed: int) -> tuple[str, bytes]:
    """In a worker process: one ensemble member, as (config, bytes)."""
    ner = LearnedNER(cfg, teencode)
    ner.vocabulary = vocabulary
    nlp = ner._fit_pipeline(samples, seed)
    return nlp.config.to_str(), nlp.to_bytes()


def _train_in_processes(ner: LearnedNER, samples: Sequence[Sample], seeds: Sequence[int],
                        processes: int, log: Callable[[str], None] | None) -> list[Any]:
    """The ensemble's NERs trained in `processes` fresh processes (spawned: the parent may
    hold TensorFlow's threads, which do not survive a fork), in seed order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import spacy
    from thinc.api import Config

    _register()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(_train_member, ner.cfg, ner.teencode, ner.vocabulary,
                               list(samples), seed) for seed in seeds]
        members = []
        for k, future in enumerate(futures):
            config, data = future.result()
            members.append(spacy.blank("vi", config=Config().from_str(config))
                           .from_bytes(data))
            if log:
                log(f"NER {k + 1}/{len(seeds)} trained")
    return members


def _frozen_copy(nlp: Any) -> Any:
    """A copy of the pipeline with its current (e.g. averaged) parameters."""
    import spacy

    _register()
    data = nlp.to_bytes()
    copy = spacy.blank("vi", config=nlp.config)
    return copy.from_bytes(data)
