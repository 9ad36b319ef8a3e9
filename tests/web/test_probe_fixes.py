"""Regression tests for the low-severity findings of the security probe (issue 14, item 10)."""

from __future__ import annotations

import json
import re
import socket
import typing
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text

from omnidesk.core.db import Database
from omnidesk.core.schemas import INT32_MAX, ONE_LINE, TAG
from omnidesk.core.settings import Settings, SettingsError, load_settings
from omnidesk.security.permissions import Role
from omnidesk.web import problems
from omnidesk.web.app import create_app
from tests.factories import World, start_visitor, visitor_conversation


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/knowledge/articles", {"GET", "POST"}),  # two routes share the path
        ("PUT", "/api/v1/roles", {"GET"}),
        ("DELETE", "/login", {"GET", "POST"}),  # a page
        ("POST", "/static/widget/loader.js", {"GET", "HEAD"}),  # a mounted directory
    ],
)
def test_every_405_lists_the_allowed_methods(
    client: TestClient, world: World, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=world.headers())
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    assert response.headers["content-type"] == "application/problem+json"
    assert method in response.json()["detail"]


def _int_bounds(field_info: Any) -> tuple[int | None, int | None]:
    low = high = None
    for meta in field_info.metadata:
        for name in ("le", "lt"):
            if getattr(meta, name, None) is not None:
                high = getattr(meta, name) if high is None else min(high, getattr(meta, name))
        for name in ("ge", "gt"):
            if getattr(meta, name, None) is not None:
                low = getattr(meta, name) if low is None else max(low, getattr(meta, name))
    return low, high


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def test_every_integer_parameter_fits_32_bits(app: FastAPI) -> None:
    """Path, query and form integers of every route, pages included: a number the database cannot bind is a
    422 at the edge, never a driver error."""
    unbounded = []
    for route in iter_route_contexts(app.routes):
        stack = [route.dependant] if getattr(route, "dependant", None) is not None else []
        while stack:
            dependant = stack.pop()
            stack.extend(dependant.dependencies)
            for param in (*dependant.path_params, *dependant.query_params, *dependant.body_params):
                if _is_int(param.field_info.annotation):
                    low, high = _int_bounds(param.field_info)
                    if low is None or high is None or low < -INT32_MAX - 1 or high > INT32_MAX:
                        unbounded.append(f"{route.path} {param.name}")
    assert unbounded == []


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_huge_version_numbers_are_refused_naming_the_parameter(client: TestClient, world: World, huge: int) -> None:
    headers = world.headers(Role.KNOWLEDGE_MANAGER)
    article = client.post(
        "/api/v1/knowledge/articles",
        headers=headers,
        json={"kind": "faq", "title": "Q?", "body": "A.", "language": "en"},
    ).json()
    diff = client.get(f"/api/v1/knowledge/articles/{article['id']}/diff?from=1&to={huge}", headers=headers)
    assert diff.status_code == 422
    assert diff.json()["errors"][0]["field"] == "to"
    rollback = client.post(
        f"/api/v1/knowledge/articles/{article['id']}/rollback", headers=headers, json={"to_version": huge}
    )
    assert rollback.status_code == 422
    assert rollback.json()["errors"][0]["field"] == "to_version"
    update = client.patch(
        f"/api/v1/knowledge/articles/{article['id']}", headers=headers, json={"title": "Q2?", "version": huge}
    )
    assert update.status_code == 422
    after = client.get(f"/api/v1/knowledge/articles/{article['id']}", headers=headers).json()
    assert after["title"] == "Q?"


