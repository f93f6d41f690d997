"""Authentication: passwords, signed session tokens, service tokens, the WebSocket Origin.

- Agents and supervisors log in with a password (argon2id hashes) and get a signed token
  (JWT, HS256) that expires; consoles send it as ``Authorization: Bearer`` (REST) or the
  ``token`` query parameter (WebSocket, which browsers cannot give headers).
- Back-office callers use service tokens (``ctk_...``) with scopes.
- The signing keys live in the database (``signing_keys``), so tokens survive restarts and
  every node of a cluster accepts them. A token names its key (``kid``); a rotation adds a
  key that signs from then on while the old one verifies until its tokens have expired
  (:mod:`.signing`, ``ctikit keys rotate``).
- ``ctikit demo`` has no authentication: every request acts as the agent it names.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt
import redis.asyncio as aioredis
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..config import Config
from ..core.access import SCOPES, AccessDeniedError, Principal, Role
from ..core.errors import CtiRequestError
from ..storage import AccountStore, User
from .addresses import forwarded_proto
from .logins import (
    LocalLoginLimiter,
    LoginBusyError,
    LoginLimiter,
    LoginLimits,
    LoginLockedError,
    PasswordChecks,
    cores,
    login_limiter,
)
from .measures import LOGIN_FAILURES
from .signing import KeyRing

__all__ = ["AuthError", "Authenticator", "LoginBusyError", "LoginLockedError"]

log = logging.getLogger("ctikit.auth")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # A hash of a random password: verifying against it when the user does not exist costs
    # the same time as a real check, so response times do not reveal which names exist.
    # Made on first use (~0.1 s of argon2), not at import: every CLI command imports this.
    return _hasher.hash(secrets.token_hex(16))


ALGORITHM = "HS256"
SESSION_COOKIE = "ctikit_session"
MAX_CACHED_USERS = 10_000  # users whose session state a node keeps between checks


class AuthError(CtiRequestError):
    """Missing, bad or expired credentials (HTTP 401)."""

    code = "unauthorized"


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(hash_: str | None, password: str) -> bool:
    """argon2 check (slow and memory-hard on purpose): run it through PasswordChecks.
    ``hash_`` None (no such user) costs the same and is False."""
    try:
        return _hasher.verify(hash_ or _dummy_hash(), password) and hash_ is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class UserCache:
    """Users as the session check needs them, each re-read from the database after at most
    ``ttl`` seconds. Every request and socket checks its session, so most of those checks are
    answered here; a change made on this node (a logout) drops the entry at once, and one
    made elsewhere (another node, the CLI) is seen within ``ttl``. ``ttl`` 0: always read.
    An entry used in the second half of its life is read again in the background."""

    def __init__(self, accounts: AccountStore, ttl: float, size: int = MAX_CACHED_USERS) -> None:
        self._accounts = accounts
        self.ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, tuple[float, User | None]] = OrderedDict()
        # One read per user at a time: when an entry expires, the requests that find it
        # expired share the read (64 sockets' handshakes queued 64 database reads ahead of
        # everyone else's, issue 13).
        self._reading: dict[str, asyncio.Task[User | None]] = {}

    async def get(self, username: str) -> User | None:
        if self.ttl <= 0:
            return await self._accounts.get_user(username)
        hit = self._entries.get(username)
        reading = self._reading.get(username)
        if hit is not None and (age := time.monotonic() - hit[0]) < self.ttl:
            if age >= self.ttl / 2 and reading is None:
                # Read again ahead of time: a user at work never waits for the database
                # (which, under a flood, answers in turns of a busy event loop).
                self._start_read(username)
            return hit[1]
        if reading is None:
            reading = self._start_read(username)
        # Shielded: a caller that goes away does not cancel the others' read.
        return await asyncio.shield(reading)

    def _start_read(self, username: str) -> asyncio.Task[User | None]:
        reading = asyncio.ensure_future(self._read(username))
        # A read ahead that fails is only logged by whoever waits for the next one.
        reading.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._reading[username] = reading
        return reading

    async def _read(self, username: str) -> User | None:
        now = time.monotonic()
        try:
            user = await self._accounts.get_user(username)
        finally:
            # Forgotten meanwhile (a logout on this node): the result may be older than
            # the change, so it is not kept.
            current = self._reading.get(username) is asyncio.current_task()
            if current:
                del self._reading[username]
        if current:
            self._entries[username] = (now, user)
            self._entries.move_to_end(username)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return user

    def forget(self, username: str) -> None:
        self._entries.pop(username, None)
        self._reading.pop(username, None)


def _principal(user: User) -> Principal:
    return Principal(name=user.username, role=Role(user.role), agent=user.agent_id, team=user.team)


@dataclass
class Authenticator:
    """Checks credentials. ``demo`` turns authentication off (loudly, in the CLI)."""

    accounts: AccountStore
    keys: KeyRing
    token_ttl: float = 12 * 3600
    demo: bool = False
    limiter: LoginLimiter | None = None
    checks: PasswordChecks | None = None
    session_cache_seconds: float = 2.0
    users: UserCache = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = self.limiter or LocalLoginLimiter(LoginLimits(), time.monotonic)
        self.checks = self.checks or PasswordChecks(verify_password, slots=cores(), queue=8)
        self.checks.warm(_dummy_hash)  # before the first unknown name, off the event loop
        self.users = UserCache(self.accounts, self.session_cache_seconds)

    @classmethod
    async def for_config(
        cls, config: Config, accounts: AccountStore, redis: aioredis.Redis | None
    ) -> Authenticator:
        """As ``config`` says: login budgets (shared through ``redis``, the cluster's, in
        cluster mode) and the session check's cache."""
        return await cls.create(
            accounts,
            token_ttl=config.token_ttl,
            demo=config.demo,
            limiter=login_limiter(config, redis, time.monotonic),
            checks=PasswordChecks.of(config, verify_password),
            session_cache_seconds=config.session_cache_seconds,
        )

    @classmethod
    async def create(
        cls,
        accounts: AccountStore,
        *,
        token_ttl: float,
        demo: bool,
        limiter: LoginLimiter | None = None,
        checks: PasswordChecks | None = None,
        session_cache_seconds: float = 2.0,
    ) -> Authenticator:
        return cls(
            accounts=accounts,
            keys=await KeyRing.load(accounts.signing_keys()),
            token_ttl=token_ttl,
            demo=demo,
            limiter=limiter,
            checks=checks,
            session_cache_seconds=session_cache_seconds,
        )

    @property
    def secret(self) -> str:
        """The secret new tokens are signed with."""
        return self.keys.current().secret

    def close(self) -> None:
        if self.checks is not None:
            self.checks.close()
        self.keys.close()

    async def login(
        self, username: object, password: object, *, address: str = "unknown"
    ) -> tuple[str, Principal, float]:
        """Check a password; returns (token, principal, expiry time).

        The attempt is counted against the user name and ``address`` before the password is
        checked (:mod:`.logins`), so concurrent guesses cannot outrun the limit.
        """
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthError("username and password must be strings")
        assert self.limiter is not None and self.checks is not None
        name = username[:64]
        try:
            attempt = await self.limiter.reserve(name, address)
        except LoginLockedError:
            LOGIN_FAILURES.labels("locked").inc()
            raise
        except LoginBusyError:
            LOGIN_FAILURES.labels("busy").inc()
            raise
        outcome = self.limiter.released
        try:
            async with self.checks.turn():  # a flood is refused before the database
                user = await self.accounts.get_user(username) if len(username) <= 64 else None
                ok = await self.checks.check(user.password_hash if user else None, password[:1024])
            if user is None or not ok:
                outcome = self.limiter.failed
                LOGIN_FAILURES.labels("bad_credentials").inc()
                log.warning("failed login for %r from %s", name, address)
                raise AuthError("wrong user name or password")
            outcome = self.limiter.succeeded
        except LoginBusyError:
            LOGIN_FAILURES.labels("busy").inc()
            raise
        finally:
            await outcome(attempt)
        if user.disabled:  # the password was right: saying so reveals nothing
            LOGIN_FAILURES.labels("disabled").inc()
            raise AccessDeniedError("this user is disabled: ask an administrator")
        now = time.time()
        expires = now + self.token_ttl
        claims = {
            "sub": user.username,
            "role": user.role,
            "agent": user.agent_id,
            "team": user.team,
            "gen": user.session_generation,
            "iat": int(now),
            "exp": int(expires),
        }
        self.keys.refresh_if_stale()
        key = self.keys.current()
        token = jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.id})
        return token, _principal(user), expires

    def _claims(self, token: str) -> dict[str, Any]:
        secret = self.keys.secret_for(_kid(token))
        if secret is None:
            raise AuthError("invalid token: its signing key is unknown or retired")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("session expired: log in again") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None
        return claims

    async def principal_for(self, token: str | None, *, agent_hint: str | None = None) -> Principal:
        """The principal a token stands for; raises :class:`AuthError`."""
        if self.demo and not token:
            # Development mode: whoever asks is the agent they name; a request that names
            # no agent (listing, export) may see everything.
            if agent_hint is None:
                return Principal(name="demo", role=Role.SERVICE, scopes=SCOPES)
            return Principal(name=agent_hint, role=Role.AGENT, agent=agent_hint)
        if not token:
            raise AuthError("log in first: no token given")
        if token.startswith("ctk_"):
            found = await self.accounts.find_token(token)
            if found is None:
                raise AuthError("unknown or revoked service token")
            return Principal(name=found.name, role=Role.SERVICE, scopes=found.scopes)
        self.keys.refresh_if_stale()
        await self.keys.refresh_for(_kid(token))
        claims = self._claims(token)
        # A user removed, disabled, logged out or given a new password since the token was
        # issued loses access (within session_cache_seconds when changed elsewhere).
        user = await self.users.get(str(claims["sub"]))
        if user is None:
            raise AuthError("this user no longer exists")
        if user.disabled:
            raise AuthError("this user is disabled")
        if claims.get("gen", 0) != user.session_generation:
            raise AuthError("this session has ended (logged out or password changed)")
        return _principal(user)

    def session_of(self, token: str | None) -> tuple[str, int] | None:
        """(user, session generation) of a valid login token; None for anything else."""
        if not token or token.startswith("ctk_"):
            return None
        try:
            claims = self._claims(token)
        except AuthError:
            return None
        gen = claims.get("gen", 0)
        return (str(claims["sub"]), gen) if isinstance(gen, int) else None

    async def logout(self, token: str | None) -> str | None:
        """End the sessions of the token's user (every browser and client of that user:
        tokens are not tracked one by one). Returns the user, or None if the token was no
        live session."""
        session = self.session_of(token)
        if session is None:
            return None
        name, gen = session
        ended = await self.accounts.end_sessions(name, gen)
        self.users.forget(name)
        return name if ended else None


