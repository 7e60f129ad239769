"""Is this reply a clear yes? The one rule for every confirmation that changes something
for good: cancelling a service, activating a paid one, submitting personal data.

Only an explicit yes (a yes phrase and nothing that doubts, refuses, delays or asks) goes
ahead; a no, "keep it", "I changed my mind", a question or an unclear reply never does.
The phrases are in actions/confirmation.yml (designers edit them), matched on the
teencode-expanded text, with diacritics when the customer typed them and without
otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from rasa_sdk import Tracker

from actions.common import answering_now, latest_intent
from bot.nlu.normalize import normalize_text
from bot.text import fold, normalize_tone_placement

PHRASES_FILE = Path(__file__).with_name("confirmation.yml")

Context = Literal["cancel", "register", "submit"]
CONTEXTS: tuple[Context, ...] = ("cancel", "register", "submit")
# Intents whose button (or clear text) means yes at each kind of confirmation.
YES_INTENTS: dict[Context, frozenset[str]] = {
    "cancel": frozenset({"affirm"}),
    "register": frozenset({"affirm", "confirm_registration"}),
    "submit": frozenset({"affirm"}),
}
# Intents that are never a yes, whatever words they contain.
NO_INTENTS = frozenset({"deny", "stop", "request_human", "report_lost_sim", "faq",
                        "out_of_scope", "bot_challenge"})


@dataclass(frozen=True)
class Phrases:
    """The yes and not-yes phrases of one context, as word tuples with and without
    diacritics."""

    yes: frozenset[tuple[str, ...]]
    not_yes: frozenset[tuple[str, ...]]
    yes_folded: frozenset[tuple[str, ...]]
    not_yes_folded: frozenset[tuple[str, ...]]


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(normalize_tone_placement(phrase).lower().replace("?", " ? ").split())


@lru_cache(maxsize=8)
def phrases(context: Context, path: str | None = None) -> Phrases:
    with Path(path or PHRASES_FILE).open(encoding="utf-8") as fh:
        raw: Mapping[str, Any] = yaml.safe_load(fh) or {}
    yes = {_words(str(p)) for p in (raw.get("yes_any") or []) + (raw.get(f"yes_{context}") or [])}
    not_yes = {_words(str(p)) for p in
               (raw.get("not_yes") or []) + (raw.get(f"not_yes_{context}") or [])}
    yes -= not_yes  # "hủy" is a yes to cancel, a no to register
    yes_folded = {tuple(fold(w) for w in p) for p in yes}
    not_yes_folded = {tuple(fold(w) for w in p) for p in not_yes}
    ambiguous = yes_folded & not_yes_folded  # "đúng" / "dừng": both "dung"
    return Phrases(frozenset(yes), frozenset(not_yes), frozenset(yes_folded - ambiguous),
                   frozenset(not_yes_folded - ambiguous))


def _contains(words: tuple[str, ...], wanted: Iterable[tuple[str, ...]]) -> bool:
    for phrase in wanted:
        size = len(phrase)
        if size and any(words[i:i + size] == phrase for i in range(len(words) - size + 1)):
            return True
    return False


def _without_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """The text with entity values blanked ("hủy nhạc chờ đi": "chờ" is no "wait")."""
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(chars), end)):
            chars[i] = " "
    return "".join(chars)


def is_clear_yes(text: str | None, context: Context, intent: str | None = None,
                 entity_spans: Iterable[tuple[int, int]] = ()) -> bool:
    """True only for an explicit yes to a `context` confirmation.

    A button payload ("/affirm") is a yes when its intent is one of YES_INTENTS; typed text
    is a yes when it has a yes phrase, no not-yes phrase, and the NLU did not read it as a
    no, a stop, a question or another request."""
    raw = (text or "").strip()
    if not raw:
        return False
    if raw.startswith("/"):
        return (intent or raw[1:].split("{")[0].strip()) in YES_INTENTS[context]
    if intent in NO_INTENTS:
        return False
    spoken = _without_spans(raw, entity_spans).replace("?", " ? ")
    table = phrases(context)
    normalized = normalize_text(spoken)
    if "?" in spoken:
        return False
    if spoken.isascii():  # typed without diacritics: compare without them
        words = tuple(fold(normalized).split())
        return (_contains(words, table.yes_folded)
                and not _contains(words, table.not_yes_folded))
    words = tuple(normalized.split())
    return _contains(words, table.yes) and not _contains(words, table.not_yes)


def entity_spans(message: Mapping[str, Any], names: Iterable[str] = ("service",)
                 ) -> list[tuple[int, int]]:
    """Character spans of the message's entities `names` (their words say nothing about
    yes or no)."""
    wanted = set(names)
    return [(int(e["start"]), int(e["end"])) for e in message.get("entities") or []
            if e.get("entity") in wanted and "start" in e and "end" in e]


def reply_is_clear_yes(message: Mapping[str, Any], context: Context) -> bool:
    """`is_clear_yes` of a tracker's latest message."""
    intent = (message.get("intent") or {}).get("name")
    return is_clear_yes(message.get("text"), context, intent, entity_spans(message))


def confirmation_answer(tracker: Tracker, slot: str, context: Context,
                        digressions: Iterable[str] = ()) -> dict[str, Any]:
    """The custom extraction of a confirmation slot: right after the customer answered the
    question, True for a clear yes and False for anything else; nothing for a message in
    `digressions` (the rules answer it, then the question is asked again)."""
    if not answering_now(tracker, slot):
        return {}
    if latest_intent(tracker) in set(digressions):
        return {}
    return {slot: reply_is_clear_yes(tracker.latest_message, context)}


def slot_before_message(tracker: Tracker, name: str) -> Any:
    """The value `name` had before the customer's latest message."""
    events = list(tracker.events or [])
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    value = None
    for event in events[:max(last_user, 0)]:
        if event.get("event") == "slot" and event.get("name") == name:
            value = event.get("value")
    return value
