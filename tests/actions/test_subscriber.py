"""Subscriber information, the update decision tree, the app walkthrough, the in-chat
update form and the update status, against the seeded test database."""

from __future__ import annotations

from datetime import date

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.occupation import offer_occupation
from actions.subscriber import (
    ActionAppGuideFinished,
    ActionAskAppGuideDone,
    ActionCheckSubscriberInfo,
    ActionCheckUpdateStatus,
    ActionUpdateInfo,
    ValidateAppGuideForm,
)
from actions.update_form import (
    ActionAskUpdConfirm,
    ActionSubmitUpdate,
    ValidateUpdateForm,
    classify_id_number,
    parse_vn_date,
    required_update_slots,
)
from tests.actions.conftest import make_tracker, responses, run, slot_events, verified

TODAY = date(2025, 6, 2)


async def test_check_info_shows_masked_profile_and_what_is_missing(backend, domain):
    events, messages = await run(ActionCheckSubscriberInfo(),
                                 make_tracker(slots=verified("0901000002")), domain)
    # the information and what is missing are one message (one thought)
    assert responses(messages) == ["utter_subscriber_info", "utter_decree49_missing"]
    assert len(messages) == 1
    info, missing = messages[0]["text"].split("\nTheo Nghị định 49")
    assert info.startswith("Dạ, thông tin thuê bao đang đăng ký (đã che bớt để bảo mật):\n- ")
    assert missing.startswith(", thuê bao của anh/chị còn thiếu: ảnh chân dung.")
    assert [b["payload"] for b in messages[0]["buttons"]] == []  # Rasa adds the response's
    profile = messages[0]["profile"]
    assert "090100000" in profile and "Chưa có" in profile
    subscriber = backend.subscribers.get("0901000002")
    assert subscriber.full_name not in profile and subscriber.id_number not in profile
    assert messages[0]["missing"] == "ảnh chân dung"
    assert events == []
    assert backend.audit.recent(1)[0].action == "view_masked_profile"


async def test_check_info_shows_the_labels_word_for_word(backend, domain):
    """The labels come from domain.yml (utter_profile_*, utter_decree49_item_*): what the
    customer reads is exactly what the labels in Python showed before."""
    _, messages = await run(ActionCheckSubscriberInfo(),
                            make_tracker(slots=verified("0901000001")), domain)
    assert messages[0]["profile"] == (
        "- Số thuê bao: 0901000001\n- Chủ thuê bao: N** V** An\n- Năm sinh: 1992\n"
        "- Loại giấy tờ: CCCD\n- Số giấy tờ: *********486\n"
        "- Địa chỉ (tỉnh/thành phố): Hà Nội\n- Loại thuê bao: Trả trước\n"
        "- Trạng thái: Đang hoạt động\n- Ảnh mặt trước giấy tờ: Đã có\n"
        "- Ảnh mặt sau giấy tờ: Đã có\n- Ảnh chân dung: Đã có\n- Nghề nghiệp: Đã cập nhật\n"
        "- Thông tin theo Nghị định 49: Đầy đủ")
    _, messages = await run(ActionCheckSubscriberInfo(),
                            make_tracker(slots=verified("0901000002")), domain)
    assert messages[0]["profile"].endswith(
        "- Ảnh chân dung: Chưa có\n- Nghề nghiệp: Đã cập nhật\n"
        "- Thông tin theo Nghị định 49: Còn thiếu: ảnh chân dung")
    assert messages[0]["missing"] == "ảnh chân dung"
    _, messages = await run(ActionCheckSubscriberInfo(),
                            make_tracker(slots=verified("0901000003")), domain)
    assert messages[-1]["missing"] == "ảnh mặt trước giấy tờ, ảnh mặt sau giấy tờ"


async def test_check_info_needs_a_verified_number(backend, domain):
    events, messages = await run(ActionCheckSubscriberInfo(),
                                 make_tracker(slots={"verified_msisdn": "0901000002"}), domain)
    assert (events, messages) == ([], [])
    assert backend.audit.recent(1) == []


async def test_one_way_blocked_subscriber_is_told(backend, domain):
    _, messages = await run(ActionCheckSubscriberInfo(),
                            make_tracker(slots=verified("0901000011")), domain)
    assert messages[0]["joined"] == ["utter_subscriber_info", "utter_one_way_blocked",
                                     "utter_decree49_missing"]
    assert "khóa một chiều" in messages[0]["text"]


