"""The migrations build the schema the models describe, and upgrade a database created at the first revision."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from omnidesk.core import migrate
from omnidesk.models import Base
from tests.conftest import scratch_database


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_from_first_revision_keeps_data(tmp_path: Path, database_url: str) -> None:
    with scratch_database(database_url, tmp_path) as url:
        _upgrade_keeps_data(url)


def _upgrade_keeps_data(url: str) -> None:
    migrate.upgrade(url, "0001_core_schema")
    engine = create_engine(url)
    tenant_id = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, default_language, time_zone, settings, is_active, created_at)"
                " VALUES (:id, 'old', '旧租户', 'zh-CN', 'Asia/Shanghai', '{}', true, '2025-01-01 00:00:00+00')"
            ),
            {"id": tenant_id},
        )
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM tenants")).scalar_one() == "旧租户"
        assert conn.execute(text("SELECT count(*) FROM staff_sessions")).scalar_one() == 0
    engine.dispose()
