"""HTTP handlers of the widget: the public visitor API, staff attachments, and the widget settings.

Visitor routes live under ``/api/v1/widget/<tenant>/``. They need no staff credential: ``POST .../session`` hands
out a short-lived visitor token (``Authorization: Bearer``), which reaches only that visitor's own conversations.
Rate limits apply per IP (new conversations: ``OMNIDESK_WIDGET_CONVERSATIONS_PER_IP`` per 12 h) and per visitor
(messages: ``OMNIDESK_WIDGET_MESSAGES_PER_MINUTE`` per ``OMNIDESK_WIDGET_MESSAGES_WINDOW_SECONDS``); over a limit the
answer is 429 with ``Retry-After`` and a problem whose ``detail`` tells the visitor, in their language
(``Accept-Language``), when they can continue.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnidesk.accounts.models import Tenant
from omnidesk.channels.widget import actions
from omnidesk.channels.widget.attachments import check_upload
from omnidesk.channels.widget.schemas import (
    AvailabilityOut,
    ContactDetails,
    OfflineIn,
    OfflineOut,
    PrechatIn,
    SessionOut,
    SessionStart,
    VisitorConversationCreate,
    VisitorConversationOut,
    VisitorMessageCreate,
    WidgetConfigOut,
    WidgetConfigUpdate,
    WidgetSecretOut,
)
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.schemas import ClientId, MessageOut, RatingIn, ReceiptIn, SenderType
from omnidesk.core.actor import Actor, visitor_actor
from omnidesk.core.blobs import BlobStore
from omnidesk.core.errors import NotFound, PermissionDenied, RateLimited, Unauthenticated
from omnidesk.core.pagination import MAX_LIMIT
from omnidesk.core.schemas import Int32, Page
from omnidesk.i18n import pick_language, translate
from omnidesk.realtime.gateway import origin_allowed
from omnidesk.realtime.tokens import SocketGrant, mint
from omnidesk.routing import queue_actions as routing_queue_actions
from omnidesk.routing import service as routing_service
from omnidesk.routing.schemas import CallbackIn, CallbackOut, QueueStatusOut
from omnidesk.security import signing
from omnidesk.security.keys import Purpose, for_purpose, keyring
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep, client_ip, public_base_url

log = logging.getLogger("omnidesk.widget")
router = APIRouter(tags=["widget"])

VISITOR_PURPOSE = "omnidesk-visitor"


@dataclass(frozen=True)
class Visitor:
    tenant_id: uuid.UUID
    customer_id: uuid.UUID
    actor: Actor


def _blobs(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blobs
    return store


def current_visitor(request: Request, tenant: str) -> Visitor:
    settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("start a widget session first and send its token as 'Authorization: Bearer <token>'")
    payload = signing.verify(for_purpose(settings, Purpose.VISITOR_SESSION).accepted, VISITOR_PURPOSE, token.strip())
    if payload.get("ts") != tenant:
        raise Unauthenticated("this token belongs to another workspace")
    tenant_id, customer_id = uuid.UUID(payload["t"]), uuid.UUID(payload["c"])
    return Visitor(tenant_id, customer_id, visitor_actor(tenant_id, customer_id, ip=client_ip(request)))


VisitorDep = Annotated[Visitor, Depends(current_visitor)]


def wait_text(language: str, seconds: int) -> str:
    """A wait as "12 s" / "12 秒", or in whole minutes (rounded up) from two minutes on, as the widget's script does."""
    if seconds < 120:
        return translate("widget.wait_seconds", language, seconds=seconds)
    return translate("widget.wait_minutes", language, minutes=(seconds + 59) // 60)


def _visitor_limit(request: Request, key: str, limit: int, window_seconds: int, text_key: str) -> None:
    """A visitor-facing rate limit: over it, a 429 whose detail says in the visitor's language when to continue."""
    try:
        request.app.state.rate_limiter.hit(key, limit, window_seconds)
    except RateLimited as exc:
        language = pick_language(accept_language=request.headers.get("accept-language"))
        detail = translate(text_key, language, wait=wait_text(language, exc.retry_after))
        raise RateLimited(detail, retry_after=exc.retry_after) from None


def _tenant_id(db: DbDep, slug: str) -> uuid.UUID:
    with db.platform_transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == slug, Tenant.is_active.is_(True)))
    if tenant_id is None:
        raise NotFound("no such workspace")
    return tenant_id


