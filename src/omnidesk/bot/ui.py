"""The admin page of the assistant: a "test your assistant" console, the optional LLM (endpoint and write-only
API key), knowledge gaps, models and suggestions."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.bot import actions
from omnidesk.bot.brains import current_settings, operating_point
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import FaqSuggestion, IntentExample, IntentModel
from omnidesk.bot.nlu.answer_policy import DEFAULT_TARGET
from omnidesk.bot.schemas import LlmKeyIn
from omnidesk.bot.settings import BotSettings, LlmSettings
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, DomainError, InvalidInput
from omnidesk.core.schemas import Int32
from omnidesk.i18n import pick_language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.forms import Failure, Visit, submit
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


_NOTICES = ("llm", "settings", "training", "activated", "accepted", "rejected", "texts", "intent", "intent_deleted",
            "flows")  # fmt: skip


@router.get("/admin/assistant")
def assistant_page(request: Request, saved: str = "", intent: str = "") -> Response:
    return _assistant_page(request, notice=saved if saved in _NOTICES else "", intent=intent[:40])


def _assistant_page(
    request: Request,
    *,
    notice: str = "",
    error: str = "",
    error_at: str = "llm",
    form: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    intent: str = "",
    status_code: int = 200,
) -> Response:
    """The page; ``typed`` is what was typed into one of the editing forms (intent, texts, flows) when it was
    refused, shown again beside the error; ``intent`` opens that intent in the intent form."""
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
        phrases = (
            list(
                s.scalars(select(IntentExample.text).where(IntentExample.label == intent).order_by(IntentExample.text))
            )
            if manage and intent
            else []
        )
    if typed is None:
        typed = _editing(bot_settings, intent, phrases)
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
            "typed": typed,
            "intent_answers": bot_settings.intent_answers,
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


# --- editing: the assistant's own texts, intents (phrases and answer), flows and connectors ---------------------


def _editing(current: BotSettings, intent: str, phrases: list[str]) -> dict[str, str]:
    """The editing forms filled from the saved settings (and the intent being edited, if any)."""
    texts = {f"{key}_{lang}": current.texts[key].get(lang) if key in current.texts else ""
             for key in ("greeting", "hand_over") for lang in ("zh", "en")}  # fmt: skip
    answer = current.intent_answers.get(intent)
    flows = [f.model_dump(mode="json", by_alias=True, exclude_defaults=True) for f in current.flows]
    connectors = {
        k: c.model_dump(mode="json", by_alias=True, exclude_defaults=True) for k, c in current.connectors.items()
    }
    return texts | {
        "label": intent,
        "phrases": "\n".join(phrases),
        "answer_zh": answer.zh_CN if answer else "",
        "answer_en": answer.en if answer else "",
        "flows": json.dumps(flows, ensure_ascii=False, indent=2),
        "connectors": json.dumps(connectors, ensure_ascii=False, indent=2),
    }


def _save_settings(s: Session, actor: Actor, change: Callable[[dict[str, Any]], None]) -> None:
    """A new settings version: the saved document with ``change`` applied, validated as ``PUT /bot/config``."""
    _, current = current_settings(s)
    document: dict[str, Any] = current.model_dump(mode="json", by_alias=True)
    change(document)
    actions.save_config(s, actor, document)


def _refused(request: Request, at: str, typed: dict[str, str]) -> Callable[[Visit, Failure], Response]:
    def answer(v: Visit, why: Failure) -> Response:
        message = problem_text(why.error) if isinstance(why.error, DomainError) else why.message
        return _assistant_page(request, error=message, error_at=at, typed=typed, status_code=why.status)

    return answer


def _localized(zh: str, en: str, what: str) -> dict[str, str] | None:
    """Both languages or neither (a text the customer might see in one language only is refused)."""
    zh, en = zh.strip(), en.strip()
    if not zh and not en:
        return None
    if not zh or not en:
        raise InvalidInput(f"{what}: write it in both Chinese and English")
    return {"zh-CN": zh, "en": en}


Long = Annotated[str, Form(max_length=2000)]


@router.post("/admin/assistant/texts")
def save_texts(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    greeting_zh: Long = "",
    greeting_en: Long = "",
    hand_over_zh: Long = "",
    hand_over_en: Long = "",
) -> Response:
    """The greeting and the hand-over sentence in the tenant's own words (empty in both: the built-in text)."""
    typed = {"greeting_zh": greeting_zh, "greeting_en": greeting_en, "hand_over_zh": hand_over_zh,
             "hand_over_en": hand_over_en}  # fmt: skip

    def change(document: dict[str, Any]) -> None:
        texts = {key: _localized(typed[f"{key}_zh"], typed[f"{key}_en"], key) for key in ("greeting", "hand_over")}
        document["texts"] = {k: v for k, v in texts.items() if v}

    return submit(
        request, csrf, lambda s, a: _save_settings(s, a, change), perms=(Perm.BOT_MANAGE,),
        to="/admin/assistant?saved=texts#texts", failed=_refused(request, "texts", typed),
    )  # fmt: skip


