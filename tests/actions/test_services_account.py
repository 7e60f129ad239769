"""Services, account, app, stores, occupation, fallback and flow control actions."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.account import ActionCheckBalance, ActionCheckTopupHistory, ActionInstallApp
from actions.fallback import ActionDefaultAskAffirmation
from actions.flow import ActionReportLostSim, ActionSessionStart, ActionStopFlow
from actions.occupation import (
    ActionAskOccupationCode,
    ActionSetOccupation,
    ValidateOccupationForm,
    match_occupation,
    occupations,
)
from actions.services import (
    ActionCancelService,
    ActionConfirmRegistration,
    ActionListServices,
    ActionRequestRegistration,
    ValidateCancelForm,
)
from actions.stores import ActionFindStores, ValidateStoreForm
from tests.actions.conftest import make_tracker, responses, run, slot_events, verified
from tests.backend_helpers import pending_registrations


async def test_list_services_with_prices_and_cancel_buttons(backend, domain):
    _, messages = await run(ActionListServices(), make_tracker(slots=verified("0901000002")),
                            domain)
    # 0901000002 lacks a portrait photo: said first (once per conversation), then the list
    assert responses(messages) == ["utter_lead_decree49_missing", "utter_services_list"]
    assert "50.000 đ / 30 ngày" in messages[1]["services"]
    payloads = [b["payload"] for b in messages[1]["buttons"]]
    assert payloads == ['/cancel_service{"service": "MOBITV"}',
                        '/cancel_service{"service": "KHOGAME"}']


async def test_list_services_none(backend, domain):
    _, messages = await run(ActionListServices(), make_tracker(slots=verified("0901000008")),
                            domain)
    assert responses(messages) == ["utter_services_none"]


async def _cancel_answer(domain, value, msisdn="0901000001"):
    tracker = make_tracker(slots=verified(msisdn), intent="cancel_service", text=value,
                           active_loop="cancel_form", requested_slot="service",
                           set_after_user={"service": value})
    return await run(ValidateCancelForm(), tracker, domain)


async def test_cancel_a_service_not_subscribed(backend, domain):
    events, messages = await _cancel_answer(domain, "MOBITV")
    assert slot_events(events)["service"] is None
    assert responses(messages) == ["utter_cancel_not_subscribed"]
    assert messages[0]["service_name"] == "Truyền hình MobiTV"


async def test_cancel_by_any_name_then_confirm_cancels_in_the_database(backend, domain):
    events, messages = await _cancel_answer(domain, "nhạc chờ")
    assert slot_events(events) == {"service": "FUNRING", "cancel_confirmed": None}
    assert messages == []
    tracker = make_tracker(slots=verified("0901000001", service="FUNRING",
                                          cancel_confirmed=True))
    events, messages = await run(ActionCancelService(), tracker, domain)
    assert responses(messages) == ["utter_cancel_done"]
    assert events[:2] == [SlotSet("service", None), SlotSet("cancel_confirmed", None)]
    assert [s.code for s in backend.vas.active_subscriptions("0901000001")] == ["MCA"]


async def test_cancel_declined_keeps_the_service(backend, domain):
    tracker = make_tracker(slots=verified("0901000001", service="FUNRING",
                                          cancel_confirmed=False))
    _, messages = await run(ActionCancelService(), tracker, domain)
    assert responses(messages) == ["utter_cancel_kept"]
    assert {s.code for s in backend.vas.active_subscriptions("0901000001")} == {"FUNRING", "MCA"}


async def test_cancel_form_ends_when_nothing_is_active(backend, domain):
    tracker = make_tracker(slots=verified("0901000008"), intent="cancel_service",
                           active_loop="cancel_form")
    events, messages = await run(ValidateCancelForm(), tracker, domain)
    assert events == [SlotSet("service", None), SlotSet("requested_slot", None)]
    assert responses(messages) == ["utter_services_none"]


async def test_registration_is_pending_until_confirmed(backend, domain):
    tracker = make_tracker(slots=verified("0901000001", service="C90N"))
    _, messages = await run(ActionRequestRegistration(), tracker, domain)
    assert responses(messages) == ["utter_registration_pending"]
    assert messages[0]["service_code"] == "C90N"
    assert [p.code for p in pending_registrations(backend, "0901000001")] == ["C90N"]
    yes = make_tracker(slots=verified("0901000001", service="C90N"), intent="affirm",
                       text="/affirm")
    events, messages = await run(ActionConfirmRegistration(), yes, domain)
    assert responses(messages) == ["utter_registration_activated"]
    assert "C90N" in {s.code for s in backend.vas.active_subscriptions("0901000001")}


async def test_confirm_after_12_hours_is_expired(backend, domain):
    tracker = make_tracker(slots=verified("0901000008", service="C90N"),
                           intent="confirm_registration", text="xác nhận đăng ký gói C90N")
    events, messages = await run(ActionConfirmRegistration(), tracker, domain)
    assert responses(messages) == ["utter_registration_expired"]
    assert messages[0]["service_code"] == "C90N"
    assert backend.vas.active_subscriptions("0901000008") == []


async def test_confirm_pending_d5_without_naming_it(backend, domain):
    _, messages = await run(ActionConfirmRegistration(),
                            make_tracker(slots=verified("0901000009"), text="xac nhan dang ky",
                                         intent="confirm_registration"), domain)
    assert responses(messages) == ["utter_registration_activated"]
    assert "D5" in {s.code for s in backend.vas.active_subscriptions("0901000009")}


async def test_balance_and_topups(backend, domain):
    _, messages = await run(ActionCheckBalance(), make_tracker(slots=verified("0901000001")),
                            domain)
    assert responses(messages) == ["utter_balance_prepaid"]
    assert messages[0]["amount"] == "125.000 đ"
    _, messages = await run(ActionCheckBalance(), make_tracker(slots=verified("0901000010")),
                            domain)
    assert responses(messages)[0] == "utter_balance_postpaid"
    _, messages = await run(ActionCheckTopupHistory(),
                            make_tracker(slots=verified("0901000015")), domain)
    assert responses(messages) == ["utter_topups"]
    assert messages[0]["topups"].count("\n") >= 1
    assert not (await run(ActionCheckBalance(), make_tracker(sender_id="tg-unverified"), domain))[1]


async def test_install_app_rules(backend, domain):
    _, messages = await run(ActionInstallApp(), make_tracker(slots=verified("0901000002")),
                            domain)
    assert responses(messages) == ["utter_lead_decree49_missing", "utter_app_sms_sent"]
    assert "mbf.vn/appdl" in backend.sms.outbox("0901000002")[-1].text
    _, messages = await run(ActionInstallApp(), make_tracker(slots=verified("0901000007")),
                            domain)
    assert responses(messages) == ["utter_lead_decree49_missing", "utter_app_feature_phone"]
    _, messages = await run(ActionInstallApp(), make_tracker(slots=verified("0901000012")),
                            domain)
    assert responses(messages) == ["utter_app_consulted_elsewhere"]
    _, messages = await run(ActionInstallApp(), make_tracker(slots=verified("0901000001")),
                            domain)
    assert responses(messages) == ["utter_app_installed"]


async def test_store_finder(backend, domain):
    v = ValidateStoreForm()
    tracker = make_tracker(intent="find_store", active_loop="store_form",
                           requested_slot="location", set_after_user={"location": "quan 3"})
    events, messages = await run(v, tracker, domain)
    assert slot_events(events)["location"] == "quan 3" and messages == []
    tracker = make_tracker(intent="inform", active_loop="store_form", requested_slot="location",
                           set_after_user={"location": "sao hỏa"})
    events, messages = await run(v, tracker, domain)
    assert slot_events(events)["location"] is None
    assert responses(messages) == ["utter_location_not_found"]
    events, messages = await run(ActionFindStores(),
                                 make_tracker(slots={"location": "Cầu Giấy"}), domain)
    assert responses(messages) == ["utter_stores_found"]
    assert events == [SlotSet("location", None)]


async def test_occupation(backend, domain):
    labels = occupations()
    assert labels[16] == (17, "Học sinh, sinh viên")  # from domain.yml
    assert match_occupation("4", labels) == 4
    assert match_occupation("tôi là giáo viên", labels) == 10
    assert match_occupation("sinh vien", labels) == 17
    assert match_occupation("abc xyz", labels) is None
    _, messages = await run(ActionAskOccupationCode(), make_tracker(), domain)
    assert len(messages[0]["buttons"]) == 18
    tracker = make_tracker(slots=verified("0901000010"), intent="inform", text="kế toán",
                           active_loop="occupation_form", requested_slot="occupation_code",
                           set_after_user={"occupation_code": "kế toán"})
    events, _ = await run(ValidateOccupationForm(), tracker, domain)
    assert slot_events(events)["occupation_code"] == "8"
    events, messages = await run(ActionSetOccupation(),
                                 make_tracker(slots=verified("0901000010", occupation_code="8")),
                                 domain)
    assert responses(messages) == ["utter_occupation_saved"]
    assert backend.subscribers.get("0901000010").occupation_code == 8


async def test_fallback_asks_with_a_vietnamese_label(domain):
    tracker = make_tracker(intent="nlu_fallback", ranking=[
        {"name": "nlu_fallback", "confidence": 0.3}, {"name": "cancel_service",
                                                      "confidence": 0.25}])
    _, messages = await run(ActionDefaultAskAffirmation(), tracker, domain)
    assert messages[0]["response"] == "utter_ask_affirmation"
    assert (messages[0]["intent"], messages[0]["label"]) == ("cancel_service", "hủy dịch vụ")


async def test_session_start_stop_and_lost_sim(backend, domain):
    events, _ = await run(ActionSessionStart(), make_tracker(), domain)
    assert events[0]["event"] == "session_started"
    assert slot_events(events)["hotline"] == "9090"
    events, messages = await run(ActionStopFlow(), make_tracker(
        slots=verified("0901000001", service="FUNRING", pending_request="cancel_service")),
        domain)
    assert slot_events(events) == {"pending_request": None, "service": None}
    assert responses(messages) == ["utter_stopped"]
    events, messages = await run(ActionReportLostSim(), make_tracker(), domain)
    assert slot_events(events) == {"lost_sim": True, "handoff_reason": "report_lost_sim"}
    assert messages[0]["hotline"] == "9090"
    assert responses(messages) == ["utter_lost_sim_which_number"]  # which number? asked
    _, messages = await run(ActionReportLostSim(), make_tracker(
        text="mất sim 0901000003", entities=[{"entity": "phone_number",
                                              "value": "0901000003"}]), domain)
    assert responses(messages) == ["utter_lost_sim"]
    _, messages = await run(ActionReportLostSim(), make_tracker(slots=verified("0901000001")),
                            domain)
    assert responses(messages) == ["utter_lost_sim"]


async def test_answers_are_taken_whatever_intent_the_nlu_saw(backend, domain):
    """'giáo viên' looked like 'nhân viên' (request_human), 'Cầu Giấy' like an FAQ: inside
    the form they are still answers."""
    tracker = make_tracker(slots=verified("0901000010"), intent="request_human",
                           text="giáo viên", active_loop="occupation_form",
                           requested_slot="occupation_code")
    events, _ = await run(ValidateOccupationForm(), tracker, domain)
    assert slot_events(events)["occupation_code"] == "10"
    tracker = make_tracker(intent="faq", text="Cầu Giấy", active_loop="store_form",
                           requested_slot="location")
    events, _ = await run(ValidateStoreForm(), tracker, domain)
    assert slot_events(events)["location"] == "Cầu Giấy"
    # a real side question is left to the rules (the form rejects: no events)
    tracker = make_tracker(intent="faq", text="nghị định 49 là gì", active_loop="store_form",
                           requested_slot="location")
    assert (await run(ValidateStoreForm(), tracker, domain))[0] == []
