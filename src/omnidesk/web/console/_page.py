"""The console pages' old entry points, kept for pages not yet moved to :mod:`omnidesk.web.forms` (the routing
page, which the routing work is changing): the same checks, the error as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.security.permissions import Perm
from omnidesk.web import forms
from omnidesk.web.forms import Visit, done, parse, problem_text

__all__ = ["Visit", "done", "parse", "problem_text", "run", "visit"]


def visit(request: Request, perm: Perm, csrf: str | None = None) -> Visit | Response:
    return forms.visit(request, perm, csrf=csrf)


def run(v: Visit, action: Callable[[Session, Actor], Any]) -> tuple[Any, str]:
    result, why = forms.run(v, action)
    return result, why.message if why else ""
