"""The staff console's people pages over HTTP (forms as a browser posts them): users, teams and skills, roles, API
keys, and the audit page's CSV export. The browser walks are in tests/web/test_console_people_browser.py."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.accounts.models import ApiKey, StaffSession, StaffUser, Team, TeamMember
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.web import settings_nav
from tests.factories import World, sign_in


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _admin(client: TestClient, world: World) -> str:
    sign_in(client, world, Role.ADMIN)
    return _csrf(client.get("/settings/users").text)


def _count(db: Database, world: World, model: type, *where: object) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return len(list(s.scalars(select(model).where(*where))))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path",
    [
        "/settings",
        "/settings/users",
        "/settings/teams",
        "/settings/roles",
        "/settings/api-keys",
        "/audit",
        "/audit.csv",
    ],
)
def test_an_agent_gets_403_on_every_console_page(client: TestClient, world: World, path: str) -> None:
    sign_in(client, world, Role.AGENT)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 403, path


def test_pages_follow_the_roles(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.SUPERVISOR)
    assert client.get("/settings/teams").status_code == 200
    assert client.get("/settings/roles").status_code == 200
    assert client.get("/settings/users").status_code == 403  # supervisors manage teams, not accounts
    nav = client.get("/settings").text
    assert 'href="/settings/teams"' in nav and 'href="/settings/users"' not in nav
    assert 'href="/audit"' not in nav
    with TestClient(client.app) as auditor:
        sign_in(auditor, world, Role.AUDITOR)
        landing = auditor.get("/settings")
        assert landing.status_code == 200 and 'href="/audit"' in landing.text
        assert 'href="/settings/teams"' not in landing.text


def test_the_navigation_lists_sections_only_once_their_page_exists(client: TestClient, world: World) -> None:
    _admin(client, world)
    nav = client.get("/settings").text
    for present in ("/settings/users", "/settings/teams", "/settings/roles", "/settings/api-keys", "/audit",
                    "/settings/channels", "/settings/channels/email", "/admin/assistant", "/admin/webhooks",
                    "/admin/jobs"):  # fmt: skip
        assert f'href="{present}"' in nav, present
    # Another change adds the SLA page: its line in the registry shows up by itself, with nothing else to do.
    later = FastAPI()
    later.include_router(settings_nav.router)
    later.add_api_route("/settings/sla", lambda: PlainTextResponse("sla"), methods=["GET"])
    scope = {"type": "http", "app": later, "path": "/settings/sla", "headers": [], "query_string": b"",
             "state": {"actor": world.actor(Role.ADMIN)}}  # fmt: skip
    items = settings_nav.visible_sections(Request(scope))
    assert [(i.key, i.current) for i in items] == [("sla", True)]
    scope["state"] = {"actor": world.actor(Role.AGENT)}
    assert settings_nav.visible_sections(Request(scope)) == []
    # The older admin pages carry the same navigation, with the current page marked.
    jobs = client.get("/admin/jobs").text
    assert 'class="settings-nav"' in jobs and 'href="/admin/jobs" aria-current="page"' in jobs
    assert client.get("/admin/staff", follow_redirects=False).headers["location"] == "/settings/users"


def test_an_invite_with_bad_input_changes_nothing_and_says_why_beside_the_field(
    client: TestClient, world: World, db: Database
) -> None:
    csrf = _admin(client, world)
    before = _count(db, world, StaffUser)
    bad = client.post(
        "/settings/users", data={"csrf": csrf, "email": "not-an-address", "display_name": "", "role": "wizard"}
    )
    assert bad.status_code == 422
    assert 'id="email-error"' in bad.text and 'id="display_name-error"' in bad.text and 'id="role-error"' in bad.text
    assert 'value="not-an-address"' in bad.text  # what was typed is kept
    taken = client.post(
        "/settings/users",
        data={"csrf": csrf, "email": world.emails[Role.AGENT], "display_name": "重名", "role": "agent"},
    )
    assert taken.status_code == 409 and 'id="email-error"' in taken.text
    # A team id that is not one of this workspace's: the person is not created either (one transaction).
    ghost = client.post(
        "/settings/users",
        data={
            "csrf": csrf,
            "email": "ghost@x.example",
            "display_name": "G",
            "role": "agent",
            "teams": str(uuid.uuid4()),
        },
    )
    assert ghost.status_code == 404
    assert _count(db, world, StaffUser) == before


def test_an_admin_invites_changes_and_deactivates_a_person(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    answer = client.post(
        "/settings/users",
        data={"csrf": csrf, "email": "New.Hire@x.example", "display_name": "新同事", "role": "agent",
              "language": "en", "teams": str(world.team_id)},
    )  # fmt: skip
    assert answer.status_code == 200 and "data-created" in answer.text
    password = re.search(r'<code class="secret" aria-label="[^"]+">([^<]+)</code>', answer.text)
    assert password and len(password.group(1)) >= 12
    with db.tenant_read(world.tenant_id) as s:
        hire = s.scalars(select(StaffUser).where(StaffUser.email == "new.hire@x.example")).one()
        assert hire.must_change_password and hire.language == "en"
        assert s.scalar(select(TeamMember.id).where(TeamMember.user_id == hire.id)) is not None
        hire_id = hire.id
    assert password.group(1) not in client.get("/settings/users").text  # shown once

    team = client.post("/settings/teams", data={"csrf": csrf, "name": "退款组"}, follow_redirects=False)
    team_id = team.headers["location"].split("/")[-1].split("?")[0]
    saved = client.post(
        f"/settings/users/{hire_id}",
        data={"csrf": csrf, "display_name": "新同事", "role": "supervisor", "teams": team_id},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        assert s.get(StaffUser, hire_id).role == "supervisor"  # type: ignore[union-attr]
        teams = set(s.scalars(select(TeamMember.team_id).where(TeamMember.user_id == hire_id)))
        assert teams == {uuid.UUID(team_id)}
    # An admin cannot take away their own role: inline message, nothing changed.
    me = world.staff[Role.ADMIN].id
    own = client.post(f"/settings/users/{me}", data={"csrf": csrf, "display_name": "x", "role": "agent"})
    assert own.status_code == 422 and 'id="role-error"' in own.text
    off = client.post(f"/settings/users/{hire_id}/active", data={"csrf": csrf, "active": "0"}, follow_redirects=False)
    assert off.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        assert not s.get(StaffUser, hire_id).is_active  # type: ignore[union-attr]
        assert s.get(StaffUser, me).role == "admin"  # type: ignore[union-attr]
    actions = {a for a in _actions(db, world)}
    assert {"staff.create", "staff.update", "team.member_add", "team.member_remove", "team.create"} <= actions


def _actions(db: Database, world: World) -> list[str]:
    with db.tenant_read(world.tenant_id) as s:
        return list(s.scalars(select(AuditRecord.action)))


def test_an_admin_sees_and_ends_another_persons_session(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    agent = world.staff[Role.AGENT].id
    with TestClient(client.app) as agent_browser:
        sign_in(agent_browser, world, Role.AGENT)
        assert agent_browser.get("/", follow_redirects=False).status_code == 200
        page = client.get(f"/settings/users/{agent}")
        [session_id] = re.findall(r'data-session="([^"]+)"', page.text)
        ended = client.post(
            f"/settings/users/{agent}/sessions/{session_id}/end", data={"csrf": csrf}, follow_redirects=False
        )
        assert ended.status_code == 303
        assert agent_browser.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert _count(db, world, StaffSession, StaffSession.user_id == agent, StaffSession.revoked_at.is_(None)) == 0
    assert "staff.session_ended" in _actions(db, world)


def test_teams_and_skills(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    bad = client.post("/settings/teams", data={"csrf": csrf, "name": "a\tb", "skills": "x" * 60})
    assert bad.status_code == 422 and 'id="name-error"' in bad.text
    assert _count(db, world, Team) == 1
    made = client.post("/settings/teams", data={"csrf": csrf, "name": "VIP", "skills": "退款，English, 退款"},
                       follow_redirects=False)  # fmt: skip
    team_id = uuid.UUID(made.headers["location"].split("/")[-1].split("?")[0])
    agent = world.staff[Role.AGENT].id
    client.post(f"/settings/teams/{team_id}/members", data={"csrf": csrf, "user_id": str(agent)})
    renamed = client.post(f"/settings/teams/{team_id}", data={"csrf": csrf, "name": "VIP 组", "skills": "退款"},
                          follow_redirects=False)  # fmt: skip
    assert renamed.status_code == 303
    skills = client.post(f"/settings/teams/skills/{agent}", data={"csrf": csrf, "skills": "粤语, refunds, 粤语"},
                         follow_redirects=False)  # fmt: skip
    assert skills.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        team = s.get(Team, team_id)
        assert team is not None and team.name == "VIP 组" and team.skills == ["退款"]
        assert s.get(StaffUser, agent).skills == ["粤语", "refunds"]  # type: ignore[union-attr]
    unconfirmed = client.post(f"/settings/teams/{team_id}/delete", data={"csrf": csrf})
    assert unconfirmed.status_code == 422 and _count(db, world, Team, Team.id == team_id) == 1
    gone = client.post(f"/settings/teams/{team_id}/delete", data={"csrf": csrf, "confirm": "yes"},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303 and _count(db, world, Team, Team.id == team_id) == 0
    assert _count(db, world, TeamMember, TeamMember.team_id == team_id) == 0
    assert {"team.delete", "staff.skills", "team.update"} <= set(_actions(db, world))


def test_the_roles_matrix_is_translated(client: TestClient, world: World) -> None:
    _admin(client, world)
    zh = client.get("/settings/roles").text
    assert "查看审计日志" in zh and "审计员" in zh
    client.get("/lang/en")
    en = client.get("/settings/roles").text
    assert "Read the audit log" in en and 'data-perm="audit.read"' in en


def test_api_keys_show_the_secret_once_and_revoke(client: TestClient, world: World, db: Database) -> None:
    csrf = _admin(client, world)
    before = _count(db, world, ApiKey)
    bad = client.post("/settings/api-keys", data={"csrf": csrf, "name": "", "role": "agent", "expires": "2001-01-01"})
    assert bad.status_code == 422 and 'id="name-error"' in bad.text and _count(db, world, ApiKey) == before
    past = client.post(
        "/settings/api-keys", data={"csrf": csrf, "name": "old", "role": "agent", "expires": "2001-01-01"}
    )
    assert past.status_code == 422 and 'id="expires-error"' in past.text and _count(db, world, ApiKey) == before
    made = client.post("/settings/api-keys", data={"csrf": csrf, "name": "CRM 同步", "role": "agent"})
    secret = re.search(r'<code class="secret" aria-label="[^"]+">([^<]+)</code>', made.text)
    assert secret
    key = secret.group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code in (200, 404)
    assert client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listing = client.get("/settings/api-keys").text
    assert key not in listing and "CRM 同步" in listing
    with db.tenant_read(world.tenant_id) as s:
        key_id = s.scalars(select(ApiKey.id).where(ApiKey.name == "CRM 同步")).one()
    client.post(f"/settings/api-keys/{key_id}/revoke", data={"csrf": csrf})
    assert client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_the_csv_export_filters_and_masks_like_the_api(client: TestClient, world: World) -> None:
    # A change to a customer's phone number: its audit diff holds contact details.
    customer = world.customer.id
    patched = client.patch(f"/api/v1/customers/{customer}", headers=world.headers(), json={"phone": "+8613800138000"})
    assert patched.status_code == 200, patched.text
    api = client.get("/api/v1/audit", headers=world.headers(Role.AUDITOR), params={"target_type": "customer"})
    api_changes = [r["changes"] for r in api.json()["items"]]
    assert api_changes and "+8613800138000" not in str(api_changes)
    sign_in(client, world, Role.AUDITOR)
    page = client.get("/audit", params={"target_type": "customer"})
    assert page.status_code == 200 and "+8613800138000" not in page.text
    export = client.get("/audit.csv", params={"target_type": "customer"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + len(api_changes)
    assert {r[5] for r in rows[1:]} == {"customer"} and "+8613800138000" not in export.text
    bad = client.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and 'id="since-error"' in bad.text
    assert client.get("/audit.csv", params={"actor": "nobody"}).status_code == 422
    # The export is itself on the trail.
    trail = client.get("/api/v1/audit", headers=world.headers(Role.AUDITOR), params={"action": "audit.export"})
    assert trail.json()["items"]


def test_every_console_text_exists_in_both_languages() -> None:
    from omnidesk.i18n import catalogue
    from omnidesk.security.permissions import Perm
    from omnidesk.web.settings_nav import GROUPS, SECTIONS

    zh, en = catalogue("zh-CN"), catalogue("en")
    ours = {k for k in en if k.startswith(("settings.", "audit.", "perm."))}
    assert ours == {k for k in zh if k.startswith(("settings.", "audit.", "perm."))}
    needed = {f"settings.nav.{s.key}" for s in SECTIONS} | {f"settings.about.{s.key}" for s in SECTIONS}
    needed |= {f"settings.group.{g}" for g in GROUPS} | {f"perm.{p.value}" for p in Perm}
    assert needed <= ours, needed - ours
    assert all(s.group in GROUPS for s in SECTIONS)
