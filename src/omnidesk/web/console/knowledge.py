"""``/settings/knowledge-categories``: the help center's categories: create, rename (both languages), reorder
(move up / down), delete (refused while the category holds articles). Through ``knowledge.actions`` with the
API's schemas; permission ``knowledge.write`` as ``/knowledge/categories``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from omnidesk.core.errors import Conflict
from omnidesk.knowledge import actions, queries
from omnidesk.knowledge.models import KbArticle
from omnidesk.knowledge.schemas import CategoryCreate, CategoryUpdate
from omnidesk.security.permissions import Perm
from omnidesk.web.forms import Failure, Visit, attempt, parse, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/knowledge-categories"
NOTICES = ("created", "renamed", "moved", "deleted")
Name = Annotated[str, Form(max_length=310)]


def _names(zh: str, en: str) -> dict[str, str]:
    return {lang: text.strip() for lang, text in (("zh-CN", zh), ("en", en)) if text.strip()}


@router.get(PAGE)
def categories_page(request: Request, done: str = "") -> Response:
    v = visit(request, Perm.KNOWLEDGE_WRITE)
    if not isinstance(v, Visit):
        return v
    return _render(v, notice=done if done in NOTICES else "")


def _render(v: Visit, *, notice: str = "", error: str = "", error_for: str = "", typed: dict[str, Any] | None = None,
            status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        rows = queries.categories(s)
        counts = dict(
            s.execute(
                select(KbArticle.category_id, func.count()).where(KbArticle.category_id.is_not(None))
                .group_by(KbArticle.category_id)
            ).all()
        )  # fmt: skip
    return v.render(
        "console/knowledge_categories.html",
        {
            "section": "knowledge_categories",
            "rows": rows,
            "counts": counts,
            "notice": notice,
            "error": error,
            "error_for": error_for,
            "typed": typed or {"slug": "", "zh": "", "en": ""},
        },
        status_code=status_code,
    )


@router.post(PAGE)
def create(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    slug: Annotated[str, Form(max_length=70)] = "",
    name_zh: Name = "",
    name_en: Name = "",
) -> Response:
    def add(s: Any, actor: Any) -> None:
        last = max((c.position for c in queries.categories(s)), default=-10)
        data = parse(CategoryCreate, {"slug": slug.strip(), "names": _names(name_zh, name_en), "position": last + 10})
        actions.create_category(s, actor, data)

    typed = {"slug": slug, "zh": name_zh, "en": name_en}
    return submit(
        request, csrf, add, perms=(Perm.KNOWLEDGE_WRITE,), to=PAGE, notice="created",
        failed=lambda v, why: _render(v, error=why.message, error_for="new", typed=typed, status_code=422),
    )  # fmt: skip


@router.post(PAGE + "/{category_id}/rename")
def rename(
    request: Request,
    category_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    name_zh: Name = "",
    name_en: Name = "",
) -> Response:
    v = visit(request, Perm.KNOWLEDGE_WRITE, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    names = _names(name_zh, name_en)
    if not names:
        return _failed(category_id)(v, Failure(422, v.t("console.knowledge_categories.name_required"), None))
    rename = lambda s, a: actions.update_category(s, a, category_id, parse(CategoryUpdate, {"names": names}))  # noqa: E731
    return attempt(v, rename, to=PAGE, notice="renamed", failed=_failed(category_id))


def _failed(category_id: uuid.UUID) -> Callable[[Visit, Failure], Response]:
    """The list again, the error beside the category's row; a category that still holds articles says how many."""

    def answer(v: Visit, why: Failure) -> Response:
        message = why.message
        if isinstance(why.error, Conflict):
            held = next((e.get("articles") for e in why.error.errors if "articles" in e), 0)
            message = v.t("console.knowledge_categories.not_empty", n=held)
        return _render(v, error=message, error_for=str(category_id), status_code=why.status)

    return answer


@router.post(PAGE + "/{category_id}/move")
def move(
    request: Request,
    category_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    direction: Annotated[str, Form(pattern="^(up|down)$")] = "up",
) -> Response:
    def reorder(s: Any, actor: Any) -> None:
        order = [c.id for c in queries.categories(s)]
        i = order.index(queries.get_category(s, category_id).id)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
        actions.reorder_categories(s, actor, order)

    return submit(
        request, csrf, reorder, perms=(Perm.KNOWLEDGE_WRITE,), to=PAGE, notice="moved", failed=_failed(category_id)
    )


@router.post(PAGE + "/{category_id}/delete")
def delete(request: Request, category_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return submit(
        request, csrf, lambda s, a: actions.delete_category(s, a, category_id),
        perms=(Perm.KNOWLEDGE_WRITE,), to=PAGE, notice="deleted", failed=_failed(category_id),
    )  # fmt: skip
