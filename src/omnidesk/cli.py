"""The ``omnidesk`` command line: set up, run and administer an OmniDesk instance."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

import click
from sqlalchemy import select

from omnidesk import wiring
from omnidesk.accounts import actions as accounts
from omnidesk.accounts.models import Tenant
from omnidesk.accounts.schemas import ApiKeyCreate, StaffCreate, TenantCreate
from omnidesk.core import migrate as migrations
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.errors import DomainError
from omnidesk.core.logging import configure_logging
from omnidesk.core.settings import ENCODER_KINDS, Environment, Settings, SettingsError, load_settings
from omnidesk.security.permissions import Role


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _db(settings: Settings) -> Database:
    """The database with the configured event bus: events of what a command or a job changes reach the agents'
    screens (without a bus they were silently dropped)."""
    from omnidesk.events.bus import make_bus

    return Database(settings.effective_database_url, bus=make_bus(settings.redis_url, settings.redis_prefix))


def _require_migrated(settings: Settings) -> None:
    url = settings.effective_database_url
    current, head = migrations.current_revision(url), migrations.head_revision(url)
    if current != head:
        raise click.ClickException(
            f"the database is at revision {current or 'none'}, the code needs {head}: run 'omnidesk migrate' first"
        )


def _tenant_id(db: Database, slug: str) -> Any:
    with db.platform_transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise click.ClickException(f"no tenant with the slug '{slug}'")
    return tenant_id


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """OmniDesk, the open-source AI customer service system.

    State lives under OMNIDESK_DATA_DIR (default ./data) unless OMNIDESK_DATABASE_URL names another database.
    """
    wiring.install()


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema to the current version."""
    settings = _settings()
    migrations.upgrade(settings.effective_database_url)
    click.echo(f"database at revision {migrations.current_revision(settings.effective_database_url)}")


@main.command()
@click.option("--tenant", "slug", required=True, help="URL-safe identifier, e.g. acme")
@click.option("--name", required=True, help="display name of the tenant")
@click.option("--admin-email", required=True, help="e-mail of the first administrator")
@click.option("--language", default="zh-CN", type=click.Choice(["zh-CN", "en"]), show_default=True)
@click.option("--time-zone", default="Asia/Shanghai", show_default=True)
def init(slug: str, name: str, admin_email: str, language: str, time_zone: str) -> None:
    """Create a tenant and its first admin; print the admin's one-time password."""
    settings = _settings()
    migrations.upgrade(settings.effective_database_url)
    db = _db(settings)
    try:
        data = TenantCreate(
            slug=slug, name=name, admin_email=admin_email, default_language=language, time_zone=time_zone
        )
        with db.platform_transaction() as s:
            tenant, admin, password = accounts.create_tenant(s, data)
    except (DomainError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"tenant '{tenant.slug}' created ({tenant.id})")
    click.echo(f"admin: {admin.email}")
    click.echo(f"one-time password (shown once): {password}")