async def test_complete_without_occupation_gets_the_offer_once(backend, domain):
    events, messages = await run(ActionCheckSubscriberInfo(),
                                 make_tracker(slots=verified("0901000010")), domain)
    assert responses(messages) == ["utter_subscriber_info", "utter_decree49_complete",
                                   "utter_offer_occupation"]
    assert len(messages) == 2  # the information; the offer (its own buttons)
    assert slot_events(events) == {"occupation_offered": True}
    again = make_tracker(slots=verified("0901000010", occupation_offered=True))
    _, messages = await run(ActionCheckSubscriberInfo(), again, domain)
    assert "utter_offer_occupation" not in responses(messages)


async def test_occupation_offer_only_by_day_and_never_for_lost_sim(backend, domain, monkeypatch):
    dispatcher = CollectingDispatcher()
    monkeypatch.setenv("BOT_FIXED_LOCAL_TIME", "22:30")
    assert offer_occupation(dispatcher, make_tracker(slots=verified("0901000010"))) == []
    monkeypatch.setenv("BOT_FIXED_LOCAL_TIME", "06:59")
    assert offer_occupation(dispatcher, make_tracker(slots=verified("0901000010"))) == []
    monkeypatch.setenv("BOT_FIXED_LOCAL_TIME", "07:00")
    lost = make_tracker(slots=verified("0901000010", lost_sim=True))
    assert offer_occupation(dispatcher, lost) == []
    assert dispatcher.messages == []
    assert offer_occupation(dispatcher, make_tracker(slots=verified("0901000010")))


async def test_update_path_premium_goes_to_a_main_store(backend, domain):
    events, messages = await run(ActionUpdateInfo(),
                                 make_tracker(slots=verified("0901000005")), domain)
    assert slot_events(events)["update_route"] == "store"
    # what is missing and why (Decree 49) comes before the steps
    assert responses(messages) == ["utter_update_missing_why", "utter_update_store_premium",
                                   "utter_store_list"]
    assert len(messages) == 1  # one thought: why, where, which stores
    assert messages[0]["missing"] == "ảnh chân dung"
    assert "cửa hàng chính" in messages[0]["stores"]
    assert messages[0]["text"].startswith("Dạ, theo Nghị định 49")
    assert "cửa hàng chính" in messages[0]["text"].split("\n")[-1]


async def test_update_path_company_and_feature_phone(backend, domain):
    _, messages = await run(ActionUpdateInfo(), make_tracker(slots=verified("0901000006")),
                            domain)
    assert responses(messages)[:2] == ["utter_update_missing_why", "utter_update_store_company"]
    events, messages = await run(ActionUpdateInfo(),
                                 make_tracker(slots=verified("0901000007")), domain)
    assert responses(messages)[1] == "utter_update_store_feature_phone"
    assert slot_events(events)["update_route"] == "store"


async def test_update_path_complete_and_online_choice(backend, domain):
    events, messages = await run(ActionUpdateInfo(),
                                 make_tracker(slots=verified("0901000001")), domain)
    assert slot_events(events)["update_route"] == "complete"
    assert responses(messages) == ["utter_update_not_needed"]
    events, messages = await run(ActionUpdateInfo(),
                                 make_tracker(slots=verified("0901000002")), domain)
    assert slot_events(events)["update_route"] == "choose"
    assert responses(messages) == ["utter_update_missing_why", "utter_update_choose_method"]
    events, messages = await run(  # the answer to "which way?": not explained again
        ActionUpdateInfo(), make_tracker(slots=verified("0901000002", update_method="app",
                                                        update_route="choose")),
        domain)
    assert slot_events(events) == {"update_method": None, "update_route": "app", "app_step": 1,
                                   "app_guide_done": None, "app_guide_last": None}
    assert messages == []


@pytest.mark.parametrize(("text", "route", "first"), [
    ("Gửi thông tin ngay tại đây", "chat", ["utter_update_chat_intro"]),
    ("gui luon o day cho nhanh", "chat", ["utter_update_chat_intro"]),
    ("Hướng dẫn cập nhật trên ứng dụng", "app", []),
    ("cap nhat qua app the nao", "app", []),
    ("cập nhật thông tin giúp em", "choose", ["utter_update_choose_method"]),
])
async def test_update_method_typed_instead_of_tapped(backend, domain, text, route, first):
    tracker = make_tracker(slots=verified("0901000003"), intent="update_subscriber_info",
                           text=text)
    events, messages = await run(ActionUpdateInfo(), tracker, domain)
    assert slot_events(events)["update_route"] == route
    assert responses(messages) == ["utter_update_missing_why", *first]


