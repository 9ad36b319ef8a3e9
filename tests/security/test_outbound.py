"""The platform's outbound policy against real sockets: what a tenant may make the server call, and what not.

Each refused destination is a live local server (or an address nobody should reach), refused by default and
reachable once the operator allows exactly it; the tenant's own allow-list never widens the policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from omnidesk.bot.connectors import ConnectorFailure, ConnectorRunner, ConnectorSpec
from omnidesk.security.outbound import OutboundClient, OutboundFailed, OutboundPolicy, OutboundRefused
from tests.servers import FakeOutside


@pytest.fixture
def inside() -> Iterator[FakeOutside]:
    """A loopback service the operator has not allowed (it stands for the server's own port, Redis, …)."""
    server = FakeOutside().start()
    yield server
    server.stop()


@pytest.fixture
def inside6() -> Iterator[FakeOutside]:
    server = FakeOutside("::1").start()
    yield server
    server.stop()


def _call(policy: OutboundPolicy, url: str, **kwargs: object) -> int:
    client = OutboundClient(policy)
    try:
        return client.request("GET", url, timeout=2, **kwargs).status_code  # type: ignore[arg-type]
    finally:
        client.close()


def _connector(policy: OutboundPolicy, url: str, hosts: list[str]) -> dict[str, object]:
    runner = ConnectorRunner(policy)
    try:
        return runner.call("tenant", "probe", ConnectorSpec(url=url, retries=0, timeout_seconds=1), hosts, {})
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("template", "allow"),
    [
        ("http://127.0.0.1:{port}/json", "127.0.0.1:{port}"),
        ("http://localhost:{port}/json", "127.0.0.1:{port}"),  # a name that resolves to loopback
        ("http://[::ffff:127.0.0.1]:{port}/json", "[::ffff:127.0.0.1]:{port}"),  # IPv4-mapped IPv6
        ("http://2130706433:{port}/json", "127.0.0.1:{port}"),  # 127.0.0.1 written as one number
    ],
)
def test_loopback_is_refused_until_the_operator_allows_it(inside: FakeOutside, template: str, allow: str) -> None:
    url = template.format(port=inside.port)
    host = url.split("//")[1].rsplit(":", 1)[0].strip("[]")
    with pytest.raises(ConnectorFailure, match="does not let tenants reach"):
        _connector(OutboundPolicy(), url, [host])  # the tenant allow-listed it: not enough
    assert inside.calls == [], "nothing reached the inside service"
    allowed = OutboundPolicy([allow.format(port=inside.port)])
    assert _connector(allowed, url, [host]) == {"status": "ok", "path": "/json"}
    assert len(inside.calls) == 1


def test_ipv6_loopback(inside6: FakeOutside) -> None:
    with pytest.raises(OutboundRefused):
        _call(OutboundPolicy(), f"{inside6.url}/json")
    assert inside6.calls == []
    assert _call(OutboundPolicy([f"[::1]:{inside6.port}"]), f"{inside6.url}/json") == 200


def test_allow_rules_are_exact(inside: FakeOutside) -> None:
    """Another port on an allowed address, or the address under a name the rule does not cover, stay closed."""
    with pytest.raises(OutboundRefused):
        _call(OutboundPolicy([f"127.0.0.1:{inside.port + 1}"]), f"{inside.url}/json")
    with pytest.raises(OutboundRefused):
        _call(OutboundPolicy(["10.0.0.0/8"]), f"{inside.url}/json")
    assert _call(OutboundPolicy(["127.0.0.0/8"]), f"{inside.url}/json") == 200
    assert _call(OutboundPolicy(["localhost"]), f"http://localhost:{inside.port}/json") == 200
    assert inside.calls and all(c["path"] == "/json" for c in inside.calls)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://10.255.255.1/",
        "http://172.16.0.1/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::7f00:1]/",  # NAT64 form of 127.0.0.1
        "http://[2002:7f00:1::1]/",  # 6to4 form of 127.0.0.1
    ],
)
def test_private_link_local_and_reserved_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        _call(OutboundPolicy(), url)
    with pytest.raises(ConnectorFailure, match="does not let tenants reach"):
        _connector(OutboundPolicy(), url, [url.split("//")[1].split("/")[0].strip("[]")])


def test_an_allowed_private_address_is_tried() -> None:
    """With the operator's permission the policy lets the call through: whatever the network does with it (no
    answer, or an answer), it is not refused."""
    with contextlib.suppress(OutboundFailed):
        _call(OutboundPolicy(["10.255.255.0/24"], timeout_seconds=0.3), "http://10.255.255.1/")


def test_redirects_are_not_followed_by_connectors_and_checked_on_every_hop(
    outside: FakeOutside, inside: FakeOutside
) -> None:
    allowed_only_outside = OutboundPolicy([f"127.0.0.1:{outside.port}"])
    target = f"{inside.url}/json"
    with pytest.raises(ConnectorFailure, match="redirect"):
        _connector(allowed_only_outside, f"{outside.url}/redirect?to={target}", ["127.0.0.1"])
    with pytest.raises(OutboundRefused):  # a caller that follows redirects: the second hop is checked again
        _call(allowed_only_outside, f"{outside.url}/redirect?to={target}", max_redirects=3)
    with pytest.raises(OutboundRefused, match="allow-list"):  # and the tenant's allow-list holds on every hop
        _call(
            OutboundPolicy(),
            "http://example.invalid/",
            allowed_hosts=["example.org"],
        )
    assert inside.calls == []
    both = OutboundPolicy([f"127.0.0.1:{outside.port}", f"127.0.0.1:{inside.port}"])
    assert _call(both, f"{outside.url}/redirect?to={target}", max_redirects=3) == 200
    assert len(inside.calls) == 1


@pytest.mark.parametrize("chunked", ["", "1"])
def test_oversized_answers_are_cut_off(outside: FakeOutside, chunked: str) -> None:
    policy = OutboundPolicy([f"127.0.0.1:{outside.port}"], max_response_bytes=64 * 1024)
    assert _call(policy, f"{outside.url}/huge?bytes=60000&chunked={chunked}") == 200
    with pytest.raises(OutboundFailed, match="larger than 65536 bytes"):
        _call(policy, f"{outside.url}/huge?bytes=5000000&chunked={chunked}")
    with pytest.raises(ConnectorFailure, match="larger than"):
        _connector(policy, f"{outside.url}/huge?bytes=5000000&chunked={chunked}", ["127.0.0.1"])


def test_only_http_and_https() -> None:
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.org/"):
        with pytest.raises(OutboundRefused):
            _call(OutboundPolicy(), url)


def test_operator_rules_are_validated() -> None:
    from omnidesk.core.settings import SettingsError, load_settings

    settings = load_settings(environment="test", outbound_allow="127.0.0.1:8765, 10.0.0.0/8,erp.internal")
    assert settings.outbound_allow == ["127.0.0.1:8765", "10.0.0.0/8", "erp.internal"]
    with pytest.raises(SettingsError, match="OMNIDESK_OUTBOUND_ALLOW"):
        load_settings(environment="test", outbound_allow="http://erp.internal/")
