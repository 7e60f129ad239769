"""Schema migrations: Alembic, configured in code (no alembic.ini), one history for the
whole database.

Each package that owns tables keeps its revisions in its own `migrations/` folder
(`BRANCHES`); they all hang off the backend's `0001`:

    bot/backend/migrations    0001 -> 0004_identity -> 0005_otp_guard -> 0009_review_desk
                              -> 0013_service_barrings
    bot/channels/migrations   0001 -> 0002_channels -> 0007_channel_inbox
    bot/handoff/migrations    0001 -> 0003_handoff -> 0006_console_roles
    bot/campaigns/migrations  0001 -> 0012_campaigns

A new revision goes into the folder of the package whose tables it changes, with
`down_revision` = that package's current head. `upgrade` goes to every head.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData

from bot.database.engine import make_engine

if TYPE_CHECKING:  # Alembic is imported only when migrating: it logs on import
    from alembic.config import Config

_BOT_DIR = Path(__file__).resolve().parents[1]
# The Alembic environment (env.py, script.py.mako) shared by every branch.
ENV_DIR = Path(__file__).with_name("alembic_env")
# Packages that own tables: `<package>/models.py` and `<package>/migrations/`.
BRANCHES = ("backend", "channels", "handoff", "campaigns")


def version_dirs() -> tuple[Path, ...]:
    return tuple(_BOT_DIR / package / "migrations" for package in BRANCHES)


def import_models() -> None:
    """Import every package's table models, so `Base.metadata` holds every table."""
    for package in BRANCHES:
        importlib.import_module(f"bot.{package}.models")


def alembic_config(db_url: str) -> Config:
    """The alembic.ini equivalent, in code."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ENV_DIR))
    cfg.set_main_option("version_locations", os.pathsep.join(str(d) for d in version_dirs()))
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    cfg.set_main_option("version_path_separator", "os")
    return cfg


def upgrade(db_url: str, revision: str = "heads") -> None:
    """`alembic upgrade heads` for this database: every package's branch."""
    _migrate(db_url, "upgrade", revision)


def downgrade(db_url: str, revision: str = "base") -> None:
    _migrate(db_url, "downgrade", revision)


def _migrate(db_url: str, direction: str, revision: str) -> None:
    from alembic import command

    engine = make_engine(db_url, pooled=False)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            getattr(command, direction)(cfg, revision)
    finally:
        engine.dispose()


def drop_all(db_url: str) -> None:
    """Drop every table the migrations made, whoever owns it, and the Alembic version
    table (tests, `bot db reset`)."""
    engine = make_engine(db_url, pooled=False)
    try:
        with engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


def current_heads(db_url: str) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url, pooled=False)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def script_heads() -> tuple[str, ...]:
    """The head revisions of the migration scripts."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))
