"""Dead letters: an admin sees failed jobs with their error and retries or discards them, in the API and the UI
(both languages), audited and within the workspace; the queue's figures are on /metrics."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.outbox import enqueue
from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in
from tests.jobs.kinds import RAN


def dead_job(db: Database, world: World, error: str = "ConnectionError: the ERP did not answer") -> uuid.UUID:
    """A job that used up its attempts. Queued without a relay (own Database), then marked as the runner would."""
    own = Database(db.url)
    try:
        bucket = uuid.uuid4().hex
        with own.tenant_transaction(world.tenant_id) as s:
            job_id = enqueue(s, "test.record", {"bucket": bucket, "n": 1}, key=bucket, max_attempts=3)
        with own.platform_transaction() as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(state=JobState.DEAD, attempts=3, last_error=error, finished_at=utcnow())
            )
    finally:
        own.dispose()
    assert job_id is not None
    return job_id


def test_an_admin_lists_retries_and_discards_dead_letters(
    client: TestClient, db: Database, world: World, other_world: World
) -> None:
    first, second = dead_job(db, world), dead_job(db, world, "TimeoutError: 15 s")
    admin = world.headers(Role.ADMIN)
    listed = client.get("/api/v1/jobs", headers=admin).json()
    assert {j["id"] for j in listed} == {str(first), str(second)}
    one = next(j for j in listed if j["id"] == str(first))
    assert one["kind"] == "test.record" and one["attempts"] == 3 and "ERP did not answer" in one["last_error"]
    assert "payload" not in one

    # Not for agents, and not across workspaces (404, nothing changes).
    assert client.get("/api/v1/jobs", headers=world.headers(Role.AGENT)).status_code == 403
    assert client.get("/api/v1/jobs", headers=other_world.headers(Role.ADMIN)).json() == []
    assert client.post(f"/api/v1/jobs/{first}/retry", headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.post(f"/api/v1/jobs/{first}/discard", headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.post(f"/api/v1/jobs/{first}/discard", headers=world.headers(Role.AGENT)).status_code == 403

    # Retry queues it with fresh attempts; the queue runs it (immediate mode in tests) and it is done.
    retried = client.post(f"/api/v1/jobs/{first}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    done = client.get("/api/v1/jobs?state=done", headers=admin).json()
    assert [j["id"] for j in done] == [str(first)] and done[0]["attempts"] == 1
    assert client.post(f"/api/v1/jobs/{first}/retry", headers=admin).status_code == 409

    discarded = client.post(f"/api/v1/jobs/{second}/discard", headers=admin).json()
    assert discarded["state"] == "discarded"
    assert client.get("/api/v1/jobs", headers=admin).json() == []
    assert client.get("/api/v1/jobs?state=nonsense", headers=admin).status_code == 422

    with db.tenant_read(world.tenant_id) as s:
        actions = set(s.scalars(select(AuditRecord.action).where(AuditRecord.target_type == "job")))
    assert actions == {"job.retried", "job.discarded"}


def test_metrics_show_queue_depth_oldest_age_and_dead_letters(client: TestClient, db: Database, world: World) -> None:
    dead_job(db, world)
    own = Database(db.url)
    try:
        with own.tenant_transaction(world.tenant_id) as s:
            enqueue(s, "test.waiting", {}, key=uuid.uuid4().hex)
        with own.platform_transaction() as s:
            s.execute(update(Job).where(Job.kind == "test.waiting").values(created_at=utcnow().replace(year=2020)))
    finally:
        own.dispose()
    scraper = TestClient(client.app, client=("127.0.0.1", 50000))  # /metrics answers local scrapers only
    text = scraper.get("/metrics").text
    assert 'omnidesk_jobs_dead_letters{kind="test.record"}' in text
    assert 'omnidesk_jobs_queued{kind="test.waiting"}' in text
    age = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith('omnidesk_jobs_oldest_age_seconds{kind="test.waiting"}')
    )
    assert age > 86400 * 365
    assert "omnidesk_jobs_lag_seconds" in text and "omnidesk_jobs_failures_total" in text


pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.mark.browser
def test_the_failed_jobs_page_retries_and_discards_in_both_languages(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path
) -> None:
    first = dead_job(db, world, "ConnectionError: 订单系统没有响应")
    second = dead_job(db, world, "TimeoutError: 15 s")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.ADMIN)
    page.get_by_role("link", name="失败的任务").click()
    page.wait_for_url(f"{live_server}/admin/jobs")
    assert page.get_by_role("heading", name="失败的后台任务").is_visible()
    row = page.locator(f'tr[data-job="{first}"]')
    assert "订单系统没有响应" in row.inner_text() and "3 / 3" in row.inner_text()
    page.screenshot(path=str(artifacts_dir / "jobs-dead-letters.png"), full_page=True)
    row.get_by_role("button", name="重试").click()
    page.wait_for_url(f"{live_server}/admin/jobs?done=retried")
    assert page.get_by_role("status").inner_text() == "任务已重新排队。"
    assert page.locator(f'tr[data-job="{first}"]').count() == 0

    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/admin/jobs")
    assert page.get_by_role("heading", name="Failed background jobs").is_visible()
    page.locator(f'tr[data-job="{second}"]').get_by_role("button", name="Discard").click()
    page.wait_for_url(f"{live_server}/admin/jobs?done=discarded")
    assert page.get_by_role("status").first.inner_text() in ("The job was discarded.",)
    assert "No failed jobs" in page.locator("main").inner_text()
    context.close()
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Job.state).where(Job.id == first)) == JobState.DONE
        assert s.scalar(select(Job.state).where(Job.id == second)) == JobState.DISCARDED
    assert any(RAN.values())
