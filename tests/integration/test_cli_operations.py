"""The command line as scripts use it: ``config check``, ``--json`` on every command that prints results,
and the documented exit codes (0 ok, 1 check failed, 2 usage or configuration, 3 database unreachable or not
migrated). Each failure's exact line and "nothing changed": test_cli_failures.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_support import SERVE_ENV, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "recorder.toml"


def recorder(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT, env=env)


def one_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # --json: one object, nothing else on stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_the_example_configuration_is_valid() -> None:
    result = recorder("config", "check", "--file", str(EXAMPLE), **SERVE_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration is valid" in result.stdout
    assert "answers IncomingCall to: 4:+18005550100 (anything else: acknowledged, ignored)" in result.stdout
    assert one_json(recorder("config", "check", "--json", "--file", str(EXAMPLE), **SERVE_ENV)) == {
        "ok": True,
        "file": str(EXAMPLE),
        "errors": [],
        "warnings": [],
        "answer_for": ["4:+18005550100"],
        "own_identities": [
            "4:+18005550100",
            "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000000aa",
        ],
    }


def test_config_check_lists_every_problem_at_once_with_setting_value_and_expectation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[consent]\ngrant_key = "x"\nreprompts = 9\nrepromts = 1\n'
        '[outbox]\nlease_seconds = 0\n[operations]\ndrain_seconds = "soon"\n[colour]\nx = 1\n'
    )
    result = recorder(
        "config", "check", "--json", "--file", str(bad), RECORDER_PUBLIC_URL="http://example.com"
    )
    assert result.returncode == 2
    report = one_json(result)
    assert report["ok"] is False
    by_setting = {e["setting"]: e["message"] for e in report["errors"]}
    assert by_setting["consent.grant_key"].endswith("(got 'x')")
    assert "0 to 5 (got 9)" in by_setting["consent.reprompts"]
    assert "1 to 600 (got 0)" in by_setting["outbox.lease_seconds"]
    assert "(got 'soon')" in by_setting["operations.drain_seconds"]
    assert "(got 'http://example.com')" in by_setting["RECORDER_PUBLIC_URL"]
    for required in ("RECORDER_ACS_ENDPOINT", "RECORDER_ACS_RESOURCE_ID", "RECORDER_EVENTGRID_SECRET"):
        assert by_setting[required] == "required to serve"
    assert any(w.startswith("consent.repromts") for w in report["warnings"])
    assert any(w.startswith("[colour]") for w in report["warnings"])
    text = recorder("config", "check", "--file", str(bad))
    assert text.returncode == 2
    assert text.stdout.count("configuration error:") == len(report["errors"])


def test_config_check_without_serving_settings(tmp_path: Path) -> None:
    assert recorder("config", "check").returncode == 2  # serve needs an endpoint, a secret, ...
    result = recorder("config", "check", "--no-serve")
    assert result.returncode == 0 and "environment only" in result.stdout


def test_commands_print_json_for_scripts(database_url: str) -> None:
    env = {"RECORDER_DATABASE_URL": database_url}
    upgraded = one_json(recorder("db", "upgrade", "--json", **env))
    assert upgraded["ok"] is True and upgraded["changed"] is False and upgraded["to"] == upgraded["from"]
    created = one_json(recorder("keys", "create", "--role", "auditor", "--name", "ops", "--json", **env))
    assert created["key"] and created["role"] == "auditor" and created["name"] == "ops"
    listed = one_json(recorder("keys", "list", "--json", **env))
    assert [k["id"] for k in listed["keys"]] == [created["key_id"]]
    assert created["key"] not in json.dumps(listed)
    verified = one_json(recorder("audit", "verify", "--json", **env))
    assert verified["ok"] is True and verified["entries"] >= 1
    revoked = recorder("keys", "revoke", created["key_id"], "--json", **env)
    assert revoked.returncode == 0 and one_json(revoked)["revoked"] is True
    missing = recorder("keys", "revoke", "no-such-key", "--json", **env)
    assert missing.returncode == 1 and one_json(missing)["revoked"] is False


def test_text_output_keeps_the_key_alone_on_the_last_line(database_url: str) -> None:
    result = recorder(
        "keys", "create", "--role", "service", "--name", "app", RECORDER_DATABASE_URL=database_url
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1].strip() == result.stdout.splitlines()[-1]
    assert " " not in result.stdout.splitlines()[-1]


@pytest.mark.postgres
def test_an_unreachable_database_is_exit_code_3(postgres_server: str) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = recorder("db", "upgrade", "--json", RECORDER_DATABASE_URL=url)
    assert result.returncode == 3, result.stderr
    assert one_json(result)["error"] == "unreachable"
    assert "Traceback" not in result.stderr


def test_a_configuration_error_in_any_command_is_exit_code_2_with_json() -> None:
    result = recorder("audit", "verify", "--json", RECORDER_OUTBOUND_CALLER_ID="not-a-number")
    assert result.returncode == 2
    report = one_json(result)
    assert report["error"] == "configuration"
    assert report["errors"][0]["setting"] == "RECORDER_OUTBOUND_CALLER_ID"


def test_help_lists_commands_first_steps_and_exit_codes() -> None:
    result = recorder("--help")
    assert result.returncode == 0
    for text in ("serve", "config", "db", "keys", "audit", "demo", "first steps:", "exit codes:", "--json"):
        assert text in result.stdout
