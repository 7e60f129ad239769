"""Backend suite: the `backend` fixture runs every test on SQLite AND PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

TEST_OTP = "123456"  # same as tests/conftest.py


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path, clock, monkeypatch, _seeded_template_fixed) -> Iterator:
    from bot.backend import Backend, set_backend
    from bot.backend.seed import seed

    if request.param == "sqlite":
        path = tmp_path / "subscribers.db"
        shutil.copyfile(_seeded_template_fixed, path)
        url = f"sqlite:///{path}"
        instance = Backend(url, clock=clock)
    else:
        url = request.getfixturevalue("pg_url")
        instance = Backend(url, clock=clock)
        seed(instance)  # wipes and reloads: every test starts from the same data
    monkeypatch.setenv("BOT_DB_URL", url)
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_OTP_FIXED_CODE", TEST_OTP)
    set_backend(instance)
    yield instance
    set_backend(None, url)
