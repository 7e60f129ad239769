"""Destructive steps only on a clear yes: the confirmation rule (actions/confirmation.py)
and the three confirmations that use it (cancel a service, activate a registration,
submit personal data), with many ways customers say no, keep it, or something unclear,
in the four styles (diacritics, none, teencode, chatty)."""

from __future__ import annotations

import pytest

from actions.confirmation import is_clear_yes, phrases, reply_is_clear_yes
from actions.services import (
    ActionConfirmRegistration,
    ActionRequestRegistration,
    ValidateCancelForm,
)
from actions.update_form import ValidateUpdateForm
from tests.actions.conftest import make_tracker, responses, run, slot_events, verified
from tests.backend_helpers import pending_registrations

NOT_YES = [
    # a no
    "không", "không ạ", "khong", "ko", "k", "hok", "hông", "không hủy", "ko huy dau",
    "dạ không cần đâu", "thôi", "thoi", "thôi khỏi", "thui ko huy nua e",
    "Không, em đừng hủy", "dung huy nha", "nope", "no",
    # keep it, changed my mind
    "giữ lại cho mình, đổi ý rồi", "giu lai cho minh doi y roi", "giữ lại cho mình nhé",
    "giữ nguyên đi em", "de nguyen di", "thôi để lại đi", "mình đổi ý rồi",
    "e ơi a đổi ý r, giữ lại nha", "đổi ý rồi ad ơi", "doi y roi", "để chị suy nghĩ thêm",
    "de suy nghi da", "khoan đã", "khoan da e", "từ từ đã em", "để mai tính",
    "lúc khác nhé", "de sau di", "dừng lại", "dung lai", "bỏ qua đi",
    # a question or a doubt
    "hủy rồi có đăng ký lại được không?", "huy xong co mat tien k", "sao phải hủy?",
    "hủy thì sao ạ", "mất phí bao nhiêu", "ok nhưng mà có mất tiền không",
    "ừ mà khoan, hủy có ảnh hưởng gì không", "có thể giữ lại được không",
    "Dạ em ơi cho chị hỏi là nếu hủy thì lần sau đăng ký lại có được khuyến mãi nữa không ạ",
    # unclear
    "hmm", "ờm để xem", "???", "...", "😅", "abc", "gì vậy", "là sao",
    "Chị đang bận chút, lát chị nhắn lại sau nha em, giờ chưa tiện trả lời",
    "nhầm rồi", "sai rồi em",
]

YES_CANCEL = [
    "có", "co", "Có ạ", "đồng ý", "dong y", "ok", "oke e", "okie", "ừ", "uk", "uh hủy đi",
    "vâng", "dạ vâng", "đúng rồi", "dung roi", "chắc chắn", "xác nhận", "xac nhan",
    "hủy đi", "huy di", "hủy luôn giúp chị", "ok e huỷ luôn giúp a", "cắt đi em",
    "Dạ vâng em hủy giúp chị nhé, tháng nào cũng bị trừ tiền tốn quá",
    "yes", "chốt", "ừ hủy đi em ơi",
]


@pytest.mark.parametrize("text", NOT_YES)
@pytest.mark.parametrize("context", ["cancel", "register", "submit"])
def test_anything_but_a_clear_yes_is_not_a_yes(text, context):
    assert not is_clear_yes(text, context, intent="affirm")


@pytest.mark.parametrize("text", YES_CANCEL)
def test_clear_yes_to_a_cancellation(text):
    assert is_clear_yes(text, "cancel", intent="affirm")


@pytest.mark.parametrize("text", ["hủy đi", "huy di", "hủy luôn", "bỏ đi"])
def test_cancel_words_are_a_no_to_a_registration(text):
    assert is_clear_yes(text, "cancel")
    assert not is_clear_yes(text, "register")


@pytest.mark.parametrize("text", ["đăng ký đi", "dang ky luon", "ok đăng ký", "kích hoạt đi"])
def test_register_words_are_a_yes_only_to_a_registration(text):
    assert is_clear_yes(text, "register")
    assert not is_clear_yes(text, "cancel")


def test_a_yes_word_with_a_no_intent_is_not_a_yes():
    assert not is_clear_yes("ok dừng", "cancel", intent="stop")
    assert not is_clear_yes("có", "cancel", intent="deny")
    assert not is_clear_yes("có", "cancel", intent="faq")


