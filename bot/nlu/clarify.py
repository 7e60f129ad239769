"""When the assistant asks "which of these did you mean?" instead of acting on its guess.

The rule (one place: `asks`, used by the graph component below and by
scripts/calibrate_clarify.py) looks at the confidences of the top two intents:

- the top one is below `threshold`, or
- the top two are closer than `ambiguity_threshold` (top1 - top2), or
- the second has at least `ratio_threshold` of the top one's confidence (top2 / top1).

The ratio catches a guess that is only twice as likely as the runner-up whatever the
absolute numbers (issue 12: "0.4 ahead of 0.2" is a guess, not an answer), which the
absolute difference cannot do without also asking when the answer is 0.8 vs 0.55.
The values are chosen by scripts/calibrate_clarify.py on cross-validation (docs/nlu.md).

`ClarifyFallbackClassifier` is Rasa's FallbackClassifier with the ratio added: it predicts
`nlu_fallback` (rules -> the two-stage fallback -> actions/fallback.py) exactly as Rasa
does, and keeps the ranking behind it for the buttons.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

RATIO_THRESHOLD_KEY = "ratio_threshold"


def asks(top: Any, second: Any, threshold: float, ambiguity: float, ratio: float) -> Any:
    """Whether to ask: a bool for floats, a bool array for numpy arrays of the top two
    confidences."""
    return (top < threshold) | (top - second < ambiguity) | (second >= ratio * top)


def top_two(message: Message) -> tuple[float, float]:
    """The confidences of the best and second-best intent (0 when there is none)."""
    top = float((message.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    ranking = message.get(INTENT_RANKING_KEY) or []
    second = float(ranking[1].get(PREDICTED_CONFIDENCE_KEY) or 0.0) if len(ranking) > 1 else 0.0
    return top, second


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ClarifyFallbackClassifier(FallbackClassifier):
    """FallbackClassifier plus the top2/top1 ratio rule (see the module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # ratio 1.01: never (top2 <= top1), i.e. Rasa's own FallbackClassifier
        return {**FallbackClassifier.get_default_config(), RATIO_THRESHOLD_KEY: 1.01}

    def _should_fallback(self, message: Message) -> bool:
        if (message.get(INTENT) or {}).get("name") is None:
            return True  # an empty message: nothing to act on
        cfg = {**self.get_default_config(), **self.component_config}
        top, second = top_two(message)
        return bool(asks(top, second, cfg["threshold"], cfg["ambiguity_threshold"],
                         cfg[RATIO_THRESHOLD_KEY]))
