"""Request and response shapes of the tickets API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from omnidesk.conversations.schemas import Channel
from omnidesk.core.schemas import Input, Int32, Output, SingleLine, Tag
from omnidesk.tickets.states import Priority, Status

Subject = Annotated[SingleLine, StringConstraints(min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
TypeKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class TicketCreate(Input):
    type: TypeKey = "inquiry"
    subject: Subject
    description: Annotated[str, StringConstraints(max_length=20_000)] = ""
    priority: Priority | None = Field(default=None, description="default: the type's default priority")
    customer_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = Field(default=None, description="link a conversation and copy its transcript")
    channel: Channel | None = None
    team_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = Field(default={}, max_length=50)
    tags: list[Tag] = Field(default=[], max_length=50)
    intent: Annotated[SingleLine, StringConstraints(max_length=80)] | None = Field(
        default=None, description="an intent from the assistant, used by classification"
    )
    major: bool = Field(default=False, description="a major complaint: goes through the green channel")
    concerned_staff_id: uuid.UUID | None = Field(default=None, description="complaints: the employee concerned")
    parent_id: uuid.UUID | None = None


class TicketUpdate(Input):
    version: Int32 = Field(ge=1, description="the version you loaded; a stale one gets 409")
    subject: Subject | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    priority: Priority | None = None
    category: Annotated[SingleLine, StringConstraints(max_length=80)] | None = None
    assignee_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=50)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    responsible_team_id: uuid.UUID | None = None


class Transition(Input):
    version: Int32 = Field(ge=1)
    status: Status
    reason: Note | None = Field(default=None, description="required to reopen")
    resolution: LongText | None = None
    root_cause: LongText | None = None
    prevention: LongText | None = None


class MessageIn(Input):
    body: Body
    public: bool = Field(default=False, description="true: a reply that reaches the customer; false: internal")


class CustomerMessageIn(Input):
    body: Body


class SurveyAnswer(Input):
    score: int = Field(ge=1, le=5, description="1 (poor) … 5 (excellent)")
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class TransferIn(Input):
    team_id: uuid.UUID
    note: Note


class WatcherIn(Input):
    staff_id: uuid.UUID


class LinkKind(StrEnum):
    RELATED = "related"
    PARENT = "parent"


class LinkIn(Input):
    other_id: uuid.UUID
    kind: LinkKind = LinkKind.RELATED


class MergeIn(Input):
    target_id: uuid.UUID
    note: Note | None = None


class AppealIn(Input):
    reason: Note


class AbuseIn(Input):
    note: Note


class Operation(StrEnum):
    DELETE = "delete"
    LOWER_PRIORITY = "lower_priority"
    REFUND = "refund"


class ApprovalCreate(Input):
    operation: Operation
    priority: Priority | None = Field(default=None, description="lower_priority: the new priority")
    amount: float | None = Field(default=None, gt=0, le=10_000_000, description="refund: the amount")
    reason: Note


class Decision(Input):
    approve: bool
    note: Annotated[str, StringConstraints(max_length=1000)] = ""


class GrantCreate(Input):
    staff_id: uuid.UUID
    permission: Annotated[str, StringConstraints(pattern=r"^tickets\.[a-z_]+$")]
    minutes: int = Field(ge=1, le=7 * 24 * 60)
    reason: Note


class FieldDef(Input):
    key: str
    label: Annotated[SingleLine, StringConstraints(max_length=200)] = ""
    kind: str
    required: bool = False
    options: list[Annotated[SingleLine, StringConstraints(max_length=100)]] = Field(default=[], max_length=100)
    min: float | None = None
    max: float | None = None


class TypeCreate(Input):
    key: TypeKey
    name: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
    fields: list[FieldDef] = Field(default=[], max_length=50)
    default_team_id: uuid.UUID | None = None
    default_priority: Priority = Priority.NORMAL


class TypeUpdate(Input):
    name: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)] | None = None
    fields: list[FieldDef] | None = Field(default=None, max_length=50)
    default_team_id: uuid.UUID | None = None
    default_priority: Priority | None = None
    is_active: bool | None = None


class PolicyIn(Input):
    type_key: Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]{1,39})$")] = "*"
    priority: Priority
    first_response_minutes: int = Field(ge=1, le=60 * 24 * 365)
    resolution_minutes: int = Field(ge=1, le=60 * 24 * 365)
    warn_percent: int = Field(default=80, ge=10, le=99)
    business_hours: bool = Field(
        default=True, description="count the targets in the tenant's business hours (true) or around the clock"
    )


class SettingsIn(Input):
    calendar: dict[str, Any] | None = None
    approval_chain: list[Annotated[str, StringConstraints(pattern=r"^(supervisor|admin)$")]] | None = Field(
        default=None, min_length=1, max_length=5
    )
    refund_threshold: float | None = Field(default=None, ge=0, le=10_000_000)
    routing_rules: list[dict[str, Any]] | None = Field(default=None, max_length=200)
    complaint_team_id: uuid.UUID | None = None
    survey_enabled: bool | None = None


class RuleIn(Input):
    name: Annotated[SingleLine, StringConstraints(min_length=1, max_length=120)]
    enabled: bool = True
    position: int = Field(default=0, ge=0, le=10_000)
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]] = Field(default=[], max_length=20)
    actions: list[dict[str, Any]] = Field(max_length=10)


class ViewIn(Input):
    name: Annotated[SingleLine, StringConstraints(min_length=1, max_length=120)]
    filters: dict[str, Any] = Field(max_length=20)
    shared: bool = False


class TicketOut(Output):
    id: uuid.UUID
    number: int
    type_key: str
    subject: str
    description: str
    status: Status
    priority: Priority
    category: str | None
    channel: str
    customer_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    team_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    last_handler_id: uuid.UUID | None
    second_handling: bool
    reopen_count: int
    escalated: bool
    green_channel: bool
    custom_fields: dict[str, Any]
    tags: list[str]
    resolution: str | None
    root_cause: str | None
    prevention: str | None
    parent_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    responsible_team_id: uuid.UUID | None
    concerned_staff_id: uuid.UUID | None
    appeal: dict[str, Any]
    abusive: bool
    status_changed_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class ClockOut(Output):
    metric: str
    cycle: int
    target_seconds: float
    elapsed_seconds: float
    running_since: datetime | None
    stopped_at: datetime | None
    deadline_at: datetime | None
    warn_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    met: bool | None
    business_hours: bool


class ChangeOut(Output):
    id: uuid.UUID
    ticket_id: uuid.UUID
    actor_type: str
    actor_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    field: str
    old: Any
    new: Any
    note: str
    created_at: datetime


class MessageOut(Output):
    id: uuid.UUID
    ticket_id: uuid.UUID
    public: bool
    author_type: str
    author_id: uuid.UUID | None
    body: str
    mentions: list[str]
    source: str
    created_at: datetime


class TypeOut(Output):
    id: uuid.UUID
    key: str
    name: str
    builtin: bool
    fields: list[dict[str, Any]]
    default_team_id: uuid.UUID | None
    default_priority: str
    is_active: bool


class PolicyOut(Output):
    id: uuid.UUID
    type_key: str
    priority: str
    first_response_minutes: int
    resolution_minutes: int
    warn_percent: int
    business_hours: bool


class SettingsOut(Output):
    calendar: dict[str, Any]
    approval_chain: list[str]
    refund_threshold: float
    routing_rules: list[dict[str, Any]]
    complaint_team_id: uuid.UUID | None
    survey_enabled: bool


class RuleOut(Output):
    id: uuid.UUID
    name: str
    enabled: bool
    position: int
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]


class ApprovalOut(Output):
    id: uuid.UUID
    ticket_id: uuid.UUID
    operation: str
    params: dict[str, Any]
    reason: str
    requested_by: uuid.UUID | None
    chain: list[str]
    step: int
    status: str
    decisions: list[dict[str, Any]]
    created_at: datetime
    decided_at: datetime | None


class GrantOut(Output):
    id: uuid.UUID
    staff_id: uuid.UUID
    permission: str
    reason: str
    expires_at: datetime


class NotificationOut(Output):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    ticket_ids: list[str]
    read_at: datetime | None
    created_at: datetime


class ViewOut(Output):
    id: uuid.UUID
    owner_id: uuid.UUID | None
    name: str
    filters: dict[str, Any]
    shared: bool


class AttachmentOut(Output):
    id: uuid.UUID
    ticket_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    evidence: bool
    created_at: datetime


class SurveyOut(Output):
    id: uuid.UUID
    ticket_id: uuid.UUID
    channel: str
    score: int | None
    comment: str
    sent_at: datetime
    answered_at: datetime | None


class TicketDetail(Output):
    ticket: TicketOut
    clocks: list[ClockOut]
    badges: dict[str, str]
    watchers: list[uuid.UUID]
    merged_from: list[uuid.UUID]
    surveys: list[SurveyOut]


class MacroIn(Input):
    """A macro: a name and up to 10 actions in the automation rules' vocabulary (``set_field`` of status, priority,
    category, team or assignee; ``assign``; ``add_tag``; ``reply_template`` with ``{{customer.name}}``,
    ``{{ticket.number}}``, ``{{ticket.subject}}`` placeholders)."""

    name: Annotated[SingleLine, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=10)


class MacroOut(Output):
    id: uuid.UUID
    name: str
    description: str
    actions: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class MacroApply(Input):
    version: Int32 | None = Field(
        default=None, ge=1, description="the ticket version you loaded; a stale one (or a retry) gets 409"
    )


class RequesterIn(Input):
    customer_id: uuid.UUID
