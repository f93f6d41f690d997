"""Authentication: passwords, signed session tokens, service tokens, the WebSocket Origin.

- Agents and supervisors log in with a password (argon2id hashes) and get a signed token
  (JWT, HS256) that expires; consoles send it as ``Authorization: Bearer`` (REST) or the
  ``token`` query parameter (WebSocket, which browsers cannot give headers).
- Back-office callers use service tokens (``ctk_...``) with scopes.
- The signing key lives in the database (``settings``), so tokens survive restarts and every
  node of a cluster accepts them.
- ``ctikit demo`` has no authentication: every request acts as the agent it names.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..core.access import SCOPES, AccessDeniedError, Principal, Role
from ..core.errors import CtiRequestError
from ..storage import AccountStore

log = logging.getLogger("ctikit.auth")

_hasher = PasswordHasher()
# A hash of a random password: verifying against it when the user does not exist costs
# the same time as a real check, so response times do not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
ALGORITHM = "HS256"
SESSION_COOKIE = "ctikit_session"
MAX_LOGIN_FAILURES = 5  # per user name within LOCKOUT_SECONDS
LOCKOUT_SECONDS = 60.0
MAX_TRACKED_NAMES = 10_000  # user names with recent failures kept in memory


class LoginLockedError(CtiRequestError):
    """Too many failed logins for one user name: wait ``retry_after`` seconds (REST: 429)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(CtiRequestError):
    """Missing, bad or expired credentials (HTTP 401)."""

    code = "unauthorized"


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass
class Authenticator:
    """Checks credentials. ``demo`` turns authentication off (loudly, in the CLI)."""

    accounts: AccountStore
    secret: str
    token_ttl: float = 12 * 3600
    demo: bool = False

    def __post_init__(self) -> None:
        self._failures: dict[str, list[float]] = {}

    def _remember_failure(self, username: str, recent: list[float], now: float) -> None:
        # Anyone can try any user name: keep the table bounded. Past the bound, forget
        # names whose failures are over a minute old, then the oldest entries.
        failures = self._failures
        failures.pop(username, None)
        failures[username] = recent  # newest last
        if len(failures) > MAX_TRACKED_NAMES:
            for name in [n for n, ts in failures.items() if now - ts[-1] >= LOCKOUT_SECONDS]:
                del failures[name]
            while len(failures) > MAX_TRACKED_NAMES:
                del failures[next(iter(failures))]

    @classmethod
    async def create(cls, accounts: AccountStore, *, token_ttl: float, demo: bool) -> Authenticator:
        secret = await accounts.get_or_create_setting("jwt_secret", secrets.token_urlsafe(48))
        return cls(accounts=accounts, secret=secret, token_ttl=token_ttl, demo=demo)

    async def login(self, username: object, password: object) -> tuple[str, Principal, float]:
        """Check a password; returns (token, principal, expiry time)."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthError("username and password must be strings")
        now = time.time()
        recent = [t for t in self._failures.get(username, []) if now - t < LOCKOUT_SECONDS]
        if len(recent) >= MAX_LOGIN_FAILURES:
            raise LoginLockedError(
                "too many failed logins for this user: wait a minute",
                retry_after=recent[0] + LOCKOUT_SECONDS - now,
            )
        user = await self.accounts.get_user(username) if len(username) <= 64 else None
        ok = await asyncio.to_thread(
            _verify, user.password_hash if user else _DUMMY_HASH, password[:1024]
        )
        if user is None or not ok:
            recent.append(now)
            self._remember_failure(username[:64], recent, now)
            log.warning("failed login for %r", username[:64])
            raise AuthError("wrong user name or password")
        self._failures.pop(username, None)
        principal = Principal(
            name=user.username, role=Role(user.role), agent=user.agent_id, team=user.team
        )
        expires = now + self.token_ttl
        claims = {
            "sub": user.username,
            "role": user.role,
            "agent": user.agent_id,
            "team": user.team,
            "iat": int(now),
            "exp": int(expires),
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), principal, expires

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
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("session expired: log in again") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None
        # A user removed since the token was issued loses access at once.
        user = await self.accounts.get_user(claims["sub"])
        if user is None:
            raise AuthError("this user no longer exists")
        return Principal(
            name=user.username, role=Role(user.role), agent=user.agent_id, team=user.team
        )


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_origin(request: web.Request, allowed: tuple[str, ...], *, require: bool = False) -> None:
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
    forwarded = request.headers.get("X-Forwarded-Proto")
    if origin == own or (forwarded and origin == f"{forwarded}://{request.host}"):
        return
    raise AccessDeniedError(f"origin {origin} is not allowed to open a console socket")
