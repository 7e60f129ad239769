"""What the hand-off action derives from a conversation: reason, priority, transcript,
a short Vietnamese summary for the agent, and the notice for the customer.

Pure functions over Rasa tracker events (plain dicts as rasa-sdk gives them), so they are
tested without a running server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.brand import operator
from bot.handoff.desk import DeskStatus
from bot.handoff.tickets import REASONS

FALLBACK_INTENT = "nlu_fallback"
# An intent triggered through Rasa's HTTP API (`trigger_intent`: the call center) is stored
# as a user event with the text "EXTERNAL: <intent>" and metadata {"is_external": true}
# (rasa.shared.core.events.UserUttered.create_external, constant
# rasa.shared.core.constants.IS_EXTERNAL). Only the metadata decides: a customer can type
# "EXTERNAL: ..." but cannot set metadata through Telegram or Zalo.
IS_EXTERNAL = "is_external"
EXTERNAL_PREFIX = "EXTERNAL: "
COMPLAINT_INTENTS = ("complaint", "file_complaint", "report_complaint")
TRANSCRIPT_LIMIT = 60  # most recent user/bot messages copied into the ticket
# `handoff_reason` slot values set by other actions, as intent names.
REASON_ALIASES = {"report_lost_sim": "lost_sim", "request_human": "customer_request",
                  FALLBACK_INTENT: "fallback", **{n: "complaint" for n in COMPLAINT_INTENTS}}

# What the customer was asking about, for the agent's summary.
TOPICS: dict[str, str] = {
    "request_human": "muốn gặp tổng đài viên",
    "check_subscriber_info": "kiểm tra thông tin thuê bao",
    "update_subscriber_info": "cập nhật thông tin thuê bao (Nghị định 49)",
    "check_update_status": "hỏi kết quả duyệt hồ sơ cập nhật",
    "update_occupation": "cập nhật nghề nghiệp",
    "list_services": "hỏi dịch vụ đang dùng / bị trừ tiền",
    "cancel_service": "hủy dịch vụ",
    "register_service": "đăng ký dịch vụ",
    "check_balance": "hỏi số dư tài khoản",
    "check_topup_history": "hỏi lịch sử nạp tiền",
    "install_app": "hỏi về ứng dụng",
    "find_store": "tìm cửa hàng",
    "report_lost_sim": "báo mất SIM / điện thoại, cần khóa gấp",
    "faq": "hỏi đáp về Nghị định 49",
    "out_of_scope": "hỏi ngoài phạm vi",
    FALLBACK_INTENT: "trợ lý chưa hiểu",
    **{name: "khiếu nại" for name in COMPLAINT_INTENTS},
}
# Small talk, and the hand-off request itself (the reason already says it).
_IGNORED_TOPICS = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "stop",
                   "bot_challenge", "request_human"}


def _intent(event: dict) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def is_external(event: dict) -> bool:
    """Whether a user event was triggered through Rasa's API, not written by the customer:
    the event's metadata says so (Rasa sets it; the text is not looked at)."""
    if event.get("event") != "user":
        return False
    metadata = event.get("metadata")
    if not isinstance(metadata, dict):
        metadata = (event.get("parse_data") or {}).get("metadata")
    return isinstance(metadata, dict) and metadata.get(IS_EXTERNAL) is True


def current_session(events: Sequence[dict]) -> list[dict]:
    """Events after the last session start or restart."""
    start = 0
    for index, event in enumerate(events):
        if event.get("event") in ("session_started", "restart"):
            start = index + 1
    return list(events[start:])


def user_intents(events: Iterable[dict]) -> list[str]:
    return [name for e in events if e.get("event") == "user" and (name := _intent(e))]


def derive_reason(events: Sequence[dict], reason_slot: Any = None) -> tuple[str, int]:
    """(reason, priority) from the latest intents; an explicit `handoff_reason` slot wins.

    report_lost_sim -> lost_sim (urgent), complaint -> complaint, request_human ->
    customer_request, nlu_fallback (latest, or twice in the last three) -> fallback;
    anything else is a customer request."""
    if isinstance(reason_slot, str):
        reason_slot = REASON_ALIASES.get(reason_slot, reason_slot)
        if reason_slot in REASONS:
            return reason_slot, REASONS[reason_slot][0]
    intents = user_intents(current_session(events))
    latest = intents[-1] if intents else None
    if latest == "report_lost_sim" or "report_lost_sim" in intents[-3:]:
        reason = "lost_sim"
    elif latest in COMPLAINT_INTENTS:
        reason = "complaint"
    elif latest == "request_human":
        reason = "customer_request"
    elif latest == FALLBACK_INTENT or intents[-3:].count(FALLBACK_INTENT) >= 2:
        reason = "fallback"  # e.g. two failed fallbacks with a "no" in between
    else:
        reason = "customer_request"
    return reason, REASONS[reason][0]


