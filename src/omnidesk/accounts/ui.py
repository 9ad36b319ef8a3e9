"""The staff console's people pages: users (invite, role, teams, activation, password reset, sessions), teams and
skills, the roles matrix and API keys, under ``/settings``.

Server-rendered forms with the session's CSRF token. Every change goes through the same actions as the API
(``accounts.actions``, ``accounts.credentials``: permission, audit, events). Bad input is answered with the page
again, the message beside the field (422) and nothing changed: the whole request is one transaction, and it rolls
back on any refusal. Secrets (a one-time password, a reset link, an API key) appear in the answer to the POST that
made them, once, and never in a URL.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from omnidesk.accounts import actions, credentials, queries
from omnidesk.accounts.schemas import ApiKeyCreate, StaffCreate, StaffSkills, StaffUpdate, TeamCreate, TeamUpdate
from omnidesk.core.actor import Actor
from omnidesk.core.errors import Conflict, DomainError, InvalidInput, NotFound, RateLimited
from omnidesk.core.schemas import error_message
from omnidesk.security.permissions import ROLE_PERMISSIONS, Perm, Role
from omnidesk.security.ratelimit import RateLimiter
from omnidesk.web.deps import public_base_url
from omnidesk.web.forms import Failure, Visit, attempt, submit, visit

router = APIRouter(include_in_schema=False)

Csrf = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=1000)]
Ids = Annotated[list[str], Form(max_length=64)]

USERS = "/settings/users"
TEAMS = "/settings/teams"
KEYS = "/settings/api-keys"


class _Refused(Exception):
    """Leave the handler with this response (sign-in redirect or 403 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


Page = Visit


def _visit(request: Request, *perms: Perm) -> Visit:
    """The signed-in person behind a console page, after its permission check (else :class:`_Refused`)."""
    v = visit(request, *perms)
    if not isinstance(v, Visit):
        raise _Refused(v)
    return v


def _page(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Turn a :class:`_Refused` into its response (keeps each handler's happy path flat)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except _Refused as refused:
            return refused.response

    return wrapper


def field_errors(page: Page, exc: ValidationError) -> dict[str, str]:
    """``{field: message}`` in the reader's language (the translated hint for the field, else pydantic's text)."""
    out: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else "form"
        key = f"settings.invalid.{name}"
        text = page.t(key)
        out.setdefault(name, text if text != key else error_message(error))
    return out


def _ids(values: Iterable[str]) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(v) for v in values if v]
    except ValueError:
        return None


def _skills(text: str) -> list[str]:
    return [s.strip() for s in text.replace("，", ",").replace("、", ",").split(",") if s.strip()]


# ---- users ------------------------------------------------------------------------------------------------------


def _users_page(page: Page, ctx: dict[str, Any], status_code: int = 200) -> Response:
    with page.read() as s:
        staff = queries.list_staff(s)
        teams = queries.list_teams(s)
        member_of = queries.teams_by_member(s)
        last = queries.last_sign_ins(s)
    names = {t.id: t.name for t in teams}
    rows = [
        {"p": p, "teams": sorted(names[t] for t in member_of.get(p.id, []) if t in names), "last": last.get(p.id)}
        for p in staff
    ]
    form = ctx.pop("form", {"role": Role.AGENT.value, "language": page.lang, "teams": []})
    return page.render(
        "settings/users.html",
        {"rows": rows, "teams": teams, "roles": list(Role), "form": form, "errors": {}, **ctx},
        status_code,
    )


@router.get(USERS)
@_page
def users(request: Request, done: str = "") -> Response:
    page = _visit(request, Perm.STAFF_MANAGE)
    return _users_page(page, {"notice": done if done in ("activated", "deactivated") else ""})


@router.post(USERS)
@_page
def invite(
    request: Request,
    csrf: Csrf,
    email: Text = "",
    display_name: Text = "",
    role: Text = "",
    language: Text = "zh-CN",
    teams: Ids = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    page = _visit(request, Perm.STAFF_MANAGE)
    page.check(csrf)
    form = {"email": email, "display_name": display_name, "role": role, "language": language, "teams": teams}
    team_ids = _ids(teams)
    try:
        data = StaffCreate(email=email.strip(), display_name=display_name.strip(), role=role, language=language)
    except ValidationError as exc:
        return _users_page(page, {"form": form, "errors": field_errors(page, exc)}, 422)
    if team_ids is None:
        return _users_page(page, {"form": form, "errors": {"teams": page.t("settings.invalid.teams")}}, 422)
    try:
        with page.write() as s:
            user, one_time = actions.create_staff(s, page.actor, data)
            if team_ids:
                actions.set_staff_teams(s, page.actor, user.id, team_ids)
            created = {"email": user.email, "name": user.display_name, "password": one_time, "id": user.id}
    except Conflict:
        return _users_page(page, {"form": form, "errors": {"email": page.t("settings.users.email_taken")}}, 409)
    except DomainError as exc:
        return _users_page(page, {"form": form, "error": exc.detail}, exc.status)
    return _users_page(page, {"created": created})


def _user_page(page: Page, user_id: uuid.UUID, ctx: dict[str, Any], status_code: int = 200) -> Response:
    try:
        with page.read() as s:
            person = queries.get_staff(s, user_id)
            teams = queries.list_teams(s)
            mine = queries.teams_of(s, person.id)
            sessions = queries.live_sessions_of(s, person.id)
            last = queries.last_sign_ins(s).get(person.id)
    except NotFound:
        return page.render("settings/not_found.html", {}, 404)
    form = ctx.pop("form", None) or {
        "display_name": person.display_name,
        "role": person.role,
        "teams": [str(t) for t in mine],
    }
    return page.render(
        "settings/user.html",
        {
            "person": person,
            "teams": teams,
            "roles": list(Role),
            "sessions": sessions,
            "last": last,
            "form": form,
            "errors": {},
            "self_edit": person.id == page.actor.staff_id,
            **ctx,
        },
        status_code,
    )


USER_NOTICES = ("saved", "activated", "deactivated", "session_ended", "sessions_ended")


@router.get(USERS + "/{user_id}")
@_page
def user_detail(request: Request, user_id: uuid.UUID, done: str = "") -> Response:
    page = _visit(request, Perm.STAFF_MANAGE)
    return _user_page(page, user_id, {"notice": done if done in USER_NOTICES else ""})


@router.post(USERS + "/{user_id}")
@_page
def user_save(
    request: Request,
    user_id: uuid.UUID,
    csrf: Csrf,
    display_name: Text = "",
    role: Text = "",
    teams: Ids = [],  # noqa: B006
) -> Response:
    page = _visit(request, Perm.STAFF_MANAGE)
    page.check(csrf)
    form = {"display_name": display_name, "role": role, "teams": teams}
    team_ids = _ids(teams)
    try:
        data = StaffUpdate(display_name=display_name.strip(), role=role)
    except ValidationError as exc:
        return _user_page(page, user_id, {"form": form, "errors": field_errors(page, exc)}, 422)
    if team_ids is None:
        return _user_page(page, user_id, {"form": form, "errors": {"teams": page.t("settings.invalid.teams")}}, 422)

    def save(s: Session, actor: Actor) -> None:
        actions.update_staff(s, actor, user_id, data)
        actions.set_staff_teams(s, actor, user_id, team_ids)

    return attempt(page, save, to=f"{USERS}/{user_id}", notice="saved", failed=_user_failed(user_id, form))


@router.post(USERS + "/{user_id}/active")
@_page
def user_active(request: Request, user_id: uuid.UUID, csrf: Csrf, active: Text = "") -> Response:
    wanted = active == "1"
    return submit(
        request, csrf, lambda s, a: actions.update_staff(s, a, user_id, StaffUpdate(is_active=wanted)),
        perms=(Perm.STAFF_MANAGE,), to=f"{USERS}/{user_id}", notice="activated" if wanted else "deactivated",
        failed=_user_failed(user_id),
    )  # fmt: skip


def _user_failed(user_id: uuid.UUID, form: dict[str, Any] | None = None) -> Callable[[Visit, Failure], Response]:
    """The user's page again with why: a change refused on one's own account beside the role."""

    def answer(page: Visit, why: Failure) -> Response:
        ctx: dict[str, Any] = {"form": form} if form else {}
        if isinstance(why.error, InvalidInput):
            key = "errors" if form else "error"
            text = page.t("settings.users.not_self")
            return _user_page(page, user_id, ctx | {key: {"role": text} if form else text}, 422)
        return _user_page(page, user_id, ctx | {"error": why.message}, why.status)

    return answer


def reset_link(request: Request, token: str) -> str:
    base, _ = public_base_url(request)
    return f"{base}/password-reset/{token}"


@router.post(USERS + "/{user_id}/password-reset")
@_page
def user_reset(request: Request, user_id: uuid.UUID, csrf: Csrf) -> Response:
    page = _visit(request, Perm.STAFF_MANAGE)
    page.check(csrf)
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        limiter.hit(f"pwreset:{page.actor.tenant_id}:{user_id}", 5, 3600)
        with page.write() as s:
            token, expires_at = credentials.create_reset_link(s, page.actor, user_id)
    except RateLimited as exc:
        wait = page.t("account.too_many", minutes=(exc.retry_after + 59) // 60)
        return _user_page(page, user_id, {"error": wait}, 429)
    except InvalidInput:
        return _user_page(page, user_id, {"error": page.t("settings.users.reset_inactive")}, 422)
    except DomainError as exc:
        return _user_page(page, user_id, {"error": exc.detail}, exc.status)
    return _user_page(page, user_id, {"link": reset_link(request, token), "link_expires": expires_at})


@router.post(USERS + "/{user_id}/sessions/{session_id}/end")
@_page
def user_end_session(request: Request, user_id: uuid.UUID, session_id: uuid.UUID, csrf: Csrf) -> Response:
    return submit(
        request, csrf, lambda s, a: actions.end_session_of(s, a, user_id, session_id),
        perms=(Perm.STAFF_MANAGE,), to=f"{USERS}/{user_id}", notice="session_ended", failed=_user_failed(user_id),
    )  # fmt: skip


@router.post(USERS + "/{user_id}/sessions/end-all")
@_page
def user_end_sessions(request: Request, user_id: uuid.UUID, csrf: Csrf) -> Response:
    return submit(
        request, csrf, lambda s, a: actions.end_sessions_of(s, a, user_id),
        perms=(Perm.STAFF_MANAGE,), to=f"{USERS}/{user_id}", notice="sessions_ended", failed=_user_failed(user_id),
    )  # fmt: skip


@router.get("/admin/staff")
@_page
def old_staff_page(request: Request) -> Response:
    """The staff list moved into the console; old bookmarks land there (after sign-in and a forced password
    change, like any page)."""
    _visit(request, *Perm)
    return RedirectResponse(USERS, status_code=303)


# ---- teams and skills -------------------------------------------------------------------------------------------


def _teams_page(page: Page, ctx: dict[str, Any], status_code: int = 200) -> Response:
    with page.read() as s:
        teams = queries.list_teams(s)
        members = queries.team_members(s, [t.id for t in teams])
        staff = [p for p in queries.list_staff(s) if p.is_active]
    names = {p.id: p.display_name for p in staff}
    rows = [{"team": t, "members": sorted(names[m] for m in members[t.id] if m in names)} for t in teams]
    return page.render(
        "settings/teams.html",
        {"rows": rows, "staff": staff, "form": ctx.pop("form", {}), "errors": {}, **ctx},
        status_code,
    )


TEAM_NOTICES = ("deleted", "skills_saved")


@router.get(TEAMS)
@_page
def teams(request: Request, done: str = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    return _teams_page(page, {"notice": done if done in TEAM_NOTICES else ""})


@router.post(TEAMS)
@_page
def team_create(request: Request, csrf: Csrf, name: Text = "", description: Text = "", skills: Text = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    form = {"name": name, "description": description, "skills": skills}
    try:
        data = TeamCreate(name=name.strip(), description=description.strip(), skills=_skills(skills))
        with page.write() as s:
            team = actions.create_team(s, page.actor, data)
            team_id = team.id
    except ValidationError as exc:
        return _teams_page(page, {"form": form, "errors": field_errors(page, exc)}, 422)
    except Conflict:
        return _teams_page(page, {"form": form, "errors": {"name": page.t("settings.teams.name_taken")}}, 409)
    return RedirectResponse(f"{TEAMS}/{team_id}?done=created", status_code=303)


@router.post(TEAMS + "/skills/{user_id}")
@_page
def staff_skills(request: Request, user_id: uuid.UUID, csrf: Csrf, skills: Text = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    try:
        data = StaffSkills(skills=_skills(skills))
        with page.write() as s:
            actions.set_staff_skills(s, page.actor, user_id, data.skills)
    except ValidationError as exc:
        errors = {str(user_id): next(iter(field_errors(page, exc).values()))}
        return _teams_page(page, {"skill_errors": errors, "skill_form": {str(user_id): skills}}, 422)
    except DomainError as exc:
        return _teams_page(page, {"error": exc.detail}, exc.status)
    return RedirectResponse(f"{TEAMS}?done=skills_saved#skills", status_code=303)


def _team_page(page: Page, team_id: uuid.UUID, ctx: dict[str, Any], status_code: int = 200) -> Response:
    try:
        with page.read() as s:
            team = queries.get_team(s, team_id)
            member_ids = queries.team_members(s, [team.id])[team.id]
            staff = queries.list_staff(s)
    except NotFound:
        return page.render("settings/not_found.html", {}, 404)
    members = [p for p in staff if p.id in member_ids]
    others = [p for p in staff if p.id not in member_ids and p.is_active]
    form = ctx.pop("form", None) or {
        "name": team.name,
        "description": team.description,
        "skills": ", ".join(team.skills or []),
    }
    return page.render(
        "settings/team.html",
        {"team": team, "members": members, "others": others, "form": form, "errors": {}, **ctx},
        status_code,
    )


@router.get(TEAMS + "/{team_id}")
@_page
def team_detail(request: Request, team_id: uuid.UUID, done: str = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    notice = done if done in ("created", "saved", "member_added", "member_removed") else ""
    return _team_page(page, team_id, {"notice": notice})


@router.post(TEAMS + "/{team_id}")
@_page
def team_save(
    request: Request, team_id: uuid.UUID, csrf: Csrf, name: Text = "", description: Text = "", skills: Text = ""
) -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    form = {"name": name, "description": description, "skills": skills}

    def save(s: Session, actor: Actor) -> None:
        data = TeamUpdate(name=name.strip(), description=description.strip(), skills=_skills(skills))
        actions.update_team(s, actor, team_id, data)

    return attempt(page, save, to=f"{TEAMS}/{team_id}", notice="saved", failed=_team_failed(team_id, form))


def _team_failed(team_id: uuid.UUID, form: dict[str, Any] | None = None) -> Callable[[Visit, Failure], Response]:
    """The team's page again with why: bad input beside its field, a taken name beside the name."""

    def answer(page: Visit, why: Failure) -> Response:
        ctx: dict[str, Any] = {"form": form} if form else {}
        if isinstance(why.error, ValidationError):
            return _team_page(page, team_id, ctx | {"errors": field_errors(page, why.error)}, 422)
        if isinstance(why.error, Conflict) and form:
            return _team_page(page, team_id, ctx | {"errors": {"name": page.t("settings.teams.name_taken")}}, 409)
        return _team_page(page, team_id, ctx | {"error": why.message}, why.status)

    return answer


def _member_change(page: Page, team_id: uuid.UUID, change: Callable[[Session], object], done: str) -> Response:
    return attempt(page, lambda s, a: change(s), to=f"{TEAMS}/{team_id}", notice=done, failed=_team_failed(team_id))


@router.post(TEAMS + "/{team_id}/members")
@_page
def team_add_member(request: Request, team_id: uuid.UUID, csrf: Csrf, user_id: Text = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    ids = _ids([user_id])
    if not ids:
        return _team_page(page, team_id, {"errors": {"user_id": page.t("settings.invalid.user_id")}}, 422)
    return _member_change(
        page, team_id, lambda s: actions.add_team_member(s, page.actor, team_id, ids[0]), "member_added"
    )


@router.post(TEAMS + "/{team_id}/members/{user_id}/remove")
@_page
def team_remove_member(request: Request, team_id: uuid.UUID, user_id: uuid.UUID, csrf: Csrf) -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    return _member_change(
        page, team_id, lambda s: actions.remove_team_member(s, page.actor, team_id, user_id), "member_removed"
    )


@router.post(TEAMS + "/{team_id}/delete")
@_page
def team_delete(request: Request, team_id: uuid.UUID, csrf: Csrf, confirm: Text = "") -> Response:
    page = _visit(request, Perm.TEAMS_MANAGE)
    page.check(csrf)
    if confirm != "yes":
        return _team_page(page, team_id, {"errors": {"confirm": page.t("settings.teams.confirm_needed")}}, 422)
    return attempt(
        page, lambda s, a: actions.delete_team(s, a, team_id), to=TEAMS, notice="deleted",
        failed=_team_failed(team_id),
    )  # fmt: skip


# ---- roles ------------------------------------------------------------------------------------------------------


@router.get("/settings/roles")
@_page
def roles(request: Request) -> Response:
    page = _visit(request, Perm.STAFF_MANAGE, Perm.TEAMS_MANAGE)
    return page.render("settings/roles.html", {"roles": list(Role), "perms": list(Perm), "grants": ROLE_PERMISSIONS})


# ---- API keys ---------------------------------------------------------------------------------------------------


def _keys_page(page: Page, ctx: dict[str, Any], status_code: int = 200) -> Response:
    with page.read() as s:
        keys = queries.list_api_keys(s)
    form = ctx.pop("form", {"role": Role.AGENT.value})
    return page.render(
        "settings/api_keys.html",
        {"keys": keys, "roles": list(Role), "form": form, "errors": {}, "now": datetime.now(page.zone), **ctx},
        status_code,
    )


@router.get(KEYS)
@_page
def api_keys(request: Request, done: str = "") -> Response:
    page = _visit(request, Perm.API_KEYS_MANAGE)
    return _keys_page(page, {"notice": done if done == "revoked" else ""})


@router.post(KEYS)
@_page
def api_key_create(request: Request, csrf: Csrf, name: Text = "", role: Text = "", expires: Text = "") -> Response:
    page = _visit(request, Perm.API_KEYS_MANAGE)
    page.check(csrf)
    form = {"name": name, "role": role, "expires": expires}
    expires_at = None
    if expires:
        # A date: the key works until the end of that day in the workspace's time zone.
        try:
            day = datetime.strptime(expires, "%Y-%m-%d").date()
        except ValueError:
            return _keys_page(page, {"form": form, "errors": {"expires": page.t("settings.invalid.expires_at")}}, 422)
        expires_at = datetime.combine(day + timedelta(days=1), time(), tzinfo=page.zone)
    try:
        data = ApiKeyCreate(name=name.strip(), role=role, expires_at=expires_at)
        with page.write() as s:
            key, secret = actions.create_api_key(s, page.actor, data)
            created = {"name": key.name, "prefix": key.prefix, "secret": secret}
    except ValidationError as exc:
        errors = field_errors(page, exc)
        if "expires_at" in errors:
            errors["expires"] = errors.pop("expires_at")
        return _keys_page(page, {"form": form, "errors": errors}, 422)
    except InvalidInput:
        return _keys_page(page, {"form": form, "errors": {"expires": page.t("settings.invalid.expires_at")}}, 422)
    except DomainError as exc:
        return _keys_page(page, {"form": form, "error": exc.detail}, exc.status)
    return _keys_page(page, {"created": created})


@router.post(KEYS + "/{key_id}/revoke")
@_page
def api_key_revoke(request: Request, key_id: uuid.UUID, csrf: Csrf) -> Response:
    return submit(
        request, csrf, lambda s, a: actions.revoke_api_key(s, a, key_id),
        perms=(Perm.API_KEYS_MANAGE,), to=KEYS, notice="revoked",
        failed=lambda page, why: _keys_page(page, {"error": why.message}, why.status),
    )  # fmt: skip
