"""Who a conversation is: the identity ledger and the OTP that writes it.

- `IdentityLedger`: the only source of "which number did this conversation prove it owns"
  (rows written by our servers: OTP, a Telegram contact, a call-center transfer).
- `OtpService`: codes bound to the conversation that asked, rolling limits from the `otp:`
  section of bot/operator.yml (`OtpPolicy`), non-disclosure for numbers that are not
  subscribers; a right code writes the ledger in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import settings
from bot.backend import sms
from bot.backend.context import BackendContext, ceil_seconds
from bot.backend.models import IdentityVerification, OtpChallenge, OtpWrongCode
from bot.backend.views import OtpCheck, OtpIssue
from bot.brand import operator

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# How a conversation may prove it owns a number (the identity ledger's `method`).
VERIFICATION_METHODS = ("otp", "telegram_contact", "call_center")
CONVERSATION_ID_MAX = 160


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
        return ceil_seconds(self.ttl) // 60


def verified_ttl() -> timedelta:
    """How long a proof of identity lasts (operator.yml identity.verified_ttl_minutes)."""
    return timedelta(minutes=float(operator()["identity"]["verified_ttl_minutes"]))


def _conversation(conversation_id: str) -> str:
    if not isinstance(conversation_id, str) or not conversation_id.strip() \
            or len(conversation_id) > CONVERSATION_ID_MAX:
        raise ValueError(f"conversation_id must be 1..{CONVERSATION_ID_MAX} characters")
    return conversation_id


def _hash_code(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _new_otp_code(digits: int) -> str:
    fixed = os.environ.get("BOT_OTP_FIXED_CODE", "")
    if settings.env() == "test" and fixed.isdigit() and len(fixed) == digits:
        return fixed
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


def _in_operator_ranges(msisdn: str | None) -> TypeGuard[str]:
    """A 10-digit number whose prefix the operator publishes (operator.yml number_prefixes)."""
    if not msisdn or len(msisdn) != 10 or not msisdn.isdigit():
        return False
    return any(msisdn.startswith(str(p)) for p in operator()["number_prefixes"])


class IdentityLedger:
    """The identity ledger (`identity_verifications`): the only source of "who is this
    conversation". Message metadata and slots never are."""

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    @staticmethod
    def add(s: Session, conversation_id: str, msisdn: str, method: str,
            now: datetime) -> None:
        """Write a ledger row in the caller's transaction (checked arguments)."""
        s.add(IdentityVerification(conversation_id=conversation_id, msisdn=msisdn,
                                   method=method, verified_at=now,
                                   expires_at=now + verified_ttl()))

    def record(self, conversation_id: str, msisdn: str, method: str) -> None:
        """Record that `conversation_id` proved it owns `msisdn` (method `otp`,
        `telegram_contact` or `call_center`); valid for identity.verified_ttl_minutes.
        ValueError for an unknown method, a malformed number or conversation id."""
        if method not in VERIFICATION_METHODS:
            raise ValueError(f"method must be one of {', '.join(VERIFICATION_METHODS)}")
        conversation = _conversation(conversation_id)
        number = self.ctx.normalize(msisdn)
        if number is None:
            raise ValueError("not a Vietnamese mobile number")
        with self.ctx.session() as s, s.begin():
            self.add(s, conversation, number, method, self.ctx.now())

    def verified_number(self, conversation_id: str) -> str | None:
        """The number this conversation proved it owns (latest unexpired record), else None."""
        if not isinstance(conversation_id, str) or not conversation_id:
            return None
        now = self.ctx.now()
        with self.ctx.session() as s:
            return s.execute(
                select(IdentityVerification.msisdn)
                .where(IdentityVerification.conversation_id == conversation_id,
                       IdentityVerification.expires_at > now)
                .order_by(IdentityVerification.verified_at.desc(),
                          IdentityVerification.id.desc()).limit(1)
            ).scalar_one_or_none()


