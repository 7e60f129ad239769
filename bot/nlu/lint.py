"""`bot nlu lint`: designer mistakes in the NLU training data, in plain words.

Checks:
- the same example (compared without diacritics/case) under two intents;
- an intent (faq sub-intents count separately) with fewer than `min_examples` examples,
  or missing a style: no example without diacritics, none with teencode (a token from
  teencode.yml), none long (>= LONG_WORDS words);
- entity values: service must be a catalog code (directly or through a synonym),
  phone_number must be a Vietnamese mobile number, otp_code 6 digits, id_number 9/12
  digits or a passport number; unknown entity names;
- a teencode entry that collides with a real word of the training data ("ban" would
  also rewrite "bán"/"bạn" typed without diacritics).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.nlu.normalize import TOKEN_RE, load_collisions_ok, load_teencode
from bot.text import fold, nfc, normalize_msisdn, normalize_tone_placement, strip_diacritics
from bot.texts import Messages

LONG_WORDS = 15
# What the lint tells designers: bot/nlu/lint_messages.yml.
MESSAGES = Messages(Path(__file__).with_name("lint_messages.yml"))
CONTRACT_ENTITIES = ("phone_number", "id_number", "otp_code", "service", "location")
_ID_RE = re.compile(r"^(\d{9}|\d{12}|[A-Z]\d{7,8})$")


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


@dataclass(frozen=True)
class Item:
    label: str  # intent or 'faq/xxx'
    text: str
    source: str
    entities: tuple[tuple[str, str, str], ...]  # (entity, value, span text)


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.suffix in (".yml", ".yaml"))
        elif p.exists():
            out.append(p)
    return out


def load_items(paths: Iterable[str | Path]) -> tuple[list[Item], dict[str, str]]:
    """Training examples of every NLU file, and the entity synonyms {synonym: value}."""
    from rasa.shared.nlu.training_data.loading import load_data

    items: list[Item] = []
    synonyms: dict[str, str] = {}
    for path in _files(paths):
        data = load_data(str(path))
        synonyms.update({k.lower(): v for k, v in data.entity_synonyms.items()})
        for msg in data.training_examples:
            text = msg.get("text")
            label = msg.get("intent_response_key") or msg.get("intent")
            if not text or not label:
                continue
            ents = tuple((e["entity"], str(e.get("value", "")), text[e["start"]:e["end"]])
                         for e in msg.get("entities") or [])
            items.append(Item(label, text, path.name, ents))
    return items, synonyms


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def is_without_diacritics(text: str) -> bool:
    t = nfc(text)
    return _has_letters(t) and strip_diacritics(t) == t


def has_teencode(text: str, teencode: dict[str, str]) -> bool:
    return any(m.group(0).lower() in teencode for m in TOKEN_RE.finditer(nfc(text)))


def is_long(text: str) -> bool:
    return len(text.split()) >= LONG_WORDS


def check_duplicates(items: Sequence[Item]) -> list[Problem]:
    seen: dict[str, set[str]] = defaultdict(set)
    where: dict[str, str] = {}
    for it in items:
        # emoji / punctuation-only examples ("👍", "?") are compared as typed
        key = fold(re.sub(r"[^\w\s]", " ", it.text)) or " ".join(it.text.split())
        seen[key].add(it.label)
        where.setdefault(key, it.text)
    return [Problem("duplicate", MESSAGES("duplicate", example=where[k], count=len(labels),
                                          intents=", ".join(sorted(labels))))
            for k, labels in seen.items() if len(labels) > 1]


def check_coverage(items: Sequence[Item], teencode: dict[str, str],
                   min_examples: int) -> list[Problem]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for it in items:
        by_label[it.label].append(it.text)
    problems = []
    for label, texts in sorted(by_label.items()):
        if len(texts) < min_examples:
            problems.append(Problem("too-few", MESSAGES("too_few", intent=label,
                                                        count=len(texts),
                                                        minimum=min_examples)))
        if not any(is_without_diacritics(t) for t in texts):
            problems.append(Problem("style", MESSAGES("no_plain", intent=label)))
        if not any(has_teencode(t, teencode) for t in texts):
            problems.append(Problem("style", MESSAGES("no_teencode", intent=label)))
        if not any(is_long(t) for t in texts):
            problems.append(Problem("style", MESSAGES("no_long", intent=label,
                                                      words=LONG_WORDS)))
    return problems


def _value_problem(entity: str, value: str, synonyms: dict[str, str],
                   codes: set[str]) -> str | None:
    if entity == "service":
        resolved = value if value in codes else synonyms.get(value.lower(), value)
        if resolved not in codes:
            return MESSAGES("service_value", value=value, codes=", ".join(sorted(codes)))
    elif entity == "phone_number":
        if normalize_msisdn(value) is None:
            return MESSAGES("phone_value", value=value)
    elif entity == "otp_code":
        if not re.fullmatch(r"\d{6}", re.sub(r"\s", "", value)):
            return MESSAGES("otp_value", value=value)
    elif entity == "id_number":
        if not _ID_RE.match(re.sub(r"[\s.]", "", value).upper()):
            return MESSAGES("id_value", value=value)
    elif entity not in CONTRACT_ENTITIES:
        return MESSAGES("unknown_entity", entity=entity, entities=", ".join(CONTRACT_ENTITIES))
    return None


def check_entities(items: Sequence[Item], synonyms: dict[str, str]) -> list[Problem]:
    from bot.nlu.entities import catalog_codes

    codes = catalog_codes()
    problems = []
    for it in items:
        for entity, value, _span in it.entities:
            msg = _value_problem(entity, value, synonyms, codes)
            if msg:
                problems.append(Problem("entity", MESSAGES("entity_problem", source=it.source,
                                                           problem=msg, example=it.text)))
    return problems


def check_teencode(items: Sequence[Item], teencode: dict[str, str],
                   accepted: Iterable[str] = ()) -> list[Problem]:
    by_fold: dict[str, set[str]] = defaultdict(set)
    for it in items:
        for m in TOKEN_RE.finditer(nfc(it.text)):
            tok = normalize_tone_placement(m.group(0).lower())
            by_fold[fold(tok)].add(tok)
    problems = []
    for key, expansion in sorted(teencode.items()):
        if key in accepted:
            continue
        clashes = sorted(
            tok for tok in by_fold.get(fold(key), ())
            if tok != key and tok not in teencode and tok not in expansion.split()
        )
        if clashes:
            problems.append(Problem("teencode", MESSAGES(
                "teencode_collision", key=key, expansion=expansion,
                words=", ".join(repr(c) for c in clashes), folded=fold(key))))
    return problems


def lint_items(items: Sequence[Item], synonyms: dict[str, str], teencode: dict[str, str],
               min_examples: int = 40, collisions_ok: Iterable[str] = ()) -> list[Problem]:
    return (check_duplicates(items) + check_coverage(items, teencode, min_examples)
            + check_entities(items, synonyms)
            + check_teencode(items, teencode, frozenset(collisions_ok)))


def lint_paths(paths: Iterable[str | Path], teencode_file: str | None = None,
               min_examples: int = 40) -> list[Problem]:
    items, synonyms = load_items(paths)
    if not items:
        return [Problem("empty", MESSAGES("empty", paths=", ".join(map(str, paths))))]
    return lint_items(items, synonyms, load_teencode(teencode_file), min_examples,
                      load_collisions_ok(teencode_file))
