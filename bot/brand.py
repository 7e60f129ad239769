"""The operator profile (bot/operator.yml): hotlines, short codes, app link, desk hours."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_PROFILE = Path(__file__).with_name("operator.yml")


@lru_cache(maxsize=1)
def operator() -> dict[str, Any]:
    """The operator profile as a dict (read once)."""
    with _PROFILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def response_variables(profile: dict[str, Any] | None = None) -> dict[str, str]:
    """The operator profile as response variables ({brand}, {hotline}, {otp_minutes}...):
    every response may use them (the actions also put them into slots)."""
    op = operator() if profile is None else profile
    return {
        "brand": op["name"],
        "hotline": op["hotline"],
        "hotline_free": op["hotline_free"],
        "app_name": op["app_name"],
        "app_link": op["app_link"],
        "info_sms_code": op["info_sms"]["code"],
        "info_sms_to": op["info_sms"]["to"],
        "approval_hours": str(op["approval_hours"]),
        "confirm_hours": str(op["registration_confirm_hours"]),
        "otp_minutes": str(op["otp"]["ttl_minutes"]),
        "otp_max_attempts": str(op["otp"]["max_attempts"]),
        "otp_lock_minutes": str(op["otp"]["lock_minutes"]),
        "app_otp_resend_seconds": str(op["app_otp"]["resend_seconds"]),
        "app_otp_minutes": str(op["app_otp"]["ttl_minutes"]),
        "app_consult_hours": str(op["app_consult_hours"]),
    }