@main.command()
@click.option("--host", default=None, help="interface to bind (default OMNIDESK_HOST or 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default PORT, OMNIDESK_PORT or 8000)")
@click.option("--workers", default=1, show_default=True, help="server processes (cluster mode needs PostgreSQL)")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP server."""
    settings = _settings()
    _require_migrated(settings)
    _serve(settings, host, port, workers)


def _serve(settings: Settings, host: str | None, port: int | None, workers: int = 1) -> None:
    import uvicorn

    from omnidesk.web.websocket_protocol import server_options

    configure_logging(settings.log_level, as_json=settings.log_json)
    port = port or int(os.environ.get("PORT", settings.port))
    uvicorn.run(
        "omnidesk.web.asgi:app",
        host=host or settings.host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The app reads X-Forwarded-For itself, in one place (web/deps.client_ip, OMNIDESK_TRUSTED_PROXIES): the
        # same rule then holds however the app is served (uvicorn, another ASGI server, tests), its default trusts
        # nobody (uvicorn's trusts 127.0.0.1 or FORWARDED_ALLOW_IPS), and the peer address stays the real one.
        proxy_headers=False,
        **server_options(),  # lean idle sockets, bounded messages, no per-message deflate
    )


@main.command()
@click.option("--threads", default=None, type=click.IntRange(1, 64), help="job threads (default OMNIDESK_JOB_WORKERS)")
@click.option(
    "--metrics-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="serve this process's GET /metrics on OMNIDESK_WORKER_METRICS_HOST (default 127.0.0.1) at this port "
    "(default OMNIDESK_WORKER_METRICS_PORT; 0: none)",
)
def worker(threads: int | None, metrics_port: int | None) -> None:
    """Run follow-up jobs and periodic tasks from the job queue: bot turns, knowledge imports, intent training,
    ticket SLA ticks, automations and mail, routing, maintenance. Run as many as needed (cluster: with Redis)."""
    from omnidesk.jobs import metrics
    from omnidesk.jobs.context import JobContext
    from omnidesk.jobs.queue import JobQueue

    settings = _settings()
    _require_migrated(settings)
    configure_logging(settings.log_level, as_json=settings.log_json)
    db = _db(settings)
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    if port:
        server = metrics.serve(db, settings.worker_metrics_host, port, settings.metrics_token)
        click.echo(
            f"worker metrics on http://{settings.worker_metrics_host}:{server.server_address[1]}/metrics", err=True
        )
    click.echo("worker running; Ctrl-C to stop", err=True)
    JobQueue(JobContext(db, settings), workers=threads).run_consumer_forever()


@main.command("mail-ingress")
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
@click.option("--lmtp", is_flag=True, help="speak LMTP instead of SMTP (Postfix: lmtp:inet:HOST:PORT)")
def mail_ingress(host: str, port: int, lmtp: bool) -> None:
    """Receive support mail that the tenants' MTAs forward: each message is stored (one conversation per thread)
    before it is acknowledged with 250; unknown recipients are refused with 550 (docs/operations.md)."""
    import time

    from omnidesk.channels.email.ingress import Ingress
    from omnidesk.core.blobs import LocalEncryptedBlobStore
    from omnidesk.security.keys import Purpose, for_purpose

    settings = _settings()
    _require_migrated(settings)
    configure_logging(settings.log_level, as_json=settings.log_json)
    wiring.install()
    db = _db(settings)
    blobs = LocalEncryptedBlobStore(settings.data_dir / "blobs", for_purpose(settings, Purpose.BLOBS))
    ingress = Ingress(db, blobs, host, port, lmtp=lmtp).start()
    click.echo(f"mail ingress ({'LMTP' if lmtp else 'SMTP'}) on {host}:{ingress.port}; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ingress.stop()


@main.command("mailbox-add")
@click.option("--tenant", "slug", required=True)
@click.option("--inbound", required=True, help="the address customers write to (the ingress accepts mail for it)")
@click.option("--from-address", required=True, help="the address answers are sent from")
@click.option("--from-name", default="")
@click.option("--smtp-host", default="", help="the relay answers leave through")
@click.option("--smtp-port", default=587, show_default=True, type=int)
@click.option("--smtp-security", default="starttls", type=click.Choice(["starttls", "tls", "none"]))
@click.option("--smtp-username", default="")
@click.option("--smtp-password-env", default=None, help="name of an environment variable holding the password")
def mailbox_add(
    slug: str, inbound: str, from_address: str, from_name: str, smtp_host: str, smtp_port: int,
    smtp_security: str, smtp_username: str, smtp_password_env: str | None,
) -> None:  # fmt: skip
    """Add an e-mail mailbox to a tenant (the same as /settings/channels/email)."""
    from omnidesk.channels.email.actions import MailboxInput, save_mailbox
    from omnidesk.security.keys import Purpose, for_purpose

    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    tenant_id = _tenant_id(db, slug)
    password = os.environ.get(smtp_password_env) if smtp_password_env else None
    data = MailboxInput(
        inbound_address=inbound, from_address=from_address, from_name=from_name, smtp_host=smtp_host,
        smtp_port=smtp_port, smtp_security=smtp_security, smtp_username=smtp_username, smtp_password=password,
    )  # fmt: skip
    try:
        with db.tenant_transaction(tenant_id) as s:
            mailbox = save_mailbox(s, system_actor(tenant_id), for_purpose(settings, Purpose.TENANT_SECRETS), data)
            mailbox_id = mailbox.id
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"mailbox {inbound} added ({mailbox_id})")


@main.command()
@click.option("--no-serve", is_flag=True, help="seed and print the logins, then exit")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
def demo(no_serve: bool, host: str | None, port: int | None) -> None:
    """Create the database, seed the demo tenant 'demo' and start the server."""
    from omnidesk.demo.seed import seed_demo

    env = os.environ.get("OMNIDESK_ENVIRONMENT") or Environment.DEMO.value
    settings = _settings(environment=env)
    migrations.upgrade(settings.effective_database_url)
    from omnidesk.bot.brains import Brains
    from omnidesk.demo.order_service import OrderService

    try:
        service, moved = OrderService.on_port_or_any(settings.demo_services_port)
    except OSError as exc:
        raise click.ClickException(
            f"the demo order service cannot listen ({exc.strerror}); set OMNIDESK_DEMO_SERVICES_PORT to a free port"
        ) from None
    orders = service.start()
    if moved:
        click.echo(
            f"port {settings.demo_services_port} is taken (another demo?): the demo order service listens on "
            f"{orders.address} instead",
            err=True,
        )
    result = seed_demo(_db(settings), orders_base=orders.url, brains=Brains(settings.bot_encoder))
    settings = _allow_outbound(orders.address)
    port = port or int(os.environ.get("PORT", settings.port))
    base = f"http://{host or settings.host}:{port}"
    click.echo("")
    click.echo(
        "OmniDesk demo " + ("seeded" if result.created else "already seeded") + f" (workspace: {result.tenant_slug})"
    )
    click.echo(f"  sign in:   {base}/login   (agents: {base}/inbox, assistant console: {base}/admin/assistant)")
    click.echo(f"  customers: {base}/chat/{result.tenant_slug}   help center: {base}/help/{result.tenant_slug}")
    click.echo(f"  API docs:  {base}/api/v1/docs")
    click.echo(f"  health:    {base}/healthz   metrics: {base}/metrics")
    click.echo(f"  Skylark's order service (the demo tenant's own system): {orders.url}/orders/SO20261118001")
    click.echo(f"  outbound policy: tenants may reach {orders.address} (added to OMNIDESK_OUTBOUND_ALLOW for this run)")
    click.echo("  demo logins (workspace 'demo'):")
    for login in result.logins:
        click.echo(f"    {login.role:<18} {login.email:<28} {login.password}")
    click.echo("")
    if no_serve:
        orders.stop()
    else:
        _serve(settings, host, port)


def _allow_outbound(address: str) -> Settings:
    """Let tenants reach exactly ``address`` (the demo's order service on loopback) in this process, on top of
    what the operator configured; the server built by ``_serve`` reads its settings from the environment."""
    from omnidesk.core.settings import get_settings

    configured = os.environ.get("OMNIDESK_OUTBOUND_ALLOW", "")
    os.environ["OMNIDESK_OUTBOUND_ALLOW"] = ",".join(part for part in (configured, address) if part)
    get_settings.cache_clear()
    return _settings(environment=os.environ.get("OMNIDESK_ENVIRONMENT") or Environment.DEMO.value)


@main.group()
def user() -> None:
    """Manage staff users."""


@user.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--language", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def user_create(slug: str, email: str, display_name: str, role: str, language: str) -> None:
    """Create a staff user and print a one-time password."""
    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    tenant_id = _tenant_id(db, slug)
    try:
        data = StaffCreate(email=email, display_name=display_name, role=Role(role), language=language)
        with db.tenant_transaction(tenant_id) as s:
            created, password = accounts.do_create_staff(s, system_actor(tenant_id), data)
    except (DomainError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {created.email} ({created.role}) created")
    click.echo(f"one-time password (shown once): {password}")


@main.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--tenant", "slug", help="tenant slug (not with --platform)")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="role the key acts with")
@click.option("--name", default="cli", show_default=True)
@click.option("--platform", is_flag=True, help="a platform key, allowed to create and list tenants")
def apikey_create(slug: str | None, role: str | None, name: str, platform: bool) -> None:
    """Create an API key and print it once."""
    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    if platform:
        with db.platform_transaction() as s:
            key = accounts.create_platform_key(s, name)
        click.echo(key)
        return
    if not slug or not role:
        raise click.ClickException("--tenant and --role are required (or --platform)")
    tenant_id = _tenant_id(db, slug)
    try:
        with db.tenant_transaction(tenant_id) as s:
            _, full = accounts.do_create_api_key(s, system_actor(tenant_id), ApiKeyCreate(name=name, role=Role(role)))
    except (DomainError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(full)


@main.group()
def faq() -> None:
    """Manage FAQ entries of the knowledge base."""


@faq.command("import")
@click.option("--tenant", "slug", required=True)
@click.option("--dry-run", is_flag=True, help="only report what the import would do (nothing is written)")
@click.option("--all-or-nothing", is_flag=True, help="import nothing if any row is bad")
@click.option("--skip-errors", is_flag=True, hidden=True, help="deprecated: importing the good rows is the default")
@click.option("--publish/--draft", default=True, show_default=True, help="publish the entries right away")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def faq_import(slug: str, dry_run: bool, all_or_nothing: bool, skip_errors: bool, publish: bool, file: str) -> None:
    """Import FAQ entries from CSV or XLSX (columns id,question,variants,answer,language; variants split by |).

    The good rows are imported and the bad ones listed (on stderr); the JSON report also lists notices (what was
    read differently from the file, e.g. language zh read as zh-CN). Exit status 1 when nothing could be imported.
    """
    from pathlib import Path

    from omnidesk.knowledge import transfer

    del skip_errors  # kept so that existing scripts still run
    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    tenant_id = _tenant_id(db, slug)
    path = Path(file)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    content = path.read_bytes()
    if publish and fmt == "csv":
        content = transfer.with_status(content, "published")
    try:
        if dry_run:
            with db.tenant_read(tenant_id) as s:
                report = transfer.preview(s, system_actor(tenant_id), fmt, content)
        else:
            with db.tenant_transaction(tenant_id) as s:
                report = transfer.import_entries(
                    s, system_actor(tenant_id), fmt, content, all_or_nothing=all_or_nothing
                )
    except DomainError as exc:
        lines = [str(exc)] + [f"  row {e.get('row')}: {e.get('field')}: {e.get('message')}" for e in exc.errors[:50]]
        raise click.ClickException("\n".join(lines)) from None
    for e in report.errors[:50]:
        click.echo(f"row {e.get('row')}: {e.get('field')}: {e.get('message')}", err=True)
    click.echo(json.dumps(dataclasses.asdict(report), ensure_ascii=False))


@main.group()
def bot() -> None:
    """Evaluate and train the assistant."""


@bot.command("eval")
@click.option("--train", "train_csv", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--test", "test_csv", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", type=click.IntRange(2, 20), default=None,
              help="instead of --test: stratified k-fold cross-validation on TRAIN")  # fmt: skip
@click.option("--oos-label", default=None, help="label of out-of-scope rows, e.g. oos")
@click.option("--encoder", type=click.Choice(ENCODER_KINDS), default=ENCODER_KINDS[0], show_default=True,
              help="packaged sentence encoder(s); 'use' is fastest, the default most accurate")  # fmt: skip
def bot_eval(train_csv: str, test_csv: str | None, folds: int | None, oos_label: str | None, encoder: str) -> None:
    """Train an intent model on TRAIN and evaluate it on TEST (columns text,label), or cross-validate on TRAIN
    with --folds; print one JSON object."""
    from omnidesk.bot.nlu import load_default_encoder
    from omnidesk.bot.nlu.evaluate import cross_validate_intents, evaluate_intents

    if (test_csv is None) == (folds is None):
        raise click.UsageError("give either --test or --folds")
    model_encoder = _encoder(encoder, load_default_encoder)
    if folds is not None:
        result = cross_validate_intents(train_csv, folds, oos_label=oos_label, encoder=model_encoder)
    else:
        assert test_csv is not None
        result = evaluate_intents(train_csv, test_csv, oos_label=oos_label, encoder=model_encoder)
    click.echo(json.dumps(result, ensure_ascii=False))


@bot.command("eval-faq")
@click.option("--faq", "faq_csv", required=True, type=click.Path(exists=True, dir_okay=False),
              help="FAQ CSV as `omnidesk faq import` reads it (id,question,variants,answer,language)")  # fmt: skip
@click.option("--queries", "queries_csv", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV text,id: a customer question and the FAQ id answering it (empty: not covered)")  # fmt: skip
@click.option("--encoder", type=click.Choice(ENCODER_KINDS), default=ENCODER_KINDS[0], show_default=True,
              help="packaged sentence encoder(s)")  # fmt: skip
def bot_eval_faq(faq_csv: str, queries_csv: str, encoder: str) -> None:
    """Import FAQ into a scratch tenant, train, and send every query through the answer path of
    POST /api/v1/bot/answer; print one JSON object (answered right / wrong, clarified, declined, p50/p99)."""
    from omnidesk.bot.faq_eval import evaluate_faq

    try:
        result = evaluate_faq(faq_csv, queries_csv, encoder_kind=encoder)
    except (DomainError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, ensure_ascii=False))


@bot.command("eval-pairs")
@click.option("--valid", "valid_csv", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--test", "test_csv", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--encoder", type=click.Choice(ENCODER_KINDS), default=ENCODER_KINDS[0], show_default=True,
              help="packaged sentence encoder(s)")  # fmt: skip
def bot_eval_pairs(valid_csv: str, test_csv: str, encoder: str) -> None:
    """Judge question matching (columns text_a,text_b,label) with a threshold chosen on VALID; print JSON."""
    from omnidesk.bot.nlu import evaluate_pairs, load_default_encoder

    result = evaluate_pairs(valid_csv, test_csv, encoder=_encoder(encoder, load_default_encoder))
    click.echo(json.dumps(result, ensure_ascii=False))


def _encoder(kind: str, loader: Any) -> Any:
    return None if kind == "none" else loader(kind)


@bot.command("train")
@click.option("--tenant", "slug", required=True)
def bot_train(slug: str) -> None:
    """Train and activate a new intent model for a tenant now (from its examples and published FAQ)."""
    from omnidesk.bot import actions as bot_actions
    from omnidesk.bot.brains import Brains

    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    tenant_id = _tenant_id(db, slug)
    with db.tenant_transaction(tenant_id) as s:
        model = bot_actions.request_training(s, system_actor(tenant_id))
        model_id = model.id
    row = bot_actions.train(db, tenant_id, model_id, Brains(settings.bot_encoder))
    click.echo(
        f"intent model version {row.version}: {row.status} in {row.train_seconds:.1f} s ({row.examples} examples)"
    )


@main.group()
def secrets() -> None:
    """Manage the encryption of stored tenant secrets."""


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every tenant secret under the current OMNIDESK_SECRET_KEY.

    Run it after setting the new key with the old one in OMNIDESK_SECRET_KEY_PREVIOUS; afterwards the previous key
    is no longer needed for tenant secrets (see docs/operations.md for attachments and tokens)."""
    from omnidesk.accounts import tenant_secrets
    from omnidesk.security.keys import Purpose, for_purpose
    from omnidesk.webhooks import actions as webhook_actions

    settings = _settings()
    _require_migrated(settings)
    db = _db(settings)
    try:
        with db.platform_transaction() as s:
            keys = for_purpose(settings, Purpose.TENANT_SECRETS)
            count = tenant_secrets.reseal_all(s, keys)
            hooks = webhook_actions.reseal_all(s, keys)
    except tenant_secrets.SecretUnreadable:
        raise click.ClickException(
            "a stored secret opens with none of the configured keys: put the key it was written with into "
            "OMNIDESK_SECRET_KEY_PREVIOUS and run this again (nothing was changed)"
        ) from None
    click.echo(f"{count} tenant secret(s) re-encrypted with the current secret key")
    click.echo(f"{hooks} webhook signing secret(s) re-encrypted with the current secret key")


def _add_wfm() -> None:
    from omnidesk.wfm.commands import wfm

    main.add_command(wfm)


_add_wfm()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
