"""One shape for every staff form post: session → CSRF check → permission → one transaction → one action →
notice → redirect (post / redirect / get); on a refusal the transaction rolls back (nothing is stored) and the
caller answers with the form again, the error in it.

Pages (tickets, contacts, the console, people, the assistant) differ only in what they render and where they
send the browser; the order of the checks and what counts as a refusal live here once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

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
Action = Callable[[Session, Actor], Any]


@dataclass(frozen=True)
class Visit:
    """A signed-in person allowed on a staff page."""

    request: Request
    info: auth.SessionInfo
    lang: str

    @property
    def actor(self) -> Actor:
        return self.info.actor

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.info.tenant.time_zone)

    def t(self, key: str, **values: object) -> str:
        return translate(key, self.lang, **values)

    def check(self, csrf: str) -> None:
        check_form_csrf(self.info, csrf)

    def read(self) -> Any:
        return get_db(self.request).tenant_read(self.actor.tenant_id)

    def write(self) -> Any:
        return get_db(self.request).tenant_transaction(self.actor.tenant_id)

    def render(self, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        base = {"lang": self.lang, "csrf": self.info.csrf_token, "user": self.info.user, "tenant": self.info.tenant,
                "zone": self.zone}  # fmt: skip
        return render(self.request, template, {**base, **context}, status_code=status_code)


def visit(request: Request, *perms: Perm, csrf: str | None = None) -> Visit | Response:
    """The visit, or the answer to give instead: /login when signed out, the 403 page without any of ``perms``
    (no ``perms``: any signed-in person; the action checks its own permission).

    For a form post pass ``csrf``: a wrong token raises (answered 403 like every other form) before anything
    is read."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if csrf is not None:
        check_form_csrf(info, csrf)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if perms and not any(info.actor.can(p) for p in perms):
        # A 403 answer is audited as a security event after the request (web/security_events.py).
        return render(
            request, "forbidden.html", {"lang": lang, "user": info.user, "forbidden_key": "console.forbidden"}, 403
        )
    return Visit(request, info, lang)


@dataclass(frozen=True)
class Failure:
    """Why an action was refused: the HTTP status to answer with, the message for the form, a short code for
    pages that flash through the URL (``conflict``, ``forbidden``, ``not_found``, ``invalid``)."""

    status: int
    message: str
    error: DomainError | ValidationError | None = None

    @property
    def code(self) -> str:
        return {409: "conflict", 403: "forbidden", 404: "not_found"}.get(self.status, "invalid")

    def code_or(self, default: str) -> str:
        """The page's own code for a plain refusal; conflicts and missing permissions keep theirs."""
        return self.code if self.status in (403, 409) else default


def failure(exc: DomainError | ValidationError) -> Failure:
    status = exc.status if isinstance(exc, DomainError) else 422
    return Failure(status, problem_text(exc), exc)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate form input with the API's own schema (raises inside the transaction: nothing is stored)."""
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


def run(v: Visit, action: Action) -> tuple[Any, Failure | None]:
    """Run one action in one transaction; ``(result, None)``, or ``(None, why)`` after the rollback."""
    try:
        with v.write() as s:
            return action(s, v.actor), None
    except (DomainError, ValidationError) as exc:
        return None, failure(exc)


def done(path: str, notice: str = "") -> RedirectResponse:
    """Post / redirect / get, with the notice the page shows (``role="status"``)."""
    if not notice:
        return RedirectResponse(path, status_code=303)
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={quote(notice)}", status_code=303)


def submit(
    request: Request,
    csrf: str,
    action: Action,
    *,
    perms: tuple[Perm, ...] = (),
    to: str | Callable[[Any], str],
    notice: str = "",
    failed: Callable[[Visit, Failure], Response],
) -> Response:
    """The whole form post: sign-in and CSRF (and ``perms``), ``action`` in one transaction, then a redirect to
    ``to`` (a path, or a function of the action's result) with ``notice``; a refusal is ``failed(visit, why)``."""
    v = visit(request, *perms, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    return attempt(v, action, to=to, notice=notice, failed=failed)


def attempt(
    v: Visit,
    action: Action,
    *,
    to: str | Callable[[Any], str],
    notice: str = "",
    failed: Callable[[Visit, Failure], Response],
) -> Response:
    """:func:`submit` for a visit already checked (a handler that validated something of its own first)."""
    result, why = run(v, action)
    if why is not None:
        return failed(v, why)
    return done(to(result) if callable(to) else to, notice)
