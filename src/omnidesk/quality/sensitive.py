"""Sensitive-phrase interception, pure: find the tenant's forbidden phrases and the patterns of data that must not
be sent in clear (bank card numbers that pass the Luhn check, PRC resident ID numbers with a valid check digit) in
an agent's message, and mask them. ``actions.check_outgoing`` applies the tenant's policy (block or mask); the
composer's script (``static/qa-composer.js``) runs the same rules while the agent types, as a hint only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PATTERNS = ("card", "id_card")
_CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_ID_CARD = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str  # phrase, card, id_card
    start: int
    end: int
    text: str


def luhn_ok(digits: str) -> bool:
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = int(ch)
        if n % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def id_card_ok(number: str) -> bool:
    body, check = number[:17], number[17].upper()
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11] == check


def scan(body: str, phrases: Sequence[str], patterns: Sequence[str]) -> list[Hit]:
    """Every sensitive span of ``body``, in order, not overlapping (an ID number is not also a card number)."""
    hits: list[Hit] = []
    if "id_card" in patterns:
        hits += [
            Hit("id_card", m.start(), m.end(), m.group()) for m in _ID_CARD.finditer(body) if id_card_ok(m.group())
        ]
    if "card" in patterns:
        for m in _CARD.finditer(body):
            digits = re.sub(r"[ -]", "", m.group())
            if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _overlaps(hits, m.start(), m.end()):
                hits.append(Hit("card", m.start(), m.end(), m.group()))
    lowered = body.lower() if len(body.lower()) == len(body) else body
    for phrase in phrases:
        needle = phrase.strip().lower()
        if not needle:
            continue
        start = lowered.find(needle)
        while start >= 0:
            if not _overlaps(hits, start, start + len(needle)):
                hits.append(Hit("phrase", start, start + len(needle), body[start : start + len(needle)]))
            start = lowered.find(needle, start + len(needle))
    return sorted(hits, key=lambda h: h.start)


def _overlaps(hits: Sequence[Hit], start: int, end: int) -> bool:
    return any(h.start < end and start < h.end for h in hits)


def mask(body: str, hits: Sequence[Hit]) -> str:
    """Numbers keep their last four digits (the customer can still tell which card); phrases become stars."""
    out, last = [], 0
    for hit in hits:
        out.append(body[last : hit.start])
        if hit.kind == "phrase":
            out.append("*" * len(hit.text))
        else:
            keep = 4
            digits_seen = 0
            masked = []
            total = sum(c.isalnum() for c in hit.text)
            for c in hit.text:
                if c.isalnum():
                    digits_seen += 1
                    masked.append(c if digits_seen > total - keep else "*")
                else:
                    masked.append(c)
            out.append("".join(masked))
        last = hit.end
    out.append(body[last:])
    return "".join(out)
