"""Vietnamese message normalisation for the NLU features (pure functions, no Rasa).

What a customer types -> a normalised text the classifiers see:
NFC, one tone-placement convention, lower case, repeated letters squeezed ("chaooo" ->
"chao"), teencode expanded ("ko dk dc" -> "không đăng ký được"), digits kept.
Entities are always read from the original text; this text only feeds features.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.text import fold, normalize_tone_placement

TEENCODE_FILE = Path(__file__).with_name("teencode.yml")

# A token: letters/digits (with inner dots, e.g. "090.123.4567", or "+84"), or "?".
# Combining marks count as letters: text typed in NFD keeps its words whole.
WORD_CHARS = r"[\w\u0300-\u036f]"
TOKEN_RE = re.compile(rf"\+?{WORD_CHARS}+(?:[.,'’/-]{WORD_CHARS}+)*|\?")
# A run of 2+ identical letters (not digits). "oo" before n/c is kept: xoong, soóc, moóc.
_REPEAT_RE = re.compile(r"([^\W\d_])\1+")
_KEEP_DOUBLE_O = re.compile(r"o[oó][nc]")
_DIGIT_RE = re.compile(r"\d")


@lru_cache(maxsize=8)
def load_teencode(path: str | None = None) -> dict[str, str]:
    """The teencode table {abbreviation (lower-case, NFC): expansion}."""
    with Path(path or TEENCODE_FILE).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    table = raw.get("teencode", raw) or {}
    return {
        normalize_tone_placement(str(k)).lower(): normalize_tone_placement(str(v)).lower()
        for k, v in table.items()
    }


@lru_cache(maxsize=8)
def load_collisions_ok(path: str | None = None) -> frozenset[str]:
    """Teencode keys whose collision with a real word a designer accepted."""
    with Path(path or TEENCODE_FILE).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return frozenset(str(k).lower() for k in raw.get("collisions_ok") or ())


def squeeze_repeats(word: str) -> str:
    """'chaooo' -> 'chao', 'okkk' -> 'ok', 'xoong' stays; digits are never squeezed."""

    if _KEEP_DOUBLE_O.search(word):
        return word
    return _REPEAT_RE.sub(r"\1", word)


@dataclass(frozen=True)
class NormToken:
    """One token of the original text and its normalised form (may be several words)."""

    start: int
    end: int
    text: str
    norm: str


def normalize_token(word: str, teencode: Mapping[str, str]) -> str:
    """One typed token -> its normalised form (lower case, diacritics kept)."""
    low = normalize_tone_placement(word.lower())
    if low in teencode:
        return teencode[low]
    squeezed = squeeze_repeats(low)
    return teencode.get(squeezed, squeezed)


def normalize_tokens(text: str, teencode: Mapping[str, str] | None = None) -> list[NormToken]:
    """Tokens of `text` with their offsets in `text` and their normalised forms."""
    table = load_teencode() if teencode is None else teencode
    return [
        NormToken(m.start(), m.end(), m.group(0), normalize_token(m.group(0), table))
        for m in TOKEN_RE.finditer(text)
    ]


def normalize_text(text: str, teencode: Mapping[str, str] | None = None) -> str:
    """'Ad ơi hủy dv nhạc chờờờ giúp e vs' -> 'anh chị ơi hủy dịch vụ nhạc chờ giúp em với'."""
    return " ".join(t.norm for t in normalize_tokens(text, teencode))


def folded_features_text(norm_text: str) -> str:
    """The classifier's view: diacritic-free, digits reduced to their shape ('0000000000')."""
    return _DIGIT_RE.sub("0", fold(norm_text))
