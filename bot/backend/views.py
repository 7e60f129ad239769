"""Frozen dataclasses returned by the backend's services (no ORM object ever leaks out)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

# A catalog entry is also the service view (bot/reference/catalog.py): one definition.
from bot.reference.catalog import ServiceView as ServiceView

# Personal fields are declared field(repr=False): a logged view leaks nothing.


@dataclass(frozen=True)
class SubscriberView:
    id: int
    msisdn: str
    subscription_type: str  # prepaid | postpaid
    status: str  # active | one_way_blocked | blocked
    full_name: str = field(repr=False)  # personal: not in repr()
    birth_date: date | None = field(repr=False)  # personal: not in repr()
    gender: str | None = field(repr=False)  # personal: not in repr()  # male | female
    nationality: str | None = field(repr=False)  # personal: not in repr()
    province: str | None = field(repr=False)  # personal: not in repr()
    district: str | None = field(repr=False)  # personal: not in repr()
    ward: str | None = field(repr=False)  # personal: not in repr()
    street: str | None = field(repr=False)  # personal: not in repr()
    occupation_code: int | None = field(repr=False)  # personal: not in repr()
    id_type: str | None  # CMND | CCCD | PASSPORT
    id_number: str | None = field(repr=False)  # personal: not in repr()
    id_issue_date: date | None = field(repr=False)  # personal: not in repr()
    id_issue_place: str | None = field(repr=False)  # personal: not in repr()
    has_id_front_photo: bool
    has_id_back_photo: bool
    has_portrait_photo: bool
    name_mismatch: bool
    is_premium_number: bool
    premium_commitment: bool
    company_tax_code: str | None
    device: str  # smartphone | feature_phone
    app_installed_at: datetime | None
    balance_vnd: int

    @property
    def is_postpaid(self) -> bool:
        return self.subscription_type == "postpaid"

    @property
    def is_company(self) -> bool:
        return bool(self.company_tax_code)

    @property
    def app_installed(self) -> bool:
        return self.app_installed_at is not None


@dataclass(frozen=True)
class Decree49Status:
    complete: bool
    missing: tuple[str, ...]  # item codes (reference.DECREE49_FIELDS), labels in the domain
    # Occupation is not a Decree-49 field: it is a separate, proactive ask.
    occupation_missing: bool = False


class UpdatePath(str, enum.Enum):
    """What the call-center script does for a subscriber's missing information."""

    COMPLETE = "COMPLETE"
    STORE_PREMIUM = "STORE_PREMIUM"
    STORE_COMPANY = "STORE_COMPANY"
    STORE_FEATURE_PHONE = "STORE_FEATURE_PHONE"
    ONLINE_APP = "ONLINE_APP"


BARRING_SCOPES = ("outgoing", "two_way", "international", "roaming", "data")
LINE_SCOPES = ("outgoing", "two_way")  # a barring of these stops the line
BARRING_REASONS = ("debt", "customer_request", "not_registered")


@dataclass(frozen=True)
class BarringView:
    scope: str  # BARRING_SCOPES
    reason: str  # BARRING_REASONS
    since: datetime
    debt_vnd: int | None = None

    @property
    def stops_the_line(self) -> bool:
        return self.scope in LINE_SCOPES


@dataclass(frozen=True)
class OtpIssue:
    # sent | cooldown | locked | limited | not_operator_number
    status: str
    retry_after_s: int = 0
    expires_at: datetime | None = None
    # An unused, unexpired code of this conversation for the number is waiting to be typed
    # (set with cooldown/locked/limited: "the code was just sent" is true only then).
    pending_here: bool = False


@dataclass(frozen=True)
class OtpCheck:
    status: str  # ok | wrong | expired | too_many | no_challenge
    attempts_left: int = 0


@dataclass(frozen=True)
class SubscriptionView:
    code: str
    name: str
    price_label: str
    since: datetime
    channel: str = ""


@dataclass(frozen=True)
class CancelResult:
    status: str  # cancelled | not_subscribed | unknown_service | unknown_number
    code: str | None = None


@dataclass(frozen=True)
class Registration:
    status: str  # pending | already_active | already_pending | unknown_service | unknown_number
    expires_at: datetime | None = None
    code: str | None = None


@dataclass(frozen=True)
class Confirmation:
    status: str  # activated | expired | no_pending | unknown_number
    code: str | None = None


@dataclass(frozen=True)
class Balance:
    main_vnd: int
    is_postpaid: bool
    as_of: datetime
    subscriber_status: str = "active"


@dataclass(frozen=True)
class TopupView:
    at: datetime
    amount_vnd: int
    channel: str


@dataclass(frozen=True)
class AppConsult:
    # installed | feature_phone | sms_sent | consulted_elsewhere | already_consulted
    # | unknown_number
    status: str
    hours_left: int = 0


@dataclass(frozen=True)
class ShopView:
    id: int
    name: str
    province: str
    district: str
    address: str
    opening_hours: str
    is_main: bool


@dataclass(frozen=True)
class UpdateRequestView:
    id: int
    status: str  # pending | approved | rejected
    due_at: datetime
    submitted_at: datetime
    channel: str = ""
    decided_at: datetime | None = None
    version: int = 0  # the review desk decides only the version it showed
    reject_reason: str | None = None  # a code of bot/operator.yml review.reject_reasons
    reject_note: str | None = field(default=None, repr=False)  # free text: not in repr()
    decided_by: str | None = None
    notified_via: str | None = None  # telegram | zalo | sms: how the customer was told
    conversation_id: str | None = None


@dataclass(frozen=True)
class ReviewDetail:
    """One update request as the review desk shows it. `fields` are the submitted values
    (the reviewer compares them with the document, so they are whole); `current` is the
    subscriber's registered data masked (`reference.masked_profile`); `photos` kind ->
    media reference."""

    request: UpdateRequestView
    subscriber_id: int
    msisdn: str
    fields: dict[str, str] = field(repr=False)  # personal: not in repr()
    photos: dict[str, str] = field(repr=False)
    current: dict[str, str] = field(repr=False)
    history: tuple[UpdateRequestView, ...] = ()


@dataclass(frozen=True)
class ReviewDecision:
    """What a decision did: the request, whose it is, which Decree-49 items it completed
    (codes of `reference.decree49`), whether it lifted a one-way block."""

    request: UpdateRequestView
    msisdn: str
    completed: tuple[str, ...] = ()
    unblocked: bool = False
    complete: bool = False


@dataclass(frozen=True)
class SmsView:
    id: int
    msisdn: str
    text: str = field(repr=False)  # may hold a readable code while pending
    created_at: datetime
    status: str = "pending"  # pending | sent
    sent_at: datetime | None = None


@dataclass(frozen=True)
class AuditView:
    id: int
    actor: str
    action: str
    subscriber_id: int | None
    at: datetime
    update_request_id: int | None = None
