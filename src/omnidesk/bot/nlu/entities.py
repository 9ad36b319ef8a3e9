"""Entity extraction: order and tracking numbers, phones, e-mails, amounts, dates (zh/en), tenant regexes.

Spans index the *original* text (``text[start:end] == entity.text``). Extraction works on a one-to-one
half-width copy of the input (full-width digits "１２３" are recognised) so spans stay valid.

Patterns (documented because customers paste them in every shape):

* tracking numbers (carrier prefix + digits, word-bounded, letters case-insensitive):
  ``SF`` + 10–15 digits (SF Express, current numbers are SF + 12–13 digits); ``YT`` + 10–15 digits (YTO);
  ``JD``/``JDV``/``JDX`` + 10–15 digits (JD Logistics); ``ZTO``/``ZT`` + 10–15 digits; ``STO`` + 10–15;
  ``YD`` + 10–15 (Yunda); ``EMS``/``E`` + 9 digits + ``CN`` or the UPU S10 form ``AA123456789CN``
  (two letters, 9 digits, two-letter country) for international post; ``1Z`` + 16 alphanumerics (UPS).
  The normalised value is upper-case without spaces; ``carrier`` is recorded in ``extra``.
* order numbers: an order keyword ("订单", "订单号", "order", "order no", "#") followed within a few characters
  by 6–32 digits/letters containing at least 6 digits, or a bare run of 15–24 digits that is not a phone
  number (marketplace order ids are 16–19 digits). Keyword-anchored matches are preferred.
* mainland mobile: ``1[3-9]`` + 9 digits, optionally prefixed by ``+86``/``86``/``0086``, with optional
  spaces or dashes as 3-4-4; normalised to the 11 digits with ``+86`` prefix (value ``+8613800138000``).
* international phone: ``+`` country code then 7–14 more digits with optional spaces/dashes/parentheses;
  normalised to E.164-like ``+digits``.
* e-mail: a pragmatic RFC 5322 subset (dot-atoms, no quoted local parts); value is lower-cased.
* amounts: ``¥ ￥ $ € £``, ``RMB``/``CNY``/``USD``/``EUR`` before or after the number, or ``元 块 块钱 美元 美金
  人民币 dollars euros`` after it; thousands separators and decimals; ``1.5万`` (×10 000). Value is
  ``{"amount": Decimal-string, "currency": ISO code}``; ``$`` is taken as USD.
* dates resolved against ``reference`` (a ``datetime.date``): ISO ``2026-11-30`` / ``2026/11/30`` /
  ``2026.11.30``, ``2026年11月30日``, ``11月30日``/``11月30号`` (this year; next year if ``future_bias`` and
  the date already passed), ``11/30`` (month/day), ``Nov 30``/``30 November [2026]``, relative: 今天 明天 后天
  大后天 昨天 前天, 下周一…下周日 / 下星期一, 本周五 / 这周五 / 周五, today, tomorrow, yesterday,
  "day after tomorrow", "next Monday", "this Friday", "in 3 days", "3天后". Values are ISO dates.
* tenant regexes: validated by :func:`compile_tenant_pattern` (length ≤ 300 chars, compiles, no nested
  unbounded quantifiers such as ``(a+)+`` which cause catastrophic backtracking, no back-references) and run
  on at most ``MAX_INPUT_CHARS`` characters of input.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .normalize import to_half_width

__all__ = [
    "MAX_INPUT_CHARS",
    "MAX_PATTERN_CHARS",
    "Entity",
    "InvalidPatternError",
    "TenantPattern",
    "compile_tenant_pattern",
    "extract_entities",
]

MAX_PATTERN_CHARS = 300
MAX_INPUT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Entity:
    """One extracted entity. ``span`` indexes the original text; ``value`` is the normalised value."""

    kind: str
    text: str
    span: tuple[int, int]
    value: object
    extra: dict[str, str] = field(default_factory=dict)


class InvalidPatternError(ValueError):
    """A tenant-defined pattern was rejected; the message says why (shown to the tenant admin)."""


@dataclass(frozen=True, slots=True)
class TenantPattern:
    """A validated tenant regex; create with :func:`compile_tenant_pattern`."""

    kind: str
    regex: re.Pattern[str]


# --- tenant patterns -------------------------------------------------------------------------------------

_NESTED_QUANT_RE = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\d*\})")
_BACKREF_RE = re.compile(r"\\[1-9]|\(\?P=")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def compile_tenant_pattern(kind: str, pattern: str) -> TenantPattern:
    """Validate and compile a tenant regex; raise :class:`InvalidPatternError` with a readable reason.

    Guards against catastrophic backtracking heuristically (Python's ``re`` has no timeout): patterns longer
    than ``MAX_PATTERN_CHARS``, with back-references, or with a quantified group that itself contains a
    quantifier (``(a+)+``, ``(\\w*)*``, ``(x+){2,}``) are refused; input is also truncated to
    ``MAX_INPUT_CHARS`` characters at match time.
    """
    if not _KIND_RE.match(kind):
        raise InvalidPatternError(f"entity kind {kind!r} must be 1-40 lower-case letters, digits or _")
    if not pattern:
        raise InvalidPatternError("pattern is empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidPatternError(f"pattern is longer than {MAX_PATTERN_CHARS} characters")
    if _BACKREF_RE.search(pattern):
        raise InvalidPatternError("back-references are not allowed in patterns")
    if _NESTED_QUANT_RE.search(pattern):
        raise InvalidPatternError("nested quantifiers such as (a+)+ are not allowed (they can hang on some inputs)")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise InvalidPatternError(f"invalid regular expression: {exc}") from exc
    if regex.search("") is not None:
        raise InvalidPatternError("pattern matches the empty string")
    return TenantPattern(kind=kind, regex=regex)


# --- built-in patterns ------------------------------------------------------------------------------------

_NB = r"(?<![A-Za-z0-9])"  # not preceded by an alphanumeric
_NA = r"(?![A-Za-z0-9])"  # not followed by an alphanumeric

_TRACKING = [
    ("SF", re.compile(_NB + r"(SF)\s?(\d{10,15})" + _NA, re.I)),
    ("JD", re.compile(_NB + r"(JD[VX]?)\s?(\d{10,15})" + _NA, re.I)),
    ("ZTO", re.compile(_NB + r"(ZTO|ZT)\s?(\d{10,15})" + _NA, re.I)),
    ("YTO", re.compile(_NB + r"(YT)\s?(\d{10,15})" + _NA, re.I)),
    ("STO", re.compile(_NB + r"(STO)\s?(\d{10,15})" + _NA, re.I)),
    ("YUNDA", re.compile(_NB + r"(YD)\s?(\d{10,15})" + _NA, re.I)),
    ("UPS", re.compile(_NB + r"(1Z)([0-9A-Z]{16})" + _NA, re.I)),
    ("POST", re.compile(_NB + r"([A-Z]{2})(\d{9})([A-Z]{2})" + _NA)),
]
_ORDER_KW = re.compile(
    r"(?:订单编号|订单号码|订单号|订单|单号|order\s*(?:number|no\.?|id|#)?|#)\s*[:：#]?\s*"
    r"([A-Za-z0-9][A-Za-z0-9\-]{5,31})",
    re.I,
)
_BARE_ORDER = re.compile(r"(?<!\d)(\d{15,24})(?!\d)")
_CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s\-]?)?(1[3-9]\d)[\s\-]?(\d{4})[\s\-]?(\d{4})(?!\d)")
_INTL_PHONE = re.compile(r"(?<![\w+])\+(\d{1,3})[\s\-]?(?:\(\d{1,4}\)[\s\-]?)?[\d][\d\s\-]{5,16}\d(?!\d)")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_CUR_BEFORE = {
    "¥": "CNY",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "rmb": "CNY",
    "cny": "CNY",
    "usd": "USD",
    "eur": "EUR",
    "us$": "USD",
}
_CUR_AFTER = {
    "元": "CNY", "块钱": "CNY", "块": "CNY", "人民币": "CNY", "美元": "USD", "美金": "USD", "欧元": "EUR",
    "rmb": "CNY", "cny": "CNY", "usd": "USD", "eur": "EUR", "dollars": "USD", "dollar": "USD",
    "euros": "EUR", "euro": "EUR", "yuan": "CNY",
}  # fmt: skip
_AMOUNT_BEFORE = re.compile(r"(us\$|¥|\$|€|£|rmb|cny|usd|eur)\s?" + _NUM + r"(万)?", re.I)
_AMOUNT_AFTER = re.compile(
    _NUM + r"\s?(万)?\s?(块钱|块|元|人民币|美元|美金|欧元|rmb|cny|usd|eur|dollars|dollar|euros|euro|yuan)(?![a-z])",
    re.I,
)

_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAYS_EN = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
    "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS_EN = (
    {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
    | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
    | {"sept": 9}
)
_ZH_REL = {
    "大后天": 3,
    "后天": 2,
    "明天": 1,
    "明日": 1,
    "今天": 0,
    "今日": 0,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
}
_EN_REL = {
    "day after tomorrow": 2,
    "tomorrow": 1,
    "today": 0,
    "tonight": 0,
    "yesterday": -1,
    "day before yesterday": -2,
}
_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

_D_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_D_ZH_FULL = re.compile(r"(?<!\d)(\d{4})\s?年\s?(\d{1,2})\s?月\s?(\d{1,2})\s?[日号]")
_D_ZH_MD = re.compile(r"(?<![\d年])(\d{1,2})\s?月\s?(\d{1,2})\s?[日号]")
_D_SLASH_MD = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")
_MONTH_ALT = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
_D_EN_MD = re.compile(rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
_D_EN_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_ALT})\.?(?:,?\s+(\d{{4}}))?\b", re.I)
_D_ZH_REL = re.compile("|".join(sorted(_ZH_REL, key=len, reverse=True)))
_D_EN_REL = re.compile(r"\b(?:" + "|".join(sorted(_EN_REL, key=len, reverse=True)) + r")\b", re.I)
_D_ZH_WEEK = re.compile(r"(?:(下下|下|本|这|上)\s?)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天])")
_D_EN_WEEK = re.compile(
    r"\b(next|this|last|coming)?\s*(" + "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True)) + r")\b", re.I
)
_D_ZH_IN = re.compile(r"(\d{1,3}|[一二两三四五六七八九十])\s?(天|周|个星期|星期)(?:之?后|以后)")
_D_EN_IN = re.compile(r"\bin\s+(\d{1,3}|a|one|two|three)\s+(days?|weeks?)\b", re.I)


def _ent(kind: str, text: str, start: int, end: int, value: object, **extra: str) -> Entity:
    return Entity(kind=kind, text=text[start:end], span=(start, end), value=value, extra=dict(extra))


def _overlaps(span: tuple[int, int], taken: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _month_day(ref: dt.date, m: int, d: int, year: int | None, future_bias: bool) -> dt.date | None:
    if year is not None:
        return _safe_date(year, m, d)
    date = _safe_date(ref.year, m, d)
    if date is not None and future_bias and date < ref - dt.timedelta(days=31):
        date = _safe_date(ref.year + 1, m, d) or date
    return date


def _weekday(ref: dt.date, target: int, modifier: str) -> dt.date:
    """Resolve a weekday: "下周一" / "next Monday" = Monday of next week; "周五"/"this Friday" = this week's
    Friday (or the next one if already passed, when no modifier is given); "上周一" = last week's Monday."""
    monday = ref - dt.timedelta(days=ref.weekday())
    if modifier in ("下", "next"):
        return monday + dt.timedelta(days=7 + target)
    if modifier == "下下":
        return monday + dt.timedelta(days=14 + target)
    if modifier in ("上", "last"):
        return monday + dt.timedelta(days=-7 + target)
    if modifier in ("本", "这", "this"):
        return monday + dt.timedelta(days=target)
    # bare weekday or "coming": the next occurrence, today included
    delta = (target - ref.weekday()) % 7
    return ref + dt.timedelta(days=delta)


def _dates(raw: str, half: str, ref: dt.date, future_bias: bool) -> list[Entity]:
    out: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], date: dt.date | None, how: str) -> None:
        if date is None or _overlaps(m.span(), taken):
            return
        taken.append(m.span())
        out.append(_ent("date", raw, m.start(), m.end(), date.isoformat(), form=how))

    for m in _D_ZH_FULL.finditer(half):
        add(m, _safe_date(int(m[1]), int(m[2]), int(m[3])), "absolute")
    for m in _D_ISO.finditer(half):
        add(m, _safe_date(int(m[1]), int(m[2]), int(m[3])), "absolute")
    for m in _D_ZH_MD.finditer(half):
        add(m, _month_day(ref, int(m[1]), int(m[2]), None, future_bias), "absolute")
    for m in _D_EN_MD.finditer(half):
        add(
            m,
            _month_day(ref, _MONTHS_EN[m[1].lower()], int(m[2]), int(m[3]) if m[3] else None, future_bias),
            "absolute",
        )
    for m in _D_EN_DM.finditer(half):
        add(
            m,
            _month_day(ref, _MONTHS_EN[m[2].lower()], int(m[1]), int(m[3]) if m[3] else None, future_bias),
            "absolute",
        )
    for m in _D_SLASH_MD.finditer(half):
        if 1 <= int(m[1]) <= 12:
            add(m, _month_day(ref, int(m[1]), int(m[2]), None, future_bias), "absolute")
    for m in _D_ZH_WEEK.finditer(half):
        add(m, _weekday(ref, _WEEKDAYS_ZH[m[2]], m[1] or ""), "relative")
    for m in _D_EN_WEEK.finditer(half):
        if m[1] is None and len(m[2]) <= 3:
            continue  # bare "sat"/"sun"/"wed" are too ambiguous without a modifier
        add(m, _weekday(ref, _WEEKDAYS_EN[m[2].lower()], (m[1] or "").lower()), "relative")
    for m in _D_ZH_IN.finditer(half):
        n = int(m[1]) if m[1].isdigit() else _ZH_NUM[m[1]]
        add(m, ref + dt.timedelta(days=n * (1 if m[2] == "天" else 7)), "relative")
    for m in _D_EN_IN.finditer(half):
        word = m[1].lower()
        n = int(word) if word.isdigit() else {"a": 1, "one": 1, "two": 2, "three": 3}[word]
        add(m, ref + dt.timedelta(days=n * (1 if m[2].lower().startswith("day") else 7)), "relative")
    for m in _D_EN_REL.finditer(half):
        add(m, ref + dt.timedelta(days=_EN_REL[m[0].lower()]), "relative")
    for m in _D_ZH_REL.finditer(half):
        add(m, ref + dt.timedelta(days=_ZH_REL[m[0]]), "relative")
    return out


