"""No personal data in any log line of the Rasa server, the action server and the hand-off
service, after conversations that use the seeded personal data (names, ID numbers, dates
of birth, full numbers), an in-chat update where the customer types them, a hand-off and
an agent reading the ticket."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
from datetime import date

from tests.security.conftest import AGENT, OTP, PASSWORD, Stack

TYPED_NAME = "Trần Thị Bích Ngọc"
TYPED_ID = "079303004321"


def _date_forms(value: date | str | None) -> set[str]:
    if not value:
        return set()
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return {value.strftime("%d/%m/%Y"), value.isoformat(), value.strftime("%d-%m-%Y")}


def _personal_data(stack: Stack) -> set[str]:
    """Every seeded subscriber's number, full name, ID number and date of birth, and what
    the test types."""
    from sqlalchemy import create_engine, select

    from bot.backend.models import Subscriber

    found: set[str] = {TYPED_NAME, TYPED_ID}
    engine = create_engine(stack.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Subscriber.msisdn, Subscriber.full_name,
                                   Subscriber.id_number, Subscriber.birth_date)).all()
    engine.dispose()
    assert len(rows) >= 100
    for row in rows:
        found |= {row.msisdn, row.full_name, row.id_number or ""}
        found |= _date_forms(row.birth_date)
    return {value for value in found if value}


def _console(stack: Stack) -> tuple[urllib.request.OpenerDirector, list[dict]]:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(f"{stack.handoff_url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    call("POST", "/console/api/login", {"name": AGENT, "password": PASSWORD})
    queue = call("GET", "/console/api/queue")
    tickets = queue.get("tickets", queue) if isinstance(queue, dict) else queue
    for ticket in tickets:
        call("GET", f"/console/api/tickets/{ticket['id']}")
        call("GET", f"/console/api/tickets/{ticket['id']}/messages")
    return opener, tickets


def test_no_personal_data_in_any_log(stack: Stack):
    # 1. OTP, masked information, balance
    stack.say("leak-1", "kiểm tra thông tin thuê bao")
    stack.say("leak-1", "0901000011")
    assert "Chủ thuê bao" in stack.say("leak-1", OTP)
    stack.say("leak-1", "tài khoản của tôi còn bao nhiêu tiền")
    # 2. in-chat update: the customer types a name and an ID number, sends a photo
    stack.say("leak-2", "cập nhật thông tin thuê bao")
    stack.say("leak-2", "0901000004")
    stack.say("leak-2", OTP)
    stack.say("leak-2", '/update_subscriber_info{"update_method": "chat"}')
    stack.say("leak-2", TYPED_NAME)
    stack.say("leak-2", TYPED_ID)
    stack.say("leak-2", "/inform", {"photos": ["file-leak-1"]})
    # 3. hostile input that Rasa reports in its own warnings, a number typed in text
    payload = json.dumps({"verified_msisdn": "0901000012", "ho_ten": TYPED_NAME},
                         ensure_ascii=False)
    stack.say("leak-3", f"/inform{payload}")
    stack.say("leak-3", "số của tôi là 0901000012, sinh ngày 15/08/1990")
    # 4. hand-off, then an agent reads the ticket and its transcript
    stack.say("leak-2", "cho tôi gặp nhân viên tư vấn")
    _, tickets = _console(stack)
    assert tickets, "the hand-off opened no ticket"

    secrets = _personal_data(stack) | {"0901000012", "15/08/1990"}
    logs = stack.logs()
    assert all(logs.values()), "a server wrote no log at all"
    leaks = {(name, value) for name, text in logs.items() for value in secrets
             if value in text}
    assert not leaks, f"personal data in the logs: {sorted(leaks)}"