@router.post("/widget/{tenant}/session")
def start_session(tenant: str, data: SessionStart, request: Request, db: DbDep, settings: SettingsDep) -> SessionOut:
    """Start or resume a visitor: returns the visitor id to keep, a visitor token and a socket token."""
    ip = client_ip(request)
    request.app.state.rate_limiter.hit(f"widget-session:{ip}", settings.widget_sessions_per_ip, 3600)
    tenant_id = _tenant_id(db, tenant)
    with db.tenant_transaction(tenant_id) as s:
        config = actions.config_of(s)
        allowed = [*settings.allowed_origins, *(config.allowed_origins if config else [])]
        if not origin_allowed(request.headers.get("origin"), request.headers.get("host"), allowed):
            raise PermissionDenied("this site is not allowed to embed the widget")
        if config is not None and not config.enabled:
            raise NotFound("the chat widget is switched off for this workspace")
        actor = visitor_actor(tenant_id, uuid.uuid4(), ip=ip)
        customer, visitor_id, identified = actions.start_session(
            s, actor, data, identity_max_age_seconds=settings.widget_identity_max_age_seconds
        )
        conversations = actions.list_own_conversations(s, customer.id)
        ttl = settings.visitor_token_minutes * 60
        keys = keyring(settings)
        token = signing.sign(
            keys[Purpose.VISITOR_SESSION].current,
            VISITOR_PURPOSE,
            {"t": str(tenant_id), "ts": tenant, "c": str(customer.id)},
            ttl,
        )
        socket_token = mint(keys, SocketGrant(tenant_id=tenant_id, kind="visitor", customer_id=customer.id))
        return SessionOut(
            visitor_id=visitor_id,
            token=token,
            socket_token=socket_token,
            expires_in=ttl,
            customer_name=customer.name,
            identified=identified,
            conversations=[VisitorConversationOut.model_validate(c) for c in conversations],
        )


@router.post("/widget/{tenant}/socket-token")
def socket_token(tenant: str, visitor: VisitorDep, settings: SettingsDep) -> dict[str, str]:
    """A fresh dedicated socket token (for reconnecting) without starting a new session."""
    grant = SocketGrant(tenant_id=visitor.tenant_id, kind="visitor", customer_id=visitor.customer_id)
    return {"socket_token": mint(keyring(settings), grant)}


@router.patch("/widget/{tenant}/contact")
def update_contact(tenant: str, data: ContactDetails, visitor: VisitorDep, db: DbDep) -> dict[str, str]:
    with db.tenant_transaction(visitor.tenant_id) as s:
        customer = actions.update_contact(s, visitor.actor, visitor.customer_id, data)
        return {"name": customer.name}


@router.post("/widget/{tenant}/prechat")
def submit_prechat(tenant: str, data: PrechatIn, visitor: VisitorDep, db: DbDep, request: Request) -> dict[str, str]:
    """The pre-chat form: each value is checked against the tenant's form (a 422 lists every field that is wrong,
    in the visitor's language, and stores nothing), then stored on the visitor's customer."""
    language = pick_language(accept_language=request.headers.get("accept-language"))
    with db.tenant_transaction(visitor.tenant_id) as s:
        customer = actions.submit_prechat(s, visitor.actor, visitor.customer_id, data, language)
        return {"name": customer.name}


@router.get("/widget/{tenant}/availability")
def availability(tenant: str, visitor: VisitorDep, db: DbDep) -> AvailabilityOut:
    """Whether anyone is there: the widget offers the offline form instead of a chat when ``offline_form`` is
    true (as the tenant chose: no agent online, or outside the business hours)."""
    with db.tenant_read(visitor.tenant_id) as s:
        due = actions.offline_form_due(s, visitor.tenant_id)
        return AvailabilityOut(agents_online=actions.agents_online(s), offline_form=due)