def test_a_value_the_database_cannot_hold_is_a_422(db: Database) -> None:
    """The last line behind the bounded types: the driver's overflow (SQLite) or DataError (PostgreSQL)."""
    app = FastAPI()
    problems.install(app)

    @app.get("/cast")
    def cast() -> None:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT CAST(:x AS INTEGER)"), {"x": 10**30})

    response = TestClient(app, raise_server_exceptions=False).get("/cast")
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-input"


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        (("127.0.0.1", 40000), {}, 200),
        (("::1", 40000), {}, 200),
        (("::ffff:127.0.0.1", 40000), {}, 200),
        (("203.0.113.7", 40000), {}, 404),  # anyone else
        (("10.0.0.5", 40000), {}, 404),  # the private network too
        (("127.0.0.1", 40000), {"X-Forwarded-For": "203.0.113.7"}, 404),  # relayed by a proxy on this host
        (("127.0.0.1", 40000), {"Forwarded": "for=203.0.113.7"}, 404),
    ],
)
def test_metrics_without_a_token_answer_only_local_callers(
    app: FastAPI, peer: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    response = TestClient(app, client=peer).get("/metrics", headers=headers)
    assert response.status_code == status
    assert ("omnidesk_http_requests_total" in response.text) == (status == 200)


def test_metrics_with_a_token_need_it_from_everywhere(settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": "m" * 32}), db=db, bus=db.bus)
    local = TestClient(app, client=("127.0.0.1", 40000))
    remote = TestClient(app, client=("203.0.113.7", 40000))
    for client, headers in [(local, {}), (remote, {}), (remote, {"Authorization": "Bearer " + "x" * 32})]:
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "omnidesk_http" not in refused.text
    granted = remote.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})
    assert granted.status_code == 200
    assert "omnidesk_http_requests_total" in granted.text


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="OMNIDESK_METRICS_TOKEN"):
        load_settings(metrics_token="short")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nothing listens there


def test_widget_posts_while_redis_is_down_answer_503_in_the_visitors_language(
    client: TestClient, settings: Settings, db: Database, world: World
) -> None:
    """Redis unreachable (a closed port: refused at once; the machine's Redis is left alone): the widget's calls
    get 503 + Retry-After with a text the visitor can read, and nothing is half-stored."""
    visitor = start_visitor(client, world.slug)  # while everything was up
    conversation = visitor_conversation(client, visitor, "first")
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    cut = TestClient(create_app(down, db=db, bus=db.bus), raise_server_exceptions=False)

    started = cut.post(f"/api/v1/widget/{world.slug}/session", json={}, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert started.status_code == 503
    assert started.headers["retry-after"] == "5"
    assert started.headers["content-type"] == "application/problem+json"
    assert "请几秒后重试" in started.json()["detail"]

    sent = cut.post(
        f"{visitor['base']}/conversations/{conversation['id']}/messages",
        json={"body": "second", "client_id": "c-while-redis-is-down"},
        headers={**visitor["headers"], "Accept-Language": "en-GB,en;q=0.8"},
    )
    assert sent.status_code == 503
    assert int(sent.headers["retry-after"]) > 0
    assert "Try again in a few seconds" in sent.json()["detail"]
    assert sent.headers["content-language"] == "en"
    messages = client.get(f"{visitor['base']}/conversations/{conversation['id']}/messages", headers=visitor["headers"])
    assert [m["body"] for m in messages.json()["items"] if m["sender_type"] == "customer"] == ["first"]


INJECTED = ["Refund\r\nBcc: all@example.com", "two\nlines", "tab\there", "escape\x1b[31m", "next\x85line", "sep\u2028x"]


@pytest.mark.parametrize("value", INJECTED)
def test_a_ticket_subject_with_control_characters_is_a_422_naming_the_field(
    client: TestClient, world: World, value: str
) -> None:
    headers = world.headers(Role.AGENT)
    refused = client.post("/api/v1/tickets", headers=headers, json={"subject": value, "description": "a\nb"})
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "subject"
    assert "single line" in error["message"]
    assert refused.json()["detail"].startswith("subject: must be a single line")
    assert client.get("/api/v1/tickets", headers=headers).json()["items"] == []


def test_one_line_fields_across_the_api_refuse_line_breaks(client: TestClient, world: World) -> None:
    admin = world.headers()
    ticket = client.post(
        "/api/v1/tickets",
        headers=admin,
        json={"subject": "Parcel broken", "description": "line one\nline two"},  # multi-line text stays allowed
    )
    assert ticket.status_code == 201, ticket.text
    conversation = f"/api/v1/conversations/{world.conversation.id}"
    customer = f"/api/v1/customers/{world.customer.id}"
    for method, path, body, field in [
        ("PATCH", f"/api/v1/tickets/{ticket.json()['id']}", {"subject": "a\r\nb", "version": 1}, "subject"),
        ("PATCH", f"/api/v1/tickets/{ticket.json()['id']}", {"tags": ["ok", "x\ny"], "version": 1}, "tags.1"),
        ("PATCH", conversation, {"subject": "a\nb"}, "subject"),
        ("PATCH", customer, {"name": "Li\tLei"}, "name"),
        ("POST", "/api/v1/teams", {"name": "Team\r\nX"}, "name"),
        ("POST", "/api/v1/knowledge/articles", {"kind": "faq", "title": "Q\n?", "language": "en"}, "title"),
        ("POST", f"/api/v1/widget/{world.slug}/session", {"name": "Eve\r\nAdmin"}, "name"),
    ]:
        response = client.request(method, path, headers=admin, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == field, (path, response.text)
    assert client.get(customer, headers=admin).json()["name"] == world.customer.name


def _request_schemas(spec: dict[str, Any]) -> set[str]:
    """Names of the component schemas that request bodies use, nested ones included."""
    found: set[str] = set()
    text = json.dumps([op.get("requestBody", {}) for ops in spec["paths"].values() for op in ops.values()])
    todo = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        todo |= set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec["components"]["schemas"][name])))
    return found


