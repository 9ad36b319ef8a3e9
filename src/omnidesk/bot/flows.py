"""Multi-turn flows as pure functions over a small state: fill slots from what the customer said, ask for the
next missing one, give up after too many attempts. The engine feeds them entities and stores the state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from omnidesk.bot.nlu.entities import Entity
from omnidesk.bot.settings import FlowSpec, ShippingZone, SlotSpec

_WEIGHT = re.compile(r"(\d+(?:\.\d+)?)\s*(kg|KG|Kg|公斤|千克|斤)")


@dataclass
class FlowState:
    """What a running flow knows; JSON-serialisable so it survives across turns and restarts."""

    flow: str
    slots: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "slots": dict(self.slots), "attempts": dict(self.attempts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowState:
        return cls(flow=str(data["flow"]), slots=dict(data.get("slots", {})), attempts=dict(data.get("attempts", {})))


def starts(flow: FlowSpec, normalized_text: str, intent: str | None) -> bool:
    if intent and intent in flow.intents:
        return True
    return any(k.lower() in normalized_text for k in flow.keywords)


def _value_for(slot: SlotSpec, text: str, entities: list[Entity], *, asked: bool) -> str | None:
    for entity in entities:
        if entity.kind == slot.kind:
            return str(entity.value)
    if slot.kind == "weight_kg":
        match = _WEIGHT.search(text)
        if match:
            value = float(match.group(1)) / (2 if match.group(2) == "斤" else 1)
            return f"{value:g}"
        if asked and re.fullmatch(r"\s*\d+(\.\d+)?\s*", text):
            return text.strip()
    if slot.kind in ("order_number", "tracking_number") and asked:
        # Asked for exactly this, a bare code is the answer even when it matches no known carrier's pattern.
        code = text.strip().upper()
        if re.fullmatch(r"[A-Z0-9][A-Z0-9\-]{5,31}", code) and any(c.isdigit() for c in code):
            return code
    if slot.kind == "choice":
        lowered = text.lower()
        for choice in slot.choices:
            if choice.lower() in lowered:
                return choice
        for choice, words in slot.synonyms.items():
            if any(_names_word(lowered, word.lower()) for word in words):
                return choice
    if slot.kind == "text" and asked and text.strip():
        return text.strip()[:500]
    return None


def _names_word(lowered: str, word: str) -> bool:
    """``word`` in the text; a Latin word only as a whole word ("Xi'an" is not in "Xi'anyang")."""
    if not word:
        return False
    if word.isascii():
        return re.search(r"(?<![a-z])" + re.escape(word) + r"(?![a-z])", lowered) is not None
    return word in lowered


def fill(flow: FlowSpec, state: FlowState, text: str, entities: list[Entity], *, asked_slot: str | None) -> list[str]:
    """Fill every empty slot the text provides (a customer may answer two questions at once)."""
    filled = []
    for slot in flow.slots:
        if slot.name in state.slots:
            continue
        value = _value_for(slot, text, entities, asked=slot.name == asked_slot)
        if value is not None:
            state.slots[slot.name] = value
            filled.append(slot.name)
    return filled


def next_missing(flow: FlowSpec, state: FlowState) -> SlotSpec | None:
    for slot in flow.slots:
        if slot.name not in state.slots:
            return slot
    return None


def record_attempt(state: FlowState, slot: SlotSpec) -> bool:
    """Count one more ask for ``slot``; return False once the customer has had ``max_attempts`` tries."""
    state.attempts[slot.name] = state.attempts.get(slot.name, 0) + 1
    return state.attempts[slot.name] <= slot.max_attempts


def shipping_fee(zones: list[ShippingZone], zone_name: str, weight_kg: float) -> tuple[float, ShippingZone] | None:
    """First kilogram plus each started extra kilogram, as the tenant's table says."""
    for zone in zones:
        if zone.name == zone_name or zone.label.zh_CN == zone_name or zone.label.en.lower() == zone_name.lower():
            extra = max(0.0, weight_kg - 1.0)
            started = int(extra) + (1 if extra > int(extra) else 0)
            return round(zone.first_kg + zone.per_extra_kg * started, 2), zone
    return None


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders (validated to be plain names when the tenant saved the template)."""
    return template.format_map(_Blank({k: _text(v) for k, v in values.items()}))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)
