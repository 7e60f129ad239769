"""What the hand-off action derives from a conversation: reason, priority, transcript,
a short summary for the agent (words in texts.yml), and the notice for the customer
(domain responses utter_handoff_*).

Pure functions over Rasa tracker events (plain dicts as rasa-sdk gives them), so they are
tested without a running server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot import texts
from bot.handoff.desk import DeskStatus
from bot.handoff.texts import handoff_texts
from bot.handoff.tickets import REASONS

FALLBACK_INTENT = "nlu_fallback"
# An intent triggered through Rasa's HTTP API (`trigger_intent`: the call center) is stored
# as a user event with the text "EXTERNAL: <intent>" and metadata {"is_external": true}
# (rasa.shared.core.events.UserUttered.create_external, constant
# rasa.shared.core.constants.IS_EXTERNAL). Only the metadata decides: a customer can type
# "EXTERNAL: ..." but cannot set metadata through Telegram or Zalo.
IS_EXTERNAL = "is_external"
EXTERNAL_PREFIX = "EXTERNAL: "
TRANSCRIPT_LIMIT = 60  # most recent user/bot messages copied into the ticket
# `handoff_reason` slot values set by other actions, as intent names.
REASON_ALIASES = {"report_lost_sim": "lost_sim", "request_human": "customer_request",
                  FALLBACK_INTENT: "fallback"}

# What the customer was asking about, for the agent's summary (texts.yml `topics`).
TOPICS: dict[str, str] = dict(handoff_texts.table("topics"))
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

    report_lost_sim -> lost_sim (urgent), request_human ->
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
            topic = TOPICS.get(intent) or handoff_texts("summary.unknown_topic")
            lines.append({"role": "system", "ts": event.get("timestamp"),
                          "text": handoff_texts("summary.call_center_transfer", topic=topic)})
            continue
        lines.append({"role": "customer" if kind == "user" else "bot", "text": text,
                      "ts": event.get("timestamp")})
    return lines[-limit:]


def summary(events: Sequence[dict], reason: str, slots: dict[str, Any]) -> str:
    """A short summary for the agent: why, what the customer wanted, context."""
    session = current_session(events)
    topics: list[str] = []
    for name in user_intents(session):
        label = TOPICS.get(name)
        if name in _IGNORED_TOPICS or label is None or label in topics:
            continue
        topics.append(label)
    parts = [handoff_texts("summary.reason", reason=REASONS[reason][1])]
    if topics:
        parts.append(handoff_texts("summary.asked", topics="; ".join(topics[-4:])))
    last = next((e.get("text") for e in reversed(session)
                 if e.get("event") == "user" and (e.get("text") or "").strip()
                 and not is_external(e)), None)
    if last:
        last = " ".join(last.split())
        parts.append(handoff_texts("summary.last_message",
                                   text=last[:200] + ("…" if len(last) > 200 else "")))
    if slots.get("service"):
        parts.append(handoff_texts("summary.service", service=slots["service"]))
    if slots.get("location"):
        parts.append(handoff_texts("summary.location", location=slots["location"]))
    parts.append(handoff_texts("summary.verified" if slots.get("verified_msisdn")
                               else "summary.not_verified"))
    return " ".join(parts)


def customer_notice(ticket_id: int, reason: str, desk: DeskStatus,
                    channel: str | None = None, slots: Mapping[str, str] | None = None) -> str:
    """What the customer is told after the hand-off, one message of domain responses:
    utter_handoff_opened, then the wait (desk open) or the desk hours, then for a lost SIM
    the hotline. `channel` is the Rasa channel name (picks channel variations); `slots`:
    the conversation's text slots ({customer_title})."""
    known = dict(slots or {})
    lines = [texts.text("utter_handoff_opened", channel, **known, ticket_id=ticket_id)]
    if desk.is_open:
        lines.append(texts.text("utter_handoff_wait", channel, **known,
                                wait_minutes=desk.expected_wait_minutes))
    else:
        assert desk.next_opening is not None
        lines.append(texts.text(
            "utter_handoff_desk_closed_today" if desk.opens_today
            else "utter_handoff_desk_closed_tomorrow", channel, **known,
            desk_opens=desk.opens, desk_closes=desk.closes,
            opening_date=f"{desk.next_opening:%d/%m}"))
    if reason == "lost_sim":
        lines.append(texts.text("utter_handoff_lost_sim", channel, **known))
    return "\n".join(lines)


def failure_notice(channel: str | None = None) -> str:
    """When no ticket could be opened: point to the hotline instead of going silent."""
    return texts.text("utter_handoff_unavailable", channel)