@router.post("/widget/{tenant}/offline", status_code=status.HTTP_201_CREATED)
def submit_offline(tenant: str, data: OfflineIn, visitor: VisitorDep, db: DbDep, request: Request) -> OfflineOut:
    """The offline form: creates one ticket (requester: this visitor's customer) and answers with its number and
    the sentence to show. Limited like new conversations (per IP)."""
    settings = request.app.state.settings
    language = pick_language(accept_language=request.headers.get("accept-language"))
    _visitor_limit(
        request,
        f"widget-conv:{client_ip(request)}",
        settings.widget_conversations_per_ip,
        12 * 3600,
        "widget.too_many_conversations",
    )
    with db.tenant_transaction(visitor.tenant_id) as s:
        number = actions.submit_offline(s, visitor.actor, visitor.customer_id, data, language)
    return OfflineOut(ticket_number=number, message=translate("widget.offline_done", language, number=number))


@router.get("/widget/{tenant}/conversations")
def list_conversations(tenant: str, visitor: VisitorDep, db: DbDep) -> list[VisitorConversationOut]:
    with db.tenant_transaction(visitor.tenant_id) as s:
        return [
            VisitorConversationOut.model_validate(c) for c in actions.list_own_conversations(s, visitor.customer_id)
        ]


@router.post(
    "/widget/{tenant}/conversations",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VisitorConversationOut, "description": "this client_id opened one already: that one"}},
)
def open_conversation(
    tenant: str,
    data: VisitorConversationCreate,
    visitor: VisitorDep,
    db: DbDep,
    request: Request,
    response: Response,
) -> VisitorConversationOut:
    settings = request.app.state.settings
    language = pick_language(accept_language=request.headers.get("accept-language"))
    with db.tenant_transaction(visitor.tenant_id) as s:
        existing = actions.open_conversation_if_exists(s, visitor.customer_id, data.client_id)
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            return VisitorConversationOut.model_validate(existing)
    _visitor_limit(
        request,
        f"widget-conv:{client_ip(request)}",
        settings.widget_conversations_per_ip,
        12 * 3600,
        "widget.too_many_conversations",
    )
    try:
        with db.tenant_transaction(visitor.tenant_id) as s:
            conversation, first = actions.open_conversation(s, visitor.actor, visitor.customer_id, data, language)
            routing_service.route_now(request.app.state.presence, s, visitor.tenant_id)
            out = VisitorConversationOut.model_validate(conversation)
    except IntegrityError:
        # A retry raced its original: the conversation's id comes from the visitor and the client_id, so exactly
        # one opened it. Answer with that one.
        with db.tenant_transaction(visitor.tenant_id) as s:
            conversation, first = actions.open_conversation(s, visitor.actor, visitor.customer_id, data, language)
            out = VisitorConversationOut.model_validate(conversation)
    if not first.created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/widget/{tenant}/conversations/{conversation_id}/messages")
def list_messages(
    tenant: str,
    conversation_id: uuid.UUID,
    visitor: VisitorDep,
    db: DbDep,
    after_seq: Annotated[Int32, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Page[MessageOut]:
    """Messages (never internal notes) after ``after_seq``: how the widget resumes after a drop."""
    with db.tenant_transaction(visitor.tenant_id) as s:
        rows, more = actions.visible_messages(s, visitor.customer_id, conversation_id, after_seq=after_seq, limit=limit)
        return Page[MessageOut](
            items=actions.for_visitor(s, [MessageOut.model_validate(m) for m in rows]),
            next_cursor=str(rows[-1].seq) if more else None,
        )


@router.post(
    "/widget/{tenant}/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": MessageOut, "description": "a message with this client_id was sent already: that one"}},
)
def send_message(
    tenant: str,
    conversation_id: uuid.UUID,
    data: VisitorMessageCreate,
    visitor: VisitorDep,
    db: DbDep,
    request: Request,
    response: Response,
) -> MessageOut:
    """Persist, then acknowledge with the stored message (its ``seq``). A resend with the same ``client_id``
    returns the stored message with 200 instead of storing it twice."""
    settings = request.app.state.settings
    language = pick_language(accept_language=request.headers.get("accept-language"))
    _visitor_limit(
        request,
        f"widget-msg:{visitor.customer_id}",
        settings.widget_messages_per_minute,
        settings.widget_messages_window_seconds,
        "widget.too_fast",
    )
    try:
        with db.tenant_transaction(visitor.tenant_id) as s:
            stored = actions.send(s, visitor.actor, visitor.customer_id, conversation_id, data, language)
            if stored.created:
                routing_service.route_now(request.app.state.presence, s, visitor.tenant_id)
    except IntegrityError:
        # Two copies of one send raced (a retry while the first was in flight): the unique channel message id let
        # exactly one in. Answer with that one, as for any repeat.
        with db.tenant_transaction(visitor.tenant_id) as s:
            stored = actions.send(s, visitor.actor, visitor.customer_id, conversation_id, data, language)
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    return MessageOut.model_validate(stored.message)


