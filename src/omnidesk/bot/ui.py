"""The admin page of the assistant: a "test your assistant" console, the optional LLM (endpoint and write-only
API key), knowledge gaps, models and suggestions."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from omnidesk.bot import actions
from omnidesk.bot.brains import current_settings, operating_point
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import FaqSuggestion, IntentExample, IntentModel
from omnidesk.bot.nlu.answer_policy import DEFAULT_TARGET
from omnidesk.bot.schemas import LlmKeyIn
from omnidesk.bot.settings import LlmSettings
from omnidesk.core.db import utcnow
from omnidesk.core.errors import DomainError, InvalidInput
from omnidesk.core.schemas import Int32
from omnidesk.i18n import pick_language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


_NOTICES = ("llm", "settings", "training", "activated", "accepted", "rejected")


@router.get("/admin/assistant")
def assistant_page(request: Request, saved: str = "") -> Response:
    return _assistant_page(request, notice=saved if saved in _NOTICES else "")


def _assistant_page(
    request: Request,
    *,
    notice: str = "",
    error: str = "",
    error_at: str = "llm",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
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
        gaps = knowledge_gaps(s, utcnow() - timedelta(days=actions.GAP_WINDOW_DAYS))[:20] if manage else []
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
        intents = (
            s.execute(
                select(IntentExample.label, func.count()).group_by(IntentExample.label).order_by(IntentExample.label)
            ).all()
            if manage
            else []
        )
        training = _training_state(s) if manage else None
    if form is None:
        form = {
            "answer": f"{bot_settings.thresholds.answer:g}",
            "clarify": f"{bot_settings.thresholds.clarify:g}",
            "close_margin": f"{bot_settings.thresholds.close_margin:g}",
            "intent": f"{bot_settings.thresholds.intent:g}",
            "urgent_words": "\n".join(bot_settings.urgent_words),
            "forbidden_topics": "\n".join(f"{k}: {', '.join(v)}" for k, v in bot_settings.forbidden_topics.items()),
        }
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
            "error_at": error_at,
            "form": form,
            "intents": [(label, int(n)) for label, n in intents],
            "intent_total": sum(int(n) for _, n in intents),
            "training": training,
            "active_version": next((m["version"] for m in models if m["active"]), None),
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


def _model_form(request: Request, csrf: str, act: Any, notice: str = "") -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            act(s, info.actor)
    except DomainError as exc:
        return _assistant_page(request, error=exc.detail, error_at="models", status_code=exc.status)
    return RedirectResponse(f"/admin/assistant?saved={notice}#models", status_code=303)


@router.post("/admin/assistant/models")
def train_for_review(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    activate_when_ready: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Train a new model on the job queue: the current one keeps answering until the new one is active (at once
    when it is ready with ``activate_when_ready``, otherwise when the admin activates it after review)."""

    def train(s: Any, actor: Any) -> None:
        # queues the bot.train job in this transaction
        actions.request_training(s, actor, activate=activate_when_ready == "on")

    return _model_form(request, csrf, train, "training")


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
    return _model_form(request, csrf, lambda s, actor: actions.activate_model(s, actor, version), "activated")


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


def problem_text(exc: DomainError) -> str:
    """The action's message, then each listed problem on a line of its own (as the console forms show them)."""
    lines = [exc.detail]
    for item in exc.errors[:20]:
        where, message = item.get("field"), item.get("message", "")
        line = f"{where}: {message}" if where else str(message)
        if line != exc.detail:
            lines.append(line)
    return "\n".join(lines)


# --- settings: thresholds, urgent words, forbidden topics ---------------------------------------------------

_WORD_SPLIT = re.compile(r"[,，、;；\n]+")


def _words(text: str) -> list[str]:
    return [w.strip() for w in _WORD_SPLIT.split(text) if w.strip()]


def _topics(text: str) -> dict[str, list[str]]:
    """``topic: word, word`` one per line → {"topic": ["word", "word"]}."""
    topics: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, words = line.replace("：", ":").partition(":")
        if not colon or not name.strip() or not _words(words):
            raise InvalidInput(f"forbidden_topics: line {number}: write it as topic: word, word")
        topics[name.strip()] = _words(words)
    return topics


