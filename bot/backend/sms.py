"""The backend's SMS texts, from bot/backend/sms_templates.yml (the one place to word them)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.brand import operator

TEMPLATES = Path(__file__).with_name("sms_templates.yml")


@lru_cache(maxsize=1)
def templates() -> dict[str, str]:
    with TEMPLATES.open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    return {str(k): " ".join(str(v).split()) for k, v in loaded.items()}


def render(template: str, /, **values: Any) -> str:
    """The template `template` with {brand} and `values` filled in. KeyError for an unknown
    template or a missing placeholder (a wording mistake shows in the tests)."""
    return templates()[template].format(brand=operator()["name"], **values)
