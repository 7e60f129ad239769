"""Text a person reads, from where it is edited: never from a Python literal.

Customer text lives in the dialogue domain (domain.yml, `responses`), where the
conversation designers edit it; Python code that talks to a customer itself (the channels'
notices, the hand-off, labels the actions put into a response) takes it from there:

    text("utter_channel_error", channel="zalo")          # -> the filled text
    text("utter_handoff_opened", ticket_id=17)
    response("utter_contact_prompt", channel="telegram_ptb")   # the whole variation
    has_response("utter_intent_label_find_store")

The domain is read once per process through Rasa's own loader (`Domain.load`), from
`bot.settings.domain_file()` (BOT_DOMAIN, the repository's domain.yml by default). A
response may have channel variations (`channel: telegram_ptb`): the variation for the
given Rasa channel name is chosen when there is one, else the first variation for every
channel, as Rasa chooses (`ResponseVariationFilter`), but never at random: the first one,
or with `after=` the one after the variation said last time (bot/nlg.py). `{variables}`
are filled as Rasa fills them (`rasa.core.nlg.interpolator`) from the operator profile
(`bot.brand.response_variables`: {brand}, {hotline}, ...) and the given values.

Text for agents and operators (console labels, ticket summaries, CLI and lint messages)
is not customer text: it lives in YAML message files next to its code, read with
`Messages` (once per file and process).
"""

from __future__ import annotations

import copy
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import settings
from bot.brand import response_variables


@lru_cache(maxsize=4)
def _load_domain(path: str) -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(path)


def domain() -> Any:
    """The domain (`rasa.shared.core.domain.Domain`) of `bot.settings.domain_file()`."""
    return _load_domain(str(settings.domain_file()))


def responses() -> dict[str, list[dict[str, Any]]]:
    """Every response of the domain: name -> variations."""
    found: dict[str, list[dict[str, Any]]] = domain().responses
    return found


@cache
def slot_defaults() -> dict[str, str]:
    """Initial values of the domain's text slots ({customer_title} is "anh/chị" until the
    customer says how they call themselves): what a response rendered outside a
    conversation uses for them."""
    return {name: str(slot.initial_value) for name, slot in
            ((s.name, s) for s in domain().slots)
            if isinstance(slot.initial_value, str)}


def has_response(name: str) -> bool:
    return name in responses()


def response(name: str, channel: str | None = None, /, *, after: str | None = None,
             **values: Any) -> dict[str, Any]:
    """The variation of response `name` for the Rasa channel `channel` (the first one when
    the domain has none for it), a copy with its {variables} filled. `after`: the text this
    response had the last time it was said to this customer; the next variation is taken
    then, as the assistant's NLG does (bot/nlg.py). KeyError when the domain has no such
    response. (`name` and `channel` are positional: a response may have variables of
    these names.)"""
    from rasa.core.nlg.generator import ResponseVariationFilter
    from rasa.core.nlg.interpolator import interpolate

    from bot.nlg import following

    variations = responses()[name]
    suitable = ResponseVariationFilter({name: variations}).responses_for_utter_action(
        name, channel, {}) or variations
    chosen = copy.deepcopy(following(suitable, after))
    filled = {**slot_defaults(), **response_variables(),
              **{k: str(v) for k, v in values.items()}}
    for key in ("text", "buttons", "custom", "quick_replies"):
        if key in chosen:
            chosen[key] = interpolate(chosen[key], filled)
    return chosen


def text(name: str, channel: str | None = None, /, *, after: str | None = None,
         **values: Any) -> str:
    """The text of response `name` (see `response`), filled."""
    return str(response(name, channel, after=after, **values).get("text") or "")


def placeholders(template: str) -> list[str]:
    """The {names} a text expects."""
    return _PLACEHOLDER.findall(template)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _load_messages(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


class Messages:
    """A YAML file of texts for agents or operators, next to the code that shows them.

    Keys are dotted paths (`errors.not_found`); `{name}` placeholders are filled from the
    given values (a missing value is a KeyError); any other brace is kept as written."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def data(self) -> dict[str, Any]:
        return _load_messages(self.path)

    def raw(self, key: str) -> Any:
        node: Any = self.data()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{key} is not in {self.path}")
            node = node[part]
        return node

    def table(self, key: str) -> dict[str, str]:
        """A mapping of the file (code -> label), as a new dict."""
        return {str(k): str(v) for k, v in self.raw(key).items()}

    def __call__(self, key: str, /, **values: Any) -> str:
        template = str(self.raw(key))
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
