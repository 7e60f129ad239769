"""Vietnamese text helpers shared by the NLU components, the backend and the channels.

One place for: Unicode normalisation, diacritic folding and phone-number normalisation.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Old-style tone placement ("hoà", "thuỷ") -> new style used by our data ("hòa", "thủy").
# Only the common diphthongs where the two conventions differ.
_TONE_PLACEMENT = {
    "òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ",
    "òe": "oè", "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ",
    "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ",
}
# We normalise to the *old* style ("hoà", "thuỷ") as Unicode NFC writes it; both spellings
# then compare equal. Capitalised forms are handled by lower-casing before use.
_TONE_RE = re.compile("|".join(map(re.escape, _TONE_PLACEMENT)))

_PHONE_DIGITS = re.compile(r"\d")


def nfc(text: str) -> str:
    """Compose combining marks (NFC), so that one visible letter is one code point."""
    return unicodedata.normalize("NFC", text)


# The NLU calls these for every word of every message (and of every gazetteer entry):
# words repeat, so results are cached (bounded; pure functions of a string).
_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_CACHE_SIZE)
def normalize_tone_placement(text: str) -> str:
    """Make 'hòa' and 'hoà', 'thủy' and 'thuỷ' the same string (NFC, old placement)."""
    return _TONE_RE.sub(lambda m: _TONE_PLACEMENT[m.group(0)], nfc(text))


def strip_diacritics(text: str) -> str:
    """'Hủy dịch vụ Đà Nẵng' -> 'Huy dich vu Da Nang'."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def fold(text: str) -> str:
    """Lower-case, diacritic-free, single-spaced form for matching what users type."""
    return " ".join(strip_diacritics(nfc(text)).lower().split())


def normalize_msisdn(raw: str) -> str | None:
    """Any Vietnamese mobile number format -> its 10-digit form with a leading 0.

    Accepts 0901234567, 090 123 4567, 090.123.4567, +84 901 234 567, 84901234567.
    Returns None when the text is not a Vietnamese mobile number.
    """
    digits = "".join(_PHONE_DIGITS.findall(raw))
    if digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits.startswith("0") and digits[1] in "35789":
        return digits
    return None
