"""Graph component: normalises the message text before tokenisation, into new attributes.

The original `text` is never changed (entity offsets are annotated on it). Two attributes
are added for the featurisers: `text_norm` (normalised, diacritics kept) and `text_folded`
(normalised, diacritic-free, digits reduced to their shape).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalize import folded_features_text, load_teencode, normalize_text

TEXT_NORM = "text_norm"
TEXT_FOLDED = "text_folded"


def annotate(message: Message, teencode: dict[str, str]) -> None:
    """Set `text_norm` and `text_folded` on a message that has a text."""
    text = message.get(TEXT)
    if not isinstance(text, str) or not text:
        return
    norm = normalize_text(text, teencode)
    message.set(TEXT_NORM, norm)
    message.set(TEXT_FOLDED, folded_features_text(norm))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class VietnameseNormalizer(GraphComponent):
    """NFC, tone placement, squeezed repeats and teencode expansion -> text_norm."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # teencode_file: a YAML like bot/nlu/teencode.yml; None = the packaged one.
        return {"teencode_file": None}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}
        self.teencode = load_teencode(self._config["teencode_file"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseNormalizer:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            annotate(example, self.teencode)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            annotate(message, self.teencode)
        return messages
