"""The console's configuration forms over HTTP (the browser walk is in test_console_config_browser.py): each write goes
through the slice's action (audited), bad input changes nothing and is answered in the form, a form without the
session's CSRF token is refused, and people without the API's permission get the 403 page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, session_csrf, sign_in

PAGES = (
    "/settings/hours",
    "/settings/sla",
    "/settings/ticket-types",
    "/settings/automations",
    "/settings/routing",
    "/settings/canned",
    "/settings/knowledge-categories",
)


def _admin(client: TestClient, world: World, role: Role = Role.ADMIN) -> str:
    sign_in(client, world, role)
    return session_csrf(client)


def _audits(db: Database, world: World, action: str) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)) or 0


def _post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, follow_redirects=False)


def test_every_page_renders_for_an_admin_in_both_languages(client: TestClient, world: World) -> None:
    _admin(client, world)
    for lang, nav in (("zh-CN", 'aria-label="设置"'), ("en", 'aria-label="Settings"')):
        client.get(f"/lang/{lang}")
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            assert nav in page.text and f'href="{path}" aria-current="page"' in page.text  # the one settings navigation
            assert 'name="csrf"' in page.text


def test_an_agent_gets_the_403_page_everywhere(client: TestClient, world: World) -> None:
    csrf = _admin(client, world, Role.AGENT)
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 403 and "权限" in page.text, path
    refused = _post(client, "/settings/sla", {"csrf": csrf, "priority": "urgent", "first_response_minutes": "5",
                                              "resolution_minutes": "60"})  # fmt: skip
    assert refused.status_code == 403


def test_a_form_without_the_session_token_is_refused(client: TestClient, world: World, db: Database) -> None:
    _admin(client, world)
    answer = _post(client, "/settings/sla", {"csrf": "forged", "priority": "urgent", "first_response_minutes": "5",
                                             "resolution_minutes": "60"})  # fmt: skip
    assert answer.status_code == 403
    assert _audits(db, world, "sla_policy.put") == 0


def test_hours_and_holidays(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = _post(client, "/settings/hours", {"csrf": csrf, "time_zone": "Asia/Shanghai", "mon": "9-18"})
    assert (
        bad.status_code == 422
        and "星期一：“9-18”不是 09:00-18:00 这样的时间段" in bad.text
        and 'value="9-18"' in bad.text
    )
    client.get("/lang/en")
    english = _post(client, "/settings/hours", {"csrf": csrf, "time_zone": "Asia/Shanghai", "tue": "morning"})
    assert (
        "Please correct the following; nothing was changed:\nTuesday: “morning” is not a range like 09:00-18:00"
        in english.text
    )
    zone = _post(client, "/settings/hours", {"csrf": csrf, "time_zone": "Mars/Base", "mon": "09:00-18:00"})
    assert zone.status_code == 422 and "unknown time zone" in zone.text
    assert _audits(db, world, "ticket_settings.update") == 0
    ok = _post(client, "/settings/hours", {"csrf": csrf, "time_zone": "Asia/Shanghai", "mon": "09:00-12:00, 13:00-18:00",
                                           "fri": "09:00-17:00"})  # fmt: skip
    assert ok.status_code == 303
    assert _post(client, "/settings/hours/holidays", {"csrf": csrf, "day": "2026-10-01"}).status_code == 303
    twice = _post(client, "/settings/hours/holidays", {"csrf": csrf, "day": "2026-10-01"})
    assert twice.status_code == 422 and "2026-10-01 is already a holiday" in twice.text
    got = client.get("/api/v1/ticket-settings", headers=world.headers()).json()["calendar"]
    assert got == {"time_zone": "Asia/Shanghai", "holidays": ["2026-10-01"],
                   "hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "fri": [["09:00", "17:00"]]}}  # fmt: skip
    assert _post(client, "/settings/hours/holidays/remove", {"csrf": csrf, "day": "2026-10-01"}).status_code == 303
    assert client.get("/api/v1/ticket-settings", headers=world.headers()).json()["calendar"]["holidays"] == []
    assert _audits(db, world, "ticket_settings.update") == 3


def test_sla_policies(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = _post(client, "/settings/sla", {"csrf": csrf, "type_key": "*", "priority": "urgent",
                                          "first_response_minutes": "120", "resolution_minutes": "60"})  # fmt: skip
    assert bad.status_code == 422 and "cannot be longer than the resolution target" in bad.text
    assert client.get("/api/v1/sla-policies", headers=world.headers()).json() == []
    ok = _post(client, "/settings/sla", {"csrf": csrf, "type_key": "*", "priority": "urgent",
                                         "first_response_minutes": "15", "resolution_minutes": "240", "clock": "calendar"})  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/settings/sla?done=saved"
    [policy] = client.get("/api/v1/sla-policies", headers=world.headers()).json()
    assert (policy["type_key"], policy["priority"], policy["first_response_minutes"]) == ("*", "urgent", 15)
    assert policy["business_hours"] is False
    edit = client.get(f"/settings/sla?edit={policy['id']}")
    assert 'value="240"' in edit.text
    assert _post(client, f"/settings/sla/{policy['id']}/delete", {"csrf": csrf}).status_code == 303
    assert client.get("/api/v1/sla-policies", headers=world.headers()).json() == []
    assert _audits(db, world, "sla_policy.put") == 1 and _audits(db, world, "sla_policy.delete") == 1


def _fields(*rows: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, row in enumerate(rows):
        for k, v in row.items():
            out[f"fields-{i}-{k}"] = v
    return out


def test_ticket_types_and_fields(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = _post(client, "/settings/ticket-types", {"csrf": csrf, "key": "warranty", "name": "保修",
                "default_priority": "normal", **_fields({"key": "model", "kind": "choice", "options": ""})})  # fmt: skip
    assert bad.status_code == 422 and "needs a list of distinct, non-empty options" in bad.text
    keys = [t["key"] for t in client.get("/api/v1/ticket-types", headers=world.headers()).json()]
    assert "warranty" not in keys
    ok = _post(client, "/settings/ticket-types", {"csrf": csrf, "key": "warranty", "name": "保修",
               "default_priority": "high", **_fields(
                   {"key": "model", "label": "型号", "kind": "choice", "options": "A1, B2", "required": "on"},
                   {"key": "hours", "kind": "number", "min": "0", "max": "100"},
                   {"key": "", "kind": "text"})})  # fmt: skip
    assert ok.status_code == 303, ok.text
    ty = next(t for t in client.get("/api/v1/ticket-types", headers=world.headers()).json() if t["key"] == "warranty")
    assert ty["default_priority"] == "high"
    assert [(f["key"], f["kind"], f["required"], f["options"]) for f in ty["fields"]] == [
        ("model", "choice", True, ["A1", "B2"]), ("hours", "number", False, [])]  # fmt: skip
    assert ty["fields"][1]["max"] == 100
    edited = _post(client, "/settings/ticket-types/warranty", {"csrf": csrf, "name": "保修服务", "default_priority": "high",
                   **_fields({"key": "model", "kind": "choice", "options": "A1"})})  # fmt: skip
    assert edited.status_code == 303
    ty = next(t for t in client.get("/api/v1/ticket-types", headers=world.headers()).json() if t["key"] == "warranty")
    assert ty["name"] == "保修服务" and ty["is_active"] is False and [f["key"] for f in ty["fields"]] == ["model"]
    assert _audits(db, world, "ticket_type.create") == 1


RULE = {"name": "VIP 加急", "enabled": "on", "position": "0", "event": "ticket.created", "fields": "", "since": "created_at",
        "minutes": "", "conditions": '[{"field": "priority", "op": "eq", "value": "urgent"}]',
        "actions": '[{"type": "add_tag", "tag": "vip"}]'}  # fmt: skip


def test_automation_rules_validate_and_dry_run(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    for subject, priority in (("紧急：无法登录", "urgent"), ("普通咨询", "normal")):
        made = client.post("/api/v1/tickets", headers=world.headers(), json={"subject": subject, "priority": priority})
        assert made.status_code == 201
    bad = _post(
        client,
        "/settings/automations",
        {**RULE, "csrf": csrf, "conditions": '[{"field": "colour", "op": "eq", "value": 1}]'},
    )
    assert bad.status_code == 422 and "conditions[0]: unknown field &#39;colour&#39;" in bad.text
    broken = _post(client, "/settings/automations", {**RULE, "csrf": csrf, "conditions": "[{"})
    assert broken.status_code == 422 and "conditions：不是有效的 JSON" in broken.text
    assert client.get("/api/v1/automations", headers=world.headers()).json() == []
    dry = _post(client, "/settings/automations", {**RULE, "csrf": csrf, "intent": "dry_run", "last": "10"})
    assert dry.status_code == 200
    rows = re.findall(r'data-match="(\d+)"', dry.text)
    assert len(rows) == 1 and "紧急：无法登录" in dry.text and "vip" in dry.text
    assert client.get("/api/v1/automations", headers=world.headers()).json() == []
    saved = _post(client, "/settings/automations", {**RULE, "csrf": csrf})
    assert saved.status_code == 303
    [rule] = client.get("/api/v1/automations", headers=world.headers()).json()
    assert rule["enabled"] and rule["actions"] == [{"type": "add_tag", "tag": "vip"}]
    form = client.get(f"/settings/automations?edit={rule['id']}")
    assert f'name="rule_id" value="{rule["id"]}"' in form.text and "VIP 加急" in form.text
    renamed = _post(client, "/settings/automations", {**RULE, "csrf": csrf, "rule_id": rule["id"], "name": "VIP 升级"})
    assert renamed.headers["location"].endswith("done=saved")
    [rule] = client.get("/api/v1/automations", headers=world.headers()).json()
    assert rule["name"] == "VIP 升级"
    assert (
        _post(client, f"/settings/automations/{rule['id']}/toggle", {"csrf": csrf})
        .headers["location"]
        .endswith("done=disabled")
    )
    assert client.get("/api/v1/automations", headers=world.headers()).json()[0]["enabled"] is False
    assert _post(client, f"/settings/automations/{rule['id']}/delete", {"csrf": csrf}).status_code == 303
    assert client.get("/api/v1/automations", headers=world.headers()).json() == []
    assert _audits(db, world, "automation.save") == 3 and _audits(db, world, "automation.delete") == 1


def test_routing_policy_and_capacity(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = _post(client, "/settings/routing", {"csrf": csrf, "accept_timeout_seconds": "2"})
    assert bad.status_code == 422
    assert _post(client, "/settings/routing", {"csrf": csrf, "accept_timeout_seconds": "90"}).status_code == 303
    assert client.get("/api/v1/routing/policy", headers=world.headers()).json()["accept_timeout_seconds"] == 90
    agent = world.staff[Role.AGENT]
    lead = world.staff[Role.SUPERVISOR]
    bad = _post(
        client, "/settings/routing/capacity", {"csrf": csrf, f"capacity-{agent.id}": "3", f"capacity-{lead.id}": "500"}
    )
    assert bad.status_code == 422
    with db.tenant_read(world.tenant_id) as s:
        from omnidesk.accounts.models import StaffUser

        assert s.scalar(select(StaffUser.max_concurrent).where(StaffUser.id == agent.id)) == 5
    ok = _post(client, "/settings/routing/capacity", {"csrf": csrf, f"capacity-{agent.id}": "3"})
    assert ok.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(StaffUser.max_concurrent).where(StaffUser.id == agent.id)) == 3
    assert _audits(db, world, "routing.policy_update") == 1 and _audits(db, world, "staff.update") == 1


def test_canned_responses(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = _post(client, "/settings/canned", {"csrf": csrf, "shortcut": "hi there", "title": "问候", "body": "您好"})
    assert bad.status_code == 422
    assert client.get("/api/v1/canned-responses", headers=world.headers()).json() == []
    assert (
        _post(
            client,
            "/settings/canned",
            {"csrf": csrf, "shortcut": "hi", "title": "问候", "body": "您好，{customer_name}"},
        ).status_code
        == 303
    )
    clash = _post(client, "/settings/canned", {"csrf": csrf, "shortcut": "hi", "title": "again", "body": "x"})
    assert clash.status_code == 422 and "already used" in clash.text
    [row] = client.get("/api/v1/canned-responses", headers=world.headers()).json()
    assert _post(client, "/settings/canned", {"csrf": csrf, "canned_id": row["id"], "shortcut": "hello", "title": "问候",
                                              "body": "您好"}).status_code == 303  # fmt: skip
    assert client.get("/api/v1/canned-responses", headers=world.headers()).json()[0]["shortcut"] == "hello"
    assert _post(client, f"/settings/canned/{row['id']}/delete", {"csrf": csrf}).status_code == 303
    assert client.get("/api/v1/canned-responses", headers=world.headers()).json() == []
    assert _audits(db, world, "canned.create") == 1 and _audits(db, world, "canned.delete") == 1


def test_knowledge_categories(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    for slug, zh in (("returns", "退换货"), ("shipping", "配送")):
        assert (
            _post(client, "/settings/knowledge-categories", {"csrf": csrf, "slug": slug, "name_zh": zh}).status_code
            == 303
        )
    dup = _post(client, "/settings/knowledge-categories", {"csrf": csrf, "slug": "returns", "name_zh": "x"})
    assert dup.status_code == 409 or dup.status_code == 422
    cats = client.get("/api/v1/knowledge/categories", headers=world.headers()).json()
    assert [c["slug"] for c in cats] == ["returns", "shipping"]
    shipping = cats[1]["id"]
    assert (
        _post(client, f"/settings/knowledge-categories/{shipping}/move", {"csrf": csrf, "direction": "up"}).status_code
        == 303
    )
    cats = client.get("/api/v1/knowledge/categories", headers=world.headers()).json()
    assert [c["slug"] for c in cats] == ["shipping", "returns"]
    assert _post(client, f"/settings/knowledge-categories/{shipping}/rename",
                 {"csrf": csrf, "name_zh": "物流", "name_en": "Shipping"}).status_code == 303  # fmt: skip
    article = client.post("/api/v1/knowledge/articles", headers=world.headers(),
                          json={"title": "多久到货", "body": "三天", "language": "zh-CN", "category_id": shipping})  # fmt: skip
    assert article.status_code == 201, article.text
    refused = _post(client, f"/settings/knowledge-categories/{shipping}/delete", {"csrf": csrf})
    assert refused.status_code == 409 and "还有 1 篇文章" in refused.text
    assert len(client.get("/api/v1/knowledge/categories", headers=world.headers()).json()) == 2
    returns = cats[1]["id"]
    assert _post(client, f"/settings/knowledge-categories/{returns}/delete", {"csrf": csrf}).status_code == 303
    cats = client.get("/api/v1/knowledge/categories", headers=world.headers()).json()
    assert [(c["slug"], c["names"]) for c in cats] == [("shipping", {"zh-CN": "物流", "en": "Shipping"})]
    assert _audits(db, world, "knowledge.category_delete") == 1


pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_console_texts_exist_in_both_languages() -> None:
    from omnidesk.i18n import catalogue

    zh = {k for k in catalogue("zh-CN") if k.startswith("console.")}
    en = {k for k in catalogue("en") if k.startswith("console.")}
    assert zh == en and len(en) > 100


def test_the_new_deletions_are_in_the_api_too(client: TestClient, world: World) -> None:
    admin = world.headers()
    policy = client.put("/api/v1/sla-policies", headers=admin,
                        json={"priority": "high", "first_response_minutes": 10, "resolution_minutes": 60}).json()  # fmt: skip
    assert client.delete(f"/api/v1/sla-policies/{policy['id']}", headers=world.headers(Role.AGENT)).status_code == 403
    assert client.delete(f"/api/v1/sla-policies/{policy['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/sla-policies/{policy['id']}", headers=admin).status_code == 404
    cat = client.post(
        "/api/v1/knowledge/categories", headers=admin, json={"slug": "faq", "names": {"en": "FAQ"}}
    ).json()
    made = client.post("/api/v1/knowledge/articles", headers=admin,
                       json={"title": "Hours", "body": "9 to 6", "language": "en", "category_id": cat["id"]})  # fmt: skip
    assert made.status_code == 201
    held = client.delete(f"/api/v1/knowledge/categories/{cat['id']}", headers=admin)
    assert held.status_code == 409 and "still holds 1 article" in held.json()["detail"]
    assert [c["slug"] for c in client.get("/api/v1/knowledge/categories", headers=admin).json()] == ["faq"]


def test_the_dry_run_looks_at_most_at_the_last_n_tickets(client: TestClient, world: World) -> None:
    csrf = _admin(client, world)
    for n in range(3):
        made = client.post(
            "/api/v1/tickets", headers=world.headers(), json={"subject": f"票 {n}", "priority": "urgent"}
        )
        assert made.status_code == 201
    for last, examined in (("2", 2), ("9999", 3), ("abc", 3)):
        dry = _post(client, "/settings/automations", {**RULE, "csrf": csrf, "intent": "dry_run", "last": last})
        assert dry.status_code == 200
        assert f"最近 {examined} 个工单中有 {examined} 个匹配" in dry.text


def test_each_role_opens_exactly_the_pages_its_permissions_allow(app: Any, world: World) -> None:
    from omnidesk.security.permissions import ROLE_PERMISSIONS
    from omnidesk.web.settings_nav import SECTIONS

    sections = [s for s in SECTIONS if s.href in PAGES]
    assert {s.href for s in sections} == set(PAGES)  # every console page is in the one navigation
    for role in Role:
        with TestClient(app) as client:
            sign_in(client, world, role)
            for section in sections:
                expected = 200 if set(section.perms) & ROLE_PERMISSIONS[role] else 403
                assert client.get(section.href).status_code == expected, (role, section.href)


def test_signed_out_visitors_are_sent_to_log_in(client: TestClient) -> None:
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
