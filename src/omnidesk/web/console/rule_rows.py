"""The automation form builder's rows ↔ the API's conditions and actions (pure: no database, no request).

A condition row is ``field / operator / value``; an action row is ``type / target / value`` where the target is
what the type acts on (the field to set, whom to notify, team or agent to assign to) and the value what it puts
there. Whatever a row cannot show (a reply's per-language bodies, an assignment to a team *and* an agent) rides
along in the row's hidden ``extra`` JSON, so editing a rule in the builder never drops part of it. Values are
typed here only as far as the form can know (lists for ``in``, numbers for ``gt``); the rules' own validation
(``tickets.rules.validate_rule``) judges the result and names the row (``conditions[0]: …``)."""

from __future__ import annotations

import json
import re
from typing import Any

from omnidesk.tickets.rules import CORE_FIELDS, SETTABLE, ActionType, Op

BOOLEAN_FIELDS = frozenset({"escalated", "green_channel"})
NUMBER_FIELDS = frozenset({"reopen_count"})
#: the target a row of each action type shows ("" = none); the value is the rest
TARGETS: dict[str, str] = {
    ActionType.SET_FIELD: "field",
    ActionType.ASSIGN: "who",
    ActionType.NOTIFY: "to",
    ActionType.ESCALATE: "",
    ActionType.ADD_WATCHER: "",
    ActionType.REPLY_TEMPLATE: "",
    ActionType.ADD_TAG: "",
}
_SPLIT = re.compile(r"\s*[,，、]\s*")
BLANK_CONDITION = {"field": "", "op": "eq", "value": ""}
BLANK_ACTION = {"type": "", "target": "", "value": "", "extra": ""}


def condition_fields(custom_keys: list[str]) -> list[str]:
    return sorted(CORE_FIELDS) + [f"custom.{k}" for k in custom_keys]


def settable_fields(custom_keys: list[str]) -> list[str]:
    return sorted(SETTABLE) + [f"custom.{k}" for k in custom_keys]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return "" if value is None else str(value)


def condition_rows(conditions: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"field": str(c.get("field", "")), "op": str(c.get("op", "eq")), "value": _shown(c.get("value"))}
            for c in conditions]  # fmt: skip


def action_rows(actions: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for act in actions:
        kind = str(act.get("type", ""))
        rest = {k: v for k, v in act.items() if k != "type"}
        target, value = "", ""
        if kind == ActionType.SET_FIELD:
            target, value = str(rest.pop("field", "")), _shown(rest.pop("value", ""))
        elif kind == ActionType.ASSIGN:
            key = "team_id" if rest.get("team_id") else "assignee_id"
            target, value = key, _shown(rest.pop(key, ""))
        elif kind == ActionType.NOTIFY:
            target, value = str(rest.pop("to", "")), str(rest.pop("message", ""))
        elif kind in (ActionType.ADD_WATCHER, ActionType.REPLY_TEMPLATE, ActionType.ADD_TAG):
            key = {"add_watcher": "staff_id", "reply_template": "body", "add_tag": "tag"}[kind]
            value = _shown(rest.pop(key, ""))
        extra = json.dumps({"type": kind, **rest}, ensure_ascii=False) if rest else ""
        rows.append({"type": kind, "target": target, "value": value, "extra": extra})
    return rows


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # the rules say "'gt' needs a number", naming the row


def _typed(field: str, op: str, text: str) -> Any:
    if op in (Op.IN, Op.NOT_IN):
        return [v for v in _SPLIT.split(text.strip()) if v]
    if op in (Op.GT, Op.LT) or (field in NUMBER_FIELDS and text.strip().lstrip("-").isdigit()):
        return _number(text.strip())
    if field in BOOLEAN_FIELDS and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return text.strip()


def conditions_from(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The API's conditions from the rows; a row without a field is an unused blank row."""
    out: list[dict[str, Any]] = []
    for row in rows:
        field, op = row["field"].strip(), row["op"].strip()
        if not field:
            continue
        cond: dict[str, Any] = {"field": field, "op": op}
        if op not in (Op.IS_SET, Op.IS_NOT_SET):
            cond["value"] = _typed(field, op, row["value"])
        out.append(cond)
    return out


def actions_from(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The API's actions from the rows; a row without a type is an unused blank row."""
    out: list[dict[str, Any]] = []
    for row in rows:
        kind, target, value = row["type"].strip(), row["target"].strip(), row["value"]
        if not kind:
            continue
        act: dict[str, Any] = {"type": kind}
        try:
            extra = json.loads(row.get("extra") or "{}")
        except ValueError:
            extra = {}
        if isinstance(extra, dict) and extra.get("type") == kind:  # kept only while the row's type is unchanged
            act |= {k: v for k, v in extra.items() if k != "type"}
        if kind == ActionType.SET_FIELD:
            act |= {"field": target, "value": _typed(target, "eq", value)}
        elif kind == ActionType.ASSIGN:
            act[target or "team_id"] = value.strip()
        elif kind == ActionType.NOTIFY:
            act["to"] = target
            if value.strip():
                act["message"] = value.strip()
        elif kind == ActionType.ADD_WATCHER:
            act["staff_id"] = value.strip()
        elif kind == ActionType.REPLY_TEMPLATE:
            act["body"] = value
        elif kind == ActionType.ADD_TAG:
            act["tag"] = value.strip()
        out.append(act)
    return out


def rows(names: tuple[str, ...], columns: dict[str, list[str]]) -> list[dict[str, str]]:
    """Rows from repeated form fields (one list per column, in page order); short columns pad with blanks."""
    count = max((len(columns.get(n, [])) for n in names), default=0)
    return [{n: (columns.get(n) or [])[i] if i < len(columns.get(n) or []) else "" for n in names}
            for i in range(count)]  # fmt: skip