@router.post("/widget/{tenant}/conversations/{conversation_id}/receipts", status_code=status.HTTP_204_NO_CONTENT)
def receipts(tenant: str, conversation_id: uuid.UUID, data: ReceiptIn, visitor: VisitorDep, db: DbDep) -> None:
    with db.tenant_transaction(visitor.tenant_id) as s:
        actions.mark_read(s, visitor.actor, visitor.customer_id, conversation_id, data.delivered_seq, data.read_seq)


@router.post("/widget/{tenant}/conversations/{conversation_id}/rating", status_code=status.HTTP_201_CREATED)
def rate(tenant: str, conversation_id: uuid.UUID, data: RatingIn, visitor: VisitorDep, db: DbDep) -> dict[str, int]:
    with db.tenant_transaction(visitor.tenant_id) as s:
        rating = actions.rate(s, visitor.actor, visitor.customer_id, conversation_id, data.score, data.comment)
        return {"score": rating.score}


@router.get("/widget/{tenant}/conversations/{conversation_id}/queue")
def queue_status(
    tenant: str, conversation_id: uuid.UUID, visitor: VisitorDep, db: DbDep, request: Request
) -> QueueStatusOut:
    """Where the visitor stands while waiting for a person, an honest expected wait (none while no agent is
    online), and the sentence to show, in the language of ``Accept-Language``."""
    language = pick_language(accept_language=request.headers.get("accept-language"))
    with db.tenant_transaction(visitor.tenant_id) as s:
        actions.own_conversation(s, visitor.customer_id, conversation_id)
        return routing_service.queue_status(s, conversation_id, language)


@router.post("/widget/{tenant}/conversations/{conversation_id}/callback", status_code=status.HTTP_201_CREATED)
def request_callback(
    tenant: str, conversation_id: uuid.UUID, data: CallbackIn, visitor: VisitorDep, db: DbDep
) -> CallbackOut:
    """The waiting visitor asks to be called back instead of waiting (offered when the wait is long)."""
    with db.tenant_transaction(visitor.tenant_id) as s:
        actions.own_conversation(s, visitor.customer_id, conversation_id)
        wait = routing_service.queue_status(s, conversation_id).expected_wait_seconds
        row = routing_queue_actions.request_callback(s, visitor.actor, conversation_id, data.phone, wait)
        return CallbackOut(id=row.id, state=row.state, expected_wait_seconds=row.expected_wait_seconds)


@router.post("/widget/{tenant}/conversations/{conversation_id}/attachments", status_code=status.HTTP_201_CREATED)
async def upload(
    tenant: str,
    conversation_id: uuid.UUID,
    visitor: VisitorDep,
    db: DbDep,
    request: Request,
    file: Annotated[UploadFile, File()],
    client_id: Annotated[ClientId | None, Form()] = None,
) -> MessageOut:
    """An image or PDF from the visitor, posted as an ``attachment`` message."""
    settings = request.app.state.settings
    request.app.state.rate_limiter.hit(f"widget-upload:{visitor.customer_id}", 60, 3600)
    data = await file.read(settings.max_body_bytes + 1)
    checked = check_upload(file.filename or "", file.content_type or "", data, max_bytes=settings.max_body_bytes)
    import anyio

    def work() -> MessageOut:
        with db.tenant_transaction(visitor.tenant_id) as s:
            conversation = actions.own_conversation(s, visitor.customer_id, conversation_id)
            message = actions.attach(
                s,
                visitor.actor,
                conversation,
                checked,
                _blobs(request),
                sender_type=SenderType.CUSTOMER,
                sender_id=visitor.customer_id,
                client_id=client_id,
            )
            return MessageOut.model_validate(message)

    return await anyio.to_thread.run_sync(work)


