"""The keys that sign login tokens, in the database so every node and restart shares them.

The newest key without ``retires_at`` signs new tokens. Every key verifies until its
``retires_at`` passes: a rotation adds a key and gives the others ``retires_at`` = now + the
token lifetime, so tokens already issued keep working until they expire.
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select, update

from .models import SigningKeyRow
from .store import CallLogStore, _db_errors

#: The key that tokens without a ``kid`` (issued before keys could rotate) were signed with.
LEGACY_KID: Final = "legacy"


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    id: str
    secret: str
    created_at: datetime
    #: None: may sign. Otherwise verifies (never signs) until then.
    retires_at: datetime | None


def signing_key(keys: builtins.list[SigningKey]) -> SigningKey | None:
    """The key that signs: the newest without ``retires_at``."""
    live = [k for k in keys if k.retires_at is None]
    return max(live, key=lambda k: (k.created_at, k.id)) if live else None


class SigningKeyStore:
    """Signing-key queries on a :class:`CallLogStore`'s database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def list(self) -> builtins.list[SigningKey]:
        with _db_errors("read signing keys"):
            async with self._store._session() as session:
                rows = await session.scalars(
                    select(SigningKeyRow).order_by(SigningKeyRow.created_at, SigningKeyRow.id)
                )
                return [_key(r) for r in rows]

    async def ensure(self) -> builtins.list[SigningKey]:
        """Every key, after adding one that signs if there is none (a new database).
        Nodes starting at once may each add one; the newest signs, the others verify."""
        keys = await self.list()
        if signing_key(keys) is None:
            await self.add(retire_others_at=None)
            keys = await self.list()
        return keys

    async def add(self, *, retire_others_at: datetime | None) -> SigningKey:
        """A new key that signs from now on; the keys that signed until now stop signing and
        verify until ``retire_others_at`` (None: leave them as they are)."""
        now = self._store._now()
        row = SigningKeyRow(
            id="k" + secrets.token_hex(6),
            secret=secrets.token_urlsafe(48),
            created_at=now,
            retires_at=None,
        )
        with _db_errors("add a signing key"):
            async with self._store._write_session("add a signing key") as session:
                if retire_others_at is not None:
                    await session.execute(
                        update(SigningKeyRow)
                        .where(SigningKeyRow.retires_at.is_(None))
                        .values(retires_at=retire_others_at)
                    )
                session.add(row)
        return _key(row)

    async def retire(self, kid: str, at: datetime) -> bool:
        """Tokens signed with ``kid`` are refused from ``at`` on (earlier if it was set
        so). False if there is no such key."""
        with _db_errors("retire a signing key"):
            async with self._store._write_session("retire a signing key") as session:
                row = await session.get(SigningKeyRow, kid)
                if row is None:
                    return False
                if row.retires_at is None or row.retires_at > at:
                    row.retires_at = at
        return True

    async def prune(self, before: datetime) -> int:
        """Delete the keys retired before ``before``: they verify nothing any more."""
        with _db_errors("prune signing keys"):
            async with self._store._write_session("prune signing keys") as session:
                result = await session.execute(
                    delete(SigningKeyRow).where(SigningKeyRow.retires_at < before)
                )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _key(row: SigningKeyRow) -> SigningKey:
    return SigningKey(
        id=row.id, secret=row.secret, created_at=row.created_at, retires_at=row.retires_at
    )
