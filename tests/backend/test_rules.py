"""Decree-49 completeness, the call-center update path and masking (pure rules + backend)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from bot import texts
from bot.backend import UpdatePath
from bot.backend import reference as ref


def _complete_view(backend):
    view = backend.subscribers.get("0901000001")
    assert ref.decree49(view).complete
    return view


@pytest.mark.parametrize(
    ("change", "code", "label"),
    [
        ({"has_portrait_photo": False}, "portrait_photo", "ảnh chân dung"),
        ({"has_id_front_photo": False}, "id_front_photo", "ảnh mặt trước giấy tờ"),
        ({"has_id_back_photo": False}, "id_back_photo", "ảnh mặt sau giấy tờ"),
        ({"name_mismatch": True}, "name_match", "họ tên khớp giấy tờ"),
        ({"full_name": " "}, "full_name", "họ tên chủ thuê bao"),
        ({"ward": None}, "address", "địa chỉ"),
        ({"birth_date": None}, "birth_date", "ngày sinh"),
        ({"gender": None}, "gender", "giới tính"),
        ({"nationality": None}, "nationality", "quốc tịch"),
        ({"id_number": None}, "id_document", "số giấy tờ tùy thân"),
        ({"id_issue_place": ""}, "id_issue", "ngày cấp và nơi cấp giấy tờ"),
    ],
)
def test_each_missing_item_is_listed_alone(backend, change, code, label):
    view = dataclasses.replace(_complete_view(backend), **change)
    status = ref.decree49(view)
    assert status.complete is False
    assert status.missing == (code,)
    assert ref.item_labels(status.missing, texts.text) == label  # domain.yml


def test_missing_occupation_alone_keeps_decree49_complete(backend):
    view = dataclasses.replace(_complete_view(backend), occupation_code=None)
    status = ref.decree49(view)
    assert status.complete and status.missing == () and status.occupation_missing


def test_passport_needs_no_back_photo(backend):
    view = dataclasses.replace(_complete_view(backend), id_type="PASSPORT", id_number="C1234567",
                               has_id_back_photo=False)
    assert ref.decree49(view).complete


def test_missing_items_keep_form_order(backend):
    view = dataclasses.replace(_complete_view(backend), has_portrait_photo=False,
                               has_id_front_photo=False, name_mismatch=True)
    assert ref.decree49(view).missing == ("name_match", "id_front_photo", "portrait_photo")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({}, UpdatePath.COMPLETE),
        ({"has_portrait_photo": False}, UpdatePath.ONLINE_APP),
        ({"has_portrait_photo": False, "is_premium_number": True, "premium_commitment": True},
         UpdatePath.STORE_PREMIUM),
        # A premium number without commitment follows the ordinary path.
        ({"has_portrait_photo": False, "is_premium_number": True}, UpdatePath.ONLINE_APP),
        ({"has_portrait_photo": False, "company_tax_code": "0101234567"},
         UpdatePath.STORE_COMPANY),
        ({"has_portrait_photo": False, "device": "feature_phone"},
         UpdatePath.STORE_FEATURE_PHONE),
        # Premium beats company beats feature phone (order of the call-center script).
        ({"has_portrait_photo": False, "is_premium_number": True, "premium_commitment": True,
          "company_tax_code": "0101234567", "device": "feature_phone"}, UpdatePath.STORE_PREMIUM),
        ({"has_portrait_photo": False, "company_tax_code": "0101234567",
          "device": "feature_phone"}, UpdatePath.STORE_COMPANY),
        # Complete information: nothing to update, whatever the number type.
        ({"is_premium_number": True, "premium_commitment": True}, UpdatePath.COMPLETE),
    ],
)
def test_update_path_decision(backend, change, path):
    view = dataclasses.replace(_complete_view(backend), **change)
    assert ref.update_path(view) is path


def test_update_path_values_are_strings():
    assert UpdatePath.ONLINE_APP == "ONLINE_APP"
    assert {p.value for p in UpdatePath} == {"COMPLETE", "STORE_PREMIUM", "STORE_COMPANY",
                                             "STORE_FEATURE_PHONE", "ONLINE_APP"}


@pytest.mark.parametrize(
    ("name", "masked"),
    [("Nguyễn Văn An", "N** V** An"), ("Trần Thị Thu Hà", "T** T** T** Hà"), ("Lan", "Lan"),
     ("", "")],
)
def test_mask_name(name, masked):
    assert ref.mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [("001090123456", "*********456"), ("123456789", "******789"), ("C1234567", "*****567"),
     ("12", "**"), (None, "")],
)
def test_mask_id_number(number, masked):
    assert ref.mask_id_number(number) == masked


def _shown(profile: dict[str, str]) -> dict[str, str]:
    """The profile as customers read it (labels and values from domain.yml)."""
    return dict(ref.profile_lines(profile, texts.text))


def test_masked_profile_reveals_no_personal_detail(backend):
    sub = backend.subscribers.get("0901000001")
    profile = backend.subscribers.masked_profile("0901000001")
    assert profile == {
        "msisdn": "0901000001", "holder": "N** V** An",
        "birth_year": str(sub.birth_date.year), "id_type": "CCCD",
        "id_number": "*" * (len(sub.id_number) - 3) + sub.id_number[-3:],
        "province": "Hà Nội", "subscription_type": "prepaid", "status": "active",
        "id_front_photo": "yes", "id_back_photo": "yes", "portrait_photo": "yes",
        "occupation": "yes", "decree49": ""}  # codes and masked values, no label
    shown = _shown(profile)
    assert shown["Chủ thuê bao"] == "N** V** An"
    assert shown["Số giấy tờ"] == "*" * (len(sub.id_number) - 3) + sub.id_number[-3:]
    assert shown["Năm sinh"] == str(sub.birth_date.year)
    assert shown["Địa chỉ (tỉnh/thành phố)"] == "Hà Nội"
    assert shown["Loại giấy tờ"] == "CCCD"
    assert shown["Loại thuê bao"] == "Trả trước"
    assert shown["Trạng thái"] == "Đang hoạt động"
    assert shown["Ảnh chân dung"] == "Đã có"
    assert shown["Thông tin theo Nghị định 49"] == "Đầy đủ"
    text = " ".join([*profile.values(), *shown.values()])
    for secret in (sub.full_name, sub.id_number, sub.street, sub.ward, sub.district,
                   sub.birth_date.isoformat(), f"{sub.birth_date:%d/%m/%Y}", sub.id_issue_place):
        assert secret not in text


def test_masked_profile_lists_what_is_missing(backend):
    profile = backend.subscribers.masked_profile("0901000003")
    assert profile["decree49"] == "id_front_photo,id_back_photo"
    shown = _shown(profile)
    assert shown["Ảnh mặt trước giấy tờ"] == "Chưa có"
    assert shown["Ảnh mặt sau giấy tờ"] == "Chưa có"
    assert shown["Thông tin theo Nghị định 49"] == (
        "Còn thiếu: ảnh mặt trước giấy tờ, ảnh mặt sau giấy tờ")
    assert _shown(backend.subscribers.masked_profile("0901000011"))["Trạng thái"] == \
        "Bị khóa một chiều"
    assert _shown(backend.subscribers.masked_profile("0901000010"))["Nghề nghiệp"] == \
        "Chưa cập nhật"


def test_rare_profile_values_are_shown_as_before(backend):
    """Word for word what the labels in Python showed (before they moved to domain.yml):
    a passport, blocked both ways, postpaid, nothing on file, an unknown code."""
    passport = dataclasses.replace(
        _complete_view(backend), id_type="PASSPORT", has_id_back_photo=False,
        status="blocked", subscription_type="postpaid")
    shown = _shown(ref.masked_profile(passport))
    assert shown["Loại giấy tờ"] == "Hộ chiếu"
    assert shown["Ảnh mặt sau giấy tờ"] == "Không cần (hộ chiếu)"
    assert shown["Trạng thái"] == "Bị khóa hai chiều"
    assert shown["Loại thuê bao"] == "Trả sau"
    empty = dataclasses.replace(
        _complete_view(backend), full_name="", birth_date=None, id_type=None, id_number=None,
        province=None, has_id_front_photo=False, has_portrait_photo=False, name_mismatch=True,
        occupation_code=None, status="odd_status", subscription_type="odd_type")
    shown = _shown(ref.masked_profile(empty))
    assert shown == {
        "Số thuê bao": "0901000001", "Chủ thuê bao": "", "Năm sinh": "Chưa có",
        "Loại giấy tờ": "Chưa có", "Số giấy tờ": "Chưa có",
        "Địa chỉ (tỉnh/thành phố)": "Chưa có", "Loại thuê bao": "odd_type",
        "Trạng thái": "odd_status", "Ảnh mặt trước giấy tờ": "Chưa có",
        "Ảnh mặt sau giấy tờ": "Đã có", "Ảnh chân dung": "Chưa có",
        "Nghề nghiệp": "Chưa cập nhật",
        "Thông tin theo Nghị định 49": (
            "Còn thiếu: họ tên chủ thuê bao, ngày sinh, địa chỉ, số giấy tờ tùy thân, "
            "ảnh mặt trước giấy tờ, ảnh chân dung")}


def test_unknown_number(backend):
    assert backend.subscribers.get("0999999999") is None
    assert backend.subscribers.masked_profile("0999999999") == {}
    assert backend.subscribers.decree49_status("0999999999") is None
    assert backend.subscribers.update_path("0999999999") is None
    assert backend.subscribers.get("not a number") is None


def test_numbers_in_any_format(backend):
    for raw in ("0901000001", "090 100 0001", "+84901000001", "84901000001", "090.100.0001"):
        assert backend.subscribers.get(raw).msisdn == "0901000001"


def test_occupations_list_and_set(backend):
    from bot.reference.occupations import OCCUPATION_CODES, label_response

    assert tuple(range(1, 19)) == OCCUPATION_CODES
    assert texts.text(label_response(17)) == "Học sinh, sinh viên"  # domain.yml
    assert backend.subscribers.decree49_status("0901000010").occupation_missing
    assert backend.subscribers.set_occupation("0901000010", 8) is True
    assert backend.subscribers.get("0901000010").occupation_code == 8
    assert not backend.subscribers.decree49_status("0901000010").occupation_missing
    assert backend.subscribers.set_occupation("0901000010", 17) is True  # replaces: one main code
    assert backend.subscribers.get("0901000010").occupation_code == 17
    assert backend.subscribers.set_occupation("0999999999", 3) is False
    for bad in (0, 19, -1):
        with pytest.raises(ValueError):
            backend.subscribers.set_occupation("0901000010", bad)


def test_views_are_frozen(backend):
    view = backend.subscribers.get("0901000001")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.full_name = "x"
    assert isinstance(view.birth_date, date)
    assert view.app_installed_at.tzinfo is not None


@pytest.mark.parametrize(("amount", "text"), [(125000, "125.000 đ"), (0, "0 đ"),
                                              (1500000, "1.500.000 đ"), (-9000, "-9.000 đ")])
def test_format_vnd(amount, text):
    from bot.backend import format_vnd

    assert format_vnd(amount) == text


def test_local_time(clock):
    from bot.clock import to_local as local_time

    assert local_time(clock()).strftime("%H:%M %d/%m/%Y") == "10:00 02/06/2025"


def test_subscriber_repr_leaks_no_personal_data(backend):
    sub = backend.subscribers.get("0901000001")
    text = repr(sub)
    for secret in (sub.full_name, sub.id_number, str(sub.birth_date), sub.street,
                   sub.id_issue_place):
        assert secret not in text
    assert "status='active'" in text
