"""Every command-line failure is one line on stderr and a documented exit code, never a traceback, and the
command changed nothing: the same rows in every table, the same files in its directory (README: Command
line). Exit codes: 2 usage or configuration, 3 database unreachable or not at this release's schema,
130 interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from recorder.db.migrate import shipped_heads, upgrade
from tests.integration.azurite import Azurite
from tests.integration.cli_support import (
    SERVE_ENV,
    files_in,
    port_in_use,
    run_cli,
    start_cli,
    table_contents,
)

EXPECTED_URL = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"
NOT_MIGRATED = "not migrated: run recorder db upgrade"
HEAD = ", ".join(shipped_heads())  # the newest schema this checkout ships


def fails_with(result: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    assert (result.returncode, result.stderr) == (code, line + "\n"), result.stdout
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("foo://x", f"unsupported database 'foo'; {EXPECTED_URL}"),
        ("not a url", f"not a database URL; {EXPECTED_URL}"),
        ("postgresql+psycopg2://h/x", f"unsupported database 'postgresql+psycopg2'; {EXPECTED_URL}"),
    ],
)
def test_a_database_url_this_package_cannot_use_is_a_configuration_error(
    tmp_path: Path, url: str, problem: str
) -> None:
    result = run_cli("keys", "list", cwd=tmp_path, env={"RECORDER_DATABASE_URL": url})
    fails_with(result, 2, f"configuration error: RECORDER_DATABASE_URL: {problem}")
    as_json = run_cli("keys", "list", "--json", cwd=tmp_path, env={"RECORDER_DATABASE_URL": url})
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["errors"][0]["message"] == problem
    assert files_in(tmp_path) == {}


def test_keys_list_on_a_missing_sqlite_file_says_not_migrated_and_creates_no_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recorder.db'}"
    result = run_cli("keys", "list", cwd=tmp_path, env={"RECORDER_DATABASE_URL": url})
    fails_with(result, 3, f"database {url}: {NOT_MIGRATED}")
    assert files_in(tmp_path) == {}


def test_keys_list_on_an_unmigrated_database_says_not_migrated(
    empty_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(empty_database_url)  # reachable, with a table of its own but no schema
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO unrelated (id) VALUES (7)"))
    engine.dispose()
    before = table_contents(empty_database_url)
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    result = run_cli("keys", "list", cwd=workdir, env={"RECORDER_DATABASE_URL": empty_database_url})

    fails_with(result, 3, f"database {empty_database_url}: {NOT_MIGRATED}")
    assert table_contents(empty_database_url) == before == {"unrelated": [(7,)]}
    assert files_in(workdir) == {}


def test_an_older_schema_names_both_revisions_and_the_command(
    empty_database_url: str, tmp_path: Path
) -> None:
    upgrade(empty_database_url, "0009")
    before = table_contents(empty_database_url)
    result = run_cli(
        "audit", "verify", "--json", cwd=tmp_path, env={"RECORDER_DATABASE_URL": empty_database_url}
    )
    detail = f"schema at 0009, needs {HEAD}: run recorder db upgrade"
    assert (result.returncode, result.stderr) == (3, f"database {empty_database_url}: {detail}\n")
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": "not_migrated",
        "what": "database",
        "detail": detail,
    }
    assert table_contents(empty_database_url) == before


def test_db_upgrade_refuses_a_schema_from_a_newer_release(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    before = table_contents(database_url)
    result = run_cli("db", "upgrade", cwd=tmp_path, env={"RECORDER_DATABASE_URL": database_url})
    line = f"database {database_url}: schema at 0099 is newer than this release of recorder knows ({HEAD})"
    fails_with(result, 3, f"{line}: upgrade recorder")
    assert table_contents(database_url) == before


def test_serve_refuses_to_start_on_an_unmigrated_database(empty_database_url: str, tmp_path: Path) -> None:
    env = {**SERVE_ENV, "RECORDER_DATABASE_URL": empty_database_url}
    started = time.monotonic()
    result = run_cli("serve", "--port", "0", cwd=tmp_path, env=env, timeout=60)
    fails_with(result, 3, f"database {empty_database_url}: {NOT_MIGRATED}")
    assert time.monotonic() - started < 30  # it exits at start, it does not serve and log
    assert table_contents(empty_database_url) == {}


def test_serve_refuses_to_start_on_an_older_schema(empty_database_url: str, tmp_path: Path) -> None:
    upgrade(empty_database_url, "0009")
    before = table_contents(empty_database_url)
    env = {**SERVE_ENV, "RECORDER_DATABASE_URL": empty_database_url}
    result = run_cli("serve", "--port", "0", cwd=tmp_path, env=env, timeout=60)
    fails_with(
        result, 3, f"database {empty_database_url}: schema at 0009, needs {HEAD}: run recorder db upgrade"
    )
    assert table_contents(empty_database_url) == before


@pytest.mark.parametrize(
    "command",
    [
        ("serve",),
        ("demo", "--exit"),
        ("emulator", "--access-key", "a2V5"),
    ],
)
def test_a_port_in_use_is_a_usage_error_before_anything_starts(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    with port_in_use() as port:
        result = run_cli(*command, "--port", str(port), cwd=tmp_path, env=SERVE_ENV, timeout=60)
    line = f"usage error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port"
    fails_with(result, 2, line)
    assert files_in(tmp_path) == {}  # the demo did not create ./recorder.db


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("keys", "create", "--role", "king", "--name", "x"),
            "usage error: recorder keys create: argument --role: invalid choice: 'king' (choose from "
            "'admin', 'operator', 'auditor', 'service') (see recorder keys create --help)",
        ),
        (
            ("serve", "--port", "99999"),
            "usage error: recorder serve: argument --port: expected a port number from 0 to 65535 "
            "(got '99999') (see recorder serve --help)",
        ),
        (("serve", "--workers", "0"), "usage error: --workers must be 1 or more (got 0)"),
        (
            ("emulator", "--host", "0.0.0.0", "--access-key", "a2V5"),  # noqa: S104 - the point of the test
            "usage error: --host: the emulator listens on loopback addresses only (got '0.0.0.0')",
        ),
        (("emulator", "--access-key", "not base64!"), "usage error: --access-key must be base64"),
        (("emulator",), "usage error: --access-key (or RECORDER_ACS_ACCESS_KEY) is required"),
        ((), "usage error: recorder: the following arguments are required: COMMAND (see recorder --help)"),
        (
            ("keys",),
            "usage error: recorder keys: the following arguments are required: COMMAND "
            "(see recorder keys --help)",
        ),
    ],
)
def test_bad_usage_is_one_line_and_exit_code_2(tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    fails_with(run_cli(*args, cwd=tmp_path, env=SERVE_ENV), 2, line)
    assert files_in(tmp_path) == {}


def test_keys_create_with_a_bad_expiry_creates_no_key(database_url: str, tmp_path: Path) -> None:
    before = table_contents(database_url)
    env = {"RECORDER_DATABASE_URL": database_url}
    result = run_cli(
        "keys",
        "create",
        "--role",
        "admin",
        "--name",
        "x",
        "--expires-in-days",
        "0",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "usage error: --expires-in-days must be from 1 to 3650 (got 0)\n",
    )
    assert json.loads(result.stdout)["error"] == "usage"
    assert table_contents(database_url) == before


def test_keys_create_with_an_empty_name_creates_no_key(database_url: str, tmp_path: Path) -> None:
    before = table_contents(database_url)
    env = {"RECORDER_DATABASE_URL": database_url}
    result = run_cli("keys", "create", "--role", "admin", "--name", " ", cwd=tmp_path, env=env)
    fails_with(result, 2, "usage error: --name must not be empty")
    assert table_contents(database_url) == before


def unreachable_anchor_store(directory: Path) -> Path:
    with port_in_use() as port:
        pass  # closed again: nothing answers there
    connection = Azurite(port).connection_string
    config = directory / "anchors.toml"
    config.write_text(f'[audit]\nanchor_connection_string = "{connection}"\n')
    return config


def test_audit_anchor_with_its_store_down_is_unreachable(database_url: str, tmp_path: Path) -> None:
    env = {"RECORDER_DATABASE_URL": database_url, "RECORDER_CONFIG": str(unreachable_anchor_store(tmp_path))}
    assert run_cli("keys", "create", "--role", "admin", "--name", "x", cwd=tmp_path, env=env).returncode == 0
    before = table_contents(database_url)
    result = run_cli("audit", "anchor", cwd=tmp_path, env=env)
    fails_with(result, 3, "unreachable: audit anchor store: cannot write anchor: ServiceRequestError")
    assert table_contents(database_url) == before


def test_audit_verify_that_cannot_read_the_anchors_is_not_a_success(
    database_url: str, tmp_path: Path
) -> None:
    env = {"RECORDER_DATABASE_URL": database_url, "RECORDER_CONFIG": str(unreachable_anchor_store(tmp_path))}
    result = run_cli("audit", "verify", "--json", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (
        3,
        "unreachable: audit anchor store: cannot read anchors: ServiceRequestError\n",
    )
    report = json.loads(result.stdout)  # the chain was still checked, and says so
    assert report["ok"] is True and report["anchors_error"] == "cannot read anchors: ServiceRequestError"


def test_audit_anchor_without_a_store_is_a_configuration_error(database_url: str, tmp_path: Path) -> None:
    before = table_contents(database_url)
    result = run_cli("audit", "anchor", cwd=tmp_path, env={"RECORDER_DATABASE_URL": database_url})
    problem = "audit: no anchor store is configured (anchor_account_url or anchor_connection_string)"
    fails_with(result, 2, f"configuration error: {problem}")
    assert table_contents(database_url) == before


def test_config_show_takes_json_like_every_command_that_prints(tmp_path: Path) -> None:
    result = run_cli("config", "show", "--json", cwd=tmp_path, env=SERVE_ENV)
    assert result.returncode == 0 and result.stderr == ""
    [line] = result.stdout.splitlines()
    shown = json.loads(line)
    recorder = shown["recorder"]
    assert recorder["eventgrid_secret"] == "<redacted>"
    assert recorder["public_url"] == SERVE_ENV["RECORDER_PUBLIC_URL"]


def test_ctrl_c_stops_serve_with_exit_code_130(database_url: str, tmp_path: Path) -> None:
    with port_in_use() as port:
        pass  # a port that was free a moment ago
    env = {**SERVE_ENV, "RECORDER_DATABASE_URL": database_url}
    server = start_cli("serve", "--port", str(port), cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _healthy(port):
            time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 130
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
