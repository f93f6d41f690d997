"""A minimal SIP-over-WebSocket client for the lab tests: REGISTER (with digest), INVITE.

Just enough SIP to check the lab's kamailio the way a browser reaches it, without a browser.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass, field

import aiohttp


@dataclass
class SipResponse:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def parse_response(text: str) -> SipResponse | None:
    """The status line and headers of a SIP response (None for a request)."""
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    m = re.match(r"SIP/2\.0 (\d{3}) (.*)", head[0])
    if m is None:
        return None
    resp = SipResponse(int(m.group(1)), m.group(2))
    for line in head[1:]:
        name, _, value = line.partition(":")
        resp.headers.setdefault(name.strip().lower(), []).append(value.strip())
    return resp


def digest(challenge: str, *, user: str, password: str, method: str, uri: str) -> str:
    """An Authorization value answering a ``Digest`` challenge (RFC 2617, MD5, qop=auth)."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    cnonce, nc = secrets.token_hex(8), "00000001"
    if "auth" in params.get("qop", "").split(","):
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
        )
    response = md5(f"{ha1}:{nonce}:{ha2}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )


class WsSip:
    """One SIP user agent on one WebSocket (``sip`` subprotocol)."""

    def __init__(self, url: str, user: str, domain: str = "127.0.0.1") -> None:
        self.url, self.user, self.domain = url, user, domain
        self.host = f"{secrets.token_hex(4)}.invalid"
        self.call_id = f"{secrets.token_hex(8)}@{self.host}"
        self.tag = secrets.token_hex(4)
        self.cseq = 0
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> WsSip:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.url, protocols=("sip",))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    @property
    def protocol(self) -> str | None:
        return self._ws.protocol if self._ws is not None else None

    async def request(
        self,
        method: str,
        uri: str,
        *,
        to: str | None = None,
        authorization: tuple[str, str] | None = None,
        body: str = "",
        final_within: float = 5.0,
    ) -> SipResponse:
        """Send a request; returns its final response. ``authorization`` is (header,
        value) answering a challenge."""
        assert self._ws is not None
        self.cseq += 1
        to = to or f"sip:{self.user}@{self.domain}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/WSS {self.host};branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={self.tag}",
            f"To: <{to}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{self.user}@{self.host};transport=ws>",
        ]
        if method == "REGISTER":
            lines.append("Expires: 300")
        if authorization is not None:
            lines.append(f"{authorization[0]}: {authorization[1]}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        await self._ws.send_str("\r\n".join(lines) + "\r\n\r\n" + body)
        async with asyncio.timeout(final_within):
            while True:
                msg = await self._ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"WebSocket: {msg.type.name}")
                resp = parse_response(msg.data)
                if resp is None or f"{self.cseq} {method}" not in (resp.header("cseq") or ""):
                    continue
                if resp.status >= 200:
                    return resp

    async def register(self, password: str | None, *, auth_user: str | None = None) -> SipResponse:
        """REGISTER; answer one challenge with ``password`` (None: do not) as ``auth_user``
        (default: the user registered)."""
        uri = f"sip:{self.domain}"
        resp = await self.request("REGISTER", uri)
        if resp.status == 401 and password is not None:
            challenge = resp.header("www-authenticate") or ""
            user = auth_user or self.user
            value = digest(challenge, user=user, password=password, method="REGISTER", uri=uri)
            resp = await self.request("REGISTER", uri, authorization=("Authorization", value))
        return resp
