from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_health_readiness_and_metrics(app: FastAPI) -> None:
    client = TestClient(app, client=("127.0.0.1", 50000))  # a scraper on this machine
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    client.get("/api/v1/roles")  # an unauthenticated request still counts
    metrics = client.get("/metrics").text
    assert "omnidesk_http_requests_total" in metrics
    assert 'status="401"' in metrics


def test_security_headers_on_every_response(client: TestClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    api = client.get("/api/v1/roles")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["content-type"] == "application/problem+json"
