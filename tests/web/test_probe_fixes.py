"""Regression tests for the low-severity findings of the security probe (issue 14, item 10)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import World


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/knowledge/articles", {"GET", "POST"}),  # two routes share the path
        ("PUT", "/api/v1/roles", {"GET"}),
        ("DELETE", "/login", {"GET", "POST"}),  # a page
        ("POST", "/static/widget/loader.js", {"GET", "HEAD"}),  # a mounted directory
    ],
)
def test_every_405_lists_the_allowed_methods(
    client: TestClient, world: World, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=world.headers())
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    assert response.headers["content-type"] == "application/problem+json"
    assert method in response.json()["detail"]
