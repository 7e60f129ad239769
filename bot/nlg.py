"""How a domain response becomes a message: Rasa's templated generator, but a response with
several variations never says the variation it said last time in this conversation.

Rasa picks a variation at random, so a re-ask ("nói lại giúp em", the code question, "not
understood") could come back word for word in consecutive turns. `VariedResponses` is the
NLG of the endpoints files (`nlg: type: bot.nlg.VariedResponses`, Rasa's documented way
to name a generator class). Among the variations suitable for the channel and the slots
(Rasa's `ResponseVariationFilter`), it takes the first one the first time, then each time
the one after the variation the response's last message in the conversation was made from
(its text with any values in the {variables}), in turn: never the same twice in a row,
and predictable for designers and tests. A response with one variation is rendered as
by Rasa.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import BotUttered

# Where Rasa records which domain response a bot message was (BotUttered metadata).
UTTER_KEY = "_".join(("utter", "action"))  # not a response name (tests/test_texts.py)


def last_text_of(tracker: Any, response: str) -> str | None:
    """The text of the latest message of `response` in the tracker's events, or None."""
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered) and (event.metadata or {}).get(UTTER_KEY) == response:
            return event.text
    return None


_VARIABLE = re.compile(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}")


@lru_cache(maxsize=2048)
def _pattern(template: str) -> re.Pattern[str]:
    """A template as a pattern: its {variables} match any text."""
    return re.compile(_VARIABLE.sub(lambda _: "(?s:.*?)", re.escape(template)), re.S)


def said_by(variation: dict[str, Any], text: str) -> bool:
    """Whether `text` is this variation filled with some values."""
    template = variation.get("text")
    return isinstance(template, str) and _pattern(template).fullmatch(text) is not None


def following(variations: list[dict[str, Any]], previous: str | None) -> dict[str, Any]:
    """The variation to say now: the first one, or the one after the variation `previous`
    (the response's last text in the conversation) was made from, in turn."""
    last = next((i for i, v in enumerate(variations)
                 if previous is not None and said_by(v, previous)), -1)
    return variations[(last + 1) % len(variations)]


class VariedResponses(TemplatedNaturalLanguageGenerator):
    """Rasa's templated NLG that does not repeat the variation said last time."""

    def __init__(self, endpoint_config: Any = None, domain: Any = None,
                 responses: dict[str, list[dict[str, Any]]] | None = None) -> None:
        if responses is None:
            responses = dict(domain.responses) if domain is not None else {}
        super().__init__(responses)

    async def generate(self, utter_action: str, tracker: Any, output_channel: str,
                       **kwargs: Any) -> dict[str, Any] | None:
        filled_slots = tracker.current_slot_values()
        suitable = ResponseVariationFilter(self.responses).responses_for_utter_action(
            utter_action, output_channel, filled_slots) if utter_action in self.responses \
            else []
        if not suitable:
            return None
        previous = last_text_of(tracker, utter_action) if len(suitable) > 1 else None
        chosen = following(suitable, previous)
        return self._fill_response(copy.deepcopy(chosen), filled_slots, **kwargs)
