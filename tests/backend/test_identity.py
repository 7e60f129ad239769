"""The identity ledger: which number a conversation proved it owns, server-side only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backend.models import IdentityVerification

CONV = "telegram:1001"
OTHER = "zalo:2002"
NUMBER = "0901000002"


def test_nothing_recorded_means_not_verified(backend):
    assert backend.identity.verified_number(CONV) is None
    assert backend.identity.verified_number("") is None


@pytest.mark.parametrize("method", ["otp", "telegram_contact", "call_center"])
def test_record_then_verified_number(backend, method):
    backend.identity.record(CONV, "+84 901 000 002", method)
    assert backend.identity.verified_number(CONV) == NUMBER
    assert backend.identity.verified_number(OTHER) is None  # bound to that conversation only


def test_ttl_comes_from_operator_profile(backend, clock):
    from bot.backend.identity import verified_ttl
    from bot.brand import operator

    ttl = operator()["identity"]["verified_ttl_minutes"]
    assert verified_ttl() == timedelta(minutes=ttl)
    backend.identity.record(CONV, NUMBER, "otp")
    with backend.session() as s:
        row = s.execute(select(IdentityVerification)).scalars().one()
    assert (row.conversation_id, row.msisdn, row.method) == (CONV, NUMBER, "otp")
    assert row.verified_at == clock.now
    assert row.expires_at == clock.now + timedelta(minutes=ttl)
    clock.advance(minutes=ttl, seconds=-1)
    assert backend.identity.verified_number(CONV) == NUMBER
    clock.advance(seconds=1)
    assert backend.identity.verified_number(CONV) is None


def test_latest_unexpired_record_wins(backend, clock):
    backend.identity.record(CONV, "0901000001", "telegram_contact")
    clock.advance(minutes=10)
    backend.identity.record(CONV, NUMBER, "otp")
    assert backend.identity.verified_number(CONV) == NUMBER
    # The newer one expires 10 minutes after the older one: nothing older comes back.
    clock.advance(minutes=60)
    assert backend.identity.verified_number(CONV) is None


@pytest.mark.parametrize("method", ["sms", "", "OTP", "metadata"])
def test_unknown_method_is_refused(backend, method):
    with pytest.raises(ValueError):
        backend.identity.record(CONV, NUMBER, method)
    assert backend.identity.verified_number(CONV) is None


@pytest.mark.parametrize("number", ["12345", "", "hello", None])
def test_malformed_number_is_refused_without_echoing_it(backend, number):
    with pytest.raises(ValueError) as err:
        backend.identity.record(CONV, number, "otp")
    if number:
        assert number not in str(err.value)


@pytest.mark.parametrize("conversation", ["", "   ", "x" * 161])
def test_malformed_conversation_is_refused(backend, conversation):
    with pytest.raises(ValueError):
        backend.identity.record(conversation, NUMBER, "otp")


def test_long_conversation_id_fits(backend):
    long_id = "c" * 160
    backend.identity.record(long_id, NUMBER, "otp")
    assert backend.identity.verified_number(long_id) == NUMBER


def test_reseed_clears_the_ledger(backend):
    from bot.backend.seed import seed

    backend.identity.record(CONV, NUMBER, "otp")
    seed(backend)
    assert backend.identity.verified_number(CONV) is None
