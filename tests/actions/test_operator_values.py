"""Durations and limits live once, in bot/operator.yml: change one value and every
response that states it says the new value (the responses read it as a variable)."""

from __future__ import annotations

import copy
import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain

from actions.flow import ActionSessionStart
from bot.brand import operator
from tests.actions.conftest import make_tracker, run, slot_events

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
# A number followed by a unit of time or a count of tries, typed into a response.
DURATION = re.compile(r"\b\d+\s*(giờ|phút|giây|ngày|lần)\b")


@lru_cache(maxsize=1)
def responses() -> dict[str, list[dict[str, Any]]]:
    return Domain.load(str(DOMAIN_FILE)).responses


def _render(name: str, values: dict[str, Any]) -> str:
    text = responses()[name][0]["text"]
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    return text.format_map({f: values.get(f, f"<{f}>") for f in fields})


@pytest.mark.parametrize("response,path,value", [
    ("utter_otp_expired", ("otp", "ttl_minutes"), 7),
    ("utter_otp_too_many", ("otp", "max_attempts"), 4),
    ("utter_otp_too_many", ("otp", "lock_minutes"), 33),
    ("utter_otp_not_expected", ("otp", "lock_minutes"), 33),
    ("utter_faq/approval_time", ("approval_hours",), 72),
    ("utter_otp_sent", ("otp", "ttl_minutes"), 7),
    ("utter_app_step_error_3", ("app_otp", "resend_seconds"), 45),
    ("utter_app_already_consulted", ("app_consult_hours",), 36),
    ("utter_registration_pending", ("registration_confirm_hours",), 6),
    ("utter_registration_not_confirmed", ("registration_confirm_hours",), 6),
    ("utter_update_status_overdue", ("approval_hours",), 72),
])
async def test_a_changed_value_changes_what_the_assistant_says(monkeypatch, domain, response,
                                                                path, value):
    changed = copy.deepcopy(operator())
    target = changed
    for key in path[:-1]:
        target = target[key]
    old = target[path[-1]]
    target[path[-1]] = value
    monkeypatch.setattr("actions.common.operator", lambda: changed)
    events, _ = await run(ActionSessionStart(), make_tracker(), domain)
    text = _render(response, slot_events(events))
    assert f"{value} " in text, text
    assert f"{old} {{" not in text


def test_no_duration_or_limit_is_typed_into_a_response():
    offenders = []
    for name, variations in responses().items():
        for variation in variations:
            found = DURATION.search(variation.get("text") or "")
            if found:
                offenders.append(f"{name}: '{found.group(0)}'")
    assert not offenders, ("durations and limits come from bot/operator.yml as variables: "
                           + ", ".join(offenders))
