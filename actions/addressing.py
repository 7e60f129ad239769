"""How the assistant addresses the customer: as they address themselves ("chị muốn hủy",
"a cần kiểm tra", "cho cô hỏi"), "anh/chị" while it is not known. The custom slot mapping
run after every message (actions/slot_mappings.py) keeps `customer_title` (inside
sentences) and `customer_title_cap` (starting one); the domain's responses say
{customer_title} / {customer_title_cap}. A customer who calls themselves "em" is addressed
as "bạn" (the assistant is "em")."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.nlu.normalize import normalize_text

WORDS_FILE = Path(__file__).with_name("addressing.yml")


@lru_cache(maxsize=1)
def _words() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    raw = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8")) or {}
    return ({str(k): str(v) for k, v in (raw.get("titles") or {}).items()},
            frozenset(map(str, raw.get("verbs_after") or ())),
            frozenset(map(str, raw.get("words_before") or ())))


def self_title(text: str | None) -> str | None:
    """The title the customer uses for themselves in `text`, else None."""
    titles, verbs, before_words = _words()
    words = [w for w in normalize_text(text or "").split() if w.isalpha()]
    for i, word in enumerate(words):
        if word not in titles:
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        before = words[i - 1] if i else ""
        if after == "ơi":  # "em ơi", "anh ơi": the customer calls the assistant
            continue
        if after in verbs or (before in before_words and len(word) > 1):
            return titles[word]
    return None


def capitalised(title: str) -> str:
    return title[:1].upper() + title[1:]


def title_slot_events(tracker: Tracker) -> list[EventType]:
    """customer_title / customer_title_cap from the latest message (part of the custom slot
    mapping action_extract_message_slots), [] when it does not change them."""
    text = tracker.latest_message.get("text") or ""
    if text.startswith("/"):
        return []
    title = self_title(text)
    if title is None or title == tracker.get_slot("customer_title"):
        return []
    return [SlotSet("customer_title", title),
            SlotSet("customer_title_cap", capitalised(title))]
