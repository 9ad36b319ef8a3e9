"""Roles and the permissions each one grants, checked in one place (:func:`require`).

The matrix is documented in ``docs/api.md``; tests assert it route by route.
"""

from __future__ import annotations

from enum import StrEnum

from omnidesk.core.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    QUALITY_INSPECTOR = "quality_inspector"
    KNOWLEDGE_MANAGER = "knowledge_manager"
    AUDITOR = "auditor"


class Perm(StrEnum):
    STAFF_READ = "staff.read"
    STAFF_MANAGE = "staff.manage"
    TEAMS_READ = "teams.read"
    TEAMS_MANAGE = "teams.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    CUSTOMERS_PII = "customers.pii"
    CONVERSATIONS_READ = "conversations.read"
    CONVERSATIONS_READ_ALL = "conversations.read_all"
    CONVERSATIONS_WRITE = "conversations.write"
    CONVERSATIONS_ASSIGN = "conversations.assign"
    NOTES_WRITE = "notes.write"
    AUDIT_READ = "audit.read"
    TENANT_SETTINGS = "tenant.settings"
    KNOWLEDGE_READ = "knowledge.read"
    KNOWLEDGE_SUGGEST = "knowledge.suggest"
    KNOWLEDGE_WRITE = "knowledge.write"
    KNOWLEDGE_PUBLISH = "knowledge.publish"
    KNOWLEDGE_ANALYTICS = "knowledge.analytics"
    BOT_TEST = "bot.test"
    BOT_MANAGE = "bot.manage"
    TICKETS_READ = "tickets.read"
    TICKETS_READ_ALL = "tickets.read_all"
    TICKETS_WRITE = "tickets.write"
    TICKETS_ASSIGN = "tickets.assign"
    TICKETS_APPROVE = "tickets.approve"
    TICKETS_REPORTS = "tickets.reports"
    TICKETS_ADMIN = "tickets.admin"
    CANNED_RESPONSES_MANAGE = "canned_responses.manage"
    ROUTING_SUPERVISE = "routing.supervise"
    QA_REVIEW = "qa.review"  # read every score, override with a reason, calibrate, decide appeals
    QA_MANAGE = "qa.manage"  # scorecards, the sensitive-phrase policy, training material


_ALL = frozenset(Perm)

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: _ALL,
    Role.SUPERVISOR: frozenset(
        {
            Perm.STAFF_READ,
            Perm.TEAMS_READ,
            Perm.TEAMS_MANAGE,
            Perm.CUSTOMERS_READ,
            Perm.CUSTOMERS_WRITE,
            Perm.CUSTOMERS_PII,
            Perm.CONVERSATIONS_READ,
            Perm.CONVERSATIONS_READ_ALL,
            Perm.CONVERSATIONS_WRITE,
            Perm.CONVERSATIONS_ASSIGN,
            Perm.NOTES_WRITE,
            Perm.KNOWLEDGE_READ,
            Perm.KNOWLEDGE_SUGGEST,
            Perm.KNOWLEDGE_ANALYTICS,
            Perm.TICKETS_READ,
            Perm.TICKETS_READ_ALL,
            Perm.TICKETS_WRITE,
            Perm.TICKETS_ASSIGN,
            Perm.TICKETS_APPROVE,
            Perm.TICKETS_REPORTS,
            Perm.CANNED_RESPONSES_MANAGE,
            Perm.ROUTING_SUPERVISE,
            Perm.QA_REVIEW,
            Perm.QA_MANAGE,
        }
    ),
    # Agents see conversations assigned to them, unassigned ones and those of their teams (see conversations.queries).
    Role.AGENT: frozenset(
        {
            Perm.STAFF_READ,
            Perm.TEAMS_READ,
            Perm.CUSTOMERS_READ,
            Perm.CUSTOMERS_WRITE,
            Perm.CUSTOMERS_PII,
            Perm.CONVERSATIONS_READ,
            Perm.CONVERSATIONS_WRITE,
            Perm.CONVERSATIONS_ASSIGN,
            Perm.NOTES_WRITE,
            Perm.KNOWLEDGE_READ,
            Perm.KNOWLEDGE_SUGGEST,
            Perm.TICKETS_READ,
            Perm.TICKETS_WRITE,
            Perm.TICKETS_ASSIGN,
        }
    ),
    # Inspectors read every conversation but see customers' contact details masked.
    Role.QUALITY_INSPECTOR: frozenset(
        {
            Perm.STAFF_READ,
            Perm.TEAMS_READ,
            Perm.CUSTOMERS_READ,
            Perm.CONVERSATIONS_READ,
            Perm.CONVERSATIONS_READ_ALL,
            Perm.KNOWLEDGE_READ,
            Perm.TICKETS_READ,
            Perm.TICKETS_READ_ALL,
            Perm.QA_REVIEW,
        }
    ),
    # Knowledge managers keep the knowledge base: they edit, review, publish and read its analytics.
    Role.KNOWLEDGE_MANAGER: frozenset(
        {
            Perm.STAFF_READ,
            Perm.TEAMS_READ,
            Perm.KNOWLEDGE_READ,
            Perm.KNOWLEDGE_SUGGEST,
            Perm.KNOWLEDGE_WRITE,
            Perm.KNOWLEDGE_PUBLISH,
            Perm.KNOWLEDGE_ANALYTICS,
            Perm.BOT_TEST,
            Perm.BOT_MANAGE,
        }
    ),
    Role.AUDITOR: frozenset({Perm.STAFF_READ, Perm.TEAMS_READ, Perm.AUDIT_READ}),
}


def permissions_of(role: Role) -> frozenset[Perm]:
    return ROLE_PERMISSIONS[role]


def has(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def require(role: Role, perm: Perm) -> None:
    if perm not in ROLE_PERMISSIONS[role]:
        raise PermissionDenied(f"your role '{role}' lacks the permission '{perm}'")
