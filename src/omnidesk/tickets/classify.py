"""Pure classification: keyword and intent rules pick a type, category, team and priority for a new ticket.

Rules are checked in order; the first whose keywords (any, case-insensitive) or intents match wins. A ticket that
already names a team keeps it: classification fills gaps, it never overrides a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Routing:
    team_id: str | None = None
    priority: str | None = None
    category: str | None = None
    rule: str | None = None


def classify(rules: list[dict[str, Any]], text: str, intent: str | None) -> Routing:
    lowered = text.lower()
    for rule in rules:
        keywords = [k.lower() for k in rule.get("keywords", []) if k]
        intents = rule.get("intents", [])
        if (keywords and any(k in lowered for k in keywords)) or (intent and intent in intents):
            return Routing(
                team_id=rule.get("team_id"),
                priority=rule.get("priority"),
                category=rule.get("category"),
                rule=rule.get("name"),
            )
    return Routing()
