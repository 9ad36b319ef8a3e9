"""problem+json (RFC 9457) responses for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from omnidesk.core.errors import DomainError, PasswordChangeRequired, PermissionDenied, RateLimited
from omnidesk.core.schemas import error_message
from omnidesk.i18n import pick_language, translate
from omnidesk.web.ui import LANG_COOKIE, render

log = logging.getLogger("omnidesk.web")

PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    field: str | list[str]
    message: str
    type: str | None = None
    in_: str | None = Field(default=None, alias="in")


class Problem(BaseModel):
    """An RFC 9457 problem: ``detail`` says what went wrong in words a person can act on."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    retry_after: int | None = Field(default=None, description="429 only: seconds to wait, as in Retry-After")


def _doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("malformed request (JSON, encoding, Idempotency-Key)"),
    401: _doc("missing, invalid, expired or revoked credentials"),
    403: _doc("the caller's role lacks the permission, or the CSRF token is missing"),
    404: _doc("no such object in the caller's tenant"),
    409: _doc("conflict: duplicate, concurrent edit, or request with this key still running"),
    413: _doc("body larger than the configured limit"),
    422: _doc("invalid input: wrong types, unknown fields, rule violations"),
    429: _doc("rate limited; see Retry-After"),
    503: _doc("the database or Redis is unreachable; nothing was done, retry after Retry-After seconds"),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers={"Cache-Control": "no-store"})


RETRY_AFTER_SECONDS = 5


def unavailable(request: Request, key: str) -> JSONResponse:
    """503 with ``Retry-After``, its text in the caller's language (their language cookie, then Accept-Language;
    English, like the rest of the API's problems, when they state none)."""
    accept = request.headers.get("accept-language")
    chosen = request.cookies.get(LANG_COOKIE)
    lang = pick_language(chosen, accept_language=accept) if chosen or accept else "en"
    response = problem(503, "unavailable", translate("problem.unavailable_title", lang), translate(key, lang))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Content-Language"] = lang
    return response


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append(
            {
                "field": ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc) or loc[0:1],
                "in": loc[0] if loc else "body",
                "message": error_message(err),
                "type": err.get("type"),
            }
        )
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route answers at this path (RFC 9110 §15.5.6: a 405 must list them in ``Allow``).

    Starlette fills ``Allow`` from the first route whose path matched, so ``GET /x`` and ``POST /x`` declared as
    two routes gave ``Allow: GET`` alone. Each method is asked of every route through the public ``matches``
    (included routers answer it too); this runs only when a 405 is being answered.
    """
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles) and route.matches(scope)[0] != Match.NONE:
                methods |= {"GET", "HEAD"}
            continue
        methods.update(m for m in _METHODS if route.matches({**scope, "method": m})[0] == Match.FULL)
    return sorted(methods)


def _is_page(request: Request) -> bool:
    """A request for an HTML page of the staff UI (not the API, the widget's API or a static file)."""
    path = request.url.path
    return request.method in ("GET", "HEAD") and not path.startswith(("/api/", "/static/"))


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, PermissionDenied) and _is_page(request):
            # A page answers a person with the one 403 page of every section, never the API's JSON.
            return render(request, "forbidden.html", {}, status_code=403)
        if isinstance(exc, RateLimited):
            # The wait is also in the body (an RFC 9457 extension member), for clients that cannot read headers.
            response = problem(exc.status, exc.code, exc.title, exc.detail, retry_after=exc.retry_after)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return problem(exc.status, exc.code, exc.title, exc.detail, errors=exc.errors or None)

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change(request: Request, exc: PasswordChangeRequired) -> Response:
        # The API answers 403 with a problem a client can act on; a page sends the browser to the one page the
        # person may use until they have chosen their own password.
        if request.url.path.startswith("/api/"):
            return problem(exc.status, exc.code, exc.title, exc.detail)
        return RedirectResponse("/account/password", status_code=303, headers={"Cache-Control": "no-store"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON")
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem(422, "invalid-input", "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "the request body could not be read: it must be UTF-8 JSON"
        if exc.status_code == 405:
            # A mount rewrites root_path in place while routing: match again from the application's own root.
            scope = {"type": "http", "path": request.scope["path"], "method": request.method,
                     "root_path": request.scope.get("app_root_path", request.scope.get("root_path", ""))}  # fmt: skip
            allow = ", ".join(allowed_methods(request.app.router.routes, scope))
            detail = f"{request.method} is not allowed here; use {allow}" if allow else detail
            response = problem(405, "method-not-allowed", "Method not allowed", detail)
            response.headers["Allow"] = allow
            return response
        response = problem(exc.status_code, f"http-{exc.status_code}", detail, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(ValidationError)
    async def _late_invalid(_request: Request, exc: ValidationError) -> JSONResponse:
        # Validation that only an action can do (a derived value) still answers 422, never 500.
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": error_message(e), "type": e["type"]}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        return problem(422, "invalid-input", "Invalid input", f"{first['field']}: {first['message']}", errors=errors)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return problem(409, "conflict", "Conflict", "someone else changed this at the same time; reload and try again")

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # A value the database (or its driver) cannot hold: a number past the column's range reached it although
        # inputs are bounded (core/schemas.Int32). The caller sent it, so 422, never 500; logged in case it is ours.
        log.warning("value out of range for the database", extra={"path": request.url.path}, exc_info=exc)
        return problem(
            422, "invalid-input", "Invalid input", "a number or value is out of the range that can be stored"
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable", extra={"error": type(exc.orig).__name__})
        return unavailable(request, "problem.unavailable_database")

    @app.exception_handler(RedisError)
    @app.exception_handler(ConnectionError)
    async def _service_down(request: Request, exc: Exception) -> JSONResponse:
        # Redis (rate limits, presence, log-in throttle in a cluster) or another backing service is down: the
        # request did not complete and nothing half-done was committed (the transaction rolled back), so the
        # caller may simply retry; widget sends are idempotent on their client_id.
        log.error("backing service unavailable", extra={"error": type(exc).__name__, "path": request.url.path})
        return unavailable(request, "problem.unavailable_service")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged")
