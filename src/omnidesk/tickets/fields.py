"""Pure validation of ticket-type templates (custom field definitions) and of the values a ticket carries.

A template is a list of field definitions ``{"key", "label", "kind", "required", "options", "min", "max"}``.
Values are validated all at once so the caller gets every problem in one answer (``errors``), and nothing is
written unless all are valid.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from omnidesk.core.errors import InvalidInput

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ORDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{3,39}$")
MAX_FIELDS = 50
MAX_TEXT = 2000


class FieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    CUSTOMER = "customer"
    ORDER_NUMBER = "order_number"


def validate_template(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check a template's definitions; returns them normalised. Raises :class:`InvalidInput` with all errors."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"a template has at most {MAX_FIELDS} fields")
    for i, spec in enumerate(fields):
        where = f"fields[{i}]"
        unknown = set(spec) - {"key", "label", "kind", "required", "options", "min", "max"}
        if unknown:
            errors.append({"field": where, "message": f"unknown properties: {', '.join(sorted(unknown))}"})
            continue
        key = str(spec.get("key", ""))
        if not _KEY.match(key):
            errors.append(
                {"field": where, "message": "key must be lower_snake_case, 1-40 characters, starting with a letter"}
            )
            continue
        if key in seen:
            errors.append({"field": where, "message": f"duplicate key '{key}'"})
            continue
        seen.add(key)
        try:
            kind = FieldKind(str(spec.get("kind")))
        except ValueError:
            errors.append({"field": where, "message": f"unknown kind '{spec.get('kind')}'; use {', '.join(FieldKind)}"})
            continue
        options = spec.get("options") or []
        if kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE):
            if not options or not all(isinstance(o, str) and o for o in options) or len(set(options)) != len(options):
                errors.append({"field": where, "message": f"'{key}' needs a list of distinct, non-empty options"})
                continue
        elif options:
            errors.append({"field": where, "message": f"options apply only to choice fields, not to '{kind}'"})
            continue
        bounds = {b: spec[b] for b in ("min", "max") if spec.get(b) is not None}
        if bounds and kind != FieldKind.NUMBER:
            errors.append({"field": where, "message": "min and max apply only to number fields"})
            continue
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in bounds.values()):
            errors.append({"field": where, "message": "min and max must be numbers"})
            continue
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            errors.append({"field": where, "message": "min is greater than max"})
            continue
        label = spec.get("label") or key
        out.append(
            {
                "key": key,
                "label": str(label)[:200],
                "kind": kind.value,
                "required": bool(spec.get("required")),
                "options": list(options),
                **bounds,
            }
        )
    if errors:
        raise InvalidInput("the template has invalid fields", errors=errors)
    return out


def field_keys(template: list[dict[str, Any]]) -> set[str]:
    return {f["key"] for f in template}


def validate_values(
    template: list[dict[str, Any]], values: dict[str, Any], *, enforce_required: bool = True
) -> dict[str, Any]:
    """Validate custom values against a template; returns the normalised values.

    Unknown keys, wrong types, options not offered, dates out of range and (with ``enforce_required``) missing
    required fields are all reported together.
    """
    by_key = {f["key"]: f for f in template}
    errors: list[dict[str, Any]] = []
    for key in sorted(set(values) - set(by_key)):
        errors.append({"field": f"custom_fields.{key}", "message": "no such field in this ticket type"})
    out: dict[str, Any] = {}
    for key, spec in by_key.items():
        value = values.get(key)
        if value is None or value == "" or value == []:
            if enforce_required and spec["required"]:
                errors.append({"field": f"custom_fields.{key}", "message": "required"})
            continue
        try:
            out[key] = _coerce(spec, value)
        except ValueError as exc:
            errors.append({"field": f"custom_fields.{key}", "message": str(exc)})
    if errors:
        raise InvalidInput("some custom fields are invalid", errors=errors)
    return out


def _coerce(spec: dict[str, Any], value: Any) -> Any:
    kind = FieldKind(spec["kind"])
    if kind == FieldKind.TEXT:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"must be text of at most {MAX_TEXT} characters")
        return value
    if kind == FieldKind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if "min" in spec and value < spec["min"]:
            raise ValueError(f"must be at least {spec['min']}")
        if "max" in spec and value > spec["max"]:
            raise ValueError(f"must be at most {spec['max']}")
        return value
    if kind == FieldKind.DATE:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise ValueError("must be a date like 2026-11-25") from None
        if not date(1971, 1, 1) <= day <= date(2200, 1, 1):
            raise ValueError("must be between 1971-01-01 and 2200-01-01")
        return day.isoformat()
    if kind == FieldKind.CHOICE:
        if value not in spec["options"]:
            raise ValueError(f"must be one of {', '.join(spec['options'])}")
        return value
    if kind == FieldKind.MULTI_CHOICE:
        if not isinstance(value, list) or any(v not in spec["options"] for v in value):
            raise ValueError(f"must be a list drawn from {', '.join(spec['options'])}")
        return list(dict.fromkeys(value))
    if kind == FieldKind.CUSTOMER:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise ValueError("must be a customer id") from None
    if not isinstance(value, str) or not _ORDER.match(value):
        raise ValueError("must be an order number: 4-40 letters, digits or dashes")
    return value
