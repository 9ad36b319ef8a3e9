"""The application factory: wires settings, database, event bus and rate limiter into one ASGI app."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from omnidesk import __version__, wiring
from omnidesk.accounts import auth
from omnidesk.accounts.api import router as accounts_router
from omnidesk.accounts.ui import router as accounts_ui_router
from omnidesk.bot.api import assist_router
from omnidesk.bot.api import router as bot_router
from omnidesk.bot.brains import Brains
from omnidesk.bot.engine import Assistant
from omnidesk.bot.ui import router as bot_ui_router
from omnidesk.channels.custom.api import router as custom_channel_router
from omnidesk.channels.providers.intake import Accounts
from omnidesk.channels.sms.api import router as sms_router
from omnidesk.channels.telegram.api import router as telegram_router
from omnidesk.channels.wechat.api import router as wechat_router
from omnidesk.channels.whatsapp.api import router as whatsapp_router
from omnidesk.channels.widget import ui as widget_ui
from omnidesk.channels.widget.adapter import WidgetAdapter
from omnidesk.channels.widget.api import router as widget_router
from omnidesk.compliance.api import router as audit_router
from omnidesk.conversations.api import router as conversations_router
from omnidesk.conversations.live_api import router as live_router
from omnidesk.core.blobs import LocalEncryptedBlobStore
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, get_settings
from omnidesk.customers.api import router as customers_router
from omnidesk.events.bus import EventBus, make_bus
from omnidesk.events.presence import make_presence
from omnidesk.jobs.api import router as jobs_router
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.queue import JobQueue
from omnidesk.jobs.ui import router as jobs_ui_router
from omnidesk.knowledge import helpcenter
from omnidesk.knowledge import ui as knowledge_ui
from omnidesk.knowledge.api import router as knowledge_router
from omnidesk.quality import ui as quality_ui
from omnidesk.quality.api import router as quality_router
from omnidesk.realtime import gateway
from omnidesk.realtime.hub import Hub
from omnidesk.realtime.intake import MessageIntake
from omnidesk.routing.api import router as routing_router
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.outbound import OutboundPolicy
from omnidesk.security.ratelimit import make_rate_limiter
from omnidesk.security.throttle import make_login_throttle
from omnidesk.tickets.api import router as tickets_router
from omnidesk.tickets.ui import router as tickets_ui_router
from omnidesk.web import (
    account,
    audit,
    channels_settings,
    contacts,
    ops,
    problems,
    queue_wall,
    settings_nav,
    ui,
    workspace,
)
from omnidesk.web import analytics as analytics_ui
from omnidesk.web import reports as reports_ui
from omnidesk.web.console import router as console_router
from omnidesk.web.deps import session_cookie_name
from omnidesk.web.middleware import BodyLimit, Idempotency, RequestContext, SecurityHeaders, SocketEndpoint
from omnidesk.web.security_events import SecurityEvents
from omnidesk.web.sockets import router as realtime_router
from omnidesk.webhooks.api import router as webhooks_router
from omnidesk.webhooks.ui import router as webhooks_ui_router
from omnidesk.wfm.ui import router as wfm_ui_router

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, responses=problems.PROBLEM_RESPONSES)
    routers = (
        accounts_router,
        customers_router,
        conversations_router,
        audit_router,
        knowledge_router,
        bot_router,
        assist_router,
        tickets_router,
        live_router,
        routing_router,
        widget_router,
        realtime_router,
        jobs_router,
        webhooks_router,
        quality_router,
        whatsapp_router,
        telegram_router,
        sms_router,
        wechat_router,
        custom_channel_router,
    )
    for router in routers:
        api.include_router(router)
    return api


GC_YOUNG_THRESHOLD = 10_000


def create_app(settings: Settings | None = None, *, db: Database | None = None, bus: EventBus | None = None) -> FastAPI:
    settings = settings or get_settings()
    bus = bus or make_bus(settings.redis_url, settings.redis_prefix)
    db = db or Database(settings.effective_database_url, bus=bus)
    if db.bus is None:
        db.bus = bus
    presence = make_presence(settings.redis_url, settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Follow-up work (bot turns, imports, training, SLA ticks, routing…) runs on the job queue: in this
        # process with a few low-priority threads (embedded), or on `omnidesk worker` processes (cluster), where
        # this process's relay only sends the jobs its own commits queued.
        jobs.start(consume=settings.run_jobs_in_process)
        # Collector pauses were the tail of the chat latency (bench/bench_realtime.py, 1,000 msg/s): full
        # collections of 100–170 ms every few seconds. Everything loaded so far lives as long as the process, so
        # it is moved out of the collector's reach; and young collections run every 10,000 allocations instead of
        # 700, so short-lived objects die before they are promoted and full collections become rare.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
        yield
        jobs.stop()
        bus.close()

    app = FastAPI(
        title="OmniDesk API",
        version=__version__,
        description="REST API of OmniDesk. Errors are application/problem+json; POSTs honour Idempotency-Key.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.rate_limiter = make_rate_limiter(settings.redis_url, settings.redis_prefix)
    app.state.brains = Brains(settings.bot_encoder, for_purpose(settings, Purpose.TENANT_SECRETS))
    app.state.outbound = OutboundPolicy.from_settings(settings)
    app.state.assistant = Assistant(app.state.outbound)
    app.state.hub = Hub(bus)
    app.state.provider_accounts = Accounts(db, for_purpose(settings, Purpose.TENANT_SECRETS))
    # Adapters meet here, not by importing each other: the widget is the socket's message sink, and the
    # conversations slice gets its intake policy (routing, the assistant: it queues the assistant's turns as jobs).
    wiring.install()
    app.state.widget = WidgetAdapter(db, presence)
    app.state.intake = MessageIntake(
        app.state.widget,
        messages_per_window=settings.widget_messages_per_minute,
        window_seconds=settings.widget_messages_window_seconds,
    )
    app.state.presence = presence
    jobs = JobQueue(JobContext(db, settings, presence=presence, brains=app.state.brains, assistant=app.state.assistant))
    jobs.attach()
    app.state.jobs = jobs
    app.state.login_throttle = make_login_throttle(settings.redis_url, settings.redis_prefix)
    app.state.socket_check = functools.partial(auth.socket_still_allowed, db)
    app.state.blobs = LocalEncryptedBlobStore(settings.data_dir / "blobs", for_purpose(settings, Purpose.BLOBS))
    template_dir = Path(str(resources.files("omnidesk.web").joinpath("templates")))
    app.state.templates = Jinja2Templates(directory=template_dir)
    # The staff console's navigation, on every settings page whichever slice renders it (web/settings_nav.py).
    app.state.templates.env.globals["settings_sections"] = settings_nav.visible_sections

    problems.install(app)
    app.include_router(build_api_router())
    app.include_router(ops.router)
    app.include_router(ui.router)
    app.include_router(account.router)
    app.include_router(settings_nav.router)
    app.include_router(queue_wall.router)
    app.include_router(accounts_ui_router)
    app.include_router(audit.router)
    app.include_router(bot_ui_router)
    app.include_router(helpcenter.router)
    app.include_router(tickets_ui_router)
    app.include_router(knowledge_ui.router)
    app.include_router(workspace.router)
    app.include_router(contacts.router)
    app.include_router(analytics_ui.router)
    app.include_router(reports_ui.router)
    app.include_router(wfm_ui_router)
    app.include_router(jobs_ui_router)
    app.include_router(webhooks_ui_router)
    app.include_router(channels_settings.router)
    app.include_router(console_router)
    app.include_router(quality_ui.router)
    app.include_router(widget_ui.router)
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("omnidesk.web").joinpath("static"))),
        name="static",
    )
    _mount_docs(app)

    # Outermost first: request context sees every response, including those the inner layers produce.
    app.add_middleware(Idempotency, db_getter=lambda: app.state.db, cookie_name=session_cookie_name(settings))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    app.add_middleware(SecurityEvents, db_getter=lambda: app.state.db)
    app.add_middleware(RequestContext)
    app.add_middleware(SocketEndpoint, path=f"{API_PREFIX}/realtime/ws", endpoint=gateway.socket_app)
    return app


def _mount_docs(app: FastAPI) -> None:
    """The API reference page: Swagger UI 5 (reads OpenAPI 3.1), vendored in ``static/vendor/swagger-ui`` (see
    its README for version, checksums and licence) and served by this server, never from a CDN."""
    vendor = "/static/vendor/swagger-ui"

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="OmniDesk API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
        )
