"""The signing keys a node holds: re-read every few seconds, so a rotation or a retirement
made elsewhere (``ctikit keys``, another node) reaches every node without a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..storage.signing import LEGACY_KID, SigningKey, SigningKeyStore, signing_key

log = logging.getLogger("ctikit.auth")
#: How stale a node's keys may be: a retired key is refused everywhere within this.
REFRESH_SECONDS = 5.0
#: An unknown ``kid`` makes a node re-read at once, but not more often than this.
UNKNOWN_KID_REREAD_SECONDS = 1.0


class KeyRing:
    """The keys, by ID; the one that signs; when each stops verifying."""

    def __init__(
        self,
        store: SigningKeyStore,
        keys: list[SigningKey],
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self.refresh_seconds = refresh_seconds
        self._set(keys)
        self._reread: asyncio.Task[None] | None = None
        self._last_forced = 0.0

    @classmethod
    async def load(
        cls, store: SigningKeyStore, *, refresh_seconds: float = REFRESH_SECONDS
    ) -> KeyRing:
        """The keys in ``store``, after adding one that signs if there is none."""
        return cls(store, await store.ensure(), refresh_seconds=refresh_seconds)

    def _set(self, keys: list[SigningKey]) -> None:
        self._by_id = {k.id: k for k in keys}
        self._signing = signing_key(keys)
        self._loaded = time.monotonic()

    def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        if self._signing is None:
            raise RuntimeError("no signing key: every key is retired; run `ctikit keys rotate`")
        return self._signing

    def secret_for(self, kid: str | None) -> str | None:
        """The secret that verifies a token with this ``kid``, while the key is not retired."""
        key = self._by_id.get(kid if kid is not None else LEGACY_KID)
        if key is None:
            return None
        if key.retires_at is not None and key.retires_at.timestamp() <= self._clock():
            return None
        return key.secret

    def knows(self, kid: str | None) -> bool:
        return (kid if kid is not None else LEGACY_KID) in self._by_id

    async def refresh(self) -> None:
        """Re-read the keys now."""
        self._set(await self._store.list())

    def refresh_if_stale(self) -> None:
        """Start a re-read in the background when the keys are older than refresh_seconds
        (the request that notices does not wait for it)."""
        if time.monotonic() - self._loaded < self.refresh_seconds:
            return
        if self._reread is None or self._reread.done():
            self._reread = asyncio.get_running_loop().create_task(self._quiet_refresh())

    async def refresh_for(self, kid: str | None) -> None:
        """A token names a key this node has not seen (made on another node a moment ago):
        re-read now, at most once per UNKNOWN_KID_REREAD_SECONDS (made-up IDs cost nothing)."""
        if self.knows(kid):
            return
        now = time.monotonic()
        if now - self._last_forced < UNKNOWN_KID_REREAD_SECONDS:
            return
        self._last_forced = now
        await self._quiet_refresh()

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the database is away: keep the keys we have
            log.warning("could not re-read the signing keys: %s", exc)

    def close(self) -> None:
        if self._reread is not None:
            self._reread.cancel()
