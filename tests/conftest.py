"""Shared fixtures: seeded subscriber databases (SQLite, PostgreSQL) and a fake clock.

- `clock`: a `FakeClock` (aware UTC, starts at FIXED_NOW = 10:00 in Hà Nội);
  `clock.advance(hours=13)`.
- `backend`: a freshly seeded SQLite `Backend` driven by `clock`; while the test runs it is
  also what `bot.backend.get_backend()` returns (BOT_DB_URL points at it), BOT_ENV=test and
  every OTP is TEST_OTP ("123456").
- `seeded_db_url`: URL of a fresh copy of a database seeded with the real clock (for
  subprocesses such as an action server).
- `pg_url`: URL of a fresh, migrated PostgreSQL schema for this test session
  (TEST_POSTGRES_URL); skips with a reason when unset or unreachable.
- `pg_backend`: like `backend`, on that PostgreSQL schema (re-seeded for each test).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

FIXED_NOW = datetime(2025, 6, 2, 3, 0, tzinfo=timezone.utc)  # Monday 10:00 Asia/Ho_Chi_Minh
TEST_OTP = "123456"


class FakeClock:
    """A controllable clock for `Backend(db_url, clock=...)`."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _seed_file(path: Path, clock) -> None:
    from bot import database as db
    from bot.backend import Backend
    from bot.backend.seed import seed

    url = _sqlite_url(path)
    db.upgrade(url)
    backend = Backend(url, clock=clock)
    try:
        seed(backend)
    finally:
        backend.dispose()


@pytest.fixture(scope="session")
def _seeded_template_fixed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backend-template") / "fixed.db"
    _seed_file(path, FakeClock())
    return path


@pytest.fixture(scope="session")
def _seeded_template_now(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backend-template") / "now.db"
    _seed_file(path, None)
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(tmp_path, clock, _seeded_template_fixed, monkeypatch) -> Iterator:
    """A freshly seeded SQLite Backend on the fake clock; also get_backend()'s instance."""
    from bot.backend import Backend, set_backend

    path = tmp_path / "subscribers.db"
    shutil.copyfile(_seeded_template_fixed, path)
    url = _sqlite_url(path)
    monkeypatch.setenv("BOT_DB_URL", url)
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_OTP_FIXED_CODE", TEST_OTP)
    instance = Backend(url, clock=clock)
    set_backend(instance)
    yield instance
    set_backend(None, url)


@pytest.fixture
def seeded_db_url(tmp_path, _seeded_template_now) -> str:
    """A fresh copy of a database seeded with the real clock at session start."""
    path = tmp_path / "subscribers-now.db"
    shutil.copyfile(_seeded_template_now, path)
    return _sqlite_url(path)


def _postgres_base_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (search_path) migrated to head; dropped at session end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot import database as db

    base = _postgres_base_url()
    admin = create_engine(base, future=True)
    schema = f"bot_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection problem means "skip"
        admin.dispose()
        pytest.skip(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {type(exc).__name__}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        db.upgrade(rendered)
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_backend(pg_url, clock, monkeypatch) -> Iterator:
    """A freshly seeded PostgreSQL Backend on the fake clock; also get_backend()'s instance."""
    from bot.backend import Backend, set_backend
    from bot.backend.seed import seed

    instance = Backend(pg_url, clock=clock)
    seed(instance)
    monkeypatch.setenv("BOT_DB_URL", pg_url)
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_OTP_FIXED_CODE", TEST_OTP)
    set_backend(instance)
    yield instance
    set_backend(None, pg_url)


@pytest.fixture(autouse=True)
def _media_store_in_tmp(tmp_path, monkeypatch) -> Iterator[None]:
    """Customer photos (bot/media) go to this test's own directory with the test key; never
    into the developer's .data/."""
    from bot.media import set_media_store

    monkeypatch.setenv("BOT_MEDIA_KEY", "test-media-key-7d2e9a4c1b8f3e6a05d9c2b7e4f1")
    monkeypatch.setenv("BOT_MEDIA_DIR", str(tmp_path / "media"))
    set_media_store(None)
    yield
    set_media_store(None)
