"""The `Backend` service: every method opens its own short transaction and returns frozen
dataclasses (bot.backend.views). Phone numbers in and out are 10-digit strings."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot import settings
from bot.backend import reference
from bot.backend.models import (
    AppConsultation,
    AuditLog,
    IdentityVerification,
    OtpChallenge,
    OtpWrongCode,
    PendingRegistration,
    Service,
    SmsOutbox,
    Store,
    Subscriber,
    Subscription,
    Topup,
    UpdateRequest,
)
from bot.backend.sms import render as sms_text
from bot.backend.views import (
    AppConsult,
    AuditView,
    Balance,
    CancelResult,
    Confirmation,
    Decree49Status,
    OtpCheck,
    OtpIssue,
    PendingView,
    Registration,
    ServiceView,
    SmsView,
    StoreView,
    SubscriberView,
    SubscriptionView,
    TopupView,
    UpdatePath,
    UpdateRequestView,
)
from bot.brand import operator
from bot.database import engine_for, session_factory
from bot.reference.catalog import find_service
from bot.reference.occupations import OCCUPATION_LABELS, OCCUPATIONS
from bot.reference.places import PlaceIndex
from bot.text import normalize_msisdn

Clock = Callable[[], datetime]

REGISTRATION_TTL = timedelta(hours=12)
UPDATE_REVIEW_TIME = timedelta(hours=48)
APP_CONSULT_WINDOW = timedelta(hours=24)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
REDACTED_CODE = "******"


@dataclass(frozen=True)
class OtpPolicy:
    """Every OTP number, from the `otp:` section of bot/operator.yml (the one place)."""

    digits: int
    ttl: timedelta
    max_attempts: int  # wrong codes per code
    resend_cooldown: timedelta
    lock: timedelta  # no new code this long after a code's tries are used up (from its issue)
    per_number_sms_per_hour: int
    per_number_sms_per_day: int
    per_number_wrong_per_day: int
    per_conversation_sms_per_hour: int
    global_sms_per_hour: int

    @classmethod
    def from_operator(cls) -> OtpPolicy:
        cfg = operator()["otp"]
        return cls(
            digits=int(cfg["digits"]),
            ttl=timedelta(minutes=float(cfg["ttl_minutes"])),
            max_attempts=int(cfg["max_attempts"]),
            resend_cooldown=timedelta(seconds=float(cfg["resend_cooldown_seconds"])),
            lock=timedelta(minutes=float(cfg["lock_minutes"])),
            per_number_sms_per_hour=int(cfg["per_number_sms_per_hour"]),
            per_number_sms_per_day=int(cfg["per_number_sms_per_day"]),
            per_number_wrong_per_day=int(cfg["per_number_wrong_per_day"]),
            per_conversation_sms_per_hour=int(cfg["per_conversation_sms_per_hour"]),
            global_sms_per_hour=int(cfg["global_sms_per_hour"]),
        )

    @property
    def ttl_minutes(self) -> int:
        return _ceil_seconds(self.ttl) // 60

# How a conversation may prove it owns a number (the identity ledger's `method`).
VERIFICATION_METHODS = ("otp", "telegram_contact", "call_center")
CONVERSATION_ID_MAX = 160

_SUBSCRIBER_FIELDS = tuple(f for f in SubscriberView.__dataclass_fields__)
# Fields an approved update request may change, and photo keys -> subscriber flags.
_UPDATABLE_FIELDS = ("full_name", "birth_date", "gender", "nationality", "province", "district",
                     "ward", "street", "occupation_code", "id_type", "id_number",
                     "id_issue_date", "id_issue_place")
_PHOTO_FLAGS = {"id_front": "has_id_front_photo", "id_back": "has_id_back_photo",
                "portrait": "has_portrait_photo"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _hash_code(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _new_otp_code(digits: int) -> str:
    fixed = os.environ.get("BOT_OTP_FIXED_CODE", "")
    if settings.env() == "test" and fixed.isdigit() and len(fixed) == digits:
        return fixed
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


def _in_operator_ranges(msisdn: str | None) -> bool:
    """A 10-digit number whose prefix the operator publishes (operator.yml number_prefixes)."""
    if not msisdn or len(msisdn) != 10 or not msisdn.isdigit():
        return False
    return any(msisdn.startswith(str(p)) for p in operator()["number_prefixes"])


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _ceil_seconds(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds()))


class Backend:
    """Subscriber backend service; `Backend(db_url, clock=None)`."""

    def __init__(self, db_url: str, clock: Clock | None = None, *,
                 otp_policy: OtpPolicy | None = None) -> None:
        self.db_url = db_url
        self.clock: Clock = clock or utc_now
        self.otp_policy = otp_policy or OtpPolicy.from_operator()
        self.engine = engine_for(db_url)
        self._sessions = session_factory(self.engine)

    # ------------------------------------------------------------------ helpers
    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the backend clock must return aware datetimes")
        return now.astimezone(timezone.utc)

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _norm(msisdn: str | None) -> str | None:
        return normalize_msisdn(str(msisdn)) if msisdn else None

    def _sub(self, s: Session, msisdn: str | None, lock: bool = False) -> Subscriber | None:
        """The subscriber row; `lock` serialises changes per subscriber (PostgreSQL row lock,
        so several action-server instances cannot race on OTP tries or registrations)."""
        number = self._norm(msisdn)
        if number is None:
            return None
        query = select(Subscriber).where(Subscriber.msisdn == number)
        if lock:
            query = query.with_for_update()
        return s.execute(query).scalar_one_or_none()

    @staticmethod
    def _view(sub: Subscriber) -> SubscriberView:
        return SubscriberView(**{f: getattr(sub, f) for f in _SUBSCRIBER_FIELDS})

    def _outbox(self, s: Session, msisdn: str, text: str,
                redacted_text: str | None = None) -> None:
        """Queue an SMS for the gateway (`dispatch_sms`). `redacted_text`: the same text
        with its secret masked, which replaces `text` once the message is sent."""
        s.add(SmsOutbox(msisdn=msisdn, text=text, created_at=self.now(), status="pending",
                        redacted_text=redacted_text))

    def _serialise(self, s: Session, *names: str) -> None:
        """Serialise read-modify-write on these names across processes. PostgreSQL:
        transaction-scoped advisory locks, always taken in the order given (number, then
        conversation), so they cannot deadlock; SQLite: BEGIN IMMEDIATE already serialises
        every write transaction (bot.database.engine)."""
        if s.get_bind().dialect.name != "postgresql":
            return
        for name in names:
            s.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})

    # ------------------------------------------------------------------ subscriber
    def subscriber(self, msisdn: str) -> SubscriberView | None:
        """All fields, unmasked (callers mask). None for a number that is not ours."""
        with self.session() as s:
            sub = self._sub(s, msisdn)
            return self._view(sub) if sub else None

    def is_subscriber(self, msisdn: str) -> bool:
        return self.subscriber(msisdn) is not None

    def masked_profile(self, msisdn: str) -> dict[str, str]:
        """Vietnamese labels -> masked values; {} for an unknown number."""
        sub = self.subscriber(msisdn)
        return reference.masked_profile(sub) if sub else {}

    def decree49_status(self, msisdn: str) -> Decree49Status | None:
        sub = self.subscriber(msisdn)
        return reference.decree49(sub) if sub else None

    def update_path(self, msisdn: str) -> UpdatePath | None:
        sub = self.subscriber(msisdn)
        return reference.update_path(sub) if sub else None

    def occupations(self) -> list[tuple[int, str]]:
        return list(OCCUPATIONS)

    @staticmethod
    def match_occupation(text: str) -> int | None:
        """Occupation code from what the customer typed ('sinh viên' -> 17), or None."""
        return reference.match_occupation(text)

    def set_occupation(self, msisdn: str, code: int) -> bool:
        """Set the one main occupation code (1..18). False for an unknown number."""
        try:
            number = int(code)
        except (TypeError, ValueError):
            number = 0
        if number not in OCCUPATION_LABELS:
            raise ValueError("occupation code must be 1..18") from None
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return False
            sub.occupation_code = number
            return True

    # ------------------------------------------------------------------ identity ledger
    @staticmethod
    def _conversation(conversation_id: str) -> str:
        if not isinstance(conversation_id, str) or not conversation_id.strip() \
                or len(conversation_id) > CONVERSATION_ID_MAX:
            raise ValueError(f"conversation_id must be 1..{CONVERSATION_ID_MAX} characters")
        return conversation_id

    @staticmethod
    def verified_ttl() -> timedelta:
        """How long a proof of identity lasts (operator.yml identity.verified_ttl_minutes)."""
        return timedelta(minutes=float(operator()["identity"]["verified_ttl_minutes"]))

    def _record_verification(self, s: Session, conversation_id: str, msisdn: str,
                             method: str, now: datetime) -> None:
        s.add(IdentityVerification(conversation_id=conversation_id, msisdn=msisdn,
                                   method=method, verified_at=now,
                                   expires_at=now + self.verified_ttl()))

    def record_verification(self, conversation_id: str, msisdn: str, method: str) -> None:
        """Record that `conversation_id` proved it owns `msisdn` (method `otp`,
        `telegram_contact` or `call_center`); valid for identity.verified_ttl_minutes.
        ValueError for an unknown method, a malformed number or conversation id."""
        if method not in VERIFICATION_METHODS:
            raise ValueError(f"method must be one of {', '.join(VERIFICATION_METHODS)}")
        conversation = self._conversation(conversation_id)
        number = self._norm(msisdn)
        if number is None:
            raise ValueError("not a Vietnamese mobile number")
        with self.session() as s, s.begin():
            self._record_verification(s, conversation, number, method, self.now())

    def verified_number(self, conversation_id: str) -> str | None:
        """The number this conversation proved it owns (latest unexpired record), else None."""
        if not isinstance(conversation_id, str) or not conversation_id:
            return None
        now = self.now()
        with self.session() as s:
            return s.execute(
                select(IdentityVerification.msisdn)
                .where(IdentityVerification.conversation_id == conversation_id,
                       IdentityVerification.expires_at > now)
                .order_by(IdentityVerification.verified_at.desc(),
                          IdentityVerification.id.desc()).limit(1)
            ).scalar_one_or_none()

    def clear_verification(self, conversation_id: str) -> None:
        """End every proof of this conversation now (log-out, "not my number", hand-back).
        The rows stay as history, expired."""
        if not isinstance(conversation_id, str) or not conversation_id:
            return
        now = self.now()
        with self.session() as s, s.begin():
            s.execute(update(IdentityVerification)
                      .where(IdentityVerification.conversation_id == conversation_id,
                             IdentityVerification.expires_at > now)
                      .values(expires_at=now))

    # ------------------------------------------------------------------ OTP
    @staticmethod
    def _window_wait(s: Session, column, conditions: Iterable[Any], limit: int,
                     window: timedelta, now: datetime) -> timedelta | None:
        """None while fewer than `limit` events (`column` times matching `conditions`) fall
        in the rolling `window`; else how long until one of them leaves it."""
        conds = (*conditions, column > now - window)
        count = s.execute(select(func.count()).where(*conds)).scalar_one()
        if count < limit:
            return None
        freeing = s.execute(select(column).where(*conds).order_by(column)
                            .offset(count - limit).limit(1)).scalar_one()
        return freeing + window - now

    def _otp_limit_wait(self, s: Session, number: str, conversation: str,
                        now: datetime) -> timedelta | None:
        """How long until every rolling OTP limit this request hits frees up (None: none)."""
        p = self.otp_policy
        at, wrong_at = OtpChallenge.issued_at, OtpWrongCode.at
        waits = [
            self._window_wait(s, at, [OtpChallenge.msisdn == number],
                              p.per_number_sms_per_hour, HOUR, now),
            self._window_wait(s, at, [OtpChallenge.msisdn == number],
                              p.per_number_sms_per_day, DAY, now),
            self._window_wait(s, wrong_at, [OtpWrongCode.msisdn == number],
                              p.per_number_wrong_per_day, DAY, now),
            self._window_wait(s, at, [OtpChallenge.conversation_id == conversation],
                              p.per_conversation_sms_per_hour, HOUR, now),
            self._window_wait(s, at, [], p.global_sms_per_hour, HOUR, now),
        ]
        hit = [w for w in waits if w is not None]
        return max(hit) if hit else None

    def _wrong_today(self, s: Session, number: str, now: datetime) -> int:
        return s.execute(select(func.count()).where(
            OtpWrongCode.msisdn == number, OtpWrongCode.at > now - DAY)).scalar_one()

    def issue_otp(self, msisdn: str, channel: str, conversation_id: str) -> OtpIssue:
        """Send a code for `msisdn`, bound to `conversation_id`, to the SMS outbox.

        `sent` (retry_after_s = resend cool-down) | `cooldown` | `locked` (a code's tries
        were used up) | `limited` (a rolling limit: per number per hour / day, wrong codes
        per number per day, per conversation per hour, global per hour) |
        `not_operator_number` (outside operator.yml number_prefixes, or not a number).
        A number in the ranges that is not a subscriber answers exactly like a subscriber
        (same statuses and accounting) but no SMS is written."""
        p, now = self.otp_policy, self.now()
        conversation = self._conversation(conversation_id)
        number = self._norm(msisdn)
        if not _in_operator_ranges(number):
            return OtpIssue("not_operator_number")
        with self.session() as s, s.begin():
            self._serialise(s, f"otp:number:{number}", f"otp:conversation:{conversation}")
            sub = self._sub(s, number)
            recent = s.execute(
                select(OtpChallenge.issued_at, OtpChallenge.status)
                .where(OtpChallenge.msisdn == number,
                       OtpChallenge.issued_at > now - max(p.lock, p.resend_cooldown))
            ).all()
            locks = [at + p.lock for at, status in recent if status == "exhausted"
                     and now < at + p.lock]
            if locks:
                return OtpIssue("locked", _ceil_seconds(max(locks) - now))
            limited = self._otp_limit_wait(s, number, conversation, now)
            if limited is not None:
                return OtpIssue("limited", _ceil_seconds(limited))
            cooling = [at + p.resend_cooldown for at, _ in recent
                       if now < at + p.resend_cooldown]
            if cooling:
                return OtpIssue("cooldown", _ceil_seconds(max(cooling) - now))
            s.execute(update(OtpChallenge)
                      .where(OtpChallenge.msisdn == number,
                             OtpChallenge.conversation_id == conversation,
                             OtpChallenge.status == "open")
                      .values(status="superseded"))
            code, salt = _new_otp_code(p.digits), secrets.token_hex(16)
            expires = now + p.ttl
            s.add(OtpChallenge(subscriber_id=sub.id if sub else None, msisdn=number,
                               conversation_id=conversation, channel=channel,
                               code_hash=_hash_code(code, salt), salt=salt, issued_at=now,
                               expires_at=expires, attempts=0, max_attempts=p.max_attempts,
                               status="open"))
            if sub is not None:
                self._outbox(s, number, sms_text("otp", code=code, minutes=p.ttl_minutes),
                             sms_text("otp", code=REDACTED_CODE, minutes=p.ttl_minutes))
            return OtpIssue("sent", _ceil_seconds(p.resend_cooldown), expires)

    def verify_otp(self, msisdn: str, code: str, conversation_id: str) -> OtpCheck:
        """Check a code typed in `conversation_id` against the code that conversation asked
        for: ok (the ledger records the number for this conversation, method `otp`, in the
        same transaction) | wrong (attempts_left) | expired | too_many (the code's last
        try, or the number's wrong codes of the last 24 h used up) | no_challenge (none
        asked for in this conversation). A verified code cannot be used twice."""
        p, now = self.otp_policy, self.now()
        conversation = self._conversation(conversation_id)
        number = self._norm(msisdn)
        if not _in_operator_ranges(number):
            return OtpCheck("no_challenge")
        with self.session() as s, s.begin():
            self._serialise(s, f"otp:number:{number}", f"otp:conversation:{conversation}")
            ch = s.execute(
                select(OtpChallenge).where(OtpChallenge.msisdn == number,
                                           OtpChallenge.conversation_id == conversation,
                                           OtpChallenge.status.in_(("open", "exhausted")))
                .order_by(OtpChallenge.issued_at.desc(), OtpChallenge.id.desc()).limit(1)
            ).scalar_one_or_none()
            if ch is None:
                return OtpCheck("no_challenge")
            if ch.status == "exhausted" or ch.attempts >= ch.max_attempts:
                return OtpCheck("too_many", 0)
            wrong_today = self._wrong_today(s, number, now)
            if wrong_today >= p.per_number_wrong_per_day:
                return OtpCheck("too_many", 0)
            if now >= ch.expires_at:
                return OtpCheck("expired", 0)
            typed = "".join(ch_ for ch_ in str(code) if ch_.isdigit())
            matches = hmac.compare_digest(_hash_code(typed, ch.salt), ch.code_hash)
            if matches and ch.subscriber_id is not None:  # no SMS went out: never ok
                ch.status = "verified"
                self._record_verification(s, conversation, number, "otp", now)
                return OtpCheck("ok", ch.max_attempts - ch.attempts)
            ch.attempts += 1
            s.add(OtpWrongCode(msisdn=number, conversation_id=conversation, at=now))
            left = min(ch.max_attempts - ch.attempts,
                       p.per_number_wrong_per_day - wrong_today - 1)
            if ch.attempts >= ch.max_attempts:
                ch.status = "exhausted"
            if left <= 0:
                return OtpCheck("too_many", 0)
            return OtpCheck("wrong", left)

    # ------------------------------------------------------------------ services
    def catalog(self) -> list[ServiceView]:
        with self.session() as s:
            rows = s.execute(select(Service).order_by(Service.position, Service.code)).scalars()
            return [self._service_view(r) for r in rows]

    @staticmethod
    def _service_view(row: Service) -> ServiceView:
        return ServiceView(row.code, row.name, row.price_label, row.price_vnd, row.period_days,
                           tuple(row.aliases or ()))

    def service(self, code: str) -> ServiceView | None:
        """A service by code or alias, typed in any style ('nhac cho' -> FUNRING)."""
        if not code:
            return None
        known = find_service(code)
        key = known.code if known else code.strip().upper()
        with self.session() as s:
            row = s.get(Service, key)
            return self._service_view(row) if row is not None else None

    def active_subscriptions(self, msisdn: str) -> list[SubscriptionView]:
        with self.session() as s:
            sub = self._sub(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(
                select(Subscription, Service)
                .join(Service, Service.code == Subscription.service_code)
                .where(Subscription.subscriber_id == sub.id, Subscription.status == "active")
                .order_by(Service.position, Subscription.started_at)
            ).all()
            return [SubscriptionView(svc.code, svc.name, svc.price_label, row.started_at,
                                     row.channel) for row, svc in rows]

    def cancel_subscription(self, msisdn: str, code: str, channel: str) -> CancelResult:
        svc = self.service(code)
        if svc is None:
            return CancelResult("unknown_service")
        now = self.now()
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return CancelResult("unknown_number", svc.code)
            rows = s.execute(select(Subscription).where(
                Subscription.subscriber_id == sub.id, Subscription.service_code == svc.code,
                Subscription.status == "active")).scalars().all()
            if not rows:
                return CancelResult("not_subscribed", svc.code)
            for row in rows:
                row.status, row.cancelled_at = "cancelled", now
            self._outbox(s, sub.msisdn, sms_text("cancellation", name=svc.name))
            return CancelResult("cancelled", svc.code)

    def _expire_pending(self, s: Session, subscriber_id: int, now: datetime) -> None:
        s.execute(update(PendingRegistration)
                  .where(PendingRegistration.subscriber_id == subscriber_id,
                         PendingRegistration.status == "pending",
                         PendingRegistration.expires_at <= now)
                  .values(status="expired"))

    def request_registration(self, msisdn: str, code: str, channel: str) -> Registration:
        """First step of the double confirmation: a pending request valid for 12 hours."""
        svc = self.service(code)
        if svc is None:
            return Registration("unknown_service")
        now = self.now()
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return Registration("unknown_number", code=svc.code)
            active = s.execute(select(func.count()).select_from(Subscription).where(
                Subscription.subscriber_id == sub.id, Subscription.service_code == svc.code,
                Subscription.status == "active")).scalar_one()
            if active:
                return Registration("already_active", code=svc.code)
            self._expire_pending(s, sub.id, now)
            pending = s.execute(select(PendingRegistration).where(
                PendingRegistration.subscriber_id == sub.id,
                PendingRegistration.service_code == svc.code,
                PendingRegistration.status == "pending")).scalars().first()
            if pending is not None:
                return Registration("already_pending", pending.expires_at, svc.code)
            expires = now + REGISTRATION_TTL
            s.add(PendingRegistration(subscriber_id=sub.id, service_code=svc.code,
                                      channel=channel, requested_at=now, expires_at=expires,
                                      status="pending"))
            self._outbox(s, sub.msisdn, sms_text(
                "registration_request", name=svc.name, price=svc.price_label,
                hours=_ceil_seconds(REGISTRATION_TTL) // 3600))
            return Registration("pending", expires, svc.code)

    def pending_registrations(self, msisdn: str) -> list[PendingView]:
        """Requests still waiting for confirmation (not expired)."""
        now = self.now()
        with self.session() as s:
            sub = self._sub(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(
                select(PendingRegistration, Service)
                .join(Service, Service.code == PendingRegistration.service_code)
                .where(PendingRegistration.subscriber_id == sub.id,
                       PendingRegistration.status == "pending",
                       PendingRegistration.expires_at > now)
                .order_by(PendingRegistration.requested_at)).all()
            return [PendingView(svc.code, svc.name, p.requested_at, p.expires_at, p.channel)
                    for p, svc in rows]

    def confirm_registration(self, msisdn: str, code: str | None = None) -> Confirmation:
        """Second confirmation: activated | expired (after 12 h) | no_pending.
        Without a code, the most recent request is confirmed."""
        now = self.now()
        svc = self.service(code) if code else None
        if code and svc is None:
            return Confirmation("no_pending")
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return Confirmation("unknown_number")
            query = select(PendingRegistration).where(
                PendingRegistration.subscriber_id == sub.id,
                PendingRegistration.status.in_(("pending", "expired")))
            if svc is not None:
                query = query.where(PendingRegistration.service_code == svc.code)
            latest = s.execute(query.order_by(PendingRegistration.requested_at.desc(),
                                              PendingRegistration.id.desc())
                               .limit(1)).scalar_one_or_none()
            if latest is None:
                return Confirmation("no_pending", svc.code if svc else None)
            if latest.status == "expired" or now >= latest.expires_at:
                latest.status = "expired"
                return Confirmation("expired", latest.service_code)
            latest.status = "confirmed"
            already = s.execute(select(func.count()).select_from(Subscription).where(
                Subscription.subscriber_id == sub.id,
                Subscription.service_code == latest.service_code,
                Subscription.status == "active")).scalar_one()
            if not already:
                s.add(Subscription(subscriber_id=sub.id, service_code=latest.service_code,
                                   status="active", channel=latest.channel, started_at=now))
            name = s.get(Service, latest.service_code).name
            self._outbox(s, sub.msisdn, sms_text("registration_activated", name=name))
            return Confirmation("activated", latest.service_code)

    # ------------------------------------------------------------------ account
    def balance(self, msisdn: str) -> Balance | None:
        with self.session() as s:
            sub = self._sub(s, msisdn)
            if sub is None:
                return None
            return Balance(sub.balance_vnd, sub.subscription_type == "postpaid", self.now(),
                           sub.status)

    def topups(self, msisdn: str, limit: int = 5) -> list[TopupView]:
        """Most recent first."""
        with self.session() as s:
            sub = self._sub(s, msisdn)
            if sub is None:
                return []
            rows = s.execute(select(Topup).where(Topup.subscriber_id == sub.id)
                             .order_by(Topup.at.desc(), Topup.id.desc()).limit(limit)).scalars()
            return [TopupView(r.at, r.amount_vnd, r.channel) for r in rows]

    # ------------------------------------------------------------------ app
    def consult_app(self, msisdn: str, channel: str) -> AppConsult:
        """Introduce the self-care app (24-hour rule across channels)."""
        now = self.now()
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return AppConsult("unknown_number")
            if sub.app_installed_at is not None:
                return AppConsult("installed")
            if sub.device == "feature_phone":
                return AppConsult("feature_phone")
            last = s.execute(
                select(AppConsultation).where(AppConsultation.msisdn == sub.msisdn,
                                              AppConsultation.at > now - APP_CONSULT_WINDOW)
                .order_by(AppConsultation.at.desc()).limit(1)).scalar_one_or_none()
            if last is not None:
                hours = math.ceil((last.at + APP_CONSULT_WINDOW - now).total_seconds() / 3600)
                status = "already_consulted" if last.channel == channel else \
                    "consulted_elsewhere"
                return AppConsult(status, max(1, hours))
            brand = operator()
            s.add(AppConsultation(msisdn=sub.msisdn, channel=channel, at=now))
            self._outbox(s, sub.msisdn, sms_text(
                "app_link", app=brand["app_name"], link=brand["app_link"],
                hotline=brand["hotline"]))
            return AppConsult("sms_sent")

    def mark_app_installed(self, msisdn: str) -> bool:
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return False
            sub.app_installed_at = sub.app_installed_at or self.now()
            return True

    # ------------------------------------------------------------------ stores
    def _place_index(self, s: Session) -> PlaceIndex:
        pairs = s.execute(select(Store.province_key, Store.district_key).distinct()).all()
        return PlaceIndex(frozenset(p for p, _ in pairs), frozenset((p, d) for p, d in pairs))

    def find_stores(self, place: str, limit: int = 5, main_only: bool = False) -> list[StoreView]:
        """Stores in the district (else province) the customer typed; main stores first."""
        with self.session() as s:
            province, districts = self._place_index(s).resolve(place or "")
            base = select(Store)
            if main_only:
                base = base.where(Store.is_main.is_(True))
            order = (Store.is_main.desc(), Store.id)
            rows: list[Store] = []
            if districts:
                conds = [(Store.province_key == p) & (Store.district_key == d)
                         for p, d in districts]
                cond = conds[0]
                for extra in conds[1:]:
                    cond = cond | extra
                rows = list(s.execute(base.where(cond).order_by(*order).limit(limit)).scalars())
            if not rows and province is None and districts:
                province = sorted(districts)[0][0]
            if not rows and province:
                rows = list(s.execute(base.where(Store.province_key == province)
                                      .order_by(*order).limit(limit)).scalars())
            return [StoreView(r.id, r.name, r.province, r.district, r.address, r.opening_hours,
                              r.is_main) for r in rows]

    # ------------------------------------------------------------------ update requests
    @staticmethod
    def _request_view(r: UpdateRequest) -> UpdateRequestView:
        return UpdateRequestView(r.id, r.status, r.due_at, r.submitted_at, r.channel,
                                 r.decided_at)

    def submit_update_request(self, msisdn: str, fields: Mapping[str, Any],
                              photos: Mapping[str, Any] | Iterable[Any] | None,
                              channel: str) -> UpdateRequestView | None:
        """Record an information-update request; reviewed within 48 hours. None if unknown."""
        now = self.now()
        photo_refs = dict(photos) if isinstance(photos, Mapping) else list(photos or ())
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn, lock=True)
            if sub is None:
                return None
            req = UpdateRequest(subscriber_id=sub.id, fields=_jsonable(fields),
                                photos=_jsonable(photo_refs), channel=channel, status="pending",
                                submitted_at=now, due_at=now + UPDATE_REVIEW_TIME)
            s.add(req)
            s.flush()
            return self._request_view(req)

    def latest_update_request(self, msisdn: str) -> UpdateRequestView | None:
        with self.session() as s:
            sub = self._sub(s, msisdn)
            if sub is None:
                return None
            req = s.execute(select(UpdateRequest).where(UpdateRequest.subscriber_id == sub.id)
                            .order_by(UpdateRequest.submitted_at.desc(), UpdateRequest.id.desc())
                            .limit(1)).scalar_one_or_none()
            return self._request_view(req) if req else None

    def review_update_request(self, request_id: int, approve: bool) -> UpdateRequestView | None:
        """Back-office decision. Approval applies the submitted fields and photo flags and
        lifts a one-way block once the Decree-49 information is complete."""
        now = self.now()
        with self.session() as s, s.begin():
            req = s.get(UpdateRequest, request_id)
            if req is None:
                return None
            if req.status != "pending":
                return self._request_view(req)
            req.status, req.decided_at = ("approved" if approve else "rejected"), now
            sub = s.get(Subscriber, req.subscriber_id)
            if approve:
                try:
                    _apply_update(sub, req.fields or {}, req.photos or {})
                except ValueError as exc:  # ids only: the bad value stays out of the message
                    raise ValueError(f"update request {req.id}: {exc}") from None
                if sub.status == "one_way_blocked" and reference.decree49(self._view(sub)).complete:
                    sub.status = "active"
                template = "update_approved"
            else:
                template = "update_rejected"
            self._outbox(s, sub.msisdn, sms_text(template))
            return self._request_view(req)

    # ------------------------------------------------------------------ SMS and audit
    def send_sms(self, msisdn: str, text: str) -> None:
        number = self._norm(msisdn)
        if number is None:
            raise ValueError("not a Vietnamese mobile number")
        with self.session() as s, s.begin():
            self._outbox(s, number, text)

    @staticmethod
    def _sms_view(r: SmsOutbox) -> SmsView:
        return SmsView(r.id, r.msisdn, r.text, r.created_at, r.status, r.sent_at)

    def sms_outbox(self, msisdn: str | None = None, after_id: int = 0,
                   limit: int | None = None, status: str | None = None) -> list[SmsView]:
        """Outbox rows with id > after_id, oldest first. Pending rows hold the readable
        text (tests read codes there); sent rows hold it with any code masked."""
        query = select(SmsOutbox).where(SmsOutbox.id > after_id)
        if msisdn:
            number = self._norm(msisdn)
            if number is None:
                return []
            query = query.where(SmsOutbox.msisdn == number)
        if status:
            query = query.where(SmsOutbox.status == status)
        query = query.order_by(SmsOutbox.id)
        if limit:
            query = query.limit(limit)
        with self.session() as s:
            return [self._sms_view(r) for r in s.execute(query).scalars()]

    def dispatch_sms(self, send: Callable[[SmsView], None], limit: int = 100, *,
                     msisdn: str | None = None) -> int:
        """Hand each pending outbox row (oldest first, at most `limit`, only `msisdn`'s when
        given) to the gateway callable `send`, then mark it `sent` and mask its code. One
        transaction per message: a row is marked sent only after `send` returned; if `send`
        raises, that row stays pending and the exception propagates. On PostgreSQL, rows
        another dispatcher holds are skipped. Returns how many were sent."""
        number = self._norm(msisdn) if msisdn else None
        if msisdn and number is None:
            return 0
        sent = 0
        while sent < limit:
            with self.session() as s, s.begin():
                query = select(SmsOutbox).where(SmsOutbox.status == "pending")
                if number:
                    query = query.where(SmsOutbox.msisdn == number)
                row = s.execute(query.order_by(SmsOutbox.id).limit(1)
                                .with_for_update(skip_locked=True)).scalar_one_or_none()
                if row is None:
                    break
                send(self._sms_view(row))
                row.status, row.sent_at = "sent", self.now()
                if row.redacted_text is not None:
                    row.text, row.redacted_text = row.redacted_text, None
            sent += 1
        return sent

    def last_sms_id(self) -> int:
        """Id of the newest outbox message (0 when empty)."""
        with self.session() as s:
            return s.execute(select(func.max(SmsOutbox.id))).scalar_one() or 0

    def audit(self, actor: str, action: str, msisdn: str | None) -> None:
        """Record that `actor` did `action` on a subscriber's data: internal id only."""
        with self.session() as s, s.begin():
            sub = self._sub(s, msisdn)
            s.add(AuditLog(actor=actor[:80], action=action[:60],
                           subscriber_id=sub.id if sub else None, at=self.now()))

    def audit_log(self, limit: int = 100) -> list[AuditView]:
        with self.session() as s:
            rows = s.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)).scalars()
            return [AuditView(r.id, r.actor, r.action, r.subscriber_id, r.at) for r in rows]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _apply_update(sub: Subscriber, fields: Mapping[str, Any], photos: Any) -> None:
    from datetime import date

    for name in _UPDATABLE_FIELDS:
        if name not in fields or fields[name] in (None, ""):
            continue
        value = fields[name]
        try:
            if name in ("birth_date", "id_issue_date") and isinstance(value, str):
                value = date.fromisoformat(value)
            if name == "occupation_code":
                value = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"field {name} is not valid") from None
        setattr(sub, name, value)
    if "full_name" in fields or fields.get("name_matches_document"):
        sub.name_mismatch = False
    keys = photos.keys() if isinstance(photos, Mapping) else []
    for key in keys:
        if key in _PHOTO_FLAGS and photos[key]:
            setattr(sub, _PHOTO_FLAGS[key], True)
