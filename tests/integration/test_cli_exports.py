"""``recorder consents export`` and ``recorder calls evidence`` on real SQLite and PostgreSQL: the same bytes
and bundles as the API gives for the same filters, the same audit entries, a summary for scripts, a progress
bar on a terminal only, and no file at all when a command cannot finish."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recorder.db.repositories.audit import AuditRepository
from recorder.db.tables.audit import AuditEntry
from tests.integration.cli_support import cli_env, run_cli
from tests.integration.compliance_world import A, C, World, make_world
from tests.unit.test_consent import PROMPT


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where the commands write (tmp_path also holds the SQLite database)."""
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}


def cli(world: World, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=tmp_path, env=cli_settings(world, tmp_path))


def cli_settings(world: World, tmp_path: Path) -> dict[str, str]:
    """The world's database, and its prompt in a TOML file: the policy the evidence quotes prompts from."""
    config = tmp_path / "recorder.toml"
    config.write_text(
        f'[[consent.prompts]]\nid = "{PROMPT.id}"\nversion = "{PROMPT.version}"\nlocale = "{PROMPT.locale}"\n'
        f"text = {json.dumps(PROMPT.text)}\n"
    )
    return {"RECORDER_DATABASE_URL": world.container.settings.database_url, "RECORDER_CONFIG": str(config)}


def last_audit(world: World) -> AuditEntry:
    """The newest audit entry, once every pending one is chained."""
    with world.container.sessions() as session:
        AuditRepository(session).seal_pending()
        session.commit()
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        session.expunge(entry)
        return entry


@pytest.mark.parametrize(
    ("fmt", "filters"),
    [("csv", {}), ("jsonl", {}), ("csv", {"outcome": "declined"}), ("jsonl", {"participant": A})],
)
def test_the_export_is_the_apis_export_byte_for_byte(
    world: World, tmp_path: Path, fmt: str, filters: dict[str, str]
) -> None:
    params = {**window(), **filters, "format": fmt}
    api = world.get("/api/consents/export", **params)
    assert api.status_code == 200
    output = tmp_path / f"ledger.{fmt}"
    options = [f"--{name}={value}" for name, value in params.items()]
    result = cli(world, tmp_path, "consents", "export", *options, "--output", str(output), "--json")
    assert result.returncode == 0 and result.stderr == ""  # piped: no progress bar
    assert output.read_bytes() == api.content
    assert not output.with_name(output.name + ".partial").exists()
    rows = len(api.text.splitlines()) - (1 if fmt == "csv" else 0)
    assert json.loads(result.stdout) == {
        "ok": True,
        "rows": rows,
        "format": fmt,
        "output": str(output),
        "bytes": len(api.content),
        "sha256": hashlib.sha256(api.content).hexdigest(),
    }


def test_the_export_writes_the_apis_audit_entry_with_the_cli_as_actor(world: World, tmp_path: Path) -> None:
    params = {**window(), "outcome": "declined"}
    world.get("/api/consents/export", **params)
    by_api = last_audit(world)
    output = tmp_path / "declined.csv"
    options = [f"--{name}={value}" for name, value in params.items()]
    assert cli(world, tmp_path, "consents", "export", *options, "--output", str(output)).returncode == 0
    by_cli = last_audit(world)
    assert (by_cli.action, by_cli.actor, by_cli.call_id) == (by_api.action, "cli", None)
    assert by_cli.data["path"] == by_api.data["path"] == "/api/consents/export"
    assert "outcome=declined" in by_cli.data["query"] and "since=" in by_cli.data["query"]
    assert output.read_text().count(C) == 1


def test_an_export_that_cannot_start_leaves_no_file_and_audits_nothing(
    world: World, tmp_path: Path, out: Path
) -> None:
    before = last_audit(world).seq
    output = out / "missing-dir" / "ledger.csv"
    bad_time = cli(world, tmp_path, "consents", "export", "--since=yesterday", "--until=2030-01-01T00:00Z",
                   "--output", str(out / "x.csv"))  # fmt: skip
    assert bad_time.returncode == 2 and "expected an ISO 8601 time" in bad_time.stderr
    no_zone = cli(world, tmp_path, "consents", "export", "--since=2026-01-01T00:00",
                  "--until=2030-01-01T00:00Z", "--output", str(out / "x.csv"))  # fmt: skip
    assert no_zone.returncode == 2 and "with a zone" in no_zone.stderr
    since, until = window().values()
    unwritable = cli(world, tmp_path, "consents", "export", "--since", since, "--until", until,
                     "--output", str(output), "--json")  # fmt: skip
    assert unwritable.returncode == 2 and unwritable.stderr.startswith("usage error: --output: cannot write")
    assert json.loads(unwritable.stdout)["ok"] is False
    assert last_audit(world).seq == before and list(out.iterdir()) == []


def test_evidence_is_the_apis_bundle_to_stdout_or_to_a_file(world: World, tmp_path: Path) -> None:
    api = world.get("/api/calls/conn-1/evidence").json()
    printed = cli(world, tmp_path, "calls", "evidence", "conn-1", "--json")
    assert printed.returncode == 0 and printed.stderr == ""
    [line] = printed.stdout.splitlines()
    assert without_chain(json.loads(line)) == without_chain(api)
    by_cli = last_audit(world)
    assert (by_cli.action, by_cli.actor, by_cli.data["path"]) == (
        "api.call.evidence",
        "cli",
        "/api/calls/conn-1/evidence",
    )
    output = tmp_path / "conn-1.json"
    written = cli(world, tmp_path, "calls", "evidence", "conn-1", "--output", str(output), "--json")
    assert written.returncode == 0, written.stderr
    assert without_chain(json.loads(output.read_text())) == without_chain(api)
    summary = json.loads(written.stdout)
    assert summary["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert summary["audit_entries"] == len(api["audit_entries"]) and summary["ledger"] == 2


def test_evidence_of_an_unknown_call_is_exit_1_and_still_audited(
    world: World, tmp_path: Path, out: Path
) -> None:
    result = cli(world, tmp_path, "calls", "evidence", "nope", "--output", str(out / "x.json"), "--json")
    assert (result.returncode, result.stderr) == (1, "no call with call_connection_id nope\n")
    assert json.loads(result.stdout) == {"ok": False, "error": "not_found", "call_connection_id": "nope"}
    assert last_audit(world).action == "api.call.evidence"
    assert list(out.iterdir()) == []


def test_a_terminal_gets_a_progress_bar_on_stderr(world: World, tmp_path: Path) -> None:
    since, until = window().values()
    output = tmp_path / "ledger.csv"
    args = ["consents", "export", "--since", since, "--until", until, "--output", str(output)]
    stderr = on_a_terminal(world, tmp_path, args)
    assert "export" in stderr and "3/3" in stderr
    assert output.read_bytes().count(b"\r\n") == 4  # the header and three answers


def on_a_terminal(world: World, tmp_path: Path, args: list[str]) -> str:
    """stderr of ``recorder *args`` when stderr is a terminal (stdout still a pipe)."""
    leader, follower = pty.openpty()
    env = {**cli_env(cli_settings(world, tmp_path)), "TERM": "xterm"}
    env = {k: v for k, v in env.items() if k not in ("NO_COLOR", "CI")}
    command = [sys.executable, "-m", "recorder", *args]
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=follower
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert process.wait(120) == 0
    return b"".join(chunks).decode(errors="replace")


def without_chain(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle without its chain head, which every audited read moves on."""
    return {k: v for k, v in bundle.items() if k != "chain"}
