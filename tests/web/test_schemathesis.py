"""A schemathesis run over the OpenAPI description: no input may produce a 5xx or break the response schema."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from omnidesk.core.db import Database
from tests.factories import make_world

pytestmark = pytest.mark.schemathesis


def _fuzz(operation: Any, headers: dict[str, str], failures: list[str]) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        try:
            # Schema-valid data may still break a business rule (a weak password, a duplicate e-mail), so the
            # "positive data accepted" check does not apply; every other default check does, 5xx first.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:300]}")
            raise

    with contextlib.suppress(Exception):  # the failure is recorded above; go on with the other operations
        run()


def test_api_never_fails_on_generated_input(app: FastAPI, db: Database) -> None:
    world = make_world(db)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/tenants"):
            _fuzz(operation, world.headers(), failures)
    assert not failures, "\n".join(failures[:10])
