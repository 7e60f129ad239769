"""SQLAlchemy ORM models of the subscriber backend (SQLAlchemy 1.4, 2.0-style usage).

On the shared `bot.database.Base`; every timestamp is a `UTCDateTime` (aware UTC in
Python). Created by the revisions in bot/backend/migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.database import Base, UTCDateTime


class Subscriber(Base):
    __tablename__ = "subscribers"

    id = Column(Integer, primary_key=True)
    msisdn = Column(String(10), nullable=False, unique=True)
    subscription_type = Column(String(10), nullable=False)  # prepaid | postpaid
    status = Column(String(20), nullable=False, default="active")  # active|one_way_blocked|blocked
    full_name = Column(String(120), nullable=False, default="")
    birth_date = Column(Date, nullable=True)
    gender = Column(String(10), nullable=True)  # male | female
    nationality = Column(String(60), nullable=True)
    province = Column(String(80), nullable=True)
    district = Column(String(80), nullable=True)
    ward = Column(String(80), nullable=True)
    street = Column(String(160), nullable=True)
    occupation_code = Column(Integer, nullable=True)  # 1..18, exactly one main code
    id_type = Column(String(10), nullable=True)  # CMND | CCCD | PASSPORT
    id_number = Column(String(20), nullable=True)
    id_issue_date = Column(Date, nullable=True)
    id_issue_place = Column(String(120), nullable=True)
    has_id_front_photo = Column(Boolean, nullable=False, default=False)
    has_id_back_photo = Column(Boolean, nullable=False, default=False)
    has_portrait_photo = Column(Boolean, nullable=False, default=False)
    name_mismatch = Column(Boolean, nullable=False, default=False)
    is_premium_number = Column(Boolean, nullable=False, default=False)
    premium_commitment = Column(Boolean, nullable=False, default=False)
    company_tax_code = Column(String(20), nullable=True)  # TCT code of a company subscriber
    device = Column(String(20), nullable=False, default="smartphone")  # smartphone|feature_phone
    app_installed_at = Column(UTCDateTime, nullable=True)
    balance_vnd = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False)


class ServiceBarring(Base):
    """A service barring on a subscriber (chặn dịch vụ): what is barred (`scope`), why
    (`reason`), since when, and for a debt the amount owed. Active while `lifted_at` is
    None. `outgoing` and `two_way` stop the line (the subscriber's status says so too);
    the other scopes stop one service only."""

    __tablename__ = "service_barrings"
    __table_args__ = (Index("ix_service_barrings_subscriber", "subscriber_id", "lifted_at"),)

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=False)
    scope = Column(String(20), nullable=False)  # outgoing|two_way|international|roaming|data
    reason = Column(String(30), nullable=False)  # debt | customer_request | not_registered
    since = Column(UTCDateTime, nullable=False)
    debt_vnd = Column(Integer, nullable=True)  # reason debt: the amount owed
    lifted_at = Column(UTCDateTime, nullable=True)


class Service(Base):
    __tablename__ = "services"

    code = Column(String(20), primary_key=True)
    name = Column(String(120), nullable=False)
    price_label = Column(String(60), nullable=False)
    price_vnd = Column(Integer, nullable=False)
    period_days = Column(Integer, nullable=False)
    aliases = Column(JSON, nullable=False, default=list)  # lower-case, with diacritics
    position = Column(Integer, nullable=False, default=0)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_subscriber_status", "subscriber_id", "status"),)

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=False)
    service_code = Column(String(20), ForeignKey("services.code"), nullable=False)
    status = Column(String(12), nullable=False)  # active | cancelled
    channel = Column(String(20), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    cancelled_at = Column(UTCDateTime, nullable=True)


class PendingRegistration(Base):
    __tablename__ = "pending_registrations"
    __table_args__ = (Index("ix_pending_subscriber_service", "subscriber_id", "service_code"),)

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=False)
    service_code = Column(String(20), ForeignKey("services.code"), nullable=False)
    channel = Column(String(20), nullable=False)
    requested_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    status = Column(String(12), nullable=False)  # pending | confirmed | expired


class Topup(Base):
    __tablename__ = "topups"
    __table_args__ = (Index("ix_topups_subscriber_at", "subscriber_id", "at"),)

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=False)
    at = Column(UTCDateTime, nullable=False)
    amount_vnd = Column(Integer, nullable=False)
    channel = Column(String(30), nullable=False)


class UpdateRequest(Base):
    __tablename__ = "update_requests"
    __table_args__ = (Index("ix_update_requests_status_submitted", "status", "submitted_at"),)

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    fields = Column(JSON, nullable=False, default=dict)
    photos = Column(JSON, nullable=False, default=dict)
    channel = Column(String(20), nullable=False)
    status = Column(String(12), nullable=False)  # pending | approved | rejected
    submitted_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    decided_at = Column(UTCDateTime, nullable=True)
    # The review desk (0009_review_desk)
    conversation_id = Column(String(160), nullable=True)  # where the outcome is told
    version = Column(Integer, nullable=False, default=0, server_default="0")
    decided_by = Column(String(80), nullable=True)  # the reviewer's console account
    reject_reason = Column(String(30), nullable=True)  # operator.yml review.reject_reasons
    reject_note = Column(Text, nullable=True)  # the reviewer's note (reason "other")
    notified_via = Column(String(12), nullable=True)  # telegram | zalo | sms
    notified_at = Column(UTCDateTime, nullable=True)
    media_purged_at = Column(UTCDateTime, nullable=True)


class OtpChallenge(Base):
    """One code asked for by one conversation for one number. `subscriber_id` is None for a
    number in the operator's ranges that is not a subscriber: such a challenge is recorded
    (same cool-down and limits, so a stranger cannot tell) but no SMS is sent and it never
    verifies."""

    __tablename__ = "otp_challenges"
    __table_args__ = (Index("ix_otp_subscriber_issued", "subscriber_id", "issued_at"),
                      Index("ix_otp_msisdn_issued", "msisdn", "issued_at"),
                      Index("ix_otp_conversation_issued", "conversation_id", "issued_at"),
                      Index("ix_otp_issued", "issued_at"))

    id = Column(Integer, primary_key=True)
    subscriber_id = Column(Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                           nullable=True)
    msisdn = Column(String(10), nullable=False)
    conversation_id = Column(String(160), nullable=False)
    channel = Column(String(20), nullable=False)
    code_hash = Column(String(64), nullable=False)
    salt = Column(String(32), nullable=False)
    issued_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    max_attempts = Column(Integer, nullable=False, default=5)
    status = Column(String(12), nullable=False)  # open | verified | superseded | exhausted


class OtpWrongCode(Base):
    """One wrong code typed for a number (any of its codes, any conversation): the rolling
    per-number daily limit counts these."""

    __tablename__ = "otp_wrong_codes"
    __table_args__ = (Index("ix_otp_wrong_msisdn_at", "msisdn", "at"),)

    id = Column(Integer, primary_key=True)
    msisdn = Column(String(10), nullable=False)
    conversation_id = Column(String(160), nullable=False)
    at = Column(UTCDateTime, nullable=False)


class AppConsultation(Base):
    __tablename__ = "app_consultations"
    __table_args__ = (Index("ix_app_consultations_msisdn_at", "msisdn", "at"),)

    id = Column(Integer, primary_key=True)
    msisdn = Column(String(10), nullable=False)
    channel = Column(String(20), nullable=False)
    at = Column(UTCDateTime, nullable=False)


class SmsOutbox(Base):
    """SMS waiting for (`pending`) or handed to (`sent`) the gateway. A message carrying a
    secret (an OTP) keeps its masked form in `redacted_text`; once sent, `text` is replaced
    by it, so no readable code stays at rest."""

    __tablename__ = "sms_outbox"
    __table_args__ = (Index("ix_sms_outbox_status_id", "status", "id"),)

    id = Column(Integer, primary_key=True)
    msisdn = Column(String(10), nullable=False, index=True)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    status = Column(String(10), nullable=False, default="pending")  # pending | sent
    sent_at = Column(UTCDateTime, nullable=True)
    redacted_text = Column(Text, nullable=True)  # None: nothing secret in `text`


class IdentityVerification(Base):
    """The identity ledger: a server-side fact that a conversation proved it owns a number
    (OTP typed back, a Telegram contact shared by its owner, a call-center transfer).
    Only these rows say who a conversation is; message metadata and slots never do."""

    __tablename__ = "identity_verifications"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(160), nullable=False, index=True)
    msisdn = Column(String(10), nullable=False)
    method = Column(String(20), nullable=False)  # otp | telegram_contact | call_center
    verified_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class Shop(Base):
    """One of the operator's shops (cửa hàng, trung tâm giao dịch). The table keeps its
    first name, `stores`."""

    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("name", name="uq_stores_name"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(160), nullable=False)
    province = Column(String(80), nullable=False)
    district = Column(String(80), nullable=False)
    address = Column(String(240), nullable=False)
    opening_hours = Column(String(80), nullable=False)
    is_main = Column(Boolean, nullable=False, default=False)
    province_key = Column(String(80), nullable=False, index=True)  # fold(province)
    district_key = Column(String(80), nullable=False, index=True)  # fold(district)


class AuditLog(Base):
    """Who touched which subscriber's personal data. Holds no personal data itself."""

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    actor = Column(String(80), nullable=False)
    action = Column(String(60), nullable=False)
    subscriber_id = Column(Integer, nullable=True)  # internal id only, never the number
    at = Column(UTCDateTime, nullable=False)
    update_request_id = Column(Integer, nullable=True)  # the request a reviewer handled
