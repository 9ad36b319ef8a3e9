"""Plain typed factory functions. Setup goes through the product's actions, never around them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.models import StaffUser
from omnidesk.accounts.schemas import ApiKeyCreate, StaffCreate, TeamCreate, TenantCreate
from omnidesk.conversations import actions as conversations
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import ConversationCreate
from omnidesk.core.actor import Actor, ActorKind, system_actor
from omnidesk.core.db import Database
from omnidesk.customers import actions as customers
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.security.permissions import Role

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    """A tenant populated with one persona per role."""

    tenant_id: uuid.UUID
    slug: str
    staff: dict[Role, StaffUser]
    keys: dict[Role, str]
    team_id: uuid.UUID
    customer: Customer
    conversation: Conversation
    emails: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def actor(self, role: Role = Role.ADMIN) -> Actor:
        user = self.staff[role]
        return Actor(tenant_id=self.tenant_id, kind=ActorKind.STAFF, id=user.id, role=role)


def make_tenant(db: Database, slug: str | None = None) -> tuple[uuid.UUID, str, StaffUser]:
    slug = slug or f"t-{uuid.uuid4().hex[:12]}"
    with db.platform_transaction() as s:
        tenant, admin, _ = accounts.create_tenant(
            s, TenantCreate(slug=slug, name=f"Tenant {slug}", admin_email=f"owner@{slug}.example")
        )
    return tenant.id, slug, admin


def make_world(db: Database) -> World:
    tenant_id, slug, _ = make_tenant(db)
    system = system_actor(tenant_id)
    staff: dict[Role, StaffUser] = {}
    keys: dict[Role, str] = {}
    emails: dict[Role, str] = {}
    with db.tenant_transaction(tenant_id) as s:
        for role in Role:
            email = f"{role.value}@{slug}.example"
            user, _ = accounts.do_create_staff(
                s, system, StaffCreate(email=email, display_name=f"{role.value} 员工", role=role, password=PASSWORD)
            )
            staff[role] = user
            emails[role] = email
            _, keys[role] = accounts.do_create_api_key(s, system, ApiKeyCreate(name=f"{role.value} key", role=role))
        team = accounts.create_team(s, system, TeamCreate(name="售后 After-sales"))
        accounts.add_team_member(s, system, team.id, staff[Role.AGENT].id)
        customer = customers.create_customer(
            s,
            system,
            CustomerCreate(
                name="李雷 Li Lei",
                email=f"li.lei@{slug}.example",
                phone="+8613800138000",
                identities=[{"kind": "web_visitor", "value": f"v-{uuid.uuid4().hex[:8]}"}],  # type: ignore[list-item]
            ),
        )
        conversation = conversations.open_conversation(
            s,
            system,
            ConversationCreate(
                customer_id=customer.id, channel="web", subject="快递到哪了", message="我的快递到哪了？"
            ),
        )
    return World(
        tenant_id=tenant_id,
        slug=slug,
        staff=staff,
        keys=keys,
        team_id=team.id,
        customer=customer,
        conversation=conversation,
        emails=emails,
    )


def sign_in(client: TestClient, world: World, role: Role = Role.AGENT, password: str = PASSWORD) -> str:
    """Sign in through the log-in form like a person; return where the browser is sent next."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    response = client.post(
        "/login",
        data={"workspace": world.slug, "email": world.emails[role], "password": password, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return str(response.headers["location"])


def browser_sign_in(page: Any, base: str, world: World, role: Role = Role.AGENT, password: str = PASSWORD) -> None:
    """Sign in through the log-in page in a real browser (Chinese labels: the default language), land on home."""
    page.goto(f"{base}/login")
    page.get_by_label("工作区").fill(world.slug)
    page.get_by_label("邮箱").fill(world.emails[role])
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the signed-in session, as the home page embeds it."""
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


def start_visitor(client: Any, slug: str, **body: object) -> dict[str, Any]:
    """A widget visitor's session (``visitor_id``, ``token``, ``socket_token``) through the public API."""
    response = client.post(f"/api/v1/widget/{slug}/session", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    data["headers"] = {"Authorization": f"Bearer {data['token']}"}
    data["base"] = f"/api/v1/widget/{slug}"
    return data


def visitor_conversation(client: Any, visitor: dict[str, Any], text: str = "你好，我的订单还没到") -> dict[str, Any]:
    response = client.post(
        f"{visitor['base']}/conversations",
        json={"message": text, "client_id": f"c-{uuid.uuid4().hex[:12]}"},
        headers=visitor["headers"],
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
