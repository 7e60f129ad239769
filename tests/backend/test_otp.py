"""OTP challenges: 6 digits, 5 minutes, 5 tries, 60 s resend cool-down, SMS outbox only;
bound to the conversation that asked; rolling limits; no disclosure of who subscribes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backend.identity import OtpPolicy
from bot.backend.models import OtpChallenge

NUMBER = "0901000002"
CONV = "telegram:1001"
OTHER = "zalo:2002"
TEST_OTP = "123456"  # BOT_OTP_FIXED_CODE of the backend fixture
STRANGER = "0901000099"  # in the operator's ranges (090), not a subscriber
OTP_TEXT = re.compile(r"^MobiFone: Mã xác thực (\d{6}) để xác minh số thuê bao khi trò chuyện "
                      r"với trợ lý chăm sóc khách hàng, hiệu lực 5 phút\. "
                      r"Không chia sẻ mã này cho bất kỳ ai\.$")


def _last_code(backend, number=NUMBER) -> str:
    match = OTP_TEXT.match(backend.sms.outbox(number)[-1].text)
    assert match, "the OTP SMS text changed"
    return match.group(1)


def test_policy_comes_from_the_operator_profile(backend):
    from bot.brand import operator

    cfg = operator()["otp"]
    policy = OtpPolicy.from_operator()
    assert backend.otp.policy == policy
    assert policy.digits == cfg["digits"] == 6
    assert policy.ttl == timedelta(minutes=cfg["ttl_minutes"])
    assert policy.max_attempts == cfg["max_attempts"]
    assert policy.resend_cooldown == timedelta(seconds=cfg["resend_cooldown_seconds"])
    assert policy.lock == timedelta(minutes=cfg["lock_minutes"])
    assert (policy.per_number_sms_per_hour, policy.per_number_sms_per_day,
            policy.per_number_wrong_per_day, policy.per_conversation_sms_per_hour,
            policy.global_sms_per_hour) == (
        cfg["per_number_sms_per_hour"], cfg["per_number_sms_per_day"],
        cfg["per_number_wrong_per_day"], cfg["per_conversation_sms_per_hour"],
        cfg["global_sms_per_hour"])


def test_issue_sends_vietnamese_sms_and_verifies(backend, clock):
    issued = backend.otp.issue(NUMBER, "telegram", CONV)
    assert (issued.status, issued.retry_after_s) == ("sent", 60)
    assert issued.expires_at == clock.now + timedelta(minutes=5)
    code = _last_code(backend)
    assert code == "123456"  # BOT_ENV=test + BOT_OTP_FIXED_CODE
    assert backend.identity.verified_number(CONV) is None
    assert backend.otp.verify(NUMBER, code, CONV).status == "ok"
    # One code, one use.
    assert backend.otp.verify(NUMBER, code, CONV).status == "no_challenge"


def test_ok_records_the_number_in_the_ledger_for_that_conversation(backend, clock):
    backend.otp.issue(NUMBER, "telegram", CONV)
    assert backend.otp.verify(NUMBER, "000000", CONV).status == "wrong"
    assert backend.identity.verified_number(CONV) is None  # a wrong code proves nothing
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "ok"
    assert backend.identity.verified_number(CONV) == NUMBER
    assert backend.identity.verified_number(OTHER) is None
    clock.advance(minutes=60)
    assert backend.identity.verified_number(CONV) is None  # identity.verified_ttl_minutes


def test_code_is_bound_to_the_conversation_that_asked(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    # Asked for in chat A, typed in chat B: there is no code for B.
    check = backend.otp.verify(NUMBER, "123456", OTHER)
    assert (check.status, check.attempts_left) == ("no_challenge", 0)
    assert backend.identity.verified_number(OTHER) is None
    # It cost A nothing: the code still works there, once.
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "ok"
    assert backend.identity.verified_number(CONV) == NUMBER
    assert backend.otp.verify(NUMBER, "123456", OTHER).status == "no_challenge"


def test_each_conversation_has_its_own_code(backend, clock, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "dev")  # random codes
    assert backend.otp.issue(NUMBER, "telegram", CONV).status == "sent"
    code_a = _last_code(backend)
    clock.advance(seconds=61)
    assert backend.otp.issue(NUMBER, "zalo", OTHER).status == "sent"
    code_b = _last_code(backend)
    if code_a != code_b:
        assert backend.otp.verify(NUMBER, code_b, CONV).status == "wrong"
    assert backend.otp.verify(NUMBER, code_a, CONV).status == "ok"
    assert backend.otp.verify(NUMBER, code_b, OTHER).status == "ok"


def test_code_is_stored_hashed_with_a_salt(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    code = _last_code(backend)
    with backend.session() as s:
        row = s.execute(select(OtpChallenge)).scalars().one()
    assert code not in (row.code_hash, row.salt)
    assert len(row.salt) == 32 and len(row.code_hash) == 64
    assert (row.msisdn, row.conversation_id, row.channel) == (NUMBER, CONV, "telegram")
    assert row.subscriber_id == backend.subscribers.get(NUMBER).id


def test_fixed_code_only_in_test_env(backend, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "dev")
    codes = set()
    for number in ("0901000001", "0901000002", "0901000003", "0901000004"):
        assert backend.otp.issue(number, "telegram", f"c:{number}").status == "sent"
        codes.add(_last_code(backend, number))
    assert codes != {"123456"} and len(codes) > 1
    assert all(len(c) == 6 and c.isdigit() for c in codes)


def test_resend_cooldown_then_new_code_replaces_old(backend, clock, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "dev")
    assert backend.otp.issue(NUMBER, "zalo", CONV).status == "sent"
    first = _last_code(backend)
    clock.advance(seconds=20)
    again = backend.otp.issue(NUMBER, "zalo", CONV)
    assert (again.status, again.retry_after_s, again.pending_here) == ("cooldown", 40, True)
    # The cool-down is the number's, whichever conversation asks; the other one holds no code.
    elsewhere = backend.otp.issue(NUMBER, "zalo", OTHER)
    assert (elsewhere.status, elsewhere.pending_here) == ("cooldown", False)
    assert len(backend.sms.outbox(NUMBER)) == 1
    clock.advance(seconds=40)
    assert backend.otp.issue(NUMBER, "zalo", CONV).status == "sent"
    second = _last_code(backend)
    if first != second:  # the old code no longer works
        assert backend.otp.verify(NUMBER, first, CONV).status == "wrong"
    assert backend.otp.verify(NUMBER, second, CONV).status == "ok"


def test_expires_after_five_minutes(backend, clock):
    backend.otp.issue(NUMBER, "telegram", CONV)
    clock.advance(minutes=5)
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "expired"


def test_still_valid_just_before_expiry(backend, clock):
    backend.otp.issue(NUMBER, "telegram", CONV)
    clock.advance(minutes=4, seconds=59)
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "ok"


def test_five_tries_then_too_many(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    results = [backend.otp.verify(NUMBER, "000000", CONV) for _ in range(5)]
    assert [(r.status, r.attempts_left) for r in results] == [
        ("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1), ("too_many", 0)]
    # Even the right code is refused now.
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "too_many"


def test_locked_after_too_many_then_reopens(backend, clock):
    backend.otp.issue(NUMBER, "telegram", CONV)
    for _ in range(5):
        backend.otp.verify(NUMBER, "999999", CONV)
    clock.advance(minutes=2)
    locked = backend.otp.issue(NUMBER, "telegram", CONV)
    assert locked.status == "locked" and locked.retry_after_s == 13 * 60
    # The lock is the number's: another chat cannot get a fresh code either.
    assert backend.otp.issue(NUMBER, "zalo", OTHER).status == "locked"
    clock.advance(minutes=13)
    assert backend.otp.issue(NUMBER, "telegram", CONV).status == "sent"
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "ok"


def test_correct_code_after_some_wrong_tries(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    assert backend.otp.verify(NUMBER, "111111", CONV).attempts_left == 4
    check = backend.otp.verify(NUMBER, " 123 456 ", CONV)  # spaces typed by the customer
    assert check.status == "ok"


@pytest.mark.parametrize("number", ["0999999999", "0123456789", "hello", "", "0901"])
def test_number_outside_the_operator_ranges(backend, number):
    issued = backend.otp.issue(number, "telegram", CONV)
    assert (issued.status, issued.retry_after_s, issued.expires_at) == (
        "not_operator_number", 0, None)
    assert backend.otp.verify(number, "123456", CONV).status == "no_challenge"
    assert backend.sms.outbox() == []


def test_never_unknown_number(backend):
    for number in ("0999999999", STRANGER, NUMBER, "abc"):
        assert backend.otp.issue(number, "telegram", CONV).status != "unknown_number"


def test_verify_without_challenge(backend):
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "no_challenge"


def test_challenges_are_per_number(backend):
    backend.otp.issue("0901000001", "telegram", CONV)
    assert backend.otp.issue("0901000002", "telegram", CONV).status == "sent"
    assert backend.otp.verify("0901000002", "123456", CONV).status == "ok"
    assert backend.otp.verify("0901000001", "123456", CONV).status == "ok"


@pytest.mark.parametrize("conversation", ["", "  ", "x" * 161])
def test_a_conversation_id_is_required(backend, conversation):
    with pytest.raises(ValueError):
        backend.otp.issue(NUMBER, "telegram", conversation)
    with pytest.raises(ValueError):
        backend.otp.verify(NUMBER, "123456", conversation)


def test_concurrent_tries_are_counted_exactly(backend):
    """Ten simultaneous wrong codes (e.g. several action-server instances): exactly four
    `wrong` answers, then `too_many` — tries cannot be lost to a race."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    backend.otp.issue(NUMBER, "telegram", CONV)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: backend.otp.verify(NUMBER, "000000", CONV).status,
                                range(10)))
    assert Counter(results) == {"wrong": 4, "too_many": 6}