def _kid(token: str) -> str | None:
    """The signing key a token names (None: a token from before keys rotated)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise AuthError("invalid token") from None
    if kid is not None and not isinstance(kid, str):
        raise AuthError("invalid token")
    return kid


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_origin(
    request: web.Request,
    allowed: tuple[str, ...],
    *,
    require: bool = False,
    what: str = "open a console socket",
) -> None:
    """Origin check: the server's own origin, or one in ``allowed``.

    Clients without an Origin header are not browsers (no cross-site risk) and pass unless
    ``require`` (cookie-authenticated changes, where only a browser sends the cookie).
    """
    origin = request.headers.get("Origin")
    if origin is None and require:
        raise AccessDeniedError("cookie-authenticated requests must carry an Origin header")
    if origin is None or origin in allowed or "*" in allowed:
        return
    own = f"{request.scheme}://{request.host}"
    forwarded = forwarded_proto(request)
    if origin == own or (forwarded and origin == f"{forwarded}://{request.host}"):
        return
    raise AccessDeniedError(f"origin {origin} is not allowed to {what}")


def check_same_site(request: web.Request, allowed: tuple[str, ...]) -> None:
    """Login and logout (issue 13, F5): a browser may do them only from a page of this server
    or of ``allowed``, as the Origin and Sec-Fetch-Site headers say. Non-browser clients send
    neither and pass."""
    check_origin(request, allowed, what="log in or out here")
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    if site == "cross-site" and not (origin and (origin in allowed or "*" in allowed)):
        raise AccessDeniedError("a cross-site page may not log in or out here")