def _amount(num: str, wan: str | None) -> str | None:
    try:
        value = Decimal(num.replace(",", ""))
    except InvalidOperation:
        return None
    if wan:
        value *= 10000
    return format(value.normalize(), "f")


def extract_entities(
    text: str,
    *,
    reference: dt.date | None = None,
    tenant_patterns: Sequence[TenantPattern] = (),
    future_bias: bool = True,
) -> list[Entity]:
    """Extract all entities from ``text``; results are sorted by span start and never overlap within the
    built-in kinds (the more specific kind wins: e-mail > tracking > phone > order > amount > date).

    Tenant patterns run last and may overlap built-in entities (a tenant's "member_id" may look like an
    order number; both are reported). Input beyond ``MAX_INPUT_CHARS`` characters is ignored.
    """
    raw = text[:MAX_INPUT_CHARS]
    half = to_half_width(raw)
    ref = reference or dt.date.today()
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def keep(ent: Entity) -> None:
        if not _overlaps(ent.span, taken):
            taken.append(ent.span)
            found.append(ent)

    for m in _EMAIL.finditer(half):
        keep(_ent("email", raw, m.start(), m.end(), m[0].lower()))
    for carrier, rx in _TRACKING:
        for m in rx.finditer(half):
            keep(_ent("tracking_number", raw, m.start(), m.end(), "".join(m.groups()).upper(), carrier=carrier))
    for m in _CN_MOBILE.finditer(half):
        keep(_ent("phone", raw, m.start(), m.end(), "+86" + m[1] + m[2] + m[3], region="CN", type="mobile"))
    for m in _INTL_PHONE.finditer(half):
        digits = re.sub(r"\D", "", m[0])
        if 8 <= len(digits) <= 15:
            keep(_ent("phone", raw, m.start(), m.end(), "+" + digits, type="international"))
    for m in _ORDER_KW.finditer(half):
        if sum(ch.isdigit() for ch in m[1]) >= 6:
            keep(_ent("order_number", raw, m.start(1), m.end(1), m[1].upper()))
    for m in _BARE_ORDER.finditer(half):
        keep(_ent("order_number", raw, m.start(1), m.end(1), m[1]))
    for m in _AMOUNT_BEFORE.finditer(half):
        value = _amount(m[2], m[3])
        if value is not None:
            cur = _CUR_BEFORE[m[1].lower()]
            keep(_ent("amount", raw, m.start(), m.end(), {"amount": value, "currency": cur}))
    for m in _AMOUNT_AFTER.finditer(half):
        value = _amount(m[1], m[2])
        if value is not None:
            cur = _CUR_AFTER[m[3].lower()]
            keep(_ent("amount", raw, m.start(), m.end(), {"amount": value, "currency": cur}))
    for ent in _dates(raw, half, ref, future_bias):
        keep(ent)
    for tp in tenant_patterns:
        for m in tp.regex.finditer(half):
            if m.end() > m.start():
                found.append(_ent(tp.kind, raw, m.start(), m.end(), m[0], source="tenant"))
    found.sort(key=lambda e: (e.span[0], e.span[1]))
    return found
