"""Fixtures for the production-mode tests: real PostgreSQL and Redis connections."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set "
                    "(CI sets it; e.g. postgresql://postgres@127.0.0.1:5432/test)")
    if not _reachable(url, 5432):
        where = f"{urlparse(url).hostname}:{urlparse(url).port or 5432}"
        pytest.skip(f"PostgreSQL does not answer at {where}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set (CI sets it; e.g. redis://127.0.0.1:6379/0)")
    if not _reachable(url, 6379):
        where = f"{urlparse(url).hostname}:{urlparse(url).port or 6379}"
        pytest.skip(f"Redis does not answer at {where}")
    return url


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("TRACKER_DB_URL", "LOCK_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
