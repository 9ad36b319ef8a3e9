"""Storage models of the tickets slice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class TicketSettings(TenantOwned, Base):
    """Per-tenant ticket configuration: business calendar, approval chain, refund threshold, routing rules."""

    __tablename__ = "ticket_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    calendar: Mapped[dict[str, Any]] = mapped_column(default=dict)
    approval_chain: Mapped[list[str]] = mapped_column(default=list)
    refund_threshold: Mapped[float] = mapped_column(Float, default=500.0)
    routing_rules: Mapped[list[Any]] = mapped_column(JSON, default=list)
    complaint_team_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    survey_enabled: Mapped[bool] = mapped_column(default=True)
    last_number: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketType(TenantOwned, Base):
    """A kind of ticket (inquiry, request, fault, complaint, or the tenant's own) with its field template."""

    __tablename__ = "ticket_types"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    builtin: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    default_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    default_priority: Mapped[str] = mapped_column(String(16), default="normal")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(TenantOwned, Base):
    """First-response and resolution targets (minutes) for one priority, per type or for all (``*``), counted in
    the tenant's business hours or, with ``business_hours`` off, around the clock."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "type_key", "priority"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type_key: Mapped[str] = mapped_column(String(40), default="*")
    priority: Mapped[str] = mapped_column(String(16))
    first_response_minutes: Mapped[int] = mapped_column()
    resolution_minutes: Mapped[int] = mapped_column()
    warn_percent: Mapped[int] = mapped_column(default=80)
    business_hours: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ticket(TenantOwned, Base):
    """A work order (工单): one piece of work with a type, a lifecycle, SLA clocks and a full change history."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_tickets_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_tickets_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_tickets_tenant_team_status", "tenant_id", "team_id", "status", "created_at"),
        Index("ix_tickets_tenant_assignee_created", "tenant_id", "assignee_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[int] = mapped_column()
    type_key: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    category: Mapped[str | None] = mapped_column(String(80), default=None)
    channel: Mapped[str] = mapped_column(String(32), default="api")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None, index=True
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None, index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    last_handler_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    second_handling: Mapped[bool] = mapped_column(default=False)
    reopen_count: Mapped[int] = mapped_column(default=0)
    escalated: Mapped[bool] = mapped_column(default=False)
    green_channel: Mapped[bool] = mapped_column(default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    root_cause: Mapped[str | None] = mapped_column(Text, default=None)
    prevention: Mapped[str | None] = mapped_column(Text, default=None)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), default=None)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), default=None
    )
    responsible_team_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    concerned_staff_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    appeal: Mapped[dict[str, Any]] = mapped_column(default=dict)
    abusive: Mapped[bool] = mapped_column(default=False)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_responded_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TicketChange(TenantOwned, Base):
    """One field change: who (a person, a key, the system or an automation rule), which field, old and new."""

    __tablename__ = "ticket_changes"
    __table_args__ = (Index("ix_ticket_changes_ticket", "ticket_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    rule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    field: Mapped[str] = mapped_column(String(60))
    old: Mapped[Any] = mapped_column(JSON, default=None)
    new: Mapped[Any] = mapped_column(JSON, default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketMessage(TenantOwned, Base):
    """A public reply (reaches the customer), an internal comment, or a customer message on a ticket."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    public: Mapped[bool] = mapped_column(default=False)
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[str]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(24), default="agent")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketWatcher(TenantOwned, Base):
    """A staff member following a ticket: notified of its changes."""

    __tablename__ = "ticket_watchers"
    __table_args__ = (UniqueConstraint("ticket_id", "staff_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketLink(TenantOwned, Base):
    """A relation between two tickets: ``related`` (both ways) or ``merged`` (source → target)."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketAttachment(TenantOwned, Base):
    """A file on a ticket (evidence of a complaint, a screenshot); the bytes live in the blob store."""

    __tablename__ = "ticket_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    blob_key: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[bool] = mapped_column(default=False)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaClock(TenantOwned, Base):
    """One SLA metric of one ticket in one cycle (a reopen starts a new cycle), with its stored deadlines.

    ``due_at`` is the next instant the reconciler must act (the warning, then the breach); it is NULL when
    nothing is due (paused, stopped, or already breached), so the reconciler's indexed query skips the row.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "cycle"),
        Index("ix_sla_clocks_due", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(20))
    cycle: Mapped[int] = mapped_column(default=1)
    target_seconds: Mapped[float] = mapped_column(Float)
    warn_percent: Mapped[int] = mapped_column(default=80)
    business_hours: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Counted in the tenant's business hours (the policy's choice when the clock started) or around the clock."""
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    warn_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    warned_at: Mapped[datetime | None] = mapped_column(default=None)
    breached_at: Mapped[datetime | None] = mapped_column(default=None)
    met: Mapped[bool | None] = mapped_column(default=None)


class SlaEvent(TenantOwned, Base):
    """The once-only marker of a warning or breach: the unique key makes a second escalation impossible."""

    __tablename__ = "sla_events"
    __table_args__ = (UniqueConstraint("clock_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    clock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationRule(TenantOwned, Base):
    """ "When (event or elapsed time + conditions) then (actions)", defined by the tenant."""

    __tablename__ = "automation_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    trigger: Mapped[dict[str, Any]] = mapped_column(default=dict)
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationRun(TenantOwned, Base):
    """That an elapsed-time rule fired for a ticket at one anchor time: fired once, even with two workers."""

    __tablename__ = "automation_runs"
    __table_args__ = (UniqueConstraint("rule_id", "ticket_id", "marker"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    marker: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Approval(TenantOwned, Base):
    """A high-risk operation waiting for its approver chain (deletion, lowering priority, large refunds)."""

    __tablename__ = "ticket_approvals"
    __table_args__ = (Index("ix_ticket_approvals_status", "tenant_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    operation: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    requested_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    chain: Mapped[list[str]] = mapped_column(default=list)
    step: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class PermissionGrant(TenantOwned, Base):
    """A temporary extra permission for one staff member; void after ``expires_at`` without anyone acting."""

    __tablename__ = "permission_grants"
    __table_args__ = (Index("ix_permission_grants_staff", "staff_id", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(60))
    granted_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(TenantOwned, Base):
    """An in-app notice for one staff member; SLA alerts are batched into one notice per recipient per tick."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient", "recipient_id", "read_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    ticket_ids: Mapped[list[str]] = mapped_column(default=list)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailOutbox(TenantOwned, Base):
    """An e-mail to send: written in the action's transaction, delivered by the worker after commit."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "sent_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedView(TenantOwned, Base):
    """A named set of ticket-list filters, private to its owner or shared with the tenant."""

    __tablename__ = "ticket_views"
    __table_args__ = (UniqueConstraint("tenant_id", "owner_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(120))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(TenantOwned, Base):
    """The satisfaction survey sent when a ticket is resolved, on the customer's channel or by e-mail."""

    __tablename__ = "ticket_surveys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    score: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)


class Macro(TenantOwned, Base):
    """A named set of ticket actions an agent applies in one click (the automation rules' action vocabulary)."""

    __tablename__ = "ticket_macros"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