def test_buttons():
    assert is_clear_yes("/affirm", "cancel", intent="affirm")
    assert not is_clear_yes("/deny", "cancel", intent="deny")
    assert is_clear_yes('/confirm_registration{"service": "C90N"}', "register",
                        intent="confirm_registration")
    assert not is_clear_yes('/confirm_registration{"service": "C90N"}', "cancel")


def test_service_names_are_not_read_as_words():
    """'nhạc chờ' holds 'chờ' (wait): the service entity's words are left out."""
    message = {"text": "hủy nhạc chờ đi", "intent": {"name": "affirm"},
               "entities": [{"entity": "service", "start": 4, "end": 12, "value": "FUNRING"}]}
    assert reply_is_clear_yes(message, "cancel")
    assert not is_clear_yes("hủy nhạc chờ đi", "cancel")  # without the entity: not sure


def test_ambiguous_words_without_diacritics_are_ignored():
    """'dung' is đúng (yes) or dừng (stop): alone it says nothing."""
    cancel = phrases("cancel")
    assert ("dung",) not in cancel.yes_folded and ("dung",) not in cancel.not_yes_folded
    assert not is_clear_yes("dung", "cancel")
    assert is_clear_yes("đúng", "cancel")


# --- the cancel confirmation -------------------------------------------------------------

def _at_cancel_confirmation(text, intent, entities=None):
    return make_tracker(slots=verified("0901000001", service="FUNRING"), intent=intent,
                        text=text, entities=entities, active_loop="cancel_form",
                        requested_slot="cancel_confirmed")


@pytest.mark.parametrize("text,intent", [
    ("giữ lại cho mình, đổi ý rồi", "affirm"),
    ("giu lai cho minh, doi y roi", "affirm"),
    ("thui e ơi giữ lại cho a, a đổi ý r", "affirm"),
    ("ko huy nua", "deny"),
    ("hủy rồi có đăng ký lại được không", "faq"),
    ("thôi dừng lại", "stop"),
    ("asdfgh", "nlu_fallback"),
    ("hủy dịch vụ nhạc chờ có mất tiền không", "cancel_service"),
])
async def test_cancel_confirmation_keeps_the_service_unless_a_clear_yes(
        backend, domain, text, intent):
    events, _ = await run(ValidateCancelForm(), _at_cancel_confirmation(text, intent), domain)
    assert slot_events(events)["cancel_confirmed"] is False
    assert {s.code for s in backend.vas.active_subscriptions("0901000001")} == {"FUNRING", "MCA"}


async def test_cancel_confirmation_clear_yes(backend, domain):
    events, _ = await run(ValidateCancelForm(), _at_cancel_confirmation("ừ hủy đi", "affirm"),
                          domain)
    assert slot_events(events)["cancel_confirmed"] is True


async def test_naming_the_same_service_again_keeps_the_question(backend, domain):
    tracker = make_tracker(
        slots=verified("0901000001"), intent="cancel_service", text="ok hủy nhạc chờ đi",
        entities=[{"entity": "service", "start": 7, "end": 15, "value": "FUNRING"}],
        active_loop="cancel_form", requested_slot="cancel_confirmed",
        set_after_user={"service": "FUNRING"})
    tracker.events.insert(0, {"event": "slot", "name": "service", "value": "FUNRING"})
    events, _ = await run(ValidateCancelForm(), tracker, domain)
    assert slot_events(events) == {"service": "FUNRING", "cancel_confirmed": True}


async def test_a_human_request_at_the_confirmation_is_left_to_its_rule(backend, domain):
    events, _ = await run(ValidateCancelForm(),
                          _at_cancel_confirmation("cho gặp nhân viên", "request_human"), domain)
    assert "cancel_confirmed" not in slot_events(events)


# --- the second registration confirmation ------------------------------------------------

@pytest.mark.parametrize("text,intent", [
    ("ừ mà thôi khỏi đi", "affirm"),
    ("ok để mai tính", "affirm"),
    ("thoi ko dk nua", "confirm_registration"),
    ("hủy đi em", "affirm"),
])
async def test_registration_not_activated_without_a_clear_yes(backend, domain, text, intent):
    tracker = make_tracker(slots=verified("0901000001", service="C90N"))
    await run(ActionRequestRegistration(), tracker, domain)
    answer = make_tracker(slots=verified("0901000001", service="C90N"), intent=intent,
                          text=text)
    events, messages = await run(ActionConfirmRegistration(), answer, domain)
    assert responses(messages) == ["utter_registration_not_confirmed"]
    assert "C90N" not in {s.code for s in backend.vas.active_subscriptions("0901000001")}
    assert [p.code for p in pending_registrations(backend, "0901000001")] == ["C90N"]


