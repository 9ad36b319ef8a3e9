"""The command line an operator uses: init, user and API-key creation, demo seeding, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from omnidesk.cli import main
from omnidesk.core.settings import get_settings
from tests.conftest import scratch_database


@pytest.fixture
def runner(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OMNIDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    return CliRunner()


def test_init_user_and_apikey(
    runner: CliRunner, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database(database_url, tmp_path) as url:
        monkeypatch.setenv("OMNIDESK_DATABASE_URL", url)
        result = runner.invoke(
            main, ["init", "--tenant", "acme", "--name", "Acme 公司", "--admin-email", "boss@acme.example"]
        )
        assert result.exit_code == 0, result.output
        assert "one-time password" in result.output
        again = runner.invoke(main, ["init", "--tenant", "acme", "--name", "Acme", "--admin-email", "x@acme.example"])
        assert again.exit_code == 1 and "already exists" in again.output
        made = runner.invoke(
            main,
            ["user", "create", "--tenant", "acme", "--email", "a@acme.example", "--name", "阿明", "--role", "agent"],
        )
        assert made.exit_code == 0, made.output
        key = runner.invoke(main, ["apikey", "create", "--tenant", "acme", "--role", "auditor"])
        assert key.exit_code == 0 and key.output.startswith("odk_")
        missing = runner.invoke(main, ["apikey", "create", "--tenant", "nope", "--role", "agent"])
        assert "no tenant with the slug 'nope'" in missing.output
        platform = runner.invoke(main, ["apikey", "create", "--platform"])
        assert platform.output.startswith("odp_")


def test_demo_seeds_once(runner: CliRunner, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with scratch_database(database_url, tmp_path) as url:
        monkeypatch.setenv("OMNIDESK_DATABASE_URL", url)
        monkeypatch.setenv("OMNIDESK_DEMO_SERVICES_PORT", "0")
        monkeypatch.setenv("OMNIDESK_BOT_ENCODER", "none")
        first = runner.invoke(main, ["demo", "--no-serve"])
        assert first.exit_code == 0, first.output
        assert "seeded" in first.output and "admin@skylark.example" in first.output
        second = runner.invoke(main, ["demo", "--no-serve"])
        assert "already seeded" in second.output


def test_bad_settings_give_a_readable_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIDESK_PORT", "99999")
    result = runner.invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert "OMNIDESK_PORT" in result.output


def test_serve_refuses_an_unmigrated_database(
    runner: CliRunner, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database(database_url, tmp_path) as url:
        monkeypatch.setenv("OMNIDESK_DATABASE_URL", url)
        result = runner.invoke(main, ["serve"])
        assert result.exit_code == 1
        assert "omnidesk migrate" in result.output


def test_help_everywhere(runner: CliRunner) -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["user", "create", "--help"],
        ["apikey", "create", "--help"],
        ["worker", "--help"],
    ):
        assert runner.invoke(main, args).exit_code == 0


def test_bot_eval_commands_print_one_json_object(runner: CliRunner, tmp_path: Path) -> None:
    import json

    intents = {
        "track": [
            "我的快递到哪了",
            "查一下物流",
            "包裹什么时候到",
            "where is my parcel",
            "track my package",
            "快递还没到",
        ],
        "refund": [
            "退款多久到账",
            "钱什么时候退",
            "我要退款",
            "refund status",
            "when do I get my money back",
            "退款进度",
        ],
        "oos": ["今天天气怎么样", "讲个笑话", "what's the weather", "tell me a joke"],
    }
    rows = ["text,label"] + [f"{t},{label}" for label, texts in intents.items() for t in texts]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text(
        "text,label\n快递到哪里了,track\n退款什么时候到,refund\n天气好吗,oos\n", encoding="utf-8"
    )
    result = runner.invoke(
        main,
        ["bot", "eval", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
         "--oos-label", "oos", "--encoder", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"accuracy", "macro_f1", "oos_recall", "p50_ms", "p99_ms", "train_seconds", "baseline"} <= set(figures)
    pairs = "text_a,text_b,label\n" + "\n".join(
        [f"怎么退货{i},如何申请退货{i},1" for i in range(12)] + [f"怎么退货{i},快递到哪了{i},0" for i in range(12)]
    )
    (tmp_path / "pairs.csv").write_text(pairs + "\n", encoding="utf-8")
    result = runner.invoke(
        main,
        ["bot", "eval-pairs", "--valid", str(tmp_path / "pairs.csv"), "--test", str(tmp_path / "pairs.csv"),
         "--encoder", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {"accuracy", "f1", "baseline"} <= set(json.loads(result.output))


def test_demo_lets_the_assistant_reach_exactly_its_order_service(tmp_path: Path) -> None:
    """`omnidesk demo` opens the outbound policy for its own order service on loopback, and nothing else: the demo
    still answers a parcel question with the live status."""
    import os
    import subprocess
    import sys

    import httpx

    from tests.servers import ServerProcess, free_port

    orders_port = free_port()
    data = tmp_path / "demo-data"
    data.mkdir()
    env = {
        **os.environ,
        "OMNIDESK_DATA_DIR": str(data),
        "OMNIDESK_DATABASE_URL": f"sqlite:///{data / 'demo.db'}",
        "OMNIDESK_BOT_ENCODER": "none",
        "OMNIDESK_DEMO_SERVICES_PORT": str(orders_port),
        "OMNIDESK_LOG_JSON": "false",
    }
    env.pop("OMNIDESK_OUTBOUND_ALLOW", None)
    server = ServerProcess(env, data)
    log = (data / "demo.log").open("wb")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "omnidesk.cli", "demo", "--port", str(server.port)], env=env, stdout=log, stderr=log
    )
    try:
        server.wait_ready(timeout=180)
        created = subprocess.run(
            [sys.executable, "-m", "omnidesk.cli", "apikey", "create", "--tenant", "demo", "--role", "admin"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
        answer = httpx.post(
            f"{server.url}/api/v1/bot/answer",
            json={"text": "我的快递 SF1234567890 到哪了"},
            headers=headers,
            timeout=30,
        ).json()
        assert answer["reason"] == "flow_done:track_parcel" and "运输中" in answer["text"], answer
        assert f"tenants may reach 127.0.0.1:{orders_port}" in (data / "demo.log").read_text()
    finally:
        server.stop()
        log.close()


def test_secrets_rotate_reencrypts_tenant_secrets(
    runner: CliRunner, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select

    from omnidesk.accounts import tenant_secrets
    from omnidesk.accounts.models import Tenant
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.security.keys import Keyring, Purpose
    from omnidesk.security.outbound import OutboundPolicy
    from omnidesk.security.permissions import Perm
    from omnidesk.webhooks import actions as webhook_actions
    from omnidesk.webhooks.delivery import secret_name
    from omnidesk.webhooks.models import WebhookSubscription
    from omnidesk.webhooks.schemas import SubscriptionIn

    old, new = "old-rotation-secret-" + "o" * 30, "new-rotation-secret-" + "n" * 30
    with scratch_database(database_url, tmp_path) as url:
        monkeypatch.setenv("OMNIDESK_DATABASE_URL", url)
        monkeypatch.setenv("OMNIDESK_SECRET_KEY", old)
        assert (
            runner.invoke(
                main, ["init", "--tenant", "rot", "--name", "Rot", "--admin-email", "a@rot.example"]
            ).exit_code
            == 0
        )
        db = Database(url)
        try:
            with db.platform_read() as s:
                tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "rot"))
            assert tenant_id is not None
            with db.tenant_transaction(tenant_id) as s:
                tenant_secrets.set_secret(s, system_actor(tenant_id), Keyring(old)[Purpose.TENANT_SECRETS],
                                          "llm_api_key", "sk-rotate-me-000000000000", permission=Perm.BOT_MANAGE)  # fmt: skip
                hook = webhook_actions.create(
                    s, system_actor(tenant_id), SubscriptionIn(url="https://93.184.215.14/hook", event_types=["ticket.created"]),
                    OutboundPolicy(), Keyring(old)[Purpose.TENANT_SECRETS],
                )  # fmt: skip
                hook_id, hook_secret = hook.subscription.id, hook.secret
            monkeypatch.setenv("OMNIDESK_SECRET_KEY", new)
            refused = runner.invoke(main, ["secrets", "rotate"])
            assert refused.exit_code == 1 and "OMNIDESK_SECRET_KEY_PREVIOUS" in refused.output
            monkeypatch.setenv("OMNIDESK_SECRET_KEY_PREVIOUS", old)
            rotated = runner.invoke(main, ["secrets", "rotate"])
            assert rotated.exit_code == 0 and "1 tenant secret(s) re-encrypted" in rotated.output, rotated.output
            assert "1 webhook signing secret(s) re-encrypted" in rotated.output
            with db.tenant_read(tenant_id) as s:  # the new key alone opens it now
                value = tenant_secrets.reveal(s, Keyring(new)[Purpose.TENANT_SECRETS], tenant_id, "llm_api_key")
                sealed = s.get(WebhookSubscription, hook_id).sealed_secret  # type: ignore[union-attr]
                opened = tenant_secrets.unseal(
                    Keyring(new)[Purpose.TENANT_SECRETS], tenant_id, secret_name(hook_id), sealed
                )
            assert value == "sk-rotate-me-000000000000" and opened == hook_secret
        finally:
            db.dispose()


def test_commands_and_workers_publish_their_events(tmp_path: Path) -> None:
    """A command's or a job's changes reach the agents' screens: the database it builds carries the bus."""
    from omnidesk.cli import _db
    from omnidesk.core.settings import load_settings
    from omnidesk.events.bus import MemoryBus, RedisBus

    embedded = _db(load_settings(data_dir=tmp_path))
    assert isinstance(embedded.bus, MemoryBus)
    clustered = _db(load_settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(clustered.bus, RedisBus)
    for db in (embedded, clustered):
        db.bus.close()  # type: ignore[union-attr]
        db.dispose()
