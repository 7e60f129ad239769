"""Database plumbing shared by the backend, the channels and the hand-off: one place.

- `Base`, `UTCDateTime` (bot.database.schema): the declarative base every table model
  derives from, and the timestamp type (aware UTC in Python, naive UTC stored).
- `engine_for(url)` (bot.database.engine): the one engine per database URL in this
  process; `make_engine(url)` builds a separate one (migrations, tests acting as another
  process). Every engine hides SQL parameters and scrubs the database's own messages.
- `session_factory(engine)`, `transaction(factory)` (bot.database.session).
- `upgrade(url)`, `downgrade`, `drop_all`, `current_heads`, `script_heads`
  (bot.database.migrations): Alembic, configured in code. Each package keeps its tables in
  its own `models.py` and its revisions in its own `migrations/` folder (a branch off
  `0001`); `upgrade` goes to every head.

Nothing here knows a table of the packages that use it.
"""

from __future__ import annotations

from bot.database.engine import engine_for, make_engine
from bot.database.migrations import current_heads, downgrade, drop_all, script_heads, upgrade
from bot.database.schema import Base, UTCDateTime
from bot.database.session import session_factory, transaction

__all__ = ["Base", "UTCDateTime", "current_heads", "downgrade", "drop_all", "engine_for",
           "make_engine", "script_heads", "session_factory", "transaction", "upgrade"]
