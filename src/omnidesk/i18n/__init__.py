"""User-facing texts in zh-CN and en. Keys are stable; both languages must define every key (a test checks)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    """All ``i18n/<language>/*.json`` files merged; each slice keeps its own file, keys prefixed by the slice."""
    merged: dict[str, str] = {}
    folder = resources.files("omnidesk.i18n").joinpath(language)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            merged.update(json.loads(entry.read_text(encoding="utf-8")))
    return merged


def translate(key: str, language: str, **values: object) -> str:
    lang = language if language in LANGUAGES else DEFAULT
    template = catalogue(lang).get(key) or catalogue("en").get(key) or key
    return template.format(**values) if values else template


def pick_language(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first explicit choice wins, then the browser's preference, then Chinese."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh"):
                return "zh-CN"
            if tag.startswith("en"):
                return "en"
    return DEFAULT


_CHINESE_NAMES = {
    "chinese",
    "中文",
    "简体中文",
    "繁體中文",
    "繁体中文",
    "汉语",
    "漢語",
    "cn",
    "chs",
    "cht",
    "zho",
    "chi",
}
_ENGLISH_NAMES = {"english", "英文", "英语", "英語", "eng"}


def language_tag(value: str) -> str | None:
    """The language OmniDesk stores for a tag written any common way, or None when it is neither Chinese nor
    English: ``zh``, ``zh-Hans``, ``zh_CN``, ``zh-TW``, ``Chinese``, ``中文`` → ``zh-CN``; ``en``, ``en-US``,
    ``EN_gb``, ``English`` → ``en``. Files from other systems write them all (BCP 47, POSIX locales, names);
    Chinese in any script is kept as ``zh-CN``, the only Chinese the product has."""
    tag = value.strip().replace("_", "-").lower()
    if not tag:
        return None
    primary = tag.split("-", 1)[0]
    if primary in ("zh", "cmn", "yue") or tag in _CHINESE_NAMES:
        return "zh-CN"
    if primary == "en" or tag in _ENGLISH_NAMES:
        return "en"
    return None
