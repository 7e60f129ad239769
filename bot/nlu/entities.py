"""Deterministic Vietnamese entity extraction (pure functions, no Rasa).

- phone_number: any Vietnamese mobile format -> 10 digits (bot.text.normalize_msisdn)
- otp_code: 6 digits standing alone (never part of a phone / ID number, never money)
- id_number: 9 (CMND) or 12 (CCCD) digits, or a passport number (letter + 7-8 digits)
- service: catalog code, from aliases typed with or without diacritics, squeezed, with
  one or two typos on long aliases ("nhac cjo" -> FUNRING)
- location: a province / city / district from the gazetteer (locations.yml) or from the
  training data, value as typed ("tp hcm", "Quận 3", "q3")
Every entity carries start/end offsets in the ORIGINAL text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.nlu.normalize import WORD_CHARS, squeeze_repeats
from bot.text import fold, normalize_msisdn

LOCATIONS_FILE = Path(__file__).with_name("locations.yml")

_DIGIT_GROUP = re.compile(r"\+?\d+")
_WORD = re.compile(rf"{WORD_CHARS}+")
_PASSPORT = re.compile(r"(?<![\w])([A-Za-z]\d{7,8})(?![\w])")
_DISTRICT_NO = re.compile(r"(?<![\w])(?:quận|quan|q)\s*\.?\s*(\d{1,2})(?![\w])", re.IGNORECASE)
# An administrative prefix right before a place name.
_ADMIN_PREFIX = re.compile(
    r"(?<![\w])((?:quận|quan|q|huyện|huyen|thành phố|thanh pho|tp|tỉnh|tinh|thị xã|thi xa|tx"
    r"|phường|phuong|xã|xa)\.?)\s*$", re.IGNORECASE)
# Words after a number that make it money / a quantity, not a code ("100000 đồng").
_UNITS = {"d", "vnd", "dong", "k", "nghin", "ngan", "tr", "trieu", "gb", "mb", "kb"}


@dataclass(frozen=True)
class Entity:
    entity: str
    start: int
    end: int
    value: str

    def as_dict(self, extractor: str) -> dict[str, object]:
        return {"entity": self.entity, "start": self.start, "end": self.end,
                "value": self.value, "confidence": 1.0, "extractor": extractor}


# --------------------------------------------------------------------------- numbers
def _groups(text: str) -> list[re.Match[str]]:
    """Digit runs that are whole tokens (not glued to letters: '5k', 'd5', 'c90n')."""
    out = []
    for m in _DIGIT_GROUP.finditer(text):
        before = text[m.start() - 1] if m.start() > 0 else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if before.isalpha() or before == "_" or after.isalpha() or after == "_":
            continue
        out.append(m)
    return out


def _joinable(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    gap = text[left.end():right.start()]
    return len(gap) == 1 and gap in " .-" and not right.group(0).startswith("+")


_NEXT_WORD = re.compile(r"\s*(\w+)")


def _followed_by_unit(text: str, end: int) -> bool:
    nxt = _NEXT_WORD.match(text, end)
    return nxt is not None and fold(nxt.group(1)) in _UNITS


def extract_numbers(text: str) -> list[Entity]:
    """Phone numbers, OTP codes and ID numbers, longest reading first."""
    groups = _groups(text)
    entities: list[Entity] = []
    i = 0
    while i < len(groups):
        best: tuple[int, Entity] | None = None
        j = i
        digits = ""
        while j < len(groups) and j - i < 5:
            if j > i and not _joinable(text, groups[j - 1], groups[j]):
                break
            digits += groups[j].group(0).lstrip("+")
            start, end = groups[i].start(), groups[j].end()
            found = _classify(digits, text, start, end, single=(j == i))
            if found is not None:
                best = (j, found)
            j += 1
        if best is None:
            i += 1
            continue
        entities.append(best[1])
        i = best[0] + 1
    return entities


def _classify(digits: str, text: str, start: int, end: int, single: bool) -> Entity | None:
    raw = text[start:end]
    msisdn = normalize_msisdn(raw)
    if msisdn is not None and len(digits) in (10, 11):
        return Entity("phone_number", start, end, msisdn)
    if raw.startswith("+"):
        return None
    if _followed_by_unit(text, end):
        return None
    if len(digits) == 6 and (single or " " in raw):
        return Entity("otp_code", start, end, digits)
    if len(digits) in (9, 12):
        return Entity("id_number", start, end, digits)
    return None


def extract_passports(text: str) -> list[Entity]:
    return [Entity("id_number", m.start(1), m.end(1), m.group(1).upper())
            for m in _PASSPORT.finditer(text)]


# --------------------------------------------------------------------------- words
@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    key: str  # folded, squeezed


def _word_tokens(text: str) -> list[_Tok]:
    """Word tokens with their folded key; a token that folds to nothing (a tone mark typed
    alone) is no word."""
    tokens = (_Tok(m.start(), m.end(), squeeze_repeats(fold(m.group(0))))
              for m in _WORD.finditer(text))
    return [tok for tok in tokens if tok.key]


def alias_key(alias: str) -> str:
    """How an alias is compared: folded, squeezed, one space between words."""
    return " ".join(squeeze_repeats(w) for w in _WORD.findall(fold(alias)))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (transpositions count 1); > limit if above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_typos(key: str) -> int:
    n = len(key.replace(" ", ""))
    return 0 if n < 7 else (1 if n < 11 else 2)


def fuzzy_distance(window: list[str], alias: list[str], limit: int) -> int:
    """Typos between a token window and an alias, word by word (> limit: no match).

    Same number of words; the first word of a multi-word alias must match exactly
    ("nhà chờ" is not "nhạc chờ"); a word with a typo has at least 3 letters.
    """
    if len(window) != len(alias) or (len(alias) > 1 and window[0] != alias[0]):
        return limit + 1
    total = 0
    for w, a in zip(window, alias, strict=True):
        if w == a:
            continue
        if len(a) < 3:
            return limit + 1
        total += edit_distance(w, a, limit - total)
        if total > limit:
            return limit + 1
    return total


@lru_cache(maxsize=16)
def _fuzzy_candidates(items: tuple[tuple[str, str], ...]
                      ) -> dict[str, list[tuple[list[str], int, str]]]:
    """The aliases that allow typos, as (words, typos allowed, value), by first letter, in
    the mapping's order; computed once per alias mapping (its items are the key)."""
    by_letter: dict[str, list[tuple[list[str], int, str]]] = {}
    for alias, value in items:
        limit = _allowed_typos(alias)
        if limit:
            by_letter.setdefault(alias[0], []).append((alias.split(), limit, value))
    return by_letter


