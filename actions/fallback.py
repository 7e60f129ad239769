"""Two-stage fallback: "did you mean ...?" with Vietnamese labels for the likely intents."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import utter

# What each intent means for a customer, as a button label.
INTENT_LABELS: dict[str, str] = {
    "greet": "chào hỏi",
    "goodbye": "kết thúc trò chuyện",
    "thank": "cảm ơn",
    "affirm": "đồng ý",
    "deny": "không đồng ý",
    "stop": "dừng thao tác đang làm",
    "bot_challenge": "hỏi em là người hay máy",
    "request_human": "gặp nhân viên tư vấn",
    "check_subscriber_info": "kiểm tra thông tin thuê bao",
    "update_subscriber_info": "cập nhật thông tin thuê bao",
    "check_update_status": "xem tình trạng hồ sơ cập nhật",
    "update_occupation": "cập nhật nghề nghiệp",
    "list_services": "xem các dịch vụ đang dùng",
    "cancel_service": "hủy dịch vụ",
    "register_service": "đăng ký dịch vụ/gói cước",
    "confirm_registration": "xác nhận đăng ký dịch vụ",
    "check_balance": "kiểm tra số dư tài khoản",
    "check_topup_history": "xem lịch sử nạp tiền",
    "install_app": "tải ứng dụng chăm sóc khách hàng",
    "find_store": "tìm cửa hàng",
    "report_lost_sim": "báo mất máy/mất SIM",
    "faq": "hỏi về quy định cập nhật thông tin",
}
_NOT_SUGGESTED = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "next_step",
                  "step_done", "step_error", "resend_otp"}


def likely_intent(tracker: Tracker) -> str | None:
    """The best-ranked intent that is worth asking about."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    for candidate in ranking:
        name = candidate.get("name")
        if name in INTENT_LABELS and name not in _NOT_SUGGESTED:
            return name
    return None


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = likely_intent(tracker)
        if intent is None:
            utter(dispatcher, "utter_ask_rephrase")
            return []
        utter(dispatcher, "utter_ask_affirmation", intent=intent, label=INTENT_LABELS[intent])
        return []