async def _guide(domain, value, step, last=None):
    tracker = make_tracker(slots=verified("0901000002", app_step=step, app_guide_last=last),
                           active_loop="app_guide_form", requested_slot="app_guide_done",
                           set_after_user={"app_guide_done": value})
    return await run(ValidateAppGuideForm(), tracker, domain)


async def test_app_walkthrough_steps(backend, domain):
    events, messages = await _guide(domain, "next", 1)
    assert slot_events(events) == {"app_guide_done": None, "app_step": 2,
                                   "app_guide_last": None}
    events, messages = await _guide(domain, "error", 3)
    assert responses(messages) == ["utter_app_step_error_3"]
    assert slot_events(events) == {"app_guide_done": None, "app_guide_last": "error"}
    events, _ = await _guide(domain, "next", 5)
    assert slot_events(events) == {"app_guide_done": "done"}
    events, _ = await _guide(domain, "done", 5)
    assert slot_events(events) == {"app_guide_done": "done"}
    # "xong" before the submit step means this step is done, not the whole update
    events, _ = await _guide(domain, "done", 2)
    assert slot_events(events) == {"app_guide_done": None, "app_step": 3,
                                   "app_guide_last": None}


async def test_app_walkthrough_shows_one_step_per_message(backend, domain):
    tracker = make_tracker(slots=verified("0901000002", app_step=4))
    _, messages = await run(ActionAskAppGuideDone(), tracker, domain)
    assert responses(messages) == ["utter_app_step_4"]
    tracker = make_tracker(slots=verified("0901000002", app_step=4, app_guide_last="error"))
    events, messages = await run(ActionAskAppGuideDone(), tracker, domain)
    assert responses(messages) == ["utter_app_step_error_options"]
    assert slot_events(events) == {"app_guide_last": None}
    events, messages = await run(ActionAppGuideFinished(),
                                 make_tracker(slots=verified("0901000002")), domain)
    assert responses(messages) == ["utter_app_guide_finished"]
    assert messages[0]["approval_hours"] == "48"


def test_dates_typed_the_vietnamese_way():
    assert parse_vn_date("5/3/1990", TODAY) == date(1990, 3, 5)
    assert parse_vn_date("05-03-90", TODAY) == date(1990, 3, 5)
    assert parse_vn_date("05.03.2001", TODAY) == date(2001, 3, 5)
    assert parse_vn_date("ngày 5 tháng 3 năm 1990", TODAY) == date(1990, 3, 5)
    assert parse_vn_date("15/08/21", TODAY) == date(2021, 8, 15)
    assert parse_vn_date("31/02/1990", TODAY) is None
    assert parse_vn_date("hôm qua", TODAY) is None


def test_id_numbers():
    assert classify_id_number("079 203 001 234") == ("CCCD", "079203001234")
    assert classify_id_number("025678912") == ("CMND", "025678912")
    assert classify_id_number("b1234567") == ("PASSPORT", "B1234567")
    assert classify_id_number("12345") is None
    assert classify_id_number("0792030012345") is None


def test_form_asks_only_for_what_is_missing(backend):
    assert required_update_slots("0901000002") == ["upd_portrait_photo", "upd_confirm"]
    assert required_update_slots("0901000003") == ["upd_id_front_photo", "upd_id_back_photo",
                                                   "upd_confirm"]
    assert required_update_slots("0901000004") == ["upd_full_name", "upd_id_number",
                                                   "upd_id_front_photo", "upd_confirm"]


async def _answer(domain, slot, value, msisdn="0901000004", slots=None, metadata=None):
    tracker = make_tracker(slots=verified(msisdn, **(slots or {})), intent="inform",
                           text=value or "", metadata=metadata, active_loop="update_form",
                           requested_slot=slot,
                           set_after_user={slot: value} if value is not None else None)
    return await run(ValidateUpdateForm(), tracker, domain)


