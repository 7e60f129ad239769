"""Working hours of the human desk (bot/operator.yml `human_desk`, local time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.brand import operator
from bot.clock import local_zone, parse_hhmm, to_local, within_hours


@dataclass(frozen=True)
class DeskStatus:
    is_open: bool
    opens: str  # "07:00"
    closes: str  # "22:00"
    expected_wait_minutes: int
    next_opening: datetime | None  # local time; None while open
    opens_today: bool  # the next opening is later today (not tomorrow)


def desk_status(now: datetime) -> DeskStatus:
    """Is the desk open at `now` (aware datetime), and when does it open next."""
    desk = operator()["human_desk"]
    local = to_local(now)
    wait = int(desk.get("expected_wait_minutes", 5))
    if within_hours(local, desk["opens"], desk["closes"]):
        return DeskStatus(True, desk["opens"], desk["closes"], wait, None, False)
    opens = parse_hhmm(desk["opens"])
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    next_opening = datetime.combine(day, opens, tzinfo=local_zone())
    return DeskStatus(False, desk["opens"], desk["closes"], wait, next_opening,
                      day == local.date())
