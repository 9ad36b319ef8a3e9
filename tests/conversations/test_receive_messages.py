"""The one way in: any channel's messages stored once, from a resolved customer, in the right conversation."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from omnidesk.channels.base import InboundMessage, ReplyPart, SenderIdentity, TextPart, ThreadRef
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations import actions, intake
from omnidesk.conversations.intake import Refused, Stored, receive_messages
from omnidesk.conversations.models import ChannelMessage, Conversation, Message
from omnidesk.conversations.schemas import ConversationUpdate, SenderType
from omnidesk.conversations.states import Status
from omnidesk.core.actor import system_actor, visitor_actor
from omnidesk.core.db import Database
from omnidesk.core.errors import PermissionDenied
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.events.outbox import pending_events
from tests.factories import World


def _sms(message_id: str, text: str, phone: str = "+8613900001111", **thread: object) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        channel_message_id=message_id,
        sender=SenderIdentity(kind="phone", value=phone),
        parts=(TextPart(text),),
        thread=ThreadRef(**thread),  # type: ignore[arg-type]
        raw={"From": phone, "Body": text, "MessageSid": message_id},
    )


def test_an_unknown_sender_becomes_one_customer_with_one_conversation_and_redeliveries_are_ignored(
    db: Database, world: World
) -> None:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        first, second, again = receive_messages(
            s, system, [_sms("SM1", "快递到哪了"), _sms("SM2", "单号 SF123"), _sms("SM1", "快递到哪了")]
        )
        events = [e for e in pending_events(s) if e["type"] == "message"]
    assert isinstance(first, Stored) and first.created and first.message["seq"] == 1
    assert isinstance(second, Stored) and second.message["seq"] == 2
    assert second.message["conversation_id"] == first.message["conversation_id"]
    assert isinstance(again, Stored) and not again.created and again.message == first.message
    assert len(events) == 2
    # The provider retries the webhook later: still nothing new.
    with db.tenant_transaction(world.tenant_id) as s:
        (late,) = receive_messages(s, system, [_sms("SM2", "单号 SF123")])
    assert isinstance(late, Stored) and not late.created and late.message == second.message
    conversation_id = uuid.UUID(first.message["conversation_id"])
    with db.tenant_read(world.tenant_id) as s:
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None and conversation.channel == "sms" and conversation.last_seq == 2
        identity = s.scalar(select(CustomerIdentity).where(CustomerIdentity.value == "+8613900001111"))
        assert identity is not None and identity.kind == "phone" and not identity.verified
        assert identity.customer_id == conversation.customer_id
        assert (
            s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)) == 2
        )
        raw = s.scalar(select(ChannelMessage.raw).where(ChannelMessage.channel_message_id == "SM1"))
        assert raw == {"From": "+8613900001111", "Body": "快递到哪了", "MessageSid": "SM1"}
        created = s.scalar(
            select(AuditRecord).where(
                AuditRecord.action == "customer.create", AuditRecord.target_id == str(identity.customer_id)
            )
        )
        assert created is not None and created.changes["source"] == "sms"


def test_replies_thread_by_the_channel_id_and_a_resolved_conversation_is_not_continued(
    db: Database, world: World
) -> None:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        (opened,) = receive_messages(s, system, [_sms("E1", "退货怎么办")])
    assert isinstance(opened, Stored)
    conversation_id = uuid.UUID(opened.message["conversation_id"])
    with db.tenant_transaction(world.tenant_id) as s:
        actions.update_conversation(s, world.actor(), conversation_id, ConversationUpdate(status=Status.RESOLVED))
    with db.tenant_transaction(world.tenant_id) as s:
        fresh, reply, stranger = receive_messages(
            s,
            system,
            [
                _sms("E2", "另一个问题"),  # resolved conversations are not continued: a new one opens
                _sms("E3", "关于退货，补充一下", reply_to="E1"),  # a reply goes where it belongs, and reopens it
                _sms("E4", "我也要退货", phone="+8613900002222", reply_to="E1"),  # not someone else's thread
            ],
        )
    assert isinstance(fresh, Stored) and isinstance(reply, Stored) and isinstance(stranger, Stored)
    assert fresh.message["conversation_id"] != str(conversation_id)
    assert reply.message["conversation_id"] == str(conversation_id) and reply.message["seq"] == 2
    assert stranger.message["conversation_id"] not in (str(conversation_id), fresh.message["conversation_id"])
    with db.tenant_read(world.tenant_id) as s:
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "open"


def test_structured_replies_keep_what_was_picked(db: Database, world: World) -> None:
    message = InboundMessage(
        channel="whatsapp",
        channel_message_id="wamid.1",
        sender=SenderIdentity(kind="whatsapp", value="8613900003333", display_name="王芳"),
        parts=(ReplyPart(value="order_status", title="查订单"),),
    )
    with db.tenant_transaction(world.tenant_id) as s:
        (stored,) = receive_messages(s, system_actor(world.tenant_id), [message])
    assert isinstance(stored, Stored)
    assert stored.message["body"] == "查订单" and stored.message["payload"]["reply"]["value"] == "order_status"
    with db.tenant_read(world.tenant_id) as s:
        customer = s.scalar(
            select(Customer)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
            .where(CustomerIdentity.value == "8613900003333")
        )
        assert customer is not None and customer.name == "王芳"


def test_a_visitor_stores_only_their_own_messages_and_never_in_a_strangers_conversation(
    db: Database, world: World
) -> None:
    customer_id = world.customer.id
    stranger = visitor_actor(world.tenant_id, uuid.uuid4())
    message = InboundMessage(
        channel="web",
        channel_message_id=f"{world.conversation.id}:x1",
        sender=SenderIdentity.of_customer(customer_id),
        parts=(TextPart("冒充"),),
        thread=ThreadRef(conversation_id=world.conversation.id),
    )
    with pytest.raises(PermissionDenied), db.tenant_transaction(world.tenant_id) as s:
        receive_messages(s, stranger, [message])
    other = InboundMessage(
        channel="web",
        channel_message_id=f"{world.conversation.id}:x2",
        sender=SenderIdentity.of_customer(stranger.id),  # type: ignore[arg-type]
        parts=(TextPart("不是我的会话"),),
        thread=ThreadRef(conversation_id=world.conversation.id),
    )
    with db.tenant_transaction(world.tenant_id) as s:
        (refused,) = receive_messages(s, stranger, [other])
    assert isinstance(refused, Refused) and refused.status == 404


def test_nothing_is_stored_without_someone_deciding_who_answers(
    db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "_policy", [])
    with pytest.raises(RuntimeError, match="intake policy"), db.tenant_transaction(world.tenant_id) as s:
        receive_messages(s, system_actor(world.tenant_id), [_sms("P1", "有人吗")])
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(ChannelMessage.message_id).where(ChannelMessage.channel_message_id == "P1")) is None


def test_the_outbound_writer_never_stores_a_customer_message(db: Database, world: World) -> None:
    with pytest.raises(ValueError, match="receive_messages"), db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(Conversation, world.conversation.id)
        assert conversation is not None
        actions.do_post_message(
            s, world.actor(), conversation, body="假装是客户", sender_type=SenderType.CUSTOMER, sender_id=None
        )


def test_a_hand_over_raises_priority_and_tags_with_an_audit_record_and_an_event(db: Database, world: World) -> None:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(Conversation, world.conversation.id)
        assert conversation is not None
        actions.do_escalate(s, system, conversation, priority="urgent", add_tags=["bot_handover"])
        actions.do_escalate(s, system, conversation, priority="low", add_tags=["bot_handover"])  # changes nothing
        updates = [e for e in pending_events(s) if e["type"] == "conversation"]
    assert [e["changes"]["priority"] for e in updates] == [["normal", "urgent"]]
    with db.tenant_read(world.tenant_id) as s:
        conversation = s.get(Conversation, world.conversation.id)
        assert conversation is not None and conversation.priority == "urgent" and "bot_handover" in conversation.tags
        record = s.scalar(
            select(AuditRecord).where(
                AuditRecord.action == "conversation.update", AuditRecord.target_id == str(world.conversation.id)
            )
        )
        assert record is not None and record.actor_type == "system"


def test_one_message_and_a_batch_leave_through_the_same_writer_with_numbers_notes_audit_and_events(
    db: Database, world: World
) -> None:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        (stored,) = receive_messages(s, system, [_sms("W1", "在吗")])
    assert isinstance(stored, Stored)
    other_id = uuid.UUID(stored.message["conversation_id"])
    with db.tenant_read(world.tenant_id) as s:
        before = {c.id: (c.last_seq, c.last_message_at) for c in s.scalars(select(Conversation))}
    with db.tenant_transaction(world.tenant_id) as s:
        first = s.get(Conversation, world.conversation.id)
        other = s.get(Conversation, other_id)
        assert first is not None and other is not None
        single = actions.do_post_message(
            s,
            world.actor(),
            first,
            body="您好",
            sender_type=SenderType.AGENT,
            sender_id=world.actor().id,
            client_id="c1",
        )
        batch = actions.do_post_messages(
            s,
            system,
            [
                actions.Outgoing(first, "请稍等", SenderType.BOT, kind="quick_replies", payload={"buttons": ["好"]}),
                actions.Outgoing(other, "只给同事看", SenderType.BOT, internal=True),
                actions.Outgoing(first, "已查到", SenderType.SYSTEM),
                actions.Outgoing(other, "第二条备注", SenderType.BOT, internal=True, kind="text"),
            ],
        )
        assert single in s and single.seq == before[first.id][0] + 1 and single.client_id == "c1"
        events = [e["message"] for e in pending_events(s) if e["type"] == "message"]
    start, other_start = before[first.id][0], before[other_id][0]
    assert [(m["conversation_id"], m["seq"]) for m in batch] == [
        (str(first.id), start + 2),
        (str(other_id), other_start + 1),
        (str(first.id), start + 3),
        (str(other_id), other_start + 2),
    ]
    assert [(m["kind"], m["internal"]) for m in batch] == [
        ("quick_replies", False),
        ("note", True),
        ("text", False),
        ("note", True),
    ]
    assert events[1:] == batch and events[0]["id"] == str(single.id) and events[0]["body"] == "您好"
    with db.tenant_read(world.tenant_id) as s:
        stored_single = s.get(Message, single.id)
        assert stored_single is not None and stored_single.created_at == single.created_at
        first_after = s.get(Conversation, first.id)
        other_after = s.get(Conversation, other_id)
        assert first_after is not None and other_after is not None
        assert first_after.last_seq == start + 3
        assert first_after.last_message_at == datetime.fromisoformat(batch[0]["created_at"])
        # notes take numbers but are not the conversation's latest message
        assert other_after.last_seq == other_start + 2 and other_after.last_message_at == before[other_id][1]
        actions_written = s.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.action.in_(["conversation.message_add", "conversation.note_add"]))
            .where(AuditRecord.target_id.in_([str(first.id), str(other_id)]))
        ).all()
    assert sorted(actions_written).count("conversation.note_add") == 2
    assert sorted(actions_written).count("conversation.message_add") >= 3
