"""The hand-off service behind the console and the call-center API.

It ties together the ticket store (database), Rasa's HTTP API (tracker, pause/resume,
trigger_intent), the channels' outbound sender (agent replies) and the backend (masked
profile, audit log). Every step that can fail leaves a consistent state:

- an agent reply is stored before it is sent and marked `sent` or `failed`;
- closing a ticket is a conditional UPDATE; if Rasa cannot be resumed afterwards the ticket
  is re-opened for the same agent and the agent is told to retry;
- customer messages written while a human owns the chat are copied from the Rasa tracker
  (idempotently) before every read and close, so none is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from bot import texts
from bot.conversation_ids import RASA_CHANNEL_NAMES, sender_id
from bot.handoff.dialogue import is_external
from bot.handoff.rasa_client import RasaClient, RasaError
from bot.handoff.redact import for_agent
from bot.handoff.texts import handoff_texts
from bot.handoff.tickets import (
    CustomerMessage,
    MessageView,
    TicketStore,
    TicketView,
    source_key,
)
from bot.privacy import mask_msisdn
from bot.text import normalize_msisdn

if TYPE_CHECKING:
    from bot.backend import Backend

log = logging.getLogger(__name__)

SendText = Callable[..., Awaitable[None]]

# Call-center goals -> the Rasa intent that starts the flow, and which entities it takes.
GOALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "update_subscriber_info": ("update_subscriber_info", ()),
    "check_subscriber_info": ("check_subscriber_info", ()),
    "check_update_status": ("check_update_status", ()),
    "update_occupation": ("update_occupation", ()),
    "list_services": ("list_services", ()),
    "cancel_service": ("cancel_service", ("service",)),
    "register_service": ("register_service", ("service",)),
    "check_balance": ("check_balance", ()),
    "check_topup_history": ("check_topup_history", ()),
    "install_app": ("install_app", ()),
    "find_store": ("find_store", ("location",)),
}

# What the customer is told when an agent closes the ticket (domain responses).
CLOSING_NOTICES = {"resolved": "utter_handoff_resolved", "handed_back": "utter_handoff_handed_back"}


class ServiceError(Exception):
    """A request the service refuses: `status` is the HTTP status, `message` Vietnamese
    (shown to the agent / caller as is), `code` a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class HandoffService:
    store: TicketStore
    rasa: RasaClient
    send_text: SendText | None = None  # bot.channels.outbound.send_text by default
    # The subscriber backend (masked profile, audit trail, identity ledger);
    # bot.backend.get_backend() by default.
    backend: Backend | None = None
    resume_retries: int = 2
    _sync_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    # ------------------------------------------------------------ dependencies
    def _backend(self) -> Backend:
        if self.backend is None:
            from bot.backend import get_backend

            self.backend = get_backend()
        return self.backend

    async def _send(self, channel: str, user_id: str, text: str) -> None:
        send = self.send_text
        if send is None:
            from bot.channels.outbound import send_text

            send = self.send_text = send_text
        await send(channel, user_id, text)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # ---------------------------------------------------------------- syncing
    async def sync(self, ticket: TicketView) -> tuple[int, bool | None]:
        """Copy the customer's messages written since the hand-off from the tracker into
        the ticket. Returns (new messages, whether the conversation is paused; None when
        Rasa could not be asked)."""
        if not ticket.is_active:
            return 0, None
        lock = self._sync_locks.setdefault(ticket.id, asyncio.Lock())
        async with lock:
            try:
                tracker = await self.rasa.tracker(ticket.conversation_id)
            except RasaError as exc:
                log.warning("tracker of ticket %s not readable: %s", ticket.id, exc.status)
                return 0, None
            items, paused = customer_messages(tracker.get("events") or [],
                                              ticket_start(ticket))
            added = await self._db(self.store.append_customer_messages, ticket.id, items)
            return added, paused

    async def sync_all(self) -> int:
        total = 0
        for ticket in await self._db(self.store.queue):
            added, _ = await self.sync(ticket)
            total += added
        return total

    # ---------------------------------------------------------------- console
    async def ticket_detail(self, ticket_id: int, agent: str) -> dict[str, Any]:
        """Ticket, transcript and the customer's masked profile. Every view is written to
        the audit log: the transcript (`handoff_view_transcript:<ticket id>`) and, when
        there is a verified number, the profile (`handoff_view_profile`); actor = agent,
        the entry holds ids only."""
        ticket = await self._ticket(ticket_id)
        _, paused = await self.sync(ticket)
        ticket = await self._ticket(ticket_id)
        messages = await self._db(self.store.messages, ticket_id)
        await self._audit_transcript(ticket, agent)
        profile: dict[str, str] = {}
        if ticket.verified_msisdn:
            backend = self._backend()
            from bot.backend.reference import profile_lines

            raw = await self._db(backend.subscribers.masked_profile, ticket.verified_msisdn)
            # the customer's labels (domain.yml), as the assistant shows them
            profile = {label: masked_value(value, ticket.verified_msisdn)
                       for label, value in profile_lines(raw, texts.text)}
            await self._db(backend.audit.record, f"agent:{agent}", "handoff_view_profile",
                           ticket.verified_msisdn)
        return {"ticket": ticket, "messages": messages, "profile": profile, "paused": paused}

    async def new_messages(self, ticket_id: int, after_id: int, *,
                           agent: str) -> tuple[TicketView, list[MessageView]]:
        """Transcript lines after `after_id`; returning any is a view of the transcript and
        is audited like the detail view (an empty poll shows nothing and is not)."""
        ticket = await self._ticket(ticket_id)
        await self.sync(ticket)
        ticket = await self._ticket(ticket_id)
        messages = await self._db(self.store.messages, ticket_id, after_id)
        if messages:
            await self._audit_transcript(ticket, agent)
        return ticket, messages

    async def _audit_transcript(self, ticket: TicketView, agent: str) -> None:
        await self._db(self._backend().audit.record, f"agent:{agent}",
                       f"handoff_view_transcript:{ticket.id}", ticket.verified_msisdn)

    async def claim(self, ticket_id: int, agent: str) -> TicketView:
        ticket = await self._db(self.store.claim, ticket_id, agent)
        await self._ensure_paused(ticket)
        return ticket

    async def _ensure_paused(self, ticket: TicketView) -> None:
        """A human owns the chat: make sure the assistant is silent. Rasa un-pauses a
        conversation when a new session starts (after `session_expiration_time`), so a
        ticket that waited long is paused again when an agent takes or answers it."""
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id)
            if not is_paused(tracker.get("events") or []):
                await self.rasa.append_events(ticket.conversation_id, [{"event": "pause"}])
                log.info("conversation of ticket %s paused again", ticket.id)
        except RasaError as exc:
            log.warning("could not check the pause of ticket %s: %s", ticket.id, exc.status)

    async def reply(self, ticket_id: int, agent: str, text: str) -> MessageView:
        """Store the reply, then send it on the customer's channel."""
        ticket = await self._ticket(ticket_id)
        message = await self._db(self.store.add_agent_message, ticket_id, agent, text)
        await self._ensure_paused(ticket)
        delivery = "failed"
        if ticket.channel and ticket.user_id:
            try:
                await self._send(ticket.channel, ticket.user_id, message.text)
                delivery = "sent"
            except Exception as exc:  # noqa: BLE001 - any channel failure is reported
                log.warning("reply on ticket %s not delivered: %s", ticket_id,
                            type(exc).__name__)
        else:
            log.warning("ticket %s has no channel to reply on", ticket_id)
        await self._db(self.store.set_delivery, message.id, delivery)
        return MessageView(message.id, message.ticket_id, message.role, message.author,
                           message.text, message.at, delivery)

    async def close(self, ticket_id: int, agent: str, outcome: str,
                    expected_version: int | None) -> TicketView:
        """Resolve or hand back: close the ticket, then resume the assistant (Rasa resume
        event) and tell the customer. If Rasa cannot be resumed, the ticket is re-opened."""
        ticket = await self._ticket(ticket_id)
        await self.sync(ticket)
        closed = await self._db(self.store.close, ticket_id, agent, outcome, expected_version)
        try:
            await self._resume(closed.conversation_id)
        except RasaError as exc:
            log.error("could not resume the conversation of ticket %s: %s", ticket_id,
                      exc.status)
            await self._db(self.store.reopen, ticket_id, agent)
            raise ServiceError(502, "rasa_unavailable",
                               handoff_texts("errors.rasa_unavailable")) from exc
        # Messages that arrived between the last sync and the resume stay in the tracker;
        # copy them too so the ticket's record is complete.
        await self.sync_closed(closed)
        if closed.channel and closed.user_id:
            try:
                # the first use reads the domain: not on the event loop
                text = await asyncio.to_thread(
                    texts.text, CLOSING_NOTICES.get(outcome, "utter_handoff_handed_back"),
                    RASA_CHANNEL_NAMES.get(closed.channel))
                await self._send(closed.channel, closed.user_id, text)
            except Exception as exc:  # noqa: BLE001
                log.warning("closing notice of ticket %s not delivered: %s", ticket_id,
                            type(exc).__name__)
        await self._db(self.store.add_system_message, ticket_id,
                       handoff_texts("closed.resolved" if outcome == "resolved"
                                     else "closed.handed_back"))
        return closed

    async def sync_closed(self, ticket: TicketView) -> None:
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id)
        except RasaError:
            return
        items, _ = customer_messages(tracker.get("events") or [], ticket_start(ticket),
                                     until_resume=True)
        await self._db(self.store.append_customer_messages, ticket.id, items)

    async def _resume(self, conversation_id: str) -> None:
        events = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
        for attempt in range(self.resume_retries + 1):
            try:
                await self.rasa.append_events(conversation_id, events)
                return
            except RasaError:
                if attempt == self.resume_retries:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _ticket(self, ticket_id: int) -> TicketView:
        return await self._db(self.store.require, ticket_id)

    # ------------------------------------------------------------ call center
    async def hand_to_assistant(self, *, caller: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call center -> assistant: start `goal` on the customer's channel."""
        goal = payload.get("goal")
        if goal not in GOALS:
            raise ServiceError(422, "unknown_goal", f"goal must be one of: {', '.join(GOALS)}")
        intent, entity_names = GOALS[goal]
        channel, user_id = await self._resolve_customer(payload)
        verified = payload.get("verified_msisdn")
        if verified is not None:
            verified = normalize_msisdn(str(verified))
            if not verified:
                raise ServiceError(422, "invalid_msisdn",
                                   "verified_msisdn is not a Vietnamese mobile number")
        notes = payload.get("notes") or ""
        if not isinstance(notes, str) or len(notes) > 2000:
            raise ServiceError(422, "invalid_notes", "notes: a string of at most 2000 characters")
        raw_entities = payload.get("entities") or {}
        if not isinstance(raw_entities, dict) or any(
                k not in entity_names or not isinstance(v, str) for k, v in raw_entities.items()):
            allowed = ", ".join(entity_names) or "none"
            raise ServiceError(422, "invalid_entities",
                               f"entities for goal {goal}: an object of strings ({allowed})")
        conversation_id = sender_id(channel, user_id)
        active = await self._db(self.store.active_for_conversation, conversation_id)
        if active is not None:
            raise ServiceError(409, "with_agent",
                               f"the conversation is with a human agent (ticket {active.id})")
        events: list[dict[str, Any]] = [{"event": "resume"}]
        if verified:
            # Both slots, consistently: the number and the fact that it is proven (the
            # actions ask for an OTP while `identity_verified` is false).
            events += [{"event": "slot", "name": "verified_msisdn", "value": verified},
                       {"event": "slot", "name": "phone_number", "value": verified},
                       {"event": "slot", "name": "identity_verified", "value": True}]
        status = "failed"
        try:
            if verified:
                await self._record_identity(conversation_id, verified)
            await self.rasa.append_events(conversation_id, events)
            result = await self.rasa.trigger_intent(conversation_id, intent, raw_entities,
                                                    RASA_CHANNEL_NAMES.get(channel))
            # Rasa answers with "messages" only when no input channel could build an output
            # channel for the conversation: relay those messages through the outbound sender.
            status = "triggered"
            await self._relay(channel, user_id, result.get("messages") or [])
        except RasaError as exc:
            log.error("call-center hand-off to the assistant failed: %s", exc.status)
            if exc.status == 404:
                raise ServiceError(422, "goal_not_in_domain",
                                   f"the assistant has no intent {intent}") from exc
            raise ServiceError(502, "rasa_unavailable", "the assistant is not reachable") from exc
        finally:
            transfer_id = await self._db(
                self.store.record_transfer, caller=caller, conversation_id=conversation_id,
                channel=channel, goal=goal, verified_msisdn=verified, notes=notes, status=status)
            if verified:
                await self._db(self._backend().audit.record, f"api:{caller}",
                               "handoff_to_assistant", verified)
        return {"transfer_id": transfer_id, "conversation_id": conversation_id,
                "channel": channel, "goal": goal, "intent": intent, "status": status}

    async def _relay(self, channel: str, user_id: str, messages: list[dict[str, Any]]) -> None:
        """Send the assistant's answers on the customer's channel. The flow has started
        whatever happens here; a failed delivery is logged, not an error of the request."""
        for message in messages:
            if not message.get("text"):
                continue
            try:
                await self._send(channel, user_id, message["text"])
            except Exception as exc:  # noqa: BLE001 - any channel failure
                log.warning("assistant answer after a call-center hand-off not delivered: %s",
                            type(exc).__name__)
                return

    async def _record_identity(self, conversation_id: str, msisdn: str) -> None:
        """Write the call center's verification into the backend's identity ledger, the
        server-side fact the actions trust (slots alone are not proof). Nothing is sent to
        Rasa when this fails."""
        try:
            await self._db(self._backend().identity.record, conversation_id, msisdn,
                           "call_center")
        except Exception as exc:  # noqa: BLE001 - database down, ledger refused the entry
            log.error("identity ledger entry not written: %s", type(exc).__name__)
            raise ServiceError(503, "identity_unavailable",
                               "the verification could not be recorded; the customer was "
                               "not handed to the assistant") from exc

    async def _resolve_customer(self, payload: dict[str, Any]) -> tuple[str, str]:
        channel, user_id, msisdn = (payload.get("channel"), payload.get("user_id"),
                                    payload.get("msisdn"))
        if channel is not None or user_id is not None:
            if channel not in RASA_CHANNEL_NAMES:
                raise ServiceError(422, "invalid_channel",
                                   f"channel must be one of: {', '.join(RASA_CHANNEL_NAMES)}")
            if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 100:
                raise ServiceError(422, "invalid_user_id", "user_id: a non-empty string")
            return channel, user_id.strip()
        if msisdn is None:
            raise ServiceError(422, "no_customer", "give channel + user_id, or msisdn")
        number = normalize_msisdn(str(msisdn))
        if not number:
            raise ServiceError(422, "invalid_msisdn", "msisdn is not a Vietnamese mobile number")
        link = await self._db(self.store.find_chat, number)
        if link is None:
            raise ServiceError(404, "no_linked_chat",
                               "no chat is linked to this number (the customer has not "
                               "verified it on Telegram or Zalo)")
        return link.channel, link.user_id


def masked_value(value: Any, msisdn: str | None) -> str:
    """A profile value as agents see it: the subscriber's number masked like everywhere
    else (`bot.privacy.mask_msisdn`), anything else redacted as a safety net."""
    text = str(value)
    if msisdn and text == msisdn:
        return mask_msisdn(text)
    return for_agent(text)


def ticket_start(ticket: TicketView) -> float:
    """Tracker time from which customer messages belong to this ticket."""
    if ticket.synced_until is not None:
        return ticket.synced_until
    return ticket.created_at.timestamp() - 5.0


def is_paused(events: list[dict[str, Any]]) -> bool:
    """Whether the assistant is paused after these tracker events (a restart or a new
    session un-pauses, as in Rasa's tracker)."""
    paused = False
    for event in events:
        kind = event.get("event")
        if kind == "pause":
            paused = True
        elif kind in ("resume", "restart", "session_started"):
            paused = False
    return paused


def customer_messages(events: list[dict[str, Any]], not_before: float, *,
                      until_resume: bool = False) -> tuple[list[CustomerMessage], bool]:
    """User messages with tracker time >= `not_before` (optionally up to the first resume
    after it), and whether the conversation is paused now."""
    paused = is_paused(events)
    items: list[CustomerMessage] = []
    for event in events:
        ts = float(event.get("timestamp") or 0.0)
        if ts < not_before:
            continue
        kind = event.get("event")
        if until_resume and kind == "resume":
            break
        text = (event.get("text") or "").strip()
        # An intent triggered through Rasa's API is not the customer's words; the decision
        # is the event's metadata, never the text (a customer can type "EXTERNAL: ...").
        if kind != "user" or not text or is_external(event):
            continue
        items.append(CustomerMessage(source_key(ts), text,
                                     datetime.fromtimestamp(ts, timezone.utc), ts))
    return items, paused


__all__ = ["GOALS", "HandoffService", "ServiceError", "customer_messages", "is_paused",
           "ticket_start"]