_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@router.post("/admin/assistant/intents")
def save_intent(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    label: Annotated[str, Form(max_length=60)] = "",
    phrases: Annotated[str, Form(max_length=50_000)] = "",
    answer_zh: Long = "",
    answer_en: Long = "",
) -> Response:
    """An intent as a whole: its name, its training phrases (one per line; replacing the old ones) and, if
    given, the answer in both languages. Retrain the model for new phrases to count."""
    typed = {"label": label, "phrases": phrases, "answer_zh": answer_zh, "answer_en": answer_en}
    name = label.strip()

    def save(s: Session, actor: Actor) -> None:
        if not _LABEL.match(name):
            raise InvalidInput("name: lower-case letters, digits and _ (starting with a letter), at most 40")
        texts = [line.strip() for line in phrases.splitlines() if line.strip()]
        if not texts:
            raise InvalidInput("training phrases: write at least one, one per line")
        if any(len(x) > 500 for x in texts):
            raise InvalidInput("training phrases: each at most 500 characters")
        if s.scalar(select(IntentExample.id).where(IntentExample.label == name).limit(1)) is not None:
            actions.remove_label(s, actor, name)
        actions.add_examples(s, actor, name, texts)
        answer = _localized(answer_zh, answer_en, "answer")

        def change(document: dict[str, Any]) -> None:
            answers = document.setdefault("intent_answers", {})
            if answer:
                answers[name] = answer
            else:
                answers.pop(name, None)

        _save_settings(s, actor, change)

    return submit(
        request, csrf, save, perms=(Perm.BOT_MANAGE,), to=f"/admin/assistant?saved=intent&intent={name}#intents",
        failed=_refused(request, "intents", typed),
    )  # fmt: skip


@router.post("/admin/assistant/intents/{label}/delete")
def delete_intent(request: Request, label: Annotated[str, Path(max_length=40)],
                  csrf: Annotated[str, Form(max_length=100)]) -> Response:  # fmt: skip
    """The intent's phrases and its answer; refused while a flow starts from it."""

    def remove(s: Session, actor: Actor) -> None:
        _, current = current_settings(s)
        if any(label in f.intents for f in current.flows):
            raise Conflict(f"the flow '{next(f.name for f in current.flows if label in f.intents)}' starts from "
                           f"this intent: change the flow first")  # fmt: skip
        actions.remove_label(s, actor, label)
        if label in current.intent_answers:
            _save_settings(s, actor, lambda d: d["intent_answers"].pop(label, None))

    return submit(
        request, csrf, remove, perms=(Perm.BOT_MANAGE,), to="/admin/assistant?saved=intent_deleted#intents",
        failed=_refused(request, "intents", {}),
    )  # fmt: skip


@router.post("/admin/assistant/flows")
def save_flows(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    flows: Annotated[str, Form(max_length=200_000)] = "[]",
    connectors: Annotated[str, Form(max_length=100_000)] = "{}",
) -> Response:
    """Flows and connectors as the API's JSON (``flows`` and ``connectors`` of ``PUT /bot/config``), saved
    together so a flow and the connector it calls change in one version; validated as the API validates."""
    typed = {"flows": flows, "connectors": connectors}

    def change(document: dict[str, Any]) -> None:
        for key, text in typed.items():
            try:
                document[key] = json.loads(text or ("[]" if key == "flows" else "{}"))
            except ValueError as exc:
                raise InvalidInput(f"{key}: not valid JSON ({exc})") from None

    return submit(
        request, csrf, lambda s, a: _save_settings(s, a, change), perms=(Perm.BOT_MANAGE,),
        to="/admin/assistant?saved=flows#flows", failed=_refused(request, "flows", typed),
    )  # fmt: skip
