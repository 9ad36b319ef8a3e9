"""The staff console's configuration pages (``/settings/<section>``): server-rendered forms over the same actions
as the JSON API. Each page checks the permission its API endpoints check (others see the 403 page), carries the
session's CSRF token in every form, validates at the edge, shows errors inline in the form it came from and
changes nothing on bad input. Success answers with a redirect (post/redirect/get) and a notice."""

from __future__ import annotations

from typing import NamedTuple

from fastapi import APIRouter

from omnidesk.security.permissions import Perm
from omnidesk.web.console import automations, canned, hours, knowledge, routing, sla, ticket_types


class Section(NamedTuple):
    """One page for the /settings navigation: its path, the i18n key of its title, who may open it."""

    path: str
    title_key: str
    permission: Perm


SECTIONS = (
    Section(hours.PAGE, "console.hours.title", Perm.TICKETS_ADMIN),
    Section(sla.PAGE, "console.sla.title", Perm.TICKETS_ADMIN),
    Section(ticket_types.PAGE, "console.ticket_types.title", Perm.TICKETS_ADMIN),
    Section(automations.PAGE, "console.automations.title", Perm.TICKETS_ADMIN),
    Section(routing.PAGE, "console.routing.title", Perm.TENANT_SETTINGS),
    Section(canned.PAGE, "console.canned.title", Perm.CANNED_RESPONSES_MANAGE),
    Section(knowledge.PAGE, "console.knowledge_categories.title", Perm.KNOWLEDGE_WRITE),
)
"""What the /settings navigation lists (added to its registry at merge), in this order."""

router = APIRouter(include_in_schema=False)
for _module in (hours, sla, ticket_types, automations, routing, canned, knowledge):
    router.include_router(_module.router)
