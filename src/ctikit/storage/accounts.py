"""Users, service tokens and server settings, in the same database as the call logs.

Secrets never stored in clear: passwords as argon2 hashes (made by the caller, see
``ctikit.server.auth``), service tokens as SHA-256 digests. Every change is written to the
audit log in its own transaction, naming ``actor`` (never a password or a token).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .audit import entry
from .models import AuditRow, ServiceTokenRow, SettingRow, UserRow
from .signing import SigningKeyStore
from .store import CallLogStore, _db_errors

ROLES = ("agent", "supervisor")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    username: str
    role: str
    agent_id: str | None
    team: str | None
    password_hash: str
    created_at: datetime
    #: Login tokens carry the generation they were issued in and are refused once it moved on.
    session_generation: int = 0
    disabled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceToken:
    id: str
    name: str
    scopes: frozenset[str]
    created_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    """Account queries on a :class:`CallLogStore`'s database."""

    def __init__(self, store: CallLogStore, *, actor: str = "system") -> None:
        self._store = store
        #: Who makes the changes, for the audit log ("cli:root", "config", a user's name).
        self.actor = actor

    def _audit(self, action: str, target: str, **detail: object) -> AuditRow:
        return AuditRow(
            **entry(
                at=self._store._now(), actor=self.actor, action=action, target=target, detail=detail
            )
        )

    # ------------------------------------------------------------------ users

    async def add_user(
        self,
        username: str,
        *,
        role: str,
        password_hash: str,
        agent_id: str | None,
        team: str | None,
    ) -> User:
        """Add a user; ValueError if the name is taken or the role unknown."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        row = UserRow(
            username=username,
            role=role,
            agent_id=agent_id,
            team=team,
            password_hash=password_hash,
            created_at=self._store._now(),
            session_generation=0,
            disabled=False,
        )
        try:
            with _db_errors("add user"):
                async with self._store._write_session("add user") as session:
                    session.add(row)
                    session.add(
                        self._audit("user.add", username, role=role, agent=agent_id, team=team)
                    )
        except Exception as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise ValueError(f"user {username!r} already exists") from None
            raise
        return _user(row)

    async def get_user(self, username: str) -> User | None:
        with _db_errors("read user"):
            async with self._store._session() as session:
                row = await session.get(UserRow, username)
        return None if row is None else _user(row)

    async def team_of_agent(self, agent_id: str) -> str | None:
        """The team of the user who takes calls as ``agent_id`` (None if none)."""
        with _db_errors("read user"):
            async with self._store._session() as session:
                return await session.scalar(
                    select(UserRow.team).where(UserRow.agent_id == agent_id).limit(1)
                )

    async def agents_of_team(self, team: str) -> builtins.list[str]:
        with _db_errors("read team"):
            async with self._store._session() as session:
                rows = await session.scalars(
                    select(UserRow.agent_id).where(
                        UserRow.team == team, UserRow.agent_id.is_not(None)
                    )
                )
                return [r for r in rows if r]

    async def list_users(self) -> builtins.list[User]:
        with _db_errors("list users"):
            async with self._store._session() as session:
                rows = (await session.scalars(select(UserRow).order_by(UserRow.username))).all()
        return [_user(r) for r in rows]

    async def remove_user(self, username: str) -> bool:
        with _db_errors("remove user"):
            async with self._store._write_session("remove user") as session:
                result = await session.execute(delete(UserRow).where(UserRow.username == username))
                if result.rowcount:  # type: ignore[attr-defined]
                    session.add(self._audit("user.remove", username))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_password(self, username: str, password_hash: str) -> bool:
        """Change the password; every session of the user ends."""
        return await self._update_user(
            "set password",
            username,
            self._audit("user.password", username),
            password_hash=password_hash,
            session_generation=UserRow.session_generation + 1,
        )

    async def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable (every session ends, no login) or enable a user."""
        return await self._update_user(
            "disable user",
            username,
            self._audit("user.disable" if disabled else "user.enable", username),
            disabled=disabled,
            session_generation=UserRow.session_generation + 1,
        )

    async def end_sessions(self, username: str, generation: int) -> bool:
        """Log out: end the user's sessions of ``generation`` (and so every one issued
        before). False if they had already ended."""
        with _db_errors("end sessions"):
            async with self._store._write_session("end sessions") as session:
                result = await session.execute(
                    update(UserRow)
                    .where(
                        UserRow.username == username,
                        UserRow.session_generation == generation,
                    )
                    .values(session_generation=generation + 1)
                )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def session_states(self, usernames: builtins.list[str]) -> dict[str, tuple[int, bool]]:
        """username -> (session generation, disabled) of those that exist."""
        out: dict[str, tuple[int, bool]] = {}
        with _db_errors("read users"):
            async with self._store._session() as session:
                for i in range(0, len(usernames), 500):
                    rows = await session.execute(
                        select(
                            UserRow.username, UserRow.session_generation, UserRow.disabled
                        ).where(UserRow.username.in_(usernames[i : i + 500]))
                    )
                    out.update({r[0]: (int(r[1] or 0), bool(r[2])) for r in rows})
        return out

    async def set_role(
        self, username: str, role: str, *, agent_id: str | None, team: str | None
    ) -> bool:
        """Change a user's role (and agent, team); every session ends (tokens carry them)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        return await self._update_user(
            "change role",
            username,
            self._audit("user.role", username, role=role, agent=agent_id, team=team),
            role=role,
            agent_id=agent_id,
            team=team,
            session_generation=UserRow.session_generation + 1,
        )

    async def _update_user(
        self, what: str, username: str, audit: AuditRow, **values: object
    ) -> bool:
        with _db_errors(what):
            async with self._store._write_session(what) as session:
                result = await session.execute(
                    update(UserRow).where(UserRow.username == username).values(**values)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    session.add(audit)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # --------------------------------------------------------- service tokens

    async def create_token(self, name: str, scopes: frozenset[str]) -> tuple[ServiceToken, str]:
        """A new token; returns it and its secret text, shown once and never stored."""
        secret = "ctk_" + secrets.token_urlsafe(32)
        row = ServiceTokenRow(
            id="tok_" + secrets.token_hex(6),
            name=name,
            token_hash=token_digest(secret),
            scopes=" ".join(sorted(scopes)),
            created_at=self._store._now(),
        )
        with _db_errors("create token"):
            async with self._store._write_session("create token") as session:
                session.add(row)
                session.add(self._audit("token.create", row.id, name=name, scopes=row.scopes))
        return _token(row), secret

    async def find_token(self, secret: str) -> ServiceToken | None:
        with _db_errors("check token"):
            async with self._store._session() as session:
                row = await session.scalar(
                    select(ServiceTokenRow).where(
                        ServiceTokenRow.token_hash == token_digest(secret)
                    )
                )
        return None if row is None else _token(row)

    async def list_tokens(self) -> builtins.list[ServiceToken]:
        with _db_errors("list tokens"):
            async with self._store._session() as session:
                rows = (
                    await session.scalars(
                        select(ServiceTokenRow).order_by(ServiceTokenRow.created_at)
                    )
                ).all()
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: str) -> bool:
        with _db_errors("revoke token"):
            async with self._store._write_session("revoke token") as session:
                result = await session.execute(
                    delete(ServiceTokenRow).where(ServiceTokenRow.id == token_id)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    session.add(self._audit("token.revoke", token_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # --------------------------------------------------------------- settings

    def signing_keys(self) -> SigningKeyStore:
        """The keys that sign login tokens, in the same database."""
        return SigningKeyStore(self._store)

    async def get_or_create_setting(self, key: str, make: str) -> str:
        """The stored value of ``key``, storing ``make`` first if there is none (first
        writer wins, so several nodes starting at once agree)."""
        with _db_errors("read setting"):
            async with self._store._session() as session:
                row = await session.get(SettingRow, key)
                if row is not None:
                    return row.value
        try:
            with _db_errors("write setting"):
                async with self._store._write_session("write setting") as session:
                    session.add(SettingRow(key=key, value=make))
            return make
        except Exception:
            async with self._store._session() as session:
                row = await session.get(SettingRow, key)
            if row is None:
                raise
            return row.value


def _user(row: UserRow) -> User:
    return User(
        username=row.username,
        role=row.role,
        agent_id=row.agent_id,
        team=row.team,
        password_hash=row.password_hash,
        created_at=row.created_at,
        session_generation=row.session_generation or 0,
        disabled=bool(row.disabled),
    )


def _token(row: ServiceTokenRow) -> ServiceToken:
    return ServiceToken(
        id=row.id, name=row.name, scopes=frozenset(row.scopes.split()), created_at=row.created_at
    )
