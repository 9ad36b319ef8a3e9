"""Signed outgoing webhooks: an admin subscribes a URL; a subscribed change queues a delivery in its own
transaction; the receiver gets a signed, stable-id request; failures retry on a schedule keeping the id; 410
disables; replay resends the same delivery; the outbound policy and tenant isolation hold."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import TicketAdded
from omnidesk.jobs.models import Job, JobState
from omnidesk.security.permissions import Role
from omnidesk.webhooks import delivery as delivery_module
from omnidesk.webhooks.models import WebhookDelivery
from tests.factories import World
from tests.webhooks.conftest import Receiver


def subscribe(client: TestClient, world: World, receiver: Receiver, types: list[str] | None = None) -> tuple[str, str]:
    path = f"/hooks/{uuid.uuid4().hex[:8]}"
    answer = client.post(
        "/api/v1/webhooks",
        headers=world.headers(Role.ADMIN),
        json={"url": receiver.url(path), "event_types": types or ["ticket.created"], "description": "ERP"},
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["secret"].startswith("whsec_")
    receiver.secrets[path] = created["secret"]
    return created["id"], path


def new_ticket(client: TestClient, world: World, subject: str = "Parcel lost") -> dict[str, Any]:
    answer = client.post("/api/v1/tickets", headers=world.headers(Role.ADMIN), json={"subject": subject})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def deliveries(client: TestClient, world: World, hook_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=world.headers(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def run_due_deliveries(app: FastAPI, db: Database, world: World) -> int:
    """Time passes: the next scheduled attempts of this tenant's deliveries become due and a worker runs them."""
    with db.platform_transaction() as s:
        ids = list(
            s.scalars(
                select(Job.id).where(
                    Job.tenant_id == world.tenant_id, Job.kind == "webhooks.deliver", Job.state == JobState.QUEUED
                )
            )
        )
        s.execute(update(Job).where(Job.id.in_(ids)).values(run_after=utcnow()))
    for job_id in ids:
        app.state.jobs.run_job(str(job_id))
    return len(ids)


def test_a_subscribed_change_arrives_signed_and_a_retry_keeps_the_delivery_id(
    hook_app: FastAPI, hook_client: TestClient, db: Database, world: World, receiver: Receiver
) -> None:
    hook_id, path = subscribe(hook_client, world, receiver)
    listed = hook_client.get("/api/v1/webhooks", headers=world.headers(Role.ADMIN)).json()
    assert [w["id"] for w in listed] == [hook_id] and "secret" not in listed[0]
    assert "secret" not in json.dumps(listed) and receiver.secrets[path] not in json.dumps(listed)

    receiver.answers[path] = [503]
    ticket = new_ticket(hook_client, world)
    first = receiver.at(path)
    assert len(first) == 1 and first[0].verified
    [pending] = deliveries(hook_client, world, hook_id)
    assert pending["state"] == "pending" and pending["attempts"] == 1 and pending["last_status"] == 503
    assert pending["next_attempt_at"] is not None

    assert run_due_deliveries(hook_app, db, world) == 1
    sent = receiver.at(path)
    assert len(sent) == 2 and all(r.verified for r in sent)
    assert sent[0].headers["OmniDesk-Delivery"] == sent[1].headers["OmniDesk-Delivery"] == pending["id"]
    assert sent[0].body == sent[1].body
    assert sent[1].headers["OmniDesk-Event"] == "ticket.created"
    assert sent[1].headers["OmniDesk-Signature"].startswith("t=")
    body = json.loads(sent[1].body)
    assert body["id"] == pending["id"] and body["type"] == "ticket.created"
    assert body["tenant"] == str(world.tenant_id) and body["data"]["ticket_id"] == ticket["id"]
    [done] = deliveries(hook_client, world, hook_id)
    assert done["state"] == "delivered" and done["attempts"] == 2 and done["last_status"] == 200

    # Replay: the same delivery again, same id and body; audited.
    replayed = hook_client.post(
        f"/api/v1/webhooks/{hook_id}/deliveries/{done['id']}/replay", headers=world.headers(Role.ADMIN)
    )
    assert replayed.status_code == 200, replayed.text
    again = receiver.at(path)
    assert len(again) == 3 and again[2].headers["OmniDesk-Delivery"] == done["id"] and again[2].body == sent[0].body
    assert deliveries(hook_client, world, hook_id)[0]["state"] == "delivered"
    with db.tenant_read(world.tenant_id) as s:
        audited = set(s.scalars(select(AuditRecord.action).where(AuditRecord.action.like("webhook.%"))))
    assert audited == {"webhook.created", "webhook.replayed"}


