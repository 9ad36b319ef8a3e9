"""The accounts actions the staff console added: each authorizes, writes its audit record and queues its typed
event in the caller's transaction; a refusal changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from omnidesk.accounts import actions, queries
from omnidesk.accounts.models import StaffSession, TeamMember
from omnidesk.accounts.schemas import TeamCreate
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import NotFound, PermissionDenied
from omnidesk.events.outbox import queued_events
from omnidesk.events.types import AccessRevoked, StaffUpdated, TeamAdded, TeamRemoved, TeamUpdated
from omnidesk.security.permissions import Role
from tests.factories import World


def test_team_lifecycle_queues_events_and_audits(db: Database, world: World) -> None:
    admin = world.actor(Role.ADMIN)
    agent = world.staff[Role.AGENT].id
    with db.tenant_transaction(world.tenant_id) as s:
        team = actions.create_team(s, admin, TeamCreate(name="夜班"))
        teams = actions.set_staff_teams(s, admin, agent, [team.id])
        assert teams == [team.id]  # the agent left the world's team and joined this one
        kinds = [type(e) for e in queued_events(s)]
        assert kinds.count(TeamAdded) == 1 and kinds.count(TeamUpdated) == 2 and AccessRevoked in kinds
        team_id = team.id
    with db.tenant_transaction(world.tenant_id) as s:
        actions.delete_team(s, admin, team_id)
        events = queued_events(s)
        assert any(isinstance(e, TeamRemoved) and e.team_id == team_id for e in events)
        assert any(isinstance(e, AccessRevoked) and e.staff_id == agent for e in events)
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(TeamMember.id).where(TeamMember.team_id == team_id)) is None
        done = set(s.scalars(select(AuditRecord.action).where(AuditRecord.target_id == str(team_id))))
        assert {"team.create", "team.member_add", "team.delete"} <= done


def test_setting_teams_with_an_unknown_team_changes_nothing(db: Database, world: World) -> None:
    agent = world.staff[Role.AGENT].id
    with pytest.raises(NotFound), db.tenant_transaction(world.tenant_id) as s:
        actions.set_staff_teams(s, world.actor(Role.ADMIN), agent, [uuid.uuid4()])
    with db.tenant_read(world.tenant_id) as s:
        assert queries.teams_of(s, agent) == {world.team_id}


def test_skills_and_sessions_need_their_permissions(db: Database, world: World) -> None:
    agent = world.staff[Role.AGENT].id
    with pytest.raises(PermissionDenied), db.tenant_transaction(world.tenant_id) as s:
        actions.set_staff_skills(s, world.actor(Role.AGENT), agent, ["x"])
    with db.tenant_transaction(world.tenant_id) as s:
        user = actions.set_staff_skills(s, world.actor(Role.SUPERVISOR), agent, [" 退款 ", "VIP", "vip", ""])
        assert user.skills == ["退款", "VIP"]
        assert any(isinstance(e, StaffUpdated) for e in queued_events(s))
        live = StaffSession(
            tenant_id=world.tenant_id, token_digest=uuid.uuid4().hex, csrf_token="c", user_id=agent,
            expires_at=utcnow() + timedelta(hours=1),
        )  # fmt: skip
        s.add(live)
        s.flush()
        session_id = live.id
    with pytest.raises(PermissionDenied), db.tenant_transaction(world.tenant_id) as s:
        actions.end_session_of(s, world.actor(Role.SUPERVISOR), agent, session_id)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.end_session_of(s, world.actor(Role.ADMIN), agent, session_id)
        revoked = [e for e in queued_events(s) if isinstance(e, AccessRevoked)]
        assert revoked and revoked[0].session_ids == [str(session_id)]
    with db.tenant_read(world.tenant_id) as s:
        assert queries.live_sessions_of(s, agent) == []