@router.get("/widget/{tenant}/conversations/{conversation_id}/attachments/{attachment_id}")
def download(
    tenant: str, conversation_id: uuid.UUID, attachment_id: uuid.UUID, visitor: VisitorDep, db: DbDep, request: Request
) -> Response:
    with db.tenant_transaction(visitor.tenant_id) as s:
        conversation = actions.own_conversation(s, visitor.customer_id, conversation_id)
        row = actions.attachment_of(s, conversation, attachment_id)
        return _file_response(_blobs(request).get(row.storage_key), row.content_type, row.filename)


def _file_response(data: bytes, content_type: str, filename: str) -> Response:
    """Served as data, never as a page: sandboxed, no sniffing; PDFs as downloads."""
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{ascii_name}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


# --- staff side -------------------------------------------------------------------------------------------------


@router.post("/conversations/{conversation_id}/attachments", status_code=status.HTTP_201_CREATED)
async def staff_upload(
    conversation_id: uuid.UUID,
    db: DbDep,
    actor: ActorDep,
    request: Request,
    file: Annotated[UploadFile, File()],
    client_id: Annotated[ClientId | None, Form()] = None,
) -> MessageOut:
    """An agent sends an image or PDF to the customer."""
    actor.require(Perm.CONVERSATIONS_WRITE)
    settings = request.app.state.settings
    data = await file.read(settings.max_body_bytes + 1)
    checked = check_upload(file.filename or "", file.content_type or "", data, max_bytes=settings.max_body_bytes)
    import anyio

    def work() -> MessageOut:
        with db.tenant_transaction(actor.tenant_id) as s:
            conversation = conversation_queries.get_conversation(s, actor, conversation_id)
            message = actions.attach(
                s,
                actor,
                conversation,
                checked,
                _blobs(request),
                sender_type=SenderType.AGENT,
                sender_id=actor.staff_id,
                client_id=client_id,
            )
            return MessageOut.model_validate(message)

    return await anyio.to_thread.run_sync(work)


@router.get("/conversations/{conversation_id}/attachments/{attachment_id}")
def staff_download(
    conversation_id: uuid.UUID, attachment_id: uuid.UUID, db: DbDep, actor: ActorDep, request: Request
) -> Response:
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = conversation_queries.get_conversation(s, actor, conversation_id)
        row = actions.attachment_of(s, conversation, attachment_id)
        return _file_response(_blobs(request).get(row.storage_key), row.content_type, row.filename)


@router.get("/widget/config")
def get_config(db: DbDep, actor: ActorDep, request: Request) -> WidgetConfigOut:
    """The widget settings and the one-line embed snippet to paste into a site."""
    actor.require(Perm.TENANT_SETTINGS)
    with db.tenant_read(actor.tenant_id) as s:
        config = actions.config_or_default(s, actor.tenant_id)
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == actor.tenant_id)) or ""
        return _config_out(config, snippet_for(request, slug))


@router.patch("/widget/config")
def patch_config(data: WidgetConfigUpdate, db: DbDep, actor: ActorDep, request: Request) -> WidgetConfigOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        config = actions.update_config(s, actor, data)
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == actor.tenant_id)) or ""
        return _config_out(config, snippet_for(request, slug))


@router.get("/widget/config/identity-secret")
def get_identity_secret(db: DbDep, actor: ActorDep) -> WidgetSecretOut:
    """The secret a host site signs visitor identifiers with (admins only; keep it on the server)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return WidgetSecretOut(identity_secret=actions.reveal_identity_secret(s, actor))


def snippet_for(request: Request, slug: str) -> str:
    """The embed line. Its answers are never cached (API: no-store; the settings page: no-store), so the Host
    fallback of development cannot reach anyone else."""
    base, _ = public_base_url(request)
    return f'<script src="{base}/static/widget/loader.js" data-omnidesk-tenant="{slug}" async></script>'


def _config_out(config: object, snippet: str) -> WidgetConfigOut:
    return WidgetConfigOut.model_validate(
        {**{k: getattr(config, k) for k in WidgetConfigOut.model_fields if k != "snippet"}, "snippet": snippet}
    )
