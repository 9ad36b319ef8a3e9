"""What every console page shares: the signed-in session and language, the permission gate, form CSRF, and
running one action in one transaction with its error shown in the form it came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from omnidesk.accounts import auth
from omnidesk.core.actor import Actor
from omnidesk.core.errors import DomainError
from omnidesk.i18n import pick_language, translate
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Visit:
    """A signed-in person allowed on a console page."""

    request: Request
    info: auth.SessionInfo
    lang: str

    @property
    def actor(self) -> Actor:
        return self.info.actor

    def t(self, key: str, **values: object) -> str:
        return translate(key, self.lang, **values)

    def read(self) -> Any:
        return get_db(self.request).tenant_read(self.actor.tenant_id)

    def write(self) -> Any:
        return get_db(self.request).tenant_transaction(self.actor.tenant_id)

    def render(self, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        base = {"lang": self.lang, "csrf": self.info.csrf_token, "user": self.info.user, "tenant": self.info.tenant}
        return render(self.request, template, {**base, **context}, status_code=status_code)


def visit(request: Request, perm: Perm, csrf: str | None = None) -> Visit | Response:
    """The visit, or the answer to give instead: /login when signed out, the 403 page without ``perm``.

    For a form post pass ``csrf``: a wrong token raises (answered 403 like every other form)."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if csrf is not None:
        check_form_csrf(info, csrf)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if not info.actor.can(perm):
        # A 403 answer is audited as a security event after the request (web/security_events.py).
        return render(
            request, "forbidden.html", {"lang": lang, "user": info.user, "forbidden_key": "console.forbidden"}, 403
        )
    return Visit(request, info, lang)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate form input with the API's own schema; the first problem becomes the message shown."""
    return model.model_validate(data)


def problem_text(exc: ValidationError | DomainError) -> str:
    """The message shown in the form: the action's words, each listed problem on a line of its own."""
    if isinstance(exc, DomainError):
        lines = [exc.detail]
        for item in exc.errors[:20]:
            where, message = item.get("field"), item.get("message", "")
            lines.append(f"{where}: {message}" if where else str(message))
        return "\n".join(lines)
    parts = []
    for detail in exc.errors()[:5]:
        where = ".".join(str(p) for p in detail["loc"] if p != "body")
        parts.append(f"{where}: {detail['msg']}" if where else detail["msg"])
    return "\n".join(parts)


def run(v: Visit, action: Callable[[Session, Actor], Any]) -> tuple[Any, str]:
    """Run one action in one transaction; returns (result, "") or (None, the error message) after a rollback."""
    try:
        with v.write() as s:
            return action(s, v.actor), ""
    except (DomainError, ValidationError) as exc:
        return None, problem_text(exc)


def done(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={notice}", status_code=303)
