"""Console accounts: scrypt password hashes, server-side sessions and roles.

Accounts are personal (one per person, `bot handoff add-agent NAME [--role ROLE ...]`); a
departed agent is disabled at once (`bot handoff disable-agent NAME`), which also ends
their sessions. The session cookie holds a random token; the database keeps only its
SHA-256.

Roles say which parts of the console an account may use (`ROLES`): `agent` (the hand-off
queue), `reviewer` (the Decree-49 review desk), `designer` (the conversation inbox),
`campaigns` (outreach campaigns). A new account is an `agent` unless told otherwise;
`bot handoff set-roles NAME ROLE ...` changes them (and ends the account's sessions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot import settings
from bot.database import engine_for, session_factory, transaction
from bot.handoff.models import HandoffAgent, HandoffSession

SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2 ** 14, 8, 1, 32
SESSION_HOURS = 12
MIN_PASSWORD = 8
NAME_MAX = 80
ROLES = ("agent", "reviewer", "designer", "campaigns")
DEFAULT_ROLES = ("agent",)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt b64>$<hash b64>`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=SCRYPT_LEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


# Verified against when the name is unknown, so a wrong name costs as long as a wrong
# password (no account enumeration by timing).
_DUMMY_HASH = hash_password("not-a-password", salt=b"\0" * 16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class AgentView:
    id: int
    name: str
    active: bool
    roles: frozenset[str] = frozenset(DEFAULT_ROLES)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def validate_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, known ones only, each once, in `ROLES` order; at least one."""
    given = {str(r).strip().lower() for r in roles}
    unknown = sorted(given - set(ROLES))
    if unknown:
        raise AccountError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    if not given:
        raise AccountError(f"at least one role: {', '.join(ROLES)}")
    return tuple(r for r in ROLES if r in given)


def _roles_of(row: HandoffAgent) -> frozenset[str]:
    return frozenset(r for r in (row.roles or "").split(",") if r in ROLES)


def _view(row: HandoffAgent) -> AgentView:
    return AgentView(row.id, row.name, row.active, _roles_of(row))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX or any(ch.isspace() for ch in name):
        raise AccountError("agent name: 1-80 characters without spaces")
    return name


class AgentAccounts:
    def __init__(self, db_url: str | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine_for(db_url or settings.db_url())
        self._sessions = session_factory(self.engine)
        self.clock = clock or _utcnow

    def add_agent(self, name: str, password: str,
                  roles: Iterable[str] = DEFAULT_ROLES) -> AgentView:
        name = validate_name(name)
        role_list = validate_roles(roles)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        try:
            with transaction(self._sessions) as s:
                row = HandoffAgent(name=name, password_hash=hash_password(password),
                                   active=True, created_at=self.clock(),
                                   roles=",".join(role_list))
                s.add(row)
                s.flush()
                return _view(row)
        except IntegrityError as exc:
            raise AccountError(f"agent {name!r} already exists") from exc

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffAgent).where(
                HandoffAgent.name == name)).scalar_one_or_none()
            if row is None:
                raise AccountError(f"no agent {name!r}")
            row.password_hash = hash_password(password)
            row.active = True
            s.execute(delete(HandoffSession).where(HandoffSession.agent_id == row.id))

    def set_roles(self, name: str, roles: Iterable[str]) -> AgentView:
        """Replace an account's roles; its open sessions end (they carried the old ones)."""
        role_list = validate_roles(roles)
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffAgent).where(
                HandoffAgent.name == name)).scalar_one_or_none()
            if row is None:
                raise AccountError(f"no agent {name!r}")
            row.roles = ",".join(role_list)
            s.execute(delete(HandoffSession).where(HandoffSession.agent_id == row.id))
            return _view(row)

    def disable_agent(self, name: str) -> None:
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffAgent).where(
                HandoffAgent.name == name)).scalar_one_or_none()
            if row is None:
                raise AccountError(f"no agent {name!r}")
            row.active = False
            s.execute(delete(HandoffSession).where(HandoffSession.agent_id == row.id))

    def agents(self) -> list[AgentView]:
        with transaction(self._sessions) as s:
            rows = s.execute(select(HandoffAgent).order_by(HandoffAgent.name)).scalars()
            return [_view(r) for r in rows]

    def authenticate(self, name: str, password: str) -> AgentView | None:
        with transaction(self._sessions) as s:
            row = s.execute(select(HandoffAgent).where(
                HandoffAgent.name == (name or "").strip())).scalar_one_or_none()
            stored = row.password_hash if row is not None else _DUMMY_HASH
            ok = verify_password(password or "", stored)
            if row is None or not row.active or not ok:
                return None
            return _view(row)

    def start_session(self, agent: AgentView) -> str:
        """A new random session token (the cookie value)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with transaction(self._sessions) as s:
            s.execute(delete(HandoffSession).where(HandoffSession.expires_at < now))
            s.add(HandoffSession(token_hash=token_hash(token), agent_id=agent.id,
                                 created_at=now,
                                 expires_at=now + timedelta(hours=SESSION_HOURS)))
        return token

    def session_agent(self, token: str | None) -> AgentView | None:
        if not token:
            return None
        with transaction(self._sessions) as s:
            row = s.execute(
                select(HandoffAgent, HandoffSession.expires_at)
                .join(HandoffSession, HandoffSession.agent_id == HandoffAgent.id)
                .where(HandoffSession.token_hash == token_hash(token))).first()
            if row is None:
                return None
            agent, expires_at = row
            if not agent.active or expires_at <= self.clock():
                return None
            return _view(agent)

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with transaction(self._sessions) as s:
            s.execute(delete(HandoffSession).where(HandoffSession.token_hash == token_hash(token)))
