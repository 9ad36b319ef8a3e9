"""Pure automation rules: validation, condition matching and static cycle detection.

A rule is "when <trigger> and <conditions> then <actions>". Validation names every problem (unknown fields,
events, operators, actions). Loops are refused when rules are saved: rule A *feeds* rule B when a field A writes is
one B listens to; a cycle in that graph (a rule feeding itself included) is an error naming the rules. At run time
the engine also caps the chain depth and fires a rule at most once per chain, so even a cycle created by a
concurrent edit cannot spin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from omnidesk.core.errors import InvalidInput
from omnidesk.tickets.states import Priority, Status

MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_ELAPSED_MINUTES = 60 * 24 * 90


class Trigger(StrEnum):
    CREATED = "ticket.created"
    UPDATED = "ticket.updated"
    STATUS_CHANGED = "ticket.status_changed"
    PUBLIC_REPLY = "message.public"
    CUSTOMER_REPLY = "message.customer"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    ELAPSED = "elapsed"


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    GT = "gt"
    LT = "lt"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"


class ActionType(StrEnum):
    SET_FIELD = "set_field"
    ASSIGN = "assign"
    NOTIFY = "notify"
    ESCALATE = "escalate"
    ADD_WATCHER = "add_watcher"
    REPLY_TEMPLATE = "reply_template"
    ADD_TAG = "add_tag"


CORE_FIELDS = frozenset(
    {
        "status",
        "priority",
        "type",
        "team_id",
        "assignee_id",
        "channel",
        "tags",
        "subject",
        "escalated",
        "green_channel",
        "reopen_count",
        "category",
    }
)
SETTABLE = frozenset({"status", "priority", "team_id", "assignee_id", "category"})
ELAPSED_ANCHORS = frozenset({"created_at", "updated_at", "status_changed_at"})
NOTIFY_TARGETS = frozenset({"assignee", "supervisors", "watchers", "team"})
_PUBLIC_MESSAGE = "@public_message"


@dataclass(frozen=True)
class Rule:
    """A validated rule, as the engine runs it."""

    id: uuid.UUID
    name: str
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def validate_rule(
    trigger: dict[str, Any], conditions: list[dict[str, Any]], actions: list[dict[str, Any]], custom_keys: set[str]
) -> None:
    """Raise :class:`InvalidInput` listing every problem of one rule (``custom_keys``: custom fields that exist)."""
    errors: list[dict[str, Any]] = []
    known = set(CORE_FIELDS) | {f"custom.{k}" for k in custom_keys}
    try:
        event = Trigger(str(trigger.get("event")))
    except ValueError:
        errors.append({"field": "trigger.event", "message": f"unknown event; use {', '.join(Trigger)}"})
        event = None
    extra = set(trigger) - {"event", "fields", "since", "minutes"}
    if extra:
        errors.append({"field": "trigger", "message": f"unknown properties: {', '.join(sorted(extra))}"})
    if event == Trigger.ELAPSED:
        if trigger.get("since") not in ELAPSED_ANCHORS:
            errors.append({"field": "trigger.since", "message": f"use one of {', '.join(sorted(ELAPSED_ANCHORS))}"})
        minutes = trigger.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_ELAPSED_MINUTES:
            errors.append(
                {"field": "trigger.minutes", "message": f"a whole number of minutes, 1 … {MAX_ELAPSED_MINUTES}"}
            )
    elif "since" in trigger or "minutes" in trigger:
        errors.append({"field": "trigger", "message": "since and minutes apply only to the 'elapsed' event"})
    for name in trigger.get("fields") or []:
        if name not in known:
            errors.append({"field": "trigger.fields", "message": f"unknown field '{name}'"})
    if trigger.get("fields") and event != Trigger.UPDATED:
        errors.append({"field": "trigger.fields", "message": "fields apply only to the 'ticket.updated' event"})
    if len(conditions) > MAX_CONDITIONS:
        errors.append({"field": "conditions", "message": f"at most {MAX_CONDITIONS} conditions"})
    for i, cond in enumerate(conditions):
        where = f"conditions[{i}]"
        if set(cond) - {"field", "op", "value"}:
            errors.append({"field": where, "message": "a condition has only field, op and value"})
            continue
        if cond.get("field") not in known:
            errors.append({"field": where, "message": f"unknown field '{cond.get('field')}'"})
        try:
            op = Op(str(cond.get("op")))
        except ValueError:
            errors.append({"field": where, "message": f"unknown operator; use {', '.join(Op)}"})
            continue
        if op in (Op.IN, Op.NOT_IN) and not isinstance(cond.get("value"), list):
            errors.append({"field": where, "message": f"'{op}' needs a list value"})
        if op in (Op.GT, Op.LT) and (
            isinstance(cond.get("value"), bool) or not isinstance(cond.get("value"), int | float)
        ):
            errors.append({"field": where, "message": f"'{op}' needs a number"})
    if not actions:
        errors.append({"field": "actions", "message": "a rule needs at least one action"})
    if len(actions) > MAX_ACTIONS:
        errors.append({"field": "actions", "message": f"at most {MAX_ACTIONS} actions"})
    for i, act in enumerate(actions):
        errors.extend(_check_action(f"actions[{i}]", act, custom_keys))
    if errors:
        raise InvalidInput("the automation rule is invalid", errors=errors)


#: What a macro may do: the rules' actions that act on the ticket itself, not on other people.
MACRO_ACTIONS = frozenset({ActionType.SET_FIELD, ActionType.ASSIGN, ActionType.ADD_TAG, ActionType.REPLY_TEMPLATE})


def validate_macro_actions(actions: list[dict[str, Any]], custom_keys: set[str]) -> None:
    """Raise :class:`InvalidInput` listing every problem of a macro's actions (the rules' own checks)."""
    errors: list[dict[str, Any]] = []
    if not actions:
        errors.append({"field": "actions", "message": "a macro needs at least one action"})
    if len(actions) > MAX_ACTIONS:
        errors.append({"field": "actions", "message": f"at most {MAX_ACTIONS} actions"})
    for i, act in enumerate(actions):
        where = f"actions[{i}]"
        if act.get("type") not in MACRO_ACTIONS:
            allowed = ", ".join(sorted(MACRO_ACTIONS))
            errors.append({"field": where, "message": f"a macro action is one of {allowed}"})
            continue
        errors.extend(_check_action(where, act, custom_keys))
    if errors:
        raise InvalidInput("the macro is invalid", errors=errors)


def _check_action(where: str, act: dict[str, Any], custom_keys: set[str]) -> list[dict[str, Any]]:
    try:
        kind = ActionType(str(act.get("type")))
    except ValueError:
        return [{"field": where, "message": f"unknown action; use {', '.join(ActionType)}"}]
    allowed = {
        ActionType.SET_FIELD: {"field", "value"},
        ActionType.ASSIGN: {"team_id", "assignee_id"},
        ActionType.NOTIFY: {"to", "message"},
        ActionType.ESCALATE: set(),
        ActionType.ADD_WATCHER: {"staff_id"},
        ActionType.REPLY_TEMPLATE: {"body", "bodies", "counts_as_first_response"},
        ActionType.ADD_TAG: {"tag"},
    }[kind]
    extra = set(act) - allowed - {"type"}
    if extra:
        return [{"field": where, "message": f"unknown properties for {kind}: {', '.join(sorted(extra))}"}]
    errs: list[dict[str, Any]] = []
    if kind == ActionType.SET_FIELD:
        field = act.get("field")
        settable = set(SETTABLE) | {f"custom.{k}" for k in custom_keys}
        if field not in settable:
            errs.append(
                {"field": where, "message": f"cannot set field '{field}'; settable: {', '.join(sorted(settable))}"}
            )
        elif field == "priority" and act.get("value") not in set(Priority):
            errs.append({"field": where, "message": f"priority must be one of {', '.join(Priority)}"})
        elif field == "status" and act.get("value") not in set(Status):
            errs.append({"field": where, "message": f"status must be one of {', '.join(Status)}"})
        elif field in ("team_id", "assignee_id") and not _is_uuid(act.get("value")):
            errs.append({"field": where, "message": f"{field} must be an id"})
    elif kind == ActionType.ASSIGN:
        if not act.get("team_id") and not act.get("assignee_id"):
            errs.append({"field": where, "message": "assign needs team_id, assignee_id or both"})
        for key in ("team_id", "assignee_id"):
            if act.get(key) is not None and not _is_uuid(act[key]):
                errs.append({"field": where, "message": f"{key} must be an id"})
    elif kind == ActionType.NOTIFY:
        if act.get("to") not in NOTIFY_TARGETS and not _is_uuid(act.get("to")):
            errs.append(
                {"field": where, "message": f"notify 'to' is one of {', '.join(sorted(NOTIFY_TARGETS))} or a staff id"}
            )
        if not isinstance(act.get("message", ""), str) or len(act.get("message", "")) > 1000:
            errs.append({"field": where, "message": "message is text of at most 1000 characters"})
    elif kind == ActionType.ADD_WATCHER:
        if not _is_uuid(act.get("staff_id")):
            errs.append({"field": where, "message": "add_watcher needs staff_id"})
    elif kind == ActionType.REPLY_TEMPLATE:
        body = act.get("body")
        if not isinstance(body, str) or not body.strip() or len(body) > 5000:
            errs.append({"field": where, "message": "reply_template needs a body of 1 … 5000 characters"})
        bodies = act.get("bodies", {})
        if not isinstance(bodies, dict) or any(
            k not in ("zh-CN", "en") or not isinstance(v, str) or not v.strip() or len(v) > 5000
            for k, v in bodies.items()
        ):
            errs.append({"field": where, "message": "bodies maps 'zh-CN' / 'en' to a text of 1 … 5000 characters"})
        if not isinstance(act.get("counts_as_first_response", False), bool):
            errs.append({"field": where, "message": "counts_as_first_response is true or false"})
    elif kind == ActionType.ADD_TAG:
        tag = act.get("tag")
        if not isinstance(tag, str) or not tag or len(tag) > 50 or any(c.isspace() or c == "," for c in tag):
            errs.append({"field": where, "message": "add_tag needs a tag without spaces or commas"})
    return errs


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def writes(rule: Rule) -> set[str]:
    """Fields a rule may change when it fires."""
    out: set[str] = set()
    for act in rule.actions:
        kind = act["type"]
        if kind == ActionType.SET_FIELD:
            out.add(act["field"])
        elif kind == ActionType.ASSIGN:
            out |= {k for k in ("team_id", "assignee_id") if act.get(k)}
        elif kind == ActionType.ESCALATE:
            out |= {"priority", "escalated"}
        elif kind == ActionType.ADD_TAG:
            out.add("tags")
        elif kind == ActionType.REPLY_TEMPLATE:
            out.add(_PUBLIC_MESSAGE)
    if "status" in out:
        out.add("@status")
    return out


def listens(rule: Rule) -> set[str] | None:
    """Fields whose change can fire the rule; ``None`` means any field (an unfiltered ``ticket.updated``)."""
    event = rule.trigger["event"]
    if event == Trigger.UPDATED:
        fields = rule.trigger.get("fields") or []
        return set(fields) if fields else None
    if event == Trigger.STATUS_CHANGED:
        return {"status"}
    if event == Trigger.PUBLIC_REPLY:
        return {_PUBLIC_MESSAGE}
    return set()


def find_cycle(rules: Iterable[Rule]) -> list[str] | None:
    """The names along one feedback loop among enabled rules, or ``None``."""
    rules = list(rules)
    edges: dict[uuid.UUID, list[Rule]] = {}
    for a in rules:
        wa = writes(a) - {"@status"}
        targets = []
        for b in rules:
            lb = listens(b)
            visible = {w for w in wa if not w.startswith("@") or w == _PUBLIC_MESSAGE}
            if (lb is None and visible - {_PUBLIC_MESSAGE}) or (lb and wa & lb):
                targets.append(b)
        edges[a.id] = targets
    state: dict[uuid.UUID, int] = {}
    stack: list[Rule] = []

    def visit(rule: Rule) -> list[str] | None:
        state[rule.id] = 1
        stack.append(rule)
        for nxt in edges[rule.id]:
            if state.get(nxt.id) == 1:
                start = next(i for i, r in enumerate(stack) if r.id == nxt.id)
                return [r.name for r in stack[start:]] + [nxt.name]
            if state.get(nxt.id) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[rule.id] = 2
        return None

    for rule in rules:
        if state.get(rule.id) is None:
            found = visit(rule)
            if found:
                return found
    return None


def fires_on(rule: Rule, event: Trigger, changed: set[str]) -> bool:
    if rule.trigger["event"] != event:
        return False
    if event == Trigger.UPDATED:
        fields = rule.trigger.get("fields") or []
        return not fields or bool(set(fields) & changed)
    return True


def matches(conditions: list[dict[str, Any]], facts: dict[str, Any]) -> bool:
    """All conditions hold for the ticket's facts (``custom.<key>`` for custom fields)."""
    return all(_holds(c, facts.get(c["field"])) for c in conditions)


def _holds(cond: dict[str, Any], actual: Any) -> bool:
    op = Op(cond["op"])
    want: Any = cond.get("value")
    if op == Op.IS_SET:
        return actual not in (None, "", [])
    if op == Op.IS_NOT_SET:
        return actual in (None, "", [])
    if op == Op.EQ:
        return bool(_norm(actual) == _norm(want))
    if op == Op.NE:
        return bool(_norm(actual) != _norm(want))
    if op == Op.IN:
        return _norm(actual) in [_norm(w) for w in want]
    if op == Op.NOT_IN:
        return _norm(actual) not in [_norm(w) for w in want]
    if op == Op.CONTAINS:
        if isinstance(actual, list):
            return bool(want in actual)
        return isinstance(actual, str) and str(want).lower() in actual.lower()
    if not isinstance(actual, int | float) or isinstance(actual, bool):
        return False
    return bool(actual > want if op == Op.GT else actual < want)


def _norm(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value
