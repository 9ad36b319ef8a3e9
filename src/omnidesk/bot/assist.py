"""Agent assist (the copilot panel): what helps an agent answer the conversation in front of them.

For the customer's current question (their messages since the last reply) it gathers
* knowledge suggestions: the assistant's own FAQ matcher (intent model + retrieval, :func:`engine.search_faq`)
  and the knowledge search index (articles the agent may read), each with the text to insert;
* suggested replies: the tenant's canned responses and past agent answers to similar questions in resolved
  conversations the customer did not rate badly;
* a summary: extractive (the customer's key sentences and what was done) always; abstractive through the tenant's
  LLM (``bot/llm.py``) when configured, bounded in time, falling back to the extractive one;
* the intent and sentiment of the last customer message.

Everything but the LLM is local and deterministic, so the panel works offline. :func:`gather` reads inside the
caller's (read) transaction; :func:`with_llm` runs after it, never holding a transaction open while it waits.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser, Tenant
from omnidesk.bot.engine import FAQ_LABEL, Assistant, Brain, search_faq
from omnidesk.bot.nlu import analyze_sentiment, detect_language, extract_entities, smalltalk_kind
from omnidesk.conversations import canned, queries
from omnidesk.conversations.models import CannedResponse, Conversation, ConversationRating, Message
from omnidesk.core.actor import Actor
from omnidesk.customers.models import Customer
from omnidesk.i18n import translate
from omnidesk.knowledge import render
from omnidesk.knowledge.index import Visibility
from omnidesk.knowledge.search import CACHE
from omnidesk.security.permissions import Perm
from omnidesk.tickets.models import Ticket

THREAD_MESSAGES = 200
"""The latest messages of the conversation the assist reads (a long chat's beginning matters less)."""
PAST_MESSAGES = 2000
"""How many recent messages of resolved conversations are searched for past answers (bounds the cost)."""
SUGGESTIONS = 3
REPLIES = 3
KEY_SENTENCES = 3
MIN_REPLY_SIMILARITY = 0.25
UNSURE_INTENT = 0.3
LLM_DEADLINE_SECONDS = 6.0
"""The abstractive summary is dropped (extractive shown) when the tenant's LLM takes longer than this."""

_LLM_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assist-llm")
_LLM_CACHE: OrderedDict[tuple[uuid.UUID, int, str, tuple[int, ...]], str] = OrderedDict()
"""LLM summaries by (conversation, last seq, reader language, brain versions): every agent who opens the panel, and
every refresh, reuses one call until the conversation moves on. Per process, at most ``LLM_CACHE_SIZE``."""
_LLM_CACHE_LOCK = threading.Lock()
LLM_CACHE_SIZE = 2048
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")
_QUESTION = re.compile(
    r"[?？]|怎么|如何|为什么|什么|吗|能否|可以|多久|哪|\b(how|what|why|when|where|which|can|could|is|are|do|does)\b",
    re.IGNORECASE,
)
_LATIN_WORD = re.compile(r"[a-z0-9]{2,}")
_CJK = re.compile(r"[\u3400-\u9fff]+")


@dataclass
class KnowledgeSuggestion:
    id: str
    title: str
    text: str
    source: str  # "faq" (the assistant's matcher) | "article" (knowledge search)
    score: float
    language: str = ""


@dataclass
class ReplySuggestion:
    text: str
    title: str
    source: str  # "canned" | "past"
    score: float
    canned_id: uuid.UUID | None = None


@dataclass
class Summary:
    kind: str  # "extractive" | "llm"
    key_sentences: list[str]
    done: list[str]
    text: str


@dataclass
class Understanding:
    text: str
    language: str
    intent: dict[str, Any] | None
    sentiment: dict[str, Any]


@dataclass
class Assist:
    conversation_id: uuid.UUID
    question: str
    language: str
    knowledge: list[KnowledgeSuggestion]
    replies: list[ReplySuggestion]
    summary: Summary
    understanding: Understanding | None
    transcript: str = field(default="", repr=False)
    seq: int = 0  # the conversation's last message when gathered: what an LLM summary is cached by


# -- similarity ---------------------------------------------------------------------------------------------------


def terms(text: str) -> set[str]:
    """Latin words and Chinese character bigrams (single characters for one-character runs), lower-cased."""
    lowered = text.lower()
    out = set(_LATIN_WORD.findall(lowered))
    for run in _CJK.findall(lowered):
        if len(run) == 1:
            out.add(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def similarity(a: set[str], b: set[str]) -> float:
    """Dice coefficient of two term sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def containment(question: set[str], text: set[str]) -> float:
    """Share of the question's terms the text contains."""
    return len(question & text) / len(question) if question else 0.0


# -- the parts ----------------------------------------------------------------------------------------------------


def current_question(messages: list[Message]) -> tuple[str, Message | None]:
    """The customer's words since the last agent or bot reply (at most three messages), and the last of them."""
    pending: list[Message] = []
    for m in reversed(messages):
        if m.internal or m.kind not in ("text", "quick_replies"):
            continue
        if m.sender_type == "customer":
            pending.append(m)
            if len(pending) == 3:
                break
        elif m.sender_type in ("agent", "bot") and pending:
            break
    if not pending:  # answered already: the customer's latest message is still the best guess
        last = next((m for m in reversed(messages) if m.sender_type == "customer" and not m.internal), None)
        return (last.body if last else ""), last
    pending.reverse()
    return " ".join(m.body for m in pending).strip(), pending[-1]


def _knowledge(session: Session, actor: Actor, brain: Brain, question: str, language: str) -> list[KnowledgeSuggestion]:
    if not question or not actor.can(Perm.KNOWLEDGE_READ):
        return []
    found: dict[str, KnowledgeSuggestion] = {}
    # The assistant's matcher: what the intent model predicts, then retrieval over the entries it did not learn.
    if brain.model is not None:
        prediction = brain.model.predict(question)
        for label, probability in prediction.top[:SUGGESTIONS]:
            item = brain.by_id.get(label[len(FAQ_LABEL) :]) if label.startswith(FAQ_LABEL) else None
            if item is None or probability < 0.05:
                continue
            local = brain.translations.get((item.id, language.split("-")[0].lower()), item)
            found.setdefault(
                local.id,
                KnowledgeSuggestion(local.id, local.question, local.answer, "faq", probability, local.language),
            )
    for match in search_faq(brain, question, language, k=SUGGESTIONS):
        item = brain.faq.get(match.entry_id)
        if item is None or match.score <= 0:
            continue
        previous = found.get(item.id)
        score = min(float(match.score), 1.0)
        if previous is None or previous.score < score:
            found[item.id] = KnowledgeSuggestion(item.id, item.question, item.answer, "faq", score, item.language)
    # The knowledge search: articles (and FAQ entries the matcher does not hold) the agent may read.
    index, bodies = CACHE.get(session, actor.tenant_id)
    reader = Visibility(
        staff=True, team_ids=frozenset(str(t) for t in actor.team_ids), all_teams=actor.can(Perm.KNOWLEDGE_WRITE)
    )
    by_title = {s.title: s for s in found.values()}
    hits = index.search(question[:1000], limit=SUGGESTIONS, allow=reader)
    top = hits[0].score if hits else 1.0
    for hit in hits:
        scaled = 0.6 * hit.score / (top or 1.0)
        same = by_title.get(hit.doc.title)
        if same is not None:  # both searches found this entry: it ranks by the better of the two
            same.score = max(same.score, scaled)
            continue
        text = render.to_text(bodies.get(hit.doc.id, ""))[:2000]
        # BM25 scores are unbounded: scaled to the best hit, and kept below a confident matcher answer
        found.setdefault(
            str(hit.doc.id),
            KnowledgeSuggestion(str(hit.doc.id), hit.doc.title, text, "article", scaled, hit.doc.language),
        )
    # an entry in another language is offered only when there is none in the customer's
    base = language.split("-")[0].lower()
    ours = [s for s in found.values() if s.language.split("-")[0].lower() == base]
    return sorted(ours or found.values(), key=lambda s: -s.score)[:SUGGESTIONS]


def _fill_values(session: Session, actor: Actor, conversation: Conversation) -> dict[str, str]:
    customer_name = session.scalar(select(Customer.name).where(Customer.id == conversation.customer_id)) or ""
    agent_name = (
        session.scalar(select(StaffUser.display_name).where(StaffUser.id == actor.staff_id)) if actor.staff_id else ""
    )
    workspace = session.scalar(select(Tenant.name).where(Tenant.id == actor.tenant_id)) or ""
    return {"customer_name": customer_name, "agent_name": agent_name or "", "workspace": workspace}


def _replies(session: Session, actor: Actor, conversation: Conversation, question: str) -> list[ReplySuggestion]:
    wanted = terms(question)
    if not wanted:
        return []
    out: list[ReplySuggestion] = []
    values = _fill_values(session, actor, conversation)
    for row in session.scalars(select(CannedResponse)):
        # the title's words in the question ("退货指引" for "我想退货"), or a body close to the question
        score = max(containment(terms(row.title), wanted), similarity(wanted, terms(row.body)))
        if score >= MIN_REPLY_SIMILARITY:
            out.append(ReplySuggestion(canned.fill(row.body, values), row.title, "canned", score, row.id))
    out.extend(_past_answers(session, conversation, wanted))
    seen: set[str] = set()
    unique = []
    for r in sorted(out, key=lambda r: -r.score):
        if r.text not in seen:
            seen.add(r.text)
            unique.append(r)
    return unique[:REPLIES]


def _past_answers(session: Session, conversation: Conversation, wanted: set[str]) -> list[ReplySuggestion]:
    """Agent answers that followed a similar customer question in resolved conversations not rated below 4."""
    badly_rated = select(ConversationRating.conversation_id).where(ConversationRating.score < 4)
    recent = (
        select(Conversation.id)
        .where(
            Conversation.status == "resolved",
            Conversation.id != conversation.id,
            Conversation.id.not_in(badly_rated),
        )
        .order_by(Conversation.updated_at.desc())
        .limit(PAST_MESSAGES // 4)
    )
    rows = session.execute(
        select(Message.conversation_id, Message.sender_type, Message.body)
        .where(
            Message.conversation_id.in_(recent),
            Message.internal.is_(False),
            Message.kind == "text",
            Message.sender_type.in_(("customer", "agent")),
        )
        .order_by(Message.conversation_id, Message.seq)
        .limit(PAST_MESSAGES)
    ).all()
    best: dict[str, ReplySuggestion] = {}
    asked: tuple[uuid.UUID, str] | None = None
    for conversation_id, sender, body in rows:
        if sender == "customer":
            asked = (conversation_id, body)
            continue
        if asked is None or asked[0] != conversation_id:
            continue
        # how much of that question the current one contains; a greeting or a one-word line is no question
        past = terms(asked[1])
        score = containment(past, wanted) if len(past) >= 3 else 0.0
        if score >= MIN_REPLY_SIMILARITY and len(body) >= 4:
            key = body.strip()
            if key not in best or best[key].score < score:
                best[key] = ReplySuggestion(key, asked[1], "past", score)
        asked = None
    # the best few that did not answer a mere greeting (checked last: the small-talk test is the costly part)
    out: list[ReplySuggestion] = []
    for suggestion in sorted(best.values(), key=lambda r: -r.score):
        if smalltalk_kind(suggestion.title) is None:
            out.append(replace(suggestion, title=suggestion.title[:120]))
            if len(out) == REPLIES:
                break
    return out


def _key_sentences(messages: list[Message]) -> list[str]:
    """The customer's sentences that carry the matter: questions, details (order numbers, dates, amounts),
    complaints; greetings and thanks left out. At most ``KEY_SENTENCES``, in the order they were said."""
    scored: list[tuple[float, int, str]] = []
    n = 0
    for m in messages:
        if m.sender_type != "customer" or m.internal or m.kind not in ("text", "quick_replies"):
            continue
        for raw in _SENTENCE_END.split(m.body):
            sentence = raw.strip()
            if len(sentence) < 2 or smalltalk_kind(sentence) is not None:
                continue
            score = min(len(sentence), 40) / 40
            if _QUESTION.search(sentence):
                score += 1.0
            if extract_entities(sentence):
                score += 1.0
            mood = analyze_sentiment(sentence)
            if mood.label == "negative" or mood.complaint or mood.urgent:
                score += 0.8
            scored.append((score, n, sentence[:300]))
            n += 1
    chosen = sorted(scored, key=lambda t: (-t[0], t[1]))[:KEY_SENTENCES]
    out: list[str] = []
    for _, _, sentence in sorted(chosen, key=lambda t: t[1]):
        if sentence not in out:
            out.append(sentence)
    return out


def _done(session: Session, messages: list[Message], conversation: Conversation, lang: str) -> list[str]:
    """What happened so far, in the reader's language: the assistant's answers, the hand-over, the agents'
    replies and notes, linked tickets, the status."""
    done: list[str] = []
    answered = [
        str((m.payload.get("bot") or {}).get("knowledge_id"))
        for m in messages
        if m.sender_type == "bot" and (m.payload.get("bot") or {}).get("kind") == "answer"
    ]
    if answered:
        done.append(translate("assist.done.bot_answered", lang, count=len(answered), ids=", ".join(answered[-3:])))
    if any(m.sender_type == "bot" and (m.payload.get("bot") or {}).get("kind") == "hand_over" for m in messages) or (
        "bot_handover" in (conversation.tags or [])
    ):
        done.append(translate("assist.done.handed_over", lang))
    replies = sum(1 for m in messages if m.sender_type == "agent" and not m.internal)
    if replies:
        done.append(translate("assist.done.agent_replied", lang, count=replies))
    notes = sum(1 for m in messages if m.sender_type == "agent" and m.internal)
    if notes:
        done.append(translate("assist.done.notes", lang, count=notes))
    tickets = list(session.scalars(select(Ticket.number).where(Ticket.conversation_id == conversation.id)))
    if tickets:
        done.append(translate("assist.done.tickets", lang, numbers=", ".join(f"#{n}" for n in tickets)))
    if conversation.status == "resolved":
        done.append(translate("assist.done.resolved", lang))
    if not done:
        done.append(translate("assist.done.nothing", lang))
    return done


def _understanding(
    brain: Brain, message: Message | None, language: str, matched: KnowledgeSuggestion | None
) -> Understanding | None:
    if message is None:
        return None
    text = message.body
    mood = analyze_sentiment(text, urgent_words=tuple(brain.settings.urgent_words))
    intent: dict[str, Any] | None = None
    if brain.model is not None:
        prediction = brain.model.predict(text)
        label = prediction.label if not prediction.out_of_scope else None
        if label is None and prediction.top and prediction.top[0][1] >= UNSURE_INTENT:
            label = prediction.top[0][0]  # below the answer threshold, still the likeliest reading for a person
        if label is not None:
            item = brain.by_id.get(label[len(FAQ_LABEL) :]) if label.startswith(FAQ_LABEL) else None
            if item is not None:
                item = brain.translations.get((item.id, language.split("-")[0].lower()), item)
            intent = {
                "label": label,
                "title": item.question if item else label,
                "confidence": round(prediction.confidence if label == prediction.label else prediction.top[0][1], 3),
                "source": "model",
            }
    if intent is None and matched is not None:
        # no model (or it has no reading): the matcher's best entry for the customer's current words
        intent = {
            "label": FAQ_LABEL + matched.id,
            "title": matched.title,
            "confidence": round(min(matched.score, 1.0), 3),
            "source": "retrieval",
        }
    return Understanding(
        text=text[:500],
        language=language,
        intent=intent,
        sentiment={"label": mood.label, "score": round(mood.score, 3), "complaint": mood.complaint,
                   "urgent": mood.urgent},
    )  # fmt: skip


# -- entry points -------------------------------------------------------------------------------------------------


def gather(session: Session, actor: Actor, conversation_id: uuid.UUID, brain: Brain, *, reader_language: str) -> Assist:
    """Everything local, inside the caller's read transaction. 404 (``NotFound``) for a conversation the actor
    may not read, in this tenant or any other."""
    conversation = queries.get_conversation(session, actor, conversation_id)
    messages = list(
        reversed(
            list(
                session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.seq.desc())
                    .limit(THREAD_MESSAGES)
                )
            )
        )
    )
    question, last = current_question(messages)
    detected = detect_language(question, default="und") if question else "und"
    language = "zh-CN" if detected == "zh" else "en" if detected == "en" else brain.default_language
    key = _key_sentences(messages)
    done = _done(session, messages, conversation, reader_language)
    summary = Summary("extractive", key, done, _summary_text(key, done, reader_language))
    knowledge = _knowledge(session, actor, brain, question, language)
    transcript = "\n".join(
        f"{m.sender_type}: {m.body[:500]}" for m in messages if not m.internal and m.kind in ("text", "quick_replies")
    )
    return Assist(
        conversation_id=conversation.id,
        question=question[:1000],
        language=language,
        knowledge=knowledge,
        replies=_replies(session, actor, conversation, question),
        summary=summary,
        understanding=_understanding(brain, last, language, next((k for k in knowledge if k.source == "faq"), None)),
        transcript=transcript,
        seq=conversation.last_seq,
    )


def _summary_text(key: list[str], done: list[str], lang: str) -> str:
    said = translate("assist.summary.said", lang)
    did = translate("assist.summary.done", lang)
    lines = [said, *(f"• {s}" for s in key)] if key else []
    return "\n".join([*lines, did, *(f"• {d}" for d in done)])


def with_llm(assistant: Assistant, brain: Brain, result: Assist, *, reader_language: str) -> Assist:
    """The tenant's LLM summary instead of the extractive text, when configured and quick enough; call with no
    transaction open. Any failure, a timeout, or an LLM turned off returns ``result`` unchanged."""
    if not brain.settings.llm.enabled or not result.transcript:
        return result
    client = assistant.llm(brain)
    if not client.enabled:
        return result
    key = (result.conversation_id, result.seq, reader_language, brain.versions)
    with _LLM_CACHE_LOCK:
        drafted = _LLM_CACHE.get(key)
    if drafted is None:
        deadline = min(LLM_DEADLINE_SECONDS, float(brain.settings.llm.timeout_seconds) + 1.0)
        future = _LLM_POOL.submit(client.summarise, result.transcript, reader_language)
        try:
            drafted = future.result(timeout=deadline)
        except FutureTimeout:
            future.cancel()
            return result
        except Exception:  # the client already logs its own failures; anything else must not break the panel
            return result
        if not drafted:
            return result  # a failure is not cached: the next look tries again
        with _LLM_CACHE_LOCK:
            _LLM_CACHE[key] = drafted
            while len(_LLM_CACHE) > LLM_CACHE_SIZE:
                _LLM_CACHE.popitem(last=False)
    return replace(result, summary=replace(result.summary, kind="llm", text=drafted))