def test_a_410_disables_the_subscription(hook_client: TestClient, world: World, receiver: Receiver) -> None:
    hook_id, path = subscribe(hook_client, world, receiver)
    receiver.answers[path] = [410]
    new_ticket(hook_client, world)
    [failed] = deliveries(hook_client, world, hook_id)
    assert failed["state"] == "failed" and failed["last_status"] == 410
    hook = hook_client.get(f"/api/v1/webhooks/{hook_id}", headers=world.headers(Role.ADMIN)).json()
    assert hook["enabled"] is False and "410" in hook["disabled_reason"]
    new_ticket(hook_client, world, "Second")
    assert len(receiver.at(path)) == 1 and len(deliveries(hook_client, world, hook_id)) == 1


def test_a_failed_attempt_is_sent_again_with_the_same_id(
    hook_app: FastAPI, hook_client: TestClient, db: Database, world: World, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The worker dies after the receiver got the request and before the outcome was stored: at least once."""
    hook_id, path = subscribe(hook_client, world, receiver)
    real = delivery_module._record
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery_module, "_record", dies_once)
    new_ticket(hook_client, world)
    assert len(receiver.at(path)) == 1
    [pending] = deliveries(hook_client, world, hook_id)
    assert pending["state"] == "pending" and pending["attempts"] == 0
    assert run_due_deliveries(hook_app, db, world) == 1
    sent = receiver.at(path)
    assert [r.headers["OmniDesk-Delivery"] for r in sent] == [pending["id"], pending["id"]]
    [done] = deliveries(hook_client, world, hook_id)
    assert done["state"] == "delivered" and done["attempts"] == 1


def test_the_outbound_policy_refuses_private_and_plain_http_destinations(
    hook_client: TestClient, db: Database, world: World, receiver: Receiver
) -> None:
    admin = world.headers(Role.ADMIN)
    for url in ("https://10.1.2.3/hook", "https://169.254.169.254/latest", "http://203.0.113.9/hook", "ftp://x.io/"):
        answer = hook_client.post(
            "/api/v1/webhooks", headers=admin, json={"url": url, "event_types": ["ticket.created"]}
        )
        assert answer.status_code == 422, (url, answer.text)
    bad_type = {"url": receiver.url("/x"), "event_types": ["ticket.exploded"]}
    assert hook_client.post("/api/v1/webhooks", headers=admin, json=bad_type).status_code == 422
    assert hook_client.get("/api/v1/webhooks", headers=admin).json() == []

    # A URL that was fine at creation but points inside at delivery time is refused then too.
    hook_id, path = subscribe(hook_client, world, receiver)
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(
            update(delivery_module.WebhookSubscription)
            .where(delivery_module.WebhookSubscription.id == uuid.UUID(hook_id))
            .values(url=f"http://127.0.0.2:{receiver.port}{path}")
        )
    new_ticket(hook_client, world)
    [refused] = deliveries(hook_client, world, hook_id)
    assert refused["state"] == "pending" and "does not let tenants reach" in refused["last_error"]
    assert receiver.at(path) == []


def test_webhooks_stay_within_their_workspace(
    hook_client: TestClient, world: World, other_world: World, receiver: Receiver
) -> None:
    hook_id, path = subscribe(hook_client, world, receiver)
    other_id, other_path = subscribe(hook_client, other_world, receiver)
    new_ticket(hook_client, world)
    assert len(receiver.at(path)) == 1 and receiver.at(other_path) == []
    [delivery] = deliveries(hook_client, world, hook_id)
    outsider = other_world.headers(Role.ADMIN)
    assert [w["id"] for w in hook_client.get("/api/v1/webhooks", headers=outsider).json()] == [other_id]
    for method, url in (
        ("GET", f"/api/v1/webhooks/{hook_id}"),
        ("GET", f"/api/v1/webhooks/{hook_id}/deliveries"),
        ("PATCH", f"/api/v1/webhooks/{hook_id}"),
        ("DELETE", f"/api/v1/webhooks/{hook_id}"),
        ("POST", f"/api/v1/webhooks/{hook_id}/deliveries/{delivery['id']}/replay"),
        ("POST", f"/api/v1/webhooks/{other_id}/deliveries/{delivery['id']}/replay"),
    ):
        kwargs: dict[str, Any] = {"json": {"enabled": False}} if method == "PATCH" else {}
        assert hook_client.request(method, url, headers=outsider, **kwargs).status_code == 404, url
    agent = world.headers(Role.AGENT)
    assert hook_client.get("/api/v1/webhooks", headers=agent).status_code == 403
    assert (
        hook_client.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery['id']}/replay", headers=agent).status_code
        == 403
    )
    assert hook_client.get(f"/api/v1/webhooks/{hook_id}", headers=world.headers(Role.ADMIN)).json()["enabled"] is True

    # Disable, then delete: nothing more is sent, and the log goes with it.
    admin = world.headers(Role.ADMIN)
    assert (
        hook_client.patch(f"/api/v1/webhooks/{hook_id}", headers=admin, json={"enabled": False}).json()["enabled"]
        is False
    )
    new_ticket(hook_client, world, "After disable")
    assert len(receiver.at(path)) == 1
    assert hook_client.delete(f"/api/v1/webhooks/{hook_id}", headers=admin).status_code == 204
    assert hook_client.get(f"/api/v1/webhooks/{hook_id}", headers=admin).status_code == 404


def test_the_delivery_is_written_in_the_transaction_of_the_change(
    hook_client: TestClient, db: Database, world: World, receiver: Receiver
) -> None:
    _hook_id, path = subscribe(hook_client, world, receiver)
    event = TicketAdded(tenant_id=world.tenant_id, ticket_id=uuid.uuid4(), number=7, status="open")
    with pytest.raises(RuntimeError), db.tenant_transaction(world.tenant_id) as s:
        publish_on_commit(s, event)
        raise RuntimeError("the change fails")
    with db.tenant_read(world.tenant_id) as s:
        assert list(s.scalars(select(WebhookDelivery.id))) == []
    assert receiver.at(path) == []

    with db.tenant_transaction(world.tenant_id) as s:
        publish_on_commit(s, event)
    with db.tenant_read(world.tenant_id) as s:
        [stored] = s.scalars(select(WebhookDelivery))
        assert stored.state == "delivered" and stored.event_type == "ticket.created"
    [sent] = receiver.at(path)
    assert sent.verified and json.loads(sent.body)["data"]["number"] == 7


def test_conversation_events_map_to_their_webhook_types(
    hook_client: TestClient, world: World, receiver: Receiver
) -> None:
    """An assignment, a message and a resolution each reach a receiver subscribed to them, and nothing else."""
    _hook_id, path = subscribe(
        hook_client, world, receiver, ["conversation.assigned", "conversation.resolved", "message.created"]
    )
    admin = world.headers(Role.ADMIN)
    conversation = f"/api/v1/conversations/{world.conversation.id}"
    agent_id = str(world.staff[Role.AGENT].id)
    assert hook_client.patch(conversation, headers=admin, json={"assignee_id": agent_id}).status_code == 200
    sent = hook_client.post(f"{conversation}/messages", headers=admin, json={"body": "已为您补发"})
    assert sent.status_code == 201, sent.text
    assert hook_client.patch(conversation, headers=admin, json={"status": "resolved"}).status_code == 200
    got = [json.loads(r.body) for r in receiver.at(path)]
    assert [g["type"] for g in got] == ["conversation.assigned", "message.created", "conversation.resolved"]
    assert all(r.verified for r in receiver.at(path))
    assert got[0]["data"]["assignee_id"] == agent_id and got[0]["data"]["changes"]["assignee_id"][1] == agent_id
    assert got[1]["data"]["message"]["body"] == "已为您补发" and "origin" not in got[1]["data"]
    assert got[2]["data"]["status"] == "resolved"
    assert len({g["id"] for g in got}) == 3


def test_the_receiver_in_the_docs_verifies_what_we_send() -> None:
    """docs/webhooks.md's stdlib receiver accepts our signature and refuses a changed body or an old timestamp."""
    import time
    from pathlib import Path

    from omnidesk.webhooks import signing

    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "docs_receiver"}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # our own documentation
    namespace["SECRET"] = b"whsec_docs"
    body = signing.body(uuid.uuid4(), "ticket.created", utcnow(), uuid.uuid4(), {"number": 1})
    now = int(time.time())
    assert namespace["verified"](signing.signature("whsec_docs", now, body), body)
    assert not namespace["verified"](signing.signature("whsec_docs", now, body), body + b" ")
    assert not namespace["verified"](signing.signature("whsec_docs", now - 3600, body), body)
    assert not namespace["verified"](signing.signature("whsec_other", now, body), body)


def test_the_delivery_log_is_purged_after_its_retention(
    hook_client: TestClient, db: Database, world: World, receiver: Receiver
) -> None:
    from datetime import timedelta

    from omnidesk.jobs.maintenance import purge_expired

    hook_id, _path = subscribe(hook_client, world, receiver)
    new_ticket(hook_client, world, "Old")
    new_ticket(hook_client, world, "New")
    old, new = sorted(deliveries(hook_client, world, hook_id), key=lambda d: d["created_at"])
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(old["id"]))
            .values(created_at=utcnow() - timedelta(days=31))
        )
    assert purge_expired(db)["webhook_deliveries"] >= 1
    assert [d["id"] for d in deliveries(hook_client, world, hook_id)] == [new["id"]]
