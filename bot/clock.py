"""The operator's clock: one timezone (bot/operator.yml `timezone`), local time, the one
"are we within opening hours" rule, and the test override of the time of day.

In tests (`BOT_ENV=test`) `BOT_FIXED_LOCAL_TIME=HH:MM` fixes the local time of day of
`local_now()`, so conversations that depend on the hour (the occupation offer, the desk)
are reproducible.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from bot import settings
from bot.brand import operator

FIXED_TIME_ENV = "BOT_FIXED_LOCAL_TIME"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def local_zone() -> ZoneInfo:
    return ZoneInfo(operator().get("timezone", DEFAULT_TIMEZONE))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_local(moment: datetime) -> datetime:
    """An aware datetime (a naive one is taken as UTC) in the operator's local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(local_zone())


def local_now(now: datetime | None = None) -> datetime:
    """Local wall-clock time; in tests the time of day can be fixed (module docstring)."""
    current = to_local(now or utc_now())
    match = _HHMM.match(os.environ.get(FIXED_TIME_ENV, ""))
    if settings.env() == "test" and match:
        current = current.replace(hour=int(match.group(1)), minute=int(match.group(2)),
                                  second=0, microsecond=0)
    return current


def format_local(moment: datetime | None) -> str:
    """A datetime as local 'HH:MM dd/mm/yyyy' ('' for None)."""
    return to_local(moment).strftime("%H:%M %d/%m/%Y") if moment is not None else ""


def parse_hhmm(value: str) -> time:
    """'07:00' -> time(7, 0)."""
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


def within_hours(local: datetime, opens: str, closes: str) -> bool:
    """The one opening-hours rule: opens <= local time of day < closes."""
    return parse_hhmm(opens) <= local.time() < parse_hhmm(closes)


def desk_hours() -> tuple[str, str]:
    """(opens, closes) of the human desk, 'HH:MM' local (bot/operator.yml `human_desk`)."""
    desk = operator()["human_desk"]
    return str(desk["opens"]), str(desk["closes"])


def desk_open(now: datetime | None = None) -> bool:
    """Whether the human desk works at `now` (local time; the test override applies)."""
    return within_hours(local_now(now), *desk_hours())
