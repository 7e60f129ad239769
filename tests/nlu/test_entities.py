"""Deterministic entity extraction (bot.nlu.entities)."""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract_all, extract_locations, extract_numbers, extract_services


def values(text: str, entity: str) -> list[str]:
    return [e.value for e in extract_all(text) if e.entity == entity]


@pytest.mark.parametrize(
    "typed",
    ["0901234567", "090 123 4567", "090.123.4567", "090-123-4567", "+84901234567",
     "+84 901 234 567", "84901234567", "0901 234 567"],
)
def test_phone_formats_become_ten_digits(typed: str) -> None:
    ents = extract_numbers(f"số của em là {typed} nhé")
    assert [(e.entity, e.value) for e in ents] == [("phone_number", "0901234567")]


def test_phone_span_points_at_the_typed_number() -> None:
    text = "sdt: +84 901 234 567 ạ"
    (ent,) = extract_numbers(text)
    assert text[ent.start:ent.end] == "+84 901 234 567"


def test_otp_is_six_digits_and_never_part_of_a_phone() -> None:
    text = "số 0901234567 mã 482913"
    assert [(e.entity, e.value) for e in extract_all(text)] == [
        ("phone_number", "0901234567"), ("otp_code", "482913")]
    assert values("0901234567", "otp_code") == []
    assert values("mã là 482 913", "otp_code") == ["482913"]


@pytest.mark.parametrize("text", ["mã 6 số", "nạp 100000 đồng", "nạp 200000đ", "gói 90k",
                                  "năm 2023", "12/05/1990", "mã otp có mấy số"])
def test_no_otp_in_counts_money_or_dates(text: str) -> None:
    assert values(text, "otp_code") == []


def test_id_numbers() -> None:
    assert values("cccd 001099012345", "id_number") == ["001099012345"]
    assert values("cmnd 123456789", "id_number") == ["123456789"]
    assert values("hộ chiếu b1234567", "id_number") == ["B1234567"]
    assert values("cccd 001099012345", "phone_number") == []


@pytest.mark.parametrize(
    "typed",
    ["nhạc chờ", "nhac cho", "nhac chơ", "nhạc chờờ", "funring", "FunRing", "fun ring",
     "nhac cjo", "nhạc chờ funring"],
)
def test_funring_in_every_style(typed: str) -> None:
    assert [e.value for e in extract_services(f"hủy {typed} giúp em")] == ["FUNRING"]


@pytest.mark.parametrize(
    ("typed", "code"),
    [("gói c90n", "C90N"), ("goi 90k", "C90N"), ("D5", "D5"), ("mca", "MCA"),
     ("bao cuoc goi nho", "MCA"), ("truyền hình", "MOBITV"), ("mobi tv", "MOBITV"),
     ("lưu trữ đám mây", "MCLOUD"), ("kho game", "KHOGAME"), ("tin tuc 24h", "TIN24H")],
)
def test_catalog_aliases(typed: str, code: str) -> None:
    assert [e.value for e in extract_services(f"đăng ký {typed}")] == [code]


@pytest.mark.parametrize(
    "text",
    ["tôi muốn tự làm tại nhà cho tiện", "có được báo kết quả không",
     "thông tin cá nhân có được bảo mật không", "dịch vụ này là gì", "đi được bao nhiêu km"],
)
def test_no_service_in_ordinary_words(text: str) -> None:
    assert extract_services(text) == []


def test_locations_are_returned_as_typed() -> None:
    text = "cửa hàng ở Quận 3 tp hcm hoặc q10, cau giay"
    assert [e.value for e in extract_locations(text)] == ["Quận 3", "tp hcm", "q10",
                                                          "cau giay"]
    # "q" before a named district is "quận" too, and joins the span
    assert [e.value for e in extract_locations("q tân bình có ch nào k")] == ["q tân bình"]


def test_learned_places_and_aliases_are_used() -> None:
    assert [e.value for e in extract_locations("ở sg", ["sg"])] == ["sg"]
    assert [e.value for e in extract_services("hủy xem phim", {"xem phim": "MOBITV"})] == [
        "MOBITV"]


def test_fuzzy_candidates_are_the_aliases_that_allow_typos_by_first_letter() -> None:
    from bot.nlu.entities import _allowed_typos, _fuzzy_candidates, catalog_aliases

    items = tuple(catalog_aliases().items())
    by_letter = _fuzzy_candidates(items)
    expected = [(a.split(), _allowed_typos(a), v) for a, v in items if _allowed_typos(a)]
    assert sum(map(len, by_letter.values())) == len(expected) > 0
    for letter, candidates in by_letter.items():
        assert candidates == [c for c in expected if c[0][0][0] == letter]
