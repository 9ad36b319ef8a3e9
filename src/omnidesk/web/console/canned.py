"""``/settings/canned``: canned responses (shortcut, title, body with placeholders) through
``conversations.canned`` (``canned_responses.manage``, as ``/canned-responses``). Responses are shared by the
whole workspace: the conversations slice has no per-team or personal responses."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from omnidesk.conversations import canned
from omnidesk.conversations.canned import CannedCreate, CannedUpdate
from omnidesk.security.permissions import Perm
from omnidesk.web.forms import Visit, attempt, parse, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/canned"
NOTICES = ("created", "saved", "deleted")
EMPTY = {"id": "", "shortcut": "", "title": "", "body": ""}


@router.get(PAGE)
def canned_page(request: Request, done: str = "", edit: uuid.UUID | None = None) -> Response:
    v = visit(request, Perm.CANNED_RESPONSES_MANAGE)
    if not isinstance(v, Visit):
        return v
    form = dict(EMPTY)
    if edit is not None:
        with v.read() as s:
            for row in canned.list_canned(s, v.actor):
                if row.id == edit:
                    form = {"id": str(row.id), "shortcut": row.shortcut, "title": row.title, "body": row.body}
    return _render(v, form, notice=done if done in NOTICES else "")


def _render(v: Visit, form: dict[str, Any], *, notice: str = "", error: str = "", status_code: int = 200) -> Response:
    with v.read() as s:
        rows = canned.list_canned(s, v.actor)
    return v.render(
        "console/canned.html",
        {
            "section": "canned",
            "rows": rows,
            "form": form,
            "placeholders": canned.PLACEHOLDERS,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def save(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    shortcut: Annotated[str, Form(max_length=60)] = "",
    title: Annotated[str, Form(max_length=210)] = "",
    body: Annotated[str, Form(max_length=5100)] = "",
    canned_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    form = {"id": canned_id, "shortcut": shortcut.strip().lstrip("/"), "title": title.strip(), "body": body}
    data = {k: form[k] for k in ("shortcut", "title", "body")}
    v = visit(request, Perm.CANNED_RESPONSES_MANAGE, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    if not canned_id:
        save = lambda s, a: canned.create_canned(s, a, parse(CannedCreate, data))  # noqa: E731
    else:
        try:
            edited = uuid.UUID(canned_id)
        except ValueError:
            return _render(v, form, error=v.t("console.err.stale"), status_code=422)
        save = lambda s, a: canned.update_canned(s, a, edited, parse(CannedUpdate, data))  # noqa: E731
    return attempt(
        v, save, to=PAGE, notice="saved" if canned_id else "created",
        failed=lambda v, why: _render(v, form, error=why.message, status_code=422),
    )  # fmt: skip


@router.post(PAGE + "/{canned_id}/delete")
def delete(request: Request, canned_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return submit(
        request, csrf, lambda s, a: canned.delete_canned(s, a, canned_id),
        perms=(Perm.CANNED_RESPONSES_MANAGE,), to=PAGE, notice="deleted",
        failed=lambda v, why: _render(v, dict(EMPTY), error=why.message, status_code=why.status),
    )  # fmt: skip
