"""Tables of the channels: the inbound inbox and the outbox (revision 0007_channel_inbox),
processed inbound ids (the dedup claims of revision 0002_channels, no longer written by the
channels), Zalo OA tokens, channel links, long Telegram button payloads. On the shared
`bot.database.Base`. Only bot.channels.store and bot.channels.inbox_store read and write
them: other packages go through `ChannelStore`."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint

from bot.database import Base, UTCDateTime


class ProcessedInbound(Base):
    """The dedup claims of revision 0002_channels, replaced by the inbox (`InboxItem`):
    no longer written; kept until a later revision drops the table."""

    __tablename__ = "channel_processed_inbound"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_inbound"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(120), nullable=False)
    status = Column(String(12), nullable=False)
    attempts = Column(Integer, nullable=False, default=1)
    claimed_at = Column(UTCDateTime, nullable=False)
    lease_until = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime, nullable=True)


class ZaloOaToken(Base):
    """The OA's current access/refresh token pair, shared by every instance.

    `version` grows by one at each refresh (compare-and-swap); `refreshing_until` is a
    lease taken by the one instance that calls the OAuth endpoint."""

    __tablename__ = "channel_zalo_tokens"

    oa_key = Column(String(64), primary_key=True)
    access_token = Column(Text, nullable=False)
    refresh_token = Column(Text, nullable=False)
    version = Column(Integer, nullable=False, default=1)
    refreshing_until = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)


class ChannelLink(Base):
    """What a channel knows about one customer: last inbound time (Zalo 48-hour window)
    and a Telegram-verified number."""

    __tablename__ = "channel_links"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_channel_link"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(64), nullable=False)
    verified_msisdn = Column(String(10), nullable=True)
    last_inbound_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)


class ButtonPayload(Base):
    """Telegram callback_data holds at most 64 bytes: longer Rasa payloads live here."""

    __tablename__ = "channel_button_payloads"

    key = Column(String(40), primary_key=True)
    payload = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class InboxItem(Base):
    """One inbound update/message, stored before the webhook is answered (the durable inbox).

    The unique (channel, external_id) makes a re-delivery a no-op. `user_key` orders the
    work: a row is only claimed when no earlier row of the same user is unfinished.
    status: `pending` (due at `next_attempt_at`), `processing` (claimed by `lease_owner`
    until `lease_until`), `replying` (the assistant answered: `responses` hold what is
    still to deliver), `done`, `parked` (failed too often: an operator replays it).
    `payload` (the provider's JSON) is cleared when the row is done."""

    __tablename__ = "channel_inbox"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_inbox"),
                      Index("ix_channel_inbox_due", "status", "next_attempt_at"),
                      Index("ix_channel_inbox_user", "user_key", "id"))

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(120), nullable=False)
    user_key = Column(String(100), nullable=False)
    payload = Column(Text, nullable=True)
    responses = Column(Text, nullable=True)
    status = Column(String(12), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    lease_owner = Column(String(64), nullable=True)
    lease_until = Column(UTCDateTime, nullable=True)
    last_error = Column(String(200), nullable=True)
    received_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime, nullable=True)


class OutboxItem(Base):
    """One message sent to a provider (one API call), keyed by an idempotency key: a key
    already `sent` (or `unknown`: the provider may have delivered it) is never sent again.
    status: `sending`, `sent`, `unknown`, `failed`."""

    __tablename__ = "channel_outbox"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_channel_outbox_key"),)

    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(200), nullable=False)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(64), nullable=False)
    status = Column(String(12), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(String(200), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime, nullable=True)
