"""A schemathesis run over the OpenAPI description: no input may produce a 5xx or break the response schema.

Staff routes are called with an admin key; the widget's visitor routes with a real visitor session of the same
tenant (its slug and its own conversation pinned in the path), so they are fuzzed past authentication too.
``OMNIDESK_FUZZ_EXAMPLES`` (default 25) sets the examples per operation: CI with time to spare can raise it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from omnidesk.core.db import Database
from tests.factories import make_world

pytestmark = pytest.mark.schemathesis


EXAMPLES = int(os.environ.get("OMNIDESK_FUZZ_EXAMPLES", "25"))
WIDGET = "/api/v1/widget/{tenant}/"


@dataclass
class Credentials:
    """What each kind of operation is called with, and path values it must not guess."""

    headers: dict[str, str]
    path: dict[str, str] = field(default_factory=dict)


def _fuzz(operation: Any, creds: Credentials, failures: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        for name, value in creds.path.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = value  # type: ignore[index]
        try:
            # Schema-valid data may still break a business rule (a weak password, a duplicate e-mail), so the
            # "positive data accepted" check does not apply; every other default check does, 5xx first.
            case.call_and_validate(headers=creds.headers, excluded_checks=[positive_data_acceptance])
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a FailureGroup
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:300]}")
            raise

    with contextlib.suppress(Exception, BaseExceptionGroup):  # recorded above; go on with the other operations
        run()


def _visitor(app: FastAPI, slug: str) -> Credentials:
    """A widget visitor of the tenant with one conversation of their own."""
    client = TestClient(app)
    session = client.post(f"/api/v1/widget/{slug}/session", json={})
    assert session.status_code == 200, session.text
    headers = {"Authorization": f"Bearer {session.json()['token']}"}
    conversation = client.post(
        f"/api/v1/widget/{slug}/conversations", json={"message": "hello", "client_id": "fuzz-1"}, headers=headers
    )
    assert conversation.status_code == 201, conversation.text
    return Credentials(headers, {"tenant": slug, "conversation_id": conversation.json()["id"]})


def test_api_never_fails_on_generated_input(app: FastAPI, db: Database) -> None:
    world = make_world(db)
    staff = Credentials(world.headers())
    visitor = _visitor(app, world.slug)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/v1/tenants"):
            continue
        _fuzz(operation, visitor if operation.path.startswith(WIDGET) else staff, failures)
    assert not failures, "\n".join(failures[:10])