def _refuses_control_characters(pattern: str | None) -> bool:
    if pattern in (ONE_LINE, TAG):
        return True
    return pattern is not None and not any(re.search(pattern, f"ab{c}cd") for c in "\r\n\t\x1b\x85")


def test_every_name_title_subject_and_tag_the_api_accepts_is_one_line(app: FastAPI) -> None:
    spec = app.openapi()
    one_line = {"name", "display_name", "title", "subject", "label", "identifier", "category", "intent", "tags"}
    loose = []
    for schema_name in _request_schemas(spec):
        for field, prop in spec["components"]["schemas"][schema_name].get("properties", {}).items():
            if field not in one_line:
                continue
            variants = prop.get("anyOf", [prop])
            strings = [v.get("items", v) for v in variants if v.get("type") in ("string", "array")]
            if any(s.get("type") == "string" and not _refuses_control_characters(s.get("pattern")) for s in strings):
                loose.append(f"{schema_name}.{field}")
    assert loose == []


def test_an_imported_multi_line_question_becomes_one_line(client: TestClient, world: World) -> None:
    # Real FAQ files wrap long questions inside a cell: the import keeps the words on one line (the API itself
    # refuses line breaks in a title, see above), so no stored subject or title ever holds a line break.
    content = b'question,answer,language\n"Where is\nmy parcel?","Track it.",en\n'
    r = client.post(
        "/api/v1/knowledge/import?format=csv",
        files={"file": ("faq.csv", content)},
        headers=world.headers(Role.KNOWLEDGE_MANAGER),
    )
    assert r.status_code == 200, r.text
    listing = client.get("/api/v1/knowledge/articles", headers=world.headers(Role.KNOWLEDGE_MANAGER)).json()
    titles = [a["title"] for a in listing["items"]]
    assert "Where is my parcel?" in titles
    assert not any("\n" in t or "\r" in t for t in titles)


FORGED_HOST = {"Host": "attacker.example"}


def test_a_forged_host_never_reaches_the_sitemap_or_the_snippet(settings: Settings, db: Database, world: World) -> None:
    configured = settings.model_copy(update={"public_url": "https://desk.example.com"})
    client = TestClient(create_app(configured, db=db, bus=db.bus))
    sitemap = client.get(f"/help/{world.slug}/sitemap.xml", headers=FORGED_HOST)
    assert sitemap.status_code == 200
    assert f"<loc>https://desk.example.com/help/{world.slug}</loc>" in sitemap.text
    assert "attacker" not in sitemap.text
    assert sitemap.headers["cache-control"] == "public, max-age=300"
    config = client.get("/api/v1/widget/config", headers={**world.headers(), **FORGED_HOST}).json()
    assert config["snippet"].startswith('<script src="https://desk.example.com/static/widget/loader.js"')
    assert "attacker" not in config["snippet"]
    reset = client.post(
        f"/api/v1/staff/{world.staff[Role.AGENT].id}/password-reset", headers={**world.headers(), **FORGED_HOST}
    )
    assert reset.json()["url"].startswith("https://desk.example.com/password-reset/")


def test_without_a_public_url_host_derived_links_are_never_cached(client: TestClient, world: World) -> None:
    """Development only (production refuses to start without OMNIDESK_PUBLIC_URL): the sitemap follows the Host
    header, so no shared cache may keep it for the next visitor."""
    sitemap = client.get(f"/help/{world.slug}/sitemap.xml", headers=FORGED_HOST)
    assert sitemap.status_code == 200
    assert sitemap.headers["cache-control"] == "private, no-store"
    config = client.get("/api/v1/widget/config", headers={**world.headers(), **FORGED_HOST})
    assert "no-store" in config.headers["cache-control"]
