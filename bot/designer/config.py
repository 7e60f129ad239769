"""designer.yml and the paths of the repository the designers edit."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot import settings

CONFIG_FILE = Path(__file__).with_name("designer.yml")


@cache
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh) or {}
    return data


def config() -> dict[str, Any]:
    return _load(str(CONFIG_FILE))


def outcome_names(key: str) -> frozenset[str]:
    return frozenset(config()["outcomes"].get(key) or ())


def inbox_setting(key: str) -> Any:
    return config()["inbox"][key]


def repo_root() -> Path:
    """The checkout whose data/, domain.yml and tests/stories/ the changes apply to
    (BOT_DESIGNER_ROOT, the repository by default)."""
    return Path(os.environ.get("BOT_DESIGNER_ROOT") or settings.REPO_ROOT).resolve()


def changes_dir(root: Path | None = None) -> Path:
    """Where pending changes wait for review (BOT_DESIGNER_CHANGES_DIR overrides)."""
    explicit = os.environ.get("BOT_DESIGNER_CHANGES_DIR")
    if explicit:
        return Path(explicit)
    return (root or repo_root()) / str(config()["changes_dir"])


def personal_slots() -> dict[str, str]:
    """slot name -> kind (phone, otp, id, date, name, address, photo)."""
    return {slot: kind for kind, slots in config()["personal_slots"].items() for slot in slots}
