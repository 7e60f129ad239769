"""SQLAlchemy models of the campaigns: a campaign, one delivery per customer and campaign
(never sent twice), the opt-outs (kept for good).

On the shared `bot.database.Base` (revision bot/campaigns/migrations/0012_campaigns.py).
Only bot/campaigns touches them (`CampaignStore`).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint

from bot.database import Base, UTCDateTime

# Campaign states.
DRAFT, RUNNING, PAUSED, DONE = "draft", "running", "paused", "done"
CAMPAIGN_STATUSES = (DRAFT, RUNNING, PAUSED, DONE)

# Delivery states: waiting to be sent on a chat (`pending`), taken by a sender (`sending`;
# one left so by a crash is never sent again: `unknown`), `sent`, `failed` (reason), the
# customer has no usable chat and is listed for the SMS export (`sms`), skipped for good
# (`opted_out`, `capped`).
PENDING, SENDING, SENT, UNKNOWN, FAILED = "pending", "sending", "sent", "unknown", "failed"
SMS, OPTED_OUT, CAPPED = "sms", "opted_out", "capped"


class Campaign(Base):
    __tablename__ = "campaigns"

    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    # Audience filter as JSON text: {"missing": [...], "province": "...", "one_way_blocked":
    # true|false|null}.
    audience = Column(Text, nullable=False, default="{}")
    response = Column(String(80), nullable=False)  # a domain.yml response name
    deadline = Column(String(40), nullable=False, default="")  # shown to the customer
    channels = Column(String(60), nullable=False, default="telegram,zalo")
    starts_at = Column(UTCDateTime, nullable=True)
    ends_at = Column(UTCDateTime, nullable=True)
    rate_per_minute = Column(Integer, nullable=False, default=30)
    status = Column(String(10), nullable=False, default=DRAFT)
    created_by = Column(String(80), nullable=False, default="")
    targeted_at = Column(UTCDateTime, nullable=True)  # the last targeting pass
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)


class CampaignDelivery(Base):
    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "msisdn", name="uq_campaign_delivery"),
        Index("ix_campaign_deliveries_msisdn_status", "msisdn", "status"),
        Index("ix_campaign_deliveries_chat", "channel", "user_id"),
    )

    id = Column(Integer, primary_key=True)
    campaign_id = Column(Integer, nullable=False, index=True)
    msisdn = Column(String(10), nullable=False)
    channel = Column(String(20), nullable=True)  # telegram | zalo | None (SMS export)
    user_id = Column(String(64), nullable=True)
    status = Column(String(12), nullable=False, default=PENDING)
    reason = Column(String(40), nullable=True)  # why failed / listed for SMS
    next_attempt_at = Column(UTCDateTime, nullable=True)  # frequency cap: not before
    created_at = Column(UTCDateTime, nullable=False)
    claimed_at = Column(UTCDateTime, nullable=True)
    sent_at = Column(UTCDateTime, nullable=True)
    replied_at = Column(UTCDateTime, nullable=True)
    update_started_at = Column(UTCDateTime, nullable=True)


class CampaignOptOut(Base):
    """A customer who asked for no more campaign messages: by number, and by chat."""

    __tablename__ = "campaign_opt_outs"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_campaign_opt_out_chat"),)

    id = Column(Integer, primary_key=True)
    msisdn = Column(String(10), nullable=True, index=True)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
