"""Graph component: a linear intent classifier over sparse n-grams of the folded text.

Features (TF-IDF, sublinear tf) of `text_folded` (see bot.nlu.normalizer):
word 1-2-grams + char_wb n-grams, plus word unigrams of `text_norm` (diacritics kept, so
"bán" and "bạn" stay apart when the customer typed them). Optional: pyvi word segments.
Model: multinomial logistic regression (probabilities for the FallbackClassifier).
Trains in seconds on thousands of examples and parses in well under a millisecond.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.normalize import folded_features_text, load_teencode, normalize_text
from bot.nlu.normalizer import TEXT_FOLDED, TEXT_NORM, VietnameseNormalizer

logger = logging.getLogger(__name__)

_WORD_PATTERN = r"(?u)\b\w+\b|\?"
_MODEL_FILE = "linear_intent.joblib"


def _segment_pyvi(norm_text: str) -> str:
    from pyvi import ViTokenizer  # noqa: PLC0415 - optional, slow to import

    return ViTokenizer.tokenize(norm_text)


class IntentFeatures:
    """Fits and applies the sparse feature extractors (plain sklearn, picklable)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.use_pyvi = config["tokenization"] == "pyvi"
        self.word = TfidfVectorizer(token_pattern=_WORD_PATTERN,
                                    ngram_range=(1, config.get("word_ngram_max", 2)),
                                    sublinear_tf=True, min_df=1)
        char_range = config["char_ngram_range"]
        self.char = (TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_range),
                                     sublinear_tf=True, min_df=2) if char_range else None)
        self.accented = (TfidfVectorizer(token_pattern=_WORD_PATTERN, sublinear_tf=True)
                         if config["accented_words"] else None)
        self.segments = (TfidfVectorizer(token_pattern=r"(?u)[\w_]+", sublinear_tf=True)
                         if self.use_pyvi else None)

    def _views(self, folded: list[str], norm: list[str]) -> list[tuple[Any, list[str]]]:
        views: list[tuple[Any, list[str]]] = [(self.word, folded)]
        if self.char is not None:
            views.append((self.char, folded))
        if self.accented is not None:
            views.append((self.accented, norm))
        if self.segments is not None:
            views.append((self.segments, [folded_features_text(_segment_pyvi(t))
                                          for t in norm]))
        return views

    def fit_transform(self, folded: list[str], norm: list[str]) -> sp.csr_matrix:
        return sp.hstack([v.fit_transform(x) for v, x in self._views(folded, norm)]).tocsr()

    def transform(self, folded: list[str], norm: list[str]) -> sp.csr_matrix:
        return sp.hstack([v.transform(x) for v, x in self._views(folded, norm)]).tocsr()


def _texts(messages: list[Message], teencode: dict[str, str]) -> tuple[list[str], list[str]]:
    folded, norm = [], []
    for m in messages:
        n = m.get(TEXT_NORM)
        if n is None:  # normaliser not in the pipeline (or an empty message)
            n = normalize_text(m.get(TEXT) or "", teencode)
        norm.append(n)
        f = m.get(TEXT_FOLDED)
        folded.append(f if f is not None else folded_features_text(n))
    return folded, norm


def fast_layout(model: LogisticRegression | None) -> LogisticRegression | None:
    """The same model with its coefficients in column-major order: `predict_proba` multiplies
    the sparse features by `coef_.T`, which scipy copies into a contiguous array on every
    call when `coef_` is row-major (~0.3 ms a message); column-major, `coef_.T` already is.
    Same numbers, same sums in the same order: identical probabilities."""
    if model is not None and hasattr(model, "coef_"):
        model.coef_ = np.asfortranarray(model.coef_)
    return model


def label_of(example: Message, use_response_keys: bool) -> str:
    """The training label: the intent, or 'faq/xxx' for retrieval intents when asked."""
    if use_response_keys and example.get(INTENT_RESPONSE_KEY):
        return example.get(INTENT_RESPONSE_KEY)
    return example.get(INTENT)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    """Logistic regression over TF-IDF word + char n-grams of the normalised, folded text."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [VietnameseNormalizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 20.0,
            "max_iter": 2000,
            "char_ngram_range": [2, 5],
            "word_ngram_max": 2,
            # word unigrams with diacritics as typed (after normalisation)
            "accented_words": True,
            # "syllables" (default) or "pyvi" (adds pyvi word segments as features)
            "tokenization": "syllables",
            # learn faq/xxx as separate classes, report the summed 'faq' probability
            "use_response_keys": True,
            "class_weight": "balanced",
            "ranking_length": 10,
            "teencode_file": None,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.teencode = load_teencode(self.config["teencode_file"])
        self.features: IntentFeatures | None = None
        self.model: LogisticRegression | None = None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext,
               ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("LinearIntentClassifier: fewer than two intents, not trained.")
            return self._resource
        y = [label_of(e, self.config["use_response_keys"]) for e in examples]
        folded, norm = _texts(examples, self.teencode)
        self.features = IntentFeatures(self.config)
        x = self.features.fit_transform(folded, norm)
        self.model = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"],
                                        class_weight=self.config["class_weight"])
        self.model.fit(x, y)
        self.persist()
        fast_layout(self.model)
        return self._resource

    def predict_proba(self, messages: list[Message]) -> tuple[list[str], np.ndarray]:
        """Label names and probabilities (labels may be 'faq/xxx')."""
        assert self.features is not None and self.model is not None
        folded, norm = _texts(messages, self.teencode)
        return list(self.model.classes_), self.model.predict_proba(
            self.features.transform(folded, norm))

    def process(self, messages: list[Message]) -> list[Message]:
        todo = []
        for message in messages:
            text = message.get(TEXT)
            if self.model is not None and isinstance(text, str) and text.strip():
                todo.append(message)
            else:
                # Empty or blank message: no intent, confidence 0 (as Rasa's own classifiers
                # do), so the FallbackClassifier turns it into nlu_fallback.
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if not todo:
            return messages
        labels, probas = self.predict_proba(todo)
        for message, row in zip(todo, probas, strict=True):
            scores: dict[str, float] = {}
            for label, p in zip(labels, row, strict=True):
                name = label.split("/", 1)[0]
                scores[name] = scores.get(name, 0.0) + float(p)
            ranking = [{"name": k, "confidence": v}
                       for k, v in sorted(scores.items(), key=lambda kv: -kv[1])]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[: self.config["ranking_length"]],
                        add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            joblib.dump({"features": self.features, "model": self.model},
                        model_dir / _MODEL_FILE)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                # Our own file, written by persist() during training of this model.
                state = joblib.load(model_dir / _MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained model found.")
            return component
        component.features, component.model = state["features"], fast_layout(state["model"])
        return component
