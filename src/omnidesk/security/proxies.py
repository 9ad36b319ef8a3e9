"""The client's address behind reverse proxies: ``X-Forwarded-For`` is believed only from trusted hops.

Any client can send ``X-Forwarded-For``; only what a proxy of our own appended to it is true. So the header is
read only when the direct peer is in ``OMNIDESK_TRUSTED_PROXIES``, and then from right to left: each trusted hop
vouches for the address to its left, and the first address that is not a trusted proxy is the client. Whatever a
client wrote further left is never looked at, so it cannot choose the key of a per-IP limit or the address in an
audit record. With no trusted proxy configured (the default) the header is ignored entirely.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from starlette.requests import HTTPConnection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A proxy chain longer than this is not a real deployment; the cap bounds the work a forged header can cause.
MAX_HOPS = 32


def parse_network(entry: str) -> IPNetwork:
    """``10.0.0.5`` or ``10.0.0.0/8`` or ``fd00::/8``; host bits set in a CIDR are a mistake worth refusing."""
    try:
        return ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{entry!r} is not an IP address or CIDR network ({exc})") from None


@lru_cache(maxsize=8)
def networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(parse_network(entry) for entry in entries)


def parse_address(value: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``[v6]``, ``[v6]:port`` or ``v4:port``; None if it is none of these."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return address


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[IPNetwork]) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy; then the rightmost address of the
    ``X-Forwarded-For`` values (in the order received) that is not a trusted proxy. A malformed entry stops the
    walk at the trusted hop that passed it on; a chain of trusted proxies only yields its leftmost one."""
    address = parse_address(peer)
    if address is None or not trusted or not _trusted(address, trusted):
        return str(address) if address is not None else peer
    hops = [part for value in forwarded_for for part in value.split(",") if part.strip()]
    for entry in reversed(hops[-MAX_HOPS:]):
        hop = parse_address(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(hop, trusted):
            break
    return str(address)


def client_ip(conn: HTTPConnection) -> str:
    """The client's address for per-IP limits, audit records and security logs (HTTP requests and WebSocket
    handshakes alike): the direct peer, or, when that peer is one of ``OMNIDESK_TRUSTED_PROXIES``, the first
    untrusted hop of ``X-Forwarded-For`` read from the right (:func:`client_address`). Everything that needs the
    client's address asks here (``web.deps`` re-exports it; the socket gateway imports it from here), never
    ``request.client``."""
    peer = conn.client.host if conn.client else ""
    settings = conn.app.state.settings
    if not settings.trusted_proxies:
        return peer
    trusted = networks(tuple(settings.trusted_proxies))
    return client_address(peer, conn.headers.getlist("x-forwarded-for"), trusted)
