"""Normalisation of what customers type (bot.nlu.normalize)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.nlu.normalize import (
    folded_features_text,
    load_teencode,
    normalize_text,
    normalize_tokens,
    squeeze_repeats,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ko dk dc", "không đăng ký được"),
        ("Ad ơi hủy dv nhạc chờ giúp e vs", "anh chị ơi huỷ dịch vụ nhạc chờ giúp em với"),
        ("sdt của mk là j z", "số điện thoại của mình là gì vậy"),
        ("ntn", "như thế nào"),
        ("tt tb", "thông tin thuê bao"),
        ("đk gói này", "đăng ký gói này"),
        ("chaooo", "chao"),
        ("Chàoooo em", "chào em"),
        ("kooo", "không"),  # squeezed, then teencode
        ("xoong", "xoong"),  # a real double letter is kept
    ],
)
def test_normalize_text(typed: str, expected: str) -> None:
    assert normalize_text(typed) == expected


def test_nfc_and_tone_placement_make_spellings_equal() -> None:
    decomposed = unicodedata.normalize("NFD", "hòa bình thủy")
    assert normalize_text(decomposed) == normalize_text("hoà bình thuỷ")
    assert normalize_text("HÒA") == normalize_text("hoà")


def test_folded_view_makes_styles_alike() -> None:
    a = folded_features_text(normalize_text("Hủy dịch vụ nhạc chờ"))
    b = folded_features_text(normalize_text("huy dich vu nhac cho"))
    c = folded_features_text(normalize_text("huỷ dv nhạc chờờờ"))
    assert a == b == c == "huy dich vu nhac cho"


def test_digits_are_kept_in_shape_only_for_features() -> None:
    assert folded_features_text(normalize_text("số 0901234567")) == "so 0000000000"
    assert normalize_text("số 0901234567") == "số 0901234567"


def test_tokens_keep_offsets_of_the_original_text() -> None:
    text = "Ad ơi, hủy dv giúp e"
    toks = normalize_tokens(text)
    assert [(text[t.start:t.end], t.norm) for t in toks] == [
        ("Ad", "anh chị"), ("ơi", "ơi"), ("hủy", "huỷ"), ("dv", "dịch vụ"),
        ("giúp", "giúp"), ("e", "em")]


def test_squeeze_never_touches_digits() -> None:
    assert squeeze_repeats("0900111222") == "0900111222"
    assert squeeze_repeats("okkkk") == "ok"


def test_teencode_file_is_lowercase_and_expands_to_words() -> None:
    table = load_teencode()
    assert table["ko"] == "không" and table["dc"] == table["đc"] == "được"
    assert all(k == k.lower() and v.strip() for k, v in table.items())