async def test_update_form_validation(backend, domain):
    events, _ = await _answer(domain, "upd_full_name", "nguyễn văn  an")
    assert slot_events(events)["upd_full_name"] == "Nguyễn Văn An"
    assert slot_events(events)["requested_slot"] == "upd_id_number"
    events, messages = await _answer(domain, "upd_full_name", "An")
    assert slot_events(events)["upd_full_name"] is None
    assert responses(messages) == ["utter_invalid_name"]
    v = ValidateUpdateForm()
    d = CollectingDispatcher()
    t = make_tracker(slots=verified("0901000004"))
    assert v.validate_upd_id_number("0792 0300 1234", d, t, domain) == {
        "upd_id_number": "079203001234"}
    assert v.validate_upd_id_number("07920300123", d, t, domain) == {"upd_id_number": None}
    assert v.validate_upd_birth_date("5/3/1990", d, t, domain) == {"upd_birth_date": "05/03/1990"}
    assert v.validate_upd_birth_date("1/1/2020", d, t, domain) == {"upd_birth_date": None}
    assert v.validate_upd_birth_date("1/1/1890", d, t, domain) == {"upd_birth_date": None}
    assert v.validate_upd_id_issue_date("1/1/2099", d, t, domain) == {"upd_id_issue_date": None}
    assert v.validate_upd_gender("nữ", d, t, domain) == {"upd_gender": "female"}
    assert v.validate_upd_address("12 Lê Lợi, Bến Nghé, Quận 1, TP HCM", d, t, domain)[
        "upd_address"]
    assert v.validate_upd_address("Quận 1", d, t, domain) == {"upd_address": None}
    assert [m["response"] for m in d.messages] == [
        "utter_invalid_id_number", "utter_invalid_birth_date", "utter_invalid_birth_date",
        "utter_invalid_issue_date", "utter_invalid_address"]


async def test_photo_from_channel_metadata_or_missing(backend, domain):
    events, messages = await _answer(domain, "upd_portrait_photo", None, msisdn="0901000002",
                                     metadata={"photos": ["tg-file-42"]})
    assert slot_events(events)["upd_portrait_photo"] == "tg-file-42"
    assert slot_events(events)["requested_slot"] == "upd_confirm"
    assert responses(messages) == ["utter_photo_received"]
    events, messages = await _answer(domain, "upd_portrait_photo", None, msisdn="0901000002")
    assert slot_events(events)["upd_portrait_photo"] is None
    assert responses(messages) == ["utter_photo_missing"]


async def test_summary_then_submit_creates_a_request_due_in_48_hours(backend, clock, domain):
    slots = verified("0901000002", upd_portrait_photo="tg-file-42", upd_confirm=True)
    _, messages = await run(ActionAskUpdConfirm(), make_tracker(slots=slots), domain)
    assert "Ảnh chân dung: đã nhận" in messages[0]["summary"]
    events, messages = await run(ActionSubmitUpdate(), make_tracker(slots=slots), domain)
    assert responses(messages) == ["utter_update_submitted"]
    request = backend.update_requests.latest("0901000002")
    assert request.status == "pending"
    assert (request.due_at - request.submitted_at).total_seconds() == 48 * 3600
    assert slot_events(events)["upd_portrait_photo"] is None


async def test_declined_summary_is_not_submitted(backend, domain):
    slots = verified("0901000002", upd_portrait_photo="x.jpg", upd_confirm=False)
    _, messages = await run(ActionSubmitUpdate(), make_tracker(slots=slots), domain)
    assert responses(messages) == ["utter_update_not_submitted"]
    assert backend.update_requests.latest("0901000002") is None


async def test_update_status(backend, domain):
    _, messages = await run(ActionCheckUpdateStatus(),
                            make_tracker(slots=verified("0901000013")), domain)
    assert responses(messages) == ["utter_update_status_pending"]
    _, messages = await run(ActionCheckUpdateStatus(),
                            make_tracker(slots=verified("0901000014")), domain)
    assert responses(messages)[0] == "utter_update_status_approved"
    _, messages = await run(ActionCheckUpdateStatus(),
                            make_tracker(slots=verified("0901000001")), domain)
    assert responses(messages) == ["utter_update_status_none"]


async def test_photo_is_not_asked_again_when_the_form_resumes(backend, domain):
    tracker = make_tracker(slots=verified("0901000002"), intent="faq", text="bao lâu duyệt",
                           active_loop="update_form", requested_slot="upd_portrait_photo",
                           latest_action="utter_faq")
    tracker.events.insert(-1, {"event": "action", "name": "utter_faq"})
    events, messages = await run(ValidateUpdateForm(), tracker, domain)
    assert "upd_portrait_photo" not in slot_events(events)
    assert messages == []