def transcript(events: Sequence[dict], limit: int = TRANSCRIPT_LIMIT) -> list[dict]:
    """User and bot messages of the conversation, oldest first, with tracker timestamps."""
    lines: list[dict] = []
    for event in events:
        kind = event.get("event")
        text = (event.get("text") or "").strip()
        if kind not in ("user", "bot") or not text:
            continue
        if kind == "user" and is_external(event):
            # An intent triggered from outside (the call center), not the customer's words.
            # Only known topics are named; the event's text is never shown.
            intent = _intent(event) or ""
            lines.append({"role": "system", "ts": event.get("timestamp"),
                          "text": f"Tổng đài chuyển khách cho trợ lý ảo: "
                                  f"{TOPICS.get(intent, 'một yêu cầu')}."})
            continue
        lines.append({"role": "customer" if kind == "user" else "bot", "text": text,
                      "ts": event.get("timestamp")})
    return lines[-limit:]


def summary(events: Sequence[dict], reason: str, slots: dict[str, Any]) -> str:
    """A short Vietnamese summary for the agent: why, what the customer wanted, context."""
    session = current_session(events)
    topics: list[str] = []
    for name in user_intents(session):
        label = TOPICS.get(name)
        if name in _IGNORED_TOPICS or label is None or label in topics:
            continue
        topics.append(label)
    parts = [f"Lý do: {REASONS[reason][1]}."]
    if topics:
        parts.append("Khách đã hỏi: " + "; ".join(topics[-4:]) + ".")
    last = next((e.get("text") for e in reversed(session)
                 if e.get("event") == "user" and (e.get("text") or "").strip()
                 and not is_external(e)), None)
    if last:
        last = " ".join(last.split())
        parts.append(f"Tin nhắn cuối: «{last[:200]}{'…' if len(last) > 200 else ''}».")
    if slots.get("service"):
        parts.append(f"Dịch vụ: {slots['service']}.")
    if slots.get("location"):
        parts.append(f"Khu vực: {slots['location']}.")
    parts.append("Số điện thoại đã xác thực." if slots.get("verified_msisdn")
                 else "Chưa xác thực số điện thoại.")
    return " ".join(parts)


def customer_notice(ticket_id: int, reason: str, desk: DeskStatus) -> str:
    """What the customer is told after the hand-off (Vietnamese, polite)."""
    profile = operator()
    lines = [f"Dạ, em đã chuyển yêu cầu của anh/chị tới tổng đài viên (mã yêu cầu #{ticket_id})."]
    if desk.is_open:
        lines.append(f"Thời gian chờ dự kiến khoảng {desk.expected_wait_minutes} phút. "
                     "Anh/chị cứ nhắn thêm tại đây, tổng đài viên sẽ đọc được toàn bộ nội dung "
                     "và trả lời anh/chị ngay trong cuộc trò chuyện này ạ.")
    else:
        assert desk.next_opening is not None
        when = "hôm nay" if desk.opens_today else f"sáng mai ({desk.next_opening:%d/%m})"
        lines.append(f"Hiện đang ngoài giờ làm việc của tổng đài viên ({desk.opens}–"
                     f"{desk.closes} hằng ngày). Tổng đài viên sẽ trả lời anh/chị ngay khi "
                     f"bắt đầu làm việc lúc {desk.opens} {when} ạ. Anh/chị cứ nhắn thêm tại đây, "
                     "mọi tin nhắn đều được ghi lại.")
    if reason == "lost_sim":
        lines.append(f"Nếu cần khóa SIM ngay, anh/chị gọi hotline {profile['hotline_free']} "
                     f"(miễn phí) hoặc {profile['hotline']} giúp em nhé.")
    return "\n".join(lines)


def failure_notice() -> str:
    """When no ticket could be opened: point to the hotline instead of going silent."""
    profile = operator()
    return (f"Dạ, hiện em chưa kết nối được với tổng đài viên ạ. Anh/chị vui lòng gọi hotline "
            f"{profile['hotline_free']} (miễn phí) hoặc {profile['hotline']} để được hỗ trợ "
            "ngay giúp em nhé.")
