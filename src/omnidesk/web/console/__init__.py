"""The staff console's configuration pages (``/settings/<section>``): server-rendered forms over the same actions
as the JSON API. Each page checks the permission its API endpoints check (others see the 403 page), carries the
session's CSRF token in every form, validates at the edge, shows errors inline in the form it came from and
changes nothing on bad input. Success answers with a redirect (post/redirect/get) and a notice."""

from __future__ import annotations

from fastapi import APIRouter

from omnidesk.web.console import automations, canned, email, hours, knowledge, macros, routing, sla, ticket_types

router = APIRouter(include_in_schema=False)
for _module in (hours, sla, ticket_types, automations, macros, routing, canned, knowledge, email):
    router.include_router(_module.router)
