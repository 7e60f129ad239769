"""A new campaign from what an operator typed (the CLI's options, the console's form),
checked: ValueError names the first wrong value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from bot import texts
from bot.backend.reference import DECREE49_FIELDS
from bot.campaigns.store import Audience, NewCampaign
from bot.clock import local_zone

DEFAULT_RESPONSE = "utter_campaign_decree49"
CHANNELS = ("telegram", "zalo")
MAX_NAME_CHARS = 120


def local_time(value: str | None) -> datetime | None:
    """'2026-12-01 07:00' (or '2026-12-01T07:00', a browser's datetime-local) local time
    -> aware UTC; None for an empty value."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    return moment.astimezone(timezone.utc)


def one_way_blocked(value: str | bool | None) -> bool | None:
    if value in (None, "", "any"):
        return None
    if isinstance(value, bool):
        return value
    if value in ("yes", "no"):
        return value == "yes"
    raise ValueError(f"one_way_blocked {value}")


def campaign_from_values(*, name: str, deadline: str, missing: Sequence[str] = (),
                         province: str | None = None,
                         one_way: str | bool | None = None,
                         channels: Sequence[str] = CHANNELS, starts: str | None = None,
                         ends: str | None = None, rate: int = 30,
                         response: str = DEFAULT_RESPONSE, by: str = "") -> NewCampaign:
    name, deadline = (name or "").strip(), (deadline or "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError("name")
    if not deadline or len(deadline) > 40:
        raise ValueError("deadline")
    items = tuple(m for m in missing if m)
    unknown = [m for m in items if m not in DECREE49_FIELDS]
    if unknown:
        raise ValueError(f"missing {','.join(unknown)}")
    chosen = tuple(c for c in channels if c)
    if not chosen or any(c not in CHANNELS for c in chosen):
        raise ValueError(f"channels {','.join(chosen)}")
    if not texts.has_response(response):
        raise ValueError(f"response {response}")
    if not 1 <= int(rate) <= 10000:
        raise ValueError("rate")
    starts_at, ends_at = local_time(starts), local_time(ends)
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValueError("ends")
    return NewCampaign(name=name, response=response, deadline=deadline,
                       audience=Audience(items, (province or "").strip() or None,
                                         one_way_blocked(one_way)),
                       channels=chosen, starts_at=starts_at, ends_at=ends_at,
                       rate_per_minute=int(rate), created_by=by)
