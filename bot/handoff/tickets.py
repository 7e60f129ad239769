"""Hand-off tickets: the assistant hands a conversation to the human desk.

Public contract (used by the dialogue actions and the console; the channels reach it
through the opener `connect_channels()` registers, `open_unreachable`):

    open_ticket(*, conversation_id, channel, user_id, reason, priority, verified_msisdn,
                summary, transcript) -> TicketView

`reason` is one of REASONS; `priority` 0 is urgent (served first). `transcript` is a list
of dicts `{"role": "customer"|"bot"|"agent"|"system", "text": str, "ts": float?}` where
`ts` is the Rasa tracker timestamp of the event (epoch seconds) when known.

Personal data is redacted on the way in (`bot.handoff.redact.for_agent`): the summary, the
transcript and every customer message copied later hold no full ID number, date or phone
number. Agents' own replies are stored as typed (they are what the customer receives).

A conversation has at most one active ticket: opening another while one is active adds
the new request to the existing ticket (and raises its priority when more urgent).

State changes are conditional UPDATEs (optimistic locking on `status`/`agent`/`version`),
so two agents acting on the same ticket never overwrite each other: the second one gets a
`TicketConflict` (HTTP 409 in the console API).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import settings
from bot.channels.store import ChannelStore
from bot.database import engine_for, session_factory, transaction
from bot.handoff.models import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    HandoffMessage,
    HandoffTicket,
    HandoffTransfer,
)
from bot.handoff.redact import for_agent
from bot.handoff.texts import handoff_texts

log = logging.getLogger(__name__)

# Reason code -> default priority; the label agents read is in texts.yml `reasons`.
REASON_PRIORITIES: dict[str, int] = {
    "lost_sim": 0, "customer_request": 2, "fallback": 2, "zalo_window": 2,
}
# Reason code -> (default priority, label shown to agents).
REASONS: dict[str, tuple[int, str]] = {
    code: (priority, handoff_texts(f"reasons.{code}"))
    for code, priority in REASON_PRIORITIES.items()
}
ROLES = ("customer", "bot", "agent", "system")
OUTCOMES = ("resolved", "handed_back")
MAX_TEXT = 4000
NOTICE_KEY = "notice:"  # source key prefix of the "an agent will reply" notices

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TicketNotFound(LookupError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class TicketConflict(Exception):
    """Someone else changed the ticket first. `code` says what the caller ran into:
    `claimed` (another agent owns it), `closed` (already resolved / handed back),
    `stale` (the caller's version is old: reload), `active_ticket` (conversation is with a
    human)."""

    def __init__(self, code: str, ticket: TicketView | None) -> None:
        super().__init__(f"ticket conflict: {code}")
        self.code = code
        self.ticket = ticket


@dataclass(frozen=True)
class TicketView:
    id: int
    conversation_id: str
    channel: str | None
    user_id: str | None
    reason: str
    priority: int
    status: str  # waiting | open | resolved | handed_back
    verified_msisdn: str | None
    summary: str
    agent: str | None
    version: int
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    last_customer_at: datetime | None
    synced_until: float | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, (0, self.reason))[1]


@dataclass(frozen=True)
class MessageView:
    id: int
    ticket_id: int
    role: str
    author: str | None
    text: str
    at: datetime
    delivery: str | None


@dataclass(frozen=True)
class CustomerMessage:
    """A customer message copied from the Rasa tracker while a human owns the chat."""

    source_key: str
    text: str
    at: datetime
    ts: float


@dataclass(frozen=True)
class ChatLink:
    msisdn: str
    channel: str
    user_id: str
    linked_at: datetime


def _ticket_view(row: HandoffTicket) -> TicketView:
    return TicketView(
        id=row.id, conversation_id=row.conversation_id, channel=row.channel,
        user_id=row.user_id, reason=row.reason, priority=row.priority, status=row.status,
        verified_msisdn=row.verified_msisdn, summary=row.summary, agent=row.agent,
        version=row.version, created_at=row.created_at, claimed_at=row.claimed_at,
        closed_at=row.closed_at, last_customer_at=row.last_customer_at,
        synced_until=row.synced_until,
    )


def _message_view(row: HandoffMessage) -> MessageView:
    return MessageView(id=row.id, ticket_id=row.ticket_id, role=row.role, author=row.author,
                       text=row.text, at=row.at, delivery=row.delivery)


def source_key(ts: float, role: str = "customer") -> str:
    """Idempotency key of a message copied from a tracker event."""
    return f"{'' if role == 'customer' else role[0]}{ts:.6f}"


def _clean_text(text: Any) -> str:
    return str(text or "").strip()[:MAX_TEXT]


def _redacted(text: Any) -> str:
    """Text copied from the conversation into a ticket: personal data masked."""
    return _clean_text(for_agent(str(text or "")))


class TicketStore:
    """The ticket service. Every method is one short transaction; views are frozen."""

    def __init__(self, db_url: str | None = None, clock: Clock | None = None) -> None:
        self.db_url = db_url or settings.db_url()
        self.engine = engine_for(self.db_url)
        self._sessions = session_factory(self.engine)
        self.clock: Clock = clock or _utcnow

    # ----------------------------------------------------------------- opening
    def open_ticket(self, *, conversation_id: str, channel: str | None, user_id: str | None,
                    reason: str, priority: int, verified_msisdn: str | None, summary: str,
                    transcript: Sequence[dict]) -> TicketView:
        if reason not in REASONS:
            raise ValueError(f"unknown hand-off reason {reason!r}")
        if not conversation_id:
            raise ValueError("conversation_id is required")
        priority = max(0, int(priority))
        entries = list(_transcript_entries(transcript, self.clock()))
        for _attempt in range(3):
            try:
                return self._open_or_extend(conversation_id, channel, user_id, reason, priority,
                                            verified_msisdn, _redacted(summary), entries)
            except IntegrityError:
                # Another process opened the conversation's ticket at the same moment:
                # retry, which now extends that ticket.
                continue
        raise RuntimeError("could not open a hand-off ticket after 3 attempts")

    def _open_or_extend(self, conversation_id: str, channel: str | None, user_id: str | None,
                        reason: str, priority: int, verified_msisdn: str | None, summary: str,
                        entries: list[dict]) -> TicketView:
        now = self.clock()
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffTicket).where(
                HandoffTicket.active_key == conversation_id)).scalar_one_or_none()
            if row is None:
                row = HandoffTicket(
                    conversation_id=conversation_id, channel=channel, user_id=user_id,
                    reason=reason, priority=priority, status="waiting",
                    verified_msisdn=verified_msisdn, summary=summary, version=1,
                    active_key=conversation_id, created_at=now,
                )
                s.add(row)
                s.flush()
                known: set[str] = set()
                log.info("hand-off ticket %s opened (reason=%s, priority=%s)",
                         row.id, reason, priority)
            else:
                known = set(s.execute(select(HandoffMessage.source_key).where(
                    HandoffMessage.ticket_id == row.id,
                    HandoffMessage.source_key.is_not(None))).scalars())
                row.priority = min(row.priority, priority)
                row.verified_msisdn = row.verified_msisdn or verified_msisdn
                row.channel = row.channel or channel
                row.user_id = row.user_id or user_id
                row.version += 1
                s.add(HandoffMessage(ticket_id=row.id, role="system", at=now,
                                     text=handoff_texts("summary.new_request",
                                                        reason=REASONS[reason][1],
                                                        summary=summary)))
                log.info("hand-off ticket %s extended (reason=%s)", row.id, reason)
            self._add_entries(s, row, entries, known)
            s.flush()
            return _ticket_view(row)

    def _add_entries(self, s: Session, row: HandoffTicket, entries: Iterable[dict],
                     known: set[str]) -> None:
        for entry in entries:
            key = entry["source_key"]
            if key is not None and key in known:
                continue
            s.add(HandoffMessage(ticket_id=row.id, role=entry["role"], text=entry["text"],
                                 at=entry["at"], source_key=key))
            if key is not None:
                known.add(key)
            ts = entry.get("ts")
            if ts is not None and (row.synced_until is None or ts > row.synced_until):
                row.synced_until = ts
            if entry["role"] == "customer" and (
                    row.last_customer_at is None or entry["at"] > row.last_customer_at):
                row.last_customer_at = entry["at"]

    # ----------------------------------------------------------------- reading
    def get(self, ticket_id: int) -> TicketView | None:
        with transaction(self._sessions) as s:
            row = s.get(HandoffTicket, ticket_id)
            return _ticket_view(row) if row else None

    def require(self, ticket_id: int) -> TicketView:
        view = self.get(ticket_id)
        if view is None:
            raise TicketNotFound(ticket_id)
        return view

    def active_for_conversation(self, conversation_id: str) -> TicketView | None:
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffTicket).where(
                HandoffTicket.active_key == conversation_id)).scalar_one_or_none()
            return _ticket_view(row) if row else None

    def queue(self) -> list[TicketView]:
        """Active tickets, urgent first, then oldest first."""
        with transaction(self._sessions) as s:
            rows = s.execute(select(HandoffTicket)
                             .where(HandoffTicket.status.in_(ACTIVE_STATUSES))
                             .order_by(HandoffTicket.priority, HandoffTicket.created_at,
                                       HandoffTicket.id)).scalars()
            return [_ticket_view(r) for r in rows]

    def recently_closed(self, limit: int = 20) -> list[TicketView]:
        with transaction(self._sessions) as s:
            rows = s.execute(select(HandoffTicket)
                             .where(HandoffTicket.status.not_in(ACTIVE_STATUSES))
                             .order_by(HandoffTicket.closed_at.desc(), HandoffTicket.id.desc())
                             .limit(limit)).scalars()
            return [_ticket_view(r) for r in rows]

    def messages(self, ticket_id: int, after_id: int = 0) -> list[MessageView]:
        with transaction(self._sessions) as s:
            rows = s.execute(select(HandoffMessage)
                             .where(HandoffMessage.ticket_id == ticket_id,
                                    HandoffMessage.id > after_id)
                             .order_by(HandoffMessage.at, HandoffMessage.id)).scalars()
            return [_message_view(r) for r in rows]

    # ----------------------------------------------------------- state changes
    def _conflict(self, ticket_id: int, agent: str | None = None) -> TicketConflict:
        view = self.get(ticket_id)
        if view is None:
            raise TicketNotFound(ticket_id)
        if not view.is_active:
            return TicketConflict("closed", view)
        if view.status == "open" and view.agent != agent:
            return TicketConflict("claimed", view)
        return TicketConflict("stale", view)

    def claim(self, ticket_id: int, agent: str) -> TicketView:
        """Take a waiting ticket. Claiming one's own ticket again is a no-op."""
        now = self.clock()
        with transaction(self._sessions) as s:
            result = s.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id, HandoffTicket.status == "waiting")
                .values(status="open", agent=agent, claimed_at=now,
                        version=HandoffTicket.version + 1)
                .execution_options(synchronize_session=False))
            claimed = result.rowcount == 1
        view = self.require(ticket_id)
        if claimed or (view.status == "open" and view.agent == agent):
            if claimed:
                log.info("hand-off ticket %s claimed", ticket_id)
            return view
        raise self._conflict(ticket_id, agent)

    def add_agent_message(self, ticket_id: int, agent: str, text: str) -> MessageView:
        """Store an agent's reply (delivery `pending`) on a ticket the agent owns; a waiting
        ticket is claimed first. The ownership check and the insert are one transaction,
        so a reply never lands on a ticket someone else closed or took."""
        text = _clean_text(text)
        if not text:
            raise ValueError("empty reply")
        view = self.require(ticket_id)
        if view.status == "waiting":
            self.claim(ticket_id, agent)
        now = self.clock()
        with transaction(self._sessions) as s:
            # Conditional no-op UPDATE: locks the row (PostgreSQL) / the database (SQLite)
            # and proves ownership at the same time.
            result = s.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id, HandoffTicket.status == "open",
                       HandoffTicket.agent == agent)
                .values(agent=agent)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                s.rollback()
                raise self._conflict(ticket_id, agent)
            row = HandoffMessage(ticket_id=ticket_id, role="agent", author=agent, text=text,
                                 at=now, delivery="pending")
            s.add(row)
            s.flush()
            return _message_view(row)

    def set_delivery(self, message_id: int, delivery: str) -> None:
        with transaction(self._sessions) as s:
            s.execute(update(HandoffMessage).where(HandoffMessage.id == message_id)
                      .values(delivery=delivery).execution_options(synchronize_session=False))

    def add_system_message(self, ticket_id: int, text: str) -> MessageView:
        with transaction(self._sessions) as s:
            row = HandoffMessage(ticket_id=ticket_id, role="system", text=_clean_text(text),
                                 at=self.clock())
            s.add(row)
            s.flush()
            return _message_view(row)

    def close(self, ticket_id: int, agent: str, outcome: str,
              expected_version: int | None = None) -> TicketView:
        """Resolve a ticket or hand the customer back to the assistant. Allowed for the
        owner of an open ticket, or anyone on a waiting ticket; `expected_version` (the
        version the agent saw) makes a decision on stale data fail with `stale`."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        now = self.clock()
        conditions = [HandoffTicket.id == ticket_id,
                      or_(and_(HandoffTicket.status == "open", HandoffTicket.agent == agent),
                          HandoffTicket.status == "waiting")]
        if expected_version is not None:
            conditions.append(HandoffTicket.version == expected_version)
        with transaction(self._sessions) as s:
            result = s.execute(
                update(HandoffTicket).where(*conditions)
                .values(status=outcome, agent=agent, closed_at=now, active_key=None,
                        version=HandoffTicket.version + 1)
                .execution_options(synchronize_session=False))
            closed = result.rowcount == 1
        if not closed:
            raise self._conflict(ticket_id, agent)
        log.info("hand-off ticket %s closed (%s)", ticket_id, outcome)
        return self.require(ticket_id)

    def reopen(self, ticket_id: int, agent: str) -> TicketView:
        """Undo `close` by the same agent (used when the assistant could not be resumed)."""
        with transaction(self._sessions) as s:
            row = s.get(HandoffTicket, ticket_id)
            if row is None:
                raise TicketNotFound(ticket_id)
            result = s.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id,
                       HandoffTicket.status.in_(CLOSED_STATUSES),
                       HandoffTicket.agent == agent)
                .values(status="open", closed_at=None, active_key=row.conversation_id,
                        version=HandoffTicket.version + 1)
                .execution_options(synchronize_session=False))
            reopened = result.rowcount == 1
        if not reopened:
            raise self._conflict(ticket_id, agent)
        return self.require(ticket_id)

    def append_customer_messages(self, ticket_id: int,
                                 items: Sequence[CustomerMessage]) -> int:
        """Copy customer messages (from the tracker) into an active ticket, idempotently:
        a message already copied (same source key) is skipped. Returns how many were new."""
        if not items:
            return 0
        added = 0
        with transaction(self._sessions) as s:
            row = s.get(HandoffTicket, ticket_id)
            if row is None:
                raise TicketNotFound(ticket_id)
            known = set(s.execute(select(HandoffMessage.source_key).where(
                HandoffMessage.ticket_id == ticket_id,
                HandoffMessage.source_key.is_not(None))).scalars())
            for item in items:
                if item.source_key in known:
                    continue
                text = _redacted(item.text)
                if not text:
                    continue
                try:
                    with s.begin_nested():
                        s.add(HandoffMessage(ticket_id=ticket_id, role="customer", text=text,
                                             at=item.at, source_key=item.source_key))
                except IntegrityError:
                    continue  # copied by a concurrent sync
                known.add(item.source_key)
                added += 1
                if row.last_customer_at is None or item.at > row.last_customer_at:
                    row.last_customer_at = item.at
                if row.synced_until is None or item.ts > row.synced_until:
                    row.synced_until = item.ts
        return added

    def last_awaiting_notice(self, conversation_id: str) -> str | None:
        """The text of the latest "an agent will reply" notice of the conversation's active
        ticket, or None."""
        with self._sessions() as s:
            ticket_id = s.execute(select(HandoffTicket.id).where(
                HandoffTicket.active_key == conversation_id)).scalar_one_or_none()
            if ticket_id is None:
                return None
            found: str | None = s.execute(select(HandoffMessage.text).where(
                HandoffMessage.ticket_id == ticket_id,
                HandoffMessage.source_key.like(f"{NOTICE_KEY}%"))
                .order_by(HandoffMessage.at.desc(), HandoffMessage.id.desc()).limit(1)
            ).scalar_one_or_none()
            return found

    def claim_awaiting_notice(self, conversation_id: str, interval: timedelta,
                              text: str) -> bool:
        """Should the customer now be told "an agent will reply"? True when the conversation
        has an active ticket without any agent reply and no such notice within `interval`;
        the notice is then recorded in the ticket (role `bot`, source key `notice:<time>`).
        One transaction that locks the ticket first: several Rasa instances agree."""
        now = self.clock()
        with transaction(self._sessions) as s:
            ticket_id = s.execute(select(HandoffTicket.id).where(
                HandoffTicket.active_key == conversation_id)).scalar_one_or_none()
            if ticket_id is None or s.execute(  # conditional no-op UPDATE: the row lock
                    update(HandoffTicket)
                    .where(HandoffTicket.id == ticket_id,
                           HandoffTicket.active_key == conversation_id)
                    .values(active_key=conversation_id)
                    .execution_options(synchronize_session=False)).rowcount != 1:
                return False
            mine = HandoffMessage.ticket_id == ticket_id
            if s.execute(select(HandoffMessage.id).where(
                    mine, HandoffMessage.role == "agent").limit(1)).first() is not None:
                return False  # the human conversation is going on
            last = s.execute(select(HandoffMessage.at).where(
                mine, HandoffMessage.source_key.like(f"{NOTICE_KEY}%"))
                .order_by(HandoffMessage.at.desc()).limit(1)).scalar_one_or_none()
            if last is not None and now - last < interval:
                return False
            s.add(HandoffMessage(ticket_id=ticket_id, role="bot", text=_clean_text(text),
                                 at=now, source_key=f"{NOTICE_KEY}{now.timestamp():.6f}"))
        return True

    # ------------------------------------------------------ chat links, transfers
    def find_chat(self, msisdn: str) -> ChatLink | None:
        """The chat most recently linked to a verified phone number, from the channels'
        links (`ChannelStore`: Telegram-verified contacts, verifications recorded with
        `touch_link`)."""
        link = ChannelStore(self.engine, self.clock).latest_link_for_number(msisdn)
        if link is None:
            return None
        return ChatLink(link["verified_msisdn"], link["channel"], link["user_id"],
                        link["updated_at"])

    def record_transfer(self, *, caller: str, conversation_id: str, channel: str, goal: str,
                        verified_msisdn: str | None, notes: str, status: str) -> int:
        with transaction(self._sessions) as s:
            row = HandoffTransfer(caller=caller, conversation_id=conversation_id,
                                  channel=channel, goal=goal, verified_msisdn=verified_msisdn,
                                  notes=_redacted(notes), status=status,
                                  created_at=self.clock())
            s.add(row)
            s.flush()
            return row.id


def _transcript_entries(transcript: Sequence[dict], now: datetime) -> Iterable[dict]:
    for item in transcript or ():
        role = str(item.get("role", "")).lower()
        role = "customer" if role == "user" else role
        if role not in ROLES:
            continue
        text = _clean_text(item.get("text")) if role == "agent" else _redacted(item.get("text"))
        if not text:
            continue
        ts = item.get("ts")
        ts = float(ts) if isinstance(ts, (int, float)) else None
        at = item.get("at")
        if not isinstance(at, datetime):
            at = datetime.fromtimestamp(ts, timezone.utc) if ts is not None else now
        elif at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        yield {"role": role, "text": text, "ts": ts, "at": at,
               "source_key": source_key(ts, role) if ts is not None else None}


@lru_cache(maxsize=4)
def _ticket_store_for(db_url: str) -> TicketStore:
    return TicketStore(db_url)


def get_ticket_store() -> TicketStore:
    """The process-wide ticket store on `settings.db_url()`."""
    return _ticket_store_for(settings.db_url())


def open_ticket(*, conversation_id: str, channel: str | None, user_id: str | None,
                reason: str, priority: int, verified_msisdn: str | None, summary: str,
                transcript: list[dict]) -> TicketView:
    """Open (or extend) the hand-off ticket of a conversation. See the module docstring."""
    return get_ticket_store().open_ticket(
        conversation_id=conversation_id, channel=channel, user_id=user_id, reason=reason,
        priority=priority, verified_msisdn=verified_msisdn, summary=summary,
        transcript=transcript)


def open_unreachable(*, conversation_id: str, channel: str, user_id: str, reason: str,
                     priority: int, verified_msisdn: str | None,
                     transcript: list[dict]) -> TicketView:
    """A ticket for a conversation a channel could not reach (reason `zalo_window`): the
    summary is the hand-off's own text for the reason (texts.yml `summary.<reason>`)."""
    return open_ticket(conversation_id=conversation_id, channel=channel, user_id=user_id,
                       reason=reason, priority=priority, verified_msisdn=verified_msisdn,
                       summary=handoff_texts(f"summary.{reason}"), transcript=transcript)


def connect_channels() -> None:
    """Let the channels of this process hand conversations they cannot reach to the desk
    (`bot.channels.common.open_handoff_ticket`) and tell a customer waiting for an agent
    that one will reply (`common.awaiting_agent_notice_due`). Called at startup by
    `bot serve rasa` and the hand-off app: the channels never import the hand-off."""
    from bot.channels.common import set_awaiting_agent_check, set_handoff_opener
    from bot.handoff.waiting import awaiting_agent_notice

    set_handoff_opener(open_unreachable)
    set_awaiting_agent_check(awaiting_agent_notice)


def is_with_human(conversation_id: str) -> bool:
    """True while the conversation has an active hand-off ticket (waiting or open).

    For `action_session_start`: Rasa un-pauses a conversation when a new session starts, so
    the session-start action should return `ConversationPaused()` again when this is True.
    A database error answers False (the assistant keeps answering rather than going mute).
    """
    try:
        return get_ticket_store().active_for_conversation(conversation_id) is not None
    except Exception as exc:  # noqa: BLE001
        log.warning("hand-off state unknown for a conversation: %s", type(exc).__name__)
        return False
