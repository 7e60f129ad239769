"""Engine and transaction helpers of the hand-off store (same database as the backend)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.backend.db import make_engine


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL and process (the backend's engine factory: SQLite waits for
    locks, the action server and the console write to the same file)."""
    return make_engine(url)


@contextmanager
def transaction(factory: sessionmaker) -> Iterator[Session]:
    """A short unit of work: commit on success, roll back on any error."""
    session: Session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
