"""Working hours of the human desk (bot/operator.yml `human_desk`, local time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.brand import operator


@dataclass(frozen=True)
class DeskStatus:
    is_open: bool
    opens: str  # "07:00"
    closes: str  # "22:00"
    expected_wait_minutes: int
    next_opening: datetime | None  # local time; None while open
    opens_today: bool  # the next opening is later today (not tomorrow)


def _hhmm(value: str) -> time:
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


def desk_status(now: datetime) -> DeskStatus:
    """Is the desk open at `now` (aware datetime), and when does it open next."""
    profile = operator()
    desk = profile["human_desk"]
    tz = ZoneInfo(profile.get("timezone", "Asia/Ho_Chi_Minh"))
    local = now.astimezone(tz)
    opens, closes = _hhmm(desk["opens"]), _hhmm(desk["closes"])
    wait = int(desk.get("expected_wait_minutes", 5))
    if opens <= local.time() < closes:
        return DeskStatus(True, desk["opens"], desk["closes"], wait, None, False)
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    next_opening = datetime.combine(day, opens, tzinfo=tz)
    return DeskStatus(False, desk["opens"], desk["closes"], wait, next_opening,
                      day == local.date())
