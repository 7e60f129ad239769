"""SQLAlchemy models of the hand-off: tickets, their messages, agents, sessions,
call-center transfers.

They live on the shared `bot.database.Base` so one Alembic history creates them next to
the other packages' tables (revision bot/handoff/migrations/0003_handoff.py). Timestamps
use `bot.database.UTCDateTime` (naive UTC stored, aware UTC read).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.database import Base, UTCDateTime

# Ticket states: the assistant handed the conversation over and nobody took it yet
# (`waiting`), an agent owns it (`open`), the agent closed it (`resolved`) or gave the
# customer back to the assistant (`handed_back`).
ACTIVE_STATUSES = ("waiting", "open")
CLOSED_STATUSES = ("resolved", "handed_back")


class HandoffTicket(Base):
    __tablename__ = "handoff_tickets"
    __table_args__ = (Index("ix_handoff_tickets_status_priority", "status", "priority"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)  # Rasa sender_id
    channel = Column(String(20), nullable=True)
    user_id = Column(String(128), nullable=True)
    reason = Column(String(20), nullable=False)
    priority = Column(Integer, nullable=False)  # 0 = urgent, served first
    status = Column(String(12), nullable=False, default="waiting")
    verified_msisdn = Column(String(10), nullable=True)
    summary = Column(Text, nullable=False, default="")
    agent = Column(String(80), nullable=True)  # name of the agent who owns it
    # Optimistic locking: every state change is `UPDATE ... WHERE version = :seen`.
    version = Column(Integer, nullable=False, default=1)
    # Equals conversation_id while the ticket is active, NULL once closed: the unique
    # constraint allows one active ticket per conversation on SQLite and PostgreSQL alike.
    active_key = Column(String(128), nullable=True, unique=True)
    created_at = Column(UTCDateTime, nullable=False)
    claimed_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    last_customer_at = Column(UTCDateTime, nullable=True)
    # Tracker timestamp (epoch seconds) of the newest event copied into the ticket.
    synced_until = Column(Float, nullable=True)


class HandoffMessage(Base):
    __tablename__ = "handoff_messages"
    __table_args__ = (
        UniqueConstraint("ticket_id", "source_key", name="uq_handoff_messages_source"),
    )

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id", ondelete="CASCADE"),
                       nullable=False, index=True)
    role = Column(String(10), nullable=False)  # customer | bot | agent | system
    author = Column(String(80), nullable=True)  # agent name for role=agent
    text = Column(Text, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    # Where a copied message came from (tracker event timestamp): makes copying idempotent.
    source_key = Column(String(40), nullable=True)
    delivery = Column(String(10), nullable=True)  # agent replies: pending | sent | failed


class HandoffAgent(Base):
    __tablename__ = "handoff_agents"

    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False)
    # Comma-separated console roles (bot/handoff/accounts.py ROLES); revision 0006_console_roles.
    roles = Column(String(120), nullable=False, default="agent", server_default="agent")


class HandoffSession(Base):
    __tablename__ = "handoff_sessions"

    token_hash = Column(String(64), primary_key=True)  # sha256 of the cookie value
    agent_id = Column(Integer, ForeignKey("handoff_agents.id", ondelete="CASCADE"),
                      nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class HandoffTransfer(Base):
    """A customer the call center handed to the assistant (call center -> assistant)."""

    __tablename__ = "handoff_transfers"

    id = Column(Integer, primary_key=True)
    caller = Column(String(40), nullable=False)  # API client name, not a person
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(20), nullable=False)
    goal = Column(String(60), nullable=False)
    verified_msisdn = Column(String(10), nullable=True)
    notes = Column(Text, nullable=False, default="")
    status = Column(String(12), nullable=False)  # triggered | failed
    created_at = Column(UTCDateTime, nullable=False)
