"""Calls to the tenant's own systems (order status, parcel tracking, fee quotes) with the safety a bot needs.

Each connector is an HTTP GET template on a host the tenant allow-listed, called through the platform's outbound
policy (``security/outbound.py``: no loopback, private, link-local or reserved address unless the operator allowed
it, checked after DNS resolution; a bounded answer; redirects not followed), with a timeout, bounded retries for transport errors and 5xx, and a circuit breaker per tenant and
connector: after ``failure_threshold`` consecutive failures it opens for ``cooldown_seconds`` and calls fail fast,
so a down system costs the customer no waiting. The caller turns a :class:`ConnectorFailure` into a safe reply.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnidesk.security.outbound import OutboundClient, OutboundFailed, OutboundPolicy, OutboundRefused


class ConnectorSpec(BaseModel):
    """One connector as the tenant declares it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="GET URL template with {placeholders}, e.g. http://erp.local/orders/{order_no}")
    timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    retries: int = Field(default=1, ge=0, le=3)
    failure_threshold: int = Field(default=3, ge=1, le=20)
    cooldown_seconds: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        parsed = urlparse(value.replace("{", "").replace("}", ""))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return value


class ConnectorFailure(Exception):
    """The tenant's system could not answer: down, slow, circuit open, or a 4xx/5xx answer."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None


class ConnectorRunner:
    """Executes connector calls; holds the circuit-breaker state of this process."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._breakers: dict[tuple[str, str], _Breaker] = {}
        self._lock = threading.Lock()
        self._client = OutboundClient(policy)

    def call(
        self,
        tenant_key: str,
        name: str,
        spec: ConnectorSpec,
        allowed_hosts: list[str],
        params: dict[str, str],
    ) -> dict[str, Any]:
        url = spec.url.format(**{k: quote(str(v), safe="") for k, v in params.items()})
        host = urlparse(url).hostname or ""
        if host not in allowed_hosts:
            raise ConnectorFailure(f"host {host} is not on the tenant's allow-list")
        key = (tenant_key, name)
        with self._lock:
            breaker = self._breakers.setdefault(key, _Breaker())
            if breaker.opened_at is not None:
                if time.monotonic() - breaker.opened_at < spec.cooldown_seconds:
                    raise ConnectorFailure("circuit open")
                breaker.opened_at = None  # half-open: this call is the trial
        try:
            result = self._attempt(url, spec, allowed_hosts)
        except ConnectorFailure as failure:
            if failure.status is None or failure.status >= 500:
                with self._lock:
                    breaker.failures += 1
                    if breaker.failures >= spec.failure_threshold:
                        breaker.opened_at = time.monotonic()
            raise
        with self._lock:
            breaker.failures = 0
        return result

    def _attempt(self, url: str, spec: ConnectorSpec, allowed: list[str]) -> dict[str, Any]:
        last: ConnectorFailure | None = None
        for attempt in range(spec.retries + 1):
            try:
                response = self._client.request("GET", url, timeout=spec.timeout_seconds, allowed_hosts=allowed)
            except OutboundRefused as exc:
                raise ConnectorFailure(exc.reason) from None  # the policy's answer will not change on a retry
            except OutboundFailed as exc:
                last = ConnectorFailure(exc.reason)
            else:
                if 300 <= response.status_code < 400:
                    raise ConnectorFailure("the system answered with a redirect, which connectors do not follow")
                if response.status_code < 400:
                    try:
                        data = response.json()
                    except ValueError:
                        raise ConnectorFailure("the answer was not JSON", status=response.status_code) from None
                    if not isinstance(data, dict):
                        raise ConnectorFailure("the answer was not a JSON object", status=response.status_code)
                    return data
                last = ConnectorFailure(f"HTTP {response.status_code}", status=response.status_code)
                if response.status_code < 500:
                    raise last  # a 404 is an answer ("no such order"), not an outage: never retried
            if attempt < spec.retries:
                time.sleep(0.05 * (attempt + 1))
        assert last is not None
        raise last

    def close(self) -> None:
        self._client.close()
