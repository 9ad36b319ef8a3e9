"""``/settings/automations``: automation rules (list, create, edit, enable/disable, delete) through
``tickets.admin.save_rule`` / ``delete_rule`` (the API's validation, loop refusal and audit), and a dry run on the
tenant's latest tickets (``tickets.dry_run``) shown on the page. Permission ``tickets.admin``.

The trigger is picked from lists; conditions and actions are JSON lists in the API's own shape, so every rule the
API accepts can be written here and every error names its place (``conditions[0]: unknown field 'x'``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from omnidesk.core.errors import DomainError, InvalidInput, NotFound
from omnidesk.security.permissions import Perm
from omnidesk.tickets import admin, dry_run
from omnidesk.tickets.models import AutomationRule
from omnidesk.tickets.rules import ELAPSED_ANCHORS, ActionType, Op, Trigger
from omnidesk.tickets.schemas import RuleIn
from omnidesk.web.forms import Visit, attempt, parse, problem_text, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/automations"
NOTICES = ("created", "saved", "enabled", "disabled", "deleted")
DEFAULT_LAST = 50
EXAMPLE_CONDITIONS = '[{"field": "priority", "op": "eq", "value": "urgent"}]'
EXAMPLE_ACTIONS = '[{"type": "add_tag", "tag": "vip"}]'


def _blank() -> dict[str, Any]:
    return {"id": "", "name": "", "enabled": True, "position": "0", "event": "ticket.created", "fields": "",
            "since": "created_at", "minutes": "", "conditions": "[]", "actions": "[]"}  # fmt: skip


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
        "conditions": json.dumps(rule.conditions, ensure_ascii=False, indent=1),
        "actions": json.dumps(rule.actions, ensure_ascii=False, indent=1),
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
            "example_conditions": EXAMPLE_CONDITIONS,
            "example_actions": EXAMPLE_ACTIONS,
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
    lists: dict[str, Any] = {}
    for name in ("conditions", "actions"):
        try:
            lists[name] = json.loads(form[name] or "[]")
        except json.JSONDecodeError as exc:
            detail = f"{exc.msg}, {exc.lineno}:{exc.colno}"
            raise InvalidInput(t("console.err.json", where=name, detail=detail)) from None
        if not isinstance(lists[name], list) or not all(isinstance(x, dict) for x in lists[name]):
            raise InvalidInput(t("console.err.json_list", where=name, example=EXAMPLE_CONDITIONS))
    try:
        position = int(form["position"] or 0)
    except ValueError:
        raise InvalidInput(t("console.err.whole_number", where="position", text=form["position"])) from None
    return parse(RuleIn, {"name": form["name"], "enabled": form["enabled"], "position": position,
                          "trigger": trigger, **lists})  # fmt: skip


def _form(name: str, enabled: str, position: str, event: str, fields: str, since: str, minutes: str,
          conditions: str, actions: str, rule_id: str = "") -> dict[str, Any]:  # fmt: skip
    return {"id": rule_id, "name": name.strip(), "enabled": enabled == "on", "position": position.strip(),
            "event": event, "fields": fields, "since": since, "minutes": minutes.strip(),
            "conditions": conditions, "actions": actions}  # fmt: skip


Text = Annotated[str, Form(max_length=200)]
Json = Annotated[str, Form(max_length=20_000)]


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
    conditions: Json = "[]",
    actions: Json = "[]",
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
    form = _form(name, enabled, position, event, fields, since, minutes, conditions, actions, rule_id)
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