def test_concurrent_requests_send_one_code(backend):
    """Ten simultaneous requests for one number from ten chats: one SMS, nine cool-downs."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(
            lambda i: backend.otp.issue(NUMBER, "telegram", f"chat:{i}").status, range(10)))
    assert Counter(results) == {"sent": 1, "cooldown": 9}
    assert len(backend.sms.outbox(NUMBER)) == 1


# ------------------------------------------------------------------ rolling limits
def _send_every(backend, clock, n, number=NUMBER, conversation=CONV, step=61):
    """n codes, `step` seconds apart (past the cool-down); returns the statuses."""
    statuses = []
    for _ in range(n):
        statuses.append(backend.otp.issue(number, "telegram", conversation).status)
        clock.advance(seconds=step)
    return statuses


def test_per_number_hourly_limit_survives_resends_then_frees_up(backend, clock):
    start = clock.now
    assert _send_every(backend, clock, 5) == ["sent"] * 5
    limited = backend.otp.issue(NUMBER, "telegram", CONV)
    # The first code leaves the hour at start + 1 h.
    assert limited.status == "limited"
    assert limited.retry_after_s == (start + timedelta(hours=1) - clock.now).total_seconds()
    assert len(backend.sms.outbox(NUMBER)) == 5  # nothing sent
    # Another conversation asking for the same number hits the same limit.
    assert backend.otp.issue(NUMBER, "zalo", OTHER).status == "limited"
    clock.set(start + timedelta(hours=1) - timedelta(seconds=1))
    assert backend.otp.issue(NUMBER, "telegram", CONV).status == "limited"
    clock.advance(seconds=1)
    assert backend.otp.issue(NUMBER, "telegram", CONV).status == "sent"
    assert len(backend.sms.outbox(NUMBER)) == 6


def test_per_number_daily_limit_then_frees_up(backend, clock):
    start = clock.now
    assert _send_every(backend, clock, 5) == ["sent"] * 5
    clock.set(start + timedelta(hours=1))
    assert _send_every(backend, clock, 5) == ["sent"] * 5
    clock.set(start + timedelta(hours=3))
    limited = backend.otp.issue(NUMBER, "telegram", CONV)
    assert (limited.status, limited.retry_after_s) == ("limited", 21 * 3600)
    clock.set(start + timedelta(hours=24))
    assert backend.otp.issue(NUMBER, "telegram", CONV).status == "sent"


def test_wrong_codes_counted_across_codes_per_day(backend, clock):
    """Resending does not reset the count: 15 wrong codes a day per number, whatever the
    codes and chats; then too_many and no new code until the first wrong one is 24 h old."""
    first_wrong = clock.now
    for conversation in (CONV, OTHER, "web:3"):
        backend.otp.issue(NUMBER, "telegram", conversation)
        assert [backend.otp.verify(NUMBER, "000000", conversation).status
                for _ in range(4)] == ["wrong"] * 4
        clock.advance(seconds=61)
    backend.otp.issue(NUMBER, "telegram", CONV)
    checks = [backend.otp.verify(NUMBER, "000000", CONV) for _ in range(3)]
    assert [(c.status, c.attempts_left) for c in checks] == [
        ("wrong", 2), ("wrong", 1), ("too_many", 0)]
    # Past the limit even the right code is refused, in any chat.
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "too_many"
    clock.advance(minutes=20)
    limited = backend.otp.issue(NUMBER, "telegram", "web:4")
    assert limited.status == "limited"
    assert limited.retry_after_s == (first_wrong + timedelta(days=1)
                                     - clock.now).total_seconds()
    clock.set(first_wrong + timedelta(days=1))
    assert backend.otp.issue(NUMBER, "telegram", "web:4").status == "sent"
    assert backend.otp.verify(NUMBER, "123456", "web:4").status == "ok"


def test_per_conversation_hourly_limit(backend, clock):
    """One chat cannot spray codes at many numbers."""
    start = clock.now
    numbers = [f"09010000{i:02d}" for i in range(1, 8)]
    assert [backend.otp.issue(n, "telegram", CONV).status for n in numbers[:6]] == \
        ["sent"] * 6
    limited = backend.otp.issue(numbers[6], "telegram", CONV)
    assert (limited.status, limited.retry_after_s) == ("limited", 3600)
    assert backend.sms.outbox(numbers[6]) == []
    # Another chat is not affected.
    assert backend.otp.issue(numbers[6], "telegram", OTHER).status == "sent"
    clock.set(start + timedelta(hours=1))
    assert backend.otp.issue("0901000008", "telegram", CONV).status == "sent"


def test_global_hourly_budget(backend, clock):
    backend.otp.policy = replace(backend.otp.policy, global_sms_per_hour=3)
    start = clock.now
    for i in range(3):
        assert backend.otp.issue(f"09010000{i + 1:02d}", "telegram", f"c{i}").status == "sent"
        clock.advance(minutes=10)
    limited = backend.otp.issue("0901000009", "telegram", "c9")
    assert (limited.status, limited.retry_after_s) == ("limited", 30 * 60)
    clock.set(start + timedelta(hours=1))
    assert backend.otp.issue("0901000009", "telegram", "c9").status == "sent"


def test_limited_reports_the_longest_wait_of_the_limits_hit(backend, clock):
    backend.otp.policy = replace(backend.otp.policy, global_sms_per_hour=5)
    start = clock.now
    assert _send_every(backend, clock, 5) == ["sent"] * 5  # number AND global limits
    clock.set(start + timedelta(minutes=30))
    limited = backend.otp.issue(NUMBER, "telegram", CONV)
    assert (limited.status, limited.retry_after_s) == ("limited", 30 * 60)


# ------------------------------------------------------------------ non-disclosure
def _script(backend, clock, number, chat, other_chat):
    """What a stranger can observe of a number: statuses, waits, expiries, attempts."""
    seen = []

    def issue(conversation=chat):
        r = backend.otp.issue(number, "telegram", conversation)
        seen.append(("issue", r.status, r.retry_after_s,
                     r.expires_at - clock.now if r.expires_at else None))

    def verify(code, conversation=chat):
        r = backend.otp.verify(number, code, conversation)
        seen.append(("verify", r.status, r.attempts_left))

    issue()
    clock.advance(seconds=10)
    issue()  # cool-down
    verify("000000")
    verify("000000", other_chat)  # not this chat's code
    for _ in range(4):
        verify("111111")
    clock.advance(minutes=1)
    issue()  # locked
    clock.advance(minutes=15)
    for _ in range(4):
        issue()
        clock.advance(seconds=61)
    issue()  # 5 per hour
    return seen


def test_a_stranger_cannot_tell_a_subscriber_from_a_non_subscriber(backend, clock):
    assert backend.subscribers.get(STRANGER) is None
    start = clock.now
    as_subscriber = _script(backend, clock, NUMBER, "a:1", "a:2")
    clock.set(start)
    as_stranger = _script(backend, clock, STRANGER, "b:1", "b:2")
    assert as_stranger == as_subscriber
    assert ("issue", "limited") in [s[:2] for s in as_stranger]
    assert ("issue", "locked") in [s[:2] for s in as_stranger]
    assert backend.sms.outbox(STRANGER) == []  # no SMS to a number that is not ours


def test_a_non_subscriber_code_never_verifies(backend):
    # Even the code the test environment fixes (123456) is just a wrong code.
    assert backend.otp.issue(STRANGER, "telegram", CONV).status == "sent"
    assert backend.sms.outbox() == []
    checks = [backend.otp.verify(STRANGER, "123456", CONV) for _ in range(5)]
    assert [(c.status, c.attempts_left) for c in checks] == [
        ("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1), ("too_many", 0)]
    assert backend.identity.verified_number(CONV) is None
    with backend.session() as s:
        row = s.execute(select(OtpChallenge)).scalars().one()
    assert (row.subscriber_id, row.msisdn, row.status) == (None, STRANGER, "exhausted")


def test_non_subscriber_requests_count_toward_the_conversation_limit(backend):
    numbers = ["0931234567", "0701234567", STRANGER, "0901000001", "0761234567",
               "0891234567"]
    assert [backend.otp.issue(n, "telegram", CONV).status for n in numbers] == ["sent"] * 6
    assert backend.otp.issue("0901000002", "telegram", CONV).status == "limited"
    assert [s.msisdn for s in backend.sms.outbox()] == ["0901000001"]


def test_a_used_code_holds_no_cool_down_another_chat_gets_its_own_code(backend, clock):
    """Known gap 2: chat A used its code; chat B asks within A's cool-down. B holds no code,
    so "the code was just sent, wait 40 s" would be untrue: B gets a fresh code at once."""
    assert backend.otp.issue(NUMBER, "zalo", CONV).status == "sent"
    assert backend.otp.verify(NUMBER, TEST_OTP, CONV).status == "ok"
    clock.advance(seconds=20)
    fresh = backend.otp.issue(NUMBER, "telegram", OTHER)
    assert (fresh.status, fresh.pending_here) == ("sent", True)
    assert len(backend.sms.outbox(NUMBER)) == 2
    assert backend.otp.verify(NUMBER, TEST_OTP, OTHER).status == "ok"


def test_pending_here_is_false_once_the_code_expired(backend, clock):
    assert backend.otp.issue(NUMBER, "zalo", CONV).pending_here is True
    clock.advance(seconds=30)
    assert backend.otp.issue(NUMBER, "zalo", OTHER).pending_here is False
    clock.advance(minutes=6)  # past the code's lifetime and the cool-down
    again = backend.otp.issue(NUMBER, "zalo", CONV)
    assert (again.status, again.pending_here) == ("sent", True)
