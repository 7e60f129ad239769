"""Graph component: a spaCy NER trained on our syllable tokens (bot.nlu.spacy_ner).

It learns every entity type annotated in the training data (places, services, and any
slot an operator adds) from the tokens of `VietnameseTokenizer`, their normalised and
folded forms, the list tags of the rules (gazetteer, catalog, numbers: `rule_lists`), a
lexicon of the annotated spans and the intent predicted before it. Persisted with the
model (spaCy's own files), loaded in well under a second.

Output (`add_to_entities`):
- true: its spans are added to the message's entities, value as typed (the benchmark,
  or a pipeline without our rule extractor);
- false: its spans go to the `learned_entities` attribute only, and
  `VietnameseEntityExtractor` merges them with the rules (numbers stay the rules';
  services are mapped to catalog codes, places keep the typed text).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import spacy_ner
from bot.nlu.normalize import load_teencode

logger = logging.getLogger(__name__)

LEARNED_ENTITIES = "learned_entities"
_DIR = "learned_ner"


def token_spans(tokens: list[Token], start: int, end: int) -> tuple[int, int] | None:
    """[first, last + 1) of the tokens a character span [start, end) touches."""
    inside = [i for i, t in enumerate(tokens) if t.end > start and t.start < end]
    return (inside[0], inside[-1] + 1) if inside else None


def rule_list_tags(text: str, tokens: list[Token]) -> list[str]:
    """B-/I- tags of what the rules find with the static lists only (gazetteer, catalog,
    number patterns): the `list` feature."""
    from bot.nlu.entities import extract_all

    tags = ["O"] * len(tokens)
    for ent in extract_all(text):
        span = token_spans(tokens, ent.start, ent.end)
        if span is None or any(t != "O" for t in tags[span[0]:span[1]]):
            continue
        a, b = span
        tags[a:b] = [f"B-{ent.entity}"] + [f"I-{ent.entity}"] * (b - a - 1)
    return tags


def intent_name(message: Message) -> str | None:
    intent = message.get(INTENT)
    if isinstance(intent, dict):
        return intent.get("name")
    return intent


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class LearnedEntityExtractor(GraphComponent, EntityExtractorMixin):
    """spaCy NER (blank, trained here) over syllable tokens; see the module docstring."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **spacy_ner.DEFAULTS,
            # entity types to learn; None: every type annotated in the training data
            "entities": None,
            # list feature from the rules' static lists (gazetteer, catalog, numbers)
            "rule_lists": True,
            "add_to_entities": True,
            "teencode_file": None,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource, ner: spacy_ner.LearnedNER | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.teencode = load_teencode(self.config["teencode_file"])
        self.ner = ner

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LearnedEntityExtractor:
        return cls(config, model_storage, resource)

    def _ner_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if k in spacy_ner.DEFAULTS}

    def sample(self, message: Message, with_spans: bool) -> spacy_ner.Sample | None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not isinstance(text, str) or not text.strip() or not tokens:
            return None
        spaces = [a.end < b.start for a, b in zip(tokens, tokens[1:], strict=False)] + [False]
        spans: list[tuple[int, int, str]] = []
        if with_spans:
            wanted = self.config["entities"]
            for ent in message.get(ENTITIES) or []:
                if wanted is not None and ent["entity"] not in wanted:
                    continue
                span = token_spans(tokens, ent["start"], ent["end"])
                if span is not None:
                    spans.append((span[0], span[1], ent["entity"]))
        lists = rule_list_tags(text, tokens) if self.config["rule_lists"] else None
        return spacy_ner.Sample([t.text for t in tokens], spaces, intent_name(message),
                                lists, spans)

    def train(self, training_data: TrainingData) -> Resource:
        if not training_data.entity_examples:
            logger.debug("LearnedEntityExtractor: no entity annotations, not trained.")
            return self._resource
        samples = [s for s in (self.sample(m, True) for m in training_data.intent_examples)
                   if s is not None]
        self.ner = spacy_ner.LearnedNER(self._ner_config(), self.teencode)
        self.ner.train(samples, log=logger.debug)
        with self._model_storage.write_to(self._resource) as model_dir:
            self.ner.to_disk(model_dir / _DIR)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LearnedEntityExtractor:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                if (model_dir / _DIR).exists():
                    component.ner = spacy_ner.LearnedNER.from_disk(model_dir / _DIR,
                                                                   component.teencode)
        except ValueError:
            logger.debug("LearnedEntityExtractor: no trained model (nothing to learn).")
        return component

    def predict(self, messages: list[Message]) -> list[list[dict[str, Any]]]:
        """Entities (character offsets in `text`, value as typed) per message."""
        out: list[list[dict[str, Any]]] = [[] for _ in messages]
        if self.ner is None:
            return out
        todo = [(i, s) for i, s in enumerate(self.sample(m, False) for m in messages)
                if s is not None]
        if not todo:
            return out
        found = self.ner.predict([s for _, s in todo], [s.intent for _, s in todo])
        for (i, _), spans in zip(todo, found, strict=True):
            text = messages[i].get(TEXT)
            tokens = messages[i].get(TOKENS_NAMES[TEXT])
            for a, b, label in spans:
                start, end = tokens[a].start, tokens[b - 1].end
                out[i].append({"entity": label, "start": start, "end": end,
                               "value": text[start:end], "extractor": self.name})
        return out

    def process(self, messages: list[Message]) -> list[Message]:
        for message, entities in zip(messages, self.predict(messages), strict=True):
            if self.config["add_to_entities"]:
                message.set(ENTITIES, message.get(ENTITIES, []) + entities,
                            add_to_output=True)
            else:
                message.set(LEARNED_ENTITIES, entities)
        return messages
