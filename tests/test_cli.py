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
