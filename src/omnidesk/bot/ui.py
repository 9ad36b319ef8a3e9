"""The admin page of the assistant: a "test your assistant" console, the optional LLM (endpoint and write-only
API key), knowledge gaps, models and suggestions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from omnidesk.bot import actions
from omnidesk.bot.brains import current_settings, operating_point
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import FaqSuggestion, IntentModel
from omnidesk.bot.nlu.answer_policy import DEFAULT_TARGET
from omnidesk.bot.schemas import LlmKeyIn
from omnidesk.bot.settings import LlmSettings
from omnidesk.core.db import utcnow
from omnidesk.core.errors import DomainError
from omnidesk.core.schemas import Int32
from omnidesk.i18n import pick_language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


@router.get("/admin/assistant")
def assistant_page(request: Request, saved: str = "") -> Response:
    return _assistant_page(request, notice="llm_saved" if saved == "llm" else "")


def _assistant_page(request: Request, *, notice: str = "", error: str = "", status_code: int = 200) -> Response:
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
        models = (
            [_model_view(m) for m in s.scalars(select(IntentModel).order_by(IntentModel.version.desc()).limit(10))]
            if manage
            else []
        )
        active = s.execute(
            select(IntentModel.policy, IntentModel.answer_target).where(IntentModel.active.is_(True))
        ).first()
        point = operating_point(active[0], active[1]) if active is not None else None
        suggestions = (
            list(s.scalars(select(FaqSuggestion).where(FaqSuggestion.status == "pending").limit(20))) if manage else []
        )
        llm_key = actions.llm_key_status(s, info.actor) if manage else None
    return render(
        request,
        "bot/assistant.html",
        {
            "lang": lang,
            "csrf": info.csrf_token,
            "user": info.user,
            "config_version": version,
            "thresholds": bot_settings.thresholds,
            "point": point,
            "point_text": _percent(point.target) if point is not None else "",
            "flows": bot_settings.flows,
            "gaps": gaps,
            "models": models,
            "suggestions": suggestions,
            "manage": manage,
            "llm": bot_settings.llm,
            "llm_key": llm_key,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _percent(value: float) -> str:
    """0.03 → "3 %", 0.0213 → "2.1 %", 0.9 → "90 %"."""
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + " %"


def _model_view(model: IntentModel) -> dict[str, Any]:
    """A model as the console shows it: its operating points with their expected rates, as percentages."""
    points = []
    in_use = DEFAULT_TARGET if model.answer_target is None else model.answer_target
    raw = [p for p in (model.policy or {}).get("points", []) if isinstance(p, dict)]
    chosen = min(raw, key=lambda p: abs(float(p["target"]) - in_use))["target"] if raw else None
    for p in raw:
        rates = p.get("rates") or {}
        points.append(
            {
                "target": p["target"],
                "target_text": _percent(float(p["target"])),
                "chosen": p["target"] == chosen,
                "known": bool(rates),
                "rates": {k: _percent(float(v)) for k, v in rates.items()},
            }
        )
    return {
        "version": model.version,
        "status": model.status,
        "active": model.active,
        "examples": model.examples,
        "train_seconds": model.train_seconds,
        "waiting": model.status == "ready" and not model.active,
        "points": points,
        "chosen": next((p for p in points if p["chosen"]), None),
        "held_out": int((model.policy or {}).get("held_out", 0)),
    }


def _model_form(request: Request, csrf: str, act: Any) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            act(s, info.actor)
    except DomainError as exc:
        return _assistant_page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse("/admin/assistant#models", status_code=303)


@router.post("/admin/assistant/models")
def train_for_review(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    """Train a new model that waits for review: the current one keeps answering until the admin activates it."""

    def train(s: Any, actor: Any) -> None:
        actions.request_training(s, actor, activate=False)  # queues the bot.train job in this transaction

    return _model_form(request, csrf, train)


@router.post("/admin/assistant/models/{version}/point")
def move_point(
    request: Request,
    version: Int32,
    csrf: Annotated[str, Form(max_length=100)],
    target: Annotated[float, Form(ge=0, le=1)],
) -> Response:
    return _model_form(request, csrf, lambda s, actor: actions.set_operating_point(s, actor, version, target))


@router.post("/admin/assistant/models/{version}/activate")
def activate(request: Request, version: Int32, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _model_form(request, csrf, lambda s, actor: actions.activate_model(s, actor, version))


@router.post("/admin/assistant/llm")
def save_llm(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    base_url: Annotated[str, Form(max_length=500)] = "",
    model: Annotated[str, Form(max_length=100)] = "",
    timeout_seconds: Annotated[str, Form(max_length=10)] = "8",
    enabled: Annotated[str, Form(max_length=10)] = "",
    api_key: Annotated[str, Form(max_length=500)] = "",
    clear_key: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Save the LLM endpoint as a new settings version; a typed key replaces the stored one (an empty field keeps
    it). The key is never put back into the page."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    settings = request.app.state.settings
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            _, current = current_settings(s)
            document: dict[str, Any] = current.model_dump(mode="json", by_alias=True)
            llm = LlmSettings.model_validate(
                {
                    "enabled": enabled == "on",
                    "base_url": base_url.strip(),
                    "model": model.strip(),
                    "timeout_seconds": timeout_seconds.strip() or "8",
                }
            )
            if llm != current.llm:
                document["llm"] = llm.model_dump(mode="json")
                actions.save_config(s, info.actor, document)
            if clear_key == "on":
                actions.clear_llm_key(s, info.actor)
            elif api_key.strip():
                key = LlmKeyIn(api_key=api_key.strip()).api_key
                actions.set_llm_key(s, info.actor, for_purpose(settings, Purpose.TENANT_SECRETS), key)
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _assistant_page(request, error=message, status_code=422)
    except DomainError as exc:
        return _assistant_page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse("/admin/assistant?saved=llm", status_code=303)
