"""SMS outbox: pending -> sent through a gateway callable, codes masked at rest after."""

from __future__ import annotations

import pytest

from bot.backend.views import SmsView
from tests.backend_helpers import queue_sms

NUMBER = "0901000002"
CONV = "telegram:1001"


def test_otp_is_readable_only_until_dispatched(backend, clock):
    backend.otp.issue(NUMBER, "telegram", CONV)
    pending = backend.sms.outbox(NUMBER)[-1]
    assert (pending.status, pending.sent_at) == ("pending", None)
    assert "123456" in pending.text  # tests (and the gateway) read the code here
    handed: list[SmsView] = []
    clock.advance(seconds=2)
    assert backend.sms.dispatch(handed.append) == 1
    assert [h.text for h in handed] == [pending.text]
    stored = backend.sms.outbox(NUMBER)[-1]
    assert (stored.status, stored.sent_at) == ("sent", clock.now)
    assert "123456" not in stored.text
    assert stored.text == pending.text.replace("123456", "******")
    # The code still verifies: it is checked against its salted hash.
    assert backend.otp.verify(NUMBER, "123456", CONV).status == "ok"
    assert backend.sms.dispatch(handed.append) == 0  # nothing is sent twice
    assert len(handed) == 1


def test_messages_without_a_secret_are_sent_unchanged(backend):
    queue_sms(backend, "0901000001", "MobiFone: giá 100.000đ, ngày 01/02/2025")
    backend.vas.cancel("0901000001", "FUNRING", "zalo")
    before = [s.text for s in backend.sms.outbox()]
    assert backend.sms.dispatch(lambda sms: None) == 2
    after = backend.sms.outbox()
    assert [s.text for s in after] == before
    assert {s.status for s in after} == {"sent"}


def test_dispatch_in_order_with_a_limit_and_by_number(backend):
    for i in range(5):
        queue_sms(backend, "0901000001" if i % 2 else "0901000003", f"tin {i}")
    seen: list[str] = []
    assert backend.sms.dispatch(lambda sms: seen.append(sms.text), limit=2) == 2
    assert seen == ["tin 0", "tin 1"]
    assert backend.sms.dispatch(lambda sms: seen.append(sms.text), msisdn="0901000001") == 1
    assert seen[-1] == "tin 3"
    assert backend.sms.dispatch(lambda sms: seen.append(sms.text), msisdn="12") == 0
    assert backend.sms.dispatch(lambda sms: seen.append(sms.text)) == 2
    assert seen[-2:] == ["tin 2", "tin 4"]
    assert [s.id for s in backend.sms.outbox(status="pending")] == []


def test_a_failing_gateway_leaves_the_message_pending(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    queue_sms(backend, "0901000001", "sau")

    def broken(sms: SmsView) -> None:
        raise ConnectionError("gateway down")

    with pytest.raises(ConnectionError):
        backend.sms.dispatch(broken)
    rows = backend.sms.outbox()
    assert [r.status for r in rows] == ["pending", "pending"]
    assert "123456" in rows[0].text  # not masked: it was never sent
    assert backend.sms.dispatch(lambda sms: None) == 2


def test_sms_view_repr_hides_the_text(backend):
    backend.otp.issue(NUMBER, "telegram", CONV)
    assert "123456" not in repr(backend.sms.outbox()[-1])
