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


def _secrets_of(stack: Stack, numbers: list[str]) -> set[str]:
    from bot.backend.service import Backend

    backend = Backend(stack.db_url)
    found: set[str] = {TYPED_NAME, TYPED_ID}
    for number in numbers:
        sub = backend.subscriber(number)
        assert sub is not None
        found |= {number, sub.full_name}
        if sub.id_number:
            found.add(sub.id_number)
        found |= _date_forms(sub.birth_date)
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
    stack.say("leak-1", "0901000001")
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
    # 3. hand-off, then an agent reads the ticket and its transcript
    stack.say("leak-2", "cho tôi gặp nhân viên tư vấn")
    _, tickets = _console(stack)
    assert tickets, "the hand-off opened no ticket"

    secrets = _secrets_of(stack, ["0901000001", "0901000004"])
    logs = stack.logs()
    assert all(logs.values()), "a server wrote no log at all"
    leaks = {(name, value) for name, text in logs.items() for value in secrets
             if value in text}
    assert not leaks, f"personal data in the logs: {sorted(leaks)}"
