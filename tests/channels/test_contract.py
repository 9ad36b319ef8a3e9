"""The channel contract: how content parts are stored, and how a reply degrades on a plainer channel."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from omnidesk.channels.base import (
    AttachmentPart,
    Capabilities,
    InboundMessage,
    LocationPart,
    OutboundMessage,
    ReplyPart,
    SenderIdentity,
    TextPart,
    degrade,
    stored_form,
)

SENDER = SenderIdentity(kind="phone", value="+8613800138000")


def test_an_inbound_message_needs_an_id_the_channel_keeps_and_some_content() -> None:
    with pytest.raises(ValueError, match="channel_message_id"):
        InboundMessage(channel="sms", channel_message_id="", sender=SENDER, parts=(TextPart("hi"),))
    with pytest.raises(ValueError, match="channel_message_id"):
        InboundMessage(channel="sms", channel_message_id="x" * 201, sender=SENDER, parts=(TextPart("hi"),))
    with pytest.raises(ValueError, match="content part"):
        InboundMessage(channel="sms", channel_message_id="m1", sender=SENDER, parts=())


def test_each_kind_of_content_is_stored_with_nothing_lost() -> None:
    assert stored_form([TextPart("你好")]) == ("text", "你好", {})
    file_id = uuid.uuid4()
    kind, body, payload = stored_form([AttachmentPart("发票.pdf", "application/pdf", 2048, attachment_id=file_id)])
    assert (kind, body) == ("attachment", "发票.pdf")
    assert payload["attachment"] == {"id": str(file_id), "filename": "发票.pdf", "content_type": "application/pdf",
                                     "size": 2048}  # fmt: skip
    kind, body, payload = stored_form([LocationPart(31.23, 121.47, "上海")])
    assert (kind, body, payload["location"]["label"]) == ("location", "上海", "上海")
    # A picked quick reply is text (the assistant reads it) and keeps the value it stands for.
    kind, body, payload = stored_form([ReplyPart(value="order_status", title="查订单")])
    assert (kind, body, payload["reply"]["value"]) == ("text", "查订单", "order_status")
    # Text with a photo: the text is the body, the file travels in the payload.
    kind, body, payload = stored_form([TextPart("看这个"), AttachmentPart("a.png", "image/png", 10)])
    assert (kind, body, payload["attachment"]["filename"]) == ("text", "看这个", "a.png")


def _outbound() -> OutboundMessage:
    message = {
        "id": str(uuid.uuid4()),
        "conversation_id": str(uuid.uuid4()),
        "seq": 3,
        "sender_type": "bot",
        "body": "请选择 Please choose",
        "payload": {"buttons": [{"label": "查订单", "value": "order"}, {"label": "人工", "value": "human"}]},
    }
    return OutboundMessage.from_stored(uuid.uuid4(), "sms", message)


def test_quick_replies_become_numbered_lines_where_a_channel_has_no_buttons() -> None:
    message = _outbound()
    assert degrade(message, Capabilities(rich_replies=True)) == message
    plain = degrade(message, Capabilities(rich_replies=False))
    assert plain.buttons == ()
    assert [p.text for p in plain.parts if isinstance(p, TextPart)] == ["请选择 Please choose", "1. 查订单\n2. 人工"]


def test_files_and_long_text_fit_what_the_channel_can_carry() -> None:
    message = OutboundMessage.from_stored(
        uuid.uuid4(),
        "sms",
        {
            "id": str(uuid.uuid4()),
            "conversation_id": str(uuid.uuid4()),
            "seq": 1,
            "body": "a.pdf",
            "payload": {"attachment": {"id": str(uuid.uuid4()), "filename": "a.pdf", "content_type": "x", "size": 1}},
        },
    )
    assert isinstance(message.parts[0], AttachmentPart)
    assert degrade(message, Capabilities(attachments=False)).parts == (TextPart("[a.pdf]"),)
    long = OutboundMessage.from_stored(
        uuid.uuid4(),
        "sms",
        {"id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()), "seq": 1, "body": "长" * 200},
    )
    cut = degrade(long, Capabilities(max_text=160, edit_window=timedelta(0)))
    assert cut.parts == (TextPart("长" * 159 + "…"),)
