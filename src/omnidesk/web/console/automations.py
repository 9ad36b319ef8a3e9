"""``/settings/automations``: automation rules (list, create, edit, enable/disable, delete) through
``tickets.admin.save_rule`` / ``delete_rule`` (the API's validation, loop refusal and audit), and a dry run on the
tenant's latest tickets (``tickets.dry_run``) shown on the page. Permission ``tickets.admin``.

The trigger is picked from lists; conditions and actions are rows of a form builder (``rule_rows``: field /
operator / value, action type / target / value; rows added and removed by ``automation-builder.js``, and without
JavaScript the page offers blank rows). The server turns the rows into the API's lists and validates them as the
API does, every error naming its row (``conditions[0]: unknown field 'x'``). A post carrying the API's JSON in
``conditions`` / ``actions`` instead of rows is accepted too (scripts written against the earlier form)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from omnidesk.accounts import queries as accounts_queries
from omnidesk.core.errors import DomainError, InvalidInput, NotFound
from omnidesk.security.permissions import Perm
from omnidesk.tickets import admin, dry_run, queries
from omnidesk.tickets.models import AutomationRule
from omnidesk.tickets.rules import ELAPSED_ANCHORS, MAX_ACTIONS, MAX_CONDITIONS, NOTIFY_TARGETS, ActionType, Op, Trigger
from omnidesk.tickets.schemas import RuleIn
from omnidesk.web.console import rule_rows
from omnidesk.web.forms import Visit, attempt, parse, problem_text, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/automations"
NOTICES = ("created", "saved", "enabled", "disabled", "deleted")
DEFAULT_LAST = 50
EXAMPLE_CONDITIONS = '[{"field": "priority", "op": "eq", "value": "urgent"}]'
EXAMPLE_ACTIONS = '[{"type": "add_tag", "tag": "vip"}]'


def _blank() -> dict[str, Any]:
    return {"id": "", "name": "", "enabled": True, "position": "0", "event": "ticket.created", "fields": "",
            "since": "created_at", "minutes": "", "conditions": [], "actions": []}  # fmt: skip


def _typed(rule: AutomationRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "enabled": rule.enabled,
        "position": str(rule.position),
        "event": rule.trigger.get("event", ""),
        "fields": ", ".join(rule.trigger.get("fields") or []),
        "since": rule.trigger.get("since", "created_at"),
        "minutes": str(rule.trigger.get("minutes", "")),
        "conditions": rule_rows.condition_rows(rule.conditions),
        "actions": rule_rows.action_rows(rule.actions),
    }


@router.get(PAGE)
def automations_page(request: Request, done: str = "", edit: uuid.UUID | None = None) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN)
    if not isinstance(v, Visit):
        return v
    form = _blank()
    if edit is not None:
        with v.read() as s:
            rule = s.scalar(select(AutomationRule).where(AutomationRule.id == edit))
            if rule is not None:
                form = _typed(rule)
    return _render(v, form, notice=done if done in NOTICES else "")


def _render(v: Visit, form: dict[str, Any], *, notice: str = "", error: str = "", result: Any = None,
            last: int = DEFAULT_LAST, status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        rules = list(s.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.name)))
        custom = sorted(queries.custom_keys(s))
        teams = [(str(team.id), team.name) for team in accounts_queries.list_teams(s)]
        staff = [(str(p.id), p.display_name) for p in accounts_queries.list_staff(s) if p.is_active]
    # two blank rows each: without JavaScript that is how a row is added (save, and two more appear)
    conditions = [*form["conditions"], dict(rule_rows.BLANK_CONDITION), dict(rule_rows.BLANK_CONDITION)]
    actions = [*form["actions"], dict(rule_rows.BLANK_ACTION), dict(rule_rows.BLANK_ACTION)]
    return v.render(
        "console/automations.html",
        {
            "section": "automations",
            "rules": rules,
            "form": form,
            "events": list(Trigger),
            "anchors": sorted(ELAPSED_ANCHORS),
            "ops": list(Op),
            "action_types": list(ActionType),
            "condition_rows": conditions[:MAX_CONDITIONS],
            "action_rows": actions[:MAX_ACTIONS],
            "condition_fields": rule_rows.condition_fields(custom),
            "settable": rule_rows.settable_fields(custom),
            "notify_targets": sorted(NOTIFY_TARGETS),
            "teams": teams,
            "staff": staff,
            "notice": notice,
            "error": error,
            "result": result,
            "last": last,
            "max_last": dry_run.MAX_TICKETS,
        },
        status_code=status_code,
    )


def rule_input(form: dict[str, Any], t: Callable[..., str]) -> RuleIn:
    """The API's input from the typed form; JSON or number mistakes raise :class:`InvalidInput` naming the box
    (worded by ``t`` in the page's language)."""
    trigger: dict[str, Any] = {"event": form["event"]}
    fields = [f.strip() for f in form["fields"].replace("，", ",").split(",") if f.strip()]
    if fields:
        trigger["fields"] = fields
    if form["event"] == Trigger.ELAPSED:
        trigger["since"] = form["since"]
        try:
            trigger["minutes"] = int(form["minutes"])
        except ValueError:
            raise InvalidInput(t("console.err.whole_number", where="trigger.minutes", text=form["minutes"])) from None
    lists = {
        "conditions": rule_rows.conditions_from(form["conditions"]),
        "actions": rule_rows.actions_from(form["actions"]),
    }
    try:
        position = int(form["position"] or 0)
    except ValueError:
        raise InvalidInput(t("console.err.whole_number", where="position", text=form["position"])) from None
    return parse(RuleIn, {"name": form["name"], "enabled": form["enabled"], "position": position,
                          "trigger": trigger, **lists})  # fmt: skip


def _form(name: str, enabled: str, position: str, event: str, fields: str, since: str, minutes: str,
          conditions: list[dict[str, str]], actions: list[dict[str, str]], rule_id: str = "") -> dict[str, Any]:  # fmt: skip
    return {"id": rule_id, "name": name.strip(), "enabled": enabled == "on", "position": position.strip(),
            "event": event, "fields": fields, "since": since, "minutes": minutes.strip(),
            "conditions": conditions, "actions": actions}  # fmt: skip


def _legacy(text: str, name: str, t: Callable[..., str]) -> list[dict[str, Any]]:
    """The API's JSON list posted instead of rows (``conditions`` / ``actions``)."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise InvalidInput(t("console.err.json", where=name, detail=f"{exc.msg}, {exc.lineno}:{exc.colno}")) from None
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise InvalidInput(t("console.err.json_list", where=name, example=EXAMPLE_CONDITIONS))
    return value


Text = Annotated[str, Form(max_length=200)]
Json = Annotated[str, Form(max_length=20_000)]
Column = Annotated[list[str], Form(max_length=MAX_CONDITIONS + 2)]


@router.post(PAGE)
def save(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    name: Text = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
    position: Annotated[str, Form(max_length=6)] = "0",
    event: Annotated[str, Form(max_length=40)] = "",
    fields: Text = "",
    since: Annotated[str, Form(max_length=40)] = "",
    minutes: Annotated[str, Form(max_length=10)] = "",
    c_field: Column = [],  # noqa: B006 (FastAPI copies defaults)
    c_op: Column = [],  # noqa: B006
    c_value: Column = [],  # noqa: B006
    a_type: Column = [],  # noqa: B006
    a_target: Column = [],  # noqa: B006
    a_value: Annotated[list[str], Form(max_length=MAX_ACTIONS + 2)] = [],  # noqa: B006
    a_extra: Column = [],  # noqa: B006
    conditions: Json = "",
    actions: Json = "",
    rule_id: Annotated[str, Form(max_length=36)] = "",
    intent: Annotated[str, Form(max_length=10)] = "save",
    last_text: Annotated[str, Form(alias="last", max_length=6)] = "",
) -> Response:
    """One form, two buttons: "save" stores the rule, "dry run" tests the rule as typed (saved or not)."""
    v = visit(request, Perm.TICKETS_ADMIN, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    last = int(last_text) if last_text.strip().isdigit() else DEFAULT_LAST
    last = max(1, min(last, dry_run.MAX_TICKETS))
    cond_rows = rule_rows.rows(("field", "op", "value"), {"field": c_field, "op": c_op, "value": c_value})
    act_rows = rule_rows.rows(("type", "target", "value", "extra"),
                              {"type": a_type, "target": a_target, "value": a_value, "extra": a_extra})  # fmt: skip
    try:
        if conditions and not cond_rows:
            cond_rows = rule_rows.condition_rows(_legacy(conditions, "conditions", v.t))
        if actions and not act_rows:
            act_rows = rule_rows.action_rows(_legacy(actions, "actions", v.t))
    except InvalidInput as exc:
        typed = _form(name, enabled, position, event, fields, since, minutes, [], [], rule_id)
        return _render(v, typed, error=problem_text(exc), status_code=422)
    form = _form(name, enabled, position, event, fields, since, minutes, cond_rows, act_rows, rule_id)
    try:
        target = uuid.UUID(rule_id) if rule_id else None
    except ValueError:
        target = None
    if intent == "dry_run":
        try:
            with v.read() as s:
                result = dry_run.dry_run(s, v.actor, rule_input(form, v.t), last)
        except (DomainError, ValidationError) as exc:
            return _render(v, form, error=problem_text(exc), last=last, status_code=422)
        return _render(v, form, result=result, last=last)
    return attempt(
        v, lambda s, a: admin.save_rule(s, a, rule_input(form, v.t), target),
        to=PAGE, notice="saved" if target else "created",
        failed=lambda v, why: _render(v, form, error=why.message, last=last, status_code=422),
    )  # fmt: skip


@router.post(PAGE + "/{rule_id}/toggle")
def toggle(request: Request, rule_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    """Enable or disable: the rule is saved again with the flag flipped (enabling re-checks loops)."""

    def flip(s: Any, actor: Any) -> str:
        rule = s.scalar(select(AutomationRule).where(AutomationRule.id == rule_id))
        if rule is None:
            raise NotFound("no automation rule with this id")
        data = RuleIn(name=rule.name, enabled=not rule.enabled, position=rule.position, trigger=rule.trigger,
                      conditions=rule.conditions, actions=rule.actions)  # fmt: skip
        admin.save_rule(s, actor, data, rule_id)
        return f"{PAGE}?done={'enabled' if data.enabled else 'disabled'}"

    return submit(
        request, csrf, flip, perms=(Perm.TICKETS_ADMIN,), to=lambda path: str(path),
        failed=lambda v, why: _render(v, _blank(), error=why.message, status_code=why.status),
    )  # fmt: skip


@router.post(PAGE + "/{rule_id}/delete")
def delete(request: Request, rule_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return submit(
        request, csrf, lambda s, a: admin.delete_rule(s, a, rule_id),
        perms=(Perm.TICKETS_ADMIN,), to=PAGE, notice="deleted",
        failed=lambda v, why: _render(v, _blank(), error=why.message, status_code=why.status),
    )  # fmt: skip
