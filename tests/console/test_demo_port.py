"""Issue "The staff console", bug 7: a second demo on the same machine starts; its order service takes a free
port when the default one is busy, and the demo tenant's connectors follow it."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from omnidesk.accounts.models import Tenant
from omnidesk.bot.brains import current_settings
from omnidesk.cli import main
from omnidesk.core.db import Database
from omnidesk.core.settings import get_settings
from tests.conftest import scratch_database


def test_demo_moves_its_order_service_off_a_busy_port(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with scratch_database(database_url, tmp_path) as url:
            monkeypatch.setenv("OMNIDESK_DATA_DIR", str(tmp_path / "data"))
            monkeypatch.setenv("OMNIDESK_DATABASE_URL", url)
            monkeypatch.setenv("OMNIDESK_DEMO_SERVICES_PORT", str(port))
            monkeypatch.setenv("OMNIDESK_BOT_ENCODER", "none")
            monkeypatch.setenv("OMNIDESK_OUTBOUND_ALLOW", "")
            get_settings.cache_clear()
            runner = CliRunner()
            first = runner.invoke(main, ["demo", "--no-serve"])
            assert first.exit_code == 0, first.output
            assert f"port {port} is taken" in first.output
            moved = re.search(
                r"order service \(the demo tenant's own system\): (http://127\.0\.0\.1:(\d+))", first.output
            )
            assert moved and int(moved.group(2)) != port
            # A later run lands on yet another port: the seeded tenant's connectors follow it.
            second = runner.invoke(main, ["demo", "--no-serve"])
            assert second.exit_code == 0 and "already seeded" in second.output, second.output
            now = re.search(r"order service \(the demo tenant's own system\): (http://127\.0\.0\.1:\d+)", second.output)
            assert now
            db = Database(url)
            try:
                with db.platform_transaction() as s:
                    tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
                assert tenant_id is not None
                with db.tenant_read(tenant_id) as s:
                    _, settings = current_settings(s)
                urls = [c.url for c in settings.connectors.values()]
                assert urls and all(u.startswith(now.group(1) + "/") for u in urls), (urls, now.group(1))
            finally:
                db.dispose()
    finally:
        busy.close()
        get_settings.cache_clear()