def _match_windows(text: str, aliases: Mapping[str, str], entity: str, fuzzy: bool,
                   max_words: int = 5) -> list[tuple[float, Entity]]:
    """(score, entity) for every token window that matches an alias."""
    toks = _word_tokens(text)
    # only aliases with typos allowed and the window's first letter can match fuzzily
    candidates = _fuzzy_candidates(tuple(aliases.items())) if fuzzy else {}
    hits: list[tuple[float, Entity]] = []
    for i in range(len(toks)):
        for n in range(min(max_words, len(toks) - i), 0, -1):
            window = toks[i:i + n]
            words = [t.key for t in window]
            key = " ".join(words)
            start, end = window[0].start, window[-1].end
            value = aliases.get(key) or aliases.get(key.replace(" ", ""))
            if value is not None:
                hits.append((2.0 + len(key) / 100, Entity(entity, start, end, value)))
                continue
            if not fuzzy:
                continue
            for alias, limit, val in candidates.get(words[0][0], ()):
                d = fuzzy_distance(words, alias, limit)
                if d <= limit:
                    hits.append((1.0 + len(key) / 100 - d / 10, Entity(entity, start, end, val)))
                    break
    return hits


def _select(hits: Iterable[tuple[float, Entity]]) -> list[Entity]:
    """Best-scoring, non-overlapping matches."""
    chosen: list[Entity] = []
    for _, ent in sorted(hits, key=lambda h: (-h[0], h[1].start)):
        if all(ent.end <= c.start or ent.start >= c.end for c in chosen):
            chosen.append(ent)
    return sorted(chosen, key=lambda e: e.start)


