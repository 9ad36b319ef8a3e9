"""The platform's outbound policy: every HTTP call the product makes for a tenant goes through :class:`OutboundClient`.

A tenant chooses URLs (connectors, its LLM endpoint; later webhooks, image fetches, channels), so without a guard
it could make the server call itself, Redis, the cloud metadata service or the office network (SSRF). The policy:

* only ``http`` and ``https``; no proxy from the environment (a proxy would hide the real destination);
* the host is resolved by the policy itself at connect time and *every* address it resolves to is checked; the
  socket then connects to the checked address, so a DNS answer that changes between check and use (rebinding)
  cannot slip through. Refused: loopback, private (RFC 1918, CGNAT 100.64/10, ULA fc00::/7), link-local
  (169.254/16 with the metadata service, fe80::/10), multicast, unspecified, reserved and documentation ranges,
  and the IPv6 forms that carry such an IPv4 address (``::ffff:127.0.0.1``, NAT64, 6to4, Teredo);
* redirects are off unless a caller asks for a few, and then every hop is checked again the same way;
* a time limit and a size limit on the answer (decoded, so a compressed bomb is cut off too).

The operator, not the tenant, can open exceptions for on-premises systems with ``OMNIDESK_OUTBOUND_ALLOW``
(``127.0.0.1:8765,10.0.0.0/8,erp.internal``). A tenant's own ``allowed_hosts`` is an extra restriction on top.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    from omnidesk.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DENIED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class OutboundError(Exception):
    """An outbound call did not produce an answer; ``reason`` is safe to log and to show to the tenant's admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    """The policy refused the destination; retrying cannot help."""


class OutboundFailed(OutboundError):
    """The destination was allowed but the call failed: unreachable, too slow, or its answer too large."""


