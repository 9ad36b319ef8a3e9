"""Quality inspection pages: ``/qa`` (filterable list of scores, nominations), ``/qa/scores/{id}`` (each criterion
with its evidence highlighted in the transcript; override, appeal, decide, calibrate, nominate),
``/qa/calibration`` and the settings page ``/settings/scorecards`` (versions, the sensitive-phrase policy).

Server-rendered forms with the session's CSRF token, through the same actions as the API (permission, audit)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from omnidesk.accounts.auth import SessionInfo
from omnidesk.accounts.models import StaffUser, Team
from omnidesk.core.errors import DomainError
from omnidesk.i18n import pick_language
from omnidesk.quality import actions, queries, scoring, sensitive
from omnidesk.quality.models import QaNomination
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)
NOTICES = ("overridden", "appealed", "decided", "nominated", "training", "saved")
SETTINGS = "/settings/scorecards"


def _session(request: Request) -> tuple[SessionInfo | None, str]:
    info = page_session(request)
    if info is None:
        return None, "zh-CN"
    return info, pick_language(request.cookies.get(LANG_COOKIE), info.user.language)


def _forbidden(request: Request, lang: str) -> Response:
    return render(request, "bot/forbidden.html", {"lang": lang, "forbidden_key": "quality.forbidden"}, 403)


def _float(value: str | None) -> float | None:
    try:
        return max(0.0, min(100.0, float(value))) if value not in (None, "") else None
    except ValueError:
        return None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    if day is None:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


@router.get("/qa")
def qa_list(request: Request) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    if not (actor.can(Perm.QA_REVIEW) or actor.can(Perm.CONVERSATIONS_READ)):
        return _forbidden(request, lang)
    q = request.query_params
    f = queries.ScoreFilter(
        min_percent=_float(q.get("min")), max_percent=_float(q.get("max")), agent_id=_uuid(q.get("agent")),
        team_id=_uuid(q.get("team")), since=_day(q.get("since")), until=_day(q.get("until"), end=True),
        appeals=q.get("appeals") == "1", limit=200,
    )  # fmt: skip
    with get_db(request).tenant_read(actor.tenant_id) as s:
        scores = queries.list_scores(s, actor, f)
        reviewer = actor.can(Perm.QA_REVIEW)
        agents = list(s.scalars(select(StaffUser).order_by(StaffUser.display_name))) if reviewer else []
        teams = list(s.scalars(select(Team).order_by(Team.name))) if reviewer else []
        names = {a.id: a.display_name for a in agents} or queries.names_of(s, [x.agent_id for x in scores])
        team_names = {t.id: t.name for t in teams}
        nominations = queries.nominations(s, actor) if reviewer else []
    return render(
        request,
        "quality/list.html",
        {
            "lang": lang, "user": info.user, "csrf": info.csrf_token, "tenant": info.tenant, "scores": scores,
            "agents": agents, "teams": teams, "names": names, "team_names": team_names, "q": q,
            "reviewer": reviewer, "manager": actor.can(Perm.QA_MANAGE), "nominations": nominations,
            "notice": q.get("done") if q.get("done") in NOTICES else "",
        },
    )  # fmt: skip


def segments(body: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """``body`` cut into (text, criterion keys) pieces so that the evidence renders highlighted; a piece that is
    evidence of several criteria names them all (space-separated), plain text has ""."""
    cuts = sorted({0, len(body), *(max(0, min(p, len(body))) for a, b, _ in spans for p in (a, b))})
    out: list[tuple[str, str]] = []
    for start, end in itertools.pairwise(cuts):
        keys = sorted({key for a, b, key in spans if a <= start and end <= b})
        out.append((body[start:end], " ".join(keys)))
    return out or [(body, "")]


def _score_page(request: Request, score_id: uuid.UUID, *, error: str = "", status_code: int = 200) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    try:
        with get_db(request).tenant_read(actor.tenant_id) as s:
            score = queries.get_score(s, actor, score_id)
            conversation = queries.conversation_of(s, score)
            messages = queries.transcript(s, score.conversation_id)
            appeals = queries.appeals_of(s, score.id)
            names = queries.names_of(s, [score.agent_id, conversation.assignee_id])
            nominated = s.scalar(select(QaNomination).where(QaNomination.conversation_id == conversation.id))
            card = queries.get_scorecard(s, score.scorecard_id)
    except DomainError:
        return render(request, "forbidden.html", {"lang": lang, "forbidden_key": "quality.forbidden"}, 404)
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for item in score.answers:
        for e in item.get("evidence") or []:
            spans.setdefault(e["message_id"], []).append((e["start"], e["end"], item["key"]))
    shown = [(m, segments(m.body, spans.get(str(m.id), []))) for m in messages]
    return render(
        request,
        "quality/score.html",
        {
            "lang": lang, "user": info.user, "csrf": info.csrf_token, "tenant": info.tenant, "score": score,
            "conversation": conversation, "messages": shown, "appeals": appeals, "names": names, "card": card,
            "reviewer": actor.can(Perm.QA_REVIEW), "is_agent": actor.staff_id is not None
            and score.agent_id == actor.staff_id, "nominated": nominated, "answers": list(scoring.ANSWERS),
            "error": error, "notice": request.query_params.get("done", "") if request.query_params.get("done")
            in NOTICES else "",
        },
        status_code=status_code,
    )  # fmt: skip


@router.get("/qa/scores/{score_id}")
def score_page(request: Request, score_id: uuid.UUID) -> Response:
    return _score_page(request, score_id)


def _act(request: Request, csrf: str, score_id: uuid.UUID, done: str, run: Any) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            run(s, info.actor)
    except DomainError as exc:
        return _score_page(request, score_id, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"/qa/scores/{score_id}?done={done}", status_code=303)


@router.post("/qa/scores/{score_id}/override")
def override_form(
    request: Request,
    score_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    criterion: Annotated[str, Form(max_length=64)],
    answer: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(request, csrf, score_id, "overridden",
                lambda s, a: actions.override(s, a, score_id, criterion, answer, reason))  # fmt: skip


@router.post("/qa/scores/{score_id}/appeal")
def appeal_form(
    request: Request,
    score_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    reason: Annotated[str, Form(max_length=4000)] = "",
    criterion: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return _act(request, csrf, score_id, "appealed", lambda s, a: actions.appeal(s, a, score_id, reason, criterion))


@router.post("/qa/scores/{score_id}/appeals/{appeal_id}/decide")
def decide_form(
    request: Request,
    score_id: uuid.UUID,
    appeal_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    decision: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _act(request, csrf, score_id, "decided",
                lambda s, a: actions.decide_appeal(s, a, appeal_id, decision == "uphold", note))  # fmt: skip


@router.post("/qa/scores/{score_id}/nominate")
def nominate_form(
    request: Request,
    score_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def run(s: Any, a: Any) -> None:
        score = queries.get_score(s, a, score_id)
        actions.nominate(s, a, score.conversation_id, note)

    return _act(request, csrf, score_id, "nominated", run)


@router.post("/qa/scores/{score_id}/review")
async def review_form(request: Request, score_id: uuid.UUID) -> Response:
    form: FormData = await request.form()
    answers = {k.removeprefix("answer_"): str(v) for k, v in form.items() if k.startswith("answer_")}

    def run(s: Any, a: Any) -> None:
        score = queries.get_score(s, a, score_id)
        actions.submit_review(s, a, score.conversation_id, answers)

    return _act(request, str(form.get("csrf", "")), score_id, "saved", run)


@router.post("/qa/nominations/{nomination_id}/training")
def training_form(
    request: Request,
    nomination_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    training: Annotated[str, Form(max_length=8)] = "1",
) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.mark_training(s, info.actor, nomination_id, training == "1")
    except DomainError as exc:
        lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
        return render(request, "forbidden.html", {"lang": lang, "forbidden_key": "quality.forbidden"}, exc.status)
    return RedirectResponse("/qa?done=training", status_code=303)


@router.get("/qa/calibration")
def calibration_page(request: Request) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.QA_REVIEW):
        return _forbidden(request, lang)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        report = queries.calibration_report(s, info.actor)
        card = report["scorecard"]
        names = {c["key"]: c.get("names", {}).get(lang, c["key"]) for c in (card.criteria if card else [])}
    return render(request, "quality/calibration.html",
                  {"lang": lang, "user": info.user, "csrf": info.csrf_token, "report": report, "names": names})  # fmt: skip


# --- settings: scorecards and the send policy ----------------------------------------------------------------------


def _settings_page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.QA_MANAGE):
        return _forbidden(request, lang)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        cards = queries.list_scorecards(s, info.actor)
        policy = queries.send_policy(s)
    active = next((c for c in cards if c.active), None)
    return render(
        request,
        "quality/scorecards.html",
        {
            "lang": lang, "user": info.user, "csrf": info.csrf_token, "cards": cards, "active": active,
            "policy": policy, "patterns": sensitive.PATTERNS, "error": error,
            "notice": request.query_params.get("done") == "saved",
        },
        status_code=status_code,
    )  # fmt: skip


@router.get(SETTINGS)
def scorecards_page(request: Request) -> Response:
    return _settings_page(request)


@router.post(SETTINGS)
async def save_scorecard(request: Request) -> Response:
    """Without an active scorecard: create the default one. With one: save the edited weights, phrases and
    targets as its next version."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    form = await request.form()
    check_form_csrf(info, str(form.get("csrf", "")))
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            active = queries.active_scorecard(s)
            if active is None:
                actions.create_scorecard(s, info.actor, str(form.get("name") or "默认质检 Default QA"),
                                         scoring.default_criteria())  # fmt: skip
            else:
                criteria = []
                for item in active.criteria:
                    key = item["key"]
                    edited = dict(item)
                    if f"weight_{key}" in form:
                        edited["weight"] = str(form.get(f"weight_{key}"))
                    if f"phrases_{key}" in form:
                        edited["phrases"] = [p.strip() for p in str(form.get(f"phrases_{key}")).splitlines()]
                    if f"seconds_{key}" in form and str(form.get(f"seconds_{key}")).strip():
                        try:
                            edited["seconds"] = int(str(form.get(f"seconds_{key}")))
                        except ValueError:
                            return _settings_page(request, error=f"{key}: seconds must be a whole number",
                                                  status_code=422)  # fmt: skip
                    criteria.append(edited)
                actions.edit_scorecard(s, info.actor, active.id, str(form.get("name") or ""), criteria)
    except DomainError as exc:
        return _settings_page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"{SETTINGS}?done=saved", status_code=303)


@router.post(SETTINGS + "/policy")
def save_policy(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    mode: Annotated[str, Form(max_length=8)],
    phrases: Annotated[str, Form(max_length=100_000)] = "",
    patterns: Annotated[list[str] | None, Form()] = None,
) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.set_send_policy(s, info.actor, mode, phrases.splitlines(), patterns or [])
    except DomainError as exc:
        return _settings_page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"{SETTINGS}?done=saved", status_code=303)
