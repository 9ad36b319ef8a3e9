"""The staff console's one navigation: a registry of settings sections and the ``/settings`` landing page.

Every settings page (the console's own, and older ones such as ``/admin/webhooks``) shows the same left navigation,
``templates/settings/_nav.html``, which asks :func:`visible_sections` what the signed-in person may open. A section
is listed when the person holds one of its permissions *and* the application serves its path, so a section whose
page another change adds later (``/settings/sla``) appears by itself once that page exists. Adding a section is one
line in :data:`SECTIONS`; its label is ``settings.nav.<key>`` in ``i18n/*/settings.json``.

The navigation only hides links: every page checks its own permission (the registry is not a guard).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.routing import Match, Mount

from omnidesk.core.actor import Actor
from omnidesk.i18n import pick_language
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # label: settings.nav.<key>; group heading: settings.group.<group>
    href: str
    perms: tuple[Perm, ...]  # any one of them shows the section
    group: str


P = Perm
SECTIONS: tuple[Section, ...] = (
    Section("users", "/settings/users", (P.STAFF_MANAGE,), "people"),
    Section("teams", "/settings/teams", (P.TEAMS_MANAGE,), "people"),
    Section("roles", "/settings/roles", (P.STAFF_MANAGE, P.TEAMS_MANAGE), "people"),
    Section("api_keys", "/settings/api-keys", (P.API_KEYS_MANAGE,), "people"),
    Section("audit", "/audit", (P.AUDIT_READ,), "people"),
    Section("hours", "/settings/hours", (P.TICKETS_ADMIN,), "service"),
    Section("sla", "/settings/sla", (P.TICKETS_ADMIN,), "service"),
    Section("ticket_types", "/settings/ticket-types", (P.TICKETS_ADMIN,), "service"),
    Section("automations", "/settings/automations", (P.TICKETS_ADMIN,), "service"),
    Section("routing", "/settings/routing", (P.TENANT_SETTINGS,), "service"),
    Section("macros", "/settings/macros", (P.TICKETS_ADMIN,), "service"),
    Section("canned", "/settings/canned", (P.CANNED_RESPONSES_MANAGE,), "service"),
    Section("scorecards", "/settings/scorecards", (P.QA_MANAGE,), "service"),
    Section("knowledge_categories", "/settings/knowledge-categories", (P.KNOWLEDGE_WRITE,), "service"),
    Section("channels", "/settings/channels", (P.TENANT_SETTINGS,), "channels"),
    Section("email", "/settings/channels/email", (P.TENANT_SETTINGS,), "channels"),
    Section("assistant", "/admin/assistant", (P.BOT_TEST,), "channels"),
    Section("webhooks", "/admin/webhooks", (P.TENANT_SETTINGS,), "channels"),
    Section("jobs", "/admin/jobs", (P.TENANT_SETTINGS,), "channels"),
)
GROUPS = ("people", "service", "channels")


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    href: str
    group: str
    current: bool


def _served_paths(request: Request) -> frozenset[str]:
    """The sections' paths that the application answers with GET, worked out once per application (asked of
    every route through the public ``matches``, which included routers answer too)."""
    paths: frozenset[str] | None = getattr(request.app.state, "settings_served_paths", None)
    if paths is None:
        routes = [r for r in request.app.routes if not isinstance(r, Mount)]

        def served(path: str) -> bool:
            scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
            return any(r.matches(scope)[0] == Match.FULL for r in routes)

        paths = frozenset(s.href for s in SECTIONS if served(s.href))
        request.app.state.settings_served_paths = paths
    return paths


def sections_for(actor: Actor, served: frozenset[str]) -> list[Section]:
    return [s for s in SECTIONS if s.href in served and any(actor.can(p) for p in s.perms)]


def visible_sections(request: Request) -> list[NavItem]:
    """The sections the person behind ``request`` may open (a Jinja global: the partial calls it). Empty when no
    one is signed in (``page_session`` leaves the actor on ``request.state``)."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        return []
    path = request.url.path
    return [
        NavItem(s.key, s.href, s.group, path == s.href or path.startswith(s.href + "/"))
        for s in sections_for(actor, _served_paths(request))
    ]


@router.get("/settings")
def settings_home(request: Request) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    items = visible_sections(request)
    if not items:
        return render(request, "workspace/forbidden.html", {"lang": lang, "user": info.user}, 403)
    groups = [(g, [i for i in items if i.group == g]) for g in GROUPS]
    return render(
        request,
        "settings/index.html",
        {"lang": lang, "user": info.user, "csrf": info.csrf_token, "groups": [(g, i) for g, i in groups if i]},
    )