@router.post("/admin/assistant/settings")
def save_settings(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    answer: Annotated[str, Form(max_length=20)] = "",
    clarify: Annotated[str, Form(max_length=20)] = "",
    close_margin: Annotated[str, Form(max_length=20)] = "",
    intent: Annotated[str, Form(max_length=20)] = "",
    urgent_words: Annotated[str, Form(max_length=20_000)] = "",
    forbidden_topics: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    """Save thresholds, urgent words and forbidden topics as a new settings version, validated exactly as
    ``PUT /api/v1/bot/config`` (the same action); on bad input nothing is stored and the form shows the problem
    with what was typed."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    typed = {"answer": answer, "clarify": clarify, "close_margin": close_margin, "intent": intent,
             "urgent_words": urgent_words, "forbidden_topics": forbidden_topics}  # fmt: skip
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            _, current = current_settings(s)
            document: dict[str, Any] = current.model_dump(mode="json", by_alias=True)
            document["thresholds"] = {k: typed[k].strip() for k in ("answer", "clarify", "close_margin", "intent")}
            document["urgent_words"] = _words(urgent_words)
            document["forbidden_topics"] = _topics(forbidden_topics)
            actions.save_config(s, info.actor, document)
    except DomainError as exc:
        return _assistant_page(
            request, error=problem_text(exc), error_at="settings", form=typed, status_code=exc.status
        )
    return RedirectResponse("/admin/assistant?saved=settings#settings", status_code=303)


# --- training progress ---------------------------------------------------------------------------------------


def _training_state(s: Any) -> dict[str, Any] | None:
    """The newest model's training: stage (queued, training, ready, failed), elapsed seconds and an estimated
    percentage (from the previous run's duration; the classifier reports no progress of its own)."""
    latest = s.scalar(select(IntentModel).order_by(IntentModel.version.desc()).limit(1))
    if latest is None:
        return None
    if latest.status == "training":
        stage = "training" if latest.error == "running" else "queued"
        elapsed = max((utcnow() - latest.created_at).total_seconds(), 0.0)
        previous = s.scalar(
            select(IntentModel.train_seconds)
            .where(IntentModel.status == "ready", IntentModel.version < latest.version)
            .order_by(IntentModel.version.desc())
            .limit(1)
        )
        percent = min(95, int(elapsed / previous * 100)) if previous and stage == "training" else None
    else:
        stage, elapsed = latest.status, float(latest.train_seconds or 0.0)
        percent = 100 if stage == "ready" else None
    return {
        "version": latest.version,
        "stage": stage,
        "elapsed_seconds": round(elapsed, 1),
        "percent": percent,
        "active": bool(latest.active),
        "activate_when_ready": bool(latest.activate_when_ready),
    }


@router.get("/admin/assistant/training")
def training_progress(request: Request) -> Response:
    """The console's progress poll: the newest training run as JSON (``{"training": null}`` before the first)."""
    info = page_session(request)
    if info is None:
        return JSONResponse({"detail": "sign in"}, status_code=401)
    if not info.actor.can(Perm.BOT_MANAGE):
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        state = _training_state(s)
        active = s.scalar(select(IntentModel.version).where(IntentModel.active.is_(True)))
    return JSONResponse({"training": state, "active_version": active}, headers={"Cache-Control": "no-store"})


# --- suggested FAQ entries and knowledge gaps ----------------------------------------------------------------


def _decision_form(request: Request, csrf: str, act: Any, decision: str) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    if decision not in ("accept", "reject"):
        return _assistant_page(request, error="decision: accept or reject", error_at="review", status_code=422)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            act(s, info.actor, decision == "accept")
    except DomainError as exc:
        return _assistant_page(request, error=problem_text(exc), error_at="review", status_code=exc.status)
    return RedirectResponse(f"/admin/assistant?saved={decision}ed#review", status_code=303)


@router.post("/admin/assistant/suggestions/{suggestion_id}")
def decide_suggestion(
    request: Request,
    suggestion_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    decision: Annotated[str, Form(max_length=10)],
    question: Annotated[str | None, Form(max_length=2000)] = None,
    answer: Annotated[str | None, Form(max_length=20_000)] = None,
) -> Response:
    """Accept (a draft FAQ entry, with the wording as edited in the form) or reject a suggested FAQ entry."""
    return _decision_form(
        request,
        csrf,
        lambda s, actor, accept: actions.decide_suggestion(
            s, actor, suggestion_id, accept, question=question, answer=answer
        ),
        decision,
    )


@router.post("/admin/assistant/gaps")
def decide_gap(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    decision: Annotated[str, Form(max_length=10)],
    text: Annotated[str, Form(max_length=1000)],
    language: Annotated[str, Form(max_length=10)],
    question: Annotated[str, Form(max_length=2000)] = "",
    answer: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Accept a knowledge gap (a draft FAQ entry with the answer typed here) or reject it; either way it is not
    listed again."""
    return _decision_form(
        request,
        csrf,
        lambda s, actor, accept: actions.decide_gap(s, actor, text, language, accept, question=question, answer=answer),
        decision,
    )
