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
