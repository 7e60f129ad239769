"""Tables of the channels: processed inbound ids (dedup), Zalo OA tokens, channel links,
long Telegram button payloads. On the shared `bot.database.Base`; created by the Alembic
revision bot/channels/migrations/0002_channels.py. Only bot.channels.store reads and writes
them: other packages go through `ChannelStore`."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Text, UniqueConstraint

from bot.database import Base, UTCDateTime


class ProcessedInbound(Base):
    """One row per inbound update/message id: the unique key makes processing happen once.

    status: `processing` (claimed, lease until `lease_until`), `done`, or `failed`
    (a failed or expired claim can be claimed again: a message is never lost)."""

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