@dataclass(frozen=True)
class Rule:
    """One operator exception: a network or a host name, optionally on one port only."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def matches(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return host.lower().rstrip(".") == self.host
        assert self.network is not None
        return address.version == self.network.version and address in self.network


def parse_rule(text: str) -> Rule:
    """``10.0.0.0/8``, ``127.0.0.1:8765``, ``[::1]:8080``, ``::1``, ``erp.internal``, ``erp.internal:8443``."""
    entry = text.strip()
    port: int | None = None
    try:
        if entry.startswith("["):
            inside, _, rest = entry[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), text)
            return Rule(network=ipaddress.ip_network(inside), port=port)
        try:
            return Rule(network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            pass
        name, sep, tail = entry.rpartition(":")
        if sep and tail.isdigit() and ":" not in name:
            entry, port = name, _port(tail, text)
        try:
            return Rule(network=ipaddress.ip_network(entry, strict=False), port=port)
        except ValueError:
            pass
    except ValueError as exc:
        raise ValueError(f"'{text}' is not an address, network or host name: {exc}") from None
    host = entry.lower().rstrip(".")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_label_ok(label) for label in labels):
        raise ValueError(f"'{text}' is not an address, network or host name")
    return Rule(host=host, port=port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"bad port in '{entry}'")
    return int(text)


def _label_ok(label: str) -> bool:
    return 0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label) and not label.startswith("-")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_forbidden(address: IPAddress) -> bool:
    """True for every address a tenant must not reach by default."""
    inner = embedded_ipv4(address)
    if inner is not None and is_forbidden(inner):
        return True
    if any(address.version == n.version and address in n for n in _DENIED):
        return True
    return not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified


class OutboundPolicy:
    """Which destinations are allowed, and the limits of one call."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        *,
        timeout_seconds: float = 15.0,
        max_response_bytes: int = 1_048_576,
    ) -> None:
        self.rules = tuple(parse_rule(entry) for entry in allow)
        self.timeout_seconds = timeout_seconds
        self.max_response_bytes = max_response_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(
            settings.outbound_allow,
            timeout_seconds=settings.outbound_timeout_seconds,
            max_response_bytes=settings.outbound_max_response_bytes,
        )

    def permits(self, host: str, address: IPAddress, port: int) -> bool:
        if any(rule.matches(host, address, port) for rule in self.rules):
            return True
        return not is_forbidden(address)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` to connect to; refuses when any of them is forbidden (a name that also
        points inside is not trusted for its outside addresses either)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundFailed(f"cannot resolve {host}") from exc
        addresses: list[str] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            address = ipaddress.ip_address(text)
            if not self.permits(host, address, port):
                raise OutboundRefused(
                    f"{host}:{port} resolves to {address}, which the platform does not let tenants reach "
                    "(loopback, private, link-local or reserved); an operator can allow it with OMNIDESK_OUTBOUND_ALLOW"
                )
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise OutboundFailed(f"cannot resolve {host}")
        return addresses


class _VettingBackend(httpcore.SyncBackend):
    """Resolves and checks the host itself, then connects to the checked address: no second DNS look-up."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self._policy.resolve(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class _Transport(httpx.HTTPTransport):
    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__(trust_env=False)
        # httpx has no public switch for the network backend: the pool is rebuilt with ours (same defaults).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_VettingBackend(policy),
        )


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return httpx.Response(self.status_code, headers=dict(self.headers), content=self.content).json()


class OutboundClient:
    """A thread-safe client bound to the policy; ``request`` returns the whole (bounded) answer or raises
    :class:`OutboundError`."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self._client = httpx.Client(transport=_Transport(policy), follow_redirects=False, trust_env=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        allowed_hosts: Collection[str] | None = None,
        max_redirects: int = 0,
    ) -> Fetched:
        """``allowed_hosts``: the tenant's own allow-list (None: no tenant restriction), checked on every hop.
        ``content``: a body sent byte for byte (a signed webhook: ``json`` would re-serialise it)."""
        limit = min(timeout or self.policy.timeout_seconds, self.policy.timeout_seconds)
        deadline = time.monotonic() + limit
        request = self._build(method, url, headers, json, content, limit, allowed_hosts)
        for _hop in range(max_redirects + 1):
            try:
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise OutboundFailed(f"no answer within {limit:g} s") from exc
            except httpx.HTTPError as exc:
                raise OutboundFailed(type(exc).__name__) from exc
            try:
                if response.is_redirect and response.next_request is not None and _hop < max_redirects:
                    request = response.next_request
                    self._check_url(str(request.url), allowed_hosts)
                    continue
                return Fetched(response.status_code, dict(response.headers), self._read(response, deadline, limit))
            finally:
                response.close()
        raise OutboundFailed("too many redirects")

    def _build(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        json: Any,
        content: bytes | None,
        limit: float,
        allowed_hosts: Collection[str] | None,
    ) -> httpx.Request:
        self._check_url(url, allowed_hosts)
        try:
            return self._client.build_request(method, url, headers=headers, json=json, content=content, timeout=limit)
        except httpx.HTTPError as exc:  # an unparsable URL
            raise OutboundRefused(f"not a valid URL: {exc}") from None

    @staticmethod
    def _check_url(url: str, allowed_hosts: Collection[str] | None) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise OutboundRefused(f"not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise OutboundRefused("only http(s) URLs with a host can be called")
        if allowed_hosts is not None and parsed.host.lower() not in {h.lower() for h in allowed_hosts}:
            raise OutboundRefused(f"host {parsed.host} is not on the tenant's allow-list")

    def _read(self, response: httpx.Response, deadline: float, limit: float) -> bytes:
        cap = self.policy.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise OutboundFailed(f"the answer is larger than {cap} bytes")
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    raise OutboundFailed(f"the answer is larger than {cap} bytes")
                if time.monotonic() > deadline:
                    raise OutboundFailed(f"no complete answer within {limit:g} s")
        except httpx.TimeoutException as exc:
            raise OutboundFailed(f"no answer within {limit:g} s") from exc
        except httpx.HTTPError as exc:
            raise OutboundFailed(type(exc).__name__) from exc
        return bytes(body)

    def close(self) -> None:
        self._client.close()
