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
