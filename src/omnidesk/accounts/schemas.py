"""Request and response shapes of the accounts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from omnidesk.core.schemas import Email, Input, Language, Name, Output, ShortText, SingleLine, Slug, Timestamp
from omnidesk.security.permissions import Role

Skill = Annotated[SingleLine, StringConstraints(min_length=1, max_length=50)]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*$")]


class TenantCreate(Input):
    slug: Slug
    name: Name
    admin_email: Email
    default_language: Language = "zh-CN"
    time_zone: TimeZone = "Asia/Shanghai"


class TenantOut(Output):
    id: uuid.UUID
    slug: str
    name: str
    default_language: str
    time_zone: str
    is_active: bool
    created_at: datetime


class TenantCreated(TenantOut):
    admin_email: str
    admin_password: str = Field(description="one-time password of the first admin; shown once")


class StaffCreate(Input):
    email: Email
    display_name: Name
    role: Role
    language: Language = "zh-CN"
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="omit to generate a one-time password, returned once"
    )
    max_concurrent: int = Field(default=5, ge=1, le=100)


class StaffUpdate(Input):
    display_name: Name | None = None
    role: Role | None = None
    language: Language | None = None
    is_active: bool | None = None
    max_concurrent: int | None = Field(default=None, ge=1, le=100)


class StaffOut(Output):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    language: str
    is_active: bool
    max_concurrent: int
    skills: list[str] = Field(default_factory=list)
    created_at: datetime


class StaffSkills(Input):
    skills: list[Skill] = Field(max_length=50, description="the person's own skills; replaces the list")


class StaffTeams(Input):
    team_ids: list[uuid.UUID] = Field(max_length=200, description="the person's teams; replaces the list")


class StaffCreated(StaffOut):
    one_time_password: str | None = None


class RoleOut(Output):
    name: Role
    permissions: list[str]


class TeamCreate(Input):
    name: Name
    description: ShortText = ""
    skills: list[Skill] = Field(default=[], max_length=50)


class TeamUpdate(Input):
    name: Name | None = None
    description: ShortText | None = None
    skills: list[Skill] | None = Field(default=None, max_length=50)


class TeamOut(Output):
    id: uuid.UUID
    name: str
    description: str
    skills: list[str]
    member_ids: list[uuid.UUID] = Field(default_factory=list)
    created_at: datetime


class TeamMemberAdd(Input):
    user_id: uuid.UUID


class StaffSessionOut(Output):
    """A browser session of a person (no token: only its digest is stored, and that is never shown)."""

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str


class ApiKeyCreate(Input):
    name: Name
    role: Role
    expires_at: Timestamp | None = None


class ApiKeyOut(Output):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the secret key; shown once, never again")


PasswordText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PasswordChange(Input):
    current_password: PasswordText
    new_password: PasswordText = Field(description="at least 8 characters (15 or more recommended), not a common one")


class PasswordChanged(Output):
    other_sessions_ended: int


class SessionsEnded(Output):
    sessions_ended: int


class PasswordResetLink(Output):
    url: str = Field(description="one-time link to a set-new-password page; shown once, never stored in clear")
    expires_at: datetime
