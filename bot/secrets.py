"""The shared secrets between our servers, and how strong they must be.

| variable | who checks it | who sends it |
|---|---|---|
| `RASA_AUTH_TOKEN` | Rasa HTTP API (`?token=`, for operators' tools) | people, scripts |
| `RASA_JWT_SECRET` | Rasa HTTP API (JWT in the `Authorization` header) | the hand-off service |
| `ACTION_SERVER_TOKEN` | action server (`X-Action-Token` header) | Rasa (endpoints.yml) |
| `BOT_MEDIA_KEY` | bot/media (encryption of customer photos at rest) | - |
| `METRICS_TOKEN` | `/metrics` of every process (Bearer; unset: disabled) | Prometheus |

In production they come from the environment (a secret manager). On a developer's machine
`bot secrets env` creates them once in `.data/secrets.env` (mode 0600) and prints them as
`export` lines for the Makefile; variables already set in the environment win.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from bot import settings

SECRET_VARS = ("RASA_AUTH_TOKEN", "RASA_JWT_SECRET", "ACTION_SERVER_TOKEN", "BOT_MEDIA_KEY",
               "METRICS_TOKEN")
MIN_SECRET_CHARS = 32
MIN_DISTINCT_CHARS = 12
# Values from examples and old defaults: never accepted, whatever their length.
KNOWN_WEAK = frozenset({"change-me", "changeme", "secret", "password", "token", "test",
                        "rasa", "admin", "default"})


def secrets_file() -> Path:
    return settings.DATA_DIR / "secrets.env"


def weakness(value: str | None) -> str | None:
    """Why `value` is not acceptable as a secret, or None when it is."""
    if not value:
        return "is not set"
    if value.strip().lower() in KNOWN_WEAK or "change-me" in value.lower():
        return "is a known placeholder value"
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return "is not random enough (too few distinct characters)"
    return None


def require(name: str) -> str:
    """The value of secret `name` from the environment; SystemExit with a clear message
    (what is wrong and how to make one) when it is missing or weak."""
    value = os.environ.get(name)
    problem = weakness(value)
    if problem:
        raise SystemExit(
            f"{name} {problem}. Use at least {MIN_SECRET_CHARS} random characters, e.g. "
            f"`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`; on a "
            f"development machine `eval \"$(bot secrets env)\"` creates them "
            f"(see docs/security.md).")
    return value  # type: ignore[return-value]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _read(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() in SECRET_VARS:
                values[name.strip()] = value.strip()
    return values


def development_secrets() -> dict[str, str]:
    """The development secrets: the environment's when set and strong, else the ones in
    `.data/secrets.env`, created (0600) for whatever is missing. Refused in production."""
    if settings.env() == "prod":
        raise SystemExit("BOT_ENV=prod: secrets come from the environment only "
                         f"({', '.join(SECRET_VARS)}); nothing is generated.")
    path = secrets_file()
    stored = _read(path)
    changed = False
    for name in SECRET_VARS:
        if weakness(stored.get(name)):
            stored[name] = new_secret()
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# Development secrets (bot secrets env). Never commit; not for production.\n")
            fh.writelines(f"{name}={stored[name]}\n" for name in SECRET_VARS)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    values = {}
    for name in SECRET_VARS:
        own = os.environ.get(name)
        values[name] = own if own and not weakness(own) else stored[name]
    return values


def shell_exports() -> str:
    """`export NAME='value'` lines for `eval` in a shell."""
    return "".join(f"export {name}='{value}'\n"
                   for name, value in development_secrets().items())
