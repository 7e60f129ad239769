"""Runtime settings: configuration from files, secrets and URLs from environment variables."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("BOT_DATA_DIR", REPO_ROOT / ".data"))


def env() -> str:
    """'dev' (default), 'test' or 'prod'."""
    return os.environ.get("BOT_ENV", "dev")


def domain_file() -> Path:
    """The dialogue domain (BOT_DOMAIN, the repository's domain.yml by default): the one
    source of every text a customer reads, for Python code too (bot/texts.py)."""
    return Path(os.environ.get("BOT_DOMAIN") or REPO_ROOT / "domain.yml")


def db_url() -> str:
    """SQLAlchemy URL of the subscriber backend (SQLite file by default)."""
    return os.environ.get("BOT_DB_URL") or f"sqlite:///{DATA_DIR / 'subscribers.db'}"