# --------------------------------------------------------------------------- services
@lru_cache(maxsize=1)
def catalog_aliases() -> dict[str, str]:
    """{alias key: service code} from the backend catalog (codes and aliases)."""
    from bot.reference.catalog import CATALOG  # noqa: PLC0415 - keeps import light

    aliases: dict[str, str] = {}
    for svc in CATALOG:
        for alias in (svc.code, *svc.aliases):
            aliases.setdefault(alias_key(alias), svc.code)
    return aliases


def catalog_codes() -> set[str]:
    return set(catalog_aliases().values())


def extract_services(text: str, extra_aliases: Mapping[str, str] | None = None) -> list[Entity]:
    aliases = {**(extra_aliases or {}), **catalog_aliases()}
    merged: list[Entity] = []
    for ent in _select(_match_windows(text, aliases, "service", fuzzy=True)):
        prev = merged[-1] if merged else None
        if prev and prev.value == ent.value and not text[prev.end:ent.start].strip():
            # "nhạc chờ funring": one mention, one span
            merged[-1] = Entity("service", prev.start, ent.end, ent.value)
        else:
            merged.append(ent)
    return merged


# --------------------------------------------------------------------------- locations
@lru_cache(maxsize=1)
def gazetteer() -> frozenset[str]:
    """Folded place names from locations.yml."""
    with LOCATIONS_FILE.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    names: set[str] = set()
    for group in raw.values():
        names.update(alias_key(n) for n in group or ())
    return frozenset(n for n in names if n)


def with_admin_prefix(text: str, ent: Entity) -> Entity:
    """'quận Cầu Giấy', 'TP. Thủ Đức', 'tỉnh Nghệ An': the typed prefix joins the span."""
    m = _ADMIN_PREFIX.search(text[:ent.start])
    return Entity(ent.entity, m.start(1), ent.end, ent.value) if m else ent


@lru_cache(maxsize=16)
def _places(extra_places: tuple[str, ...]) -> dict[str, str]:
    """{place key: place key} of the gazetteer and `extra_places` (once per list)."""
    return {p: p for p in gazetteer()} | {alias_key(p): alias_key(p) for p in extra_places}


def extract_locations(text: str, extra_places: Iterable[str] = ()) -> list[Entity]:
    hits = _match_windows(text, _places(tuple(extra_places)), "location", fuzzy=False)
    for m in _DISTRICT_NO.finditer(text):
        hits.append((3.0, Entity("location", m.start(), m.end(), "")))
    spans = [with_admin_prefix(text, e) for e in _select(hits)]
    # value = as typed
    return [Entity(e.entity, e.start, e.end, text[e.start:e.end]) for e in spans]


# --------------------------------------------------------------------------- all
def extract_all(text: str, service_aliases: Mapping[str, str] | None = None,
                places: Iterable[str] = ()) -> list[Entity]:
    """Every entity in `text`, non-overlapping, ordered by position."""
    found = extract_numbers(text) + extract_passports(text)
    taken = [(e.start, e.end) for e in found]

    def free(e: Entity) -> bool:
        return all(e.end <= s or e.start >= t for s, t in taken)

    for ent in extract_services(text, service_aliases):
        if free(ent):
            found.append(ent)
            taken.append((ent.start, ent.end))
    for ent in extract_locations(text, places):
        if free(ent):
            found.append(ent)
    return sorted(found, key=lambda e: e.start)
