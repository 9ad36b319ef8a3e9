"""Visitors sending over their socket: stored in batches, acknowledged after commit, never twice, never astray."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.channels.base import TextPart
from omnidesk.channels.widget.adapter import inbound
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.intake import Refused, Stored, receive_messages
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing.models import QueueEntry
from tests.factories import World, start_visitor, visitor_conversation
from tests.realtime.test_gateway import _next_of, _open, _staff_token


def _send(session: Any, conversation_id: str, client_id: str, body: str) -> None:
    session.send_text(
        json.dumps({"type": "send", "conversation_id": conversation_id, "client_id": client_id, "body": body})
    )


def _answer(session: Any, client_id: str, limit: int = 50) -> dict[str, Any]:
    """The ack or error for ``client_id``, skipping the events that arrive in between."""
    for _ in range(limit):
        frame: dict[str, Any] = session.receive_json()
        if frame.get("type") in ("ack", "error") and frame.get("client_id") == client_id:
            return frame
    raise AssertionError(f"no answer for {client_id}")


def _stored(db: Database, world: World, conversation_id: str) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        return list(
            s.scalars(
                select(Message).where(Message.conversation_id == uuid.UUID(conversation_id)).order_by(Message.seq)
            )
        )


def test_a_socket_send_is_stored_acknowledged_and_delivered_once(
    client: TestClient, world: World, db: Database
) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "你好")
    v_ctx, v = _open(client, visitor["socket_token"])
    second_token = client.post(f"{visitor['base']}/socket-token", headers=visitor["headers"]).json()["socket_token"]
    tab_ctx, other_tab = _open(client, second_token)
    a_ctx, a = _open(client, _staff_token(client, world))
    try:
        _send(v, conv["id"], "sock-1", "我的快递到哪了？")
        ack = _answer(v, "sock-1")
        assert ack["type"] == "ack" and ack["created"] is True
        assert ack["message"]["seq"] == 2 and ack["message"]["body"] == "我的快递到哪了？"
        event = _next_of(a, "message")
        assert event["message"]["id"] == ack["message"]["id"] and event["customer_id"]
        assert "origin" not in event
        # The visitor's other tab learns of it from the event; the sending socket had it in its ack only.
        assert _next_of(other_tab, "message")["message"]["id"] == ack["message"]["id"]
        v.send_text(json.dumps({"type": "ping"}))
        until_pong: list[dict[str, Any]] = []
        while not until_pong or until_pong[-1].get("type") != "pong":
            until_pong.append(v.receive_json())
        assert not [f for f in until_pong if f.get("type") == "message"]

        # The widget lost the ack and sends again: the stored message answers, nothing is stored twice.
        _send(v, conv["id"], "sock-1", "我的快递到哪了？")
        again = _answer(v, "sock-1")
        assert again["type"] == "ack" and again["created"] is False and again["message"] == ack["message"]
    finally:
        v_ctx.__exit__(None, None, None)
        tab_ctx.__exit__(None, None, None)
        a_ctx.__exit__(None, None, None)
    messages = _stored(db, world, conv["id"])
    assert [m.body for m in messages] == ["你好", "我的快递到哪了？"]
    # The same trail as a message sent over HTTP: an audit record naming the visitor, visible to auditors.
    with db.tenant_read(world.tenant_id) as s:
        records = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "conversation.message_add", AuditRecord.target_id == conv["id"]
            )
        ).all()
    assert {r.changes["message_id"] for r in records} >= {ack["message"]["id"]}
    assert all(r.actor_type == "visitor" for r in records)
    listed = client.get(f"{visitor['base']}/conversations/{conv['id']}/messages", headers=visitor["headers"]).json()
    assert [m["seq"] for m in listed["items"]] == [1, 2]


def test_bad_sends_are_refused_with_a_reason_and_store_nothing(
    client: TestClient, world: World, other_world: World, db: Database
) -> None:
    alice = start_visitor(client, world.slug)
    bob = start_visitor(client, world.slug)
    alice_conv = visitor_conversation(client, alice, "Alice 的问题")
    stranger = start_visitor(client, other_world.slug)
    stranger_conv = visitor_conversation(client, stranger, "别的租户")
    ctx, bob_socket = _open(client, bob["socket_token"])
    agent_ctx, agent = _open(client, _staff_token(client, world))
    try:
        cases = {
            "other-customer": (alice_conv["id"], "不是我的会话", 404),  # someone else's conversation
            "other-tenant": (stranger_conv["id"], "别的租户的会话", 404),
            "unknown": (str(uuid.uuid4()), "不存在", 404),
            "empty": (alice_conv["id"], "   ", 422),
            "too-long": (alice_conv["id"], "长" * 10_001, 422),
            "nul": (alice_conv["id"], "a\x00b", 422),
            "bad id!": (alice_conv["id"], "client id with spaces", 422),
        }
        for client_id, (conversation_id, body, status) in cases.items():
            _send(bob_socket, conversation_id, client_id, body)
            answer = _answer(bob_socket, client_id[:64])
            assert answer["type"] == "error" and answer["status"] == status, (client_id, answer)
            assert answer["detail"]
        bob_socket.send_text(
            json.dumps({"type": "send", "conversation_id": "not-a-uuid", "client_id": "x1", "body": "hi"})
        )
        assert _answer(bob_socket, "x1")["status"] == 422
        bob_socket.send_text("x" * 70_000)  # oversized frame
        assert _answer(bob_socket, None)["status"] == 413  # type: ignore[arg-type]
        # Agents send through the HTTP API, which checks their permissions.
        _send(agent, alice_conv["id"], "agent-1", "agent over the socket")
        assert _answer(agent, "agent-1")["status"] == 403
    finally:
        ctx.__exit__(None, None, None)
        agent_ctx.__exit__(None, None, None)
    assert [m.body for m in _stored(db, world, alice_conv["id"])] == ["Alice 的问题"]
    assert [m.body for m in _stored(db, other_world, stranger_conv["id"])] == ["别的租户"]


def test_many_sockets_sending_at_once_keep_every_message_in_order(
    client: TestClient, world: World, db: Database
) -> None:
    visitors = [start_visitor(client, world.slug) for _ in range(4)]
    conversations = [visitor_conversation(client, v, f"会话 {i}") for i, v in enumerate(visitors)]
    sockets = [_open(client, v["socket_token"]) for v in visitors]
    per_socket = 25
    answers: dict[int, list[dict[str, Any]]] = {}

    def run(index: int) -> None:
        _, session = sockets[index]
        for n in range(per_socket):  # pipelined: all sent before any answer is read
            _send(session, conversations[index]["id"], f"m-{index}-{n}", f"第 {n} 条")
        answers[index] = [_answer(session, f"m-{index}-{n}") for n in range(per_socket)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sockets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for ctx, _ in sockets:
        ctx.__exit__(None, None, None)
    for index, conv in enumerate(conversations):
        assert [a["type"] for a in answers[index]] == ["ack"] * per_socket
        # Sequence numbers follow the order the customer sent in: 1 was the opening message.
        assert [a["message"]["seq"] for a in answers[index]] == list(range(2, per_socket + 2))
        stored = _stored(db, world, conv["id"])
        assert [m.body for m in stored[1:]] == [f"第 {n} 条" for n in range(per_socket)]
        with db.tenant_read(world.tenant_id) as s:
            assert s.get(Conversation, uuid.UUID(conv["id"])).last_seq == per_socket + 1  # type: ignore[union-attr]


def test_one_batch_answers_each_message_on_its_own(client: TestClient, world: World, db: Database) -> None:
    """The domain function behind the socket: duplicates inside a batch, a stranger's conversation, a resolved
    conversation reopened and queued again — each item gets the outcome it would get alone."""
    alice = start_visitor(client, world.slug)
    bob = start_visitor(client, world.slug)
    conv = visitor_conversation(client, alice, "第一条")
    bob_conv = visitor_conversation(client, bob, "Bob")
    resolved = client.patch(f"/api/v1/conversations/{conv['id']}", json={"status": "resolved"}, headers=world.headers())
    assert resolved.status_code == 200, resolved.text
    conv_id = uuid.UUID(conv["id"])
    with db.tenant_read(world.tenant_id) as s:
        alice_id = s.get(Conversation, conv_id).customer_id  # type: ignore[union-attr]
    items = [
        inbound(alice_id, conv_id, "a", [TextPart("再问一下")], ip=None),
        inbound(alice_id, conv_id, "b", [TextPart("还有一个问题")], ip=None),
        inbound(alice_id, conv_id, "a", [TextPart("再问一下")], ip=None),
        inbound(alice_id, uuid.UUID(bob_conv["id"]), "c", [TextPart("不是我的")], ip=None),
    ]
    with db.tenant_transaction(world.tenant_id) as s:
        outcomes = receive_messages(s, system_actor(world.tenant_id), items)
    first, second, duplicate, stranger = outcomes
    assert isinstance(first, Stored) and first.created and first.message["seq"] == 2
    assert isinstance(second, Stored) and second.created and second.message["seq"] == 3
    assert isinstance(duplicate, Stored) and not duplicate.created and duplicate.message == first.message
    assert isinstance(stranger, Refused) and stranger.status == 404
    with db.tenant_read(world.tenant_id) as s:
        conversation = s.get(Conversation, conv_id)
        assert conversation is not None and conversation.status == "open" and conversation.last_seq == 3
        entry = s.scalar(select(QueueEntry).where(QueueEntry.conversation_id == conv_id))
        assert entry is not None and entry.state == "waiting"
        assert s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == conv_id)) == 3