class OtpService:
    """One-time codes by SMS; `policy` may be replaced (tests: `dataclasses.replace`)."""

    def __init__(self, ctx: BackendContext, ledger: IdentityLedger,
                 policy: OtpPolicy | None = None) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.policy = policy or OtpPolicy.from_operator()

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

    def _limit_wait(self, s: Session, number: str, conversation: str,
                    now: datetime) -> timedelta | None:
        """How long until every rolling OTP limit this request hits frees up (None: none)."""
        p = self.policy
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

    @staticmethod
    def _wrong_today(s: Session, number: str, now: datetime) -> int:
        return s.execute(select(func.count()).where(
            OtpWrongCode.msisdn == number, OtpWrongCode.at > now - DAY)).scalar_one()

    def issue(self, msisdn: str, channel: str, conversation_id: str) -> OtpIssue:
        """Send a code for `msisdn`, bound to `conversation_id`, to the SMS outbox.

        `sent` (retry_after_s = resend cool-down) | `cooldown` (a code not yet used, of any
        conversation, was sent within the resend cool-down) | `locked` (a code's tries
        were used up) | `limited` (a rolling limit: per number per hour / day, wrong codes
        per number per day, per conversation per hour, global per hour) |
        `not_operator_number` (outside operator.yml number_prefixes, or not a number).
        `pending_here` says whether this conversation holds an unused, unexpired code for
        the number (so "the code was just sent" is true only when it is set).
        A number in the ranges that is not a subscriber answers exactly like a subscriber
        (same statuses and accounting) but no SMS is written."""
        p, now = self.policy, self.ctx.now()
        conversation = _conversation(conversation_id)
        number = self.ctx.normalize(msisdn)
        if not _in_operator_ranges(number):
            return OtpIssue("not_operator_number")
        with self.ctx.session() as s, s.begin():
            self.ctx.serialise(s, f"otp:number:{number}", f"otp:conversation:{conversation}")
            sub = self.ctx.subscriber_row(s, number)
            recent = s.execute(
                select(OtpChallenge.issued_at, OtpChallenge.status)
                .where(OtpChallenge.msisdn == number,
                       OtpChallenge.issued_at > now - max(p.lock, p.resend_cooldown))
            ).all()
            pending_here = s.execute(select(func.count()).where(
                OtpChallenge.msisdn == number, OtpChallenge.conversation_id == conversation,
                OtpChallenge.status == "open", OtpChallenge.expires_at > now)).scalar_one() > 0
            locks = [at + p.lock for at, status in recent if status == "exhausted"
                     and now < at + p.lock]
            if locks:
                return OtpIssue("locked", ceil_seconds(max(locks) - now),
                                pending_here=pending_here)
            limited = self._limit_wait(s, number, conversation, now)
            if limited is not None:
                return OtpIssue("limited", ceil_seconds(limited), pending_here=pending_here)
            # Only a code still waiting to be typed (any conversation's) holds the number's
            # cool-down: once the last one was used, a new conversation gets its own code.
            cooling = [at + p.resend_cooldown for at, status in recent
                       if status == "open" and now < at + p.resend_cooldown]
            if cooling:
                return OtpIssue("cooldown", ceil_seconds(max(cooling) - now),
                                pending_here=pending_here)
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
                sms.queue(s, number, sms.render("otp", code=code, minutes=p.ttl_minutes), now,
                          sms.render("otp", code=sms.REDACTED_CODE, minutes=p.ttl_minutes))
            return OtpIssue("sent", ceil_seconds(p.resend_cooldown), expires, pending_here=True)

    def verify(self, msisdn: str, code: str, conversation_id: str) -> OtpCheck:
        """Check a code typed in `conversation_id` against the code that conversation asked
        for: ok (the ledger records the number for this conversation, method `otp`, in the
        same transaction) | wrong (attempts_left) | expired | too_many (the code's last
        try, or the number's wrong codes of the last 24 h used up) | no_challenge (none
        asked for in this conversation). A verified code cannot be used twice."""
        p, now = self.policy, self.ctx.now()
        conversation = _conversation(conversation_id)
        number = self.ctx.normalize(msisdn)
        if not _in_operator_ranges(number):
            return OtpCheck("no_challenge")
        with self.ctx.session() as s, s.begin():
            self.ctx.serialise(s, f"otp:number:{number}", f"otp:conversation:{conversation}")
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
                self.ledger.add(s, conversation, number, "otp", now)
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
