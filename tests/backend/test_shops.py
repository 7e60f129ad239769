"""Shop search (`backend.shops.find`) by place typed with or without diacritics, abbreviations,
districts."""

from __future__ import annotations

import pytest


def _districts(stores):
    return {(s.province, s.district) for s in stores}


@pytest.mark.parametrize(
    ("place", "province", "district"),
    [
        ("Quận 3", "TP Hồ Chí Minh", "Quận 3"),
        ("quan 3", "TP Hồ Chí Minh", "Quận 3"),
        ("q3", "TP Hồ Chí Minh", "Quận 3"),
        ("Q.3", "TP Hồ Chí Minh", "Quận 3"),
        ("cửa hàng ở q 3 tp hcm", "TP Hồ Chí Minh", "Quận 3"),
        ("quận 1 sài gòn", "TP Hồ Chí Minh", "Quận 1"),
        ("Bình Thạnh", "TP Hồ Chí Minh", "Bình Thạnh"),
        ("binh thanh", "TP Hồ Chí Minh", "Bình Thạnh"),
        ("thu duc", "TP Hồ Chí Minh", "Thủ Đức"),
        ("Cầu Giấy", "Hà Nội", "Cầu Giấy"),
        ("cau giay ha noi", "Hà Nội", "Cầu Giấy"),
        ("quận cầu giấy", "Hà Nội", "Cầu Giấy"),
        ("hoàn kiếm", "Hà Nội", "Hoàn Kiếm"),
        ("HN đống đa", "Hà Nội", "Đống Đa"),
        ("ninh kieu", "Cần Thơ", "Ninh Kiều"),
        ("Hải Châu", "Đà Nẵng", "Hải Châu"),
        ("lê chân hải phòng", "Hải Phòng", "Lê Chân"),
    ],
)
def test_district_queries(backend, place, province, district):
    stores = backend.shops.find(place)
    assert stores, place
    assert _districts(stores) == {(province, district)}


@pytest.mark.parametrize(
    ("place", "province"),
    [
        ("TP Hồ Chí Minh", "TP Hồ Chí Minh"), ("tp hcm", "TP Hồ Chí Minh"),
        ("tphcm", "TP Hồ Chí Minh"), ("hcm", "TP Hồ Chí Minh"), ("Sài Gòn", "TP Hồ Chí Minh"),
        ("sai gon", "TP Hồ Chí Minh"), ("ho chi minh", "TP Hồ Chí Minh"),
        ("Hà Nội", "Hà Nội"), ("ha noi", "Hà Nội"), ("hn", "Hà Nội"), ("Hanoi", "Hà Nội"),
        ("Đà Nẵng", "Đà Nẵng"), ("da nang", "Đà Nẵng"), ("dn", "Đà Nẵng"),
        ("cần thơ", "Cần Thơ"), ("can tho", "Cần Thơ"), ("Hải Phòng", "Hải Phòng"),
        ("hai phong", "Hải Phòng"), ("Huế", "Thừa Thiên Huế"), ("nha trang", "Khánh Hòa"),
        ("khanh hoa", "Khánh Hòa"), ("Khánh Hoà", "Khánh Hòa"),
    ],
)
def test_province_queries(backend, place, province):
    stores = backend.shops.find(place, limit=20)
    assert stores, place
    assert {s.province for s in stores} == {province}


def test_main_stores_first_and_main_only(backend):
    stores = backend.shops.find("Hà Nội", limit=10)
    flags = [s.is_main for s in stores]
    assert flags == sorted(flags, reverse=True) and flags[0] is True and False in flags
    main = backend.shops.find("ha noi", limit=10, main_only=True)
    assert main and all(s.is_main for s in main)
    assert {s.district for s in main} == {"Cầu Giấy", "Hoàn Kiếm"}


def test_limit(backend):
    assert len(backend.shops.find("tp hcm", limit=3)) == 3
    assert len(backend.shops.find("tp hcm", limit=50)) == 8


def test_district_without_main_store_falls_back_to_province_when_main_only(backend):
    stores = backend.shops.find("Bình Thạnh", main_only=True)
    assert stores and all(s.is_main and s.province == "TP Hồ Chí Minh" for s in stores)


@pytest.mark.parametrize("place", ["", "   ", "xyz", "sao hỏa", "quận 99"])
def test_unknown_places(backend, place):
    assert backend.shops.find(place) == []


def test_store_fields(backend):
    store = backend.shops.find("q1")[0]
    assert store.name == "Trung tâm giao dịch MobiFone Quận 1"
    assert store.address.endswith("Quận 1, TP Hồ Chí Minh")
    assert store.opening_hours and store.is_main
