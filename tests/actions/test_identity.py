"""Identity: OTP form validation and the channel-verified contact, against the test DB."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.identity import (
    ActionAskPhoneNumber,
    ActionIdentityResult,
    ActionRequireIdentity,
    ValidateVerifyForm,
)
from actions.slot_mappings import ActionExtractMessageSlots
from bot.channels.models import ChannelLink
from tests.actions.conftest import make_tracker, responses, run, slot_events

NUMBER = "0901000002"


async def _answer_phone(domain, value, slots=None):
    tracker = make_tracker(intent="inform", text=value, active_loop="verify_form",
                           requested_slot="phone_number", slots=slots,
                           set_after_user={"phone_number": value})
    return await run(ValidateVerifyForm(), tracker, domain)


async def _answer_otp(domain, code, intent="inform", slots=None):
    tracker = make_tracker(intent=intent, text=code, active_loop="verify_form",
                           requested_slot="otp_code", slots={"phone_number": NUMBER,
                                                             **(slots or {})},
                           set_after_user={"otp_code": code})
    return await run(ValidateVerifyForm(), tracker, domain)


async def test_a_proof_in_the_ledger_sets_the_identity_slots(backend, domain):
    """A Telegram contact recorded by the channel (or a call-center transfer) for this
    conversation: the custom slot mapping mirrors it into the slots."""
    backend.identity.record("tg-1001", NUMBER, "telegram_contact")
    tracker = make_tracker(intent="check_balance", text="số dư")
    events, _ = await run(ActionExtractMessageSlots(), tracker, domain)
    assert events == [SlotSet("verified_msisdn", NUMBER), SlotSet("identity_verified", True),
                      SlotSet("phone_number", NUMBER)]
    # another conversation does not get it
    other = make_tracker(intent="check_balance", text="số dư", sender_id="tg-2002")
    assert (await run(ActionExtractMessageSlots(), other, domain))[0] == []


async def test_metadata_claiming_a_number_proves_nothing(backend, domain):
    tracker = make_tracker(text="hi", metadata={"channel": "telegram", "user_id": "1001",
                                                "verified_msisdn": "+84901000002"})
    assert (await run(ActionExtractMessageSlots(), tracker, domain))[0] == []
    assert (await run(ActionExtractMessageSlots(), make_tracker(text="hi"), domain))[0] == []


async def test_forged_identity_slots_are_cleared(backend, domain):
    forged = make_tracker(text="hi", slots={"identity_verified": True,
                                            "verified_msisdn": NUMBER}, proof=False)
    events, _ = await run(ActionExtractMessageSlots(), forged, domain)
    assert events == [SlotSet("verified_msisdn", None), SlotSet("identity_verified", False)]


async def test_an_expired_proof_no_longer_counts(backend, clock, domain):
    backend.identity.record("tg-1001", NUMBER, "otp")
    clock.advance(minutes=61)
    tracker = make_tracker(text="hi", slots={"identity_verified": True,
                                             "verified_msisdn": NUMBER}, proof=False)
    events, _ = await run(ActionExtractMessageSlots(), tracker, domain)
    assert events == [SlotSet("verified_msisdn", None), SlotSet("identity_verified", False)]


async def test_require_identity_remembers_the_request(backend, domain):
    events, messages = await run(ActionRequireIdentity(),
                                 make_tracker(intent="cancel_service"), domain)
    assert slot_events(events) == {"pending_request": "cancel_service", "otp_code": None}
    assert messages == []  # why + the number question come as one message (next test)
    _, messages = await run(ActionRequireIdentity(), make_tracker(
        intent="check_balance", text="số dư 0901000001",
        entities=[{"entity": "phone_number", "value": "0901000001"}]), domain)
    assert messages == []  # the number came along: why + "code sent" are one message


async def test_number_with_the_request_why_and_code_sent_are_one_message(backend, domain):
    tracker = make_tracker(intent="check_balance", text="số dư 0901000002",
                           active_loop="verify_form", requested_slot="phone_number",
                           set_after_user={"phone_number": NUMBER})
    tracker.events.insert(2, {"event": "action", "name": "action_require_identity"})
    events, messages = await run(ValidateVerifyForm(), tracker, domain)
    assert slot_events(events)["phone_number"] == NUMBER
    assert responses(messages) == ["utter_identity_otp_sent"]
    assert messages[0]["masked_msisdn"] == "090***0002"


def _form_tracker(said: list[str]):
    tracker = make_tracker(intent="inform", text="0901000002", active_loop="verify_form",
                           requested_slot="otp_code")
    tracker.events += [{"event": "bot", "text": "...", "metadata": {"utter_action": name}}
                       for name in said]
    return tracker


async def test_the_code_question_is_not_repeated_under_an_answer_that_asks_for_it(backend,
                                                                               domain):
    from actions.identity import ASKS_FOR_THE_CODE, ActionAskOtpCode

    for name in ASKS_FOR_THE_CODE:
        assert (await run(ActionAskOtpCode(), _form_tracker([name]), domain))[1] == []
    # after a side question (FAQ answered) or at a new turn: the question itself
    for said in ([], ["utter_faq/decree_49"]):
        events, messages = await run(ActionAskOtpCode(), _form_tracker(said), domain)
        assert (events, responses(messages)) == ([], ["utter_ask_otp_code"])


async def test_the_reason_and_the_number_question_are_one_message(backend, domain):
    tracker = make_tracker(intent="check_balance", active_loop="verify_form")
    tracker.events.insert(2, {"event": "action", "name": "action_require_identity"})
    _, messages = await run(ActionAskPhoneNumber(), tracker, domain)
    assert responses(messages) == ["utter_identity_ask_phone_number"]
    _, messages = await run(ActionAskPhoneNumber(), make_tracker(
        intent="inform", text="12345", active_loop="verify_form"), domain)
    assert responses(messages) == ["utter_ask_phone_number"]


async def test_valid_number_gets_an_otp_by_sms(backend, domain):
    events, messages = await _answer_phone(domain, "090 100 0002")
    assert slot_events(events)["phone_number"] == NUMBER
    assert responses(messages) == ["utter_otp_sent"]
    assert messages[0]["masked_msisdn"] == "090***0002"
    outbox = backend.sms.outbox(NUMBER)
    assert outbox and "123456" in outbox[-1].text


async def test_invalid_and_unknown_numbers_are_refused(backend, domain):
    events, messages = await _answer_phone(domain, "12345")
    assert slot_events(events)["phone_number"] is None
    assert responses(messages) == ["utter_phone_invalid"]
    events, messages = await _answer_phone(domain, "0999999999")
    assert slot_events(events)["phone_number"] is None
    assert responses(messages) == ["utter_phone_not_subscriber"]
    assert backend.sms.outbox("0999999999") == []


async def test_three_invalid_numbers_offer_help(backend, domain):
    failures = {}
    for _attempt in range(3):
        events, messages = await _answer_phone(domain, "abc",
                                               slots={"validation_failures": failures})
        failures = slot_events(events)["validation_failures"]
    assert responses(messages) == ["utter_phone_invalid", "utter_explain_phone_number",
                                   "utter_need_more_help"]
    assert failures == {"phone_number": 0}


async def test_correct_otp_verifies_and_is_audited(backend, domain):
    await _answer_phone(domain, NUMBER)
    events, messages = await _answer_otp(domain, "123456")
    assert slot_events(events) == {"otp_code": "verified", "verified_msisdn": NUMBER,
                                   "identity_verified": True}
    assert messages == []
    assert backend.audit.recent(1)[0].action == "identity_verified_otp"
    # the chat (sender tg-1001) is now linked to the proven number for the call center
    with backend.engine.connect() as conn:
        link = conn.execute(select(ChannelLink.channel, ChannelLink.user_id,
                                   ChannelLink.verified_msisdn)).all()
    assert link == [("telegram", "1001", NUMBER)]


async def test_wrong_otp_five_times_stops_the_form(backend, domain):
    await _answer_phone(domain, NUMBER)
    for left in (4, 3, 2, 1):
        events, messages = await _answer_otp(domain, "000000")
        assert slot_events(events)["otp_code"] is None
        assert messages[0]["response"] == "utter_otp_wrong"
        assert messages[0]["attempts_left"] == str(left)
    events, messages = await _answer_otp(domain, "000000")
    assert slot_events(events) == {"otp_code": None, "requested_slot": None}
    assert responses(messages) == ["utter_otp_too_many"]
    # even the right code is refused now
    events, _ = await _answer_otp(domain, "123456")
    assert "verified_msisdn" not in slot_events(events)


async def test_expired_otp_and_resend_with_cooldown(backend, clock, domain):
    await _answer_phone(domain, NUMBER)
    events, messages = await _answer_otp(domain, "resend", intent="resend_otp")
    assert responses(messages) == ["utter_otp_cooldown"]
    assert slot_events(events)["otp_code"] is None
    clock.advance(minutes=6)
    events, messages = await _answer_otp(domain, "123456")
    assert responses(messages) == ["utter_otp_expired"]
    events, messages = await _answer_otp(domain, "resend", intent="resend_otp")
    assert responses(messages) == ["utter_otp_sent"]
    events, _ = await _answer_otp(domain, "123456")
    assert slot_events(events)["identity_verified"] is True


async def test_malformed_otp_asks_again(backend, domain):
    await _answer_phone(domain, NUMBER)
    events, messages = await _answer_otp(domain, "12ab")
    assert responses(messages) == ["utter_otp_format"]
    assert slot_events(events)["otp_code"] is None


async def test_identity_result(backend, domain):
    ok = make_tracker(slots={"identity_verified": True, "verified_msisdn": NUMBER})
    events, messages = await run(ActionIdentityResult(), ok, domain)
    assert events == [SlotSet("identity_verified", True), SlotSet("otp_code", None)]
    assert responses(messages) == ["utter_identity_ok"]  # nothing follows: said alone
    # a remembered request follows: its first message carries "verified" (one message)
    ok = make_tracker(slots={"identity_verified": True, "verified_msisdn": NUMBER,
                             "pending_request": "check_balance"})
    events, messages = await run(ActionIdentityResult(), ok, domain)
    assert events == [SlotSet("identity_verified", True), SlotSet("otp_code", None)]
    assert messages == []
    failed = make_tracker(slots={"pending_request": "check_balance"}, sender_id="tg-2002")
    events, messages = await run(ActionIdentityResult(), failed, domain)
    assert slot_events(events) == {"identity_verified": False, "pending_request": None,
                                   "otp_code": None}
    assert responses(messages) == ["utter_identity_failed"]


async def test_shared_telegram_contact_completes_the_form_without_otp(backend, domain):
    """The contact button sends /inform{"phone_number": ...}; the channel recorded the proof
    and the custom slot mapping already set the identity, so no OTP is sent."""
    slots = {"identity_verified": True, "verified_msisdn": NUMBER}
    events, messages = await _answer_phone(domain, NUMBER, slots=slots)
    assert slot_events(events) == {"phone_number": NUMBER, "otp_code": "verified"}
    assert messages == []
    assert backend.sms.outbox(NUMBER) == []


async def test_text_that_is_no_code_three_times_offers_help(backend, domain):
    # "tiếp", "xong"... typed at the OTP question used to loop on utter_otp_format forever
    await _answer_phone(domain, NUMBER)
    events, messages = await _answer_otp(domain, "000000")  # a wrong code: backend counts it
    assert responses(messages) == ["utter_otp_wrong"]
    assert "validation_failures" not in slot_events(events)
    failures = {}
    for text in ("tiếp", "xong", "em bị lỗi"):
        events, messages = await _answer_otp(domain, text, slots={"validation_failures": failures})
        failures = slot_events(events)["validation_failures"]
    assert responses(messages) == ["utter_otp_format", "utter_explain_otp_code",
                                   "utter_need_more_help"]
    assert failures == {"otp_code": 0}


async def test_a_used_code_typed_again_gets_a_fresh_code_at_once(backend, domain):
    # the code was used a moment ago: this chat holds no code now, so it gets a new one
    # at once (a used code holds no cool-down) and is told why
    await _answer_phone(domain, NUMBER)
    await _answer_otp(domain, "123456")
    events, messages = await _answer_otp(domain, "123456")
    assert responses(messages) == ["utter_otp_replaced"]
    assert slot_events(events)["otp_code"] is None
    assert len(backend.sms.outbox(NUMBER)) == 2


async def test_within_the_cool_down_after_another_chat_used_its_code(backend, clock, domain):
    """Known gap 2: another chat verified the number 20 s ago; this chat's number step
    sends its own code instead of "a code was just sent, wait 40 s"."""
    backend.otp.issue(NUMBER, "zalo", "zalo-77")
    assert backend.otp.verify(NUMBER, "123456", "zalo-77").status == "ok"
    clock.advance(seconds=20)
    events, messages = await _answer_phone(domain, NUMBER)
    assert responses(messages) == ["utter_otp_sent"]
    assert slot_events(events)["phone_number"] == NUMBER
    assert backend.otp.verify(NUMBER, "123456", "tg-1001").status == "ok"


async def test_another_chats_unused_code_is_told_as_it_is(backend, clock, domain):
    # another chat holds an unused code sent 20 s ago: no code for this chat yet, and it
    # is told exactly why and how long to wait (not "the code was just sent")
    backend.otp.issue(NUMBER, "zalo", "zalo-77")
    clock.advance(seconds=20)
    events, messages = await _answer_phone(domain, NUMBER)
    assert responses(messages) == ["utter_otp_cooldown_elsewhere"]
    assert messages[0]["seconds"] == "40"
    assert slot_events(events)["phone_number"] == NUMBER
    # this chat's own code, sent a moment ago: "the code was just sent" is true
    clock.advance(seconds=40)
    await _answer_phone(domain, NUMBER)
    _, messages = await _answer_otp(domain, "resend", intent="resend_otp")
    assert responses(messages) == ["utter_otp_cooldown"]


async def test_another_request_at_the_code_question_is_kept_for_after_the_code(backend,
                                                                              domain):
    backend.otp.issue(NUMBER, "chat", "tg-1001")
    events, messages = await _answer_otp(domain, "à hủy luôn cái MobiTV nhé",
                                         intent="cancel_service",
                                         slots={"pending_request": "check_balance"})
    assert slot_events(events)["pending_request"] == "cancel_service"
    assert slot_events(events)["otp_code"] is None
    assert responses(messages) == ["utter_request_after_otp"]
    assert messages[0]["label"] == "hủy dịch vụ"
    assert "validation_failures" not in slot_events(events)  # not a failed answer


async def test_verified_and_the_answer_are_one_message(backend, domain):
    """After the code (action_identity_result said nothing), the remembered request's first
    message starts with the "verified" line; its response name is kept."""
    from actions.account import ActionCheckBalance

    tracker = make_tracker(intent="inform", text="123456", sender_id="tg-3003",
                           slots={"identity_verified": True, "verified_msisdn": "0901000001",
                                  "customer_title": "chị", "customer_title_cap": "Chị"})
    tracker.events += [{"event": "action", "name": "action_identity_result"},
                       {"event": "slot", "name": "identity_verified", "value": True}]
    events, messages = await run(ActionCheckBalance(), tracker, domain)
    assert events == []
    assert responses(messages) == ["utter_balance_prepaid"]
    first, answer = messages[0]["text"].split("\n")
    assert first == "Em đã xác minh xong số 090***0001 ạ."
    assert answer.startswith("Dạ, tài khoản chính của thuê bao 090***0001 hiện còn 125.000")
    # a later look-up in the same conversation (a new turn): no "verified" line
    later = make_tracker(intent="check_balance", text="số dư", sender_id="tg-3003",
                         slots={"identity_verified": True, "verified_msisdn": "0901000001"})
    _, messages = await run(ActionCheckBalance(), later, domain)
    assert messages[0]["text"] is None and responses(messages) == ["utter_balance_prepaid"]
