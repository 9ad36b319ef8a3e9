"""The automation engine: runs the tenant's rules for one ticket event, inside the caller's transaction.

Every change a rule makes goes through :mod:`ops`, so it lands in the history with the rule's id. Loops are
refused when rules are saved (:func:`rules.find_cycle`); at run time a chain is also capped at ``MAX_DEPTH``
and each rule fires at most once per chain, so no combination of rules can spin.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.errors import DomainError
from omnidesk.customers.models import Customer
from omnidesk.tickets import history, notify, ops, queries
from omnidesk.tickets.models import AutomationRule, AutomationRun, Ticket
from omnidesk.tickets.rules import ActionType, Trigger, fires_on, matches
from omnidesk.tickets.states import OPEN_STATES, Status

log = logging.getLogger("omnidesk.tickets.automation")
MAX_DEPTH = 3
_CANNOT_FAIL = frozenset({ActionType.ADD_TAG, ActionType.REPLY_TEMPLATE})
"""Actions with nothing to validate at run time skip the savepoint (one round trip less per firing)."""
_RULES_KEY = "omnidesk_ticket_rules"


def facts(ticket: Ticket) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type_key,
        "team_id": str(ticket.team_id) if ticket.team_id else None,
        "assignee_id": str(ticket.assignee_id) if ticket.assignee_id else None,
        "channel": ticket.channel,
        "tags": ticket.tags,
        "subject": ticket.subject,
        "escalated": ticket.escalated,
        "green_channel": ticket.green_channel,
        "reopen_count": ticket.reopen_count,
        "category": ticket.category,
    }
    out.update({f"custom.{k}": v for k, v in ticket.custom_fields.items()})
    return out


def _rules(session: Session) -> list[AutomationRule]:
    cached: list[AutomationRule] | None = session.info.get(_RULES_KEY)
    if cached is None:
        cached = queries.enabled_rules(session)
        session.info[_RULES_KEY] = cached
    return cached


def forget_rules(session: Session) -> None:
    session.info.pop(_RULES_KEY, None)


def run(
    session: Session,
    ticket: Ticket,
    event: Trigger,
    changed: set[str] | None = None,
    *,
    chain: set[uuid.UUID] | None = None,
    depth: int = 0,
    only: AutomationRule | None = None,
) -> int:
    """Fire matching rules for ``event``; returns how many fired (in this call and the chains they caused)."""
    chain = chain if chain is not None else set()
    fired = 0
    candidates = [only] if only is not None else _rules(session)
    for rule in candidates:
        if rule.id in chain or ticket.deleted_at is not None:
            continue
        view = _view(rule)
        if only is None and not fires_on(view, event, changed or set()):
            continue
        if not matches(rule.conditions, facts(ticket)):
            continue
        chain.add(rule.id)
        fired += 1
        caused = apply(session, ticket, rule)
        if caused and depth < MAX_DEPTH:
            fired += run(session, ticket, Trigger.UPDATED, caused, chain=chain, depth=depth + 1)
            if "status" in caused:
                fired += run(session, ticket, Trigger.STATUS_CHANGED, {"status"}, chain=chain, depth=depth + 1)
            if "@public_message" in caused:
                fired += run(session, ticket, Trigger.PUBLIC_REPLY, caused, chain=chain, depth=depth + 1)
    return fired


def _view(rule: AutomationRule) -> Any:
    from omnidesk.tickets.rules import Rule

    return Rule(rule.id, rule.name, rule.trigger, rule.conditions, rule.actions)


def apply(session: Session, ticket: Ticket, rule: AutomationRule) -> set[str]:
    """Apply each action; one that cannot apply (an illegal status move) is skipped and noted in the history."""
    actor = system_actor(ticket.tenant_id)
    changed: set[str] = set()
    note = f"rule: {rule.name}"
    for act in rule.actions:
        if act["type"] in _CANNOT_FAIL:
            changed |= _apply_one(session, actor, ticket, rule, act, note)
            continue
        try:
            with session.begin_nested():
                changed |= _apply_one(session, actor, ticket, rule, act, note)
        except DomainError as exc:
            history.record(
                session,
                actor,
                ticket,
                "automation",
                None,
                act.get("type"),
                rule_id=rule.id,
                note=f"skipped: {exc.detail}",
            )
    if changed:
        # A rule edits tickets as the system: the audit trail says which rule changed which fields (held for one
        # bulk insert while the reconciler acts on many tickets: history.in_bulk).
        fields = sorted(f for f in changed if not f.startswith("@"))
        history.audit(
            session,
            actor,
            "automation.apply",
            "ticket",
            ticket.id,
            {"rule": rule.name, "rule_id": str(rule.id), "fields": fields},
        )
    return changed


def _apply_one(
    session: Session, actor: Actor, ticket: Ticket, rule: AutomationRule, act: dict[str, Any], note: str
) -> set[str]:
    kind = ActionType(act["type"])
    if kind == ActionType.SET_FIELD:
        if act["field"] == "status":
            return ops.set_status(session, actor, ticket, Status(act["value"]), rule_id=rule.id, note=note)
        return ops.set_fields(session, actor, ticket, {act["field"]: act["value"]}, rule_id=rule.id, note=note)
    if kind == ActionType.ASSIGN:
        changes = {k: act[k] for k in ("team_id", "assignee_id") if act.get(k)}
        return ops.set_fields(session, actor, ticket, changes, rule_id=rule.id, note=note)
    if kind == ActionType.ADD_TAG:
        if act["tag"] in ticket.tags:
            return set()
        return ops.set_fields(session, actor, ticket, {"tags": [*ticket.tags, act["tag"]]}, rule_id=rule.id, note=note)
    if kind == ActionType.ESCALATE:
        changed = ops.escalate(session, actor, ticket, rule_id=rule.id, note=note)
        notify.notify(
            session,
            ticket.tenant_id,
            notify.supervisors(session),
            "escalation",
            ("tickets.notice.escalated_by", {"number": ticket.number, "rule": rule.name}),
            ticket.subject,
            [ticket.id],
        )
        return changed
    if kind == ActionType.ADD_WATCHER:
        staff = ops.active_staff(session, uuid.UUID(str(act["staff_id"])))
        if ops.add_watcher(session, ticket, staff.id):
            history.record(session, actor, ticket, "watcher", None, staff.id, rule_id=rule.id, note=note)
        return set()
    if kind == ActionType.NOTIFY:
        to = act["to"]
        if to == "assignee":
            people = [ticket.assignee_id] if ticket.assignee_id else []
        elif to == "supervisors":
            people = notify.supervisors(session)
        elif to == "watchers":
            people = queries.watchers(session, ticket.id)
        elif to == "team":
            people = _team_members(session, ticket)
        else:
            people = [ops.active_staff(session, uuid.UUID(str(to))).id]
        notify.notify(
            session,
            ticket.tenant_id,
            people,
            "automation",
            ("tickets.notice.ticket", {"number": ticket.number, "subject": ticket.subject}),
            act.get("message", "") or note,
            [ticket.id],
        )
        history.record(session, actor, ticket, "notified", None, to, rule_id=rule.id, note=note)
        return set()
    template = template_for(session, ticket, act)
    body = template.replace("{number}", str(ticket.number)).replace("{subject}", ticket.subject)
    ops.add_message(
        session, actor, ticket, body, public=True, source="automation",
        counts_as_response=bool(act.get("counts_as_first_response")),
    )  # fmt: skip
    history.record(session, actor, ticket, "reply", None, "template", rule_id=rule.id, note=note)
    return {"@public_message"}


def template_for(session: Session, ticket: Ticket, act: dict[str, Any]) -> str:
    """The template in the customer's language when the rule has one (``bodies``: {"zh-CN": …, "en": …}), else
    ``body``: an English-speaking customer is not answered in Chinese first."""
    bodies = act.get("bodies") or {}
    if bodies and ticket.customer_id is not None:
        language = session.scalar(select(Customer.language).where(Customer.id == ticket.customer_id)) or ""
        lang = "en" if language.startswith("en") else "zh-CN" if language.startswith("zh") else ""
        if lang and bodies.get(lang):
            return str(bodies[lang])
    return str(act.get("body") or next(iter(bodies.values()), ""))


def _team_members(session: Session, ticket: Ticket) -> list[uuid.UUID]:
    from omnidesk.accounts.models import TeamMember

    if ticket.team_id is None:
        return []
    return list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == ticket.team_id)))


def run_elapsed_rules(s: Session, tenant_id: uuid.UUID, now: datetime, limit: int = 500) -> int:
    """Fire "elapsed time" rules once per ticket and anchor time (an ``automation_runs`` row marks it)."""
    fired = 0
    for rule in s.scalars(select(AutomationRule).where(AutomationRule.enabled.is_(True))):
        if rule.trigger.get("event") != Trigger.ELAPSED:
            continue
        anchor = getattr(Ticket, rule.trigger["since"])
        cutoff = now - timedelta(minutes=int(rule.trigger["minutes"]))
        done = exists().where(AutomationRun.rule_id == rule.id, AutomationRun.ticket_id == Ticket.id)
        candidates = s.scalars(
            select(Ticket)
            .where(
                anchor <= cutoff, Ticket.status.in_([x.value for x in OPEN_STATES]), Ticket.deleted_at.is_(None), ~done
            )
            .order_by(anchor)
            .limit(limit)
        )
        for ticket in candidates:
            marker = getattr(ticket, rule.trigger["since"]).isoformat()[:64]
            s.add(AutomationRun(tenant_id=tenant_id, rule_id=rule.id, ticket_id=ticket.id, marker=marker))
            if matches(rule.conditions, facts(ticket)):
                fired += run(s, ticket, Trigger.ELAPSED, only=rule)
        s.flush()
    return fired
