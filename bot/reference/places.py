"""Resolve what a customer types as a place ("q3", "tp hcm", "Cầu Giấy", "ha noi")
to folded province / district keys that match `Shop.province_key` / `Shop.district_key`
(bot/backend/models.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import fold

# Extra ways of writing a province (folded) -> folded canonical province name.
PROVINCE_ALIASES: dict[str, str] = {
    "ho chi minh": "tp ho chi minh",
    "tp ho chi minh": "tp ho chi minh",
    "thanh pho ho chi minh": "tp ho chi minh",
    "tphcm": "tp ho chi minh",
    "tp hcm": "tp ho chi minh",
    "hcm": "tp ho chi minh",
    "hcmc": "tp ho chi minh",
    "sai gon": "tp ho chi minh",
    "saigon": "tp ho chi minh",
    "sg": "tp ho chi minh",
    "ha noi": "ha noi",
    "hanoi": "ha noi",
    "hn": "ha noi",
    "da nang": "da nang",
    "danang": "da nang",
    "dn": "da nang",
    "can tho": "can tho",
    "hai phong": "hai phong",
    "hp": "hai phong",
    "hue": "thua thien hue",
    "nha trang": "khanh hoa",
    "vung tau": "ba ria vung tau",
    "brvt": "ba ria vung tau",
}

_PUNCT = re.compile(r"[^\w\s]")
# "q3", "q.3", "q 3", "quan3" -> "quan 3"; "tp." handled by punctuation removal.
_DISTRICT_NUMBER = re.compile(r"\b(?:q|quan)\s*(\d{1,2})\b")
_PREFIXES = ("quan ", "huyen ", "thi xa ", "thanh pho ", "tp ", "tinh ")


def normalize_place(text: str) -> str:
    """Folded, punctuation-free, with numbered districts spelled 'quan N'."""
    folded = fold(_PUNCT.sub(" ", text))
    return " ".join(_DISTRICT_NUMBER.sub(r"quan \1", folded).split())


def _strip_prefix(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix) and not key[len(prefix):].isdigit():
            return key[len(prefix):]
    return key


@dataclass(frozen=True)
class PlaceIndex:
    """Known provinces and districts (folded), built from the shops in the database."""

    provinces: frozenset[str]
    districts: frozenset[tuple[str, str]]  # (province_key, district_key)

    def _province_aliases(self) -> dict[str, str]:
        aliases = {alias: canon for alias, canon in PROVINCE_ALIASES.items()
                   if canon in self.provinces}
        for key in self.provinces:
            aliases[key] = key
            aliases[_strip_prefix(key)] = key
        return aliases

    def _district_aliases(self) -> dict[str, set[tuple[str, str]]]:
        aliases: dict[str, set[tuple[str, str]]] = {}
        for province, district in self.districts:
            for alias in {district, _strip_prefix(district)}:
                aliases.setdefault(alias, set()).add((province, district))
        return aliases

    def resolve(self, text: str) -> tuple[str | None, set[tuple[str, str]]]:
        """(province_key or None, candidate (province_key, district_key) pairs)."""
        query = normalize_place(text)
        if not query:
            return None, set()
        province = _longest_match(query, self._province_aliases())
        province_key = self._province_aliases()[province] if province else None
        district_aliases = self._district_aliases()
        # Do not read the province name itself as a district ("Cần Thơ" vs "TP Cần Thơ").
        query_wo = _remove_word(query, province) if province else query
        district = _longest_match(query_wo, district_aliases)
        districts: set[tuple[str, str]] = set()
        if district:
            districts = district_aliases[district]
            if province_key:
                narrowed = {d for d in districts if d[0] == province_key}
                districts = narrowed or districts
        return province_key, districts


def _longest_match(query: str, aliases) -> str | None:
    for alias in sorted(aliases, key=len, reverse=True):
        if alias and re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", query):
            return alias
    return None


def _remove_word(query: str, alias: str) -> str:
    return " ".join(re.sub(rf"(?<!\w){re.escape(alias)}(?!\w)", " ", query).split())
