"""OTP challenges: 6 digits, 5 minutes, 5 tries, 60 s resend cool-down, SMS outbox only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backend.models import OtpChallenge

NUMBER = "0901000002"
OTP_TEXT = re.compile(r"^Mã xác thực của quý khách là (\d{6}), có hiệu lực 5 phút\. "
                      r"Không chia sẻ mã này cho bất kỳ ai\.$")


def _last_code(backend, number=NUMBER) -> str:
    match = OTP_TEXT.match(backend.sms_outbox(number)[-1].text)
    assert match, "the OTP SMS text changed"
    return match.group(1)


def test_issue_sends_vietnamese_sms_and_verifies(backend, clock):
    issued = backend.issue_otp(NUMBER, "telegram")
    assert issued.status == "sent"
    assert issued.expires_at == clock.now + timedelta(minutes=5)
    code = _last_code(backend)
    assert code == "123456"  # BOT_ENV=test + BOT_OTP_FIXED_CODE
    assert backend.verify_otp(NUMBER, code).status == "ok"
    # One code, one use.
    assert backend.verify_otp(NUMBER, code).status == "no_challenge"


def test_code_is_stored_hashed_with_a_salt(backend):
    backend.issue_otp(NUMBER, "telegram")
    code = _last_code(backend)
    with backend.session() as s:
        row = s.execute(select(OtpChallenge)).scalars().one()
    assert code not in (row.code_hash, row.salt)
    assert len(row.salt) == 32 and len(row.code_hash) == 64


def test_fixed_code_only_in_test_env(backend, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "dev")
    codes = set()
    for number in ("0901000001", "0901000002", "0901000003", "0901000004"):
        assert backend.issue_otp(number, "telegram").status == "sent"
        codes.add(_last_code(backend, number))
    assert codes != {"123456"} and len(codes) > 1
    assert all(len(c) == 6 and c.isdigit() for c in codes)


def test_resend_cooldown_then_new_code_replaces_old(backend, clock, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "dev")
    assert backend.issue_otp(NUMBER, "zalo").status == "sent"
    first = _last_code(backend)
    clock.advance(seconds=20)
    again = backend.issue_otp(NUMBER, "zalo")
    assert (again.status, again.retry_after_s) == ("cooldown", 40)
    assert len(backend.sms_outbox(NUMBER)) == 1
    clock.advance(seconds=40)
    assert backend.issue_otp(NUMBER, "zalo").status == "sent"
    second = _last_code(backend)
    if first != second:  # the old code no longer works
        assert backend.verify_otp(NUMBER, first).status == "wrong"
    assert backend.verify_otp(NUMBER, second).status == "ok"


def test_expires_after_five_minutes(backend, clock):
    backend.issue_otp(NUMBER, "telegram")
    clock.advance(minutes=5)
    assert backend.verify_otp(NUMBER, "123456").status == "expired"


def test_still_valid_just_before_expiry(backend, clock):
    backend.issue_otp(NUMBER, "telegram")
    clock.advance(minutes=4, seconds=59)
    assert backend.verify_otp(NUMBER, "123456").status == "ok"


def test_five_tries_then_too_many(backend):
    backend.issue_otp(NUMBER, "telegram")
    results = [backend.verify_otp(NUMBER, "000000") for _ in range(5)]
    assert [(r.status, r.attempts_left) for r in results] == [
        ("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1), ("too_many", 0)]
    # Even the right code is refused now.
    assert backend.verify_otp(NUMBER, "123456").status == "too_many"


def test_locked_after_too_many_then_reopens(backend, clock):
    backend.issue_otp(NUMBER, "telegram")
    for _ in range(5):
        backend.verify_otp(NUMBER, "999999")
    clock.advance(minutes=2)
    locked = backend.issue_otp(NUMBER, "telegram")
    assert locked.status == "locked" and locked.retry_after_s == 13 * 60
    clock.advance(minutes=13)
    assert backend.issue_otp(NUMBER, "telegram").status == "sent"
    assert backend.verify_otp(NUMBER, "123456").status == "ok"


def test_correct_code_after_some_wrong_tries(backend):
    backend.issue_otp(NUMBER, "telegram")
    assert backend.verify_otp(NUMBER, "111111").attempts_left == 4
    check = backend.verify_otp(NUMBER, " 123 456 ")  # spaces typed by the customer
    assert check.status == "ok"


@pytest.mark.parametrize("number", ["0999999999", "hello"])
def test_unknown_number(backend, number):
    assert backend.issue_otp(number, "telegram").status == "unknown_number"
    assert backend.verify_otp(number, "123456").status == "no_challenge"
    assert backend.sms_outbox() == []


def test_verify_without_challenge(backend):
    assert backend.verify_otp(NUMBER, "123456").status == "no_challenge"


def test_challenges_are_per_number(backend):
    backend.issue_otp("0901000001", "telegram")
    assert backend.issue_otp("0901000002", "telegram").status == "sent"
    assert backend.verify_otp("0901000002", "123456").status == "ok"
    assert backend.verify_otp("0901000001", "123456").status == "ok"


def test_concurrent_tries_are_counted_exactly(backend):
    """Ten simultaneous wrong codes (e.g. several action-server instances): exactly four
    `wrong` answers, then `too_many` — tries cannot be lost to a race."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    backend.issue_otp(NUMBER, "telegram")
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: backend.verify_otp(NUMBER, "000000").status,
                                range(10)))
    assert Counter(results) == {"wrong": 4, "too_many": 6}