async def test_registration_activated_on_a_typed_clear_yes(backend, domain):
    tracker = make_tracker(slots=verified("0901000001", service="C90N"))
    await run(ActionRequestRegistration(), tracker, domain)
    answer = make_tracker(slots=verified("0901000001", service="C90N"), intent="affirm",
                          text="ok đăng ký luôn em")
    _, messages = await run(ActionConfirmRegistration(), answer, domain)
    assert responses(messages) == ["utter_registration_activated"]


def test_declining_says_the_request_lapses_after_the_configured_hours():
    """Every variation says when the request lapses, from bot/operator.yml."""
    from bot import texts

    variations = texts.responses()["utter_registration_not_confirmed"]
    assert len(variations) >= 2
    assert all("{confirm_hours} giờ" in v["text"] for v in variations)


# --- the update summary ------------------------------------------------------------------

def _at_summary(text, intent, metadata=None, sender_id="tg-1001"):
    return make_tracker(slots=verified("0901000002", upd_portrait_photo="tg-file-1"),
                        intent=intent, text=text, metadata=metadata, active_loop="update_form",
                        requested_slot="upd_confirm", sender_id=sender_id)


@pytest.mark.parametrize("text,intent", [
    ("chưa đúng", "deny"), ("sai ngày sinh rồi em", "affirm"), ("ok nhưng sửa tên giúp", "affirm"),
    ("hmm", "nlu_fallback"),
])
async def test_summary_not_submitted_without_a_clear_yes(backend, domain, text, intent):
    events, _ = await run(ValidateUpdateForm(), _at_summary(text, intent), domain)
    assert slot_events(events)["upd_confirm"] is False


async def test_summary_clear_yes(backend, domain):
    events, _ = await run(ValidateUpdateForm(), _at_summary("đúng rồi gửi đi em", "affirm"),
                          domain)
    assert slot_events(events)["upd_confirm"] is True


async def test_a_photo_at_the_summary_shows_the_summary_again(backend, domain):
    events, messages = await run(
        ValidateUpdateForm(), _at_summary("", "inform", metadata={"photos": ["tg-file-2"]}),
        domain)
    assert slot_events(events)["upd_confirm"] is None
    assert responses(messages) == ["utter_photo_at_summary"]


async def test_a_question_at_the_summary_is_answered_then_asked_again(backend, domain):
    events, _ = await run(ValidateUpdateForm(), _at_summary("bao lâu được duyệt", "faq"),
                          domain)
    assert "upd_confirm" not in slot_events(events)


# --- names typed without diacritics (update form) --------------------------------------

def _name(text, msisdn, asked=False):
    tracker = make_tracker(slots=verified(msisdn), intent="inform", text=text,
                           active_loop="update_form", requested_slot="upd_full_name",
                           set_after_user={"upd_full_name": text})
    if asked:
        tracker.events.insert(0, {"event": "bot", "text": "...",
                                  "metadata": {"utter_action": "utter_ask_name_diacritics"}})
    return tracker


async def test_a_name_without_diacritics_is_the_registered_one_when_it_matches(backend,
                                                                                domain):
    events, messages = await run(ValidateUpdateForm(), _name("pham minh tuan", "0901000004"),
                                 domain)
    assert slot_events(events)["upd_full_name"] == "Phạm Minh Tuấn"
    assert messages == []


async def test_another_name_without_diacritics_is_asked_once_with_them(backend, domain):
    events, messages = await run(ValidateUpdateForm(), _name("nguyen thi hoa", "0901000004"),
                                 domain)
    assert slot_events(events)["upd_full_name"] is None
    assert responses(messages) == ["utter_ask_name_diacritics"]
    events, _ = await run(ValidateUpdateForm(),
                          _name("nguyen thi hoa", "0901000004", asked=True), domain)
    assert slot_events(events)["upd_full_name"] == "Nguyen Thi Hoa"
