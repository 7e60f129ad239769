"""Graph component: syllable tokens over the ORIGINAL text, lemma = folded normal form.

Offsets stay those of what the customer typed (entity spans keep working); featurisers
that read lemmas (CountVectorsFeaturizer with use_lemma, the default) see the folded,
teencode-expanded form, so "huy dv" and "hủy dịch vụ" produce the same features.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalize import folded_features_text, load_teencode, normalize_token


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class VietnameseTokenizer(WhitespaceTokenizer):
    """Whitespace tokenizer whose token lemmas are normalised and diacritic-free.

    mode: "rasa" (Rasa's whitespace rules: punctuation stripped) or "split" (plain
    str.split, one token per space-separated word; used by the benchmark runner whose
    tags are given per space-separated token).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "mode": "rasa",
                "teencode_file": None}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.mode = self._config.get("mode", "rasa")
        self.teencode = load_teencode(self._config.get("teencode_file"))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        if self.mode == "split":
            text = message.get(attribute)
            words = text.split() or [text]
            tokens = self._convert_words_to_tokens(words, text)
        else:
            tokens = super().tokenize(message, attribute)
        for token in tokens:
            token.lemma = folded_features_text(normalize_token(token.text, self.teencode))
        return tokens
