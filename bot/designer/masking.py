"""Personal data in real conversations: masked for designers, replaced by stand-ins in
what is written to the repository.

- `Masker(conversation).show(text)`: what the inbox shows. Values the conversation stored
  in personal slots (designer.yml `personal_slots`: the customer's name, address, ID,
  dates, numbers) are masked wherever they appear, typed with or without diacritics;
  an answer to a form question for a name or an address is hidden whole; then
  `bot.privacy.redact_text` masks every date and long number (phone, ID, OTP).
- `Masker(conversation).stand_in(text, entities)`: the same text for a training example or
  a test story: each personal value replaced by a stand-in of the same kind
  (designer.yml `stand_ins`: demo numbers, a fixed OTP, a fake ID, a fake name), the
  same value always by the same stand-in, entity offsets moved accordingly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.designer.config import config, personal_slots
from bot.designer.conversations import Conversation, Entity
from bot.privacy import mask_msisdn, redact_text
from bot.text import normalize_msisdn, strip_diacritics

HIDDEN_KINDS = frozenset({"name", "address", "photo"})
_NUMBER = re.compile(r"(?<![\w/\-])\+?\d(?:[ .\-]?\d){5,}(?![\w])")
_DATE = re.compile(r"(?<!\d)(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})(?!\d)")
ENTITY_KINDS = {"phone_number": "phone", "otp_code": "otp", "id_number": "id"}


def _fold_chars(text: str) -> str:
    """Lower case without diacritics, one character for one character (offsets kept)."""
    return "".join((strip_diacritics(ch) or ch)[0].lower() if ch.strip() else " "
                   for ch in text)


def _mask_name(name: str) -> str:
    parts = name.split()
    return " ".join([p[0] + "**" for p in parts[:-1]] + parts[-1:])


def _spans(text: str, value: str) -> list[tuple[int, int]]:
    """Where `value` occurs in `text`, compared without case and diacritics."""
    needle = " ".join(_fold_chars(value).split())
    if len(needle) < 2:
        return []
    haystack = _fold_chars(text)
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, needle.split())) + r"(?!\w)")
    return [(m.start(), m.end()) for m in pattern.finditer(haystack)]


class Masker:
    def __init__(self, conversation: Conversation) -> None:
        kinds = personal_slots()
        self.values: list[tuple[str, str]] = sorted(
            ((value, kinds[slot]) for slot, values in conversation.slot_values.items()
             if slot in kinds for value in values),
            key=lambda item: -len(item[0]))
        self._stand_ins: dict[tuple[str, str], str] = {}
        self._phones = 0
        for message in conversation.user_messages:  # stand-ins in conversation order:
            self.stand_in(message.text, message.entities, message.asked)  # same every time

    # ------------------------------------------------------------------ display
    def show(self, text: str, asked: str | None = None) -> str:
        if not text:
            return text
        kind = personal_slots().get(asked or "")
        if kind in HIDDEN_KINDS:
            return "***"
        for value, value_kind in self.values:
            text = self._replace(text, value, lambda found, k=value_kind: self._masked(found, k))
        return redact_text(text)

    @staticmethod
    def _masked(found: str, kind: str) -> str:
        if kind == "name":
            return _mask_name(found)
        if kind == "phone":
            return mask_msisdn(re.sub(r"\D", "", found)) or "***"
        if kind in ("address", "photo"):
            return "***"
        return redact_text(found) if any(ch.isdigit() for ch in found) else "***"

    @staticmethod
    def _replace(text: str, value: str, make: Any) -> str:
        for start, end in reversed(_spans(text, value)):
            text = text[:start] + make(text[start:end]) + text[end:]
        return text

    # ------------------------------------------------------------------ stand-ins
    def stand_in_value(self, value: str, kind: str) -> str:
        plain = re.sub(r"\W", "", value.lower())
        key = (kind, (normalize_msisdn(value) or plain) if kind == "phone" else plain)
        if key not in self._stand_ins:
            table = config()["stand_ins"]
            if kind == "phone":
                phones = table["phone"]
                self._stand_ins[key] = phones[self._phones % len(phones)]
                self._phones += 1
            elif kind == "id":
                digits = re.sub(r"\D", "", value)
                self._stand_ins[key] = table["id9"] if len(digits) == 9 else table["id12"]
            else:
                self._stand_ins[key] = str(table[kind])
        return self._stand_ins[key]

    def _number_kind(self, found: str) -> str | None:
        digits = re.sub(r"\D", "", found)
        if normalize_msisdn(found):
            return "phone"
        if len(digits) == 6:
            return "otp"
        if len(digits) in (9, 12):
            return "id"
        return None

    def _substitute(self, text: str, asked_kind: str | None) -> str:
        """One pass over `text` (a stand-in is never replaced again): the conversation's
        personal values, then dates, then long numbers by their shape."""
        if not text.strip():
            return text
        if asked_kind in HIDDEN_KINDS:
            return self.stand_in_value(text, asked_kind)
        found: list[tuple[int, int, str | None]] = []
        for value, value_kind in self.values:
            found += [(start, end, value_kind) for start, end in _spans(text, value)]
        found += [(m.start(), m.end(), "date") for m in _DATE.finditer(text)]
        found += [(m.start(), m.end(), self._number_kind(m.group(0)))
                  for m in _NUMBER.finditer(text)]
        out, pos = "", 0
        for start, end, kind in sorted(found, key=lambda f: (f[0], -f[1])):
            if start < pos:
                continue
            piece = text[start:end]
            out += text[pos:start] + (self.stand_in_value(piece, kind) if kind
                                      else re.sub(r"\d", "0", piece))
            pos = end
        return out + text[pos:]

    def stand_in(self, text: str, entities: Sequence[Entity] = (),
                 asked: str | None = None) -> tuple[str, tuple[Entity, ...]]:
        """The text and entities with personal data replaced by stand-ins."""
        asked_kind = personal_slots().get(asked or "")
        ordered = sorted((e for e in entities if 0 <= e.start < e.end <= len(text)),
                         key=lambda e: e.start)
        out, new_entities, pos = "", [], 0
        for ent in ordered:
            if ent.start < pos:
                continue  # overlapping spans: keep the first
            out += self._substitute(text[pos:ent.start], asked_kind)
            span = self._substitute(text[ent.start:ent.end], asked_kind)
            value = ent.value
            kind = ENTITY_KINDS.get(ent.entity)
            if kind:
                value = self.stand_in_value(value, kind)
            elif value and value != text[ent.start:ent.end]:
                value = self._substitute(value, None)
            else:
                value = span
            new_entities.append(Entity(ent.entity, value, len(out), len(out) + len(span)))
            out += span
            pos = ent.end
        out += self._substitute(text[pos:], asked_kind)
        return out, tuple(new_entities)

    def stand_in_slot(self, slot: str, value: Any) -> Any:
        kind = personal_slots().get(slot)
        if kind is None or value in (None, "", True, False):
            return value
        return self.stand_in_value(str(value), kind)
