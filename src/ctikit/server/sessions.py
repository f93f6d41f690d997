"""Console sockets of sessions that end: closed at once when their user logs out on this
node, and within :func:`sweep_seconds` (10 s by default) when the session ends elsewhere (a
logout on another node, ``ctikit user passwd``, ``disable`` or ``remove``). The console then
finds its session gone (``/api/whoami`` answers 401) and asks to sign in."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from ..storage import AccountStore, StorageError

log = logging.getLogger("ctikit.auth")


def sweep_seconds(session_cache_seconds: float) -> float:
    """How often open sockets are checked: five times as long as a request's session check
    may be stale, one query per 500 users with sockets each time."""
    return max(2.0, 5 * session_cache_seconds)


CLOSE_SESSION_ENDED = 1008  # policy violation: the console reconnects, is refused, signs in


class SessionSockets:
    """Open console sockets by the user and session generation that opened them."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[web.WebSocketResponse, int]] = {}

    def add(self, user: str, generation: int, ws: web.WebSocketResponse) -> None:
        self._by_user.setdefault(user, {})[ws] = generation

    def remove(self, user: str, ws: web.WebSocketResponse) -> None:
        sockets = self._by_user.get(user)
        if sockets is not None:
            sockets.pop(ws, None)
            if not sockets:
                del self._by_user[user]

    async def end(self, user: str, *, before: int | None = None) -> int:
        """Close ``user``'s sockets (of generations before ``before``, if given)."""
        sockets = self._by_user.get(user, {})
        doomed = [ws for ws, gen in sockets.items() if before is None or gen < before]
        for ws in doomed:
            sockets.pop(ws, None)
        if not sockets:
            self._by_user.pop(user, None)
        await asyncio.gather(
            *(
                ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended: log in again")
                for ws in doomed
            ),
            return_exceptions=True,
        )
        return len(doomed)

    async def sweep(self, accounts: AccountStore) -> int:
        """Close the sockets whose session ended elsewhere; returns how many."""
        users = list(self._by_user)
        if not users:
            return 0
        states = await accounts.session_states(users)
        closed = 0
        for user in users:
            state = states.get(user)
            if state is None or state[1]:  # removed or disabled
                closed += await self.end(user)
            else:
                closed += await self.end(user, before=state[0])
        return closed

    async def run(self, accounts: AccountStore, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(StorageError):  # the database is away: next time
                closed = await self.sweep(accounts)
                if closed:
                    log.info("closed %d console sockets of ended sessions", closed)


SESSIONS = web.AppKey("session_sockets", SessionSockets)
