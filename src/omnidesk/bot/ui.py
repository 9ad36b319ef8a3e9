"""The admin page of the assistant: a "test your assistant" console, knowledge gaps, models and suggestions."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from omnidesk.bot.brains import current_settings
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import FaqSuggestion, IntentModel
from omnidesk.core.db import utcnow
from omnidesk.i18n import pick_language
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


@router.get("/admin/assistant")
def assistant_page(request: Request) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    db = get_db(request)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if not info.actor.can(Perm.BOT_TEST):
        return render(request, "bot/forbidden.html", {"lang": lang}, status_code=403)
    manage = info.actor.can(Perm.BOT_MANAGE)
    with db.tenant_read(info.actor.tenant_id) as s:
        version, bot_settings = current_settings(s)
        gaps = knowledge_gaps(s, utcnow() - timedelta(days=30))[:20] if manage else []
        models = list(s.scalars(select(IntentModel).order_by(IntentModel.version.desc()).limit(10))) if manage else []
        suggestions = (
            list(s.scalars(select(FaqSuggestion).where(FaqSuggestion.status == "pending").limit(20))) if manage else []
        )
    return render(
        request,
        "bot/assistant.html",
        {
            "lang": lang,
            "csrf": info.csrf_token,
            "user": info.user,
            "config_version": version,
            "thresholds": bot_settings.thresholds,
            "flows": bot_settings.flows,
            "gaps": gaps,
            "models": models,
            "suggestions": suggestions,
            "manage": manage,
        },
    )
