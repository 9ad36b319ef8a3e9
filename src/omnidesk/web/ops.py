"""Operations endpoints: liveness, readiness (database reachable) and Prometheus metrics."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from omnidesk.core.db import Database
from omnidesk.core.errors import NotFound
from omnidesk.web.problems import problem

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is for the operator
        checks["database"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


# Headers a reverse proxy adds: a request carrying one was relayed, so its loopback peer is the proxy, not a local
# scraper (a proxy on the same host would otherwise publish the metrics to the world).
_RELAYED = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")


def _local_caller(request: Request) -> bool:
    peer = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not any(name in request.headers for name in _RELAYED)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus metrics: routes, timings and process figures are for the operator only.

    With ``OMNIDESK_METRICS_TOKEN`` set the scraper sends ``Authorization: Bearer <token>`` (401 otherwise, from
    anywhere); unset, only a caller on this machine's loopback, not relayed by a proxy, gets them (404 to others, so
    the endpoint does not announce itself).
    """
    token = request.app.state.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            response = problem(
                401,
                "unauthenticated",
                "Authentication required",
                "send 'Authorization: Bearer <OMNIDESK_METRICS_TOKEN>' to read the metrics",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _local_caller(request):
        raise NotFound("not found")
    from omnidesk.jobs import metrics as job_metrics

    job_metrics.refresh(request.app.state.db)  # queue depth, oldest job age, dead letters: cluster-wide
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
