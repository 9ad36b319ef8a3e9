"""Pure automation rules, field templates, the lifecycle and classification. No database."""

from __future__ import annotations

import uuid

import pytest

from omnidesk.core.errors import InvalidInput
from omnidesk.tickets import fields, rules
from omnidesk.tickets.classify import classify
from omnidesk.tickets.states import Priority, Status, check_transition, raised


def rule(name: str, trigger: dict[str, object], actions: list[dict[str, object]]) -> rules.Rule:
    return rules.Rule(uuid.uuid4(), name, trigger, [], actions)  # type: ignore[arg-type]


def test_valid_rule_passes() -> None:
    rules.validate_rule(
        {"event": "ticket.created"},
        [{"field": "custom.order_no", "op": "is_set"}, {"field": "priority", "op": "in", "value": ["high", "urgent"]}],
        [{"type": "set_field", "field": "category", "value": "orders"}, {"type": "notify", "to": "supervisors"}],
        {"order_no"},
    )


@pytest.mark.parametrize(
    ("trigger", "conditions", "actions", "fragment"),
    [
        ({"event": "ticket.exploded"}, [], [{"type": "escalate"}], "unknown event"),
        (
            {"event": "ticket.created"},
            [{"field": "custom.nope", "op": "eq", "value": 1}],
            [{"type": "escalate"}],
            "unknown field",
        ),
        (
            {"event": "ticket.created"},
            [{"field": "priority", "op": "like"}],
            [{"type": "escalate"}],
            "unknown operator",
        ),
        ({"event": "ticket.created"}, [], [], "at least one action"),
        ({"event": "ticket.created"}, [], [{"type": "set_field", "field": "custom.nope", "value": 1}], "cannot set"),
        ({"event": "ticket.created"}, [], [{"type": "set_field", "field": "priority", "value": "meh"}], "priority"),
        ({"event": "elapsed", "since": "created_at"}, [], [{"type": "escalate"}], "minutes"),
        ({"event": "ticket.created", "minutes": 5}, [], [{"type": "escalate"}], "elapsed"),
        ({"event": "ticket.created"}, [], [{"type": "launch_rocket"}], "unknown action"),
    ],
)
def test_invalid_rules_name_the_problem(
    trigger: dict[str, object], conditions: list[dict[str, object]], actions: list[dict[str, object]], fragment: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        rules.validate_rule(trigger, conditions, actions, set())  # type: ignore[arg-type]
    assert any(fragment in e["message"] for e in err.value.errors)


def test_cycles_are_found() -> None:
    a = rule(
        "A",
        {"event": "ticket.updated", "fields": ["priority"]},
        [{"type": "set_field", "field": "category", "value": "x"}],
    )
    b = rule(
        "B",
        {"event": "ticket.updated", "fields": ["category"]},
        [{"type": "set_field", "field": "priority", "value": "high"}],
    )
    c = rule("C", {"event": "ticket.created"}, [{"type": "escalate"}])
    assert rules.find_cycle([c, a]) is None
    cycle = rules.find_cycle([a, b, c])
    assert cycle is not None and cycle[0] == cycle[-1] and {"A", "B"} <= set(cycle)
    selfish = rule("S", {"event": "ticket.updated"}, [{"type": "add_tag", "tag": "x"}])
    assert rules.find_cycle([selfish]) == ["S", "S"]
    replier = rule("R", {"event": "message.public"}, [{"type": "reply_template", "body": "thanks"}])
    assert rules.find_cycle([replier]) == ["R", "R"]


def test_conditions_match_facts() -> None:
    facts = {"priority": "high", "tags": ["vip"], "subject": "Refund please", "reopen_count": 2}
    assert rules.matches([{"field": "priority", "op": "eq", "value": "high"}], facts)
    assert rules.matches([{"field": "tags", "op": "contains", "value": "vip"}], facts)
    assert rules.matches([{"field": "subject", "op": "contains", "value": "refund"}], facts)
    assert rules.matches([{"field": "reopen_count", "op": "gt", "value": 1}], facts)
    assert not rules.matches([{"field": "priority", "op": "not_in", "value": ["high"]}], facts)
    assert rules.matches([{"field": "category", "op": "is_not_set"}], facts)


def test_template_and_values() -> None:
    template = fields.validate_template(
        [
            {"key": "order_no", "kind": "order_number", "required": True},
            {"key": "amount", "kind": "number", "min": 0, "max": 10000},
            {"key": "when", "kind": "date"},
            {"key": "reason", "kind": "choice", "options": ["late", "broken"]},
            {"key": "tags", "kind": "multi_choice", "options": ["a", "b"]},
        ]
    )
    ok = fields.validate_values(template, {"order_no": "SK-2026-0001", "amount": 12.5, "when": "2026-11-25"})
    assert ok["when"] == "2026-11-25"
    with pytest.raises(InvalidInput) as err:
        fields.validate_values(
            template, {"amount": -1, "when": "1900-01-01", "reason": "bored", "tags": ["c"], "colour": "red"}
        )
    locs = {e["field"] for e in err.value.errors}
    assert locs == {f"custom_fields.{k}" for k in ("order_no", "amount", "when", "reason", "tags", "colour")}
    assert fields.validate_values(template, {}, enforce_required=False) == {}


@pytest.mark.parametrize(
    "bad",
    [
        [{"key": "A b", "kind": "text"}],
        [{"key": "x", "kind": "colour"}],
        [{"key": "x", "kind": "choice"}],
        [{"key": "x", "kind": "text"}, {"key": "x", "kind": "text"}],
        [{"key": "x", "kind": "text", "min": 1}],
        [{"key": "x", "kind": "text", "secret": True}],
    ],
)
def test_bad_templates(bad: list[dict[str, object]]) -> None:
    with pytest.raises(InvalidInput):
        fields.validate_template(bad)


def test_lifecycle_refuses_illegal_moves() -> None:
    check_transition(Status.NEW, Status.OPEN)
    check_transition(Status.RESOLVED, Status.REOPENED)
    for current, target in [(Status.NEW, Status.CLOSED), (Status.CLOSED, Status.OPEN), (Status.OPEN, Status.OPEN)]:
        with pytest.raises(InvalidInput):
            check_transition(current, target)
    assert raised(Priority.NORMAL) == Priority.HIGH and raised(Priority.URGENT) == Priority.URGENT


def test_classification_first_match_wins() -> None:
    routing = [
        {"name": "refunds", "keywords": ["退款", "refund"], "team_id": "t1", "priority": "high"},
        {"name": "delivery", "keywords": ["快递"], "intents": ["where_is_my_order"], "team_id": "t2"},
    ]
    assert classify(routing, "我要退款", None).team_id == "t1"
    assert classify(routing, "hello", "where_is_my_order").rule == "delivery"
    assert classify(routing, "hello", None).team_id is None
