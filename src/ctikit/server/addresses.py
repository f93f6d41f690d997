"""Who a client is behind a reverse proxy: its address and whether it came over HTTPS.

``X-Forwarded-For`` is believed only from ``trusted_proxies`` (by default loopback: a proxy on
the same machine), since any client can send it; per-address budgets (login failures,
connections) count the address it names. ``X-Forwarded-Proto`` is what the Origin check has
always honoured (docs/deploy.md): it only makes the server stricter (a Secure cookie, an
``https://`` origin), so it is taken from anyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return ip


class TrustedProxies:
    """Addresses and networks (``10.0.0.0/8``) whose forwarding headers are believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"server.trusted_proxies: {entry!r} is not an address or network"
                ) from None

    def __contains__(self, address: object) -> bool:
        ip = parse_ip(address) if isinstance(address, str) else None
        return ip is not None and any(ip in net for net in self.networks)


def normalized(address: str) -> str:
    """The address as one canonical text (``::ffff:1.2.3.4`` is ``1.2.3.4``)."""
    ip = parse_ip(address)
    return str(ip) if ip is not None else address[:64]


def client_address(request: web.Request, trusted: TrustedProxies) -> str:
    """The client's address: the peer's, or behind a trusted proxy the right-most address
    of ``X-Forwarded-For`` that is not itself a trusted proxy (what the proxy appended)."""
    peer = normalized(request.remote or "unknown")
    if peer not in trusted:
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if hop not in trusted:
            return normalized(hop)
    return normalized(hops[0]) if hops else peer


def forwarded_proto(request: web.Request) -> str | None:
    """The scheme the client used, as the reverse proxy says (``X-Forwarded-Proto``)."""
    value = request.headers.get("X-Forwarded-Proto")
    if not value:
        return None
    return value.split(",")[0].strip().lower() or None


def is_https(request: web.Request) -> bool:
    return request.secure or forwarded_proto(request) == "https"
