"""The rules a campaign keeps (bot/operator.yml `campaigns:`), and the opt-out check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.brand import operator
from bot.clock import local_now, within_hours
from bot.text import fold


@dataclass(frozen=True)
class CampaignRules:
    opens: str
    closes: str
    min_days_between: int
    max_per_customer: int
    zalo_window: timedelta
    claim_timeout: timedelta
    retarget: timedelta
    channels: tuple[str, ...]
    opt_out_phrases: tuple[str, ...]

    @classmethod
    def from_operator(cls) -> CampaignRules:
        cfg = operator()["campaigns"]
        hours = cfg["send_hours"]
        return cls(opens=str(hours["opens"]), closes=str(hours["closes"]),
                   min_days_between=int(cfg["min_days_between"]),
                   max_per_customer=int(cfg["max_per_customer"]),
                   zalo_window=timedelta(hours=float(cfg["zalo_window_hours"])),
                   claim_timeout=timedelta(minutes=float(cfg["claim_timeout_minutes"])),
                   retarget=timedelta(minutes=float(cfg["retarget_minutes"])),
                   channels=tuple(str(c) for c in cfg["channels"]),
                   opt_out_phrases=tuple(fold(str(p)) for p in cfg["opt_out_phrases"]))

    def sending_hours(self, now: datetime) -> bool:
        """Whether `now` (aware UTC) is within the local sending hours."""
        return within_hours(local_now(now), self.opens, self.closes)

    def is_opt_out(self, text: str) -> bool:
        """The customer asks for no more campaign messages (a phrase of operator.yml, as
        whole words, in any spelling with or without diacritics)."""
        folded = f" {re.sub(r'[^a-z0-9 ]', ' ', fold(text or ''))} "
        folded = " ".join(folded.split())
        return any(re.search(rf"(^| ){re.escape(p)}( |$)", folded)
                   for p in self.opt_out_phrases)
