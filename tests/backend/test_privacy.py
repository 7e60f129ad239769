"""No personal data in error messages: SQL parameters are hidden, backend errors carry
ids only."""

from __future__ import annotations

import traceback
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.backend.models import Subscriber


def test_sql_errors_do_not_show_parameters(backend):
    with pytest.raises(IntegrityError) as err, backend.session() as s, s.begin():
        s.execute(insert(Subscriber).values(
            msisdn="0901000001", subscription_type="prepaid", status="active",
            full_name="Nguyễn Văn Riêng Tư", id_number="079123456789", device="smartphone",
            has_id_front_photo=False, has_id_back_photo=False, has_portrait_photo=False,
            name_mismatch=False, is_premium_number=False, premium_commitment=False,
            balance_vnd=0, created_at=datetime(2025, 1, 1, tzinfo=timezone.utc)))
    message = str(err.value)
    for personal in ("0901000001", "Nguyễn", "079123456789"):
        assert personal not in message
    assert "hide_parameters" in message


def _row(**values):
    row = dict(msisdn="0901000099", subscription_type="prepaid", status="active",
               full_name="Nguyễn Văn Riêng Tư", id_number="079123456789",
               device="smartphone", has_id_front_photo=False, has_id_back_photo=False,
               has_portrait_photo=False, name_mismatch=False, is_premium_number=False,
               premium_commitment=False, balance_vnd=0,
               created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    row.update(values)
    return row


def test_database_messages_and_tracebacks_hold_no_personal_data(backend):
    """PostgreSQL quotes the failing row (`DETAIL: Failing row contains (...)`) and typed
    values in its own messages; they are scrubbed from the error and from its cause."""
    with pytest.raises(IntegrityError) as err, backend.session() as s, s.begin():
        s.execute(insert(Subscriber).values(**_row(subscription_type=None)))
    errors = [err.value]
    if backend.engine.dialect.name == "postgresql":  # SQLite casts anything
        with pytest.raises(DBAPIError) as typed, backend.session() as s, s.begin():
            s.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": "Nguyễn 0901000099"})
        errors.append(typed.value)
    for exc in errors:
        assert exc.__cause__ is not None
        shown = "".join(traceback.format_exception_only(type(exc), exc)
                        + traceback.format_exception_only(type(exc.__cause__), exc.__cause__))
        for personal in ("0901000099", "Nguyễn", "079123456789", "Riêng"):
            assert personal not in shown


def test_engines_of_every_package_hide_parameters(tmp_path):
    from bot.database import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert engine.hide_parameters is True
    finally:
        engine.dispose()


@pytest.mark.parametrize("call", [
    lambda b: b.identity.record("c:1", "0123 456 789 999", "otp"),
    lambda b: b.identity.record("c:1", "0901000001", "0901000001"),
    lambda b: b.otp.issue("0901000001", "telegram", "0901000001" * 20),
])
def test_backend_errors_do_not_echo_the_input(backend, call):
    with pytest.raises(ValueError) as err:
        call(backend)
    assert not any(ch.isdigit() and ch != "1" for ch in str(err.value).replace("160", ""))
    assert "0901000001" not in str(err.value) and "456" not in str(err.value)


def test_a_bad_value_in_an_update_request_is_not_echoed(backend):
    req = backend.update_requests.submit("0901000002", {"birth_date": "31/12/1990"}, {},
                                        "zalo")
    with pytest.raises(ValueError) as err:
        backend.update_requests.review(req.id, approve=True)
    assert str(err.value) == f"update request {req.id}: field birth_date is not valid"
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert backend.update_requests.latest("0901000002").status == "pending"  # rolled back


@pytest.mark.parametrize("code", ["0901000002", None, 99])
def test_a_bad_occupation_code_is_not_echoed(backend, code):
    with pytest.raises(ValueError) as err:
        backend.subscribers.set_occupation("0901000002", code)
    assert str(err.value) == "occupation code must be 1..18"
