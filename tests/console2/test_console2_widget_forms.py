"""The pre-chat form is enforced by the server (a client that skips it cannot chat), and the offline form has a
business-hours mode (offered outside the workspace's hours, whoever is online)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.conversations.models import Conversation
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, sign_in, start_visitor, visitor_conversation

PRECHAT = {"enabled": True, "fields": [{"key": "name", "required": True}, {"key": "email", "required": True},
                                       {"key": "phone", "required": False}]}  # fmt: skip


def _configure(client: TestClient, world: World, **changes: Any) -> None:
    response = client.patch("/api/v1/widget/config", json=changes, headers=world.headers())
    assert response.status_code == 200, response.text


def _conversations(db: Database, world: World) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return int(s.scalar(select(func.count()).select_from(Conversation)) or 0)


def test_a_chat_without_the_required_prechat_answers_is_refused(client: TestClient, world: World, db: Database) -> None:
    _configure(client, world, prechat=PRECHAT)
    visitor = start_visitor(client, world.slug, language="en")
    before = _conversations(db, world)
    body = {"message": "Where is my parcel?", "client_id": "c-skip-form-1"}
    en = client.post(f"{visitor['base']}/conversations", json=body,
                     headers={**visitor["headers"], "Accept-Language": "en"})  # fmt: skip
    assert en.status_code == 422, en.text
    assert en.json()["detail"] == "Please fill in the form before you start the chat."
    assert {e["field"]: e["message"] for e in en.json()["errors"]} == {
        "name": "Name: please fill this in.",
        "email": "E-mail: please fill this in.",
    }
    zh = client.post(f"{visitor['base']}/conversations", json=body,
                     headers={**visitor["headers"], "Accept-Language": "zh-CN"})  # fmt: skip
    assert zh.status_code == 422 and zh.json()["detail"] == "请先填写表单，再开始咨询。"
    assert _conversations(db, world) == before  # nothing was stored

    answers = {"values": {"name": "Jo March", "email": "jo@example.com"}}
    assert client.post(f"{visitor['base']}/prechat", json=answers, headers=visitor["headers"]).status_code == 200
    conversation = visitor_conversation(client, visitor, "Where is my parcel?")
    assert _conversations(db, world) == before + 1

    # A field made required later: the next message waits for it too (the widget shows the form again).
    _configure(client, world, prechat={**PRECHAT, "fields": [*PRECHAT["fields"],
                                                             {"key": "order_no", "label": "订单号", "required": True}]})  # fmt: skip
    url = f"{visitor['base']}/conversations/{conversation['id']}/messages"
    late = client.post(url, json={"body": "Any news?", "client_id": "m-late-1"}, headers=visitor["headers"])
    assert late.status_code == 422 and [e["field"] for e in late.json()["errors"]] == ["order_no"]
    assert "订单号" in late.json()["errors"][0]["message"]
    _configure(client, world, prechat={"enabled": False, "fields": []})
    ok = client.post(url, json={"body": "Any news?", "client_id": "m-late-1"}, headers=visitor["headers"])
    assert ok.status_code == 201, ok.text


def test_the_offline_form_is_offered_outside_business_hours(client: TestClient, world: World) -> None:
    today = datetime.now(UTC).date().isoformat()
    all_day = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = {"time_zone": "UTC", "hours": all_day, "holidays": [today]}
    saved = client.patch("/api/v1/ticket-settings", json={"calendar": calendar}, headers=world.headers())
    assert saved.status_code == 200, saved.text
    visitor = start_visitor(client, world.slug, language="zh-CN")

    def offered() -> bool:
        answer = client.get(f"{visitor['base']}/availability", headers=visitor["headers"])
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["offline_form"])

    _configure(client, world, offline_form="off")
    assert offered() is False
    _configure(client, world, offline_form="outside_hours")
    assert offered() is True  # today is a holiday: closed
    form = {"name": "韩梅梅", "email": "han@example.com", "message": "节假日也想咨询退货。"}
    done = client.post(f"{visitor['base']}/offline", json=form, headers=visitor["headers"])
    assert done.status_code == 201, done.text
    calendar["holidays"] = []
    assert (
        client.patch("/api/v1/ticket-settings", json={"calendar": calendar}, headers=world.headers()).status_code == 200
    )
    assert offered() is False  # open all day: a chat, not the form

    sign_in(client, world, Role.ADMIN)
    for lang, text in (("zh-CN", "非营业时间"), ("en", "Outside business hours")):
        client.cookies.set("omnidesk_lang", lang)
        page = client.get("/settings/widget")
        assert page.status_code == 200 and text in page.text
        assert 'value="outside_hours" selected' in page.text
