"""A rate-limited visitor is told when they can continue, in their language, on both paths (HTTP and socket).

Before: the HTTP answer's detail was a fixed English "too many attempts", the socket's error carried no wait, and
the widget showed "Connection trouble" with the message stuck on "sending…" (see the browser test in
``tests/web/test_widget_limits_browser.py``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.conversations.models import Message
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, SettingsError, load_settings
from omnidesk.web.app import create_app
from tests.factories import World, start_visitor, visitor_conversation

LIMIT = 2
WINDOW = 2  # seconds: short, so that waiting it out keeps the test fast


def _strict(settings: Settings, db: Database) -> FastAPI:
    update = {"widget_messages_per_minute": LIMIT, "widget_messages_window_seconds": WINDOW}
    return create_app(settings.model_copy(update=update), db=db, bus=db.bus)


def _stored(db: Database, world: World, client_id: str) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return len(s.scalars(select(Message.id).where(Message.client_id == client_id)).all())


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", r"You're sending messages too fast — you can continue in \d s\."),
        ("zh-CN,zh;q=0.9", r"您发送消息太快了，\d 秒后可以继续。"),
    ],
)
def test_over_the_limit_a_post_gets_429_a_localized_wait_and_goes_through_after_it(
    settings: Settings, db: Database, world: World, language: str, expected: str
) -> None:
    with TestClient(_strict(settings, db)) as c:
        visitor = start_visitor(c, world.slug)
        conversation = visitor_conversation(c, visitor)
        url = f"{visitor['base']}/conversations/{conversation['id']}/messages"
        headers = {**visitor["headers"], "Accept-Language": language}
        # A fixed window may roll over once in between: 2 × limit + 1 sends always meet the limit.
        for n in range(2 * LIMIT + 1):
            client_id = f"c-{uuid.uuid4().hex[:12]}"
            answer = c.post(url, json={"body": f"第 {n} 条", "client_id": client_id}, headers=headers)
            if answer.status_code == 429:
                break
            assert answer.status_code == 201, answer.text
        assert answer.status_code == 429
        wait = int(answer.headers["retry-after"])
        problem: dict[str, Any] = answer.json()
        assert 1 <= wait <= WINDOW and problem["retry_after"] == wait
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert re.fullmatch(expected, problem["detail"]), problem["detail"]
        assert _stored(db, world, client_id) == 0  # refused, nothing stored

        time.sleep(wait)  # the limiter promises the next window after Retry-After: a bounded, exact wait
        again = c.post(url, json={"body": "重发", "client_id": client_id}, headers=headers)
        assert again.status_code == 201, again.text
        assert _stored(db, world, client_id) == 1


def test_new_conversations_over_the_limit_say_when_in_minutes(settings: Settings, db: Database, world: World) -> None:
    app = create_app(settings.model_copy(update={"widget_conversations_per_ip": 1}), db=db, bus=db.bus)
    with TestClient(app, client=(f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 1)) as c:
        visitor = start_visitor(c, world.slug)
        visitor_conversation(c, visitor)
        second = c.post(
            f"{visitor['base']}/conversations",
            json={"message": "another one", "client_id": "c-2"},
            headers={**visitor["headers"], "Accept-Language": "en"},
        )
    assert second.status_code == 429
    minutes = (int(second.headers["retry-after"]) + 59) // 60
    detail = second.json()["detail"]
    assert detail == f"Too many new conversations from your network — you can start another in about {minutes} min."


def test_a_socket_send_over_the_limit_is_answered_with_the_wait(settings: Settings, db: Database, world: World) -> None:
    with TestClient(_strict(settings, db)) as c:
        visitor = start_visitor(c, world.slug)
        conversation = visitor_conversation(c, visitor)
        with c.websocket_connect("/api/v1/realtime/ws") as ws:
            ws.send_text(json.dumps({"type": "auth", "token": visitor["socket_token"]}))
            assert ws.receive_json()["type"] == "ready"
            answers: list[dict[str, Any]] = []
            for n in range(2 * LIMIT + 1):
                client_id = f"s-{n}-{uuid.uuid4().hex[:8]}"
                frame = {"type": "send", "conversation_id": conversation["id"], "client_id": client_id, "body": "x"}
                ws.send_text(json.dumps(frame))
                while True:
                    answer = ws.receive_json()
                    if answer.get("client_id") == client_id and answer["type"] in ("ack", "error"):
                        break
                answers.append(answer)
                if answer["type"] == "error":
                    break
    refused = answers[-1]
    assert refused["type"] == "error" and refused["status"] == 429, answers
    assert 1 <= refused["retry_after"] <= WINDOW


def test_the_window_setting_is_validated() -> None:
    assert load_settings().widget_messages_window_seconds == 60
    with pytest.raises(SettingsError, match="OMNIDESK_WIDGET_MESSAGES_WINDOW_SECONDS"):
        load_settings(widget_messages_window_seconds=0)
